"""Running the SQL store's statements: compiled once, sent with the DBAPI cursor.

SQLAlchemy Core builds every statement of the store (:mod:`.sql_schema`,
:mod:`.sql_backend`); a :class:`~.sql_cursor.Statement` compiles one once
for the engine's dialect, and :class:`Runner` executes it with the DBAPI
cursor (:class:`~.sql_cursor.Cursor`) of a pooled connection.

Why not ``Connection.execute``: it costs 30 µs (SQLite) to 60 µs
(PostgreSQL with psycopg) per statement on the benchmark machine, for its
execution context, events and result objects, while SQLite's own work for a
session read is 10 µs; with five statements per write this was most of the
gap to the benchmark's floor (``tests/benchmarks/run.py --only sqlite``,
``docs/performance.rst``). What ``Connection`` would do for the store,
:class:`Runner` does itself: a driver's exception becomes SQLAlchemy's
(``IntegrityError``, ``OperationalError`` …, which
:func:`~.sql_engine.classify` sorts), a connection found dead is
invalidated and the pool's other connections with it (as SQLAlchemy does),
and a transaction that fails is rolled back before its connection goes back
to the pool. The store's parameters are ``str``, ``int``, ``bytes`` and
``None`` (and, on PostgreSQL, lists of ``bytes``), which every DBAPI driver
takes as they are; what the drivers return for binary columns is
normalised by the caller. Statements sent this way do not fire the engine's
``before_cursor_execute`` events.
"""

from __future__ import annotations

import math
import os
import threading
import time
import typing as t
import weakref

from sqlalchemy import exc
from sqlalchemy.engine import Engine
from sqlalchemy.pool import PoolProxiedConnection, QueuePool
from sqlalchemy.sql import ClauseElement

from .sql_cursor import Cursor, Statement
from .sql_engine import HELD_CONNECTIONS, OPENED, Holding

__all__ = ["Cursor", "Runner", "Statement"]

_R = t.TypeVar("_R")
#: A kept connection, the ``time.monotonic()`` after which it is too old,
#: and its cursor (kept with it: see :meth:`Runner._take`).
_Held = tuple[PoolProxiedConnection, float, Cursor]


