"""Every use of redis-py beyond its documented API, in one place.

Supported: redis-py ``>=4.5,<9`` (:data:`SUPPORTED`, pinned in ``setup.cfg``;
CI runs the store tests with the oldest and the newest). What the fast path
needs from inside redis-py: whether a client can be driven through its pool
(:func:`pool_of`), the pool's connection factory and counter, and a
connection's socket (tests only). The errors a client raises when the store
is unreachable or being reconfigured are :func:`unavailable_errors`:
redis-py's own ``RedisError`` tree plus the cluster client's
``RedisClusterException`` (``SlotNotCoveredError``, "Redis Cluster cannot be
connected"), which does not derive from ``RedisError``, and the
``IndexError`` of a cluster client that finds no primary::

    >>> import redis
    >>> from redis.exceptions import SlotNotCoveredError
    >>> issubclass(SlotNotCoveredError, UNAVAILABLE)
    True
    >>> pool_of(redis.Redis()) is not None
    True

Everything here is looked up once, when a backend is built, never per
command, except :func:`packed_command` (see there).
"""

from __future__ import annotations

import socket
import typing as t
from collections.abc import Callable

import redis
from redis.exceptions import (
    ConnectionError,
    NoScriptError,
    RedisClusterException,
    RedisError,
    ResponseError,
)
from redis.exceptions import TimeoutError as RedisTimeout
from redis.retry import Retry

from .requirements import RANGES

_pack_with_hiredis: Callable[[tuple[t.Any, ...]], bytes] | None
_HiredisPacker: type | None
try:  # what redis-py packs commands with when hiredis is installed (>= 5.1)
    from hiredis import pack_command as _pack_with_hiredis
    from redis.connection import HiredisRespSerializer as _HiredisPacker
except ImportError:  # no hiredis, or an older redis-py: its own packer
    _pack_with_hiredis = _HiredisPacker = None

try:  # redis-py >= 5.0.1
    from redis.backoff import ExponentialWithJitterBackoff as _Backoff
except ImportError:  # older: the same doubling delay, jitter on its upper half
    from redis.backoff import EqualJitterBackoff as _Backoff  # type: ignore[assignment]

__all__ = [
    "SUPPORTED",
    "UNAVAILABLE",
    "ConnectionError",
    "NoScriptError",
    "ResponseError",
    "connection_factory",
    "created_connections",
    "is_cluster",
    "is_timeout",
    "make_client",
    "packed_command",
    "pool_of",
    "socket_of",
    "unavailable_errors",
]

#: The redis-py versions this module is written and tested for.
SUPPORTED = RANGES["redis"]

#: Every exception a redis-py client raises for a store that cannot serve
#: the command now (down, failing over, resharding, refusing): mapped to
#: :class:`~wsgi_session.errors.StoreUnavailable`.
UNAVAILABLE: tuple[type[Exception], ...] = (RedisError, RedisClusterException)


def unavailable_errors(client: object) -> tuple[type[Exception], ...]:
    """What ``client`` raises when the store cannot serve a command now.

    :data:`UNAVAILABLE`, and for a cluster client also ``IndexError``: its
    re-initialisation indexes the list of primaries, which is empty while no
    node serves slots (redis-py 4.5 to 8 at least).

    >>> unavailable_errors(redis.Redis()) == UNAVAILABLE
    True
    """
    return (*UNAVAILABLE, IndexError) if is_cluster(client) else UNAVAILABLE


def is_timeout(error: BaseException) -> bool:
    """True when ``error`` is a socket timeout (the server may still run the
    command: it is not sent again).

    redis-py raises its ``TimeoutError`` for one, except on Python 3.9:
    there its reply parsers raise the builtin ``TimeoutError``, which is not
    ``socket.timeout`` before Python 3.10, so the connection wraps it in a
    ``ConnectionError`` ("Error while reading from ...") like a closed socket.

    >>> is_timeout(redis.TimeoutError("Timeout reading from socket"))
    True
    >>> wrapped = ConnectionError("Error while reading from 127.0.0.1:6379")
    >>> wrapped.__context__ = TimeoutError("Timeout reading from socket")
    >>> is_timeout(wrapped), is_timeout(ConnectionError("Connection closed"))
    (True, False)
    """
    if isinstance(error, RedisTimeout):
        return True
    return isinstance(error, ConnectionError) and isinstance(
        error.__context__, (TimeoutError, socket.timeout)
    )


