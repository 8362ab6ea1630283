"""The Redis store: ``redis://`` / ``rediss://`` and a hash-per-session backend.

A session is one Redis HASH under the cache's ``key_prefix`` + key with three
fields: ``m`` the meta blob, ``d`` the session's fields framed as one value
(:func:`~wsgi_session.stores.base.encode_record`, with an empty meta) and
``v`` a version counter that every change of ``d`` increments. A load is one
HGETALL of three bulk strings, whatever the number of keys in the session:
the client reads one value and decodes it in a few C-level passes, where a
field per session key cost the server and the reply parser two bulk strings
per key (at 1,000 keys, 10 x the time of reading the one value).

Every write is one Lua script (EVALSHA), so it is atomic and costs one
round trip. A merge is a compare-and-set (:mod:`~wsgi_session.stores.cas`):
the client applies its changes onto the fields it loaded and sends the
result with the version it loaded; the script writes it only if the version
is still the stored one, and otherwise answers the newer version and its
fields, onto which the client applies its changes again. All scripts touch a
single key, and lock keys are the session key plus ``:lock`` (same Redis
Cluster hash tag), so a ``redis.cluster.RedisCluster`` or Sentinel
``master_for()`` client works too. Clients that send a command again by
themselves after a connection error (the cluster client does) are safe: a
repeated ``create`` that finds exactly the record it would write answers
"created", a repeated merge finds its own version and merges again (the same
values), and a repeated lock request that finds its own token answers
"acquired"::

    >>> cache = open_redis_cache(host="127.0.0.1", key_prefix="app:")
    >>> cache.key_prefix
    'app:'
"""

from __future__ import annotations

import secrets
import typing as t
from collections.abc import Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager

from cachelib.redis import RedisCache

from ..errors import StoreUnavailable
from .base import (
    MissingClient,
    Record,
    SaveResult,
    check_ttl,
    decode_record,
    encode_record,
    poll_until,
)
from .cachelib_compat import prefix_of, redis_clients
from .cas import Snapshot, merge_by_cas
from .instrument import Observer
from .requirements import install_hint
from .serializer import prepare_store

if t.TYPE_CHECKING:
    from .redis_wire import Arg, Wire

__all__ = ["RedisBackend", "open_redis_cache"]

_META, _DATA, _VERSION = b"m", b"d", b"v"
_LAYOUT = {_META, _DATA, _VERSION}
#: The scripts' answers (a dict lookup: SaveResult(value) costs more).
_RESULTS = {result.value.encode("ascii"): result for result in SaveResult}

# KEYS[1] = session hash, ARGV[1] = ttl in ms (0 = persist).
_EXPIRE = """
local function expire()
  local ttl = tonumber(ARGV[1])
  if ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl)
  else redis.call('PERSIST', KEYS[1]) end
end
"""

# ARGV[2] = meta, ARGV[3] = data. A key that holds exactly these was made by
# this very create, sent again by a client that lost the first reply (keys of
# new sessions are random: nobody else writes them).
_CREATE = (
    _EXPIRE
    + """
if redis.call('EXISTS', KEYS[1]) == 1 then
  local stored = redis.call('HMGET', KEYS[1], 'm', 'd')
  if stored[1] == ARGV[2] and stored[2] == ARGV[3] then return 1 end
  return 0
end
redis.call('HSET', KEYS[1], 'm', ARGV[2], 'd', ARGV[3], 'v', 1)
expire()
return 1
"""
)

# The step of a merge. ARGV[2] = the version the data was merged onto,
# ARGV[3] = meta, ARGV[4] = the merged data ('' when no field is left: the
# record is deleted). A newer version: answer it and its data, write nothing.
_SWAP = (
    _EXPIRE
    + """
local version = redis.call('HGET', KEYS[1], 'v')
if not version then return 'gone' end
if version ~= ARGV[2] then return {version, redis.call('HGET', KEYS[1], 'd')} end
if ARGV[4] == '' then
  redis.call('DEL', KEYS[1])
  return 'emptied'
end
redis.call('HSET', KEYS[1], 'm', ARGV[3], 'd', ARGV[4])
redis.call('HINCRBY', KEYS[1], 'v', 1)
expire()
return 'saved'
"""
)

# ARGV[2] = meta, ARGV[3] = data ('' = no fields: delete). Whatever the key
# held is overwritten; the version still goes up (a merge onto an older
# version must fail).
_REPLACE = (
    _EXPIRE
    + """
if redis.call('EXISTS', KEYS[1]) == 0 then return 'gone' end
local version = tonumber(redis.pcall('HGET', KEYS[1], 'v')) or 0
redis.call('DEL', KEYS[1])
if ARGV[3] == '' then return 'emptied' end
redis.call('HSET', KEYS[1], 'm', ARGV[2], 'd', ARGV[3], 'v', version + 1)
expire()
return 'saved'
"""
)

