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

import math
import secrets
import threading
import time
import typing as t
import weakref
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager

from cachelib.simple import SimpleCache

from ..errors import LockTimeout, StoreUnavailable
from .base import (
    DEFAULT_THRESHOLD,
    Record,
    check_ttl,
    warn_eviction,
)
from .cachelib_compat import SimpleCacheHooks
from .framed import FramedBackend
from .serializer import RawSerializer, prepare_store

__all__ = ["MemoryBackend", "MemoryCache"]


class _MemorySerializer(RawSerializer):
    """RawSerializer that also keeps :class:`Record` objects as they are.

    :class:`MemoryCache` stores records as objects (no framing, no copying);
    a stored record's field dict is never changed: every change builds a new
    record.
    """

    def dumps(self, value: t.Any, protocol: int = 0) -> t.Any:
        if type(value) is Record:
            return value
        return super().dumps(value)

    def loads(self, bvalue: t.Any) -> t.Any:
        if type(bvalue) is Record:
            return bvalue
        return super().loads(bvalue)


class MemoryCache(SimpleCacheHooks):
    """cachelib's SimpleCache for sessions: big threshold, warns on live eviction.

    Entries never expire before their TTL (expiry is rounded up, not down),
    and entries without expiry are evicted last, not first.

    >>> MemoryCache().threshold
    100000
    """

    serializer = _MemorySerializer()  # type: ignore[assignment]  # no pickle

    def __init__(
        self, threshold: int = DEFAULT_THRESHOLD, default_timeout: int = 300
    ) -> None:
        super().__init__(threshold=threshold, default_timeout=default_timeout)
        #: True once the store warned that it evicts live sessions (logged once).
        self.eviction_warned = False

    def get_record(self, key: str) -> Record | None:
        """The :class:`Record` object stored under ``key``, if it is one and
        has not expired (what ``get`` returns, without the serializer's
        indirection: the load of every request goes through here).

        >>> cache = MemoryCache(); cache.set("k", Record(b"m", {"a": b"1"}))
        True
        >>> cache.get_record("k").fields, cache.get_record("missing")
        ({'a': b'1'}, None)
        """
        entry = self.entries.get(key)
        if entry is None:
            return None
        expires, value = entry
        if type(value) is not Record or (expires and expires <= time.time()):
            return None
        return value

    def set_record(self, key: str, record: Record, ttl: int) -> None:
        """Store ``record`` as it is under ``key`` for ``ttl`` seconds (0: no
        expiry): ``set`` without the serializer's indirection."""
        # What _normalize_timeout() gives for a whole number of seconds.
        expires = math.ceil(time.time() + ttl) if ttl > 0 else 0
        entries = self.entries
        if len(entries) > self.threshold:
            self.prune()
        entries[key] = (expires, record)

    def add_record(self, key: str, record: Record, ttl: int) -> bool:
        """Store ``record`` like :meth:`set_record` unless ``key`` holds a live
        entry (``False`` then): ``add`` without the serializer's indirection.

        >>> cache = MemoryCache()
        >>> cache.add_record("k", Record(b"m", {"a": b"1"}), 60)
        True
        >>> cache.add_record("k", Record(b"m", {"a": b"2"}), 60)
        False
        """
        entry = self.entries.get(key)
        if entry is not None and (not entry[0] or entry[0] > time.time()):
            return False
        self.set_record(key, record, ttl)
        return True

    def expiry(self, seconds: int) -> int:
        """Round up: an entry never expires before its TTL."""
        return math.ceil(time.time() + seconds) if seconds > 0 else seconds

    def remove_expired(self, now: float) -> None:
        """Drop expired entries (cachelib's version also drops those without
        expiry: 0 < now)."""
        entries = self.entries
        for key in [k for k, (exp, _) in entries.items() if 0 < exp < now]:
            entries.pop(key, None)

    def evict(self) -> None:
        """Evict the entries closest to expiry first (called only after the
        expired ones are gone: whatever goes here had not expired)."""

        def expiry(item: tuple[str, tuple[float, object]]) -> float:
            return item[1][0] or math.inf

        entries = self.entries
        evicted = False
        for key, _ in sorted(entries.items(), key=expiry):
            if not self.over_threshold():
                break
            entries.pop(key, None)
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

    Store accesses: cache reads and writes.

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
        self._memory = (
            cache
            if isinstance(cache, MemoryCache)
            and isinstance(cache.serializer, _MemorySerializer)
            else None
        )

    def _pack(self, meta: bytes, fields: Mapping[str, bytes]) -> t.Any:
        if self._memory is not None:
            return Record(bytes(meta), dict(fields))
        return super()._pack(meta, fields)

    def _unpack(self, data: t.Any) -> tuple[bytes, dict[str, bytes]]:
        if type(data) is Record:
            return data.meta, data.fields
        return super()._unpack(data)

    def load(self, key: str) -> Record | None:
        """The stored record itself (its fields must not be changed)."""
        if self._memory is not None:
            record = self._memory.get_record(key)
            if record is not None:
                self._on_access()
                return record if record.fields else None
        return super().load(key)

    def _current_fields(self, key: str, token: object) -> dict[str, bytes] | None:
        if self._memory is not None:  # the stored record itself: nothing to decode
            record = self._memory.get_record(key)
            if record is not None:
                self._on_access()
                return record.fields or None  # emptied: gone
        return super()._current_fields(key, token)

    def _read(self, key: str) -> tuple[bytes | None, object]:
        self._on_access()
        return self.cache.get(key), None

    def _write(self, key: str, value: t.Any, ttl: int) -> None:
        # ``value`` is what _pack made: a Record object for our MemoryCache.
        self._on_access()
        if self._memory is not None and type(value) is Record:
            self._memory.set_record(key, value, ttl)  # (checked by the caller)
        elif not self.cache.set(key, value, timeout=check_ttl(ttl)):
            raise StoreUnavailable("the memory store refused the write")

    def _add(self, key: str, value: t.Any, ttl: int) -> bool:
        self._on_access()
        if self._memory is not None and type(value) is Record:
            # The record object as it is, under the merges' mutex (cachelib's
            # ``add`` prunes, asks ``has`` and serializes first: about 9k of
            # 258k machine instructions per new session, callgrind).
            with self._state.mutex:
                return self._memory.add_record(key, value, ttl)
        return bool(self.cache.add(key, value, timeout=check_ttl(ttl)))

    def _remove(self, key: str) -> bool:
        self._on_access()
        return bool(self.cache.delete(key))

    def _mutex(self, key: str) -> AbstractContextManager[t.Any]:
        # The lock itself: ``t.cast(AbstractContextManager[None], ...)``
        # built that generic alias on every merge (about 1.6k of 151k
        # machine instructions per one-key write, callgrind).
        return self._state.mutex

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
