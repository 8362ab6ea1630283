"""The Redis store: ``redis://`` / ``rediss://`` and a hash-per-session backend.

A session is one Redis HASH under the cache's ``key_prefix`` + key: field
``m`` holds the meta blob and field ``f:<name>`` each session field. Every
write is one Lua script (EVALSHA), so it is atomic and costs one round trip;
a load is one HGETALL. All scripts touch a single key, and lock keys are the
session key plus ``:lock`` (same Redis Cluster hash tag), so a
``redis.cluster.RedisCluster`` or Sentinel ``master_for()`` client works too::

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

from ..errors import ConfigError, StoreUnavailable
from .base import Record, SaveResult, check_ttl, poll_until
from .serializer import prepare_store

__all__ = ["RedisBackend", "open_redis_cache"]

_META = b"m"
_FIELD = b"f:"

# KEYS[1] = session hash.  ARGV[1] = meta, ARGV[2] = ttl in ms (0 = persist).
_TTL = """
local ttl = tonumber(ARGV[2])
if ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl)
else redis.call('PERSIST', KEYS[1]) end
"""

# ARGV[3..] = field/value pairs.
_CREATE = (
    """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'm', ARGV[1])
for i = 3, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
"""
    + _TTL
    + "return 1"
)

# ARGV[3] = number of pairs to set, then the pairs, then the fields to delete.
_MERGE = (
    """
if redis.call('EXISTS', KEYS[1]) == 0 then return 'gone' end
local last = 3 + 2 * tonumber(ARGV[3])
for i = last + 1, #ARGV do redis.call('HDEL', KEYS[1], ARGV[i]) end
for i = 4, last, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('HSET', KEYS[1], 'm', ARGV[1])
if redis.call('HLEN', KEYS[1]) <= 1 then
  redis.call('DEL', KEYS[1])
  return 'emptied'
end
"""
    + _TTL
    + "return 'saved'"
)

# ARGV[3..] = field/value pairs (none: delete).
_REPLACE = (
    """
if redis.call('EXISTS', KEYS[1]) == 0 then return 'gone' end
redis.call('DEL', KEYS[1])
if #ARGV < 3 then return 'emptied' end
redis.call('HSET', KEYS[1], 'm', ARGV[1])
for i = 3, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
"""
    + _TTL
    + "return 'saved'"
)

_TOUCH = (
    """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'm', ARGV[1])
"""
    + _TTL
    + "return 1"
)

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
    >>> cache._write_client.connection_pool.connection_kwargs["socket_timeout"]
    1.5
    """
    try:
        import redis
        from redis.backoff import ExponentialWithJitterBackoff
        from redis.retry import Retry
    except ImportError as exc:
        raise ConfigError(
            "redis:// needs the redis client (pip install wsgi_session[redis])",
            key="store",
        ) from exc
    kwargs: dict[str, t.Any] = dict(ssl_options)
    if ssl:
        kwargs["ssl"] = True
    client = redis.Redis(
        host=host,
        port=port,
        db=db,
        username=username,
        password=password,
        socket_timeout=socket_timeout,
        socket_connect_timeout=socket_connect_timeout,
        health_check_interval=health_check_interval,
        max_connections=max_connections,
        retry=Retry(
            ExponentialWithJitterBackoff(base=0.01, cap=0.1),
            retries=1,
            supported_errors=(redis.ConnectionError,),
        ),
        **kwargs,
    )
    return prepare_store(RedisCache(client, key_prefix=key_prefix))


def _pairs(fields: Mapping[str, bytes]) -> list[bytes]:
    out: list[bytes] = []
    for name, value in fields.items():
        out += [_FIELD + name.encode("utf-8"), bytes(value)]
    return out


def _ttl_ms(ttl: int) -> int:
    return check_ttl(ttl) * 1000


