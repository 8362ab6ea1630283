"""Legacy Flask and Django apps wrapped as their maintainers would wrap them."""

from __future__ import annotations

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


@pytest.fixture(scope="module")
def django_wsgi():
    """Django's WSGI application for the shared test project (django_project.py)."""
    pytest.importorskip("django")
    import django_project

    return django_project.wsgi_application()


def test_django_app_wrapped_with_get_wsgi_application(django_wsgi):
    """SessionMiddleware(get_wsgi_application()) serves a persistent session."""
    app = SessionMiddleware(django_wsgi, secret_key=SECRET, tracking="cookie")
    c = Client(app)
    assert c.get("/legacy/visits/").text == "1"
    assert c.get("/legacy/visits/").text == "2"
