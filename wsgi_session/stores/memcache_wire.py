"""Memcached's text protocol on sockets of our own, spending little client CPU.

:class:`Wire` is what :class:`~wsgi_session.stores.memcached.MemcachedBackend`
talks through when the store's client is python-memcached. It sends the five
commands the backend needs (``gets``, ``set`` / ``add`` / ``replace`` /
``cas``, ``delete``) to the server python-memcached would pick for the key,
and reads the reply itself. python-memcached's own path costs about 6 µs of
client CPU per command on top of the round trip (its per-thread client, key
checks, line buffering and value flags), and it answers a dead server with
a silent ``None``; the wire answers every failure with
:class:`~wsgi_session.errors.StoreUnavailable` and every value that is not
plain bytes (python-memcached's flags for pickles, integers, text or
compression) with ``ValueError``.

Connections: each server keeps a free list of connected sockets; a command
takes one (``list.pop`` and ``append`` are atomic, so threads share the
lists without a lock) and puts it back only after a complete, well-formed
reply. Any other outcome closes it. A forked child closes the sockets it
inherited (``os.register_at_fork``) and opens its own.

Failures: a connection refused or timing out, and a reply that is cut off or
malformed, raise StoreUnavailable, and the first two mark the server dead for
``dead_retry`` seconds (as python-memcached does: requests then fail at once
instead of each waiting for a timeout). A socket from the free list that
turns out to be closed by the server (memcached restarted, or dropped an idle
connection) closes every other idle socket of that server too, and the
command is sent once more on a new connection when that is safe: when it is
idempotent (``gets``, ``set``, ``replace``), or when the failure came while
sending. ``cas``, ``add`` and ``delete`` that were fully sent are not
repeated: a repetition could report a different outcome (a ``cas`` finding
its own write would say "exists").

Servers and key hashing come from python-memcached through
:mod:`~wsgi_session.stores.memcache_compat`::

    >>> server = Server(socket.AF_INET, ("127.0.0.1", 1), "inet:127.0.0.1:1")
    >>> wire = Wire([server], timeout=0.5, dead_retry=1.0, key_hash=hash)
    >>> wire.gets(b"some key")
    Traceback (most recent call last):
      ...
    ValueError: not a valid memcached key: b'some key'
"""

from __future__ import annotations

import os
import re
import socket
import struct
import sys
import time
import typing as t
import weakref
from collections.abc import Callable, Sequence

from ..errors import StoreUnavailable

__all__ = ["Server", "Wire"]

#: Keys memcached's text protocol can carry: 1-250 bytes, no space or control.
_valid_key = re.compile(rb"[\x21-\x7e\x80-\xff]{1,250}").fullmatch
#: How much one ``recv`` asks for (a small session's reply fits in one).
_CHUNK = 65536
#: Longer than any line memcached sends (a VALUE header, an error message).
_LONGEST_LINE = 1024
#: Commands whose repetition reports what their first run would have.
_IDEMPOTENT = frozenset({b"set", b"replace"})
#: What a reply reader returns.
_R = t.TypeVar("_R")


class _Closed(ConnectionError):
    """The server closed the connection before its reply was complete."""


class _Malformed(Exception):
    """A reply that is not what memcached sends for the command."""


class _Stale(Exception):
    """A connection taken from the idle list was closed by the server;
    ``sent`` tells whether the whole request had gone out."""

    def __init__(self, error: ConnectionError, sent: bool) -> None:
        super().__init__(error)
        self.error = error
        self.sent = sent


class Server:
    """One memcached server: its address and its idle connected sockets.

    >>> Server(socket.AF_INET, ("127.0.0.1", 11211), "inet:127.0.0.1:11211").name
    'inet:127.0.0.1:11211'
    """

    __slots__ = ("address", "dead_until", "family", "idle", "name")

    def __init__(self, family: int, address: t.Any, name: str) -> None:
        self.family = family
        self.address = address
        self.name = name
        #: Connected sockets not in use (a reply came last on each).
        self.idle: list[socket.socket] = []
        #: ``time.monotonic()`` before which the server counts as dead.
        self.dead_until = 0.0

    def close_idle(self) -> None:
        """Close every idle socket of this server."""
        idle = self.idle
        while idle:  # pop, not swap: another thread may be putting one back
            try:
                sock = idle.pop()
            except IndexError:
                return
            sock.close()


def _close_all(servers: list[Server]) -> None:
    for server in servers:
        server.close_idle()


#: Every Wire, so that a forked child can close the sockets it inherited.
_wires: weakref.WeakSet[Wire] = weakref.WeakSet()


def _close_inherited() -> None:
    """In a forked child: close our copies of the parent's sockets (the
    parent's connections stay open; closing a copy sends nothing)."""
    for wire in list(_wires):
        wire.close()


if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(after_in_child=_close_inherited)


