"""The SQL session backend: the Backend protocol as statements in one transaction.

The rows it reads and writes are :mod:`.sql_schema`'s; the engine and the
error classification are :mod:`.sql_engine`'s; :mod:`.sql` wraps it as a
cachelib store for URLs and ``store=``. What each operation sends:

=========  ================================================================
load       one SELECT (session LEFT JOIN its fields)
touch      one UPDATE;  delete: one DELETE (the fields cascade)
merge      BEGIN; UPDATE of the session row (locks it, GONE when missing);
           one INSERT … ON CONFLICT of the changed fields (a deleted field
           is written as NULL); COMMIT. A merge that only deletes fields
           sends a DELETE and checks whether any field is left instead.
create     BEGIN; INSERT session; INSERT fields; COMMIT
replace    BEGIN; UPDATE session; DELETE fields; INSERT fields; COMMIT
lock       one INSERT … ON CONFLICT of a lease row per attempt, polled
=========  ================================================================

Every writer locks the session row first and its field rows after it, so
writers of one session queue up on that row and never deadlock; a deadlock
or serialization failure reported anyway is retried. Every 16th create also
deletes up to 100 expired sessions (bounded, no lottery); :meth:`SqlBackend.sweep`
deletes them all::

    >>> import tempfile
    >>> from wsgi_session.stores.sql import open_sql_store
    >>> backend = open_sql_store("sqlite:///" + tempfile.mkdtemp() + "/s.db").backend
    >>> backend.create("wss:{k}", b"meta", {"a": b"1"}, 60)
    True
    >>> backend.merge("wss:{k}", b"meta", {"b": b"2"}, ["a"], 60)
    <SaveResult.SAVED: 'saved'>
    >>> backend.load("wss:{k}").fields
    {'b': b'2'}
"""

from __future__ import annotations

import itertools
import secrets
import threading
import time
import typing as t
from collections.abc import Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager

import sqlalchemy as sa
from sqlalchemy import exc
from sqlalchemy.engine import Connection, Engine

from ..errors import StoreUnavailable
from .base import Record, SaveResult, check_ttl, logger, poll_until
from .sql_engine import Failure, classify
from .sql_schema import CHUNK, SqlSchema

__all__ = ["SqlBackend"]

_R = t.TypeVar("_R")
_Body = t.Callable[[Connection], _R]

#: Attempts of one operation when the database reports a deadlock, a
#: serialization failure or a dead pooled connection.
ATTEMPTS = 3


def _now_ms() -> int:
    return int(time.time() * 1000)


def _expires(ttl: int, now: int) -> int | None:
    return now + check_ttl(ttl) * 1000 if ttl else None


def _name(name: str) -> bytes:
    return name.encode("utf-8")


