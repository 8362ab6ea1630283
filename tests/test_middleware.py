"""End to end through SessionMiddleware in cookie mode, on the memory store."""

from __future__ import annotations

import time
import typing as t

import pytest
from werkzeug.test import Client

from tests.apps import SECRET, client, data, session_app, set_cookies, wrap
from wsgi_session import (
    ConfigError,
    EndReason,
    RejectReason,
    SessionEvents,
    SessionMiddleware,
    get_session,
)
from wsgi_session.stores import CountingBackend


class Recorder(SessionEvents):
    def __init__(self) -> None:
        self.calls: list[tuple[str, t.Any]] = []

    def created(self, session, environ):
        self.calls.append(("created", None))

    def resumed(self, session, environ):
        self.calls.append(("resumed", None))

    def suspended(self, session, environ):
        self.calls.append(("suspended", None))

    def ended(self, session, reason):
        self.calls.append(("ended", reason))

    def rejected(self, environ, reason):
        self.calls.append(("rejected", reason))

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]


def test_values_persist_across_requests():
    """A value set in one request is there in the next."""
    c = client()
    c.get("/?set=n:1")
    assert data(c.get("/"))["data"] == {"n": 1}


def test_untouched_request_costs_no_store_call_and_no_cookie():
    """A request that never uses the session makes no round trip, no cookie."""
    mw = wrap()
    mw.backend = CountingBackend(mw.backend)
    c = Client(mw)
    before = mw.backend.round_trips
    r = c.get("/?touch=0")
    assert set_cookies(r) == [] and mw.backend.round_trips == before
    assert "Vary" not in r.headers


def test_new_empty_session_is_not_stored_and_sets_no_cookie():
    """Reading a new session that stays empty writes nothing."""
    mw = wrap()
    mw.backend = CountingBackend(mw.backend)
    r = Client(mw).get("/")
    assert set_cookies(r) == [] and r.headers["Vary"] == "Cookie"
    assert mw.backend.round_trips == 0


def test_cookie_has_secure_defaults():
    """The cookie is HttpOnly, SameSite=Lax, Path=/, Secure only on https."""
    c = client()
    (cookie,) = set_cookies(c.get("/?set=a:1"))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie and "Expires" not in cookie
    (cookie,) = set_cookies(client().get("/?set=a:1", base_url="https://x.example"))
    assert "Secure" in cookie


def test_cookie_value_is_signed_id_not_data():
    """The browser only holds <id>.<signature>."""
    c = client()
    r = c.get("/?set=secret:%22hunter2%22")
    value = set_cookies(r)[0].split(";")[0].split("=", 1)[1]
    sid, _, sig = value.partition(".")
    assert sid == data(r)["id"] and sig and "hunter2" not in value


def test_read_only_request_writes_nothing_and_sets_no_cookie():
    """Reading an existing session sends no Set-Cookie and makes no write."""
    mw = wrap()
    mw.backend = CountingBackend(mw.backend)
    c = Client(mw)
    c.get("/?set=a:1")
    writes = mw.backend.round_trips
    r = c.get("/")
    assert set_cookies(r) == []
    assert mw.backend.round_trips - writes == 1  # the load only


def test_emptied_session_is_deleted_and_cookie_expired():
    """Deleting the last key removes the entry and expires the cookie."""
    c = client()
    sid = data(c.get("/?set=a:1"))["id"]
    r = c.get("/?del=a")
    (cookie,) = set_cookies(r)
    assert cookie.startswith("session=;") and "Max-Age=0" in cookie
    assert data(c.get("/"))["id"] is None and sid


def test_vary_cookie_added_when_session_accessed():
    """Responses of requests that used the session carry Vary: Cookie."""
    c = client()
    assert c.get("/").headers["Vary"] == "Cookie"


def test_regenerate_kills_old_id_at_once():
    """After regenerate() the old cookie no longer opens the session."""
    events = Recorder()
    mw = wrap(events=events)
    c = Client(mw)
    c.get("/?set=user:%22ann%22")
    old_cookie = c.get_cookie("session").value
    r = c.get("/?regenerate=1")
    assert data(r)["data"] == {"user": "ann"}
    new_cookie = c.get_cookie("session").value
    assert new_cookie != old_cookie
    attacker = Client(mw)
    attacker.set_cookie("session", old_cookie)
    assert data(attacker.get("/"))["data"] == {}
    assert ("rejected", RejectReason.UNKNOWN_ID) in events.calls
    assert data(c.get("/"))["data"] == {"user": "ann"}


def test_destroy_expires_cookie_and_fires_ended():
    """destroy() deletes the session, expires the cookie, fires ended."""
    events = Recorder()
    c = client(events=events)
    c.get("/?set=a:1")
    r = c.get("/?destroy=1")
    assert any("Max-Age=0" in h for h in set_cookies(r))
    assert ("ended", EndReason.DESTROYED) in events.calls
    assert data(c.get("/"))["data"] == {}