class Wire:
    """Commands to memcached servers.

    ``buckets`` lists the server of each hash bucket (a server may fill
    several, by weight); ``key_hash`` maps a key to a bucket number, as the
    client whose servers these are does.
    """

    def __init__(
        self,
        buckets: Sequence[Server],
        *,
        timeout: float | None,
        dead_retry: float,
        key_hash: Callable[[bytes], int],
    ) -> None:
        self._buckets = list(buckets)
        self._key_hash = key_hash
        self.timeout = timeout
        self.dead_retry = dead_retry
        servers = list({id(s): s for s in self._buckets}.values())
        self.servers: list[Server] = servers
        weakref.finalize(self, _close_all, servers)
        _wires.add(self)

    def close(self) -> None:
        """Close every idle connection (busy ones close when their command ends)."""
        _close_all(self.servers)

    # -- the commands -------------------------------------------------------

    def gets(self, key: bytes) -> tuple[bytes | None, int | None]:
        """``(value, cas id)`` of ``key``; ``(None, None)`` when it is absent."""
        found = self._ask(key, b"gets " + key + b"\r\n", True, _read_value)
        if found is None:
            return None, None
        flags, value, cas = found
        if flags != b"0":  # pickled, an int, text or compressed: never ours
            raise ValueError("memcached value is not a session record")
        return value, cas

    def store(
        self, cmd: bytes, key: bytes, value: bytes, exptime: int, cas: object = None
    ) -> bool:
        """``set`` / ``add`` / ``replace`` / ``cas`` (with ``cas`` the id a
        ``gets`` returned); ``False`` when memcached did not store it."""
        header = b"%s %s 0 %d %d" % (cmd, key, exptime, len(value))
        if cas is not None:
            header += b" %d" % t.cast(int, cas)
        request = b"".join((header, b"\r\n", value, b"\r\n"))
        reply = self._ask(key, request, cmd in _IDEMPOTENT, _read_line)
        return reply == b"STORED\r\n"  # else NOT_STORED, EXISTS or NOT_FOUND

    def delete(self, key: bytes) -> bool:
        """Delete ``key``; ``True`` if it was there."""
        reply = self._ask(key, b"delete " + key + b"\r\n", False, _read_line)
        return reply == b"DELETED\r\n"

    # -- one exchange ---------------------------------------------------------

    def _ask(
        self,
        key: bytes,
        request: bytes,
        idempotent: bool,
        read: Callable[[socket.socket], _R],
    ) -> _R:
        """Send ``request`` to the server of ``key``; return what ``read``
        made of the reply."""
        if not _valid_key(key):
            raise ValueError(f"not a valid memcached key: {key!r}")
        buckets = self._buckets
        if len(buckets) == 1:
            server = buckets[0]
        else:
            server = buckets[self._key_hash(key) % len(buckets)]
        try:
            sock = server.idle.pop()
        except IndexError:
            return self._exchange(server, self._connect(server), request, read)
        try:
            return self._exchange(server, sock, request, read, idle=True)
        except _Stale as stale:  # closed by the server while idle?
            server.close_idle()  # (a restart closed all of them)
            if stale.sent and not idempotent:
                raise self._failed(server, stale.error, dead=False) from stale.error
        return self._exchange(server, self._connect(server), request, read)

    def _connect(self, server: Server) -> socket.socket:
        """A new connection to ``server`` (unless it failed lately)."""
        if server.dead_until and time.monotonic() < server.dead_until:
            raise StoreUnavailable(
                f"memcached server {server.name} failed less than"
                f" {self.dead_retry:g} s ago"
            )
        sock = socket.socket(server.family, socket.SOCK_STREAM)
        try:
            sock.settimeout(self.timeout)
            if server.family != socket.AF_UNIX:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.connect(server.address)
            if self.timeout:
                _kernel_timeouts(sock, self.timeout)
        except OSError as exc:
            sock.close()
            raise self._failed(server, exc) from exc
        except BaseException:
            sock.close()
            raise
        server.dead_until = 0.0
        return sock

    def _exchange(
        self,
        server: Server,
        sock: socket.socket,
        request: bytes,
        read: Callable[[socket.socket], _R],
        *,
        idle: bool = False,
    ) -> _R:
        """Send ``request`` on ``sock`` and return what ``read`` made of the
        reply; ``sock`` goes back to the idle list after a complete reply and
        is closed after anything else. On a socket that was ``idle``, the
        connection found closed raises :class:`_Stale`."""
        sent = False
        try:
            sock.sendall(request)
            sent = True
            reply = read(sock)
        except ConnectionError as exc:
            sock.close()
            if idle:
                raise _Stale(exc, sent) from exc
            raise self._failed(server, exc) from exc
        except (OSError, _Malformed) as exc:
            sock.close()
            raise self._failed(server, exc) from exc
        except BaseException:
            sock.close()
            raise
        server.idle.append(sock)
        return reply

    def _failed(
        self, server: Server, exc: OSError | _Malformed, *, dead: bool = True
    ) -> StoreUnavailable:
        """What to raise for ``exc``; a server that failed is dead for a while
        (a reply memcached sent, however wrong, does not make it dead)."""
        if isinstance(exc, _Malformed):
            return StoreUnavailable(f"memcached server {server.name}: {exc}")
        if dead:
            server.dead_until = time.monotonic() + self.dead_retry
            server.close_idle()
        if isinstance(exc, (BlockingIOError, socket.timeout)):  # see _kernel_timeouts
            reason = f"no answer within {self.timeout:g} s"
        else:
            reason = str(exc) or type(exc).__name__
        return StoreUnavailable(
            f"memcached server {server.name} failed: {reason}", original=exc
        )


