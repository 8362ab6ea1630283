"""The SQL store: sessions as rows in SQLite, PostgreSQL or MySQL / MariaDB.

With :mod:`.sql_backend`, :mod:`.sql_schema`, :mod:`.sql_engine`,
:mod:`.sql_run` and :mod:`.sql_cursor` the only modules that import
SQLAlchemy (Core, not the ORM). This one makes the store a URL or an
``Engine`` becomes: a cachelib cache whose ``backend`` is the
:class:`~wsgi_session.stores.sql_backend.SqlBackend` sessions live in.

    >>> import tempfile
    >>> cache = open_sql_store("sqlite:///" + tempfile.mkdtemp() + "/s.db")
    >>> type(cache.backend).__name__
    'SqlBackend'
"""

from __future__ import annotations

import datetime
import typing as t

from cachelib.base import BaseCache
from sqlalchemy.engine import Engine

from .base import SaveResult
from .serializer import prepare_store
from .sql_backend import SqlBackend
from .sql_engine import create_sql_engine, prepare_engine
from .sql_ref import is_sql_engine
from .sql_schema import DEFAULT_PREFIX, SqlSchema

__all__ = ["SqlBackend", "SqlCache", "is_sql_engine", "open_sql_store", "wrap_engine"]


class SqlCache(BaseCache):
    """A cachelib cache over the SQL store's tables (its ``backend`` holds sessions).

    ``get`` / ``set`` / ``add`` / ``delete`` work on records with one field
    (``wsgi-session check`` and generic cachelib callers); the session layer
    uses :attr:`backend`.

    >>> import tempfile
    >>> cache = open_sql_store("sqlite:///" + tempfile.mkdtemp() + "/s.db")
    >>> cache.set("probe", b"hello"), cache.get("probe")
    (True, b'hello')
    """

    _FIELD = "value"

    def __init__(
        self,
        engine: Engine,
        *,
        table_prefix: str = DEFAULT_PREFIX,
        default_timeout: int = 300,
    ) -> None:
        super().__init__(default_timeout=default_timeout)
        prepare_engine(engine)
        self.engine = engine
        self.backend = SqlBackend(engine, SqlSchema(table_prefix))
        prepare_store(self)

    def _ttl(self, timeout: int | datetime.timedelta | None) -> int:
        return int(self._normalize_timeout(timeout))

    def get(self, key: str) -> t.Any:
        """The value stored under ``key``, or ``None``."""
        record = self.backend.load(key)
        return None if record is None else record.fields.get(self._FIELD)

    def set(
        self, key: str, value: t.Any, timeout: int | datetime.timedelta | None = None
    ) -> bool:
        """Store ``value`` (bytes) under ``key``, replacing any value."""
        fields = {self._FIELD: self.serializer.dumps(value)}  # type: ignore[attr-defined]
        ttl = self._ttl(timeout)
        if self.backend.replace(key, b"", fields, ttl) is SaveResult.GONE:
            self.backend.create(key, b"", fields, ttl)
        return True

    def add(
        self, key: str, value: t.Any, timeout: int | datetime.timedelta | None = None
    ) -> bool:
        """Store ``value`` only if ``key`` holds nothing; ``False`` otherwise."""
        fields = {self._FIELD: self.serializer.dumps(value)}  # type: ignore[attr-defined]
        return self.backend.create(key, b"", fields, self._ttl(timeout))

    def delete(self, key: str) -> bool:
        """Delete ``key`` (no error if absent)."""
        self.backend.delete(key)
        return True

    def has(self, key: str) -> bool:
        """True if ``key`` holds a value."""
        return self.get(key) is not None

    def ddl(self) -> list[str]:
        """The statements that create this store's tables on its database."""
        return self.backend.schema.ddl(self.engine.dialect)

    def close(self) -> None:
        """Close the pooled connections (``stores.close_store`` calls it)."""
        self.backend.close()
        self.engine.dispose()


def open_sql_store(
    url: str,
    *,
    table_prefix: str = DEFAULT_PREFIX,
    pre_ping: bool = False,
    pool_size: int | None = None,
) -> SqlCache:
    """Open the SQL store of ``url`` (nothing connects until first use)."""
    engine = create_sql_engine(url, pre_ping=pre_ping, pool_size=pool_size)
    return SqlCache(engine, table_prefix=table_prefix)


def wrap_engine(engine: Engine, *, table_prefix: str = DEFAULT_PREFIX) -> SqlCache:
    """A store over your own SQLAlchemy ``Engine`` (it is switched to autocommit
    for the store's use: the store brackets its transactions itself).

    >>> import sqlalchemy, tempfile
    >>> engine = sqlalchemy.create_engine("sqlite:///" + tempfile.mkdtemp() + "/s.db")
    >>> wrap_engine(engine).backend.load("wss:{x}") is None
    True
    >>> engine.dispose()  # (closes its SQLite connection)
    """
    if not is_sql_engine(engine):
        raise TypeError(f"expected a sqlalchemy Engine, not {type(engine).__name__}")
    prepare_engine(engine)
    autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
    return SqlCache(autocommit, table_prefix=table_prefix)
