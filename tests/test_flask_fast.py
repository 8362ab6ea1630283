"""wsgi_session.flask's hot path: the permanent hint and the per-request profile.

A permanent session's cookie value ends in ``.p``, so a request that never
touches the session refreshes the cookie without a store round trip; the
profile (keys, cookie attributes) follows ``app.config`` on every request.
Round trips are counted by the middleware's backend, on the real Redis.
"""

from __future__ import annotations

import datetime as dt
import typing as t
from urllib.parse import parse_qs, urlsplit

import pytest

flask = pytest.importorskip("flask")

from flask import session  # noqa: E402

from wsgi_session import ConfigError, rewrite_url  # noqa: E402
from wsgi_session.flask import (  # noqa: E402
    PERMANENT_HINT,
    FlaskSessionMiddleware,
    WSGISession,
)
from wsgi_session.signing import IdSigner  # noqa: E402
from wsgi_session.stores import CountingBackend  # noqa: E402

DAYS31 = 31 * 24 * 3600


def make_app(store: str = "memory://", **config: t.Any) -> flask.Flask:
    """A replace-mode app: /login (permanent or not), /read, /untouched."""
    app = flask.Flask(__name__)
    app.config.update(SECRET_KEY="dev", **config)
    WSGISession(app, replace_flask_session=True, store=store)

    @app.route("/login")
    def login() -> str:
        session["user_id"] = 1
        session.permanent = flask.request.args.get("permanent") == "1"
        return ""

    @app.route("/read")
    def read() -> str:
        return f"{session.get('user_id')} {session.permanent} {session.timeout}"

    @app.route("/untouched")
    def untouched() -> str:
        return "untouched"

    @app.route("/link")
    def link() -> str:
        session["user_id"] = 1
        session.permanent = True
        return rewrite_url(flask.request.environ, "/read")

    return app


def middleware(app: flask.Flask) -> FlaskSessionMiddleware:
    found = app.extensions["wsgi_session"]
    assert isinstance(found, FlaskSessionMiddleware)
    return found


def cookie_value(client: t.Any, name: str = "session") -> str | None:
    cookie = client.get_cookie(name)
    return None if cookie is None else t.cast(str, cookie.value)


def session_cookies(response: t.Any, name: str = "session") -> list[str]:
    """The response's Set-Cookie headers for ``name`` (not its probe cookie)."""
    return [
        c for c in response.headers.getlist("Set-Cookie") if c.startswith(name + "=")
    ]


def round_trips(app: flask.Flask, client: t.Any, path: str) -> tuple[int, t.Any]:
    """Run one request; return the backend's round trips and the response."""
    found = middleware(app)
    if not isinstance(found.backend, CountingBackend):
        found.backend = CountingBackend(found.backend)
    backend = found.backend
    before = backend.round_trips
    response = client.get(path)
    assert response.status_code == 200
    return backend.round_trips - before, response


@pytest.fixture(params=["memory", "redis"])
def store(request: pytest.FixtureRequest) -> str:
    """The in-memory store and the real test Redis."""
    if request.param == "memory":
        return "memory://"
    url: str = request.getfixturevalue("redis_url")
    return url


# -- the permanent hint ------------------------------------------------------------


def test_permanent_session_cookie_carries_the_hint(store):
    """A permanent session's cookie is the signed id plus ".p"; others have none."""
    app = make_app(store)
    client = app.test_client()
    client.get("/login?permanent=1")
    value = cookie_value(client)
    assert value is not None and value.endswith(PERMANENT_HINT)
    signed = value[: -len(PERMANENT_HINT)]
    assert IdSigner(["dev"]).unsign(signed) is not None
    other = app.test_client()
    other.get("/login?permanent=0")
    assert not (cookie_value(other) or "").endswith(PERMANENT_HINT)


def test_untouched_permanent_request_refreshes_cookie_without_a_round_trip(store):
    """With SESSION_REFRESH_EACH_REQUEST an untouched request re-sends the
    permanent cookie (same value, the lifetime's Max-Age) and reads nothing."""
    app = make_app(store)
    client = app.test_client()
    client.get("/login?permanent=1")
    value = cookie_value(client)
    trips, response = round_trips(app, client, "/untouched")
    assert trips == 0
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith(f"session={value};")
    assert f"Max-Age={DAYS31}" in cookie and "Expires=" in cookie
    assert response.headers["Vary"] == "Cookie"


def test_untouched_non_permanent_request_sets_no_cookie_and_reads_nothing(store):
    """A browser-session cookie has nothing to refresh: no header, no round trip."""
    app = make_app(store)
    client = app.test_client()
    client.get("/login?permanent=0")
    trips, response = round_trips(app, client, "/untouched")
    assert trips == 0
    assert "Set-Cookie" not in response.headers and "Vary" not in response.headers


