"""The record algorithm shared by every backend that stores one framed value.

:class:`FramedBackend` implements the :class:`~wsgi_session.stores.base.Backend`
protocol on top of five small primitives (read, write, add, remove, and a short
per-key mutex). The memory, file, memcached and generic backends only supply
those primitives; this module owns the semantics (GONE, EMPTIED, no
resurrection, lock tokens) so they are written once. Primitives report each
store access through ``self._on_access()``: a no-op unless the backend is
observed (:meth:`~FramedBackend.observe`, used by
:mod:`~wsgi_session.stores.instrument`).
"""

from __future__ import annotations

import abc
import secrets
import time
import typing as t
from collections.abc import Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager

from .base import (
    Record,
    SaveResult,
    apply_changes,
    check_ttl,
    decode_record,
    encode_record,
    lock_seconds,
    poll_until,
)
from .instrument import Observer, ignore

__all__ = ["FramedBackend"]

# Enum member lookups cost about 50 ns each on Python 3.11 (a merge made two
# on every write request); the saves return these module constants instead.
_SAVED, _GONE, _EMPTIED = SaveResult.SAVED, SaveResult.GONE, SaveResult.EMPTIED


class _Loaded(t.NamedTuple):
    """:attr:`Record.token` of a framed load: the stored value and its fields."""

    data: object
    fields: dict[str, bytes]


