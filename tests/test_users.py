"""A session's user (SPEC §13.1): binding, listing, ending, on every store."""

from __future__ import annotations

import random
import threading
import time
import typing as t

import pytest
from werkzeug.test import Client
from werkzeug.wrappers import Request

from wsgi_session import EndReason, Session, SessionEvents, SessionMiddleware
from wsgi_session.stores.instrument import CountingBackend


class Ended(SessionEvents):
    """Records the reasons of ``ended`` events."""

    def __init__(self) -> None:
        self.reasons: list[EndReason] = []

    def ended(self, session: t.Any, reason: EndReason) -> None:
        self.reasons.append(reason)


def user_app(environ: dict[str, t.Any], start_response: t.Any) -> list[bytes]:
    """/login?u=ID sets the user key, /logout drops it, /whoami reads, /others
    ends the other sessions, /list lists them, /explicit logs in by login()."""
    request = Request(environ)
    session = environ["wsgi_session"]
    path = request.path
    if path == "/login":
        session["user"] = request.args["u"]
        body = "in"
    elif path == "/explicit":
        session.login(request.args["u"])
        body = "in"
    elif path == "/logout":
        session.pop("user", None)
        body = "out"
    elif path == "/others":
        body = str(session.end_other_sessions())
    elif path == "/list":
        body = ",".join(
            ("*" if info.current else "") + info.user_agent
            for info in session.user_sessions()
        )
    elif path == "/slowlogin":  # waits in the app: the login began, binds later
        waiting, gate = environ["test.gate"]
        session["user"] = request.args["u"]
        waiting.wait()
        gate.wait(5)
        body = "in"
    elif path == "/peek":
        body = str(session.get("n"))
    elif path == "/token":
        body = session.csrf_token()
    else:
        body = f"{session.user_id}:{session.get('n', 0)}"
        session["n"] = session.get("n", 0) + 1
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body.encode()]


def middleware(store: t.Any, **options: t.Any) -> SessionMiddleware:
    options.setdefault("secret_key", "k")
    options.setdefault("user_key", "user")
    return SessionMiddleware(user_app, store=store, **options)


class Agent(Client):
    """A test client whose requests carry its own User-Agent."""

    def __init__(self, app: t.Any, user_agent: str) -> None:
        super().__init__(app)
        self.user_agent = user_agent

    def open(self, *args: t.Any, **kwargs: t.Any) -> t.Any:
        headers = dict(kwargs.pop("headers", None) or {})
        headers.setdefault("User-Agent", self.user_agent)
        return super().open(*args, headers=headers, **kwargs)


def agent(mw: SessionMiddleware, name: str) -> Agent:
    return Agent(mw, name)


def session_cookie(client: Client) -> str | None:
    cookie = client.get_cookie("session")
    return None if cookie is None else cookie.value


def test_setting_the_user_key_binds_regenerates_and_rotates(store_url: str):
    """A login through user_key: new id, new CSRF secret, listed for the user."""
    mw = middleware(store_url)
    client = agent(mw, "laptop")
    client.get("/whoami")
    before, token = session_cookie(client), client.get("/token").text
    client.get("/login?u=ann")
    assert session_cookie(client) != before  # fixation protection
    assert client.get("/whoami").text.startswith("ann:")
    assert [i.user_agent for i in mw.sessions_of("ann")] == ["laptop"]
    session = Session.detached()
    assert not session.check_csrf(token)


def test_end_sessions_of_ends_every_session_and_fires_revoked(store_url: str):
    """After end_sessions_of() no session of the user is served again."""
    events = Ended()
    mw = middleware(store_url, events=events)
    phone, laptop, other = agent(mw, "phone"), agent(mw, "laptop"), agent(mw, "x")
    for client, user in ((phone, "ann"), (laptop, "ann"), (other, "bob")):
        client.get("/login?u=" + user)
    assert mw.end_sessions_of("ann") == 2
    assert phone.get("/whoami").text == "None:0"
    assert laptop.get("/whoami").text == "None:0"
    assert other.get("/whoami").text.startswith("bob:")
    assert events.reasons.count(EndReason.REVOKED) == 2
    assert mw.sessions_of("ann") == [] and len(mw.sessions_of("bob")) == 1
    phone.get("/whoami")
    assert events.reasons.count(EndReason.REVOKED) == 2  # once per session


