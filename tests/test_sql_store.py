"""The SQL store on real SQLite, PostgreSQL and MariaDB: what the contract suite
does not cover (statements per operation, locks under load, cleaning,
outages, corrupt rows, dropped tables, sizes, URLs, the command line)."""

from __future__ import annotations

import logging
import multiprocessing
import secrets
import threading
import time
import typing as t
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from apps import counter_app
from conftest import errors_in_threads
from sqlalchemy import event
from sqlrows import stored_expiry
from werkzeug.test import Client

from wsgi_session import SessionMiddleware
from wsgi_session.cli import main
from wsgi_session.errors import ConfigError, StoreUnavailable
from wsgi_session.stores import (
    Record,
    SaveResult,
    backend_for,
    open_store,
    parse_store_url,
)
from wsgi_session.stores.sql import SqlBackend, SqlCache, wrap_engine
from wsgi_session.stores.sql_engine import driver_url


def new_key() -> str:
    """A fresh store key shaped like the session layer's."""
    return f"wss:{{{secrets.token_hex(16)}}}"


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def sql_url(request: pytest.FixtureRequest) -> str:
    """One store URL per SQL database."""
    url: str = request.getfixturevalue(f"{request.param}_url")
    return url


@pytest.fixture
def store(sql_url: str) -> SqlCache:
    """A SQL store with its tables created."""
    cache = open_store(sql_url)
    assert isinstance(cache, SqlCache)
    cache.backend.ensure_schema()
    return cache


@pytest.fixture
def backend(store: SqlCache) -> SqlBackend:
    """The backend of the store."""
    return store.backend


class Statements:
    """Records what the store sends through an engine's DBAPI connections.

    The store runs its statements with the DBAPI cursor (``sql_run.py``),
    so engine events do not see them: the connections of the store's engine are
    opened again with counting cursors (SQLAlchemy's ``do_connect`` hook).
    One entry per call into the driver that can reach the server (PyMySQL
    turns an INSERT's ``executemany`` into one statement: one entry;
    psycopg pipelines an ``executemany``: one entry).
    """

    def __init__(self, store: SqlCache) -> None:
        self.sent: list[str] = []
        #: The parameters of each call (a list of rows for an executemany).
        self.params: list[object] = []
        engine = store.engine
        event.listen(engine, "do_connect", self._connect)
        store.close()  # the pooled (and held) connections are re-opened counting
        with engine.connect():  # (what a new connection sends is not counted)
            pass
        self.data()

    def _seen(self, statement: str | bytes, params: object) -> None:
        if isinstance(statement, (bytes, bytearray)):  # PyMySQL's executemany
            statement = bytes(statement[:20]).decode("ascii", "replace")
        self.sent.append(statement.split(None, 1)[0].upper())
        self.params.append(params)

    def _connect(
        self, dialect: t.Any, record: object, cargs: object, cparams: dict[str, t.Any]
    ) -> None:
        seen = self._seen
        module = dialect.loaded_dbapi.__name__
        if module.startswith("sqlite3"):
            import sqlite3

            class LiteCursor(sqlite3.Cursor):
                def execute(self, sql: str, params: t.Any = ()) -> t.Any:
                    seen(sql, params)
                    return super().execute(sql, params)

                def executemany(self, sql: str, rows: t.Any) -> t.Any:
                    rows = list(rows)
                    seen(sql, rows)
                    return super().executemany(sql, rows)

            class LiteConnection(sqlite3.Connection):
                def cursor(self, factory: t.Any = LiteCursor) -> t.Any:
                    return super().cursor(factory)

            cparams["factory"] = LiteConnection
        elif module.startswith("psycopg"):
            import psycopg

            class PgCursor(psycopg.Cursor[t.Any]):
                def execute(
                    self, query: t.Any, params: t.Any = None, **kw: t.Any
                ) -> t.Any:
                    seen(str(query), params)
                    return super().execute(query, params, **kw)

                def executemany(self, query: t.Any, rows: t.Any, **kw: t.Any) -> t.Any:
                    rows = list(rows)
                    seen(str(query), rows)
                    return super().executemany(query, rows, **kw)

            cparams["cursor_factory"] = PgCursor
        else:
            import pymysql.cursors

            params = self.params

            class MyCursor(pymysql.cursors.Cursor):
                def execute(self, query: t.Any, args: t.Any = None) -> t.Any:
                    seen(query, args)
                    return super().execute(query, args)

                def executemany(self, query: t.Any, rows: t.Any) -> t.Any:
                    # PyMySQL sends the rows through execute(): one INSERT,
                    # or one statement per row for others (counted there).
                    rows = list(rows)
                    params.append(rows)
                    return super().executemany(query, rows)

            cparams["cursorclass"] = MyCursor

    def data(self) -> list[str]:
        """The statements other than transaction control, then forget them all."""
        sent, self.sent = self.sent, []
        self.params.clear()
        return [word for word in sent if word not in ("BEGIN", "COMMIT")]