class FramedBackend(abc.ABC):
    """Base class: the Backend protocol over one framed value per session.

    Subclasses implement ``_read``, ``_write``, ``_add``, ``_remove`` and
    ``_mutex`` (each call of ``self._on_access()`` in them is one store
    access); the lock defaults to an ``add``-based lock (atomic with its
    expiry wherever the store's ``add`` is).

    >>> from wsgi_session.stores import backend_for, open_store
    >>> backend = backend_for(open_store("memory://"))
    >>> backend.create("wss:{k}", b"meta", {"a": b"1"}, 60)
    True
    >>> backend.merge("wss:{k}", b"meta2", {"b": b"2"}, ["a"], 60)
    <SaveResult.SAVED: 'saved'>
    >>> backend.load("wss:{k}").fields
    {'b': b'2'}
    """

    #: Suffix of the key of the session lock (:meth:`lock`).
    lock_suffix = ":lock"
    #: Suffix of the key of the short internal lock guarding read-modify-write.
    mutex_suffix = ":mlock"
    #: Seconds to wait for the internal mutex before giving up.
    mutex_timeout = 10.0
    #: Seconds after which an internal mutex whose holder died is broken (it
    #: guards a read-modify-write of milliseconds: a dead worker's mutex must
    #: not stall the session for long).
    mutex_ttl = 2.0
    #: Seconds added to lock expiries: stores that count expiry in whole
    #: seconds of their own clock (memcached) may expire an item up to 1s early.
    expiry_slack = 1

    def __init__(self) -> None:
        self._on_access: Observer = ignore

    def observe(self, on_access: Observer) -> Observer:
        """Call ``on_access`` once per store access; return the previous observer."""
        previous, self._on_access = self._on_access, on_access
        return previous

    # -- primitives -------------------------------------------------------

    @abc.abstractmethod
    def _read(self, key: str) -> tuple[bytes | None, object]:
        """Return ``(value, token)``; ``value`` is ``None`` if absent."""

    @abc.abstractmethod
    def _write(self, key: str, value: bytes, ttl: int) -> None:
        """Store ``value`` unconditionally; raise StoreUnavailable if refused.

        ``ttl`` (here and in :meth:`_add`) is whole seconds, 0 for no expiry,
        already validated by the caller (:func:`~.base.check_ttl`).
        """

    @abc.abstractmethod
    def _add(self, key: str, value: bytes, ttl: int) -> bool:
        """Store ``value`` only if ``key`` is absent; ``False`` if present."""

    @abc.abstractmethod
    def _remove(self, key: str) -> bool:
        """Delete ``key``; ``True`` if something was deleted."""

    def _mutex(self, key: str) -> AbstractContextManager[None]:
        """Guard one read-modify-write of ``key`` (default: an add-based lock)."""
        return self._add_lock(
            key + self.mutex_suffix, self.mutex_timeout, self.mutex_ttl
        )

    def _pack(self, meta: bytes, fields: Mapping[str, bytes]) -> t.Any:
        """The value stored for a record (default: framed bytes)."""
        return encode_record(meta, fields)

    def _unpack(self, data: t.Any) -> tuple[bytes, dict[str, bytes]]:
        """Inverse of :meth:`_pack`; ``ValueError`` when ``data`` is corrupt."""
        return decode_record(data)

    # -- the protocol -----------------------------------------------------

    def _record(self, data: bytes | None, token: object) -> Record | None:
        if data is None:
            return None
        meta, fields = self._unpack(data)
        if not fields:  # a record without fields has been emptied: it is gone
            return None
        return Record(meta, fields, token)

    def load(self, key: str) -> Record | None:
        """Return the stored record, or ``None``; ``ValueError`` if corrupt.

        Its token keeps the stored value, so that a merge finding the same
        value under its mutex reuses the fields instead of decoding them again.
        """
        data, token = self._read(key)
        record = self._record(data, token)
        if record is not None and token is None:
            record.token = _Loaded(data, record.fields)
        return record

    def _current_fields(self, key: str, token: object) -> dict[str, bytes] | None:
        """The stored fields (``None``: gone); ``token`` from :meth:`load`."""
        data, _ = self._read(key)
        if data is None:
            return None
        if type(token) is _Loaded and token.data == data:  # unchanged since
            return token.fields
        record = self._record(data, None)
        return None if record is None else record.fields

    def create(self, key: str, meta: bytes, fields: dict[str, bytes], ttl: int) -> bool:
        """Store a new record if ``key`` is absent; ``False`` if it exists."""
        check_ttl(ttl)
        if not fields:
            raise ValueError("a new record needs at least one field")
        return self._add(key, self._pack(meta, fields), ttl)

    def merge(
        self,
        key: str,
        meta: bytes,
        set_fields: Mapping[str, bytes],
        del_fields: Iterable[str],
        ttl: int,
        *,
        token: object = None,
    ) -> SaveResult:
        """Apply set/delete onto the newest stored version, under the mutex."""
        check_ttl(ttl)
        with self._mutex(key):
            current = self._current_fields(key, token)
            if current is None:
                return _GONE
            fields = apply_changes(current, set_fields, del_fields)
            if not fields:
                self._remove(key)
                return _EMPTIED
            self._write(key, self._pack(meta, fields), ttl)
            return _SAVED

    def replace(
        self, key: str, meta: bytes, fields: dict[str, bytes], ttl: int
    ) -> SaveResult:
        """Overwrite an existing record; GONE if it no longer exists."""
        check_ttl(ttl)
        with self._mutex(key):
            if self._read(key)[0] is None:
                return _GONE
            if not fields:
                self._remove(key)
                return _EMPTIED
            self._write(key, self._pack(meta, fields), ttl)
            return _SAVED

    def touch(self, key: str, meta: bytes, ttl: int) -> bool:
        """Replace ``meta`` and refresh the TTL; ``False`` if the record is gone."""
        check_ttl(ttl)
        with self._mutex(key):
            record = self.load(key)
            if record is None:
                return False
            self._write(key, self._pack(meta, record.fields), ttl)
            return True

    def delete(self, key: str) -> None:
        """Delete the record (no error if it does not exist)."""
        with self._mutex(key):
            self._remove(key)

    def lock(
        self, key: str, timeout: float, ttl: float
    ) -> AbstractContextManager[None]:
        """Exclusive session lock: wait up to ``timeout``, expires after ``ttl``."""
        return self._add_lock(key + self.lock_suffix, timeout, ttl)

    # -- helpers ----------------------------------------------------------

    @contextmanager
    def _add_lock(self, lock_key: str, timeout: float, ttl: float) -> Iterator[None]:
        """A lock made of ``add(lock_key, token, expiry)`` and a token compare."""
        token = secrets.token_hex(16).encode("ascii")
        seconds = lock_seconds(ttl) + self.expiry_slack
        poll_until(lambda: self._add(lock_key, token, seconds), timeout)
        acquired = time.monotonic()
        try:
            yield
        finally:
            # The lock lives at least seconds - 1; past that it may already
            # belong to someone else, so leave it to expire instead.
            fresh = time.monotonic() - acquired < seconds - 1
            if fresh and self._read(lock_key)[0] == token:
                self._remove(lock_key)
