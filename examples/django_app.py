"""A single-file Django app on wsgi_session's drop-in: ``request.session``, unchanged.

Run ``python examples/django_app.py [port]`` and open http://127.0.0.1:8000/ ,
then log in as ``demo`` / ``demo``. The views are plain Django: ``request.session``,
``django.contrib.auth``'s ``login`` / ``logout``, ``django.contrib.messages``,
``{% csrf_token %}``. What makes their sessions server-side, and makes them
work for clients with cookies disabled too, is all in :func:`configure`:

* ``MIDDLEWARE`` lists ``wsgi_session.django.SessionMiddleware`` where Django's
  ``SessionMiddleware`` was, and ``SESSION_ENGINE`` is ``wsgi_session.django.engine``;
* ``WSGI_SESSION`` sets the store (``$WSGI_SESSION_STORE``, e.g.
  ``redis://127.0.0.1:6379/0``, to share sessions between processes), the
  tracking mode (``$WSGI_SESSION_TRACKING``: ``auto`` by default, ``cookie``
  or ``url``) and ``rewrite_html``, which puts the session id into the links
  and forms of the pages of clients without cookies;
* ``CSRF_USE_SESSIONS = True`` keeps Django's CSRF secret in the session, and
  ``MESSAGE_STORAGE`` its messages, so both work without cookies as well.

Django's own ``get_wsgi_application()`` is served as it is: no ``wsgi.py``
wrapper is needed.
"""

from __future__ import annotations

import contextlib
import os
import sys

import django
from django.conf import settings
from django.contrib import auth, messages
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import path

PAGE = """<!doctype html>
<title>wsgi_session on Django</title>
{% for message in messages %}<p class="message">{{ message }}</p>{% endfor %}
<p>{% if user.is_authenticated %}Hello {{ user.get_username }}!{% else %}Not logged
in.{% endif %} You have seen this page {{ request.session.visits }} time(s).</p>
<p><a href="/">again</a> <a href="/logout/">log out</a></p>
<form method="post" action="/login/">{% csrf_token %}
  <input name="username" placeholder="demo"> <input name="password" type="password">
  <button>log in</button>
</form>
"""


def index(request):
    """Count visits in the session and show the login form."""
    request.session["visits"] = request.session.get("visits", 0) + 1
    return render(request, "page.html")


def login(request):
    """Log in with Django's auth (a new session id), then a message."""
    user = auth.authenticate(
        request,
        username=request.POST.get("username", ""),
        password=request.POST.get("password", ""),
    )
    if user is None:
        messages.error(request, "Unknown user or wrong password.")
    else:
        auth.login(request, user)
        messages.success(request, f"Welcome, {user.get_username()}.")
    return HttpResponseRedirect("/")  # gets ?sid= for clients without cookies


def logout(request):
    """Log out: Django's logout ends the session."""
    auth.logout(request)
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
        INSTALLED_APPS=[
            "django.contrib.contenttypes",
            "django.contrib.auth",
            "django.contrib.messages",
            "wsgi_session.django",
        ],
        DATABASES={
            "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}
        },
        MIDDLEWARE=[
            "wsgi_session.django.SessionMiddleware",  # not django.contrib.sessions'
            "django.middleware.csrf.CsrfViewMiddleware",
            "django.contrib.auth.middleware.AuthenticationMiddleware",
            "django.contrib.messages.middleware.MessageMiddleware",
        ],
        SESSION_ENGINE="wsgi_session.django.engine",
        WSGI_SESSION={
            "store": os.environ.get("WSGI_SESSION_STORE") or "memory://",
            "tracking": os.environ.get("WSGI_SESSION_TRACKING") or "auto",
            "rewrite_html": True,
        },
        CSRF_USE_SESSIONS=True,
        # Django's default message storage tries a cookie first, which clients
        # without cookies never send back: keep messages in the session.
        MESSAGE_STORAGE="django.contrib.messages.storage.session.SessionStorage",
        TEMPLATES=[
            {
                "BACKEND": "django.template.backends.django.DjangoTemplates",
                "OPTIONS": {
                    "context_processors": [
                        "django.template.context_processors.request",
                        "django.contrib.auth.context_processors.auth",
                        "django.contrib.messages.context_processors.messages",
                    ],
                    "loaders": [
                        ("django.template.loaders.locmem.Loader", {"page.html": PAGE})
                    ],
                },
            }
        ],
        PASSWORD_HASHERS=["django.contrib.auth.hashers.PBKDF2PasswordHasher"],
        DEFAULT_AUTO_FIELD="django.db.models.AutoField",
    )
    django.setup()


def application_with_demo_user():
    """Django's WSGI application, with its tables and the ``demo`` user."""
    configure()
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.core.wsgi import get_wsgi_application

    call_command("migrate", run_syncdb=True, verbosity=0)
    if not User.objects.filter(username="demo").exists():
        User.objects.create_user("demo", password="demo")
    return get_wsgi_application()


def main(argv: list[str] | None = None) -> None:
    """Serve the app on 127.0.0.1 (port from argv[1] or 8000; 0 picks a free one)."""
    from wsgiref.simple_server import make_server

    args = sys.argv[1:] if argv is None else argv
    port = int(args[0]) if args else 8000
    application = application_with_demo_user()
    with make_server("127.0.0.1", port, application) as server:
        url = f"http://127.0.0.1:{server.server_port}/"
        print(f"Django app running on {url} (log in as demo / demo)", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            server.serve_forever()


if __name__ == "__main__":
    main()
