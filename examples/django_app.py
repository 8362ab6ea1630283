"""A single-file Django app with server-side sessions from wsgi_session.

Run ``python examples/django_app.py [port]`` and open http://127.0.0.1:8000/ .
It works with cookies on and off: without cookies, links and forms carry the
session id (``sid``), written by the ``{% rewrite_url %}`` and
``{% session_input %}`` tags. Set ``WSGI_SESSION_STORE`` (e.g.
``redis://127.0.0.1:6379/0``) to share sessions between processes.

The three pieces of the integration are all here: ``INSTALLED_APPS`` and
``MIDDLEWARE`` list ``wsgi_session.django``, the templates use its context
processor and tags, and ``application`` wraps ``get_wsgi_application()``.
"""

from __future__ import annotations

import contextlib
import os
import sys

import django
from django.conf import settings
from django.core.wsgi import get_wsgi_application
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import path

from wsgi_session import SessionMiddleware

PAGE = """{% load wsgi_session %}<!doctype html>
<title>wsgi_session on Django</title>
{% if message %}<p><strong>{{ message }}</strong></p>{% endif %}
<p>{% if wsgi_session.user %}Hello {{ wsgi_session.user }}!{% else %}Not logged in.
{% endif %} You have seen this page {{ wsgi_session.visits }} time(s).</p>
<p><a href="{% rewrite_url "/" %}">again</a>
   <a href="{% rewrite_url "/logout/" %}">log out</a></p>
<form method="post" action="{% rewrite_url "/login/" %}">{{ session_input }}
  <input name="name" placeholder="your name"> <button>log in</button>
</form>
"""


def index(request):
    """Count visits and show the login form."""
    session = request.wsgi_session
    session["visits"] = session.get("visits", 0) + 1
    return render(request, "page.html", {"message": session.get("message")})


def login(request):
    """Log in under the POSTed name: a new session id, then a flash message."""
    session = request.wsgi_session
    name = request.POST.get("name", "").strip() or "anonymous"
    session.regenerate()  # after login, always: defeats session fixation
    session["user"] = name
    session.flash("message", f"Welcome, {name}.")
    return HttpResponseRedirect("/")  # the middleware adds sid= in URL mode


def logout(request):
    """End the session."""
    request.wsgi_session.destroy()
    return HttpResponseRedirect("/")


urlpatterns = [path("", index), path("login/", login), path("logout/", logout)]


def configure() -> None:
    """Configure Django for this file, unless the process already configured it."""
    if settings.configured:
        return
    settings.configure(
        DEBUG=False,
        SECRET_KEY=os.environ.get("DJANGO_SECRET_KEY", "django-demo-key-change-me"),
        ALLOWED_HOSTS=["127.0.0.1", "localhost"],
        ROOT_URLCONF=__name__,
        USE_TZ=True,
        INSTALLED_APPS=["wsgi_session.django"],
        # No CsrfViewMiddleware: its token lives in a cookie, which clients with
        # cookies disabled never send back. A real app keeps it and marks the
        # views cookie-less clients must reach with @csrf_exempt.
        MIDDLEWARE=["wsgi_session.django.SessionMiddleware"],
        TEMPLATES=[
            {
                "BACKEND": "django.template.backends.django.DjangoTemplates",
                "OPTIONS": {
                    "context_processors": ["wsgi_session.django.context_processor"],
                    "loaders": [
                        ("django.template.loaders.locmem.Loader", {"page.html": PAGE})
                    ],
                },
            }
        ],
    )
    django.setup()


configure()

#: The WSGI application to serve: Django wrapped by the session middleware.
application = SessionMiddleware(
    get_wsgi_application(),
    secret_key=os.environ.get("WSGI_SESSION_SECRET", "django-demo-secret-change-me"),
    store=os.environ.get("WSGI_SESSION_STORE") or "memory://",
)


def main(argv: list[str] | None = None) -> None:
    """Serve the app on 127.0.0.1 (port from argv[1] or 8000; 0 picks a free one)."""
    from wsgiref.simple_server import make_server

    args = sys.argv[1:] if argv is None else argv
    port = int(args[0]) if args else 8000
    with make_server("127.0.0.1", port, application) as server:
        url = f"http://127.0.0.1:{server.server_port}/"
        print(f"Django app running on {url}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            server.serve_forever()


if __name__ == "__main__":
    main()
