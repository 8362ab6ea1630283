"""Black-box tests of the Beaker drop-in: ``environ["beaker.session"]`` on our store.

Every test drives a WSGI app through WebTest, as a Beaker app is driven,
against the in-memory store, the file store and a real Redis (the
``beaker_store`` fixture gives the Beaker options of each).
"""

from __future__ import annotations

import logging
import re
import typing as t
import warnings
from pathlib import Path

import pytest

with warnings.catch_warnings():  # WebOb imports cgi, deprecated since Python 3.11
    warnings.simplefilter("ignore", DeprecationWarning)
    from webtest import TestApp

from wsgi_session import ConfigError, Session
from wsgi_session.beaker import BeakerSession, SessionMiddleware

Environ = t.Dict[str, t.Any]
SECRET = {"session.secret": "s3cret"}


@pytest.fixture(params=["memory", "file", "redis"])
def beaker_store(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, t.Any]:
    """Beaker's options for one store: memory, a data_dir, ext:redis."""
    if request.param == "memory":
        return {"session.type": "memory"}
    if request.param == "file":
        return {"session.data_dir": str(tmp_path / "beaker")}
    url = request.getfixturevalue("redis_url")
    return {"session.type": "ext:redis", "session.url": url}


def counter_app(environ: Environ, start_response: t.Any) -> list[bytes]:
    """Beaker's increment app: ``SESSION_ID`` loads another session by id,
    ``/nosave`` skips save(), ``/revert`` reverts, ``/delete`` deletes."""
    session = environ["beaker.session"]
    other = environ.get("SESSION_ID")
    if other:
        session = session.get_by_id(other)
    if not session:
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"no such session"]
    path = environ["PATH_INFO"]
    if path == "/delete":
        session.delete()
    elif path == "/invalidate":
        session.invalidate()
    else:
        session["value"] = session.get("value", 0) + 1
        if path == "/revert":
            session.revert()
        elif path != "/nosave":
            session.save()
    start_response("200 OK", [("Content-Type", "text/plain")])
    body = f"value={session.get('value', 0)} id={session.id}"
    return [body.encode()]


def client(store: dict[str, t.Any], **options: t.Any) -> TestApp:
    """A WebTest client of ``counter_app`` under the drop-in."""
    return TestApp(SessionMiddleware(counter_app, {**SECRET, **store}, **options))


def value(res: t.Any) -> int:
    return int(re.search(r"value=(\d+)", res.text).group(1))  # type: ignore[union-attr]


def session_id(res: t.Any) -> str:
    return re.search(r"id=(\S+)", res.text).group(1)  # type: ignore[union-attr]


# -- save() and auto ---------------------------------------------------------------


def test_saved_changes_persist(beaker_store: dict[str, t.Any]) -> None:
    """After save() the session's value grows request by request."""
    app = client(beaker_store)
    assert [value(app.get("/")) for _ in range(3)] == [1, 2, 3]


def test_without_save_nothing_reaches_the_store(beaker_store: dict[str, t.Any]) -> None:
    """Without auto, a request that never calls save() stores nothing."""
    app = client(beaker_store)
    res = app.get("/nosave")
    assert value(res) == 1 and res.headers.getall("Set-Cookie") == []
    app.get("/")
    app.get("/nosave")
    assert value(app.get("/")) == 2


def test_in_place_change_without_save_is_not_stored(
    beaker_store: dict[str, t.Any],
) -> None:
    """A list changed in place is stored only if save() is called (without auto)."""

    def app(environ: Environ, start_response: t.Any) -> list[bytes]:
        session = environ["beaker.session"]
        items = session.setdefault("items", [])
        items.append(environ["PATH_INFO"])
        if environ["PATH_INFO"] == "/save":
            session.save()
        start_response("200 OK", [])
        return [",".join(session["items"]).encode()]

    test = TestApp(SessionMiddleware(app, {**SECRET, **beaker_store}))
    test.get("/save")
    test.get("/lost")
    assert test.get("/save").text == "/save,/save"


def test_auto_saves_without_save(beaker_store: dict[str, t.Any]) -> None:
    """With auto, changes are stored at the end of the request."""
    app = client(beaker_store, auto="true")
    assert [value(app.get("/nosave")) for _ in range(3)] == [1, 2, 3]


def test_revert_drops_the_changes_of_the_request(
    beaker_store: dict[str, t.Any],
) -> None:
    """With auto, revert() goes back to the stored session."""
    app = client(beaker_store, auto="true")
    app.get("/nosave")
    app.get("/nosave")
    assert value(app.get("/revert")) == 2
    assert value(app.get("/nosave")) == 3


# -- delete, invalidate, get_by_id -----------------------------------------------


def test_delete_really_deletes(beaker_store: dict[str, t.Any]) -> None:
    """delete() removes the stored session at once and expires the cookie."""
    middleware = SessionMiddleware(counter_app, {**SECRET, **beaker_store})
    app = TestApp(middleware)
    old = session_id(app.get("/"))
    res = app.get("/delete")
    assert "Max-Age=0" in res.headers["Set-Cookie"]
    assert middleware.get_by_id(old) is None
    assert value(app.get("/")) == 1


