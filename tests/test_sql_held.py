"""The connections the SQL store keeps checked out between operations, on a
real PostgreSQL (and MariaDB): bounded as the pool was, recycled after the
pool's recycle time, dropped when the server kills them, never shared with
a forked child; ``pre_ping`` and engines of your own go through the pool."""

from __future__ import annotations

import gc
import itertools
import multiprocessing
import secrets
import threading
import time
import typing as t

import psycopg
import pytest
import sqlalchemy as sa
from apps import counter_app
from sqlalchemy import event
from werkzeug.test import Client

from wsgi_session import SessionMiddleware
from wsgi_session.stores import open_store
from wsgi_session.stores.sql import SqlCache, wrap_engine
from wsgi_session.stores.sql_engine import (
    HELD_CONNECTIONS,
    Holding,
    create_sql_engine,
    driver_url,
)

_names = itertools.count(1)


def new_key() -> str:
    """A fresh store key shaped like the session layer's."""
    return f"wss:{{{secrets.token_hex(16)}}}"


def _named(url: str) -> tuple[str, str]:
    """``url`` with an application_name of its own (to find its connections
    on the server), and that name."""
    name = f"held_{next(_names)}_{secrets.token_hex(3)}"
    return f"{url}&application_name={name}", name


def _prefix(url: str) -> str:
    """The table prefix of a test's store URL."""
    return url.split("table_prefix=", 1)[1].split("&", 1)[0]


def _admin(postgres_server: t.Any) -> psycopg.Connection[t.Any]:
    """A connection of the test's own to the server (autocommit)."""
    return psycopg.connect(postgres_server.url, autocommit=True)


def _backends(admin: psycopg.Connection[t.Any], name: str) -> list[int]:
    """The server processes of the connections named ``name``."""
    rows = admin.execute(
        "SELECT pid FROM pg_stat_activity WHERE application_name = %s", [name]
    ).fetchall()
    return [pid for (pid,) in rows]


def _settle(
    admin: psycopg.Connection[t.Any], name: str, want: t.Callable[[int], bool]
) -> int:
    """The number of ``name``'s connections once ``want`` says yes (a closed
    connection's server process takes a moment to go), within 5 s."""
    deadline = time.monotonic() + 5
    while True:
        count = len(_backends(admin, name))
        if want(count) or time.monotonic() > deadline:
            return count
        time.sleep(0.02)


