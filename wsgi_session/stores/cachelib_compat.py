"""Every use of cachelib beyond its documented API, in one place.

Supported: cachelib ``>=0.13,<0.18`` (:data:`SUPPORTED`, pinned in
``setup.cfg``; CI runs the store tests with the oldest and the newest).

The backends need a few things cachelib keeps private: the clients inside a
``RedisCache`` / ``MemcachedCache``, the key prefix and key normalisation,
a ``FileSystemCache``'s file names, directory, mode, item counter and
pruning. They get them here, once, when they are built (bound methods and
values, so no call pays for the indirection). The two cache classes of the
package (``memory://``, ``file://``) change cachelib's eviction and expiry
through :class:`SimpleCacheHooks` and :class:`FileCacheHooks`, which turn
cachelib's private hooks into public override points::

    >>> from cachelib import SimpleCache
    >>> cache = SimpleCache(threshold=7)
    >>> threshold(cache)
    7
    >>> key_normalizer(SimpleCache())("k")
    'k'
"""

from __future__ import annotations

import datetime as dt
import typing as t
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext, suppress

from cachelib.base import BaseCache
from cachelib.file import FileSystemCache
from cachelib.simple import SimpleCache

from .requirements import RANGES

__all__ = [
    "SUPPORTED",
    "FileCacheHooks",
    "FileLayout",
    "SimpleCacheHooks",
    "client_context",
    "close",
    "file_layout",
    "key_normalizer",
    "prefix_of",
    "recount_files",
    "redis_clients",
    "set_client_context",
    "threshold",
]

#: The cachelib versions this module is written and tested for.
SUPPORTED = RANGES["cachelib"]


def redis_clients(cache: t.Any) -> tuple[t.Any, t.Any]:
    """``(write client, read client)`` of a ``RedisCache`` (often the same).

    >>> from cachelib import RedisCache
    >>> write, read = redis_clients(RedisCache(host="127.0.0.1"))  # not connected yet
    >>> write is read, type(write).__name__
    (True, 'Redis')
    """
    return cache._write_client, cache._read_client


def prefix_of(cache: t.Any) -> Callable[[], str]:
    """The function giving the cache's key prefix now (it may be a callable).

    >>> from cachelib import RedisCache
    >>> prefix_of(RedisCache(key_prefix="app:"))()
    'app:'
    """
    return t.cast(Callable[[], str], cache._get_prefix)


def key_normalizer(cache: t.Any) -> Callable[[str], str]:
    """The function a ``MemcachedCache`` applies to keys (prefix, length).

    Other caches leave keys as they are.

    >>> from cachelib import MemcachedCache
    >>> key_normalizer(MemcachedCache(["127.0.0.1:11211"], key_prefix="app:"))("k")
    'app:k'
    """
    normalize = getattr(cache, "_normalize_key", None)
    return t.cast(Callable[[str], str], normalize or str)


def client_context(cache: t.Any) -> Callable[[], AbstractContextManager[t.Any]]:
    """The ``MemcachedCache``'s "borrow a client" context manager factory.

    (cachelib < 0.14 has none: its one client is lent as it is.)

    >>> from cachelib import MemcachedCache
    >>> borrow = client_context(MemcachedCache(["127.0.0.1:11211"]))
    >>> with borrow() as client:  # no command is sent: nothing connects
    ...     callable(client.get_multi)
    True
    """
    borrow = getattr(cache, "_client_context", None)
    if borrow is None:
        client = cache._client
        return lambda: nullcontext(client)
    return t.cast(Callable[[], AbstractContextManager[t.Any]], borrow)


def set_client_context(
    cache: t.Any, factory: Callable[[], AbstractContextManager[t.Any]]
) -> None:
    """Make a ``MemcachedCache`` borrow clients from ``factory`` (a pylibmc pool).

    >>> from cachelib import MemcachedCache
    >>> cache = MemcachedCache(["127.0.0.1:11211"])
    >>> set_client_context(cache, lambda: nullcontext("a pooled client"))
    >>> with client_context(cache)() as client:
    ...     client
    'a pooled client'
    """
    cache._client_context = factory


def threshold(cache: t.Any) -> int:
    """The maximum number of entries of a SimpleCache / FileSystemCache.

    >>> threshold(SimpleCache(threshold=7)), threshold(SimpleCache())
    (7, 500)
    """
    return int(cache._threshold)


def recount_files(cache: FileSystemCache) -> None:
    """Rewrite a FileSystemCache's item counter from the files present.

    >>> import os, tempfile
    >>> cache = FileCacheHooks(tempfile.mkdtemp(), threshold=5)
    >>> cache.set("a", 1) and cache.set("b", 2)
    True
    >>> os.remove(next(cache.session_files())); cache.file_count()  # stale
    2
    >>> recount_files(cache); cache.file_count()
    1
    """
    if cache._threshold:
        cache._update_count(value=len(list(cache._list_dir())))


def close(cache: object) -> None:
    """Close the connections a cache's client opened (best effort).

    A cache with a public ``close()`` method of its own (the SQL store)
    is closed by it.

    >>> close(SimpleCache())  # nothing to close
    """
    own = getattr(cache, "close", None)
    if callable(own):
        with suppress(Exception):  # closing is best effort
            own()
        return
    for name in ("_write_client", "_read_client", "_client"):
        client = getattr(cache, name, None)
        for method in ("close", "disconnect_all"):
            shut = getattr(client, method, None)
            if callable(shut):
                with suppress(Exception):  # closing is best effort
                    shut()
                break