def _kernel_timeouts(sock: socket.socket, seconds: float) -> None:
    """Make ``sock`` blocking with the kernel enforcing ``seconds`` on each
    send and receive (``SO_SNDTIMEO`` / ``SO_RCVTIMEO``), where the platform
    takes a ``struct timeval`` of two longs (Linux); elsewhere it keeps
    Python's timeout.

    Why: a socket with a Python timeout polls before every ``send`` and
    ``recv``, one more system call each. Without them a one-key ``gets``
    round trip takes 15.3 µs instead of 16.5 (same machine, memcached on the
    same CPU). A kernel timeout shows as ``BlockingIOError``; :meth:`Wire._failed`
    reports it as a timeout.
    """
    if not sys.platform.startswith("linux"):
        return
    whole = int(seconds)
    micro = max(int((seconds - whole) * 1_000_000), 0 if whole else 1)
    value = struct.pack("ll", whole, micro)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, value)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, value)
    except OSError:  # not this platform's timeval after all: keep Python's
        return
    sock.settimeout(None)


# -- reading replies -----------------------------------------------------------

#: Line replies that report an error instead of answering the command.
_ERRORS = (b"ERROR", b"CLIENT_ERROR", b"SERVER_ERROR")


def _more(sock: socket.socket, wanted: int = _CHUNK) -> bytes:
    data = sock.recv(wanted)
    if not data:
        raise _Closed("memcached closed the connection")
    return data


def _read_line(sock: socket.socket) -> bytes:
    """A one-line reply (``STORED``, ``DELETED``...), checked."""
    data = _more(sock)
    while not data.endswith(b"\r\n"):
        if len(data) > _LONGEST_LINE:
            raise _Malformed(f"malformed reply {data[:60]!r}")
        data += _more(sock)
    if data not in _LINES:
        raise _refused(data)
    return data


#: The one-line replies of the storage and delete commands.
_LINES = frozenset(
    {b"STORED\r\n", b"NOT_STORED\r\n", b"EXISTS\r\n", b"NOT_FOUND\r\n", b"DELETED\r\n"}
)


def _read_value(sock: socket.socket) -> tuple[bytes, bytes, int] | None:
    """The reply to a one-key ``gets`` as ``(flags, value, cas id)``, or
    ``None`` for ``END`` (absent), checked to the byte."""
    data = _more(sock)
    eol = data.find(b"\r\n")
    while eol < 0:
        if len(data) > _LONGEST_LINE:
            raise _Malformed(f"malformed reply {data[:60]!r}")
        data += _more(sock)
        eol = data.find(b"\r\n")
    if data == b"END\r\n":
        return None
    # VALUE <key> <flags> <bytes> <cas>\r\n<data>\r\nEND\r\n
    parts = data[:eol].split()
    if not (len(parts) == 5 and parts[0] == b"VALUE" and parts[3].isdigit()):
        raise _refused(data[: eol + 2])  # memcached's error line, or garbage
    start = eol + 2
    end = start + int(parts[3]) + 7  # the value, then \r\nEND\r\n
    if len(data) < end:
        chunks = [data]
        have = len(data)
        while have < end:
            chunk = _more(sock, max(end - have, _CHUNK))
            chunks.append(chunk)
            have += len(chunk)
        data = b"".join(chunks)
    if len(data) != end or not data.endswith(b"\r\nEND\r\n") or not parts[4].isdigit():
        raise _Malformed(f"malformed reply to gets ({len(data)} bytes)")
    return parts[2], data[start : end - 7], int(parts[4])


def _refused(line: bytes) -> _Malformed:
    """The exception for an unexpected line: memcached's error, or garbage."""
    text = line[:200].strip().decode("ascii", "replace")
    if line.startswith(_ERRORS):
        if b"too large" in line:
            return _Malformed(f"value too large for the store ({text})")
        return _Malformed(text)
    return _Malformed(f"malformed reply {line[:60]!r}")
