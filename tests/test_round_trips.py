"""Store round trips per request on real Redis and Memcached servers (issue 6).

Each count is taken twice: by a :class:`CountingBackend` around the
middleware's backend and,
independently, by the server. Redis: its SLOWLOG (threshold 0 during these
tests) records every command with the address of the client that sent it;
commands a Lua script runs inside the server carry the address ``?:0`` and
are not round trips. Memcached: the deltas of its ``stats`` counters.
"""

from __future__ import annotations

import typing as t
from collections.abc import Iterator

import pytest
from servers import MemcachedServer, RedisServer, send
from werkzeug.test import Client

from tests.apps import wrap
from wsgi_session import SessionMiddleware
from wsgi_session.stores import CountingBackend
from wsgi_session.stores.cachelib_compat import redis_clients

redis = pytest.importorskip("redis")

_LUA_CLIENT = "?:0"
_COUNTER_NAME = "round-trip-counter"


class RedisCommands:
    """The commands clients other than this counter sent, read from SLOWLOG."""

    def __init__(self, server: RedisServer) -> None:
        self.admin = redis.Redis(
            host=server.host, port=server.port, client_name=_COUNTER_NAME
        )
        self.previous = {
            name: self.admin.config_get(name)[name]
            for name in ("slowlog-log-slower-than", "slowlog-max-len")
        }
        self.admin.config_set("slowlog-max-len", 10_000)
        self.admin.config_set("slowlog-log-slower-than", 0)
        self.raw = self.admin.connection_pool.make_connection()  # named too
        self.raw.connect()
        self.admin.slowlog_reset()

    def _slowlog(self) -> list[t.Any]:
        """SLOWLOG GET as the server sent it: [id, time, µs, args, address,
        name] per entry (redis-py's parsing of it differs between versions)."""
        self.raw.send_command("SLOWLOG", "GET", 10_000)
        return list(self.raw.read_response())

    def _entries(self) -> list[tuple[str, str]]:
        found = []
        for entry in reversed(self._slowlog()):  # oldest first
            args, address, name = entry[3], entry[4], entry[5]
            if name in (_COUNTER_NAME, _COUNTER_NAME.encode()):
                continue
            if isinstance(address, bytes):
                address = address.decode()
            command = args[0]
            if isinstance(command, bytes):
                command = command.decode("utf-8", "replace")
            found.append((address, command.upper()))
        return found

    def take(self) -> tuple[list[str], list[str]]:
        """(client commands, commands run inside scripts) since the last take."""
        entries = self._entries()
        self.admin.slowlog_reset()
        sent = [name for address, name in entries if address != _LUA_CLIENT]
        inside = [name for address, name in entries if address == _LUA_CLIENT]
        return sent, inside

    def close(self) -> None:
        for name, value in self.previous.items():
            self.admin.config_set(name, value)
        self.admin.slowlog_reset()
        self.raw.disconnect()
        self.admin.close()


@pytest.fixture
def redis_commands(
    redis_server: RedisServer, redis_url: str
) -> Iterator[RedisCommands]:
    """Server-side command log of the test Redis (restored afterwards)."""
    counter = RedisCommands(redis_server)
    yield counter
    counter.close()


class Measured(t.NamedTuple):
    backend: int
    sent: list[str]
    inside: list[str]


def measure(
    mw: SessionMiddleware, commands: RedisCommands, c: Client, path: str
) -> Measured:
    """Run one request; return the backend's count and the server's log."""
    counted = counting(mw)
    commands.take()
    before = counted.round_trips
    response = c.get(path)
    assert response.status_code == 200
    sent, inside = commands.take()
    return Measured(counted.round_trips - before, sent, inside)


def counting(mw: SessionMiddleware) -> CountingBackend:
    """The middleware's backend, wrapped in a counter (once)."""
    if not isinstance(mw.backend, CountingBackend):
        mw.backend = CountingBackend(mw.backend)
    return mw.backend


@pytest.fixture
def redis_app(
    redis_url: str, redis_commands: RedisCommands
) -> tuple[SessionMiddleware, Client]:
    """A middleware on the test Redis and a client that already has a session.

    The set-up request also loads the Lua scripts and opens the connection,
    so the measured requests pay neither.
    """
    mw = wrap(store=redis_url)
    c = Client(mw)
    assert c.get("/?set=a:1").status_code == 200
    assert c.get("/?set=b:2").status_code == 200  # the merge script, loaded
    return mw, c


def test_redis_untouched_request_makes_no_round_trip(redis_app, redis_commands):
    """A request that never touches the session sends Redis nothing."""
    mw, c = redis_app
    assert measure(mw, redis_commands, c, "/?touch=0") == Measured(0, [], [])


def test_redis_read_only_request_is_exactly_one_hgetall(redis_app, redis_commands):
    """A read-only request is one round trip: HGETALL, and no write back."""
    mw, c = redis_app
    assert measure(mw, redis_commands, c, "/") == Measured(1, ["HGETALL"], [])


def test_redis_burst_of_reads_writes_nothing(redis_app, redis_commands):
    """Ten read-only requests in a row cost ten loads and no refresh write."""
    mw, c = redis_app
    for _ in range(10):
        assert measure(mw, redis_commands, c, "/").sent == ["HGETALL"]