class Runner:
    """Runs an operation's statements on a pooled connection of ``engine``.

    The store's own engines (:func:`~.sql_engine.create_sql_engine`) make
    every DBAPI connection autocommit when it is opened, so the pool's
    connection is used as it is. An engine whose execution options set an
    isolation level (the autocommit view :func:`~wsgi_session.stores.sql.wrap_engine`
    makes of yours) needs it set on each checkout and reset on return,
    which a ``Connection`` does: its connections are checked out through
    one (about 5 µs more per operation). The store's own engines keep their
    connections checked out between operations (:meth:`_run_held`), within
    the limits of their :class:`~.sql_engine.Holding`; with ``pre_ping``
    a server's are checked out for every operation, so the pool pings them.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = dialect = engine.dialect
        self.commit = Statement("COMMIT", dialect)
        self.rollback = Statement("ROLLBACK", dialect)
        options = engine.get_execution_options()
        self._per_checkout = "isolation_level" in options
        #: Connections kept checked out between operations (see
        #: :meth:`_run_held`), each with the ``time.monotonic()`` after
        #: which it is too old to use; the process they belong to.
        self._held: list[_Held] | None = None
        holding = options.get(HELD_CONNECTIONS)
        if not isinstance(holding, Holding) or self._per_checkout:
            holding = Holding(0, 0, None)
        else:
            self._held = []
            # A store nobody closed: its connections are closed when it
            # goes (a pool would have taken them back), not left to the
            # garbage collector (psycopg warns); never a parent's in a child.
            weakref.finalize(self, _close_held, self._held, os.getpid())
        self._capacity, self._idle, self._recycle = holding
        pool = engine.pool
        self._wait = pool.timeout() if isinstance(pool, QueuePool) else 30.0
        self._pid = os.getpid()
        self._reset()
        #: A forked child's copies of its parent's held connections: kept
        #: referenced, so that they are never closed or reused in the child.
        self._parents: list[_Held] = []

    def _reset(self) -> None:
        #: Guards ``_open`` (connections checked out: held or in use) and
        #: ``_waiting`` (operations waiting for one to come back).
        self._cond = threading.Condition()
        self._open = 0
        self._waiting = 0

    def statement(self, statement: ClauseElement | str) -> Statement:
        """``statement`` compiled for this engine's dialect."""
        return Statement(statement, self.dialect)

    def run(
        self, body: t.Callable[[Cursor], _R], *, begin: Statement | None = None
    ) -> _R:
        """Call ``body`` with a :class:`Cursor`, inside ``begin`` … ``COMMIT``
        when ``begin`` is given; SQLAlchemy's exceptions propagate."""
        if self._held is not None:
            return self._run_held(self._held, body, begin)
        if self._per_checkout:
            with self.engine.connect() as conn:
                return self._run_once(conn.connection, body, begin)
        connection = self._checkout()
        try:
            return self._run_once(connection, body, begin)
        finally:
            connection.close()  # back to the pool (or gone, if invalidated)

    def _run_once(
        self,
        connection: PoolProxiedConnection,
        body: t.Callable[[Cursor], _R],
        begin: Statement | None,
    ) -> _R:
        cursor = Cursor(connection.dbapi_connection, self.dialect)
        try:
            return self._run_on(connection, cursor, body, begin)
        finally:
            cursor.close()

    def _run_held(
        self,
        held: list[_Held],
        body: t.Callable[[Cursor], _R],
        begin: Statement | None,
    ) -> _R:
        """Run on a connection of ``held``, checked out of the pool when
        none is free, and put it back there afterwards (closed if it was
        invalidated, or beyond ``_idle`` free ones: :meth:`_trim`).

        A checkout and return through the pool costs about 5 µs (SQLite,
        the benchmark machine): a third of a session read's time in the
        store, twice per write request. ``held`` grows to the number of
        operations that ever ran at once, at most ``_idle``; at most
        ``_capacity`` are open (the pool's own limit would make an
        operation wait for a connection returned to the pool while idle
        ones sit in ``held``: so the engine's pool is unbounded and the
        runner waits instead, up to the pool's timeout). A connection
        older than ``_recycle`` seconds (the pool's ``pool_recycle``) is
        closed when taken, and another one used. ``list.pop`` and
        ``append`` are atomic: only an operation that finds ``held`` empty
        takes the lock. A forked child starts with no connections and a
        new pool, as SQLAlchemy advises (``dispose(close=False)``):
        connections must not cross a fork.
        """
        if self._pid != os.getpid():
            self._parents.extend(held)
            held.clear()
            self._reset()  # (a parent's thread may have held the lock)
            self.engine.dispose(close=False)
            self._pid = os.getpid()
        try:
            entry = held.pop()
        except IndexError:
            entry = self._take(held)
        while entry[1] < time.monotonic():  # older than the pool's recycle
            self._drop(entry[0])  # (_take may give back another old one)
            entry = self._take(held)
        connection, _, cursor = entry
        try:
            return self._run_on(connection, cursor, body, begin)
        finally:
            if not connection.is_valid:
                self._drop(connection)
            else:
                held.append(entry)
                if len(held) > self._idle:
                    self._trim(held)
                elif self._waiting:  # (read without the lock: see _take)
                    with self._cond:
                        self._cond.notify()

    def _take(self, held: list[_Held]) -> _Held:
        """A connection for an operation that found ``held`` empty: one
        given back meanwhile, a new one while fewer than ``_capacity`` are
        open, else the first given back within the pool's timeout.

        A waiter counts itself in ``_waiting`` before it looks at ``held``
        under the lock, and an operation giving a connection back appends it
        before it reads ``_waiting``: either the waiter sees the connection
        or the giver sees the waiter and notifies it.
        """
        deadline = time.monotonic() + self._wait
        with self._cond:
            self._waiting += 1
            try:
                while True:
                    try:
                        return held.pop()
                    except IndexError:
                        pass
                    if self._open < self._capacity:
                        self._open += 1
                        break
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise exc.TimeoutError(
                            f"all {self._capacity} {self.dialect.name} "
                            "connections of the session store stayed busy "
                            f"for {self._wait:g} s"
                        )
                    self._cond.wait(remaining)
            finally:
                self._waiting -= 1
        try:
            connection = self._checkout()
        except BaseException:
            with self._cond:
                self._open -= 1
                self._cond.notify()
            raise
        # The connection's cursor is kept with it: a new psycopg cursor
        # per operation costs its set-up and cold adapter caches, 48 k
        # instructions per request (callgrind: a PostgreSQL read 256 k ->
        # 208 k, a one-key write 470 k -> 422 k; SQLite 168 k -> 158 k and
        # 324 k -> 307 k); in isolation a load about 50 -> 40-48 µs.
        cursor = Cursor(connection.dbapi_connection, self.dialect)
        recycle = self._recycle
        if recycle is None:
            return connection, math.inf, cursor
        opened = connection.info.get(OPENED)
        if not isinstance(opened, float):  # (opened before the listener)
            opened = time.monotonic()
        return connection, opened + recycle, cursor

    def _trim(self, held: list[_Held]) -> None:
        """Close free connections beyond ``_idle`` (the pool's ``pool_size``:
        a pool closes a connection given back beyond it). Every operation
        that gives one back appends it first and checks after: the last to
        check sees every append, so no more than ``_idle`` stay once they
        are done."""
        with self._cond:
            while len(held) > self._idle:
                try:
                    connection, _, _ = held.pop()
                except IndexError:  # (taken meanwhile by an operation)
                    return
                self._drop(connection)

    def _drop(self, connection: PoolProxiedConnection) -> None:
        """Close a held connection for good (an invalidated one goes back
        to the pool, which opens a new one in its place when asked)."""
        try:
            if connection.is_valid:
                connection.detach()
            connection.close()
        finally:
            with self._cond:
                self._open -= 1
                self._cond.notify()

    def close(self) -> None:
        """Return the held connections to the pool (the store is closing)."""
        held = self._held or []
        while True:
            try:
                connection, _, cursor = held.pop()
            except IndexError:  # (another thread may take the last one)
                return
            cursor.close()
            connection.close()
            with self._cond:
                self._open -= 1
                self._cond.notify()

    def _checkout(self) -> PoolProxiedConnection:
        """A pooled connection; a failure to connect is SQLAlchemy's error,
        as ``Engine.connect()`` would raise it."""
        dialect = self.dialect
        try:
            return self.engine.raw_connection()
        except dialect.loaded_dbapi.Error as error:
            wrapped = exc.DBAPIError.instance(
                None,
                None,
                error,
                dialect.loaded_dbapi.Error,
                hide_parameters=True,
                connection_invalidated=dialect.is_disconnect(error, None, None),
                dialect=dialect,
            )
            raise wrapped from error

    def _run_on(
        self,
        connection: PoolProxiedConnection,
        cursor: Cursor,
        body: t.Callable[[Cursor], _R],
        begin: Statement | None,
    ) -> _R:
        try:
            if begin is None:
                return body(cursor)
            cursor.send(begin)
            try:
                result = body(cursor)
                cursor.send(self.commit)
            except Exception:
                self._roll_back(connection, cursor)
                raise
            return result
        except exc.DBAPIError:
            if cursor.dead is not None:
                self._invalidate(connection, cursor.dead)
            raise
        except BaseException as error:
            # Interrupted mid-statement (KeyboardInterrupt, a worker's
            # timeout): the connection's state is unknown.
            if not isinstance(error, Exception):
                connection.invalidate(error)
            raise

    def _roll_back(self, connection: PoolProxiedConnection, cursor: Cursor) -> None:
        if cursor.dead is not None:
            return  # invalidated by _run_on(): nothing to roll back on
        try:
            cursor.send(self.rollback)
        except exc.DBAPIError as error:
            # Never give the pool a connection inside a transaction.
            connection.invalidate(error)

    def _invalidate(
        self, connection: PoolProxiedConnection, error: BaseException
    ) -> None:
        """A dead connection: drop it, and the pool's idle ones and the held
        ones with it (a restarted server killed them all), as ``Connection``
        does. Connections other operations are using come back as they are
        (a dead one is found by its own operation)."""
        if connection.is_valid:
            connection.invalidate(error)
        self.engine.dispose()
        held = self._held or []
        while True:
            try:
                other, _, _ = held.pop()
            except IndexError:
                return
            self._drop(other)


def _close_held(held: list[_Held], pid: int) -> None:
    """Close the connections a runner that is gone still held (in the
    process that opened them)."""
    while held and os.getpid() == pid:
        connection, _, _ = held.pop()
        if connection.is_valid:
            connection.detach()
        connection.close()  # (the pool logs a driver's error and goes on)