def test_postgres_connections_are_kept_and_bounded_as_the_pool_was(
    postgresql_url: str, postgres_server: t.Any
) -> None:
    """PostgreSQL: operations reuse a kept connection; a burst opens at most
    pool_size + 10, and afterwards pool_size stay open; close() ends them."""
    url, name = _named(postgresql_url + "&pool_size=2")
    store = open_store(url)
    assert isinstance(store, SqlCache)
    backend = store.backend
    key = new_key()
    backend.create(key, b"m", {"n": b"0"}, 60)
    with _admin(postgres_server) as admin:
        first = _backends(admin, name)
        for n in range(20):
            record = backend.load(key)
            assert record is not None
            backend.merge(key, b"m", {"n": b"%d" % n}, [], 60, token=record.token)
        assert _backends(admin, name) == first and len(first) == 1
        start = threading.Barrier(16)
        most = 0
        errors: list[BaseException] = []

        def work(n: int) -> None:
            nonlocal most
            try:
                start.wait()
                for _ in range(10):
                    record = backend.load(key)
                    assert record is not None
                    backend.merge(key, b"m", {f"t{n}": b"1"}, [], 60)
                    most = max(most, len(_backends(admin_of_thread(), name)))
            except BaseException as error:  # reported below
                errors.append(error)

        local = threading.local()

        def admin_of_thread() -> psycopg.Connection[t.Any]:
            if not hasattr(local, "admin"):
                local.admin = _admin(postgres_server)
                opened.append(local.admin)
            return t.cast("psycopg.Connection[t.Any]", local.admin)

        opened: list[psycopg.Connection[t.Any]] = []
        threads = [threading.Thread(target=work, args=(n,)) for n in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for connection in opened:
            connection.close()
        assert not errors
        assert 2 <= most <= 12
        assert _settle(admin, name, lambda n: n <= 2) <= 2
        record = backend.load(key)
        assert record is not None and len(record.fields) == 17
        store.close()
        assert _settle(admin, name, lambda n: n == 0) == 0


def test_a_kept_connection_older_than_the_recycle_time_is_replaced(
    postgresql_url: str, postgres_server: t.Any
) -> None:
    """A kept connection that has lived past the pool's recycle time is
    closed when next taken, and the operation runs on a new one."""
    name = f"held_recycle_{secrets.token_hex(3)}"
    engine = create_sql_engine(f"{postgres_server.url}?application_name={name}")
    # (the store's own engine, with a recycle time of 0.3 s instead of 3600)
    engine.update_execution_options(**{HELD_CONNECTIONS: Holding(15, 5, 0.3)})
    connects: list[object] = []
    event.listen(engine, "connect", lambda dbapi, record: connects.append(dbapi))
    store = SqlCache(engine, table_prefix=_prefix(postgresql_url))
    key = new_key()
    with _admin(postgres_server) as admin:
        store.backend.create(key, b"m", {"n": b"1"}, 60)
        assert store.backend.load(key) is not None
        before = _backends(admin, name)
        assert len(connects) == 1 and len(before) == 1
        time.sleep(0.4)
        record = store.backend.load(key)
        assert record is not None and record.fields == {"n": b"1"}
        assert len(connects) == 2
        assert _settle(admin, name, lambda n: n == 1) == 1
        assert _backends(admin, name) != before
        store.close()


def test_kept_connections_killed_by_the_server_are_replaced_and_lose_nothing(
    postgresql_url: str, postgres_server: t.Any
) -> None:
    """pg_terminate_backend on every kept connection: the next request is
    served on a new one (the dead ones are all dropped at the first found
    dead, so the retry does not meet another: no 503, no 500) and the
    session goes on."""
    url, name = _named(postgresql_url)
    store = open_store(url)
    app = Client(SessionMiddleware(counter_app, secret_key="k", store=store))
    assert [app.get("/").text for _ in range(2)] == ["1", "2"]
    # Several kept connections: a burst of concurrent requests.
    start = threading.Barrier(6)

    def burst() -> None:
        start.wait()
        Client(SessionMiddleware(counter_app, secret_key="k", store=store)).get("/")

    threads = [threading.Thread(target=burst) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    expected = 3
    with _admin(postgres_server) as admin:
        for _ in range(3):
            killed = _backends(admin, name)
            assert killed
            for pid in killed:
                admin.execute("SELECT pg_terminate_backend(%s)", [pid])
            _settle(admin, name, lambda n: n == 0)
            response = app.get("/")
            assert response.status_code == 200, response.status_code
            assert response.text == str(expected)
            expected += 1
    assert app.get("/").text == str(expected)
    store.close()


def _child_uses_store(store: SqlCache, key: str, name: str, url: str) -> None:
    with psycopg.connect(url, autocommit=True) as admin:
        inherited = set(_backends(admin, name))
        record = store.backend.load(key)
        assert record is not None and record.fields["n"] == b"1"
        store.backend.merge(key, b"m", {"c": b"1"}, [], 60, token=record.token)
        # The child works on a connection of its own, not the parent's.
        assert len(set(_backends(admin, name)) - inherited) == 1


def test_a_forked_child_does_not_reuse_the_parents_postgres_connection(
    postgresql_url: str, postgres_server: t.Any
) -> None:
    """After fork the child opens its own PostgreSQL connection; the parent's
    kept one goes on working (the child never wrote on it)."""
    url, name = _named(postgresql_url)
    store = open_store(url)
    assert isinstance(store, SqlCache)
    connects: list[object] = []
    event.listen(store.engine, "connect", lambda dbapi, record: connects.append(1))
    key = new_key()
    store.backend.create(key, b"m", {"n": b"1"}, 60)
    child = multiprocessing.get_context("fork").Process(
        target=_child_uses_store, args=(store, key, name, postgres_server.url)
    )
    child.start()
    child.join(60)
    assert child.exitcode == 0
    record = store.backend.load(key)
    assert record is not None and record.fields == {"n": b"1", "c": b"1"}
    assert len(connects) == 1  # the parent's connection survived the child
    store.close()


def test_pre_ping_and_engines_of_your_own_check_out_per_operation(
    postgresql_url: str, postgres_server: t.Any
) -> None:
    """With pre_ping, or on an Engine passed in (pool_pre_ping), no connection
    stays checked out between operations: the pool pings each checkout."""
    store = open_store(postgresql_url + "&pre_ping=true")
    assert isinstance(store, SqlCache)
    engine = sa.create_engine(driver_url(postgres_server.url), pool_pre_ping=True)
    yours = wrap_engine(engine, table_prefix=_prefix(postgresql_url))
    for cache in (store, yours):
        key = new_key()
        assert cache.backend.create(key, b"m", {"n": b"1"}, 60)
        record = cache.backend.load(key)
        assert record is not None and record.fields == {"n": b"1"}
        assert cache.engine.pool.checkedout() == 0  # type: ignore[attr-defined]
        cache.close()


def test_an_unclosed_store_closes_its_kept_connections_when_it_goes(
    postgresql_url: str, postgres_server: t.Any
) -> None:
    """A store dropped without close(): its kept connections are closed."""
    url, name = _named(postgresql_url)
    store = open_store(url)
    assert isinstance(store, SqlCache)
    store.backend.create(new_key(), b"m", {"n": b"1"}, 60)
    with _admin(postgres_server) as admin:
        assert len(_backends(admin, name)) == 1
        del store
        gc.collect()
        assert _settle(admin, name, lambda n: n == 0) == 0


def test_mariadb_connections_are_kept_between_operations(mariadb_url: str) -> None:
    """MariaDB: operations reuse one kept connection; close() gives it back."""
    store = open_store(mariadb_url)
    assert isinstance(store, SqlCache)
    connects: list[object] = []
    event.listen(store.engine, "connect", lambda dbapi, record: connects.append(1))
    key = new_key()
    store.backend.create(key, b"m", {"n": b"0"}, 60)
    for n in range(10):
        record = store.backend.load(key)
        assert record is not None
        store.backend.merge(key, b"m", {"n": b"%d" % n}, [], 60, token=record.token)
    assert len(connects) == 1
    assert store.engine.pool.checkedout() == 1  # type: ignore[attr-defined]
    store.close()
    assert store.engine.pool.checkedout() == 0  # type: ignore[attr-defined]


@pytest.mark.parametrize("pre_ping", [False, True])
def test_engines_of_the_store_keep_connections_unless_pinged(pre_ping: bool) -> None:
    """create_sql_engine asks the runner to keep connections (pool_size + 10,
    pool_size idle, the pool's recycle time), except with pre_ping."""
    engine = create_sql_engine(
        "postgresql://nobody@127.0.0.1:1/x", pre_ping=pre_ping, pool_size=3
    )
    holding = engine.get_execution_options().get(HELD_CONNECTIONS)
    assert holding == (None if pre_ping else Holding(13, 3, 3600))