def make_client(**kwargs: t.Any) -> redis.Redis:
    """A ``redis.Redis`` that retries a connection error once, then fails.

    >>> make_client(host="127.0.0.1").connection_pool.connection_kwargs["host"]
    '127.0.0.1'
    """
    retry = Retry(
        _Backoff(base=0.01, cap=0.1),
        retries=1,
        supported_errors=(ConnectionError,),
    )
    return redis.Redis(retry=retry, **kwargs)


def is_cluster(client: object) -> bool:
    """True for a ``redis.cluster.RedisCluster`` client.

    >>> is_cluster(redis.Redis())
    False
    """
    from redis.cluster import RedisCluster

    return isinstance(client, RedisCluster)


def pool_of(client: t.Any) -> t.Any:
    """The pool to borrow connections from, or ``None``: use the client's API.

    ``None`` for a cluster client (not a ``redis.Redis``), a subclass that
    wraps ``execute_command``, a single-connection client and a client with
    client-side caching.

    >>> class Logged(redis.Redis):  # wraps its commands
    ...     def execute_command(self, *args, **options):
    ...         return super().execute_command(*args, **options)
    >>> client = redis.Redis()
    >>> pool_of(client) is client.connection_pool, pool_of(Logged())
    (True, None)
    """
    if not isinstance(client, redis.Redis):  # RedisCluster is not a redis.Redis
        return None
    if type(client).execute_command is not redis.Redis.execute_command:
        return None  # a subclass that wraps commands: let it see them
    if getattr(client, "connection", None) is not None:  # single_connection_client
        return None
    pool = client.connection_pool
    if getattr(pool, "cache", None) is not None:  # client-side caching (>= 5.1)
        return None
    return pool


def connection_factory(pool: t.Any) -> Callable[[], t.Any]:
    """The pool's "make a new connection" (counted against max_connections).

    The connection is not connected yet; it connects on its first command.

    >>> pool = redis.Redis().connection_pool
    >>> connection = connection_factory(pool)()
    >>> created_connections(pool), socket_of(connection) is None
    (1, True)
    """
    return t.cast(Callable[[], t.Any], pool.make_connection)


def created_connections(pool: t.Any) -> int:
    """How many connections ``pool`` has made so far.

    >>> created_connections(redis.Redis().connection_pool)
    0
    """
    return int(getattr(pool, "_created_connections", 0))


def socket_of(connection: t.Any) -> t.Any:
    """The socket of a redis-py connection, ``None`` when it is not connected.

    (For tests that inject faults on the connection a backend holds.)

    >>> socket_of(redis.Redis().connection_pool.make_connection()) is None
    True
    """
    return connection._sock


def packed_command(connection: t.Any, args: tuple[t.Any, ...]) -> list[bytes]:
    """``args`` packed as ``connection.send_command(*args)`` would pack them,
    for ``connection.send_packed_command()``.

    When redis-py packs with hiredis (``HiredisRespSerializer``) this calls
    hiredis itself: the same bytes (our command names hold no spaces, our
    arguments are ``str``, ``bytes`` and numbers) without the serializer's
    argument rewriting, which was a tenth of the client's cost of a one-key
    Redis read (callgrind). Checked per command (one type test): a
    connection may have been given another packer.

    >>> packed_command(redis.Redis().connection_pool.make_connection(), ("GET", "k"))
    [b'*2\\r\\n$3\\r\\nGET\\r\\n$1\\r\\nk\\r\\n']
    """
    packer = _HiredisPacker
    if packer is not None and type(connection._command_packer) is packer:
        assert _pack_with_hiredis is not None  # imported together
        return [_pack_with_hiredis(args)]
    return list(connection.pack_command(*args))
