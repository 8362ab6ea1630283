"""Flask-Login on replace mode: its sessions are bound to their user with no
code change (SPEC §9, §13.1: ``user_key`` defaults to ``"_user_id"``)."""

from __future__ import annotations

import typing as t

import pytest

flask = pytest.importorskip("flask")
flask_login = pytest.importorskip("flask_login")

from wsgi_session.flask import WSGISession  # noqa: E402


class User(flask_login.UserMixin):  # type: ignore[misc]
    def __init__(self, user_id: str) -> None:
        self.id = user_id


def create_app(store: str) -> tuple[t.Any, WSGISession]:
    """A stock Flask-Login app: login_user / logout_user / login_required."""
    app = flask.Flask("login_app")
    app.config["SECRET_KEY"] = "change me"
    manager = flask_login.LoginManager(app)
    manager.user_loader(User)
    ext = WSGISession(app, replace_flask_session=True, store=store)

    @app.route("/login/<name>")
    def login(name: str) -> str:
        flask_login.login_user(User(name))
        return "in"

    @app.route("/logout")
    def logout() -> str:
        flask_login.logout_user()
        return "out"

    @app.route("/me")
    def me() -> str:
        user = flask_login.current_user
        return user.id if user.is_authenticated else "anonymous"

    return app, ext


@pytest.fixture(params=["memory", "redis"])
def store(request: pytest.FixtureRequest) -> str:
    if request.param == "memory":
        return "memory://"
    return t.cast(str, request.getfixturevalue("redis_url"))


def test_login_user_binds_the_session_and_regenerates_its_id(store: str):
    """login_user() is enough: new cookie value, listed under the user."""
    app = create_app(store)[0]
    client = app.test_client()
    client.get("/me")
    before = client.get_cookie("session")
    assert client.get("/login/ann").text == "in"
    after = client.get_cookie("session")
    assert after is not None and (before is None or after.value != before.value)
    assert [
        info.current for info in app.extensions["wsgi_session"].sessions_of("ann")
    ] == [False]


def test_end_sessions_of_logs_a_flask_login_user_out_everywhere(store: str):
    """A password reset ends every device's session; other users keep theirs."""
    app = create_app(store)[0]
    phone, laptop, other = app.test_client(), app.test_client(), app.test_client()
    phone.get("/login/ann")
    laptop.get("/login/ann")
    other.get("/login/bob")
    assert app.extensions["wsgi_session"].end_sessions_of("ann") == 2
    assert phone.get("/me").text == laptop.get("/me").text == "anonymous"
    assert other.get("/me").text == "bob"


def test_logout_user_leaves_the_index(store: str):
    """logout_user() unbinds: the session is no longer listed."""
    app = create_app(store)[0]
    client = app.test_client()
    client.get("/login/ann")
    client.get("/logout")
    assert app.extensions["wsgi_session"].sessions_of("ann") == []