def test_statements_per_operation(store: SqlCache) -> None:
    """A read is one statement; a merge two (plus BEGIN/COMMIT), one on
    PostgreSQL; touch two (plus BEGIN/COMMIT), one on PostgreSQL."""
    backend = store.backend
    key = new_key()
    backend.create(key, b"m", {"a": b"1", "b": b"2"}, 60)
    counter = Statements(store)
    assert backend.load(key) is not None
    assert counter.data() == ["SELECT"]
    assert backend.merge(key, b"m", {"c": b"3"}, ["a"], 60) is SaveResult.SAVED
    sent = counter.sent[:]
    if backend.dialect_name == "postgresql":
        assert sent == ["WITH"]  # UPDATE … RETURNING feeding the INSERT
    else:
        assert counter.data() == ["UPDATE", "INSERT"]
        assert sent[0] == "BEGIN" and sent[-1] == "COMMIT"
    counter.data()
    assert backend.merge(new_key(), b"m", {"c": b"3"}, [], 60) is SaveResult.GONE
    assert backend.load(key) == Record(b"m", {"b": b"2", "c": b"3"})
    counter.data()
    assert backend.touch(key, b"m2", 60)
    sent = counter.sent[:]
    if backend.dialect_name == "postgresql":
        assert sent == ["WITH"]  # UPDATE … RETURNING feeding the UPDATE
    else:
        assert counter.data() == ["UPDATE", "UPDATE"]
        assert sent[0] == "BEGIN" and sent[-1] == "COMMIT"
    assert backend.load(key) == Record(b"m2", {"b": b"2", "c": b"3"})
    counter.data()
    backend.delete(key)
    assert counter.data() == ["DELETE"]


def _wal_frames(path: str, write: t.Callable[[], object]) -> int:
    """The WAL frames (b-tree pages) that ``write`` appends to SQLite file ``path``."""
    import sqlite3

    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        write()
        busy, frames, _ = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        assert busy == 0
        return int(frames)
    finally:
        conn.close()


def test_sqlite_one_key_merge_is_one_statement_writing_one_page(
    sqlite_url: str,
) -> None:
    """On SQLite a one-key merge with the loaded token is one INSERT that
    rewrites one b-tree page and keeps the stored expiry while it moves
    less than expiry_step(); past that, the expiry is written again."""
    store = open_store(sqlite_url)
    assert isinstance(store, SqlCache)
    backend = store.backend
    key = new_key()
    backend.create(key, b"m", {"a": b"1", "b": b"2"}, 600)
    record = backend.load(key)
    assert record is not None
    expiry = stored_expiry(backend, key)
    counter = Statements(store)
    path = sa.engine.make_url(sqlite_url).database
    assert path is not None

    def merge() -> SaveResult:
        return backend.merge(key, b"m2", {"a": b"3"}, [], 600, token=record.token)

    assert _wal_frames(path, lambda: merge() is SaveResult.SAVED) == 1
    assert counter.sent == ["INSERT"]  # no BEGIN / COMMIT either
    assert backend.load(key) == Record(b"m2", {"a": b"3", "b": b"2"})
    assert stored_expiry(backend, key) == expiry
    # A TTL a step longer moves the expiry: the session row is written.
    counter.data()
    longer = 600 + 120  # its step is 72 s
    assert backend.merge(key, b"m3", {"a": b"4"}, [], longer, token=record.token)
    assert counter.data() == ["UPDATE", "INSERT"]
    moved = stored_expiry(backend, key)
    assert expiry is not None and moved is not None and moved > expiry + 110_000
    # So does a shorter one (the row must not outlive its TTL).
    assert backend.merge(key, b"m4", {"a": b"5"}, [], 60, token=record.token)
    shorter = stored_expiry(backend, key)
    assert shorter is not None and shorter < expiry


