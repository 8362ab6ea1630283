"""The Memcached store: ``memcached://`` and a compare-and-set backend.

A session is one framed value. Reads use ``gets`` and keep the CAS id in
:attr:`Record.token`; a merge applies its change onto the version read and
writes it back with ``cas``, re-reading and retrying when another writer got
there first. The commands go through
:class:`~wsgi_session.stores.memcache_wire.Wire` (memcached's text protocol
on sockets of our own, to the servers a python-memcached client names) or
:class:`~wsgi_session.stores.memcache_pylibmc.PylibmcCommands`; both raise
:class:`~wsgi_session.errors.StoreUnavailable` for a dead server where
python-memcached itself would answer a silent "missing".

Clients built from URLs never unpickle: python-memcached gets an unpickler that
refuses (we only store bytes, which it never flags as pickled)::

    >>> cache = open_memcached_cache(["127.0.0.1:11211"], key_prefix="app:")
    >>> cache.key_prefix
    'app:'
"""

from __future__ import annotations

import random
import time
import typing as t
from collections.abc import Iterable, Mapping

from cachelib.memcached import MemcachedCache

from ..errors import StoreUnavailable
from . import memcache_compat as mc_compat
from .base import MissingClient, Record, SaveResult, check_ttl, encode_record
from .cachelib_compat import client_context, key_normalizer, set_client_context
from .cas import Snapshot, merge_by_cas
from .framed import FramedBackend
from .memcache_compat import RefusingUnpickler
from .memcache_pylibmc import PylibmcCommands, refusing_client_class
from .memcache_wire import Wire
from .requirements import install_hint
from .serializer import prepare_store

__all__ = [
    "DEFAULT_MAX_VALUE_LENGTH",
    "MemcachedBackend",
    "RefusingUnpickler",
    "open_memcached_cache",
]

#: Largest value we send: memcached's default item size is 1 MiB *including*
#: the key and item header, so a round 1,000,000 bytes leaves room for those.
DEFAULT_MAX_VALUE_LENGTH = 1_000_000
#: Memcached reads an expiry above 30 days as an absolute unix time.
_RELATIVE_LIMIT = 30 * 24 * 3600
#: How long an emptied record lingers (if the follow-up delete fails).
_TOMBSTONE_TTL = 60


def open_memcached_cache(
    servers: list[str],
    *,
    key_prefix: str | None = None,
    client: str = "memcache",
    socket_timeout: float = 3.0,
    dead_retry: float = 1.0,
    max_value_length: int = DEFAULT_MAX_VALUE_LENGTH,
) -> MemcachedCache:
    """Build a MemcachedCache over python-memcached (or pylibmc) for sessions.

    >>> backend = MemcachedBackend(open_memcached_cache(["127.0.0.1:11211"]))
    >>> backend.max_value_length
    1000000
    """
    if client == "pylibmc":
        try:
            import pylibmc
        except ImportError as exc:
            raise MissingClient(
                "store URL asks for client=pylibmc, which is not installed "
                f"({install_hint('pylibmc')})"
            ) from exc
        mc = refusing_client_class(pylibmc)(
            servers,
            binary=True,
            behaviors={
                "cas": True,
                "connect_timeout": int(socket_timeout * 1000),
                "receive_timeout": int(socket_timeout * 1_000_000),
                "send_timeout": int(socket_timeout * 1_000_000),
            },
        )
        cache = MemcachedCache(mc, key_prefix=key_prefix)
        set_client_context(cache, pylibmc.ThreadMappedPool(mc).reserve)
    else:
        try:
            import memcache  # noqa: F401
        except ImportError as exc:
            raise MissingClient(
                "memcached:// needs python-memcached "
                f"({install_hint('python-memcached')})"
            ) from exc
        mc = mc_compat.make_client(
            servers,
            socket_timeout=socket_timeout,
            dead_retry=dead_retry,
            max_value_length=max_value_length,
        )
        cache = MemcachedCache(mc, key_prefix=key_prefix)
    return prepare_store(cache)


def _pause() -> None:
    """After a CAS conflict: wait 0-2 ms so colliding writers spread out."""
    time.sleep(random.random() * 0.002)


def _exptime(ttl: int) -> int:
    """Memcached's expiry: seconds up to 30 days, an absolute time beyond."""
    return ttl if ttl <= _RELATIVE_LIMIT else int(time.time()) + ttl


class _Commands(t.Protocol):
    """What the backend sends commands to: a :class:`Wire` (python-memcached's
    servers) or :class:`PylibmcCommands`."""

    def gets(self, key: bytes) -> tuple[bytes | None, object]: ...

    def store(
        self, cmd: bytes, key: bytes, value: bytes, exptime: int, cas: object = None
    ) -> bool: ...

    def delete(self, key: bytes) -> bool: ...


