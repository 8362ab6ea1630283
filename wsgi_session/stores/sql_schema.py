"""The SQL store's tables, their DDL, and the statements that differ per database.

Three tables, named by a prefix (default ``wsgi_session_``)::

    {prefix}sessions  key PK, expires_at (epoch ms, NULL = never)
    {prefix}fields    key FK -> sessions ON DELETE CASCADE, name, value;
                      PK (key, name); value NULL = a deleted field; the
                      row named META_NAME holds the session's metadata
    {prefix}locks     key PK, token, expires_at: leases of "lock" mode

A session field is one row, so a merge writes only the fields it changed,
and two requests changing different fields never overwrite each other.
Field names are stored as UTF-8 bytes (binary comparison on every database:
MySQL's default collations would make ``"a"`` equal ``"A "``). The
metadata is a field row too (named ``b"\\xff"``, which no UTF-8 name can be),
beside the session's other fields: a one-key save rewrites one b-tree page
on SQLite, where metadata in the session row made it three (that row, its
expiry index entry and the field).

    >>> schema = SqlSchema("app_")
    >>> [table.name for table in schema.metadata.sorted_tables]
    ['app_locks', 'app_sessions', 'app_fields']
"""

from __future__ import annotations

import re
import typing as t

import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.schema import CreateIndex, CreateTable

from ..errors import ConfigError

__all__ = ["DEFAULT_PREFIX", "META_NAME", "SqlSchema", "check_prefix"]

#: The default table name prefix.
DEFAULT_PREFIX = "wsgi_session_"

#: The name of the field row that holds a session's metadata: 0xFF never
#: occurs in UTF-8, so no field name can take it.
META_NAME = b"\xff"

_PREFIX = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,40}$")

# The parameters of one field row.
_FIELD_ROW: dict[str, t.Any] = {
    "key": sa.bindparam("k"),
    "name": sa.bindparam("n"),
    "value": sa.bindparam("v"),
}

# A store key: ASCII (``wss:{hash}``), compared byte for byte.
_KEY = sa.String(255).with_variant(
    mysql.VARCHAR(255, charset="ascii", collation="ascii_bin"), "mysql", "mariadb"
)
# A field name in UTF-8: part of the primary key, so bounded on MySQL
# (InnoDB keys are at most 3072 bytes: 255 + 2048 fits).
_NAME = sa.LargeBinary().with_variant(mysql.VARBINARY(2048), "mysql", "mariadb")
# Values: up to 4 GiB on MySQL (BLOB would stop at 64 KiB), 1 GiB on
# PostgreSQL (BYTEA), 1 GB on SQLite.
_VALUE = sa.LargeBinary().with_variant(mysql.LONGBLOB(), "mysql", "mariadb")


def check_prefix(prefix: str) -> str:
    """Validate a table name prefix (letters, digits, ``_``) and return it.

    >>> check_prefix("myapp_")
    'myapp_'
    >>> check_prefix("x; DROP TABLE users")
    Traceback (most recent call last):
    ...
    wsgi_session.errors.ConfigError: table_prefix must be letters, digits and _ ...
    """
    if not isinstance(prefix, str) or not _PREFIX.match(prefix):
        raise ConfigError(
            "table_prefix must be letters, digits and _ (at most 41, not starting "
            f"with a digit), not {prefix!r}",
            key="store",
        )
    return prefix


