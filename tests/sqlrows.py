"""Reading the SQL store's tables directly, for tests."""

from __future__ import annotations

import sqlalchemy as sa

from wsgi_session.stores.sql_backend import SqlBackend


def stored_expiry(backend: SqlBackend, key: str) -> int | None:
    """The ``expires_at`` of the session row ``key`` (ms since the epoch)."""
    table = backend.schema.sessions
    with backend.engine.connect() as conn:
        query = sa.select(table.c.expires_at).where(table.c.key == key)
        expiry: int | None = conn.execute(query).scalar_one()
    return expiry