def test_invalidate_gives_a_fresh_id_and_no_data(
    beaker_store: dict[str, t.Any],
) -> None:
    """invalidate() drops the data and the old entry; the next write gets a new id."""
    middleware = SessionMiddleware(counter_app, {**SECRET, **beaker_store})
    app = TestApp(middleware)
    app.get("/")
    old = session_id(app.get("/"))
    res = app.get("/invalidate")
    assert value(res) == 0 and session_id(res) != old
    assert middleware.get_by_id(old) is None
    res = app.get("/")
    assert value(res) == 1 and session_id(res) != old


def test_get_by_id_loads_a_stored_session(beaker_store: dict[str, t.Any]) -> None:
    """get_by_id() loads the session the app names; save() on it writes at once."""
    middleware = SessionMiddleware(counter_app, {**SECRET, **beaker_store})
    app, other = TestApp(middleware), TestApp(middleware)
    for _ in range(3):
        res = app.get("/")
    old = session_id(res)
    assert value(other.get("/")) == 1
    assert other.get("/", extra_environ={"SESSION_ID": "A" * 43}, status=404)
    assert other.get("/", extra_environ={"SESSION_ID": "../../x"}, status=404)
    assert value(other.get("/", extra_environ={"SESSION_ID": old})) == 4
    assert value(other.get("/")) == 2
    assert value(app.get("/")) == 5


def test_get_session_makes_a_session_outside_the_request(
    beaker_store: dict[str, t.Any],
) -> None:
    """environ['beaker.get_session']() gives a new session that save() stores."""
    made: list[BeakerSession] = []

    def app(environ: Environ, start_response: t.Any) -> list[bytes]:
        extra = environ["beaker.get_session"]()
        extra["job"] = "report"
        extra.save()
        made.append(extra)
        start_response("200 OK", [])
        return [b""]

    middleware = SessionMiddleware(app, {**SECRET, **beaker_store})
    res = TestApp(middleware).get("/")
    assert res.headers.getall("Set-Cookie") == []
    found = middleware.get_by_id(made[0].id)
    assert found is not None and found["job"] == "report"


# -- the view ------------------------------------------------------------------------


def test_both_views_share_one_session() -> None:
    """environ['wsgi_session'] and environ['beaker.session'] see each other's writes."""

    def app(environ: Environ, start_response: t.Any) -> list[bytes]:
        beaker, ours = environ["beaker.session"], environ["wsgi_session"]
        ours["a"] = 1
        beaker["b"] = 2
        beaker.save()
        start_response("200 OK", [])
        return [f"{beaker['a']} {ours['b']} {beaker.id == ours.id}".encode()]

    assert TestApp(SessionMiddleware(app, SECRET)).get("/").text == "1 2 True"


def test_times_are_posix_seconds_as_in_beaker() -> None:
    """created is a float; last_accessed is None when new, then the last use."""
    seen: list[tuple[t.Any, ...]] = []

    def app(environ: Environ, start_response: t.Any) -> list[bytes]:
        session = environ["beaker.session"]
        seen.append((session.created, session.last_accessed, session.is_new))
        session["x"] = 1
        session.save()
        start_response("200 OK", [])
        return [b""]

    test = TestApp(SessionMiddleware(app, SECRET))
    test.get("/")
    test.get("/")
    (created, first, new), (created2, second, new2) = seen
    assert isinstance(created, float) and created2 == created
    assert (first, new, new2) == (None, True, False)
    assert isinstance(second, float) and second >= created


def test_domain_and_path_set_for_this_response() -> None:
    """session.domain / session.path change the cookie sent with this response."""

    def app(environ: Environ, start_response: t.Any) -> list[bytes]:
        session = environ["beaker.session"]
        session["x"] = 1
        if environ["PATH_INFO"] == "/move":
            session.domain = "example.com"
            session.path = "/shop"
        session.save()
        start_response("200 OK", [])
        return [f"{session.domain} {session.path}".encode()]

    test = TestApp(SessionMiddleware(app, SECRET), extra_environ={"HTTP_HOST": "x"})
    assert "Domain" not in test.get("/").headers["Set-Cookie"]
    res = test.get("/move")
    assert res.text == "example.com /shop"
    cookie = res.headers["Set-Cookie"]
    assert "Domain=example.com" in cookie and "Path=/shop" in cookie
    assert test.get("/").headers.getall("Set-Cookie") == []


def test_accessed_and_dirty() -> None:
    """accessed() tells whether the app used the session; dirty() whether it saved."""
    seen: list[tuple[bool, ...]] = []

    def app(environ: Environ, start_response: t.Any) -> list[bytes]:
        session = environ["beaker.session"]
        before = session.accessed()
        session.get("x")
        middle = (session.accessed(), session.dirty())
        session.save()
        seen.append((before, *middle, session.dirty()))
        start_response("200 OK", [])
        return [b""]

    TestApp(SessionMiddleware(app, SECRET)).get("/")
    assert seen == [(False, True, False, True)]


