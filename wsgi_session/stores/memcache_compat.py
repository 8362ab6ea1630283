"""Every use of python-memcached beyond its documented API, in one place.

Supported: python-memcached ``>=1.59,<2`` (:data:`SUPPORTED`, pinned in
``setup.cfg``; CI runs the store tests with the oldest and the newest);
pylibmc ``>=1.6,<2`` is used through its documented API only.

python-memcached answers a dead server with a silent ``None`` / ``0`` and
spends several microseconds of client CPU per command, so the backend sends
its commands through :class:`~wsgi_session.stores.memcache_wire.Wire`
instead, to the servers of the client (:func:`buckets`) chosen by the
client's own key hash (:func:`key_hash`)::

    >>> client = make_client(["127.0.0.1:11211"], socket_timeout=1, dead_retry=1,
    ...                      max_value_length=1000)
    >>> is_python_memcached(client), client.server_max_value_length
    (True, 1000)
    >>> [server.name for server in buckets(client)], timeouts(client)
    (['inet:127.0.0.1:11211'], (1.0, 1.0))
"""

from __future__ import annotations

import pickle
import typing as t

from ..errors import StoreUnavailable
from .memcache_wire import Server
from .requirements import RANGES

__all__ = [
    "SUPPORTED",
    "RefusingUnpickler",
    "buckets",
    "is_python_memcached",
    "key_hash",
    "make_client",
    "timeouts",
]

#: The python-memcached versions this module is written and tested for.
SUPPORTED = RANGES["python-memcached"]


class RefusingUnpickler:
    """An ``unpickler`` for python-memcached that refuses every value.

    >>> import io
    >>> RefusingUnpickler(io.BytesIO(b"")).load()
    Traceback (most recent call last):
    ...
    _pickle.UnpicklingError: wsgi_session never unpickles store data
    """

    def __init__(self, file: t.IO[bytes]) -> None:
        self.file = file

    def load(self) -> t.NoReturn:
        """Refuse."""
        raise pickle.UnpicklingError("wsgi_session never unpickles store data")


def make_client(
    servers: list[str],
    *,
    socket_timeout: float,
    dead_retry: float,
    max_value_length: int,
) -> t.Any:
    """A python-memcached client with CAS on that never unpickles.

    No connection is made until the first command.

    >>> client = make_client(["127.0.0.1:11211"], socket_timeout=1, dead_retry=30,
    ...                      max_value_length=1024 * 1024)
    >>> client.cache_cas, client.unpickler is RefusingUnpickler
    (True, True)
    """
    import memcache

    return memcache.Client(
        servers,
        cache_cas=True,
        unpickler=RefusingUnpickler,
        server_max_value_length=max_value_length,
        socket_timeout=socket_timeout,
        dead_retry=dead_retry,
    )


def is_python_memcached(client: object) -> bool:
    """True for a python-memcached client (it keeps CAS ids in ``cas_ids``).

    >>> client = make_client(["127.0.0.1:11211"], socket_timeout=1, dead_retry=1,
    ...                      max_value_length=1000)
    >>> is_python_memcached(client), is_python_memcached(object())
    (True, False)
    """
    return hasattr(client, "cas_ids")


def buckets(client: t.Any) -> list[Server]:
    """The client's hash buckets as wire servers (one per weight unit, in the
    client's order, so a key hashes to the server python-memcached would use).

    >>> client = make_client(["10.0.0.1:11211", ("10.0.0.2:11211", 2)],
    ...                      socket_timeout=1, dead_retry=1, max_value_length=1000)
    >>> [server.name for server in buckets(client)]  # the second has weight 2
    ['inet:10.0.0.1:11211', 'inet:10.0.0.2:11211', 'inet:10.0.0.2:11211']
    """
    servers: dict[int, Server] = {}
    for host in client.buckets:
        if id(host) not in servers:
            servers[id(host)] = Server(host.family, host.address, _name(host))
    return [servers[id(host)] for host in client.buckets]


def timeouts(client: t.Any) -> tuple[float | None, float]:
    """``(socket_timeout, dead_retry)`` the client's servers were given.

    ``None`` is no timeout; a client without servers is StoreUnavailable.

    >>> timeouts(make_client([], socket_timeout=1, dead_retry=1, max_value_length=1))
    Traceback (most recent call last):
    ...
    wsgi_session.errors.StoreUnavailable: no memcached server configured
    """
    if not client.servers:
        raise StoreUnavailable("no memcached server configured")
    host = client.servers[0]
    timeout = None if host.socket_timeout is None else float(host.socket_timeout)
    return timeout, float(host.dead_retry)


def key_hash(bkey: bytes) -> int:
    """python-memcached's hash of a key, which picks the key's server.

    The hash function is looked up at each call, as the client does, so an
    application that replaced it keeps its placement.

    >>> key_hash(b"wss:{a}"), key_hash(b"wss:{a}") == key_hash(b"wss:{b}")
    (4615, False)
    """
    import memcache

    return int(memcache.serverHashFunction(bkey))


def _name(host: t.Any) -> str:
    """``inet:host:port`` of a python-memcached server, for messages."""
    return str(host).split(" (", 1)[0]