class SqlSchema:
    """The tables of one store (one prefix) and their dialect-specific statements.

    >>> schema = SqlSchema()
    >>> schema.sessions.name, schema.fields.name, schema.locks.name
    ('wsgi_session_sessions', 'wsgi_session_fields', 'wsgi_session_locks')
    """

    def __init__(self, prefix: str = DEFAULT_PREFIX) -> None:
        self.prefix = check_prefix(prefix)
        self.metadata = metadata = sa.MetaData()
        options: dict[str, t.Any] = {
            "mysql_engine": "InnoDB",
            "mariadb_engine": "InnoDB",
            # SQLite: the rows live in their primary key's b-tree (one
            # search per lookup, a session's fields side by side) instead
            # of a rowid table plus an index: a load costs about 13 % less
            # inside SQLite (callgrind, 4 fields, 2,000 sessions).
            "sqlite_with_rowid": False,
        }
        self.sessions = sa.Table(
            f"{prefix}sessions",
            metadata,
            sa.Column("key", _KEY, primary_key=True),
            sa.Column("expires_at", sa.BigInteger, nullable=True),
            sa.Index(f"{prefix}sessions_expires", "expires_at"),
            **options,
        )
        self.fields = sa.Table(
            f"{prefix}fields",
            metadata,
            sa.Column(
                "key",
                _KEY,
                sa.ForeignKey(self.sessions.c.key, ondelete="CASCADE"),
                primary_key=True,
            ),
            sa.Column("name", _NAME, primary_key=True),
            sa.Column("value", _VALUE, nullable=True),
            **options,
        )
        self.locks = sa.Table(
            f"{prefix}locks",
            metadata,
            sa.Column("key", _KEY, primary_key=True),
            sa.Column("token", sa.String(64), nullable=False),
            sa.Column("expires_at", sa.BigInteger, nullable=False),
            **options,
        )

    @property
    def table_names(self) -> tuple[str, ...]:
        """The names of the three tables.

        >>> SqlSchema("t_").table_names
        ('t_sessions', 't_fields', 't_locks')
        """
        return (self.sessions.name, self.fields.name, self.locks.name)

    def ddl(self, dialect: Dialect) -> list[str]:
        """The ``CREATE … IF NOT EXISTS`` statements, in order, for ``dialect``.

        MySQL (not MariaDB) has no ``CREATE INDEX IF NOT EXISTS``: its index
        statement is plain, and "already exists" is tolerated by the caller.

        >>> ddl = SqlSchema().ddl(sqlite.dialect())
        >>> print(ddl[0].strip().splitlines()[0])
        CREATE TABLE IF NOT EXISTS wsgi_session_sessions (
        >>> ddl[-1].split(" ON ")[0]
        'CREATE INDEX IF NOT EXISTS wsgi_session_sessions_expires'
        """
        statements: list[t.Any] = [
            CreateTable(table, if_not_exists=True)
            for table in (self.sessions, self.fields, self.locks)
        ]
        plain_mysql = dialect.name == "mysql" and not getattr(
            dialect, "is_mariadb", False
        )
        for index in sorted(self.sessions.indexes, key=lambda i: str(i.name)):
            statements.append(CreateIndex(index, if_not_exists=not plain_mysql))
        return [
            str(statement.compile(dialect=dialect)).strip() for statement in statements
        ]

    # -- statements that differ per database ---------------------------------

    def insert_session(self, dialect: Dialect) -> t.Any:
        """INSERT of a new session row that does nothing if the key exists
        (PostgreSQL, SQLite; it RETURNs the key when inserted: psycopg's row
        count of an INSERT is not reliable); a plain INSERT on MySQL (the
        caller catches the duplicate key: MySQL's upserts report an
        ambiguous row count)."""
        values: dict[str, t.Any] = {
            "key": sa.bindparam("k"),
            "expires_at": sa.bindparam("e"),
        }
        if dialect.name == "postgresql":
            return (
                postgresql.insert(self.sessions)
                .values(values)
                .on_conflict_do_nothing()
                .returning(self.sessions.c.key)
            )
        if dialect.name == "sqlite":
            return (
                sqlite.insert(self.sessions)
                .values(values)
                .on_conflict_do_nothing()
                .returning(self.sessions.c.key)
            )
        return sa.insert(self.sessions).values(values)

    def insert_field(self) -> t.Any:
        """INSERT of one field row (``k``, ``n``, ``v``); sent with
        ``executemany`` for several."""
        return sa.insert(self.fields).values(_FIELD_ROW)

    def upsert_field(self, dialect: Dialect) -> t.Any:
        """INSERT of one field row (``k``, ``n``, ``v``) that overwrites an
        existing name; sent with ``executemany`` for several."""
        fields = self.fields
        if dialect.name == "postgresql":
            pg = postgresql.insert(fields).values(_FIELD_ROW)
            return pg.on_conflict_do_update(
                index_elements=[fields.c.key, fields.c.name],
                set_={"value": pg.excluded.value},
            )
        if dialect.name == "sqlite":
            lite = sqlite.insert(fields).values(_FIELD_ROW)
            return lite.on_conflict_do_update(
                index_elements=[fields.c.key, fields.c.name],
                set_={"value": lite.excluded.value},
            )
        my = mysql.insert(fields).values(_FIELD_ROW)
        return my.on_duplicate_key_update(value=my.inserted.value)

    def upsert_if_alive(self, *, with_meta: bool = False) -> t.Any:
        """SQLite: the upsert of field ``n`` / ``v`` into session ``k``, done
        only while the session row is there and alive at ``now`` (its row
        count says which); with ``with_meta`` the metadata row ``m`` is
        upserted by the same statement. A single statement is a transaction
        of its own that takes the write lock when it starts, as BEGIN
        IMMEDIATE does, so the common one-key save needs no BEGIN / COMMIT
        and does not touch the session row or its expiry index: one b-tree
        page rewritten instead of three.

        >>> sql = str(SqlSchema().upsert_if_alive(with_meta=True).compile(
        ...     dialect=sqlite.dialect()))
        >>> sql.split()[:3], sql.count("WHERE EXISTS"), "UNION ALL" in sql
        (['INSERT', 'INTO', 'wsgi_session_fields'], 2, True)
        """
        fields, sessions = self.fields, self.sessions
        alive = sa.exists().where(
            sessions.c.key == sa.bindparam("k"),
            sa.or_(
                sessions.c.expires_at.is_(None),
                sessions.c.expires_at > sa.bindparam("now"),
            ),
        )
        binary = sa.LargeBinary

        def row(name: t.Any, value: t.Any) -> t.Any:
            return sa.select(sa.bindparam("k", type_=_KEY), name, value).where(alive)

        source = row(sa.bindparam("n", type_=binary), sa.bindparam("v", type_=binary))
        if with_meta:
            meta = row(sa.literal(META_NAME, binary), sa.bindparam("m", type_=binary))
            source = sa.union_all(meta, source)
        insert = sqlite.insert(fields).from_select(["key", "name", "value"], source)
        return insert.on_conflict_do_update(
            index_elements=[fields.c.key, fields.c.name],
            set_={"value": insert.excluded.value},
        )

    def merge_fields(self, session: t.Any, *, one: bool = False) -> t.Any:
        """PostgreSQL: ``session``, the UPDATE of the session row's expiry
        (or a ``SELECT … FOR NO KEY UPDATE`` of it, when the merge keeps
        the stored expiry), and the upsert of its
        metadata row and fields as ONE statement (no BEGIN / COMMIT round
        trips): the CTE RETURNs the session's key if the row was
        there and alive, and the INSERT takes its rows from that CTE joined
        with the arrays ``names`` / ``values`` (a NULL value = a deleted
        field; the caller puts the metadata row first), or with ``one`` the
        metadata ``m`` and the single field ``n`` / ``v`` (no arrays to build
        and unnest: the common one-key save costs about a third less, client
        and server). The INSERT reads the CTE, so the session row is locked
        before any field row, as in every other writer (a DELETE of the
        session waits for the lock, then takes the new fields with it). It
        returns a row per field written, none when the session is gone.

        >>> schema = SqlSchema()
        >>> update = sa.update(schema.sessions).values(expires_at=sa.bindparam("e"))
        >>> returning = update.returning(schema.sessions.c.key)
        >>> merge = schema.merge_fields(returning)
        >>> sql = str(merge.compile(dialect=postgresql.dialect()))
        >>> sql.split()[:3], "unnest(" in sql
        (['WITH', 'updated', 'AS'], True)
        """
        fields = self.fields
        updated = session.cte("updated")
        source: t.Any
        if one:
            source = sa.union_all(
                sa.select(
                    updated.c.key,
                    sa.literal(META_NAME, sa.LargeBinary),
                    sa.bindparam("m", type_=sa.LargeBinary),
                ),
                sa.select(
                    updated.c.key,
                    sa.bindparam("n", type_=sa.LargeBinary),
                    sa.bindparam("v", type_=sa.LargeBinary),
                ),
            )
        else:
            binary_array = postgresql.ARRAY(sa.LargeBinary)
            rows = (
                sa.func.unnest(
                    sa.bindparam("names", type_=binary_array),
                    sa.bindparam("values", type_=binary_array),
                )
                .table_valued("name", "value")
                .render_derived(name="changed")
            )
            source = sa.select(updated.c.key, rows.c.name, rows.c.value).select_from(
                updated, rows
            )
        insert = postgresql.insert(fields).from_select(["key", "name", "value"], source)
        return insert.on_conflict_do_update(
            index_elements=[fields.c.key, fields.c.name],
            set_={"value": insert.excluded.value},
        ).returning(fields.c.key)

    def touch_meta(self, update: t.Any) -> t.Any:
        """PostgreSQL: ``update`` of the session row and the UPDATE of its
        metadata row (``m``) as one statement, the session row first; it
        returns a row when both were there.

        >>> schema = SqlSchema()
        >>> update = sa.update(schema.sessions).values(expires_at=sa.bindparam("e"))
        >>> sql = str(schema.touch_meta(update).compile(dialect=postgresql.dialect()))
        >>> sql.split()[:3], sql.split()[-2:]
        (['WITH', 'updated', 'AS'], ['RETURNING', 'wsgi_session_fields.key'])
        """
        fields = self.fields
        updated = update.returning(self.sessions.c.key).cte("updated")
        return (
            sa.update(fields)
            .where(
                fields.c.key == updated.c.key,
                fields.c.name == sa.literal(META_NAME, sa.LargeBinary),
            )
            .values(value=sa.bindparam("m"))
            .returning(fields.c.key)
        )

    def take_lock(self, dialect: Dialect) -> t.Any:
        """Take a lease: insert it, or take over an expired one (one
        statement, RETURNING the key when taken) — PostgreSQL and SQLite. On MySQL
        a plain INSERT; :meth:`take_expired_lock` follows a duplicate key."""
        locks = self.locks
        values: dict[str, t.Any] = {
            "key": sa.bindparam("k"),
            "token": sa.bindparam("t"),
            "expires_at": sa.bindparam("e"),
        }
        if dialect.name in ("postgresql", "sqlite"):
            module = postgresql if dialect.name == "postgresql" else sqlite
            stmt = module.insert(locks).values(values)
            return stmt.on_conflict_do_update(
                index_elements=[locks.c.key],
                set_={
                    "token": stmt.excluded.token,
                    "expires_at": stmt.excluded.expires_at,
                },
                where=locks.c.expires_at <= sa.bindparam("now"),
            ).returning(locks.c.key)
        return sa.insert(locks).values(values)

    def take_expired_lock(self) -> t.Any:
        """UPDATE a lease that has expired to ours (row count 1 when taken)."""
        locks = self.locks
        return (
            sa.update(locks)
            .where(locks.c.key == sa.bindparam("k"))
            .where(locks.c.expires_at <= sa.bindparam("now"))
            .values(token=sa.bindparam("t"), expires_at=sa.bindparam("e"))
        )

    def delete_expired(self, dialect: Dialect, limit: int) -> t.Any:
        """DELETE at most ``limit`` expired sessions (their fields cascade),
        oldest first, so concurrent cleaners lock rows in the same order
        (PostgreSQL skips rows another cleaner holds)."""
        sessions = self.sessions
        expired = sessions.c.expires_at <= sa.bindparam("now")
        if dialect.name in ("mysql", "mariadb"):
            # MySQL refuses LIMIT in an IN subquery; DELETE … LIMIT walks the
            # expires_at index in order.
            return (
                sa.delete(sessions)
                .where(expired)
                .with_dialect_options(mysql_limit=limit, mariadb_limit=limit)
            )
        oldest = (
            sa.select(sessions.c.key)
            .where(expired)
            .order_by(sessions.c.expires_at)
            .limit(limit)
        )
        if dialect.name == "postgresql":
            oldest = oldest.with_for_update(skip_locked=True)
        return sa.delete(sessions).where(sessions.c.key.in_(oldest))