def test_end_other_sessions_keeps_the_current_one(store_url: str):
    """ "Log out other devices" ends the others, listed before with current set."""
    mw = middleware(store_url)
    phone, laptop = agent(mw, "phone"), agent(mw, "laptop")
    phone.get("/login?u=ann")
    laptop.get("/login?u=ann")
    assert sorted(laptop.get("/list").text.split(",")) == ["*laptop", "phone"]
    assert laptop.get("/others").text == "1"
    assert laptop.get("/whoami").text.startswith("ann:")
    assert phone.get("/whoami").text == "None:0"
    assert laptop.get("/list").text == "*laptop"


def test_logout_and_destroy_leave_the_index(store_url: str):
    """Removing the user key unbinds; listings never show ended sessions."""
    mw = middleware(store_url)
    client = agent(mw, "a")
    client.get("/login?u=ann")
    client.get("/logout")
    assert mw.sessions_of("ann") == []
    assert client.get("/whoami").text.startswith("None:")


def test_end_session_by_handle_and_handles_never_open_sessions(store_url: str):
    """A handle ends one session; as a cookie or URL id it opens nothing."""
    mw = middleware(store_url)
    phone, laptop = agent(mw, "phone"), agent(mw, "laptop")
    phone.get("/login?u=ann")
    laptop.get("/login?u=ann")
    handle = next(i.handle for i in mw.sessions_of("ann") if i.user_agent == "phone")
    thief = Client(mw)
    thief.set_cookie("session", handle)
    assert thief.get("/whoami").text == "None:0"
    assert mw.end_session(handle) is True
    assert mw.end_session(handle) is False
    assert phone.get("/whoami").text == "None:0"
    assert laptop.get("/whoami").text.startswith("ann:")


@pytest.mark.parametrize(
    "handle", ["", "x", "a.b", "." * 5, "é" * 40, "A" * 10_000, None, 42]
)
def test_garbage_handles_end_nothing(handle: t.Any):
    """Malformed handles are refused without an error."""
    mw = middleware("memory://")
    assert mw.end_session(handle) is False


@pytest.mark.parametrize("user", ["ann", "é" * 50, "x" * 5000, "1"])
def test_any_user_id_works(user: str):
    """Huge and non-ASCII user ids bind, list and end."""
    mw = middleware("memory://")
    client = agent(mw, "ua")
    client.get("/login", query_string={"u": user})
    assert len(mw.sessions_of(user)) == 1
    assert mw.end_sessions_of(user) == 1
    assert mw.sessions_of(user) == []


def test_explicit_login_sets_the_user_key_and_binds():
    """s.login(user_id) regenerates at once and sets user_key."""
    mw = middleware("memory://")
    client = agent(mw, "ua")
    client.get("/whoami")
    before = session_cookie(client)
    client.get("/explicit?u=7")
    assert session_cookie(client) != before
    assert client.get("/whoami").text.startswith("7:")
    assert len(mw.sessions_of(7)) == 1


def test_a_read_only_request_of_a_bound_session_costs_no_extra_round_trip(
    store_url: str,
):
    """Binding adds no store round trip to the read-only requests that follow."""
    counts = {}
    for user in (None, "ann"):
        mw = middleware(store_url)
        counting = CountingBackend(mw.backend)
        client = agent(mw, "ua")
        client.get("/whoami")
        if user is not None:
            client.get("/login?u=" + user)
        before = counting.round_trips
        assert client.get("/peek").status_code == 200
        counts[user] = counting.round_trips - before
    assert counts[None] == counts["ann"]
    if not store_url.startswith(("sqlite", "postgresql", "mysql")):
        assert counts[None] == 1  # (SQL stores count statements elsewhere)


def test_the_index_is_pruned_by_logins(store_url: str):
    """Entries of sessions that have gone are removed at the next login."""
    mw = middleware(store_url, idle_timeout=1)
    old = agent(mw, "old")
    old.get("/login?u=ann")
    old.get("/logout")
    ended = agent(mw, "ended")
    ended.get("/login?u=ann")
    mw.end_sessions_of("ann")
    agent(mw, "new").get("/login?u=ann")
    from wsgi_session.users import index_key, user_hash

    record = mw.backend.load(index_key(user_hash("ann")))
    assert record is not None
    entries = [name for name in record.fields if name.startswith("e")]
    assert len(entries) == 1