def test_untouched_permanent_request_without_refresh_sets_no_cookie(store):
    """SESSION_REFRESH_EACH_REQUEST=False: the hint is ignored, nothing is sent."""
    app = make_app(store, SESSION_REFRESH_EACH_REQUEST=False)
    client = app.test_client()
    client.get("/login?permanent=1")
    assert cookie_value(client).endswith(PERMANENT_HINT)
    trips, response = round_trips(app, client, "/untouched")
    assert trips == 0 and "Set-Cookie" not in response.headers


@pytest.mark.parametrize(
    "forged",
    [
        "A" * 43 + ".forged" + PERMANENT_HINT,
        PERMANENT_HINT,
        "garbage" + PERMANENT_HINT,
    ],
)
def test_forged_hint_on_a_bad_signature_gets_no_refreshed_cookie(forged):
    """Only a cookie whose signed id verifies is ever re-sent."""
    app = make_app()
    client = app.test_client()
    client.set_cookie("session", forged)
    trips, response = round_trips(app, client, "/untouched")
    assert trips == 0
    assert "Set-Cookie" not in response.headers and "Vary" not in response.headers


def test_genuine_cookie_re_signed_by_another_key_gets_no_refreshed_cookie():
    """A genuine id with a signature from an unknown key and the hint: nothing."""
    app = make_app()
    client = app.test_client()
    client.get("/login?permanent=1")
    session_id = IdSigner(["dev"]).unsign(cookie_value(client)[:-2])
    assert session_id is not None
    client.set_cookie("session", IdSigner(["other"]).sign(session_id) + PERMANENT_HINT)
    _, response = round_trips(app, client, "/untouched")
    assert "Set-Cookie" not in response.headers


def test_session_that_stops_being_permanent_loses_the_hint(store):
    """permanent = False re-sends the cookie without the hint; nothing to refresh."""
    app = make_app(store)
    client = app.test_client()
    client.get("/login?permanent=1")
    response = client.get("/login?permanent=0")
    value = cookie_value(client)
    assert value is not None and not value.endswith(PERMANENT_HINT)
    assert "Max-Age" not in response.headers["Set-Cookie"]
    _, response = round_trips(app, client, "/untouched")
    assert "Set-Cookie" not in response.headers


def test_hint_added_by_the_client_makes_no_session_permanent():
    """A client's own ".p" only refreshes its cookie; using the session drops it."""
    app = make_app()
    client = app.test_client()
    client.get("/login?permanent=0")
    client.set_cookie("session", cookie_value(client) + PERMANENT_HINT)
    response = client.get("/read")
    assert response.text == "1 False 1800"
    assert not cookie_value(client).endswith(PERMANENT_HINT)  # the stale hint went
    assert "Max-Age" not in response.headers["Set-Cookie"]


def test_old_cookie_without_the_hint_gets_it_when_the_session_is_used(store):
    """A permanent session's hint-less cookie: nothing while untouched, the hint
    on the next request that uses the session."""
    app = make_app(store)
    client = app.test_client()
    client.get("/login?permanent=1")
    client.set_cookie("session", cookie_value(client)[: -len(PERMANENT_HINT)])
    trips, response = round_trips(app, client, "/untouched")
    assert trips == 0 and "Set-Cookie" not in response.headers
    response = client.get("/read")
    assert response.text == f"1 True {DAYS31}"
    assert cookie_value(client).endswith(PERMANENT_HINT)


def test_url_tracked_permanent_session_urls_carry_no_hint():
    """Cookieless clients: the cookie (while unproven) has the hint, URLs never."""
    app = make_app()
    client = app.test_client(use_cookies=False)
    response = client.get("/link")
    assert f"{PERMANENT_HINT};" in response.headers["Set-Cookie"]  # "both" mode
    sid = parse_qs(urlsplit(response.text).query)["sid"][0]
    assert not sid.endswith(PERMANENT_HINT)
    assert IdSigner(["dev"]).unsign(sid) is not None
    # The id comes back in the URL only: URL mode, still without the hint.
    response = client.get(f"/link?sid={sid}")
    assert session_cookies(response) == []
    assert parse_qs(urlsplit(response.text).query)["sid"] == [sid]
    assert client.get(f"/read?sid={sid}").text == f"1 True {DAYS31}"


