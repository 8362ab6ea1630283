"""The in-process store: ``memory://`` and the backend over cachelib's SimpleCache.

Sessions live in one process only (use Redis or Memcached to share them
between workers). :class:`MemoryCache` raises cachelib's threshold of 500 to
100,000 and logs one warning when it has to evict a live session::

    >>> cache = MemoryCache(threshold=10_000)
    >>> backend = MemoryBackend(cache)
    >>> backend.create("wss:{a}", b"m", {"x": b"1"}, 60)
    True
"""

from __future__ import annotations

import datetime as dt
import math
import secrets
import threading
import time
import typing as t
import weakref
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager

from cachelib.base import BaseCache
from cachelib.simple import SimpleCache

from ..errors import LockTimeout, StoreUnavailable
from .base import DEFAULT_THRESHOLD, check_ttl, warn_eviction
from .framed import FramedBackend
from .serializer import RawSerializer, prepare_store

__all__ = ["MemoryBackend", "MemoryCache"]


class MemoryRecord(t.NamedTuple):
    """A record kept as objects in :class:`MemoryCache` (no framing, no copying).

    Its field dict is never mutated after it is stored: every change builds a
    new one.
    """

    meta: bytes
    fields: dict[str, bytes]


class _MemorySerializer(RawSerializer):
    """RawSerializer that also keeps :class:`MemoryRecord` objects as they are."""

    def dumps(self, value: t.Any, protocol: int = 0) -> t.Any:
        if type(value) is MemoryRecord:
            return value
        return super().dumps(value)

    def loads(self, bvalue: t.Any) -> t.Any:
        if type(bvalue) is MemoryRecord:
            return bvalue
        return super().loads(bvalue)


class MemoryCache(SimpleCache):
    """cachelib's SimpleCache for sessions: big threshold, warns on live eviction.

    Entries never expire before their TTL (expiry is rounded up, not down),
    and entries without expiry are evicted last, not first.

    >>> MemoryCache()._threshold
    100000
    """

    serializer = _MemorySerializer()  # type: ignore[assignment]  # no pickle

    def __init__(
        self, threshold: int = DEFAULT_THRESHOLD, default_timeout: int = 300
    ) -> None:
        super().__init__(threshold=threshold, default_timeout=default_timeout)
        self._eviction_warned = False

    def _normalize_timeout(self, timeout: int | dt.timedelta | None) -> int:
        seconds = BaseCache._normalize_timeout(self, timeout)
        return math.ceil(time.time() + seconds) if seconds > 0 else seconds

    def _remove_expired(self, now: float) -> None:
        # cachelib's version also drops entries without expiry (0 < now).
        for key in [k for k, (exp, _) in self._cache.items() if 0 < exp < now]:
            self._cache.pop(key, None)

    def _remove_older(self) -> None:
        # Called by _prune only after expired entries are gone: whatever is
        # removed here had not expired.
        def expiry(item: tuple[str, tuple[float, object]]) -> float:
            return item[1][0] or math.inf

        evicted = False
        for key, _ in sorted(self._cache.items(), key=expiry):
            if not self._over_threshold():
                break
            self._cache.pop(key, None)
            evicted = True
        if evicted:
            warn_eviction(self, "memory")


class _MemoryState:
    """Locks shared by every backend over one SimpleCache instance."""

    def __init__(self) -> None:
        self.mutex = threading.Lock()
        self.cond = threading.Condition()
        self.held: dict[str, tuple[str, float]] = {}


_states: weakref.WeakKeyDictionary[SimpleCache, _MemoryState] = (
    weakref.WeakKeyDictionary()
)
_states_lock = threading.Lock()


def _state_for(cache: SimpleCache) -> _MemoryState:
    with _states_lock:
        state = _states.get(cache)
        if state is None:
            state = _states[cache] = _MemoryState()
        return state


class MemoryBackend(FramedBackend):
    """The Backend protocol over a SimpleCache; a threading lock makes it atomic.

    ``round_trips`` counts cache reads and writes.

    >>> backend = MemoryBackend(MemoryCache())
    >>> with backend.lock("wss:{a}", timeout=1, ttl=5):
    ...     pass
    """

    def __init__(self, cache: SimpleCache) -> None:
        super().__init__()
        self.cache = prepare_store(cache)
        self._state = _state_for(cache)
        #: Our own MemoryCache keeps records as objects; any other
        #: SimpleCache gets framed bytes through the pickle-free serializer.
        self._objects = isinstance(cache.serializer, _MemorySerializer)

    def _pack(self, meta: bytes, fields: Mapping[str, bytes]) -> t.Any:
        if self._objects:
            return MemoryRecord(bytes(meta), dict(fields))
        return super()._pack(meta, fields)

    def _unpack(self, data: t.Any) -> tuple[bytes, dict[str, bytes]]:
        if type(data) is MemoryRecord:
            return data.meta, dict(data.fields)
        return super()._unpack(data)

    def _read(self, key: str) -> tuple[bytes | None, object]:
        self.round_trips += 1
        return self.cache.get(key), None

    def _write(self, key: str, value: bytes, ttl: int) -> None:
        self.round_trips += 1
        if not self.cache.set(key, value, timeout=check_ttl(ttl)):
            raise StoreUnavailable("the memory store refused the write")

    def _add(self, key: str, value: bytes, ttl: int) -> bool:
        self.round_trips += 1
        return bool(self.cache.add(key, value, timeout=check_ttl(ttl)))

    def _remove(self, key: str) -> bool:
        self.round_trips += 1
        return bool(self.cache.delete(key))

    def _mutex(self, key: str) -> AbstractContextManager[None]:
        return t.cast(AbstractContextManager[None], self._state.mutex)

    def lock(
        self, key: str, timeout: float, ttl: float
    ) -> AbstractContextManager[None]:
        """Exclusive in-process session lock; expires after ``ttl`` seconds."""
        return self._lock(key, timeout, ttl)

    @contextmanager
    def _lock(self, key: str, timeout: float, ttl: float) -> Iterator[None]:
        token = secrets.token_hex(8)
        state = self._state
        deadline = time.monotonic() + timeout
        with state.cond:
            while True:
                now = time.monotonic()
                holder = state.held.get(key)
                if holder is None or holder[1] <= now:
                    state.held[key] = (token, now + ttl)
                    break
                if now >= deadline:
                    raise LockTimeout(f"could not lock the session within {timeout:g}s")
                state.cond.wait(min(deadline, holder[1]) - now)
        try:
            yield
        finally:
            with state.cond:
                if state.held.get(key, ("",))[0] == token:
                    del state.held[key]
                # forget locks whose holder never released them
                now = time.monotonic()
                for stale in [k for k, v in state.held.items() if v[1] <= now]:
                    del state.held[stale]
                state.cond.notify_all()
