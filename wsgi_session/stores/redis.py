"""The Redis store: ``redis://`` / ``rediss://`` and a hash-per-session backend.

A session is one Redis HASH under the cache's ``key_prefix`` + key: field
``m`` holds the meta blob and field ``f:<name>`` each session field. Every
write is one Lua script (EVALSHA), so it is atomic and costs one round trip;
a load is one HGETALL. All scripts touch a single key, and lock keys are the
session key plus ``:lock`` (same Redis Cluster hash tag), so a
``redis.cluster.RedisCluster`` or Sentinel ``master_for()`` client works too.
Clients that send a command again by themselves after a connection error
(the cluster client does) are safe: a repeated ``create`` that finds exactly
the record it would write answers "created", and a repeated lock request
that finds its own token answers "acquired"::

    >>> cache = open_redis_cache(host="127.0.0.1", key_prefix="app:")
    >>> cache.key_prefix
    'app:'
"""

from __future__ import annotations

import secrets
import typing as t
from collections.abc import Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from operator import itemgetter

from cachelib.redis import RedisCache

from ..errors import StoreUnavailable
from .base import MissingClient, Record, SaveResult, check_ttl, poll_until
from .cachelib_compat import prefix_of, redis_clients
from .instrument import Observer
from .requirements import install_hint
from .serializer import prepare_store

if t.TYPE_CHECKING:
    from .redis_wire import Arg, Wire

__all__ = ["RedisBackend", "open_redis_cache"]

_META = b"m"
_FIELD = b"f:"
#: The first two bytes of a field's name (``f:`` for session fields).
_PREFIX = itemgetter(slice(None, len(_FIELD)))

# Lua helpers shared by the scripts. KEYS[1] = session hash, ARGV[1] = ttl
# in ms (0 = persist). hset / hdel take ARGV[first..last] (name/value pairs
# for hset), 1000 pairs or names a call: Lua's unpack() stops near 8000 values.
_HSET = """
local function hset(first, last)
  for i = first, last, 2000 do
    redis.call('HSET', KEYS[1], unpack(ARGV, i, math.min(i + 1999, last)))
  end
end
"""
_HDEL = """
local function hdel(first, last)
  for i = first, last, 1000 do
    redis.call('HDEL', KEYS[1], unpack(ARGV, i, math.min(i + 999, last)))
  end
end
"""
_EXPIRE = """
local function expire()
  local ttl = tonumber(ARGV[1])
  if ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl)
  else redis.call('PERSIST', KEYS[1]) end
end
"""

# ARGV[2..] = pairs, 'm' and the meta first. A key that holds exactly these
# pairs was made by this very create, sent again by a client that lost the
# first reply (keys of new sessions are random: nobody else writes them).
_CREATE = (
    _HSET
    + _EXPIRE
    + """
if redis.call('EXISTS', KEYS[1]) == 1 then
  if redis.call('HLEN', KEYS[1]) * 2 ~= #ARGV - 1 then return 0 end
  for i = 2, #ARGV, 2 do
    if redis.call('HGET', KEYS[1], ARGV[i]) ~= ARGV[i + 1] then return 0 end
  end
  return 1
end
hset(2, #ARGV)
expire()
return 1
"""
)

# ARGV[2] = n, ARGV[3 .. 2 + 2n] = n pairs to set ('m' first), then the
# names to delete.
_MERGE = (
    _HSET
    + _HDEL
    + _EXPIRE
    + """
if redis.call('EXISTS', KEYS[1]) == 0 then return 'gone' end
local last = 2 + 2 * tonumber(ARGV[2])
hdel(last + 1, #ARGV)
hset(3, last)
if redis.call('HLEN', KEYS[1]) <= 1 then
  redis.call('DEL', KEYS[1])
  return 'emptied'
end
expire()
return 'saved'
"""
)

# ARGV[2..] = pairs, 'm' first (only that pair: delete).
_REPLACE = (
    _HSET
    + _EXPIRE
    + """
if redis.call('EXISTS', KEYS[1]) == 0 then return 'gone' end
redis.call('DEL', KEYS[1])
if #ARGV <= 3 then return 'emptied' end
hset(2, #ARGV)
expire()
return 'saved'
"""
)

# ARGV[2] = meta.
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


