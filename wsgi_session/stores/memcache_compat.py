"""Every use of python-memcached beyond its documented API, in one place.

Supported: python-memcached ``>=1.59,<2`` (:data:`SUPPORTED`, pinned in
``setup.cfg``; CI runs the store tests with the oldest and the newest);
pylibmc ``>=1.6,<2`` is used through its documented API only.

python-memcached answers a dead server with a silent ``None`` / ``0``, keeps
CAS ids in a per-thread dict, and leaks the socket of a failed connect. The
backend therefore picks and connects the server of a key itself
(:func:`server_for`), asks whether a falsy answer was the server dying
(:func:`failed`), and moves CAS ids in and out of the client (:func:`gets`,
:func:`cas`)::

    >>> client = make_client(["127.0.0.1:11211"], socket_timeout=1, dead_retry=1,
    ...                      max_value_length=1000)
    >>> is_python_memcached(client), client.server_max_value_length
    (True, 1000)
"""

from __future__ import annotations

import pickle
import socket
import typing as t

from ..errors import StoreUnavailable
from .requirements import RANGES

__all__ = [
    "SUPPORTED",
    "RefusingUnpickler",
    "cas",
    "close_servers",
    "failed",
    "gets",
    "is_python_memcached",
    "make_client",
    "server_for",
    "server_name",
    "servers_of",
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
    """A python-memcached client with CAS on that never unpickles."""
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
    """True for a python-memcached client (it keeps CAS ids in ``cas_ids``)."""
    return hasattr(client, "cas_ids")


def servers_of(client: t.Any) -> list[t.Any]:
    """The client's server objects."""
    return list(client.servers)


def close_servers(servers: list[t.Any]) -> None:
    """Close the sockets of python-memcached server objects."""
    for server in servers:
        server.close_socket()


def server_name(server: t.Any) -> str:
    """``inet:host:port`` of a server object, for messages."""
    return str(server).split(" (", 1)[0]


def server_for(client: t.Any, bkey: bytes) -> t.Any:
    """The connected server owning ``bkey``; StoreUnavailable if unreachable."""
    import memcache

    if not client.buckets:
        raise StoreUnavailable("no memcached server configured")
    server = client.buckets[memcache.serverHashFunction(bkey) % len(client.buckets)]
    if not _connect(server):
        raise StoreUnavailable(f"memcached server {server_name(server)} is unreachable")
    return server


def failed(server: t.Any) -> bool:
    """After a falsy answer: True if it was the server failing (socket dropped)."""
    return server.socket is None


def gets(client: t.Any, bkey: bytes) -> tuple[t.Any, object]:
    """``(value, cas id)`` of ``bkey`` (``None`` values when it is absent)."""
    client.cache_cas = True  # this thread's copy; needed to see CAS ids
    value = client.gets(bkey)
    return value, client.cas_ids.pop(bkey, None)


def cas(client: t.Any, bkey: bytes, value: bytes, cas_id: object, exptime: int) -> bool:
    """Store ``value`` only if ``bkey`` still has ``cas_id``."""
    client.cas_ids[bkey] = cas_id
    try:
        return bool(client.cas(bkey, value, time=exptime))
    finally:
        client.cas_ids.pop(bkey, None)


def _connect(server: t.Any) -> bool:
    """Connect a python-memcached server like its ``connect()``, but close the
    socket when the connection fails (python-memcached leaks it)."""
    if server.socket is not None:
        return True
    if server._check_dead():
        return False
    sock = socket.socket(server.family, socket.SOCK_STREAM)
    sock.settimeout(server.socket_timeout)
    try:
        sock.connect(server.address)
    except OSError as exc:
        sock.close()
        server.mark_dead(f"connect: {exc}")
        return False
    server.socket = sock
    server.buffer = b""
    if server.flush_on_next_connect:
        server.flush()
        server.flush_on_next_connect = 0
    return True