@pytest.mark.parametrize("kind", ["memory", "redis", "memcached", "sqlite"])
def test_a_login_racing_end_all_never_survives(
    kind: str, request: pytest.FixtureRequest, tmp_path: t.Any
):
    """Repeated with random timing: logins that began before end_sessions_of()
    and bind while it runs are all ended (listed and ended, or ending
    themselves on seeing the call's watermark)."""
    from conftest import _store_url

    url = _store_url(request, kind, tmp_path)
    rng = random.Random(1234)
    survivors = []
    for round_ in range(25):
        mw = middleware(url)
        gate = threading.Event()
        clients = [agent(mw, f"c{i}") for i in range(3)]
        waiting = threading.Barrier(len(clients) + 1)

        def login(
            client: Agent, gates: tuple[threading.Barrier, threading.Event]
        ) -> None:
            client.get("/slowlogin?u=ann", environ_overrides={"test.gate": gates})

        threads = [
            threading.Thread(target=login, args=(c, (waiting, gate))) for c in clients
        ]
        for thread in threads:
            thread.start()
        waiting.wait()  # every login request has begun (it waits in the app)
        ender = threading.Thread(target=mw.end_sessions_of, args=("ann",))
        ender.start()
        time.sleep(rng.uniform(0, 0.004))
        gate.set()  # the logins now bind, while the call runs or after it
        ender.join()
        for thread in threads:
            thread.join()
        for client in clients:
            if client.get("/whoami").text.startswith("ann:"):
                survivors.append((round_, client.user_agent))
    assert survivors == []


def test_a_url_mode_login_redirect_carries_the_new_id():
    """Without cookies, the redirect after a login carries the bound session's
    new id (binding happens before URLs get the id), and it is signed in."""

    def app(environ: dict[str, t.Any], start_response: t.Any) -> list[bytes]:
        session = environ["wsgi_session"]
        if environ["PATH_INFO"] == "/login":
            session["user"] = "ann"
            start_response("303 See Other", [("Location", "/me")])
            return [b""]
        session.setdefault("seen", True)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [str(session.user_id).encode()]

    mw = SessionMiddleware(app, secret_key="k", user_key="user", tracking="url")
    client = Client(mw, use_cookies=False)
    first = client.get("/start", follow_redirects=False)
    assert first.status_code == 200
    response = client.get("/login")
    location = response.headers["Location"]
    assert "sid=" in location
    assert client.get(location).text == "ann"
    assert len(mw.sessions_of("ann")) == 1


@pytest.mark.parametrize("via", ["cluster", "sentinel"])
def test_binding_listing_and_ending_through_cluster_and_sentinel_clients(
    via: str, request: pytest.FixtureRequest
):
    """A RedisCache over a RedisCluster or a Sentinel master_for() client: every
    index operation works (one key per atomic operation, one hash slot)."""
    from cachelib import RedisCache

    if via == "cluster":
        from redis.cluster import RedisCluster

        node = request.getfixturevalue("redis_cluster")
        client = RedisCluster(host="127.0.0.1", port=node.port)
    else:
        from redis.sentinel import Sentinel
        from test_redis_backend import SentinelServer

        master = request.getfixturevalue("redis_server")
        sentinel = SentinelServer(master)
        try:
            sentinel.start()
        except Exception as exc:  # pragma: no cover - no sentinel binary
            sentinel.close()
            pytest.skip(str(exc))
        request.addfinalizer(sentinel.close)
        client = Sentinel([(sentinel.host, sentinel.port)]).master_for("main")
    events = Ended()
    mw = middleware(RedisCache(client, key_prefix=f"{via}:"), events=events)
    phone, laptop = agent(mw, "phone"), agent(mw, "laptop")
    phone.get("/login?u=ann")
    laptop.get("/login?u=ann")
    assert sorted(i.user_agent for i in mw.sessions_of("ann")) == ["laptop", "phone"]
    assert laptop.get("/others").text == "1"
    assert phone.get("/whoami").text == "None:0"
    assert mw.end_sessions_of("ann") == 1
    assert laptop.get("/whoami").text == "None:0"
    assert events.reasons.count(EndReason.REVOKED) == 2
    client.close()


def test_a_login_while_a_body_streams_keeps_the_session_and_binds_later():
    """user_key set after the headers went out: no new id (the client could
    not get it), the data is saved, and the next request binds the session."""

    def app(environ: dict[str, t.Any], start_response: t.Any) -> t.Any:
        session = environ["wsgi_session"]
        if environ["PATH_INFO"] == "/stream":
            start_response("200 OK", [("Content-Type", "text/plain")])

            def body() -> t.Iterator[bytes]:
                yield b"first"
                yield b"second"
                session["user"] = "ann"

            return body()
        session.setdefault("n", 1)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [str(session.user_id).encode()]

    mw = SessionMiddleware(app, secret_key="k", user_key="user")
    client = Client(mw)
    client.get("/start")
    before = session_cookie(client)
    assert client.get("/stream").data == b"firstsecond"
    assert session_cookie(client) == before
    assert client.get("/me").text == "ann"  # saved, and bound now
    assert session_cookie(client) != before and len(mw.sessions_of("ann")) == 1