class SqlBackend:
    """The Backend protocol over three tables of one SQL database.

    >>> import tempfile
    >>> from wsgi_session.stores.sql import open_sql_store
    >>> backend = open_sql_store("sqlite:///" + tempfile.mkdtemp() + "/s.db").backend
    >>> backend.load("wss:{missing}") is None
    True
    """

    #: Creates between two bounded clean-ups of expired sessions.
    cleanup_every = 16
    #: Expired sessions deleted by one clean-up during normal writes.
    cleanup_batch = 100
    #: Expired sessions deleted per statement by :meth:`sweep`.
    sweep_batch = 1000

    def __init__(self, engine: Engine, schema: SqlSchema) -> None:
        self.engine = engine
        self.schema = schema
        dialect = engine.dialect
        self.dialect_name = name = dialect.name
        self._mysql = name in ("mysql", "mariadb")
        if name == "sqlite":
            # Take the write lock at once: a deferred transaction that reads
            # first can fail when it tries to write.
            self._begin = "BEGIN IMMEDIATE"
        elif name == "postgresql":
            self._begin = "BEGIN ISOLATION LEVEL READ COMMITTED"
        else:
            self._begin = "BEGIN"
        self._ready = False
        self._ready_lock = threading.Lock()
        self._creates = itertools.count(1)
        s, f, locks = schema.sessions, schema.fields, schema.locks
        key: t.Any = sa.bindparam("k")
        alive = sa.or_(s.c.expires_at.is_(None), s.c.expires_at > sa.bindparam("now"))
        self._load = (
            sa.select(s.c.meta, f.c.name, f.c.value)
            .select_from(
                s.outerjoin(f, sa.and_(f.c.key == s.c.key, f.c.value.is_not(None)))
            )
            .where(s.c.key == key, alive)
        )
        self._update = (
            sa.update(s)
            .where(s.c.key == key, alive)
            .values(meta=sa.bindparam("m"), expires_at=sa.bindparam("e"))
        )
        self._insert = schema.insert_session(dialect)
        self._delete = sa.delete(s).where(s.c.key == key)
        self._delete_expired = sa.delete(s).where(
            s.c.key == key, s.c.expires_at <= sa.bindparam("now")
        )
        self._delete_names = sa.delete(f).where(
            f.c.key == key, f.c.name.in_(sa.bindparam("names", expanding=True))
        )
        self._delete_fields = sa.delete(f).where(f.c.key == key)
        self._any_field = (
            sa.select(sa.literal(1))
            .select_from(f)
            .where(f.c.key == key, f.c.value.is_not(None))
            .limit(1)
        )
        self._take_lock = schema.take_lock(dialect)
        self._take_expired_lock = schema.take_expired_lock()
        self._unlock = sa.delete(locks).where(
            locks.c.key == key, locks.c.token == sa.bindparam("t")
        )
        self._expired_locks = sa.delete(locks).where(
            locks.c.expires_at <= sa.bindparam("now")
        )

    # -- running statements ---------------------------------------------------

    def ensure_schema(self) -> None:
        """Create the tables if missing (safe when several processes race)."""
        statements = self.schema.ddl(self.engine.dialect)
        for attempt in range(ATTEMPTS):
            try:
                with self.engine.connect() as conn:
                    for statement in statements:
                        try:
                            conn.exec_driver_sql(statement)
                        except exc.DBAPIError as error:
                            # MySQL has no CREATE INDEX IF NOT EXISTS: 1061 is
                            # "duplicate key name", the index is there.
                            if not (self._mysql and "1061" in str(error.orig)):
                                raise
            except exc.SQLAlchemyError as error:
                # Two processes creating the same table at once can collide
                # (PostgreSQL: a duplicate pg_type row); the next try sees it.
                if attempt + 1 < ATTEMPTS:
                    time.sleep(0.05 * (attempt + 1))
                    continue
                raise StoreUnavailable(
                    f"cannot create the SQL session tables: {_message(error)}",
                    original=error,
                ) from error
            self._ready = True
            return

    def _run(self, what: str, body: _Body[_R], *, transaction: bool = False) -> _R:
        """Run ``body`` on a pooled connection (inside BEGIN … COMMIT when
        ``transaction``); database errors become StoreUnavailable."""
        if not self._ready:
            with self._ready_lock:
                if not self._ready:
                    self.ensure_schema()
        for attempt in range(ATTEMPTS):
            try:
                with self.engine.connect() as conn:
                    if not transaction:
                        return body(conn)
                    conn.exec_driver_sql(self._begin)
                    try:
                        result = body(conn)
                    except BaseException:
                        _rollback(conn)
                        raise
                    conn.exec_driver_sql("COMMIT")
                    return result
            except exc.SQLAlchemyError as error:
                failure = classify(error, self.schema.table_names)
                if failure is Failure.RETRY and attempt + 1 < ATTEMPTS:
                    continue
                if failure is Failure.NO_TABLE:
                    self._ready = False  # the next operation creates them again
                    logger.error(
                        "the SQL session tables %s are missing (dropped while "
                        "running?): %s; they are created again on the next use",
                        ", ".join(self.schema.table_names),
                        _message(error),
                    )
                raise StoreUnavailable(
                    f"SQL session store: {what} failed: {_message(error)}",
                    original=error,
                ) from error
        raise AssertionError("unreachable")  # pragma: no cover

    def _upsert(
        self, conn: Connection, key: str, rows: list[tuple[bytes, bytes | None]]
    ) -> None:
        dialect = self.engine.dialect
        for start in range(0, len(rows), CHUNK):
            values = [
                {"key": key, "name": name, "value": value}
                for name, value in rows[start : start + CHUNK]
            ]
            conn.execute(self.schema.upsert_fields(dialect, values))

    def _insert_fields(
        self, conn: Connection, key: str, fields: Mapping[str, bytes]
    ) -> None:
        rows = [(_name(name), bytes(value)) for name, value in fields.items()]
        fields_table = self.schema.fields
        for start in range(0, len(rows), CHUNK):
            values = [
                {"key": key, "name": name, "value": value}
                for name, value in rows[start : start + CHUNK]
            ]
            conn.execute(sa.insert(fields_table).values(values))

    # -- the protocol ---------------------------------------------------------

    def load(self, key: str) -> Record | None:
        """Return the stored record (one SELECT); ``ValueError`` if a row is corrupt."""
        params = {"k": key, "now": _now_ms()}
        rows = self._run("load", lambda conn: conn.execute(self._load, params).all())
        if not rows:
            return None
        meta = rows[0][0]
        if not isinstance(meta, bytes):
            raise ValueError("the stored session has no valid meta")
        fields: dict[str, bytes] = {}
        for _, name, value in rows:
            if name is None:
                continue
            if not isinstance(name, bytes) or not isinstance(value, bytes):
                raise ValueError("a stored session field is not binary")
            try:
                fields[name.decode("utf-8")] = value
            except UnicodeDecodeError as error:
                raise ValueError("field name is not UTF-8") from error
        return Record(meta, fields) if fields else None

    def create(self, key: str, meta: bytes, fields: dict[str, bytes], ttl: int) -> bool:
        """Store a new record if ``key`` is absent or expired; else ``False``."""
        if not fields:
            raise ValueError("a new record needs at least one field")
        now = _now_ms()
        params = {
            "k": key,
            "m": meta,
            "e": _expires(ttl, now),
            "now": now,
        }

        def body(conn: Connection) -> bool:
            if not self._insert_session(conn, params):
                # Taken by an expired session (never served): replace it.
                if conn.execute(self._delete_expired, params).rowcount != 1:
                    return False
                if not self._insert_session(conn, params):
                    return False
            self._insert_fields(conn, key, fields)
            return True

        created = self._run("create", body, transaction=True)
        if created and next(self._creates) % self.cleanup_every == 0:
            self._cleanup()
        return created

    def _insert_session(self, conn: Connection, params: dict[str, t.Any]) -> bool:
        if not self._mysql:
            return conn.execute(self._insert, params).first() is not None
        try:
            conn.execute(self._insert, params)
        except exc.IntegrityError as error:
            if _code(error) != 1062:  # ER_DUP_ENTRY; the transaction goes on
                raise
            return False
        return True

    def merge(
        self,
        key: str,
        meta: bytes,
        set_fields: Mapping[str, bytes],
        del_fields: Iterable[str],
        ttl: int,
        *,
        token: object = None,
    ) -> SaveResult:
        """Apply set/delete onto the newest stored version in one transaction."""
        now = _now_ms()
        params = {
            "k": key,
            "m": meta,
            "e": _expires(ttl, now),
            "now": now,
        }
        sets = [(_name(name), bytes(value)) for name, value in set_fields.items()]
        setting = {name for name, _ in sets}
        deleting = [
            name for name in {_name(n) for n in del_fields} if name not in setting
        ]

        def body(conn: Connection) -> SaveResult:
            if conn.execute(self._update, params).rowcount != 1:
                return SaveResult.GONE  # nothing written: ended by someone else
            if sets:
                self._upsert(conn, key, [*sets, *((name, None) for name in deleting)])
                return SaveResult.SAVED
            if deleting:
                conn.execute(self._delete_names, {"k": key, "names": deleting})
                if conn.execute(self._any_field, params).first() is None:
                    conn.execute(self._delete, params)
                    return SaveResult.EMPTIED
            return SaveResult.SAVED

        return self._run("merge", body, transaction=True)

    def replace(
        self, key: str, meta: bytes, fields: dict[str, bytes], ttl: int
    ) -> SaveResult:
        """Overwrite an existing record (last writer wins); GONE if it is absent."""
        now = _now_ms()
        params = {
            "k": key,
            "m": meta,
            "e": _expires(ttl, now),
            "now": now,
        }

        def body(conn: Connection) -> SaveResult:
            if conn.execute(self._update, params).rowcount != 1:
                return SaveResult.GONE
            if not fields:
                conn.execute(self._delete, params)
                return SaveResult.EMPTIED
            conn.execute(self._delete_fields, params)
            self._insert_fields(conn, key, fields)
            return SaveResult.SAVED

        return self._run("replace", body, transaction=True)

    def touch(self, key: str, meta: bytes, ttl: int) -> bool:
        """Replace meta and refresh the expiry (one UPDATE); ``False`` if gone."""
        now = _now_ms()
        params = {
            "k": key,
            "m": meta,
            "e": _expires(ttl, now),
            "now": now,
        }
        count = self._run(
            "touch", lambda conn: conn.execute(self._update, params).rowcount
        )
        return bool(count == 1)

    def delete(self, key: str) -> None:
        """Delete the record and its fields (one DELETE); no error if absent."""
        self._run("delete", lambda conn: conn.execute(self._delete, {"k": key}))

    def lock(
        self, key: str, timeout: float, ttl: float
    ) -> AbstractContextManager[None]:
        """A lease row on ``key``: wait up to ``timeout``, expires after ``ttl``."""
        return self._lease(key, timeout, ttl)

    @contextmanager
    def _lease(self, key: str, timeout: float, ttl: float) -> Iterator[None]:
        token = secrets.token_hex(16)
        lifetime = max(1, int(ttl * 1000))

        def attempt(conn: Connection) -> bool:
            now = _now_ms()
            params = {
                "k": key,
                "t": token,
                "e": now + lifetime,
                "now": now,
            }
            if not self._mysql:
                return conn.execute(self._take_lock, params).first() is not None
            try:
                conn.execute(self._take_lock, params)
            except exc.IntegrityError as error:
                if _code(error) != 1062:
                    raise
                return bool(conn.execute(self._take_expired_lock, params).rowcount == 1)
            return True

        poll_until(lambda: self._run("lock", attempt), timeout)
        try:
            yield
        finally:
            self._run(
                "unlock",
                lambda conn: conn.execute(self._unlock, {"k": key, "t": token}),
            )

    # -- cleaning -------------------------------------------------------------

    def _delete_batch(self, conn: Connection, limit: int) -> int:
        statement = self.schema.delete_expired(self.engine.dialect, limit)
        return int(conn.execute(statement, {"now": _now_ms()}).rowcount)

    def _cleanup(self) -> None:
        """Delete a small batch of expired sessions; a failure is only logged
        (the create that triggered it has been committed)."""
        try:
            self._run(
                "clean-up", lambda conn: self._delete_batch(conn, self.cleanup_batch)
            )
        except StoreUnavailable as error:
            logger.warning("could not delete expired sessions: %s", error)

    def sweep(self) -> int:
        """Delete every expired session (and expired lock); return how many
        sessions were deleted.

        >>> import tempfile
        >>> from wsgi_session.stores.sql import open_sql_store
        >>> url = "sqlite:///" + tempfile.mkdtemp() + "/s.db"
        >>> open_sql_store(url).backend.sweep()
        0
        """
        total = 0
        while True:
            count = self._run(
                "sweep", lambda conn: self._delete_batch(conn, self.sweep_batch)
            )
            total += count
            if count < self.sweep_batch:
                break
        self._run(
            "sweep", lambda conn: conn.execute(self._expired_locks, {"now": _now_ms()})
        )
        return total


def _code(error: exc.DBAPIError) -> object:
    args = getattr(error.orig, "args", ())
    return args[0] if args else None


def _message(error: exc.SQLAlchemyError) -> str:
    """The driver's message (never the statement's parameters: session data)."""
    if isinstance(error, exc.DBAPIError) and error.orig is not None:
        return f"{type(error.orig).__name__}: {error.orig}".strip()
    return f"{type(error).__name__}: {error}"


def _rollback(conn: Connection) -> None:
    try:
        conn.exec_driver_sql("ROLLBACK")
    except exc.SQLAlchemyError:
        conn.invalidate()  # never give the pool a connection inside a transaction