class FileLayout(t.NamedTuple):
    """Where and how a FileSystemCache keeps its files.

    >>> import os, tempfile
    >>> layout = file_layout(FileSystemCache(tempfile.mkdtemp()))
    >>> os.path.dirname(layout.filename("k")) == layout.directory, oct(layout.mode)
    (True, '0o600')
    """

    #: The file name of a key.
    filename: Callable[[str], str]
    #: The cache directory.
    directory: str
    #: The mode of new files.
    mode: int
    #: The suffix that makes cachelib ignore a file (neither counted nor pruned).
    suffix: str
    #: Evict entries if over the threshold (cachelib's rule).
    prune: Callable[[], None]
    #: ``update_count(delta)``: change the item counter.
    update_count: Callable[[int], None]


def file_layout(cache: FileSystemCache) -> FileLayout:
    """The :class:`FileLayout` of ``cache``, bound once.

    >>> import tempfile
    >>> layout = file_layout(FileSystemCache(tempfile.mkdtemp(), mode=0o640))
    >>> layout.mode == 0o640, layout.suffix
    (True, '.__wz_cache')
    """

    def update_count(delta: int) -> None:
        cache._update_count(delta=delta)

    return FileLayout(
        cache._get_filename,
        cache._path,
        cache._mode or 0o600,
        cache._fs_transaction_suffix,
        cache._prune,
        update_count,
    )


class SimpleCacheHooks(SimpleCache):
    """SimpleCache with its private hooks as public override points.

    Override :meth:`expiry`, :meth:`remove_expired` and :meth:`evict`;
    :attr:`entries` is the dict of ``key -> (expires, value)`` itself.

    >>> cache = SimpleCacheHooks(threshold=2)
    >>> cache.set("k", b"v"), list(cache.entries), cache.threshold
    (True, ['k'], 2)
    """

    def __init__(
        self, threshold: int = 500, default_timeout: int | dt.timedelta = 300
    ) -> None:
        super().__init__(threshold=threshold, default_timeout=default_timeout)
        #: ``key -> (expires, value)``; expires is a unix time, 0 = never.
        self.entries: dict[str, tuple[float, t.Any]] = self._cache
        #: The maximum number of entries before eviction.
        self.threshold: int = self._threshold

    def over_threshold(self) -> bool:
        """True when there are more entries than the threshold."""
        return bool(self._over_threshold())

    def prune(self) -> None:
        """Remove expired entries, then evict, while over the threshold."""
        self._prune()

    def expiry(self, seconds: int) -> int:
        """The ``expires`` stored for a timeout of ``seconds`` (0 = never)."""
        return int(SimpleCache._normalize_timeout(self, seconds))

    def remove_expired(self, now: float) -> None:
        """Drop entries that expired before ``now`` (cachelib's rule)."""
        SimpleCache._remove_expired(self, now)

    def evict(self) -> None:
        """Drop entries until within the threshold (cachelib's rule)."""
        SimpleCache._remove_older(self)

    def _normalize_timeout(self, timeout: int | dt.timedelta | None) -> int:
        return self.expiry(int(BaseCache._normalize_timeout(self, timeout)))

    def _remove_expired(self, now: float) -> None:
        self.remove_expired(now)

    def _remove_older(self) -> None:
        self.evict()


class FileCacheHooks(FileSystemCache):
    """FileSystemCache with its private hooks as public override points.

    Override :meth:`expiry` and :meth:`evict`; :meth:`session_files` lists
    the entries' files (not cachelib's own).

    >>> import tempfile
    >>> cache = FileCacheHooks(tempfile.mkdtemp(), threshold=5)
    >>> cache.threshold, list(cache.session_files())
    (5, [])
    """

    def __init__(
        self,
        cache_dir: str,
        threshold: int = 500,
        default_timeout: int = 300,
        mode: int = 0o600,
    ) -> None:
        super().__init__(
            cache_dir, threshold=threshold, default_timeout=default_timeout, mode=mode
        )
        #: The maximum number of entries before eviction.
        self.threshold: int = self._threshold

    @property
    def _file_count(self) -> int:
        return self.file_count()

    def file_count(self) -> int:
        """The item counter (recounted from the files if it is unreadable)."""
        value = self.get(self._fs_count_file)
        if type(value) is int:
            return value
        return len(list(self._list_dir())) if value is not None else 0

    def session_files(self) -> Iterator[str]:
        """Paths of the entries' files (cachelib's counter and temp files left out)."""
        return iter(self._list_dir())

    def over_threshold(self) -> bool:
        """True when there are more entries than the threshold."""
        return bool(self._over_threshold())

    def count_removed(self) -> None:
        """Tell the item counter one entry's file was removed."""
        self._update_count(delta=-1)

    def expiry(self, seconds: int) -> int:
        """The expiry header written for a timeout of ``seconds`` (0 = never)."""
        return int(FileSystemCache._normalize_timeout(self, seconds))

    def evict(self) -> bool:
        """Remove files until within the threshold (cachelib's rule)."""
        return bool(FileSystemCache._remove_older(self))

    def _normalize_timeout(self, timeout: int | dt.timedelta | None) -> int:
        return self.expiry(int(BaseCache._normalize_timeout(self, timeout)))

    def _remove_older(self) -> bool:
        return self.evict()
