"""Send one command to Redis and read its reply, spending little client CPU.

:class:`Wire` is what :class:`~wsgi_session.stores.redis.RedisBackend` talks
through. Over a plain ``redis.Redis`` client (Sentinel ``master_for()``
clients included) it writes the command on a connection of its own and reads
the raw reply: none of the client's command dispatch, response callbacks or
``Script`` objects run. Its connections are made by the client's pool (so
they count against ``max_connections`` and use the pool's settings) but kept
on a free list of the wire's: redis-py's check-out and check-in cost about
10 µs per command (two ``getpid`` calls, a non-blocking ``recv`` probe,
metrics), more than all of our own work for a session read. The probe is not
needed here: a connection goes back on the free list only after a complete
reply (any other failure disconnects it), and a forked child forgets the
parent's connections (``os.register_at_fork``). Any other client (a
``redis.cluster.RedisCluster``, a single-connection or client-side-caching
client, a subclass that overrides ``execute_command``) goes through its own
``execute_command``, which routes, retries and caches as that client does.

Every error of the client that means "the store cannot serve this now"
(:func:`~wsgi_session.stores.redis_compat.unavailable_errors`: redis-py's
errors and its cluster client's) leaves as
:class:`~wsgi_session.errors.StoreUnavailable` with the original attached; a
``NOSCRIPT`` reply is handled by sending the script's source once (``EVAL``,
which also caches it on the server).

Retries on the direct path: a connection that fails (closed by the server,
reset) is disconnected and the command is sent once more on a new socket —
for an *idempotent* command after any connection error, for any other only
if the error came while sending (the server cannot have run an incomplete
command). A command that was fully sent is not repeated if repeating it
could report a different outcome (``create`` would find its own record and
say "exists"; ``SET NX`` would find its own lock): the caller gets
``StoreUnavailable`` instead. (A repeated merge re-applies the same values;
at worst it reports GONE where the lost run emptied the session, and both
end the session.) Timeouts are never retried: the server may still run the
command, and a retry would double the wait. The connection's own health
check (``health_check_interval``) runs inside its ``send_command``, as
with the client's API.

The wire knows which of its connections are connected without asking
redis-py: a connection goes on the ``_idle`` list only after a complete
reply (connected), and on the ``_cold`` list when new or disconnected after
a failure. What it needs from inside redis-py comes from
:mod:`~wsgi_session.stores.redis_compat`, looked up once per wire.
"""

from __future__ import annotations

import hashlib
import os
import typing as t
import weakref
from collections.abc import Callable, Sequence

from ..errors import ConfigError, StoreUnavailable
from .redis_compat import (
    ConnectionError,
    NoScriptError,
    ResponseError,
    connection_factory,
    created_connections,
    is_timeout,
    packed_command,
    pool_of,
    unavailable_errors,
)

__all__ = ["Script", "Wire"]

#: What a command argument may be (the connection's encoder packs it).
Arg = t.Union[bytes, str, int, float]


def _ignore() -> None:
    """The default ``on_send``: nobody is counting."""


class Script(t.NamedTuple):
    """A Lua script and its SHA1, as EVALSHA wants it.

    >>> Script.of("return 1").sha
    'e0e1f9fabfc9d4800c877a703b823ac0578ff8db'
    """

    source: bytes
    sha: str

    @classmethod
    def of(cls, source: str) -> Script:
        """Build the script of ``source``."""
        data = source.encode("utf-8")
        return cls(data, hashlib.sha1(data, usedforsecurity=False).hexdigest())


#: Every Wire, so that a forked child can drop the connections it inherited.
_wires: weakref.WeakSet[Wire] = weakref.WeakSet()


def _forget_connections() -> None:
    """In a forked child: the parent's sockets are not ours to use."""
    for wire in list(_wires):
        wire.forget_connections()


if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(after_in_child=_forget_connections)


