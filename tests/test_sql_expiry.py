"""The SQL store's merge keeping the stored expiry (sql_expiry.py) on real
SQLite and PostgreSQL: kept while it lags less than a step, written again
past it or for a shorter TTL, and never a way to write into a session that
another request ended or that expired (SPEC §3.3, §7)."""

from __future__ import annotations

import secrets
import threading
import time
import typing as t

import psycopg
import pytest
import sqlalchemy as sa
from sqlrows import stored_expiry

from tests.test_sql_store import Statements
from wsgi_session.stores import SaveResult, open_store
from wsgi_session.stores.sql import SqlBackend, SqlCache
from wsgi_session.stores.sql_expiry import now_ms


def new_key() -> str:
    """A fresh store key shaped like the session layer's."""
    return f"wss:{{{secrets.token_hex(16)}}}"


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest) -> SqlCache:
    """A store on each database whose merges keep the stored expiry."""
    url: str = request.getfixturevalue(f"{request.param}_url")
    cache = open_store(url)
    assert isinstance(cache, SqlCache)
    cache.backend.ensure_schema()
    return cache


def _set_expiry(backend: SqlBackend, key: str, expires: int) -> None:
    table = backend.schema.sessions
    with backend.engine.begin() as conn:
        conn.execute(
            sa.update(table).where(table.c.key == key).values(expires_at=expires)
        )


def _values(backend: SqlBackend, key: str) -> dict[bytes, bytes | None]:
    """Every field row of ``key`` as stored (the metadata row among them)."""
    table = backend.schema.fields
    with backend.engine.connect() as conn:
        rows = conn.execute(
            sa.select(table.c.name, table.c.value).where(table.c.key == key)
        ).all()
    return {
        bytes(name): None if value is None else bytes(value) for name, value in rows
    }


@pytest.mark.parametrize("changes", [{"a": b"3"}, {"a": b"3", "c": b"4"}])
def test_a_merge_keeps_the_stored_expiry_within_a_step(
    store: SqlCache, changes: dict[str, bytes]
) -> None:
    """A merge with the loaded token leaves the stored expiry while the new
    one is less than a step later; a step longer TTL or a shorter one moves it."""
    backend = store.backend
    key = new_key()
    backend.create(key, b"m", {"a": b"1", "b": b"2"}, 600)
    record = backend.load(key)
    assert record is not None
    expiry = stored_expiry(backend, key)
    saved = backend.merge(key, b"m2", changes, [], 600, token=record.token)
    assert saved is SaveResult.SAVED
    loaded = backend.load(key)
    assert loaded is not None and loaded.meta == b"m2"
    assert loaded.fields == {"a": b"1", "b": b"2", **changes}
    assert stored_expiry(backend, key) == expiry
    longer = 600 + 120  # its step is 72 s
    assert backend.merge(key, b"m3", changes, [], longer, token=record.token)
    moved = stored_expiry(backend, key)
    assert expiry is not None and moved is not None and moved > expiry + 110_000
    assert backend.merge(key, b"m4", changes, [], 60, token=record.token)
    shorter = stored_expiry(backend, key)
    assert shorter is not None and shorter < expiry


def test_postgres_merge_keeping_the_expiry_is_one_statement(
    postgresql_url: str,
) -> None:
    """On PostgreSQL a merge that keeps the expiry is still one statement."""
    store = open_store(postgresql_url)
    assert isinstance(store, SqlCache)
    backend = store.backend
    key = new_key()
    backend.create(key, b"m", {"a": b"1"}, 600)
    record = backend.load(key)
    assert record is not None
    counter = Statements(store)
    assert backend.merge(key, b"m", {"a": b"2"}, [], 600, token=record.token)
    assert backend.merge(key, b"m", {"a": b"3", "b": b"1"}, [], 600, token=record.token)
    assert counter.data() == ["WITH", "WITH"]
    store.close()


