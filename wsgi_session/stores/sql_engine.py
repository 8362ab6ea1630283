"""SQLAlchemy engines for the SQL store, and database errors as store errors.

:func:`create_sql_engine` turns a store URL into an engine set up for
sessions: the default driver of each database (psycopg for PostgreSQL,
PyMySQL for MySQL / MariaDB), DBAPI autocommit (a read or single-statement
write is one round trip; the store brackets its multi-statement writes in
``BEGIN`` … ``COMMIT`` itself), a connect timeout, and for SQLite a WAL
journal, a busy timeout and foreign keys. :func:`classify` sorts a
database error into what the store does about it::

    >>> driver_url("postgresql://app@db/sessions").drivername
    'postgresql+psycopg'
"""

from __future__ import annotations

import enum
import os
import time
import typing as t

import sqlalchemy as sa
from sqlalchemy import event, exc
from sqlalchemy.engine import URL, Engine, make_url

from ..errors import ConfigError

__all__ = [
    "HELD_CONNECTIONS",
    "OPENED",
    "Failure",
    "Holding",
    "classify",
    "create_sql_engine",
    "driver_url",
    "prepare_engine",
]

#: Each database's default driver: the one the extras install.
DRIVERS = {
    "postgresql": "postgresql+psycopg",
    "postgres": "postgresql+psycopg",
    "mysql": "mysql+pymysql",
    "mariadb": "mariadb+pymysql",
    "sqlite": "sqlite",
}

_EXTRAS = {"postgresql": "postgresql", "mysql": "mysql", "mariadb": "mysql"}

#: Seconds to wait for a connection to a database server.
CONNECT_TIMEOUT = 5
#: Seconds a SQLite connection waits for another process's write lock.
SQLITE_BUSY_TIMEOUT = 10.0
#: SQLAlchemy's default pool: connections kept, and opened beyond them.
POOL_SIZE, MAX_OVERFLOW = 5, 10
#: Seconds a server connection lives (before servers drop idle ones).
POOL_RECYCLE = 3600
#: The execution option that tells the Runner to keep connections checked
#: out between operations, and how many (a :class:`Holding`).
HELD_CONNECTIONS = "wsgi_session_held_connections"
#: The key of a pooled connection's ``info`` that holds when it was opened
#: (``time.monotonic()``; set by the store's ``connect`` listener).
OPENED = "wsgi_session_opened"


class Holding(t.NamedTuple):
    """The limits of the connections the store's own engines keep checked
    out (:class:`~.sql_run.Runner`): the pool's, which the store enforces
    itself, so the engine's pool is unbounded.

    >>> Holding(15, 5, 3600.0).capacity
    15
    """

    #: Open at most (the pool's ``pool_size + max_overflow``).
    capacity: int
    #: Kept when idle (the pool's ``pool_size``): any more are closed.
    idle: int
    #: Seconds a connection may live (the pool's ``pool_recycle``), or None.
    recycle: float | None


def driver_url(url: str | URL) -> URL:
    """The SQLAlchemy URL of a store URL: plain schemes get the default driver.

    >>> driver_url("mysql://app@db/sessions").drivername
    'mysql+pymysql'
    >>> driver_url("postgresql+psycopg2://db/app").drivername
    'postgresql+psycopg2'
    """
    parsed = make_url(url)
    name = parsed.drivername
    if "+" not in name and name in DRIVERS:
        parsed = parsed.set(drivername=DRIVERS[name])
    return parsed


def _sqlite_path(url: URL) -> str:
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        raise ConfigError(
            "sqlite:// needs a database file (sqlite:///relative/path.db or "
            "sqlite:////absolute/path.db); for sessions in one process use memory://",
            key="store",
        )
    directory = os.path.dirname(os.path.abspath(database))
    if not os.path.isdir(directory):
        raise ConfigError(
            f"the directory of the sqlite:// store does not exist: {directory}",
            key="store",
        )
    return database