def test_write_after_destroy_starts_fresh_session():
    """Writes after destroy() in the same request go to a new id."""
    c = client()
    old = data(c.get("/?set=a:1"))["id"]
    r = c.get("/?destroy=1&set=b:2")
    assert data(r)["id"] not in (None, old)
    assert data(c.get("/"))["data"] == {"b": 2}


def test_tampered_cookie_gets_fresh_session_and_rejected_event():
    """A badly signed cookie is never adopted; rejected(BAD_SIGNATURE) fires."""
    events = Recorder()
    c = client(events=events)
    sid = data(c.get("/?set=a:1"))["id"]
    c.set_cookie("session", sid + ".forgedsignature")
    r = c.get("/")
    assert data(r)["data"] == {} and data(r)["new"]
    assert ("rejected", RejectReason.BAD_SIGNATURE) in events.calls


def test_retired_key_is_rejected_and_rotated_key_verifies():
    """Old keys still verify while listed; once removed they are rejected."""
    store = "memory://"
    from wsgi_session import open_store

    shared = open_store(store)
    old = Client(wrap(secret_key="k1", store=shared))
    old.get("/?set=a:1")
    value = old.get_cookie("session").value
    rotated = Client(wrap(secret_key=["k1", "k2"], store=shared))
    rotated.set_cookie("session", value)
    assert data(rotated.get("/"))["data"] == {"a": 1}
    events = Recorder()
    retired = Client(wrap(secret_key="k2", store=shared, events=events))
    retired.set_cookie("session", value)
    assert data(retired.get("/"))["data"] == {}
    assert ("rejected", RejectReason.BAD_SIGNATURE) in events.calls


@pytest.mark.parametrize(
    "header",
    [
        "",
        "session=",
        "session",
        "session=;;;;",
        'session="quoted.value"',
        "session=%ZZ%00",
        "session=\u00e9\u20ac",
        "session=a; session=b; session=c",
        "session=" + "A" * 20000,
        "=" * 500,
        "session=" + "\x00\x01",
        ";".join(f"k{i}=v" for i in range(2000)),
    ],
)
def test_garbage_cookie_headers_never_fail(header):
    """Malformed cookie headers give a fresh session, never a 500."""
    mw = wrap()
    env_overrides = {"HTTP_COOKIE": header.encode("utf-8").decode("latin-1")}
    r = Client(mw, use_cookies=False).get("/?set=a:1", environ_overrides=env_overrides)
    assert r.status_code == 200 and data(r)["data"] == {"a": 1}


def test_duplicated_cookies_pick_the_valid_one():
    """With several session cookies the first genuine one wins."""
    mw = wrap()
    c = Client(mw)
    c.get("/?set=a:1")
    good = c.get_cookie("session").value
    header = f"session=junk.sig; session={good}"
    r = Client(mw, use_cookies=False).get("/", headers={"Cookie": header})
    assert data(r)["data"] == {"a": 1}


def test_flash_survives_one_redirect_then_disappears():
    """A flashed message is shown by the next request only."""
    c = client()
    c.get("/?flash=notice:Saved")
    assert data(c.get("/"))["data"] == {"notice": "Saved"}
    assert data(c.get("/"))["data"] == {}


def test_in_place_mutation_is_saved():
    """Appending to a list read from the session persists."""
    c = client()
    c.get("/?append=a")
    c.get("/?append=b")
    assert data(c.get("/"))["data"] == {"list": ["a", "b"]}


def test_idle_timeout_expires_session_server_side():
    """A session idle longer than idle_timeout is not served; ended fires."""
    events = Recorder()
    c = client(idle_timeout=1, events=events)
    c.get("/?set=a:1")
    time.sleep(1.2)
    r = c.get("/")
    assert data(r)["data"] == {}
    assert ("ended", EndReason.EXPIRED) in events.calls


def test_absolute_timeout_expires_even_active_sessions():
    """absolute_timeout ends a session however active it is."""
    c = client(absolute_timeout=1)
    c.get("/?set=a:1")
    time.sleep(0.6)
    c.get("/?set=b:2")
    time.sleep(0.6)
    assert data(c.get("/"))["data"] == {}


def test_sliding_refresh_is_rate_limited():
    """A burst of read-only requests causes no refresh write."""
    mw = wrap(idle_timeout=600)
    mw.backend = CountingBackend(mw.backend)
    c = Client(mw)
    c.get("/?set=a:1")
    start = mw.backend.round_trips
    for _ in range(5):
        c.get("/")
    assert mw.backend.round_trips - start == 5  # five loads, no touch


def test_events_fire_in_order():
    """created, resumed and suspended fire around requests that use the session."""
    events = Recorder()
    c = client(events=events)
    c.get("/?set=a:1")
    c.get("/")
    assert events.names() == ["created", "suspended", "resumed", "suspended"]


def test_event_handler_errors_do_not_break_requests(caplog):
    """An exception in an event handler is logged, the request succeeds."""

    class Broken(SessionEvents):
        def created(self, session, environ):
            raise RuntimeError("boom")

    c = client(events=Broken())
    assert c.get("/?set=a:1").status_code == 200
    assert "created event handler raised" in caplog.text