# ARGV[2] = meta. The data is unchanged: so is its version.
_TOUCH = (
    _EXPIRE
    + """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'm', ARGV[2])
expire()
return 1
"""
)

# KEYS[1] = lock key, ARGV[1] = our token, ARGV[2] = ttl in ms. Our own
# token already there: a repeat of this request whose reply was lost.
_LOCK = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
if redis.call('GET', KEYS[1]) == ARGV[1] then return 1 end
return 0
"""

# KEYS[1] = lock key, ARGV[1] = our token.
_UNLOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def open_redis_cache(
    *,
    host: str = "localhost",
    port: int = 6379,
    db: int = 0,
    username: str | None = None,
    password: str | None = None,
    key_prefix: str | None = None,
    ssl: bool = False,
    socket_timeout: float = 5.0,
    socket_connect_timeout: float = 5.0,
    health_check_interval: int = 30,
    max_connections: int | None = None,
    **ssl_options: t.Any,
) -> RedisCache:
    """Build a RedisCache whose client notices an outage within seconds.

    Connection errors are retried once (a pooled connection may have been
    closed by the server); then the operation fails.

    >>> cache = open_redis_cache(host="127.0.0.1", socket_timeout=1.5)
    >>> client, _ = redis_clients(cache)
    >>> client.connection_pool.connection_kwargs["socket_timeout"]
    1.5
    """
    try:
        from . import redis_compat
    except ImportError as exc:
        hint = install_hint("redis")
        raise MissingClient(f"redis:// needs redis-py ({hint})") from exc
    kwargs: dict[str, t.Any] = dict(ssl_options)
    if ssl:
        kwargs["ssl"] = True
    client = redis_compat.make_client(
        host=host,
        port=port,
        db=db,
        username=username,
        password=password,
        socket_timeout=socket_timeout,
        socket_connect_timeout=socket_connect_timeout,
        health_check_interval=health_check_interval,
        max_connections=max_connections,
        **kwargs,
    )
    return prepare_store(RedisCache(client, key_prefix=key_prefix))


def _data(fields: Mapping[str, bytes]) -> bytes:
    """The ``d`` value of ``fields`` (``b""``: none, the record is deleted).

    >>> decode_record(_data({"cart": b"[1]"}))
    (b'', {'cart': b'[1]'})
    """
    return encode_record(b"", fields) if fields else b""


def _ttl_ms(ttl: int) -> int:
    return check_ttl(ttl) * 1000


def _record(reply: list[bytes] | dict[bytes, bytes]) -> Record | None:
    """The Record of an HGETALL reply (a flat list; a dict under RESP3).

    Its token is the :class:`~wsgi_session.stores.cas.Snapshot` a merge
    starts from.

    >>> record = _record([b"m", b"meta", b"d", _data({"cart": b"[1]"}), b"v", b"3"])
    >>> record
    Record(meta=b'meta', fields={'cart': b'[1]'}, token=Snapshot(version=b'3', ...))
    >>> _record({b"v": b"3", b"d": _data({"a": b""}), b"m": b""}).fields
    {'a': b''}
    >>> _record([]) is None
    True
    >>> _record([b"m", b"meta", b"f:cart", b"[1]"])
    Traceback (most recent call last):
      ...
    ValueError: not a session hash (fields [b'f:cart', b'm'])
    """
    if not reply:
        return None
    if isinstance(reply, dict):
        pairs = reply
    else:
        items = iter(reply)
        pairs = dict(zip(items, items))
    if pairs.keys() != _LAYOUT:
        raise ValueError(f"not a session hash (fields {sorted(pairs)})")
    _, fields = decode_record(pairs[_DATA])
    if not fields:
        return None
    return Record(pairs[_META], fields, Snapshot(pairs[_VERSION], fields))


class RedisBackend:
    """The Backend protocol over RedisCache: one hash per session, Lua writes.

    Round trips: load, create, replace, touch, delete: one each; merge one
    with the token of a current load, else two, plus one per concurrent
    write that came first (the first run of a script on a server costs one
    more: NOSCRIPT, then EVAL).
    :meth:`observe` sees every command sent, a retried one twice. Commands
    go through a :class:`~wsgi_session.stores.redis_wire.Wire`, which says
    when a command is sent again after a connection failure.

    >>> backend = RedisBackend(open_redis_cache(host="127.0.0.1", key_prefix="a:"))
    >>> backend.cache.key_prefix
    'a:'
    """

    #: Suffix of the session lock key (keeps the key's hash tag).
    lock_suffix = ":lock"
    #: Attempts of one merge before giving up under contention.
    cas_retries = 32

    def __init__(self, cache: RedisCache) -> None:
        from .redis_wire import Script, Wire

        self.cache = prepare_store(cache)
        self._prefix = prefix_of(cache)
        write, read = redis_clients(cache)
        self._write = Wire(write)
        self._read = self._write if read is write else Wire(read)
        self._create = Script.of(_CREATE)
        self._swap = Script.of(_SWAP)
        self._replace = Script.of(_REPLACE)
        self._touch = Script.of(_TOUCH)
        self._lock_script = Script.of(_LOCK)
        self._unlock = Script.of(_UNLOCK)

    def observe(self, on_access: Observer) -> Observer:
        """Call ``on_access`` once per command sent; return the previous observer."""
        previous = self._write.on_send
        self._write.on_send = self._read.on_send = on_access
        return previous

    @property
    def wire(self) -> Wire:
        """The wire writes (and, with one client, reads) go through."""
        return self._write

    def _key(self, key: str) -> str:
        return f"{self._prefix()}{key}"

    def load(self, key: str) -> Record | None:
        """Return the record (one HGETALL); ``ValueError`` if malformed."""
        return self._load(self._read, self._key(key))

    def _load(self, wire: Wire, key: str) -> Record | None:
        try:
            reply = wire.call("HGETALL", key)
        except StoreUnavailable as exc:
            if str(exc.original).startswith("WRONGTYPE"):  # not one of ours
                raise ValueError("the Redis key does not hold a session") from exc
            raise
        return _record(reply)

    def create(self, key: str, meta: bytes, fields: dict[str, bytes], ttl: int) -> bool:
        """Store a new record if ``key`` is absent (one script call).

        Not repeated by the wire once sent; a repeat by the client itself
        (cluster) finds the record it made and answers ``True`` (see
        ``_CREATE``).
        """
        if not fields:
            raise ValueError("a new record needs at least one field")
        args: list[Arg] = [_ttl_ms(ttl), meta, _data(fields)]
        key = self._key(key)
        return bool(self._write.run(self._create, key, args, idempotent=False))

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
        """Apply set/delete onto the newest version (compare-and-set scripts)."""
        ttl_ms, key = _ttl_ms(ttl), self._key(key)

        def read() -> Snapshot | None:  # from the primary, never a replica
            record = self._load(self._write, key)
            return None if record is None else t.cast(Snapshot, record.token)

        def swap(snapshot: Snapshot, fields: dict[str, bytes]) -> SaveResult | Snapshot:
            args: list[Arg] = [
                ttl_ms,
                t.cast(bytes, snapshot.version),
                meta,
                _data(fields),
            ]
            reply = self._write.run(self._swap, key, args)
            if isinstance(reply, list):  # written by someone else meanwhile
                version, data = reply
                return Snapshot(version, decode_record(data)[1])
            return _RESULTS[reply]

        snapshot = token if isinstance(token, Snapshot) else None
        return merge_by_cas(
            snapshot,
            read,
            swap,
            set_fields,
            del_fields,
            retries=self.cas_retries,
            store="redis",
        )

    def replace(
        self, key: str, meta: bytes, fields: dict[str, bytes], ttl: int
    ) -> SaveResult:
        """Overwrite an existing record (one script call); GONE if absent."""
        args: list[Arg] = [_ttl_ms(ttl), meta, _data(fields)]
        result = self._write.run(self._replace, self._key(key), args)
        return _RESULTS[result]

    def touch(self, key: str, meta: bytes, ttl: int) -> bool:
        """Replace meta and refresh the TTL (one script call)."""
        args: list[Arg] = [_ttl_ms(ttl), meta]
        return bool(self._write.run(self._touch, self._key(key), args))

    def delete(self, key: str) -> None:
        """Delete the record (one DEL)."""
        self._write.call("DEL", self._key(key))

    def lock(
        self, key: str, timeout: float, ttl: float
    ) -> AbstractContextManager[None]:
        """``SET key:lock token NX PX ttl`` polled until ``timeout``."""
        return self._lock(self._key(key) + self.lock_suffix, timeout, ttl)

    @contextmanager
    def _lock(self, lock_key: str, timeout: float, ttl: float) -> Iterator[None]:
        token = secrets.token_hex(16).encode("ascii")
        ms = max(1, int(ttl * 1000))
        script = self._lock_script
        poll_until(
            lambda: bool(self._write.run(script, lock_key, [token, ms])), timeout
        )
        try:
            yield
        finally:
            self._write.run(self._unlock, lock_key, [token])