def test_webtest_varname_exposes_the_session() -> None:
    """webtest_varname puts the session into WebTest's testing variables."""
    app = TestApp(SessionMiddleware(counter_app, SECRET, webtest_varname="sess"))
    res = app.get("/")
    assert isinstance(res.sess, BeakerSession)
    assert isinstance(res.sess.session, Session)


# -- ids without a secret -----------------------------------------------------------


def test_without_secret_ids_are_unsigned_and_never_adopted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """No secret: a warning, a raw 256-bit id in the cookie, unknown ids refused."""
    with caplog.at_level(logging.WARNING, logger="wsgi_session"):
        middleware = SessionMiddleware(counter_app, {"session.type": "memory"})
    assert "unsigned" in caplog.text
    app = TestApp(middleware)
    res = app.get("/")
    sid = session_id(res)
    assert res.headers["Set-Cookie"].startswith(f"beaker.session.id={sid};")
    assert value(app.get("/")) == 2
    planted = "B" * 43
    stranger = TestApp(middleware)
    stranger.set_cookie("beaker.session.id", planted)
    res = stranger.get("/")
    assert value(res) == 1 and session_id(res) != planted


@pytest.mark.parametrize(
    "cookie", ["", "%%%", "\u20ac", "x" * 5000, "A" * 43 + ".sig", "a=b; c"]
)
def test_bad_cookies_get_a_fresh_session(cookie: str) -> None:
    """Malformed or forged cookies never produce an error: a fresh session."""
    app = client({"session.type": "memory"})
    res = app.get("/", headers={"Cookie": f"beaker.session.id={cookie}"})
    assert value(res) == 1


# -- configuration -------------------------------------------------------------------


def test_cookie_sessions_are_refused_with_the_reason() -> None:
    """type = cookie is a ConfigError that says why."""
    with pytest.raises(ConfigError, match="cookie"):
        SessionMiddleware(counter_app, {"session.type": "cookie", **SECRET})


def test_unknown_session_option_is_named() -> None:
    """A typo under a session prefix is a ConfigError naming it."""
    with pytest.raises(ConfigError, match=r"session\.timout"):
        SessionMiddleware(counter_app, {"session.timout": "60", **SECRET})


def test_environ_key_clash_is_refused() -> None:
    """The Beaker view cannot take our session's environ key."""
    with pytest.raises(ConfigError, match="environ_key"):
        SessionMiddleware(counter_app, SECRET, environ_key="wsgi_session")


def test_url_tracking_can_be_switched_on() -> None:
    """tracking = url (a §2 name) puts the signed id into redirects."""

    def app(environ: Environ, start_response: t.Any) -> list[bytes]:
        session = environ["beaker.session"]
        session["n"] = session.get("n", 0) + 1
        session.save()
        if environ["PATH_INFO"] == "/go":
            start_response("302 Found", [("Location", "/show")])
            return [b""]
        start_response("200 OK", [])
        return [str(session["n"]).encode()]

    test = TestApp(SessionMiddleware(app, {**SECRET, "session.tracking": "url"}))
    res = test.get("/go")
    assert res.headers.getall("Set-Cookie") == []
    location = res.headers["Location"]
    assert "sid=" in location
    assert test.get(location).text == "2"


# -- the migration shim of docs/migration.rst -------------------------------------


def test_migration_shim_moves_a_beaker_session_once() -> None:
    """The first-visit shim of the migration page copies Beaker's data into ours."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from beaker.middleware import SessionMiddleware as BeakerSessionMiddleware
    from wsgi_session import get_session

    beaker_config = {"session.type": "memory", "session.secret": "old-secret"}

    def old_app(environ: Environ, start_response: t.Any) -> list[bytes]:
        environ["beaker.session"]["cart"] = ["tea"]
        environ["beaker.session"].save()
        start_response("200 OK", [])
        return [b"old"]

    def adopt_beaker_sessions(app: t.Any) -> t.Any:  # as on the page
        def middleware(environ: Environ, start_response: t.Any) -> t.Any:
            if "beaker.session.id" in environ.get("HTTP_COOKIE", ""):
                old = environ["beaker.legacy_session"]
                session = get_session(environ)
                for key, value in old.items():
                    if not key.startswith("_"):
                        session.setdefault(key, value)
                environ["beaker.session"].save()
                old.delete()
            return app(environ, start_response)

        return middleware

    def new_app(environ: Environ, start_response: t.Any) -> list[bytes]:
        start_response("200 OK", [])
        return [repr(environ["beaker.session"].get("cart")).encode()]

    before = TestApp(BeakerSessionMiddleware(old_app, beaker_config))
    before.get("/")
    application = BeakerSessionMiddleware(
        SessionMiddleware(
            adopt_beaker_sessions(new_app), beaker_config, key="myapp_session"
        ),
        beaker_config,
        environ_key="beaker.legacy_session",
    )
    after = TestApp(application)
    after.cookiejar = before.cookiejar
    assert after.get("/").text == "['tea']"
    assert "beaker.session.id" not in after.cookies or not after.cookies.get(
        "beaker.session.id"
    )
    assert after.get("/").text == "['tea']"
