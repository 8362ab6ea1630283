"""Legacy Flask and Django apps wrapped as their maintainers would wrap them."""

from __future__ import annotations

import sys

import pytest
from werkzeug.test import Client

from tests.apps import SECRET
from wsgi_session import SessionMiddleware, get_session


def test_flask_app_wrapped_via_wsgi_app():
    """app.wsgi_app = SessionMiddleware(app.wsgi_app) gives views the session."""
    flask = pytest.importorskip("flask")
    app = flask.Flask("legacy_flask")
    app.wsgi_app = SessionMiddleware(  # type: ignore[method-assign]
        app.wsgi_app, secret_key=SECRET, cookie_name="wsgi_session", tracking="cookie"
    )

    @app.route("/add/<item>")
    def add(item: str) -> str:
        s = get_session(flask.request.environ)
        s.setdefault("cart", []).append(item)
        return ",".join(s["cart"])

    c = app.test_client()
    assert c.get("/add/apple").text == "apple"
    assert c.get("/add/pear").text == "apple,pear"
    assert c.get_cookie("wsgi_session") is not None


DJANGO_SETTINGS = {
    "DEBUG": False,
    "SECRET_KEY": "django-test-key",
    "ROOT_URLCONF": __name__,
    "ALLOWED_HOSTS": ["*"],
    "MIDDLEWARE": [],
    "INSTALLED_APPS": [],
}


def django_view(request):  # pragma: no cover - called by Django
    from django.http import HttpResponse

    s = get_session(request.environ)
    s["visits"] = s.get("visits", 0) + 1
    return HttpResponse(str(s["visits"]))


urlpatterns: list[object] = []


@pytest.fixture(scope="module")
def django_wsgi():
    django = pytest.importorskip("django")
    from django.conf import settings

    if not settings.configured:
        settings.configure(**DJANGO_SETTINGS)
        django.setup()
    from django.urls import path

    urlpatterns[:] = [path("", django_view)]
    from django.core.wsgi import get_wsgi_application

    return get_wsgi_application()


def test_django_app_wrapped_with_get_wsgi_application(django_wsgi):
    """SessionMiddleware(get_wsgi_application()) serves a persistent session."""
    app = SessionMiddleware(django_wsgi, secret_key=SECRET, tracking="cookie")
    c = Client(app)
    assert c.get("/").text == "1"
    assert c.get("/").text == "2"
    assert sys.modules[__name__].urlpatterns