def test_modified_session_cookie_follows_each_requests_scheme():
    """The re-sent cookie of a modified session is Secure on https only, each time."""
    app = make_app()
    client = app.test_client()
    for _ in range(2):
        for scheme in ("http", "https", "http"):
            response = client.get("/login", base_url=f"{scheme}://localhost")
            (cookie,) = session_cookies(response)
            assert ("Secure" in cookie) is (scheme == "https")


# -- app.config, read per request --------------------------------------------------


def test_changed_cookie_name_takes_effect_on_the_next_request():
    """SESSION_COOKIE_NAME changed between requests names the next cookie."""
    app = make_app()
    client = app.test_client()
    client.get("/login?permanent=1")
    app.config["SESSION_COOKIE_NAME"] = "renamed"
    response = client.get("/untouched")  # the old cookie is not ours any more
    assert session_cookies(response, "session") == []
    assert session_cookies(response, "renamed") == []
    assert client.get("/read").text.startswith("None")
    client.get("/login?permanent=1")
    assert cookie_value(client, "renamed").endswith(PERMANENT_HINT)


def test_changed_lifetime_takes_effect_on_the_next_untouched_request():
    """PERMANENT_SESSION_LIFETIME changed between requests sets the next Max-Age."""
    app = make_app()
    client = app.test_client()
    client.get("/login?permanent=1")
    app.config["PERMANENT_SESSION_LIFETIME"] = dt.timedelta(hours=2)
    assert "Max-Age=7200" in client.get("/untouched").headers["Set-Cookie"]
    app.config["PERMANENT_SESSION_LIFETIME"] = 60  # seconds, as Flask accepts
    assert "Max-Age=60" in client.get("/untouched").headers["Set-Cookie"]


def test_invalid_config_value_fails_every_request_until_fixed():
    """An invalid value is a ConfigError on the next request, and is never cached."""
    app = make_app()
    client = app.test_client()
    client.get("/login?permanent=1")
    for value in ("two hours", None):
        app.config["PERMANENT_SESSION_LIFETIME"] = value
        for _ in range(2):
            with pytest.raises(ConfigError) as caught:
                client.get("/untouched")
            assert caught.value.key == "PERMANENT_SESSION_LIFETIME"
    app.config["SESSION_COOKIE_SAMESITE"] = "Sometimes"
    app.config["PERMANENT_SESSION_LIFETIME"] = 60
    with pytest.raises(ConfigError):
        client.get("/untouched")
    app.config["SESSION_COOKIE_SAMESITE"] = None
    assert "Max-Age=60" in client.get("/untouched").headers["Set-Cookie"]


def test_key_fallbacks_list_is_read_per_request_even_when_mutated():
    """SECRET_KEY_FALLBACKS (a list) works, and an in-place change applies at once."""
    app = make_app()
    client = app.test_client()
    client.get("/login?permanent=1")
    app.config.update(SECRET_KEY="new", SECRET_KEY_FALLBACKS=["dev"])
    assert client.get("/read").text == f"1 True {DAYS31}"  # re-signed with "new"
    assert IdSigner(["new"]).unsign(cookie_value(client)[:-2]) is not None
    old = IdSigner(["dev"]).sign(IdSigner(["new"]).unsign(cookie_value(client)[:-2]))
    client.set_cookie("session", old + PERMANENT_HINT)
    assert client.get("/read").text.startswith("1 ")
    app.config["SECRET_KEY_FALLBACKS"].remove("dev")
    client.set_cookie("session", old + PERMANENT_HINT)
    assert "Set-Cookie" not in client.get("/untouched").headers
    assert client.get("/read").text.startswith("None")


def test_profile_is_built_once_per_configuration(monkeypatch):
    """Requests under an unchanged config reuse one profile; a change builds one."""
    app = make_app()
    built = []
    original = FlaskSessionMiddleware._build_profile

    def counting(self: FlaskSessionMiddleware, config: dict[str, t.Any]) -> t.Any:
        built.append(config["SESSION_COOKIE_NAME"])
        return original(self, config)

    monkeypatch.setattr(FlaskSessionMiddleware, "_build_profile", counting)
    client = app.test_client()
    for _ in range(3):
        client.get("/login?permanent=1")
        client.get("/read")
    app.config["SESSION_COOKIE_NAME"] = "other"
    client.get("/read")
    client.get("/untouched")
    assert built == ["session", "other"]


def test_apps_without_locks_register_no_teardown():
    """Only concurrency="lock" needs Flask's per-request teardown call."""
    assert not make_app().teardown_request_funcs
    locked = flask.Flask(__name__)
    locked.secret_key = "dev"
    WSGISession(locked, replace_flask_session=True, concurrency="lock")
    assert locked.teardown_request_funcs[None]