class MemcachedBackend(FramedBackend):
    """The Backend protocol over memcached with ``gets`` / ``cas``.

    Round trips: load 1; merge 1 with the token of a current load (else 2);
    touch 2; create, replace, delete 1. A merge that empties the record
    writes a field-less record by CAS (the atomic "delete"), then deletes it.

    >>> backend = MemcachedBackend(open_memcached_cache(["127.0.0.1:11211"]))
    >>> backend.max_value_length
    1000000
    """

    #: Attempts of one merge / touch before giving up under contention.
    cas_retries = 32

    def __init__(self, cache: MemcachedCache) -> None:
        super().__init__()
        self.cache = prepare_store(cache)
        self._normalize = key_normalizer(cache)
        borrow = client_context(cache)
        with borrow() as client:
            limit = getattr(client, "server_max_value_length", 0)
            if mc_compat.is_python_memcached(client):
                timeout, dead_retry = mc_compat.timeouts(client)
                self.commands: _Commands = Wire(
                    mc_compat.buckets(client),
                    timeout=timeout,
                    dead_retry=dead_retry,
                    key_hash=mc_compat.key_hash,
                )
            else:
                self.commands = PylibmcCommands(borrow)
        self.max_value_length: int = limit or DEFAULT_MAX_VALUE_LENGTH

    # -- commands ---------------------------------------------------------

    def _key(self, key: str) -> bytes:
        return self._normalize(key).encode("utf-8")

    def _gets(self, key: str) -> tuple[bytes | None, object]:
        self._on_access()
        return self.commands.gets(self._key(key))

    def _store(
        self, cmd: bytes, key: str, value: bytes, ttl: int, cas: object = None
    ) -> bool:
        if len(value) > self.max_value_length:
            raise StoreUnavailable(
                f"value too large for the store ({len(value)} bytes, "
                f"limit {self.max_value_length})"
            )
        exptime = _exptime(check_ttl(ttl))
        self._on_access()
        return self.commands.store(cmd, self._key(key), value, exptime, cas)

    def _delete(self, key: str) -> bool:
        self._on_access()
        return self.commands.delete(self._key(key))

    # -- FramedBackend primitives (used by the lock) ----------------------

    def _read(self, key: str) -> tuple[bytes | None, object]:
        return self._gets(key)

    def _write(self, key: str, value: bytes, ttl: int) -> None:
        if not self._store(b"set", key, value, ttl):
            raise StoreUnavailable(f"memcached refused to store {len(value)} bytes")

    def _add(self, key: str, value: bytes, ttl: int) -> bool:
        return self._store(b"add", key, value, ttl)

    def _remove(self, key: str) -> bool:
        return self._delete(key)

    # -- the protocol -----------------------------------------------------

    def _snapshot(self, key: str) -> Snapshot | None:
        value, cas = self._gets(key)
        record = self._record(value, None)
        return None if record is None else Snapshot(cas, record.fields)

    def load(self, key: str) -> Record | None:
        """Return the record (one ``gets``); its token carries the CAS id."""
        value, cas = self._gets(key)
        record = self._record(value, None)
        if record is not None:
            record.token = Snapshot(cas, record.fields)
        return record

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
        """Apply the change onto the newest version by compare-and-set."""
        check_ttl(ttl)

        def swap(snapshot: Snapshot, fields: dict[str, bytes]) -> SaveResult | None:
            if not fields:
                tombstone = encode_record(meta, {})
                if self._store(
                    b"cas", key, tombstone, _TOMBSTONE_TTL, snapshot.version
                ):
                    self._delete(key)
                    return SaveResult.EMPTIED
            elif self._store(
                b"cas", key, encode_record(meta, fields), ttl, snapshot.version
            ):
                return SaveResult.SAVED
            _pause()
            return None  # another writer was first: read again

        snapshot = token if isinstance(token, Snapshot) else None
        return merge_by_cas(
            snapshot,
            lambda: self._snapshot(key),
            swap,
            set_fields,
            del_fields,
            retries=self.cas_retries,
            store="memcached",
        )

    def touch(self, key: str, meta: bytes, ttl: int) -> bool:
        """Replace meta and refresh the TTL by compare-and-set (two round trips)."""
        check_ttl(ttl)
        for _ in range(self.cas_retries):
            snapshot = self._snapshot(key)
            if snapshot is None:
                return False
            value = encode_record(meta, snapshot.fields)
            if self._store(b"cas", key, value, ttl, snapshot.version):
                return True
            _pause()
        raise StoreUnavailable(
            f"memcached: gave up after {self.cas_retries} compare-and-set conflicts"
        )

    def replace(
        self, key: str, meta: bytes, fields: dict[str, bytes], ttl: int
    ) -> SaveResult:
        """Overwrite with memcached ``replace`` (only if present): one round trip."""
        check_ttl(ttl)
        if not fields:
            return SaveResult.EMPTIED if self._delete(key) else SaveResult.GONE
        if self._store(b"replace", key, encode_record(meta, fields), ttl):
            return SaveResult.SAVED
        return SaveResult.GONE

    def delete(self, key: str) -> None:
        """Delete the record (one round trip)."""
        self._delete(key)
