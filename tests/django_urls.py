"""Views and URLconf of the test Django project (``ROOT_URLCONF``).

The first views use ``request.wsgi_session`` (set by
``wsgi_session.django.SessionMiddleware``) except :func:`legacy_visits`,
written as a legacy app would: ``get_session(environ)``. The ``/dj/`` views
are written for Django's own sessions (``request.session``,
``django.contrib.auth``, ``django.contrib.messages``), unchanged.
"""

from __future__ import annotations

import typing as t

import django_project

django_project.setup()  # the admin's URLs need the apps (e.g. pytest's collection)

from django.contrib import admin, auth, messages  # noqa: E402
from django.http import HttpResponse, HttpResponseRedirect  # noqa: E402
from django.shortcuts import render  # noqa: E402
from django.urls import path  # noqa: E402
from django.views.decorators.csrf import csrf_protect  # noqa: E402

from wsgi_session import get_session  # noqa: E402


def login(request: t.Any) -> HttpResponse:
    """POST ``user_id``: store it in the session and regenerate the id."""
    session = request.wsgi_session
    session["user_id"] = int(request.POST["user_id"])
    session.regenerate()
    return HttpResponse("logged in")


def whoami(request: t.Any) -> HttpResponse:
    """The logged-in user id, or ``anonymous``."""
    return HttpResponse(str(request.wsgi_session.get("user_id", "anonymous")))


def cart(request: t.Any, item: str | None = None) -> HttpResponse:
    """Show the cart page; add ``item`` (from the path or a POSTed form) first."""
    session = request.wsgi_session
    item = item or request.POST.get("item")
    if item:
        session.setdefault("cart", []).append(item)
    context = {"cart": session.get("cart", []), "next_url": "/cart/?page=2"}
    return render(request, "cart.html", context)


def page(request: t.Any, name: str) -> HttpResponse:
    """Render template ``<name>.html`` as it is, without touching the session."""
    return render(request, f"{name}.html")


def legacy_visits(request: t.Any) -> HttpResponse:
    """A legacy view counting visits through ``get_session(request.environ)``."""
    s = get_session(request.environ)
    s["visits"] = s.get("visits", 0) + 1
    return HttpResponse(str(s["visits"]))


# -- written for django.contrib.sessions ---------------------------------------


def dj_count(request: t.Any) -> HttpResponse:
    """Count visits in ``request.session``."""
    request.session["count"] = request.session.get("count", 0) + 1
    return HttpResponse(str(request.session["count"]))


def dj_peek(request: t.Any) -> HttpResponse:
    """Show ``count`` as ``request.wsgi_session`` sees it, without writing."""
    return HttpResponse(str(request.wsgi_session.get("count")))


def dj_both(request: t.Any) -> HttpResponse:
    """Write through each view of the session and read through the other."""
    request.session["django"] = 1
    request.wsgi_session["wsgi"] = 2
    seen = (request.wsgi_session["django"], request.session["wsgi"])
    return HttpResponse(repr(seen))


def dj_login(request: t.Any) -> HttpResponse:
    """Django's login: authenticate the POSTed user, then go to /dj/whoami/."""
    user = auth.authenticate(
        request,
        username=request.POST.get("username"),
        password=request.POST.get("password"),
    )
    if user is None:
        return HttpResponse("bad credentials", status=403)
    auth.login(request, user)
    return HttpResponseRedirect("/dj/whoami/")


def dj_whoami(request: t.Any) -> HttpResponse:
    """The signed-in user's name, or ``anonymous``."""
    user = request.user
    return HttpResponse(user.get_username() if user.is_authenticated else "anonymous")


def dj_logout(request: t.Any) -> HttpResponse:
    """Django's logout (``flush()``), then go to /dj/whoami/."""
    auth.logout(request)
    return HttpResponseRedirect("/dj/whoami/")


def dj_password(request: t.Any) -> HttpResponse:
    """Change the user's password and keep this session signed in."""
    user = request.user
    user.set_password(request.POST["password"])
    user.save()
    auth.update_session_auth_hash(request, user)
    return HttpResponse("changed")


def dj_message(request: t.Any) -> HttpResponse:
    """Add a message, then redirect to the page that shows it."""
    messages.info(request, request.GET.get("text", "hello"))
    return HttpResponseRedirect("/dj/messages/")


def dj_messages(request: t.Any) -> HttpResponse:
    """Show the pending messages."""
    return render(request, "messages.html")


def dj_flush(request: t.Any) -> HttpResponse:
    """``request.session.flush()``: end the session."""
    request.session.flush()
    return HttpResponse(repr(request.session.session_key))


def dj_cycle(request: t.Any) -> HttpResponse:
    """``request.session.cycle_key()``: a new key, the same data."""
    request.session.cycle_key()
    return HttpResponse(request.session.session_key)


def dj_expiry(request: t.Any, seconds: int) -> HttpResponse:
    """``request.session.set_expiry(seconds)`` on a session with data."""
    request.session["expiring"] = True
    request.session.set_expiry(seconds)
    return HttpResponse(str(request.session.get_expiry_age()))


def dj_links(request: t.Any) -> HttpResponse:
    """A page with a link and a form, written without wsgi_session's tags."""
    request.session["seen"] = True
    return render(request, "links.html")


def dj_redirect(request: t.Any) -> HttpResponse:
    """Write the session and redirect to /dj/count/."""
    request.session["redirected"] = True
    return HttpResponseRedirect("/dj/count/")


async def dj_async(request: t.Any) -> HttpResponse:
    """Count visits with the async API of ``request.session``."""
    count = await request.session.aget("count", 0) + 1
    await request.session.aset("count", count)
    return HttpResponse(str(count))


def dj_interrupt(request: t.Any) -> HttpResponse:
    """Change a session that another request (here: the engine) deleted."""
    from wsgi_session.django.engine import SessionStore

    count = request.session["count"]  # loaded by this request first
    SessionStore(request.session.session_key).delete()
    request.session["after"] = count + 1
    return HttpResponse("changed")


@csrf_protect
def dj_csrf(request: t.Any) -> HttpResponse:
    """A form protected by Django's CSRF check (GET shows it, POST checks it)."""
    if request.method == "POST":
        return HttpResponse("accepted")
    return render(request, "csrf.html")


urlpatterns = [
    path("admin/", admin.site.urls),
    path("dj/count/", dj_count),
    path("dj/peek/", dj_peek),
    path("dj/both/", dj_both),
    path("dj/login/", dj_login),
    path("dj/whoami/", dj_whoami),
    path("dj/logout/", dj_logout),
    path("dj/password/", dj_password),
    path("dj/message/", dj_message),
    path("dj/messages/", dj_messages),
    path("dj/flush/", dj_flush),
    path("dj/cycle/", dj_cycle),
    path("dj/expiry/<int:seconds>/", dj_expiry),
    path("dj/links/", dj_links),
    path("dj/redirect/", dj_redirect),
    path("dj/csrf/", dj_csrf),
    path("dj/async/", dj_async),
    path("dj/interrupt/", dj_interrupt),
    path("login/", login),
    path("whoami/", whoami),
    path("cart/", cart),
    path("cart/add/", cart),
    path("cart/add/<str:item>/", cart),
    path("page/<str:name>/", page),
    path("legacy/visits/", legacy_visits),
]