class Wire:
    """Commands to one redis-py client; ``on_send`` is called once per command.

    >>> import redis
    >>> Wire(redis.Redis()).direct
    True
    >>> Wire(redis.Redis(decode_responses=True))
    Traceback (most recent call last):
      ...
    wsgi_session.errors.ConfigError: the Redis client must not use decode_responses=True
    """

    def __init__(self, client: t.Any, on_send: Callable[[], object] = _ignore) -> None:
        try:
            decoding = client.get_encoder().decode_responses
        except AttributeError:
            decoding = False
        if decoding:
            raise ConfigError(
                "the Redis client must not use decode_responses=True", key="store"
            )
        self.client = client
        #: What the client raises for a store that cannot serve a command now.
        self._unavailable = unavailable_errors(client)
        #: Called once per command sent (a repeated command counts again).
        self.on_send = on_send
        self._pool = pool_of(client)
        #: True when commands go straight to connections of our own.
        self.direct = self._pool is not None
        self._new = connection_factory(self._pool) if self.direct else None
        #: Connected connections ready for a command, and connections that
        #: are not connected (new, or dropped after a failure). Each is taken
        #: and put back by one thread at a time: list.pop / append are atomic.
        self._idle: list[t.Any] = []
        self._cold: list[t.Any] = []
        _wires.add(self)

    def forget_connections(self) -> None:
        """Drop every connection held (in a forked child: not ours to use)."""
        self._idle = []
        self._cold = []

    def call(self, *args: Arg, idempotent: bool = True) -> t.Any:
        """Send one command; return its raw reply.

        ``idempotent=False`` marks a command whose repetition could report a
        different outcome; it is never sent twice (see the module docs).
        """
        try:
            return self._send(args, idempotent)
        except self._unavailable as exc:
            raise StoreUnavailable(f"redis: {exc}", original=exc) from exc

    def run(
        self, script: Script, key: Arg, args: Sequence[Arg], *, idempotent: bool = True
    ) -> t.Any:
        """Run ``script`` on one key (EVALSHA; EVAL after ``NOSCRIPT``)."""
        try:
            try:
                return self._send(("EVALSHA", script.sha, 1, key, *args), idempotent)
            except NoScriptError:  # not run: the server lost or never had it
                return self._send(("EVAL", script.source, 1, key, *args), idempotent)
        except self._unavailable as exc:
            raise StoreUnavailable(f"redis: {exc}", original=exc) from exc

    def _send(self, args: tuple[Arg, ...], idempotent: bool) -> t.Any:
        if self._pool is None:
            self.on_send()
            return self.client.execute_command(*args)
        idle = self._idle
        try:
            conn = idle.pop()
        except IndexError:  # none connected: a failure to connect is final
            return self._first(args)
        try:
            reply = self._exchange(conn, args, idempotent)
        except ResponseError:
            idle.append(conn)  # a complete error reply: the connection is clean
            raise
        except BaseException:
            conn.disconnect()  # never reuse a connection in an unknown state
            self._cold.append(conn)  # (it reconnects on its next command)
            raise
        idle.append(conn)
        return reply

    def _first(self, args: tuple[Arg, ...]) -> t.Any:
        """Send on a connection that is not connected yet: connect, then send."""
        try:
            conn = self._cold.pop()
        except IndexError:
            conn = self._new()  # type: ignore[misc]
        try:
            self.on_send()
            conn.connect()  # (what Sentinel's connections override to find
            conn.send_command(*args)  # the master; send_command would not)
            reply = conn.read_response()
        except ResponseError:
            self._idle.append(conn)
            raise
        except BaseException:
            conn.disconnect()
            self._cold.append(conn)
            raise
        self._idle.append(conn)
        return reply

    @property
    def busy(self) -> int:
        """Connections made for this wire and not back on one of its lists."""
        if not self.direct:
            return 0
        made = created_connections(self._pool)
        return made - len(self._idle) - len(self._cold)

    @property
    def connected(self) -> int:
        """Connections on the free list that are connected (a reply came last)."""
        return len(self._idle)

    def next_connection(self) -> t.Any:
        """The connected connection the next command will use, or ``None``.

        (For tests that make the server close it.)
        """
        return self._idle[-1] if self._idle else None

    def _exchange(self, conn: t.Any, args: tuple[Arg, ...], idempotent: bool) -> t.Any:
        """Write ``args`` to connected ``conn``, read the reply; once more if safe."""
        self.on_send()
        sent = False
        try:  # send_packed_command runs the connection's health check too
            conn.send_packed_command(packed_command(conn, args))
            sent = True
            return conn.read_response()
        except ConnectionError as exc:  # the server closed an idle connection
            conn.disconnect()
            if (sent and not idempotent) or is_timeout(exc):
                raise
        self.on_send()
        conn.connect()  # a new socket
        conn.send_command(*args)
        return conn.read_response()