@pytest.mark.parametrize("changes", [{"a": b"2"}, {"a": b"2", "c": b"3"}])
def test_a_kept_expiry_never_writes_into_an_ended_or_expired_session(
    store: SqlCache, changes: dict[str, bytes]
) -> None:
    """A merge whose token would keep the expiry writes nothing into a
    session deleted since, or one whose stored row has expired meanwhile."""
    backend = store.backend
    ended, expired = new_key(), new_key()
    for key in (ended, expired):
        backend.create(key, b"m", {"a": b"1"}, 600)
    record = backend.load(ended)
    assert record is not None
    backend.delete(ended)
    assert backend.merge(ended, b"m", changes, [], 600, token=record.token) is (
        SaveResult.GONE
    )
    assert _values(backend, ended) == {}
    record = backend.load(expired)
    assert record is not None
    before = _values(backend, expired)
    _set_expiry(backend, expired, now_ms() - 1000)  # (the token still says alive)
    assert backend.merge(expired, b"m2", changes, [], 600, token=record.token) is (
        SaveResult.GONE
    )
    assert _values(backend, expired) == before
    assert backend.load(expired) is None


def _race(backend: SqlBackend, key: str, token: object, results: list[object]) -> None:
    """A merge of a new field (which keeps the expiry) and a DELETE of the
    session, started at once."""
    start = threading.Barrier(2)

    def merge() -> None:
        start.wait()
        try:
            results.append(
                backend.merge(key, b"m", {"new": b"1"}, [], 600, token=token)
            )
        except Exception as error:  # reported by the test
            results.append(error)

    def delete() -> None:
        start.wait()
        backend.delete(key)

    threads = [threading.Thread(target=merge), threading.Thread(target=delete)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def test_postgres_merges_racing_deletes_are_saved_or_gone(
    postgresql_url: str,
) -> None:
    """PostgreSQL: merges keeping the expiry, each racing a DELETE of its
    session, end SAVED or GONE (never a database error) and leave no row."""
    store = open_store(postgresql_url)
    assert isinstance(store, SqlCache)
    backend = store.backend
    results: list[object] = []
    for _ in range(150):
        key = new_key()
        backend.create(key, b"m", {"a": b"1"}, 600)
        record = backend.load(key)
        assert record is not None
        _race(backend, key, record.token, results)
        assert _values(backend, key) == {}
    assert set(results) <= {SaveResult.SAVED, SaveResult.GONE}, results
    store.close()


def _deadlocks(admin: t.Any) -> int:
    row = admin.execute(
        "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()"
    ).fetchone()
    return int(row[0])


def test_postgres_merges_keeping_the_expiry_queue_behind_replaces(
    postgresql_url: str, postgres_server: t.Any
) -> None:
    """PostgreSQL: merges that keep the expiry still lock the session row
    first, like every writer: racing replaces of the same session never
    deadlock (the server counts none)."""
    name = f"queue_{secrets.token_hex(3)}"
    store = open_store(f"{postgresql_url}&application_name={name}")
    assert isinstance(store, SqlCache)
    backend = store.backend
    key = new_key()
    backend.create(key, b"m", {"a": b"0", "b": b"0", "c": b"0"}, 600)
    record = backend.load(key)
    assert record is not None
    fields = {"a": b"1", "b": b"1", "c": b"1"}
    errors: list[BaseException] = []

    def replace() -> None:
        try:
            for _ in range(150):
                backend.replace(key, b"m", fields, 600)
        except BaseException as error:  # reported below
            errors.append(error)

    def merge() -> None:
        try:
            for n in range(150):
                changes = {"c": b"%d" % n} if n % 2 else {"a": b"2", "c": b"2"}
                backend.merge(key, b"m", changes, [], 600, token=record.token)
        except BaseException as error:  # reported below
            errors.append(error)

    with psycopg.connect(postgres_server.url, autocommit=True) as admin:
        before = _deadlocks(admin)
        threads = [threading.Thread(target=f) for f in (replace, merge, merge)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        store.close()  # (a server process reports its counts when it ends)
        query = "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s"
        deadline = time.monotonic() + 5
        while admin.execute(query, [name]).fetchone()[0]:  # type: ignore[index]
            assert time.monotonic() < deadline
            time.sleep(0.02)
        time.sleep(0.2)
        assert not errors
        assert _deadlocks(admin) == before