def test_merge_with_a_stale_token_never_resurrects(sql_url: str) -> None:
    """A merge carrying the token of an ended or expired session writes nothing."""
    backend = backend_for(open_store(sql_url))
    assert isinstance(backend, SqlBackend)
    key = new_key()
    backend.create(key, b"m", {"a": b"1"}, 600)
    record = backend.load(key)
    assert record is not None
    backend.delete(key)
    for sets, deletes in (
        ({"b": b"2"}, []),
        ({"b": b"2", "c": b"3"}, ["a"]),
        ({}, ["a"]),
    ):
        result = backend.merge(key, b"m", sets, deletes, 600, token=record.token)
        assert result is SaveResult.GONE
        assert backend.load(key) is None
    short = new_key()
    backend.create(short, b"m", {"a": b"1"}, 1)
    record = backend.load(short)
    assert record is not None
    time.sleep(1.1)
    result = backend.merge(short, b"m", {"a": b"2"}, [], 1, token=record.token)
    assert result is SaveResult.GONE
    assert backend.load(short) is None


def _sent_bytes(params: object) -> list[bytes]:
    """Every bytes value in a call's parameters (rows, dicts, arrays)."""
    if isinstance(params, (bytes, memoryview)):
        return [bytes(params)]
    if isinstance(params, dict):
        params = list(params.values())
    if isinstance(params, (list, tuple)):
        return [value for item in params for value in _sent_bytes(item)]
    return []


def test_merge_writes_only_changed_fields(store: SqlCache) -> None:
    """A merge sends only the fields it set or deleted."""
    backend = store.backend
    key = new_key()
    backend.create(key, b"m", {f"f{n}": b"x" * 100 for n in range(20)}, 60)
    counter = Statements(store)
    backend.merge(key, b"m", {"f1": b"new"}, ["f2"], 60)
    sent = [value for params in counter.params for value in _sent_bytes(params)]
    assert b"x" * 100 not in sent
    assert {b"f1", b"new", b"f2"} <= set(sent)
    assert sum(map(len, sent)) < 20
    record = backend.load(key)
    assert record is not None and record.fields["f1"] == b"new"
    assert "f2" not in record.fields and len(record.fields) == 19


def test_lock_mode_counter_ends_at_n(backend: SqlBackend) -> None:
    """N threads incrementing one counter under the session lock end at exactly N."""
    key = new_key()
    backend.create(key, b"m", {"n": b"0"}, 60)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            for _ in range(5):
                with backend.lock(key, timeout=20, ttl=10):
                    record = backend.load(key)
                    assert record is not None
                    value = str(int(record.fields["n"]) + 1).encode()
                    backend.merge(key, b"m", {"n": value}, [], 60)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    record = backend.load(key)
    assert record is not None and record.fields["n"] == b"30"


def test_concurrent_merges_and_deletes_do_not_deadlock(backend: SqlBackend) -> None:
    """Threads setting and deleting overlapping fields of a few sessions all succeed."""
    keys = [new_key() for _ in range(3)]
    for key in keys:
        backend.create(key, b"m", {"base": b"0"}, 60)

    def worker(n: int) -> None:
        for i in range(10):
            key = keys[(n + i) % 3]
            names = {f"f{(n + j) % 7}": b"v" for j in range(3)}
            backend.merge(key, b"m", names, [f"f{(n + 5) % 7}"], 60)

    assert not errors_in_threads(worker, 8)
    for key in keys:
        record = backend.load(key)
        assert record is not None and record.fields["base"] == b"0"


def _increment(url: str, key: str, times: int) -> None:
    backend = backend_for(open_store(url))
    for _ in range(times):
        with backend.lock(key, timeout=30, ttl=10):
            record = backend.load(key)
            assert record is not None
            value = str(int(record.fields["n"]) + 1).encode()
            backend.merge(key, b"m", {"n": value}, [], 60)