def test_redis_one_key_write_is_a_load_and_one_atomic_save(redis_app, redis_commands):
    """A one-key write in merge mode: HGETALL, then one EVALSHA; no lock commands."""
    mw, c = redis_app
    measured = measure(mw, redis_commands, c, "/?set=c:3")
    assert measured.backend == 2
    assert measured.sent == ["HGETALL", "EVALSHA"]


def test_redis_merge_script_runs_inside_the_server(redis_app, redis_commands):
    """The merge's field writes and TTL happen inside the script, not as round trips."""
    mw, c = redis_app
    measured = measure(mw, redis_commands, c, "/?set=c:3")
    assert "HSET" in measured.inside and "PEXPIRE" in measured.inside
    assert not {"HSET", "PEXPIRE", "SET", "DEL"} & set(measured.sent)


def test_redis_new_session_is_one_round_trip_without_a_load(redis_url, redis_commands):
    """A new session (no cookie) is created by one EVALSHA; nothing is loaded."""
    mw = wrap(store=redis_url)
    warm = Client(mw)
    warm.get("/?set=a:1")  # connection and create script ready
    measured = measure(mw, redis_commands, Client(mw), "/?set=a:1")
    assert measured == Measured(1, ["EVALSHA"], measured.inside)


def test_redis_regenerate_is_load_create_then_delete(redis_app, redis_commands):
    """regenerate(): load, create the new entry, then delete the old one: three."""
    mw, c = redis_app
    measured = measure(mw, redis_commands, c, "/?regenerate=1")
    assert measured.backend == 3
    assert measured.sent == ["HGETALL", "EVALSHA", "DEL"]


def test_redis_destroy_is_load_and_delete(redis_app, redis_commands):
    """destroy(): load and one DEL; the emptied session is not written again."""
    mw, c = redis_app
    measured = measure(mw, redis_commands, c, "/?destroy=1")
    assert measured == Measured(2, ["HGETALL", "DEL"], [])


def test_redis_request_with_an_unknown_id_makes_one_round_trip(
    redis_app, redis_commands
):
    """A cookie whose session is gone costs one HGETALL and no write."""
    mw, c = redis_app
    redis_clients(mw.store)[0].flushdb()
    assert measure(mw, redis_commands, c, "/") == Measured(1, ["HGETALL"], [])


# -- Memcached ------------------------------------------------------------------

memcache = pytest.importorskip("memcache")

_STATS = (
    "cmd_get",
    "cmd_set",
    "cas_hits",
    "cas_misses",
    "delete_hits",
    "delete_misses",
    "cmd_touch",
    "incr_hits",
    "incr_misses",
)


def memcached_stats(server: MemcachedServer) -> dict[str, int]:
    """The server's operation counters."""
    reply = send(server.port, b"stats\r\n", b"END\r\n").decode()
    stats = {}
    for line in reply.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == "STAT" and parts[1] in _STATS:
            stats[parts[1]] = int(parts[2])
    return stats


def memcached_delta(
    server: MemcachedServer, mw: SessionMiddleware, c: Client, path: str
) -> tuple[int, dict[str, int]]:
    """Run one request; return the backend's count and the server's counter deltas."""
    counter = counting(mw)
    before, counted = memcached_stats(server), counter.round_trips
    assert c.get(path).status_code == 200
    after = memcached_stats(server)
    delta = {k: after[k] - before[k] for k in _STATS if after[k] != before[k]}
    return counter.round_trips - counted, delta


@pytest.fixture
def memcached_app(memcached_url: str) -> tuple[SessionMiddleware, Client]:
    """A middleware on the test memcached and a client that already has a session."""
    mw = wrap(store=memcached_url)
    c = Client(mw)
    assert c.get("/?set=a:1").status_code == 200
    return mw, c


def test_memcached_untouched_request_makes_no_round_trip(
    memcached_server, memcached_app
):
    """A request that never touches the session sends memcached nothing."""
    mw, c = memcached_app
    assert memcached_delta(memcached_server, mw, c, "/?touch=0") == (0, {})


def test_memcached_read_only_request_is_one_get(memcached_server, memcached_app):
    """A read-only request is one ``gets`` and no write back."""
    mw, c = memcached_app
    assert memcached_delta(memcached_server, mw, c, "/") == (1, {"cmd_get": 1})


def test_memcached_write_uses_cas_and_no_lock(memcached_server, memcached_app):
    """A write is merged by compare-and-set: no add / delete of a lock item."""
    mw, c = memcached_app
    counted, delta = memcached_delta(memcached_server, mw, c, "/?set=b:2")
    assert delta.get("cas_hits") == 1
    assert delta.get("cmd_set") == 1  # the CAS is the only store command
    assert "delete_hits" not in delta and "delete_misses" not in delta
    assert counted == sum(delta.get(k, 0) for k in ("cmd_get", "cmd_set"))


def test_memcached_write_is_the_load_and_one_cas(memcached_server, memcached_app):
    """A write is two round trips: the load's ``gets`` and one ``cas`` with its id."""
    mw, c = memcached_app
    assert memcached_delta(memcached_server, mw, c, "/?set=b:2") == (
        2,
        {"cmd_get": 1, "cmd_set": 1, "cas_hits": 1},
    )
