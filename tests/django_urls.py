"""Views and URLconf of the test Django project (``ROOT_URLCONF``).

Views use ``request.wsgi_session`` (set by ``wsgi_session.django.SessionMiddleware``)
except :func:`legacy_visits`, written as a legacy app would: ``get_session(environ)``.
"""

from __future__ import annotations

import typing as t

from django.http import HttpResponse
from django.shortcuts import render
from django.urls import path

from wsgi_session import get_session


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


urlpatterns = [
    path("login/", login),
    path("whoami/", whoami),
    path("cart/", cart),
    path("cart/add/", cart),
    path("cart/add/<str:item>/", cart),
    path("page/<str:name>/", page),
    path("legacy/visits/", legacy_visits),
]