def _pairs(meta: bytes, fields: Mapping[str, bytes]) -> list[bytes]:
    """The hash's name/value pairs, meta first.

    >>> _pairs(b"meta", {"cart": b"[1]"})
    [b'm', b'meta', b'f:cart', b'[1]']
    """
    out = [_META, meta]
    for name, value in fields.items():
        out += (_FIELD + name.encode("utf-8"), bytes(value))
    return out


def _ttl_ms(ttl: int) -> int:
    return check_ttl(ttl) * 1000


def _record(reply: list[bytes] | dict[bytes, bytes]) -> Record | None:
    """The Record of an HGETALL reply (a flat list; a dict under RESP3).

    >>> _record([b"m", b"meta", b"f:cart", b"[1]"])
    Record(meta=b'meta', fields={'cart': b'[1]'}, token=None)
    >>> _record({b"f:cart": b"[1]", b"m": b"meta"}).fields
    {'cart': b'[1]'}
    >>> _record([]) is None and _record([b"m", b"meta"]) is None
    True
    >>> _record([b"f:cart", b"[1]"])
    Traceback (most recent call last):
      ...
    ValueError: session hash has no meta field
    >>> _record([b"m", b"meta", b"cart", b"[1]"])
    Traceback (most recent call last):
      ...
    ValueError: unexpected field b'cart' in session hash
    """
    if not reply:
        return None
    if isinstance(reply, dict):
        pairs = reply  # a reply nobody else holds: the meta is popped below
    else:
        items = iter(reply)
        pairs = dict(zip(items, items))
    meta = pairs.pop(_META, None)
    # Sessions with hundreds of keys spend most of a load here: the checks
    # and the decoding are C-level passes (map, a comprehension), not a loop
    # with branches per field.
    if pairs and set(map(_PREFIX, pairs)) != {_FIELD}:
        name = next(name for name in pairs if not name.startswith(_FIELD))
        raise ValueError(f"unexpected field {name!r} in session hash")
    try:  # name[2:]: after b"f:"
        fields = {name[2:].decode(): value for name, value in pairs.items()}
    except UnicodeDecodeError as exc:
        raise ValueError("field name is not UTF-8") from exc
    if meta is None:
        raise ValueError("session hash has no meta field")
    return Record(meta, fields) if fields else None


class RedisBackend:
    """The Backend protocol over RedisCache: one hash per session, Lua writes.

    Round trips: load, create, merge, replace, touch, delete: one each (the
    first run of a script on a server costs one more: NOSCRIPT, then EVAL).
    :meth:`observe` sees every command sent, a retried one twice. Commands
    go through a :class:`~wsgi_session.stores.redis_wire.Wire`, which says
    when a command is sent again after a connection failure.

    >>> backend = RedisBackend(open_redis_cache(host="127.0.0.1", key_prefix="a:"))
    >>> backend.cache.key_prefix
    'a:'
    """

    #: Suffix of the session lock key (keeps the key's hash tag).
    lock_suffix = ":lock"

    def __init__(self, cache: RedisCache) -> None:
        from .redis_wire import Script, Wire

        self.cache = prepare_store(cache)
        self._prefix = prefix_of(cache)
        write, read = redis_clients(cache)
        self._write = Wire(write)
        self._read = self._write if read is write else Wire(read)
        self._create = Script.of(_CREATE)
        self._merge = Script.of(_MERGE)
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
        try:
            reply = self._read.call("HGETALL", self._key(key))
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
        args: list[Arg] = [_ttl_ms(ttl), *_pairs(meta, fields)]
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
        """Apply set/delete atomically server-side (one script call)."""
        deletions = [_FIELD + name.encode("utf-8") for name in del_fields]
        pairs = _pairs(meta, set_fields)
        args: list[Arg] = [_ttl_ms(ttl), len(pairs) // 2, *pairs, *deletions]
        result = self._write.run(self._merge, self._key(key), args)
        return SaveResult(result.decode("ascii"))

    def replace(
        self, key: str, meta: bytes, fields: dict[str, bytes], ttl: int
    ) -> SaveResult:
        """Overwrite an existing record (one script call); GONE if absent."""
        args: list[Arg] = [_ttl_ms(ttl), *_pairs(meta, fields)]
        result = self._write.run(self._replace, self._key(key), args)
        return SaveResult(result.decode("ascii"))

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
