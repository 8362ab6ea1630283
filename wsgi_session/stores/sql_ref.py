"""Recognise SQL stores without importing SQLAlchemy (for URLs and dispatch).

SQLAlchemy is imported only by the SQL store modules; an Engine or a
:class:`~wsgi_session.stores.sql.SqlCache` can only exist once they are
imported, so looking in ``sys.modules`` is enough::

    >>> is_sql_engine("sqlite:///sessions.db")
    False
"""

from __future__ import annotations

import sys
import typing as t

if t.TYPE_CHECKING:  # pragma: no cover
    from .base import Backend

__all__ = ["is_sql_engine", "sql_backend"]


def is_sql_engine(obj: object) -> bool:
    """True if ``obj`` is a SQLAlchemy ``Engine``.

    >>> is_sql_engine(object())
    False
    """
    module = sys.modules.get("sqlalchemy.engine")
    return module is not None and isinstance(obj, module.Engine)


def sql_backend(cache: object) -> Backend | None:
    """The backend of a :class:`~wsgi_session.stores.sql.SqlCache`, else None.

    >>> sql_backend(object()) is None
    True
    """
    module = sys.modules.get(__package__ + ".sql")
    if module is not None and isinstance(cache, module.SqlCache):
        backend: Backend = cache.backend
        return backend
    return None