class RedisBackend:
    """The Backend protocol over RedisCache: one hash per session, Lua writes.

    Round trips: load, create, merge, replace, touch, delete: one each (the
    very first use of a script on a server costs two more: NOSCRIPT, LOAD).

    >>> backend = RedisBackend(open_redis_cache(host="127.0.0.1"))
    >>> backend.round_trips
    0
    """

    #: Suffix of the session lock key (keeps the key's hash tag).
    lock_suffix = ":lock"

    def __init__(self, cache: RedisCache) -> None:
        import redis

        self.cache = prepare_store(cache)
        self.round_trips = 0
        self._errors = redis.RedisError
        client = cache._write_client
        try:
            decoding = client.get_encoder().decode_responses
        except AttributeError:
            decoding = False
        if decoding:
            raise ConfigError(
                "the Redis client must not use decode_responses=True", key="store"
            )
        self._create = client.register_script(_CREATE)
        self._merge = client.register_script(_MERGE)
        self._replace = client.register_script(_REPLACE)
        self._touch = client.register_script(_TOUCH)
        self._unlock = client.register_script(_UNLOCK)

    def _key(self, key: str) -> str:
        return f"{self.cache._get_prefix()}{key}"

    def _call(self, fn: t.Callable[..., t.Any], *args: t.Any, **kwargs: t.Any) -> t.Any:
        """One round trip; every Redis error becomes StoreUnavailable."""
        self.round_trips += 1
        try:
            return fn(*args, **kwargs)
        except self._errors as exc:
            raise StoreUnavailable(f"redis: {exc}", original=exc) from exc

    def load(self, key: str) -> Record | None:
        """Return the record (one HGETALL); ``ValueError`` if malformed."""
        try:
            raw = self._call(self.cache._read_client.hgetall, self._key(key))
        except StoreUnavailable as exc:
            if "WRONGTYPE" in str(exc):  # not written by us: a corrupt session
                raise ValueError("the Redis key does not hold a session") from exc
            raise
        if not raw:
            return None
        meta = raw.pop(_META, None)
        fields: dict[str, bytes] = {}
        for name, value in raw.items():
            if not name.startswith(_FIELD):
                raise ValueError(f"unexpected field {name!r} in session hash")
            try:
                fields[name[len(_FIELD) :].decode("utf-8")] = value
            except UnicodeDecodeError as exc:
                raise ValueError("field name is not UTF-8") from exc
        if meta is None:
            raise ValueError("session hash has no meta field")
        return Record(meta, fields) if fields else None

    def create(self, key: str, meta: bytes, fields: dict[str, bytes], ttl: int) -> bool:
        """Store a new record if ``key`` is absent (one script call)."""
        if not fields:
            raise ValueError("a new record needs at least one field")
        args = [meta, _ttl_ms(ttl), *_pairs(fields)]
        return bool(self._call(self._create, keys=[self._key(key)], args=args))

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
        args = [meta, _ttl_ms(ttl), len(set_fields), *_pairs(set_fields), *deletions]
        result = self._call(self._merge, keys=[self._key(key)], args=args)
        return SaveResult(result.decode("ascii"))

    def replace(
        self, key: str, meta: bytes, fields: dict[str, bytes], ttl: int
    ) -> SaveResult:
        """Overwrite an existing record (one script call); GONE if absent."""
        args = [meta, _ttl_ms(ttl), *_pairs(fields)]
        result = self._call(self._replace, keys=[self._key(key)], args=args)
        return SaveResult(result.decode("ascii"))

    def touch(self, key: str, meta: bytes, ttl: int) -> bool:
        """Replace meta and refresh the TTL (one script call)."""
        args = [meta, _ttl_ms(ttl)]
        return bool(self._call(self._touch, keys=[self._key(key)], args=args))

    def delete(self, key: str) -> None:
        """Delete the record (one DEL)."""
        self._call(self.cache._write_client.delete, self._key(key))

    def lock(
        self, key: str, timeout: float, ttl: float
    ) -> AbstractContextManager[None]:
        """``SET key:lock token NX PX ttl`` polled until ``timeout``."""
        return self._lock(self._key(key) + self.lock_suffix, timeout, ttl)

    @contextmanager
    def _lock(self, lock_key: str, timeout: float, ttl: float) -> Iterator[None]:
        client = self.cache._write_client
        token = secrets.token_hex(16).encode("ascii")
        ms = max(1, int(ttl * 1000))
        poll_until(
            lambda: bool(self._call(client.set, lock_key, token, nx=True, px=ms)),
            timeout,
        )
        try:
            yield
        finally:
            self._call(self._unlock, keys=[lock_key], args=[token])