def test_no_log_line_contains_the_session_id(caplog):
    """Debug logs mention a short hash, never the id."""
    caplog.set_level("DEBUG", logger="wsgi_session")
    c = client(idle_timeout=1)
    sid = data(c.get("/?set=a:1"))["id"]
    c.get("/?regenerate=1")
    c.set_cookie("session", "garbage.x")
    c.get("/")
    assert caplog.records and sid not in caplog.text


def test_app_iterable_is_closed():
    """The app's iterable is closed even when the session is saved first."""
    closed = []

    class Body:
        def __iter__(self):
            yield b"a"
            yield b"b"

        def close(self):
            closed.append(True)

    def app(environ, start_response):
        get_session(environ)["x"] = 1
        start_response("200 OK", [("Content-Type", "text/plain")])
        return Body()

    r = Client(wrap(app)).get("/", buffered=True)  # buffered: the client closes
    assert r.get_data() == b"ab" and closed == [True]


@pytest.mark.parametrize("touch", [True, False])
def test_list_subclass_body_with_close_is_closed(touch):
    """A complete body that is a list subclass with close() is closed too."""
    closed = []

    class Body(list):
        def close(self):
            closed.append(True)

    def app(environ, start_response):
        if touch:
            get_session(environ)["x"] = 1
        start_response("200 OK", [("Content-Type", "text/plain")])
        return Body([b"a", b"b"])

    r = Client(wrap(app)).get("/", buffered=True)
    assert r.get_data() == b"ab" and closed == [True]


def test_headers_wait_for_first_chunk_so_late_writes_are_saved():
    """A generator app that writes the session while producing body is saved."""

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        s = get_session(environ)
        s["count"] = s.get("count", 0) + 1
        yield str(s["count"]).encode()
        s["after"] = True  # changed while streaming: saved after the body

    c = Client(wrap(app))
    assert c.get("/").get_data() == b"1"
    assert c.get("/").get_data() == b"2"
    mw = wrap()
    assert mw is not None


def test_legacy_write_callable_works():
    """Apps using the write() callable of start_response get their session saved."""

    def app(environ, start_response):
        s = get_session(environ)
        s["n"] = s.get("n", 0) + 1
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(str(s["n"]).encode())
        return []

    c = Client(wrap(app))
    assert c.get("/").get_data() == b"1" and c.get("/").get_data() == b"2"


def test_app_exceptions_propagate_and_nothing_is_saved():
    """An app that raises gets no session save; the error reaches the server."""

    def app(environ, start_response):
        get_session(environ)["x"] = 1
        raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        Client(wrap(app)).get("/")


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("secret_key", None),
        ("secret_key", ""),
        ("secret_key", []),
        ("cookie_secure", "yes"),
        ("cookie_samesite", "Sometimes"),
        ("cookie_httponly", "false"),
        ("idle_timeout", -1),
        ("idle_timeout", "30m"),
        ("tracking", "magic"),
        ("concurrency", "optimistic"),
        ("serializer", "pickle"),
        ("serializer", object()),
        ("store", 42),
        ("store", "ftp://nowhere"),
        ("url_param", "s id"),
        ("cookie_name", "bad name"),
        ("cookie_path", "no-slash"),
        ("events", object()),
        ("rewrite_html", 1),
    ],
)
def test_invalid_arguments_fail_at_construction_naming_them(option, value):
    """Each invalid argument is a ConfigError that names it."""
    options = {"secret_key": SECRET, option: value}
    with pytest.raises(ConfigError) as info:
        SessionMiddleware(session_app, **options)
    assert option in str(info.value) and info.value.key == option


def test_host_prefixed_cookie_enforces_secure_root_path():
    """A __Host- cookie name forces Secure and refuses a Domain or sub-path."""
    with pytest.raises(ConfigError):
        wrap(cookie_name="__Host-s", cookie_domain="example.com")
    with pytest.raises(ConfigError):
        wrap(cookie_name="__Host-s", cookie_secure=False)
    c = client(cookie_name="__Host-s")
    (cookie,) = set_cookies(c.get("/?set=a:1", base_url="https://x.example"))
    assert (
        cookie.startswith("__Host-s=") and "Secure" in cookie and "Domain" not in cookie
    )


def test_cookie_max_age_makes_persistent_sliding_cookie():
    """With cookie_max_age the cookie is persistent and renewed on writes."""
    c = client(cookie_max_age=3600)
    (cookie,) = set_cookies(c.get("/?set=a:1"))
    assert "Max-Age=3600" in cookie
    assert set_cookies(c.get("/?set=a:2"))


def test_multiprocess_memory_store_warns_once(caplog):
    """An in-memory store under wsgi.multiprocess logs one warning."""
    mw = wrap()
    c = Client(mw)
    for _ in range(3):
        c.get("/", environ_overrides={"wsgi.multiprocess": True})
    assert caplog.text.count("not shared between worker processes") == 1


def test_unrelated_server_errors_in_store_key_space_never_leak_ids():
    """Store keys are a prefix plus a hash: the id does not appear in them."""
    from wsgi_session.middleware import store_key

    sid = "B" * 43
    assert sid not in store_key(sid) and store_key(sid).startswith("wss:{")
    assert SECRET
