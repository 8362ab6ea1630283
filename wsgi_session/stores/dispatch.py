"""Pick the session backend for a cachelib cache instance.

:func:`backend_for` returns one shared backend per cache instance (so its
scripts, locks and observers are shared too)::

    >>> from wsgi_session.stores.urls import open_store
    >>> cache = open_store("memory://")
    >>> backend_for(cache) is backend_for(cache)
    True
"""

from __future__ import annotations

import threading
import weakref

from cachelib.base import BaseCache
from cachelib.file import FileSystemCache
from cachelib.memcached import MemcachedCache
from cachelib.redis import RedisCache
from cachelib.simple import SimpleCache

from .base import Backend
from .cachelib_compat import client_context
from .sql_ref import sql_backend

__all__ = ["backend_for", "is_in_memory"]

_backends: weakref.WeakKeyDictionary[BaseCache, Backend] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def _build(cache: BaseCache) -> Backend:
    sql = sql_backend(cache)
    if sql is not None:
        return sql
    if isinstance(cache, RedisCache):
        from .redis import RedisBackend

        return RedisBackend(cache)
    if isinstance(cache, MemcachedCache):
        from .memcache_compat import is_python_memcached

        with client_context(cache)() as client:
            modules = [cls.__module__ for cls in type(client).__mro__]
        if is_python_memcached(client) or "pylibmc.client" in modules:
            from .memcached import MemcachedBackend

            return MemcachedBackend(cache)
    if isinstance(cache, FileSystemCache):
        from .file import FileBackend

        return FileBackend(cache)
    if isinstance(cache, SimpleCache):
        from .memory import MemoryBackend

        return MemoryBackend(cache)
    from .generic import GenericBackend

    return GenericBackend(cache)


def backend_for(cache: BaseCache) -> Backend:
    """Return the Backend for ``cache`` (after :func:`prepare_store` on it).

    Redis, Memcached (python-memcached or pylibmc), filesystem and in-memory
    caches get their atomic backend; any other cache the add-locked
    :class:`~wsgi_session.stores.generic.GenericBackend`.

    >>> from cachelib import SimpleCache
    >>> type(backend_for(SimpleCache())).__name__
    'MemoryBackend'
    """
    with _lock:
        backend = _backends.get(cache)
        if backend is None:
            backend = _backends[cache] = _build(cache)
        return backend


def is_in_memory(cache: BaseCache) -> bool:
    """True if sessions in ``cache`` live in this process only.

    >>> from cachelib import SimpleCache
    >>> is_in_memory(SimpleCache())
    True
    """
    return isinstance(cache, SimpleCache)
