"""The SQL store's statements compiled once, and the DBAPI cursor that sends them.

SQLAlchemy Core builds every statement of the store (:mod:`.sql_schema`,
:mod:`.sql_backend`); :class:`Statement` compiles one once for the engine's
dialect, and :class:`Cursor` executes it on a DBAPI connection's cursor
(:mod:`.sql_run` says why not ``Connection.execute``, and where the
connections come from).

    >>> import sqlalchemy as sa
    >>> from sqlalchemy.dialects import sqlite
    >>> t = sa.table("t", sa.column("a"), sa.column("b"))
    >>> b, a = sa.bindparam("b"), sa.bindparam("a")
    >>> query = sa.select(t.c.a).where(t.c.b == b, t.c.a > a)
    >>> statement = Statement(query, sqlite.dialect())
    >>> statement.sql.splitlines()[-1]
    'WHERE t.b = ? AND t.a > ?'
    >>> statement.bind({"a": 1, "b": 2})
    [2, 1]
"""

from __future__ import annotations

import typing as t
from collections.abc import Iterable, Mapping, Sequence

from sqlalchemy import exc
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import ClauseElement

__all__ = ["Cursor", "Params", "Statement"]

Params = Mapping[str, t.Any]
_NO_PARAMS: Params = {}


class Statement:
    """A statement compiled for one dialect: its SQL and its parameters' order.

    ``statement`` is a Core construct with named ``bindparam()`` parameters,
    or SQL text without parameters (``BEGIN``).

    >>> from sqlalchemy.dialects import postgresql
    >>> Statement("COMMIT", postgresql.dialect()).sql
    'COMMIT'
    """

    __slots__ = ("fixed", "names", "positional", "sql")

    def __init__(self, statement: ClauseElement | str, dialect: Dialect) -> None:
        self.positional = bool(dialect.positional)
        #: Parameters the statement carries itself (``LIMIT 100``'s).
        self.fixed: dict[str, t.Any] = {}
        if isinstance(statement, str):
            self.sql = statement
            self.names: tuple[str, ...] = ()
            return
        compiled = statement.compile(dialect=dialect)
        self.sql = str(compiled)
        order = getattr(compiled, "positiontup", None) if self.positional else None
        self.names = tuple(order if order is not None else compiled.params)
        self.fixed = {
            name: value for name, value in compiled.params.items() if value is not None
        }

    def bind(self, params: Params) -> Sequence[t.Any] | Mapping[str, t.Any]:
        """The DBAPI parameters of a call: a list in placeholder order for
        positional paramstyles, else a dict of exactly the statement's names.

        >>> from sqlalchemy.dialects import postgresql
        >>> import sqlalchemy as sa
        >>> query = sa.select(sa.column("a")).where(sa.column("b") == sa.bindparam("b"))
        >>> Statement(query.limit(5), postgresql.dialect()).bind({"b": 2, "x": 0})
        {'b': 2, 'param_1': 5}
        """
        if self.fixed:
            params = {**self.fixed, **params}
        if self.positional:
            return [params[name] for name in self.names]
        return {name: params[name] for name in self.names}


class Cursor:
    """The statements of operations on one checked-out DBAPI connection.

    Each method executes a :class:`Statement` on the connection's one DBAPI
    cursor and raises SQLAlchemy's exception for a driver's (the connection
    is then marked for invalidation when the driver reports it dead). A
    connection the store keeps keeps its Cursor (and DBAPI cursor) too, for
    every operation on it; so every statement's rows are fetched (``rows``)
    or it returns none: an unfinished statement would stay open on SQLite.
    """

    __slots__ = ("_connection", "_cursor", "_dialect", "_error", "dead")

    def __init__(self, dbapi_connection: t.Any, dialect: Dialect) -> None:
        self._connection = dbapi_connection
        self._dialect = dialect
        self._error: type[Exception] = dialect.loaded_dbapi.Error
        self._cursor: t.Any = None
        #: The driver reported the connection dead (it must not be reused).
        self.dead: BaseException | None = None

    def _execute(self, statement: Statement, params: Params) -> t.Any:
        cursor = self._cursor
        try:
            if cursor is None:
                self._cursor = cursor = self._connection.cursor()
            if statement.names:
                cursor.execute(statement.sql, statement.bind(params))
            else:
                cursor.execute(statement.sql)
        except self._error as error:
            raise self._wrap(error, statement, cursor) from error
        return cursor

    def send(self, statement: Statement, params: Params = _NO_PARAMS) -> None:
        """Execute ``statement`` (nothing to fetch)."""
        self._execute(statement, params)

    def rows(self, statement: Statement, params: Params = _NO_PARAMS) -> list[t.Any]:
        """Execute ``statement`` and fetch all its rows."""
        cursor = self._execute(statement, params)
        try:
            rows: list[t.Any] = cursor.fetchall()
        except self._error as error:
            raise self._wrap(error, statement, cursor) from error
        return rows

    def count(self, statement: Statement, params: Params = _NO_PARAMS) -> int:
        """Execute ``statement``; return the number of rows it changed."""
        return int(self._execute(statement, params).rowcount)

    def execute_many(self, statement: Statement, rows: Iterable[Params]) -> None:
        """Execute ``statement`` once per parameter set (the drivers batch
        these: psycopg pipelines them, PyMySQL sends one multi-row INSERT)."""
        cursor = self._cursor
        try:
            if cursor is None:
                self._cursor = cursor = self._connection.cursor()
            cursor.executemany(statement.sql, [statement.bind(row) for row in rows])
        except self._error as error:
            raise self._wrap(error, statement, cursor) from error

    def close(self) -> None:
        """Close the DBAPI cursor (the connection stays open)."""
        cursor, self._cursor = self._cursor, None
        if cursor is not None:
            # (not contextlib.suppress: it costs more than the close itself)
            try:  # noqa: SIM105
                cursor.close()
            except self._error:  # a dead connection's cursor: nothing to free
                pass

    def _wrap(
        self, error: Exception, statement: Statement, cursor: t.Any
    ) -> exc.DBAPIError:
        dialect = self._dialect
        if self.dead is None and dialect.is_disconnect(
            t.cast(t.Any, error), self._connection, cursor
        ):
            self.dead = error
        wrapped = exc.DBAPIError.instance(
            statement.sql,
            None,  # never the parameters: they are session data
            error,
            self._error,
            hide_parameters=True,
            connection_invalidated=self.dead is not None,
            dialect=dialect,
        )
        assert isinstance(wrapped, exc.DBAPIError)
        return wrapped
