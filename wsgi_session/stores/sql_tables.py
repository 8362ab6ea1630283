"""Creating the SQL store's tables on first use, and refusing an earlier layout.

:func:`create_tables` runs :meth:`~.sql_schema.SqlSchema.ddl` (``CREATE …
IF NOT EXISTS``, safe when several processes start at once) after checking
that existing tables are of this layout: the tables of the development versions
before the metadata moved into a field row (a ``meta`` column in the
session table) are refused with a logged error, never dropped.

    >>> import tempfile
    >>> from wsgi_session.stores.sql_engine import create_sql_engine
    >>> from wsgi_session.stores.sql_schema import SqlSchema
    >>> engine = create_sql_engine("sqlite:///" + tempfile.mkdtemp() + "/s.db")
    >>> create_tables(engine, SqlSchema()); create_tables(engine, SqlSchema())
    >>> engine.dispose()  # (closes its SQLite connection)
"""

from __future__ import annotations

import time

import sqlalchemy as sa
from sqlalchemy import exc
from sqlalchemy.engine import Engine

from ..errors import StoreUnavailable
from .base import logger
from .sql_schema import SqlSchema

__all__ = ["ATTEMPTS", "create_tables", "error_message"]

#: Attempts of one operation when the database reports a deadlock, a
#: serialization failure or a dead pooled connection.
ATTEMPTS = 3


def create_tables(engine: Engine, schema: SqlSchema) -> None:
    """Create the tables if missing (safe when several processes race).

    StoreUnavailable when that fails or the tables are of an earlier layout.

    >>> import tempfile
    >>> from wsgi_session.stores.sql_engine import create_sql_engine
    >>> engine = create_sql_engine("sqlite:///" + tempfile.mkdtemp() + "/s.db")
    >>> with engine.begin() as conn:  # a session table with a meta column
    ...     _ = conn.exec_driver_sql("CREATE TABLE wsgi_session_sessions (meta BLOB)")
    >>> create_tables(engine, SqlSchema())
    Traceback (most recent call last):
    ...
    wsgi_session.errors.StoreUnavailable: the SQL session table ... earlier ...
    >>> engine.dispose()
    """
    statements = schema.ddl(engine.dialect)
    mysql = engine.dialect.name in ("mysql", "mariadb")
    _check_layout(engine, schema)
    for attempt in range(ATTEMPTS):
        try:
            with engine.connect() as conn:
                for statement in statements:
                    try:
                        conn.exec_driver_sql(statement)
                    except exc.DBAPIError as error:
                        # MySQL has no CREATE INDEX IF NOT EXISTS: 1061 is
                        # "duplicate key name", the index is there.
                        if not (mysql and "1061" in str(error.orig)):
                            raise
        except exc.SQLAlchemyError as error:
            # Two processes creating the same table at once can collide
            # (PostgreSQL: a duplicate pg_type row); the next try sees it.
            if attempt + 1 < ATTEMPTS:
                time.sleep(0.05 * (attempt + 1))
                continue
            raise StoreUnavailable(
                f"cannot create the SQL session tables: {error_message(error)}",
                original=error,
            ) from error
        return


def _check_layout(engine: Engine, schema: SqlSchema) -> None:
    """Refuse tables of the earlier layout (metadata in the session row,
    before the first release): a logged error and StoreUnavailable on every
    use until they are dropped (their sessions are lost) or another
    ``table_prefix`` is chosen. Nothing is dropped automatically."""
    name = schema.sessions.name
    try:
        with engine.connect() as conn:
            columns = {column["name"] for column in sa.inspect(conn).get_columns(name)}
    except exc.NoSuchTableError:
        return  # created next
    except exc.SQLAlchemyError as error:
        raise StoreUnavailable(
            f"cannot inspect the SQL session tables: {error_message(error)}",
            original=error,
        ) from error
    if "meta" in columns:
        message = (
            f"the SQL session table {name} has the layout of an earlier "
            "development version (a meta column); drop the tables "
            f"{', '.join(schema.table_names)} (their sessions are lost) "
            "or choose another table_prefix"
        )
        logger.error("%s", message)
        raise StoreUnavailable(message)


def error_message(error: exc.SQLAlchemyError) -> str:
    """The driver's message (never the statement's parameters: session data).

    >>> import sqlite3
    >>> driver_error = sqlite3.IntegrityError("UNIQUE constraint failed: s.id")
    >>> error_message(exc.IntegrityError("INSERT ...", {"v": b"secret"}, driver_error))
    'IntegrityError: UNIQUE constraint failed: s.id'
    """
    if isinstance(error, exc.DBAPIError) and error.orig is not None:
        return f"{type(error.orig).__name__}: {error.orig}".strip()
    return f"{type(error).__name__}: {error}"
