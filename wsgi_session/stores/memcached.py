"""The Memcached store: ``memcached://`` and a compare-and-set backend.

A session is one framed value. Reads use ``gets`` and keep the CAS id in
:attr:`Record.token`; a merge applies its change onto the version read and
writes it back with ``cas``, re-reading and retrying when another writer got
there first. python-memcached reports a dead server as a silent ``None`` /
``0``, so every call checks the server that owns the key and raises
:class:`~wsgi_session.errors.StoreUnavailable` instead of reporting "missing".

Clients built from URLs never unpickle: python-memcached gets an unpickler that
refuses (we only store bytes, which it never flags as pickled)::

    >>> cache = open_memcached_cache(["127.0.0.1:11211"], key_prefix="app:")
    >>> cache.key_prefix
    'app:'

The python-memcached internals this needs are in
:mod:`~wsgi_session.stores.memcache_compat`.
"""

from __future__ import annotations

import random
import threading
import time
import typing as t
import weakref
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager

from cachelib.memcached import MemcachedCache

from ..errors import StoreUnavailable
from . import memcache_compat as mc_compat
from .base import MissingClient, Record, SaveResult, check_ttl, encode_record
from .cachelib_compat import client_context, key_normalizer, set_client_context
from .cas import Snapshot, merge_by_cas
from .framed import FramedBackend
from .memcache_compat import RefusingUnpickler
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
        mc = _pylibmc_client(pylibmc)(
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


def _pylibmc_client(pylibmc: t.Any) -> t.Any:
    """A pylibmc.Client that refuses values it did not store as plain bytes."""

    class Client(pylibmc.Client):  # type: ignore[misc]
        def deserialize(self, value: bytes, flags: int) -> bytes:
            if flags:  # pickled, int, text or compressed: never ours
                raise ValueError("memcached value is not a session record")
            return value

    return Client


def _pause() -> None:
    """After a CAS conflict: wait 0-2 ms so colliding writers spread out."""
    time.sleep(random.random() * 0.002)


def _exptime(ttl: int) -> int:
    """Memcached's expiry: seconds up to 30 days, an absolute time beyond."""
    return ttl if ttl <= _RELATIVE_LIMIT else int(time.time()) + ttl


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
        self._borrow = client_context(cache)
        self._normalize = key_normalizer(cache)
        with self._borrow() as client:
            self._pymc = mc_compat.is_python_memcached(client)
            limit = getattr(client, "server_max_value_length", 0)
        self.max_value_length: int = limit or DEFAULT_MAX_VALUE_LENGTH
        self._threads = threading.local()

    def _close_at_thread_exit(self, client: t.Any) -> None:
        """python-memcached opens sockets per thread and never closes them when
        the thread ends (a ResourceWarning per thread): close them then."""
        if getattr(self._threads, "sentinel", None) is None:
            sentinel = self._threads.sentinel = _ThreadSentinel()
            weakref.finalize(
                sentinel, mc_compat.close_servers, mc_compat.servers_of(client)
            )

    # -- client calls -----------------------------------------------------

    def _key(self, key: str) -> bytes:
        return self._normalize(key).encode("utf-8")

    @contextmanager
    def _client(self, bkey: bytes, what: str) -> Iterator[tuple[t.Any, t.Any]]:
        """Yield ``(client, server)``; map failures to StoreUnavailable."""
        self._on_access()
        try:
            with self._borrow() as client:
                server = None
                if self._pymc:
                    self._close_at_thread_exit(client)
                    server = mc_compat.server_for(client, bkey)
                yield client, server
        except (StoreUnavailable, ValueError):
            raise
        except Exception as exc:  # pylibmc raises its own errors
            if type(exc).__name__ == "NotFound":
                raise _NotFound from exc
            raise StoreUnavailable(
                f"memcached {what} failed: {exc}", original=exc
            ) from exc

    @staticmethod
    def _check(server: t.Any, what: str) -> None:
        """After a falsy python-memcached answer: was it the server dying?"""
        if server is not None and mc_compat.failed(server):
            raise StoreUnavailable(
                f"memcached server {mc_compat.server_name(server)} failed during {what}"
            )

    def _gets(self, key: str) -> tuple[t.Any, object]:
        bkey = self._key(key)
        with self._client(bkey, "gets") as (client, server):
            if not self._pymc:
                value, cas = client.gets(bkey)
                return value, cas
            value, cas = mc_compat.gets(client, bkey)
            if value is None:
                self._check(server, "gets")
                if cas is not None:  # present, but flagged (pickled) by someone
                    raise ValueError("memcached value is not a session record")
            return value, cas

    def _store(
        self, cmd: str, key: str, value: bytes, ttl: int, cas: object = None
    ) -> bool:
        if len(value) > self.max_value_length:
            raise StoreUnavailable(
                f"value too large for the store ({len(value)} bytes, "
                f"limit {self.max_value_length})"
            )
        bkey = self._key(key)
        exptime = _exptime(check_ttl(ttl))
        try:
            with self._client(bkey, cmd) as (client, server):
                if cmd == "cas" and not self._pymc:
                    return bool(client.cas(bkey, value, cas, time=exptime))
                if cmd == "cas":
                    ok = mc_compat.cas(client, bkey, value, cas, exptime)
                else:
                    ok = getattr(client, cmd)(bkey, value, time=exptime)
                if not ok:
                    self._check(server, cmd)
                return bool(ok)
        except _NotFound:
            return False

    def _delete(self, key: str) -> bool:
        bkey = self._key(key)
        try:
            with self._client(bkey, "delete") as (client, server):
                ok = client.delete(bkey)
                if not ok:
                    self._check(server, "delete")
                return bool(ok)
        except _NotFound:
            return False

    # -- FramedBackend primitives (used by the lock) ----------------------

    def _read(self, key: str) -> tuple[bytes | None, object]:
        return self._gets(key)

    def _write(self, key: str, value: bytes, ttl: int) -> None:
        if not self._store("set", key, value, ttl):
            raise StoreUnavailable(f"memcached refused to store {len(value)} bytes")

    def _add(self, key: str, value: bytes, ttl: int) -> bool:
        return self._store("add", key, value, ttl)

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
                if self._store("cas", key, tombstone, _TOMBSTONE_TTL, snapshot.version):
                    self._delete(key)
                    return SaveResult.EMPTIED
            elif self._store(
                "cas", key, encode_record(meta, fields), ttl, snapshot.version
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
            if self._store("cas", key, value, ttl, snapshot.version):
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
        if self._store("replace", key, encode_record(meta, fields), ttl):
            return SaveResult.SAVED
        return SaveResult.GONE

    def delete(self, key: str) -> None:
        """Delete the record (one round trip)."""
        self._delete(key)


class _ThreadSentinel:
    """Lives in one thread's local storage; collected when the thread ends."""


class _NotFound(Exception):
    """pylibmc's NotFound, seen through :meth:`MemcachedBackend._client`."""
