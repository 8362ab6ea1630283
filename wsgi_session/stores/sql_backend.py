"""The SQL session backend: the Backend protocol as statements in one transaction.

The rows it reads and writes are :mod:`.sql_schema`'s; the engine and the
error classification are :mod:`.sql_engine`'s; :mod:`.sql` wraps it as a
cachelib store for URLs and ``store=``. What each operation sends:

=========  ================================================================
load       one SELECT (session JOIN its fields, the metadata row among them)
touch      BEGIN; UPDATE session; UPDATE metadata row; COMMIT (on
           PostgreSQL one statement); delete: one DELETE (fields cascade)
merge      BEGIN; UPDATE of the session row's expiry (locks it, GONE when
           missing); INSERT … ON CONFLICT of the metadata row and the
           changed fields (a deleted field is written as NULL); COMMIT. On
           PostgreSQL the UPDATE and the INSERT are one statement and need
           no BEGIN / COMMIT (:meth:`~.sql_schema.SqlSchema.merge_fields`).
           When the expiry would move by less than :func:`~.sql_expiry.expiry_step`
           (the common case: see there), the session row is only read (on
           PostgreSQL locked FOR NO KEY UPDATE); on SQLite a one-key merge is ONE
           statement (:meth:`~.sql_schema.SqlSchema.upsert_if_alive`). Only
           deleting fields: a DELETE, then a check whether any field is left.
create     BEGIN; INSERT session; INSERT fields (metadata first); COMMIT
replace    BEGIN; UPDATE session; DELETE fields; INSERT fields; COMMIT
lock       one INSERT … ON CONFLICT of a lease row per attempt, polled
=========  ================================================================

Statements are built once with SQLAlchemy Core, compiled once per dialect
and sent with the DBAPI cursor (:mod:`.sql_run` says why); several field
rows go in one ``executemany``.

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
import typing as t
from collections.abc import Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager

import sqlalchemy as sa
from sqlalchemy import exc
from sqlalchemy.engine import Engine

from ..errors import StoreUnavailable
from ..memo import Memo
from .base import Record, SaveResult, logger, poll_until
from .sql_engine import Failure, classify
from .sql_expiry import NEVER, expires_ms, keeps_expiry, now_ms
from .sql_run import Cursor, Runner, Statement
from .sql_schema import META_NAME, SqlSchema
from .sql_tables import ATTEMPTS, create_tables
from .sql_tables import error_message as _message

__all__ = ["SqlBackend"]

_R = t.TypeVar("_R")
_Body = t.Callable[[Cursor], _R]


def _name(name: str) -> bytes:
    return name.encode("utf-8")


def _binary(value: object) -> bytes:
    """A binary column's value as bytes (psycopg2 and pg8000 return
    memoryview); anything else is a corrupt row."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, (memoryview, bytearray)):
        return bytes(value)
    raise ValueError("a stored session value is not binary")


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
        self._runner = runner = Runner(engine)
        compile = runner.statement
        dialect = engine.dialect
        self.dialect_name = name = dialect.name
        self._mysql = name in ("mysql", "mariadb")
        self._sqlite = name == "sqlite"
        if name == "sqlite":
            # Take the write lock at once: a deferred transaction that reads
            # first can fail when it tries to write.
            self._begin = compile("BEGIN IMMEDIATE")
        elif name == "postgresql":
            self._begin = compile("BEGIN ISOLATION LEVEL READ COMMITTED")
        else:
            self._begin = compile("BEGIN")
        self._ready = False
        self._ready_lock = threading.Lock()
        self._creates = itertools.count(1)
        s, f, locks = schema.sessions, schema.fields, schema.locks
        key: t.Any = sa.bindparam("k")
        alive = sa.or_(s.c.expires_at.is_(None), s.c.expires_at > sa.bindparam("now"))
        meta_row = f.c.name == sa.literal(META_NAME, sa.LargeBinary)
        self._load = compile(
            sa.select(f.c.name, f.c.value, s.c.expires_at)
            .select_from(s.join(f, f.c.key == s.c.key))
            .where(s.c.key == key, alive, f.c.value.is_not(None))
        )
        update = (
            sa.update(s)
            .where(s.c.key == key, alive)
            .values(expires_at=sa.bindparam("e"))
        )
        self._update = compile(update)
        self._update_meta = compile(
            sa.update(f).where(f.c.key == key, meta_row).values(value=sa.bindparam("m"))
        )
        #: PostgreSQL: a merge as one statement, by (keeps the stored
        #: expiry, one changed field), and touch's two UPDATEs as one.
        self._pg_merge: dict[tuple[bool, bool], Statement] = {}
        self._touch: Statement | None = None
        if name == "postgresql":
            # The stored expiry kept: the session row is only locked (no new
            # row version, no index entries), as an UPDATE would lock it.
            check = sa.select(s.c.key).where(s.c.key == key, alive)
            check = check.with_for_update(key_share=True)  # FOR NO KEY UPDATE
            for keep, first in ((False, update.returning(s.c.key)), (True, check)):
                for one in (False, True):
                    merge = schema.merge_fields(first, one=one)
                    self._pg_merge[keep, one] = compile(merge)
            self._touch = compile(schema.touch_meta(update))
        #: SQLite: field upserts that only write while the session is alive.
        self._merge_one: Statement | None = None
        self._upsert_alive: Statement | None = None
        if self._sqlite:
            self._merge_one = compile(schema.upsert_if_alive(with_meta=True))
            self._upsert_alive = compile(schema.upsert_if_alive())
        self._insert = compile(schema.insert_session(dialect))
        self._insert_field = compile(schema.insert_field())
        self._upsert_field = compile(schema.upsert_field(dialect))
        self._delete = compile(sa.delete(s).where(s.c.key == key))
        self._delete_expired = compile(
            sa.delete(s).where(s.c.key == key, s.c.expires_at <= sa.bindparam("now"))
        )
        self._delete_field = compile(
            sa.delete(f).where(f.c.key == key, f.c.name == sa.bindparam("n"))
        )
        self._delete_fields = compile(sa.delete(f).where(f.c.key == key))
        self._any_field = compile(
            sa.select(sa.literal_column("1"))
            .select_from(f)
            .where(f.c.key == key, f.c.value.is_not(None), f.c.name != META_NAME)
            .limit(1)
        )
        self._take_lock = compile(schema.take_lock(dialect))
        self._take_expired_lock = compile(schema.take_expired_lock())
        self._unlock = compile(
            sa.delete(locks).where(
                locks.c.key == key, locks.c.token == sa.bindparam("t")
            )
        )
        self._expired_locks = compile(
            sa.delete(locks).where(locks.c.expires_at <= sa.bindparam("now"))
        )
        # Key: a batch size (cleanup_batch or sweep_batch); the statement
        # is the same for the same size.
        self._delete_batches: Memo[int, Statement] = Memo(8)

    def close(self) -> None:
        """Give back the connections the backend holds (see :mod:`.sql_run`)."""
        self._runner.close()

    # -- running statements ---------------------------------------------------

    def ensure_schema(self) -> None:
        """Create the tables if missing (safe when several processes race)."""
        create_tables(self.engine, self.schema)
        self._ready = True

    def _run(self, what: str, body: _Body[_R], *, transaction: bool = False) -> _R:
        """Run ``body`` on a pooled connection (inside BEGIN … COMMIT when
        ``transaction``); database errors become StoreUnavailable."""
        if not self._ready:
            with self._ready_lock:
                if not self._ready:
                    self.ensure_schema()
        begin = self._begin if transaction else None
        for attempt in range(ATTEMPTS):
            try:
                return self._runner.run(body, begin=begin)
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

    def _write_fields(
        self,
        cur: Cursor,
        statement: Statement,
        key: str,
        rows: Iterable[tuple[bytes, bytes | None]],
    ) -> None:
        cur.execute_many(
            statement, [{"k": key, "n": name, "v": value} for name, value in rows]
        )

    # -- the protocol ---------------------------------------------------------

    def load(self, key: str) -> Record | None:
        """Return the stored record (one SELECT); ``ValueError`` if a row is corrupt."""
        params = {"k": key, "now": now_ms()}
        rows = self._run("load", lambda cur: cur.rows(self._load, params))
        if not rows:
            return None
        meta: bytes | None = None
        fields: dict[str, bytes] = {}
        try:
            for name, value, _ in rows:
                if type(name) is not bytes or type(value) is not bytes:
                    name, value = _binary(name), _binary(value)  # rarely
                if name == META_NAME:
                    meta = value
                else:
                    fields[name.decode("utf-8")] = value
        except UnicodeDecodeError as error:
            raise ValueError("field name is not UTF-8") from error
        if meta is None:
            raise ValueError("a stored session has no metadata row")
        if not fields:
            return None
        # The token is the stored expiry, which merge() may keep (SQLite).
        expires = rows[0][2]
        return Record(meta, fields, NEVER if expires is None else expires)

    def create(self, key: str, meta: bytes, fields: dict[str, bytes], ttl: int) -> bool:
        """Store a new record if ``key`` is absent or expired; else ``False``."""
        if not fields:
            raise ValueError("a new record needs at least one field")
        now = now_ms()
        params = {"k": key, "e": expires_ms(ttl, now), "now": now}
        rows = [(META_NAME, meta)]
        rows += [(_name(name), bytes(value)) for name, value in fields.items()]

        def body(cur: Cursor) -> bool:
            if not self._insert_session(cur, params):
                # Taken by an expired session (never served): replace it.
                if cur.count(self._delete_expired, params) != 1:
                    return False
                if not self._insert_session(cur, params):
                    return False
            self._write_fields(cur, self._insert_field, key, rows)
            return True

        created = self._run("create", body, transaction=True)
        if created and next(self._creates) % self.cleanup_every == 0:
            self._cleanup()
        return created

    def _insert_session(self, cur: Cursor, params: dict[str, t.Any]) -> bool:
        if not self._mysql:
            return bool(cur.rows(self._insert, params))
        try:
            cur.send(self._insert, params)
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
        now = now_ms()
        expires = expires_ms(ttl, now)
        params: dict[str, t.Any] = {"k": key, "m": meta, "e": expires, "now": now}
        sets = [(_name(name), bytes(value)) for name, value in set_fields.items()]
        setting = {name for name, _ in sets}
        deleting = [
            name for name in {_name(n) for n in del_fields} if name not in setting
        ]
        changes = [*sets, *((name, None) for name in deleting)]
        # SQLite, PostgreSQL: leave the session row (and its expiry index)
        # alone when the expiry moves by less than sql_expiry.expiry_step().
        keep = not self._mysql and keeps_expiry(token, expires, ttl)
        if sets and self._pg_merge:
            single = len(changes) == 1
            merge_fields = self._pg_merge[keep, single]
            if single:
                params["n"], params["v"] = changes[0]
            else:
                params["names"] = [META_NAME, *(name for name, _ in changes)]
                params["values"] = [meta, *(value for _, value in changes)]
            written = self._run("merge", lambda cur: cur.rows(merge_fields, params))
            return SaveResult.SAVED if written else SaveResult.GONE
        if keep and len(sets) == 1 and not deleting and self._merge_one is not None:
            params["n"], params["v"] = sets[0]
            one = self._merge_one
            count = self._run("merge", lambda cur: cur.count(one, params))
            return SaveResult.SAVED if count else SaveResult.GONE

        def body(cur: Cursor) -> SaveResult:
            rows: list[tuple[bytes, bytes | None]]
            if keep and self._upsert_alive is not None:
                # SQLite: the metadata row, written only if the session is alive.
                meta_row = {"k": key, "n": META_NAME, "v": meta, "now": now}
                alive = cur.count(self._upsert_alive, meta_row) == 1
                rows = []
            else:
                # The session row first (locked where rows are), then its fields.
                alive = cur.count(self._update, params) == 1
                rows = [(META_NAME, meta)]
            if not alive:
                return SaveResult.GONE  # nothing written: ended by someone else
            if sets:
                rows += changes
            if rows:
                self._write_fields(cur, self._upsert_field, key, rows)
            if sets or not deleting:
                return SaveResult.SAVED
            self._write_fields(cur, self._delete_field, key, changes)
            if not cur.rows(self._any_field, params):
                cur.send(self._delete, params)
                return SaveResult.EMPTIED
            return SaveResult.SAVED

        return self._run("merge", body, transaction=True)

    def replace(
        self, key: str, meta: bytes, fields: dict[str, bytes], ttl: int
    ) -> SaveResult:
        """Overwrite an existing record (last writer wins); GONE if it is absent."""
        now = now_ms()
        params = {"k": key, "e": expires_ms(ttl, now), "now": now}
        rows = [(_name(name), bytes(value)) for name, value in fields.items()]

        def body(cur: Cursor) -> SaveResult:
            if cur.count(self._update, params) != 1:
                return SaveResult.GONE
            if not rows:
                cur.send(self._delete, params)
                return SaveResult.EMPTIED
            cur.send(self._delete_fields, params)
            self._write_fields(cur, self._insert_field, key, [(META_NAME, meta), *rows])
            return SaveResult.SAVED

        return self._run("replace", body, transaction=True)

    def touch(self, key: str, meta: bytes, ttl: int) -> bool:
        """Replace meta and refresh the expiry; ``False`` if gone."""
        now = now_ms()
        params = {"k": key, "m": meta, "e": expires_ms(ttl, now), "now": now}
        touch = self._touch
        if touch is not None:  # PostgreSQL: one statement
            return bool(self._run("touch", lambda cur: cur.rows(touch, params)))

        def body(cur: Cursor) -> bool:
            if cur.count(self._update, params) != 1:
                return False
            return cur.count(self._update_meta, params) == 1

        return self._run("touch", body, transaction=True)

    def delete(self, key: str) -> None:
        """Delete the record and its fields (one DELETE); no error if absent."""
        self._run("delete", lambda cur: cur.send(self._delete, {"k": key}))

    def lock(
        self, key: str, timeout: float, ttl: float
    ) -> AbstractContextManager[None]:
        """A lease row on ``key``: wait up to ``timeout``, expires after ``ttl``."""
        return self._lease(key, timeout, ttl)

    @contextmanager
    def _lease(self, key: str, timeout: float, ttl: float) -> Iterator[None]:
        token = secrets.token_hex(16)
        lifetime = max(1, int(ttl * 1000))

        def attempt(cur: Cursor) -> bool:
            now = now_ms()
            params = {
                "k": key,
                "t": token,
                "e": now + lifetime,
                "now": now,
            }
            if not self._mysql:
                return bool(cur.rows(self._take_lock, params))
            try:
                cur.send(self._take_lock, params)
            except exc.IntegrityError as error:
                if _code(error) != 1062:
                    raise
                return cur.count(self._take_expired_lock, params) == 1
            return True

        poll_until(lambda: self._run("lock", attempt), timeout)
        try:
            yield
        finally:
            self._run(
                "unlock", lambda cur: cur.send(self._unlock, {"k": key, "t": token})
            )

    # -- cleaning -------------------------------------------------------------

    def _delete_batch(self, cur: Cursor, limit: int) -> int:
        statement = self._delete_batches.get(limit)
        if statement is None:
            expired = self.schema.delete_expired(self.engine.dialect, limit)
            statement = self._runner.statement(expired)
            self._delete_batches.put(limit, statement)
        return cur.count(statement, {"now": now_ms()})

    def _cleanup(self) -> None:
        """Delete a small batch of expired sessions; a failure is only logged
        (the create that triggered it has been committed)."""
        try:
            self._run(
                "clean-up", lambda cur: self._delete_batch(cur, self.cleanup_batch)
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
                "sweep", lambda cur: self._delete_batch(cur, self.sweep_batch)
            )
            total += count
            if count < self.sweep_batch:
                break
        self._run(
            "sweep", lambda cur: cur.count(self._expired_locks, {"now": now_ms()})
        )
        return total


def _code(error: exc.DBAPIError) -> object:
    args = getattr(error.orig, "args", ())
    return args[0] if args else None
