"""The middleware on real stores: persistence, two nodes, concurrency, outages."""

from __future__ import annotations

import threading
import time
import typing as t

import pytest
from werkzeug.test import Client, EnvironBuilder, run_wsgi_app

from tests.apps import data, session_app, set_cookies, wrap
from wsgi_session import get_session, open_store
from wsgi_session.stores import CountingBackend
from wsgi_session.stores.cachelib_compat import redis_clients


def cookie_of(c: Client) -> str:
    cookie = c.get_cookie("session")
    assert cookie is not None
    return cookie.value


def call(app: t.Any, path: str, cookie: str | None = None) -> tuple[str, bytes]:
    headers = {"Cookie": f"session={cookie}"} if cookie else {}
    env = EnvironBuilder(
        path=path.split("?")[0], query_string=path.partition("?")[2], headers=headers
    ).get_environ()
    app_iter, status, _headers = run_wsgi_app(app, env, buffered=True)
    return status, b"".join(app_iter)


def test_session_persists_on_every_store(store_url):
    """Set, read, change and delete work through each real store."""
    c = Client(wrap(store=store_url))
    c.get("/?set=a:1,b:[1]")
    c.get("/?set=a:2&del=b")
    assert data(c.get("/"))["data"] == {"a": 2}


def test_two_nodes_share_sessions(store_url):
    """Two middleware instances over one shared store serve the same session."""
    if store_url.startswith("memory"):
        pytest.skip("memory:// is per process by design")
    node_a = wrap(store=store_url)
    node_b = wrap(store=store_url)
    c = Client(node_a)
    c.get("/?set=user:%22ann%22")
    cookie = cookie_of(c)
    other = Client(node_b)
    other.set_cookie("session", cookie)
    assert data(other.get("/?set=cart:[1]"))["data"] == {"user": "ann", "cart": [1]}
    assert data(c.get("/"))["data"] == {"user": "ann", "cart": [1]}


def test_sixteen_concurrent_merges_keep_every_key(store_url):
    """16 concurrent requests setting distinct keys in merge mode: all 16 kept."""
    mw = wrap(store=store_url)
    c = Client(mw)
    c.get("/?set=seed:0")
    cookie = cookie_of(c)
    barrier = threading.Barrier(16)
    statuses: list[str] = []

    def slow_app(environ, start_response):
        s = get_session(environ)
        s.get("seed")
        barrier.wait(timeout=10)
        return session_app(environ, start_response)

    slow = wrap(slow_app, store=mw.store)

    def worker(i: int) -> None:
        statuses.append(call(slow, f"/?set=k{i}:{i}", cookie)[0])

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(16)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert statuses == ["200 OK"] * 16
    stored = data(c.get("/"))["data"]
    assert {f"k{i}" for i in range(16)} <= set(stored)


def test_lock_mode_serializes_increments(store_url):
    """12 concurrent read-increment-write requests in lock mode end at exactly 12."""

    def incr_app(environ, start_response):
        s = get_session(environ)
        value = s.get("n", 0)
        time.sleep(0.01)
        s["n"] = value + 1
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [str(s["n"]).encode()]

    mw = wrap(incr_app, store=store_url, concurrency="lock")
    c = Client(mw)
    c.get("/")
    cookie = cookie_of(c)
    threads = [threading.Thread(target=call, args=(mw, "/", cookie)) for _ in range(12)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert c.get("/").get_data() == b"14"  # 1 initial + 12 + this one


def test_destroyed_session_is_not_resurrected_by_a_slower_request(store_url):
    """A logout in one tab is not undone by a concurrent request's save."""
    started = threading.Event()
    proceed = threading.Event()

    def slow_app(environ, start_response):
        s = get_session(environ)
        s.get("user")
        started.set()
        proceed.wait(timeout=10)
        s["late"] = 1
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    mw = wrap(store=store_url)
    slow = wrap(slow_app, store=mw.store)
    c = Client(mw)
    c.get("/?set=user:%22ann%22")
    cookie = cookie_of(c)
    th = threading.Thread(target=call, args=(slow, "/", cookie))
    th.start()
    started.wait(timeout=10)
    c.get("/?destroy=1")
    proceed.set()
    th.join()
    probe = Client(mw)
    probe.set_cookie("session", cookie)
    assert data(probe.get("/"))["data"] == {}


def test_redis_round_trips_per_request(redis_url):
    """Redis: untouched 0 round trips, read-only 1, one-key merge write 2."""
    mw = wrap(store=redis_url)
    mw.backend = counted = CountingBackend(mw.backend)
    c = Client(mw)
    c.get("/?set=a:1")
    counts = {}
    for name, path in [
        ("untouched", "/?touch=0"),
        ("read", "/"),
        ("write", "/?set=b:2"),
    ]:
        before = counted.round_trips
        c.get(path)
        counts[name] = counted.round_trips - before
    assert counts == {"untouched": 0, "read": 1, "write": 2}


def test_redis_outage_gives_503_and_keeps_id_and_data(redis_server, redis_url):
    """Redis down: 503, no new cookie; back up: same id and same data."""
    mw = wrap(store=redis_url)
    c = Client(mw)
    c.get("/?set=a:1")
    cookie = cookie_of(c)
    redis_clients(mw.store)[0].save()  # a persistent Redis: the data survives restart
    redis_server.stop()
    try:
        r = c.get("/?set=b:2")
        assert r.status_code == 503 and set_cookies(r) == []
        assert b"Traceback" not in r.get_data()
        assert c.get("/?touch=0").status_code == 200  # untouched requests unaffected
    finally:
        redis_server.start()
    r = c.get("/")
    assert r.status_code == 200 and data(r)["data"] == {"a": 1}
    assert cookie_of(c) == cookie


def test_memcached_outage_gives_503_and_keeps_data(memcached_server, memcached_url):
    """Memcached down: 503; a restarted (empty) memcached simply has no session."""
    mw = wrap(store=memcached_url)
    c = Client(mw)
    c.get("/?set=a:1")
    memcached_server.stop()
    try:
        assert c.get("/?set=b:2").status_code == 503
        assert c.get("/").status_code == 503
    finally:
        memcached_server.start()
    r = c.get("/")
    assert r.status_code == 200


def test_store_unavailable_reaches_the_app_first(redis_server, redis_url):
    """The app sees StoreUnavailable and may answer itself; no new id issued."""
    from wsgi_session import StoreUnavailable

    def careful_app(environ, start_response):
        try:
            get_session(environ).get("a")
            body = b"ok"
        except StoreUnavailable:
            body = b"degraded"
            try:
                get_session(environ)["new"] = 1  # must not create a new session
            except StoreUnavailable:
                body += b"+refused"
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [body]

    store = open_store(redis_url)
    seed = Client(wrap(store=store))
    seed.get("/?set=a:1")
    c = Client(wrap(careful_app, store=store))
    c.set_cookie("session", cookie_of(seed))
    redis_server.stop()
    try:
        r = c.get("/")
    finally:
        redis_server.start()
    assert r.get_data() == b"degraded+refused" and set_cookies(r) == []