def test_two_processes_share_one_sqlite_file(sqlite_url: str) -> None:
    """Two OS processes incrementing under the lock on one SQLite file lose nothing."""
    backend = backend_for(open_store(sqlite_url))
    key = new_key()
    backend.create(key, b"m", {"n": b"0"}, 60)
    context = multiprocessing.get_context("spawn")
    processes = [
        context.Process(target=_increment, args=(sqlite_url, key, 20)) for _ in range(2)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(60)
        assert process.exitcode == 0
    record = backend.load(key)
    assert record is not None and record.fields["n"] == b"40"


def test_sqlite_connections_are_kept_between_operations_and_given_back(
    sqlite_url: str,
) -> None:
    """On SQLite an operation reuses a connection the store keeps checked out
    (at most one per operation running at once); close() gives them back."""
    store = open_store(sqlite_url)
    assert isinstance(store, SqlCache)
    backend = store.backend
    pool = store.engine.pool
    key = new_key()
    backend.create(key, b"m", {"n": b"0"}, 60)
    assert pool.checkedout() == 1  # type: ignore[attr-defined]
    for n in range(20):
        record = backend.load(key)
        assert record is not None
        backend.merge(key, b"m", {"n": b"%d" % n}, [], 60, token=record.token)
    assert pool.checkedout() == 1  # type: ignore[attr-defined]
    start = threading.Barrier(4)

    def work() -> None:
        start.wait()
        for _ in range(20):
            assert backend.load(key) is not None

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert 1 <= pool.checkedout() <= 4  # type: ignore[attr-defined]
    store.close()
    assert pool.checkedout() == 0  # type: ignore[attr-defined]


def test_more_threads_than_sqlite_connections_wait_for_one(sqlite_url: str) -> None:
    """40 threads at once on one SQLite store share at most 15 connections
    and all succeed (an idle kept connection goes to a waiting thread)."""
    store = open_store(sqlite_url)
    assert isinstance(store, SqlCache)
    backend = store.backend
    key = new_key()
    backend.create(key, b"m", {"n": b"0"}, 60)
    start = threading.Barrier(40)
    errors: list[BaseException] = []
    most = 0

    def work(n: int) -> None:
        nonlocal most
        try:
            start.wait()
            for _ in range(10):
                record = backend.load(key)
                assert record is not None
                backend.merge(key, b"m", {f"t{n}": b"1"}, [], 60, token=record.token)
                most = max(most, store.engine.pool.checkedout())  # type: ignore[attr-defined]
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert 1 <= most <= 15
    record = backend.load(key)
    assert record is not None and len(record.fields) == 41
    store.close()
    assert store.engine.pool.checkedout() == 0  # type: ignore[attr-defined]


def _child_uses_store(store: SqlCache, key: str) -> None:
    inherited = store.engine.pool
    record = store.backend.load(key)
    assert record is not None and record.fields["n"] == b"1"
    # The parent's connections (copied into this process) are not reused:
    # the child works on a new pool of its own.
    pool = store.engine.pool
    assert pool is not inherited
    assert pool.checkedout() == 1  # type: ignore[attr-defined]
    store.backend.merge(key, b"m", {"c": b"1"}, [], 60, token=record.token)


def test_a_forked_child_does_not_reuse_the_parents_sqlite_connection(
    sqlite_url: str,
) -> None:
    """After fork the child opens its own SQLite connection; both keep working."""
    store = open_store(sqlite_url)
    assert isinstance(store, SqlCache)
    key = new_key()
    store.backend.create(key, b"m", {"n": b"1"}, 60)
    child = multiprocessing.get_context("fork").Process(
        target=_child_uses_store, args=(store, key)
    )
    child.start()
    child.join(60)
    assert child.exitcode == 0
    record = store.backend.load(key)
    assert record is not None and record.fields == {"n": b"1", "c": b"1"}


def test_expired_sessions_are_not_served_and_are_cleaned(backend: SqlBackend) -> None:
    """Expired rows are never loaded; creates delete them in batches; sweep the rest."""
    expired = [new_key() for _ in range(5)]
    for key in expired:
        backend.create(key, b"m", {"a": b"1"}, 1)
    time.sleep(1.1)
    assert all(backend.load(key) is None for key in expired)
    assert backend.merge(expired[0], b"m", {"b": b"2"}, [], 60) is SaveResult.GONE
    kept = new_key()
    backend.create(kept, b"m", {"a": b"1"}, 0)
    for _ in range(backend.cleanup_every):
        backend.create(new_key(), b"m", {"a": b"1"}, 60)
    with backend.engine.connect() as conn:
        table = backend.schema.sessions
        rows = conn.execute(sa.select(table.c.key)).scalars().all()
    assert not set(expired) & set(rows)
    assert kept in rows
    backend.create(new_key(), b"m", {"a": b"1"}, 1)
    time.sleep(1.1)
    assert backend.sweep() == 1
    assert backend.sweep() == 0


def test_one_mebibyte_round_trips(backend: SqlBackend) -> None:
    """A 1 MiB value and non-ASCII names round-trip exactly."""
    key = new_key()
    big = secrets.token_bytes(1 << 20)
    assert backend.create(
        key, b"m", {"gro\u00dfe \u2603": big, "A": b"1", "a": b"2"}, 60
    )
    record = backend.load(key)
    assert record is not None
    assert record.fields == {"gro\u00dfe \u2603": big, "A": b"1", "a": b"2"}


def test_a_value_past_the_database_limit_is_store_unavailable(mariadb_url: str) -> None:
    """Past MariaDB's max_allowed_packet (4 MiB here) the save is StoreUnavailable."""
    backend = backend_for(open_store(mariadb_url))
    key = new_key()
    backend.create(key, b"m", {"a": b"1"}, 60)
    with pytest.raises(StoreUnavailable):
        backend.merge(key, b"m", {"a": b"x" * (5 << 20)}, [], 60)
    record = backend.load(key)
    assert record is not None and record.fields == {"a": b"1"}


def test_corrupt_row_is_a_value_error(store: SqlCache) -> None:
    """A planted row with a non-UTF-8 field name makes load() raise ValueError."""
    backend = store.backend
    key = new_key()
    backend.create(key, b"m", {"a": b"1"}, 60)
    with store.engine.connect() as conn:
        conn.execute(
            sa.insert(backend.schema.fields).values(
                key=key, name=b"\xff\xfe", value=b"x"
            )
        )
    with pytest.raises(ValueError):
        backend.load(key)


def test_dropped_tables_are_logged_unavailable_and_recreated(
    store: SqlCache, caplog: pytest.LogCaptureFixture
) -> None:
    """Dropped tables: a logged error and StoreUnavailable, then they are recreated."""
    backend = store.backend
    backend.create(new_key(), b"m", {"a": b"1"}, 60)
    with store.engine.connect() as conn:
        backend.schema.metadata.drop_all(conn)
    with caplog.at_level(logging.ERROR), pytest.raises(StoreUnavailable):
        backend.load(new_key())
    assert "missing" in caplog.text
    key = new_key()
    assert backend.create(key, b"m", {"a": b"1"}, 60)
    assert backend.load(key) is not None


def test_tables_of_the_earlier_layout_are_refused_not_dropped(
    sql_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A session table with the earlier meta column: a logged error naming the
    tables and StoreUnavailable on use; the old table is left as it was."""
    prefix = "old" + secrets.token_hex(3) + "_"
    engine = backend_for(open_store(sql_url)).engine
    store = SqlCache(engine, table_prefix=prefix)
    old = sa.Table(
        prefix + "sessions",
        sa.MetaData(),
        sa.Column("key", store.backend.schema.sessions.c.key.type, primary_key=True),
        sa.Column("meta", sa.LargeBinary, nullable=False),
        sa.Column("expires_at", sa.BigInteger),
    )
    with store.engine.begin() as conn:
        old.create(conn)
        conn.execute(old.insert().values(key="k", meta=b"m", expires_at=None))
    with caplog.at_level(logging.ERROR), pytest.raises(StoreUnavailable) as info:
        store.backend.load(new_key())
    assert "earlier" in str(info.value) and prefix + "fields" in caplog.text
    assert prefix + "fields" not in sa.inspect(engine).get_table_names()
    with store.engine.connect() as conn:
        assert conn.execute(sa.select(old.c.meta)).scalars().all() == [b"m"]
    store.close()


def test_postgres_outage_is_503_and_data_survives(
    postgresql_url: str, postgres_server: object
) -> None:
    """PostgreSQL stopped mid-run: 503s, no new id; restarted: the session goes on."""
    app = Client(SessionMiddleware(counter_app, secret_key="k", store=postgresql_url))
    assert app.get("/").text == "1"
    assert app.get("/").text == "2"
    postgres_server.stop()  # type: ignore[attr-defined]
    try:
        response = app.get("/")
        assert response.status_code == 503
        assert "Set-Cookie" not in response.headers
    finally:
        postgres_server.start()  # type: ignore[attr-defined]
    assert app.get("/").text == "3"


def test_an_engine_works_as_the_store(tmp_path: Path) -> None:
    """A SQLAlchemy Engine wrapped by wrap_engine() (or open_store) holds sessions."""
    engine = sa.create_engine(f"sqlite:///{tmp_path / 's.db'}")
    try:
        app = Client(
            SessionMiddleware(counter_app, secret_key="k", store=wrap_engine(engine))
        )
        assert [app.get("/").text for _ in range(3)] == ["1", "2", "3"]
        assert isinstance(open_store(engine), SqlCache)
    finally:
        engine.dispose()


def test_writes_through_a_wrapped_engine_are_committed(sql_url: str) -> None:
    """wrap_engine() of a plain (transactional) engine commits every write."""
    options = parse_store_url(sql_url).options
    engine = sa.create_engine(driver_url(options["url"]))
    try:
        prefix = options.get("table_prefix", "wsgi_session_")
        wrapped = wrap_engine(engine, table_prefix=prefix).backend
        key = new_key()
        assert wrapped.create(key, b"m", {"a": b"1"}, 60)
        assert wrapped.merge(key, b"m2", {"b": b"2"}, [], 60) is SaveResult.SAVED
        assert wrapped.touch(key, b"m3", 60)
        other = backend_for(open_store(sql_url))
        assert other.load(key) == Record(b"m3", {"a": b"1", "b": b"2"})
    finally:
        engine.dispose()


def test_store_urls() -> None:
    """SQL URLs: our options are taken out, plain mysql:// gets PyMySQL."""
    spec = parse_store_url("postgresql://u:p@db/app?table_prefix=s_&sslmode=require")
    assert spec.scheme == "sql"
    assert spec.options == {
        "url": "postgresql://u:p@db/app?sslmode=require",
        "table_prefix": "s_",
    }
    cache = open_store("mysql://u@db/app?pool_size=3")
    assert isinstance(cache, SqlCache)
    assert cache.engine.url.drivername == "mysql+pymysql"
    cache.engine.dispose()
    for bad in (
        "sqlite://",
        "sqlite:///:memory:",
        "sqlite:////no/such/dir/s.db",
        "postgresql://db/app?table_prefix=a-b",
        "postgresql://db/app?pre_ping=maybe",
    ):
        with pytest.raises(ConfigError):
            open_store(bad)


@pytest.fixture
def ini(tmp_path: Path, sqlite_url: str) -> Iterator[Path]:
    """An ini file whose store is a SQLite file."""
    path = tmp_path / "app.ini"
    path.write_text(f"[wsgi_session]\nsecret_key = k\nstore = {sqlite_url}\n")
    yield path


def test_check_prints_the_schema_and_sweep_counts(
    ini: Path, sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """check prints the DDL; sweep deletes expired sessions and says how many."""
    assert main(["check", str(ini)]) == 0
    out = capsys.readouterr().out
    assert "CREATE TABLE IF NOT EXISTS wsgi_session_sessions" in out
    backend = backend_for(open_store(sqlite_url))
    for _ in range(2):
        backend.create(new_key(), b"m", {"a": b"1"}, 1)
    time.sleep(1.1)
    assert main(["sweep", str(ini)]) == 0
    assert "deleted 2 expired sessions" in capsys.readouterr().out


def test_sweep_is_a_no_op_on_ttl_stores(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """sweep on a store with TTLs changes nothing and says so."""
    path = tmp_path / "app.ini"
    path.write_text("[wsgi_session]\nsecret_key = k\nstore = memory://\n")
    assert main(["sweep", str(path)]) == 0
    assert "nothing to sweep" in capsys.readouterr().out


def test_a_bare_engine_is_accepted_as_store(tmp_path: Path) -> None:
    """store= takes a SQLAlchemy Engine itself (SPEC §14), no wrapping needed."""
    engine = sa.create_engine(f"sqlite:///{tmp_path / 's.db'}")
    try:
        app = Client(SessionMiddleware(counter_app, secret_key="k", store=engine))
        assert [app.get("/").text for _ in range(3)] == ["1", "2", "3"]
    finally:
        engine.dispose()