def create_sql_engine(
    url: str | URL, *, pre_ping: bool = False, pool_size: int | None = None
) -> Engine:
    """Create the engine of a SQL store URL (nothing connects yet).

    A missing driver is a ConfigError naming the extra to install.

    >>> create_sql_engine("sqlite://")
    Traceback (most recent call last):
    ...
    wsgi_session.errors.ConfigError: sqlite:// needs a database file ...
    """
    parsed = driver_url(url)
    backend = parsed.get_backend_name()
    kwargs: dict[str, t.Any] = {
        "isolation_level": "AUTOCOMMIT",
        # Every transaction of the store ends in COMMIT or ROLLBACK, so the
        # pool's reset-on-return ROLLBACK would be a wasted round trip.
        "pool_reset_on_return": None,
        "pool_pre_ping": pre_ping,
        # In autocommit mode DBAPI rollback() is pointless, but PyMySQL
        # would still send it: one more round trip per operation.
        "skip_autocommit_rollback": True,
    }
    connect_args: dict[str, t.Any] = {}
    if backend == "sqlite":
        _sqlite_path(parsed)
        connect_args["check_same_thread"] = False
        if "timeout" not in parsed.query:
            connect_args["timeout"] = SQLITE_BUSY_TIMEOUT
        # SQLite keeps all it opened (a new one costs its PRAGMAs, and no
        # server counts them); pre-ping is only done when one is checked out.
        most = POOL_SIZE + MAX_OVERFLOW
        holding: Holding | None = Holding(most, most, None)
    else:
        kwargs["pool_recycle"] = POOL_RECYCLE
        if "connect_timeout" not in parsed.query:
            connect_args["connect_timeout"] = CONNECT_TIMEOUT
        size = POOL_SIZE if pool_size is None else pool_size
        kwargs["pool_size"] = size
        # With pre-ping every operation checks a connection out of the pool
        # (which pings it); else the runner keeps them, in the pool's limits.
        holding = None if pre_ping else Holding(size + MAX_OVERFLOW, size, POOL_RECYCLE)
    if holding is not None:
        kwargs["max_overflow"] = -1  # bounded by the runner instead
    kwargs["connect_args"] = connect_args
    try:
        engine = sa.create_engine(parsed, **kwargs)
    except ImportError as error:
        extra = _EXTRAS.get(backend, "sql")
        raise ConfigError(
            f"{backend}:// needs its database driver: "
            f"pip install wsgi_session[{extra}] ({error})",
            key="store",
        ) from error
    except (exc.ArgumentError, exc.NoSuchModuleError) as error:
        raise ConfigError(f"invalid SQL store URL: {error}", key="store") from error
    if holding is not None:
        engine.update_execution_options(**{HELD_CONNECTIONS: holding})
    prepare_engine(engine)
    return engine


def prepare_engine(engine: Engine) -> None:
    """Register the per-connection settings the store relies on (idempotent).

    SQLite: WAL journal (readers never wait for the writer; several
    processes share the file), ``synchronous=NORMAL`` (safe with WAL) and
    foreign keys (a deleted session's fields go with it). MySQL / MariaDB:
    READ COMMITTED and strict mode (an oversized value is an error, never
    truncated). Every database: the time the connection was opened, in
    its ``info`` (:data:`OPENED`), for the runner's recycling.

    >>> engine = sa.create_engine("sqlite://")
    >>> prepare_engine(engine); prepare_engine(engine)  # registered once
    >>> with engine.connect() as conn:
    ...     conn.exec_driver_sql("PRAGMA foreign_keys").scalar()
    1
    >>> engine.dispose()
    """
    if event.contains(engine, "connect", _on_connect):
        return
    event.listen(engine, "connect", _on_connect)


def _on_connect(dbapi_connection: t.Any, record: t.Any) -> None:
    record.info[OPENED] = time.monotonic()
    module = type(dbapi_connection).__module__
    cursor = dbapi_connection.cursor()
    try:
        if module.startswith("sqlite3"):
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode")
            if str(cursor.fetchone()[0]).lower() != "wal":
                try:
                    cursor.execute("PRAGMA journal_mode=WAL")
                except Exception:  # another process is switching it right now
                    cursor.execute("PRAGMA journal_mode")
            cursor.execute("PRAGMA synchronous=NORMAL")
        elif module.startswith("pymysql") or module.startswith("MySQLdb"):
            cursor.execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
            cursor.execute(
                "SET SESSION sql_mode = CONCAT_WS(',', @@sql_mode, 'STRICT_ALL_TABLES')"
            )
    finally:
        cursor.close()


class Failure(enum.Enum):
    """What a database error means for the operation that got it.

    >>> import sqlite3
    >>> missing = sqlite3.OperationalError("no such table: wss_sessions")
    >>> error = exc.OperationalError("SELECT ...", {}, missing)
    >>> classify(error, ["wss_sessions"]), classify(error, ["other_table"])
    (<Failure.NO_TABLE: 'no table'>, <Failure.UNAVAILABLE: 'unavailable'>)
    """

    #: Try the operation again at once (deadlock, serialization failure, a
    #: pooled connection found dead).
    RETRY = "retry"
    #: The store's tables are missing (dropped while running).
    NO_TABLE = "no table"
    #: Anything else: the store is unavailable for this request.
    UNAVAILABLE = "unavailable"


_RETRY_CODES = {
    "40001",  # serialization_failure (PostgreSQL)
    "40P01",  # deadlock_detected (PostgreSQL)
    1213,  # ER_LOCK_DEADLOCK (MySQL)
}
_MISSING = ("does not exist", "doesn't exist", "no such table")


def _code(error: BaseException | None) -> object:
    sqlstate = getattr(error, "sqlstate", None)
    if sqlstate:
        return sqlstate
    args = getattr(error, "args", ())
    return args[0] if args else None


def classify(error: exc.SQLAlchemyError, tables: t.Iterable[str]) -> Failure:
    """Sort a database error raised by an operation on ``tables``.

    >>> classify(exc.TimeoutError("pool exhausted"), ["s"])
    <Failure.UNAVAILABLE: 'unavailable'>
    """
    if not isinstance(error, exc.DBAPIError):
        return Failure.UNAVAILABLE
    if error.connection_invalidated or _code(error.orig) in _RETRY_CODES:
        return Failure.RETRY
    message = str(error.orig).lower()
    if any(text in message for text in _MISSING) and any(
        name.lower() in message for name in tables
    ):
        return Failure.NO_TABLE
    return Failure.UNAVAILABLE
