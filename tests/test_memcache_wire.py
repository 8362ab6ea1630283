"""memcache_wire.Wire against real memcached processes and a lying fake one.

Failures are made by the servers themselves: a restart closes every
connection the wire holds (as an idle timeout or a crash would), ``SIGSTOP``
freezes a server so that commands time out, and a loopback server of our
own sends cut-off or malformed replies that no memcached sends.
"""

from __future__ import annotations

import os
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from conftest import errors_in_threads, start_or_skip
from servers import HOST, MemcachedServer

from wsgi_session.errors import StoreUnavailable
from wsgi_session.stores.memcache_compat import buckets, key_hash
from wsgi_session.stores.memcache_wire import Server, Wire

memcache = pytest.importorskip("memcache")


@pytest.fixture(scope="module")
def server() -> Iterator[MemcachedServer]:
    """A memcached private to this module (its tests restart and freeze it)."""
    started = start_or_skip(MemcachedServer())
    yield started
    started.close()


@pytest.fixture
def mc(server: MemcachedServer) -> MemcachedServer:
    """The module's memcached, running, unfrozen and emptied."""
    server.ensure_up()
    server.flush()
    return server


def wire_to(
    port: int, *, timeout: float | None = 2.0, dead_retry: float = 0.05
) -> Wire:
    """A wire to the one server on ``port`` of loopback."""
    target = Server(socket.AF_INET, (HOST, port), f"inet:{HOST}:{port}")
    return Wire([target], timeout=timeout, dead_retry=dead_retry, key_hash=key_hash)


@pytest.fixture
def wire(mc: MemcachedServer) -> Iterator[Wire]:
    """A wire to the module's memcached, closed afterwards."""
    made = wire_to(mc.port)
    yield made
    made.close()


# -- the commands --------------------------------------------------------------


def test_gets_returns_the_value_and_a_cas_id_that_guards_the_next_write(wire):
    """A cas with the id gets returned stores; one with an outdated id does not."""
    assert wire.gets(b"k") == (None, None)
    assert wire.store(b"set", b"k", b"one", 60)
    value, cas = wire.gets(b"k")
    assert value == b"one" and isinstance(cas, int)
    assert wire.store(b"cas", b"k", b"two", 60, cas)
    assert not wire.store(b"cas", b"k", b"three", 60, cas)  # EXISTS
    assert wire.gets(b"k")[0] == b"two"


def test_add_replace_and_delete_report_whether_they_acted(wire):
    """add refuses a present key, replace an absent one, delete says if it found it."""
    assert not wire.store(b"replace", b"k", b"x", 60)
    assert wire.store(b"add", b"k", b"x", 60)
    assert not wire.store(b"add", b"k", b"y", 60)
    assert wire.store(b"replace", b"k", b"z", 60)
    assert wire.delete(b"k")
    assert not wire.delete(b"k")
    assert wire.gets(b"k") == (None, None)


def test_empty_and_binary_values_keep_every_byte(wire):
    """Values with CR LF, END lines and NUL bytes come back unchanged."""
    for value in (b"", b"\r\nEND\r\n", bytes(range(256)), b"VALUE k 0 1 1\r\n"):
        assert wire.store(b"set", b"k", value, 60)
        assert wire.gets(b"k")[0] == value


def test_a_value_of_about_a_megabyte_is_read_across_many_receives(wire):
    """A 1,000,000-byte value (the default limit) round-trips intact."""
    value = os.urandom(1_000_000)
    assert wire.store(b"set", b"big", value, 60)
    assert wire.gets(b"big")[0] == value
    assert wire.gets(b"absent") == (None, None)  # the connection is still in step


def test_a_value_stored_with_client_flags_is_a_value_error(wire, mc):
    """What python-memcached flags (an int, text, a pickle) is never read as ours."""
    other = memcache.Client([f"{HOST}:{mc.port}"])
    try:
        other.set("number", 5)
        other.set("text", "words")
        other.set("pickled", {"a": 1})
    finally:
        other.disconnect_all()
    for key in (b"number", b"text", b"pickled"):
        with pytest.raises(ValueError, match="not a session record"):
            wire.gets(key)
    assert wire.store(b"set", b"k", b"v", 60)  # and the wire goes on working
    assert wire.gets(b"k")[0] == b"v"


@pytest.mark.parametrize(
    "key", [b"", b"with space", b"new\nline", b"tab\t", b"x" * 251, b"\x7f"]
)
def test_invalid_keys_are_a_value_error_before_anything_is_sent(key):
    """A key memcached cannot carry is refused at once, with no server reachable."""
    nowhere = wire_to(1)  # port 1: nothing listens
    with pytest.raises(ValueError, match="not a valid memcached key"):
        nowhere.gets(key)
    with pytest.raises(ValueError, match="not a valid memcached key"):
        nowhere.store(b"set", key, b"v", 60)
    assert nowhere.servers[0].dead_until == 0.0


def test_a_key_of_250_bytes_and_non_ascii_bytes_are_valid(wire):
    """The longest key memcached takes, and UTF-8 key bytes, are sent."""
    for key in (b"k" * 250, "sessión".encode()):
        assert wire.store(b"set", key, b"v", 60)
        assert wire.gets(key)[0] == b"v"


def test_a_value_over_the_servers_item_size_says_too_large(wire):
    """memcached's 'object too large' (its item limit is 1 MiB) is
    StoreUnavailable naming the cause; the server is not marked dead, and the
    next command works."""
    with pytest.raises(StoreUnavailable, match="too large"):
        wire.store(b"set", b"k", b"x" * 1_100_000, 60)
    assert wire.servers[0].dead_until == 0.0
    assert wire.store(b"set", b"k", b"x" * 100, 60)
    assert wire.gets(b"k")[0] == b"x" * 100


def test_a_wire_without_timeout_works(mc):
    """timeout=None (python-memcached's socket_timeout=None) means blocking sockets."""
    wire = wire_to(mc.port, timeout=None)
    assert wire.store(b"set", b"k", b"v", 60)
    assert wire.gets(b"k")[0] == b"v"
    wire.close()


def test_a_server_on_a_unix_socket_is_reached_through_it(tmp_path):
    """python-memcached's ``unix:/path`` servers work: commands go over the socket."""
    import shutil
    import subprocess

    if shutil.which("memcached") is None:
        pytest.skip("memcached is not installed")
    path = tmp_path / "memcached.sock"
    argv = ["memcached", "-s", str(path), "-U", "0", "-m", "8"]
    if os.geteuid() == 0:
        argv += ["-u", "root"]
    process = subprocess.Popen(argv)
    try:
        deadline = time.monotonic() + 5
        while not path.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        client = memcache.Client([f"unix:{path}"])
        wire = Wire(buckets(client), timeout=1.0, dead_retry=1.0, key_hash=key_hash)
        assert wire.servers[0].family == socket.AF_UNIX
        assert wire.store(b"set", b"k", b"over the socket", 60)
        assert wire.gets(b"k")[0] == b"over the socket"
        assert client.get("k") == b"over the socket"  # the same server
        wire.close()
        client.disconnect_all()
    finally:
        process.terminate()
        process.wait(5)


# -- connections ---------------------------------------------------------------


def test_consecutive_commands_share_one_connection(wire):
    """Sequential commands take and give back the same idle socket."""
    wire.store(b"set", b"k", b"v", 60)
    (first,) = wire.servers[0].idle
    for _ in range(10):
        assert wire.gets(b"k")[0] == b"v"
    assert wire.servers[0].idle == [first]


def test_close_closes_the_idle_connections(wire):
    """close() leaves no idle socket, and the next command connects anew."""
    wire.store(b"set", b"k", b"v", 60)
    (sock,) = wire.servers[0].idle
    wire.close()
    assert wire.servers[0].idle == [] and sock.fileno() == -1
    assert wire.gets(b"k")[0] == b"v"


def test_eight_threads_get_their_own_replies(wire):
    """Threads sharing one wire each read back exactly what they wrote."""

    def work(n: int) -> None:
        for i in range(200):
            key = b"t%d-%d" % (n, i)
            value = b"%d:%d:" % (n, i) * (i % 7 + 1)
            assert wire.store(b"set", key, value, 60)
            assert wire.gets(key)[0] == value

    assert errors_in_threads(work, 8) == []
    assert 1 <= len(wire.servers[0].idle) <= 8  # every socket came back


def test_forked_child_connects_anew_and_the_parents_connection_survives(wire):
    """A child closes its copies of the parent's sockets, opens its own and
    works; the parent's connection is untouched."""
    wire.store(b"set", b"k", b"parent", 60)
    (parent_socket,) = wire.servers[0].idle
    pid = os.fork()
    if pid == 0:  # the child: report through the exit code only
        code = 1
        try:
            if not wire.servers[0].idle:
                ok = wire.gets(b"k")[0] == b"parent"
                code = 0 if ok and wire.store(b"set", b"c", b"child", 60) else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert wire.servers[0].idle == [parent_socket]
    assert wire.gets(b"c")[0] == b"child"
    assert wire.servers[0].idle == [parent_socket]


# -- a restarted server --------------------------------------------------------


def restarted(server: MemcachedServer) -> None:
    """Stop and start ``server`` on its port: every connection to it closes."""
    server.stop()
    server.start()


@pytest.mark.parametrize(
    "command",
    [
        lambda wire: wire.gets(b"k") == (None, None),
        lambda wire: wire.store(b"set", b"k", b"v", 60),
        lambda wire: not wire.store(b"replace", b"k", b"v", 60),
    ],
    ids=["gets", "set", "replace"],
)
def test_idempotent_commands_are_sent_again_after_a_restart(
    wire: Wire, mc: MemcachedServer, command: Callable[[Wire], bool]
) -> None:
    """gets / set / replace on a connection the restart closed are sent once
    more on a new one and succeed; the stale sockets are all closed."""
    wire.store(b"set", b"k", b"old", 60)
    stale = wire.servers[0].idle[0]
    restarted(mc)
    assert command(wire)
    assert stale.fileno() == -1
    assert len(wire.servers[0].idle) == 1


@pytest.mark.parametrize("name", ["cas", "add", "delete"])
def test_commands_that_may_have_acted_are_not_repeated_after_a_restart(
    wire: Wire, mc: MemcachedServer, name: str
) -> None:
    """cas / add / delete fully sent on a closed connection are
    StoreUnavailable (a repetition could report another outcome); the server
    is not marked dead and the next command works."""
    wire.store(b"set", b"k", b"old", 60)
    _, cas = wire.gets(b"k")
    restarted(mc)
    sends: dict[str, Callable[[], object]] = {
        "cas": lambda: wire.store(b"cas", b"k", b"new", 60, cas),
        "add": lambda: wire.store(b"add", b"k", b"new", 60),
        "delete": lambda: wire.delete(b"k"),
    }
    with pytest.raises(StoreUnavailable, match="failed"):
        sends[name]()
    assert wire.servers[0].dead_until == 0.0
    assert wire.servers[0].idle == []
    assert wire.store(b"add", b"k", b"fresh", 60)
    assert wire.gets(b"k")[0] == b"fresh"


# -- a stopped or frozen server ------------------------------------------------


def test_a_stopped_server_is_dead_for_dead_retry_then_tried_again(mc):
    """Refused: StoreUnavailable; within dead_retry every command fails at
    once without connecting; after it, a restarted server is used again."""
    wire = wire_to(mc.port, dead_retry=0.5)
    wire.store(b"set", b"k", b"v", 60)
    mc.stop()
    try:
        with pytest.raises(StoreUnavailable, match="failed"):
            wire.gets(b"k")
        with pytest.raises(StoreUnavailable, match=r"less than 0\.5 s ago"):
            wire.store(b"set", b"k", b"v", 60)
    finally:
        mc.start()
    with pytest.raises(StoreUnavailable, match="less than"):  # still shunned
        wire.gets(b"k")
    time.sleep(0.6)
    assert wire.gets(b"k") == (None, None)  # back, and empty after its restart
    assert wire.servers[0].dead_until == 0.0
    wire.close()


def test_a_frozen_server_times_out_and_its_late_reply_is_never_read(mc):
    """A command to a frozen server fails after the timeout; once the server
    thaws, the next command reads its own reply, not the late one."""
    wire = wire_to(mc.port, timeout=0.3, dead_retry=0.05)
    wire.store(b"set", b"a", b"value of a", 60)
    wire.store(b"set", b"b", b"value of b", 60)
    mc.pause()
    try:
        started = time.monotonic()
        with pytest.raises(StoreUnavailable, match=r"no answer within 0\.3 s"):
            wire.gets(b"a")
        assert time.monotonic() - started >= 0.25
    finally:
        mc.resume()
    time.sleep(0.1)  # past dead_retry
    assert wire.gets(b"b")[0] == b"value of b"
    wire.close()


# -- a server that lies --------------------------------------------------------


class FakeServer:
    """A loopback TCP server answering each request with ``reply`` and then
    closing the connection (or keeping it open with ``hang``; with
    ``reset``, closing it with a TCP reset instead of a FIN)."""

    def __init__(self, reply: bytes, *, hang: bool = False, reset: bool = False):
        self.reply = reply
        self.hang = hang
        self.reset = reset
        self.listener = socket.create_server((HOST, 0))
        self.port = int(self.listener.getsockname()[1])
        self.connections = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            with conn:
                conn.recv(65536)
                conn.sendall(self.reply)
                if self.hang:
                    conn.recv(65536)  # until the client gives up
                if self.reset:  # linger 0: close() sends RST
                    conn.setsockopt(
                        socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                    )

    def close(self) -> None:
        """Stop listening."""
        self.listener.close()


@pytest.fixture
def fake() -> Iterator[Callable[..., FakeServer]]:
    """Start fake servers with a given reply; closed afterwards."""
    made: list[FakeServer] = []

    def start(reply: bytes, **options: bool) -> FakeServer:
        made.append(FakeServer(reply, **options))
        return made[-1]

    yield start
    for server in made:
        server.close()


@pytest.mark.parametrize(
    ("reply", "problem"),
    [
        (b"VALUE k 0 10 1\r\nabc", "closed the connection"),
        (b"VALUE k 0 3 1\r\nabcdef\r\nEND\r\n", "malformed reply to gets"),
        (b"VALUE k 0 3 1\r\nabc\r\nEND\r\nEXTRA", "malformed reply to gets"),
        (b"VALUE k 0 3\r\nabc\r\nEND\r\n", "malformed reply"),
        (b"VALUE k 0 x 1\r\nabc\r\nEND\r\n", "malformed reply"),
        (b"VALUE k 0 3 cas\r\nabc\r\nEND\r\n", "malformed reply to gets"),
        (b"HELLO\r\n", "malformed reply"),
        (b"x" * 5000, "malformed reply"),
        (b"SERVER_ERROR out of memory storing object\r\n", "out of memory"),
        (b"", "closed the connection"),
    ],
    ids=[
        "cut-off",
        "too-long",
        "trailing",
        "no-cas",
        "bad-length",
        "bad-cas",
        "garbage",
        "endless-line",
        "server-error",
        "closed",
    ],
)
def test_a_bad_reply_to_gets_is_store_unavailable(fake, reply, problem):
    """Cut-off, malformed or error replies raise StoreUnavailable naming the
    problem, never a wrong value."""
    server = fake(reply)
    wire = wire_to(server.port, timeout=1.0)
    with pytest.raises(StoreUnavailable, match=problem):
        wire.gets(b"k")
    assert wire.servers[0].idle == []  # the socket is not reused


@pytest.mark.parametrize(
    "reply", [b"WHAT\r\n", b"STORED", b"STORED\r\nSTORED\r\n", b"ERROR\r\n"]
)
def test_a_bad_reply_to_a_store_is_store_unavailable(fake, reply):
    """A storage command answered with anything but one known line fails."""
    server = fake(reply)
    wire = wire_to(server.port, timeout=1.0)
    with pytest.raises(StoreUnavailable):
        wire.store(b"set", b"k", b"v", 60)
    assert wire.servers[0].idle == []


def test_a_malformed_reply_does_not_mark_the_server_dead(fake):
    """The server answered, however wrongly: the next command tries it again."""
    server = fake(b"HELLO\r\n")
    wire = wire_to(server.port, timeout=1.0, dead_retry=60)
    for _ in range(2):
        with pytest.raises(StoreUnavailable, match="malformed"):
            wire.gets(b"k")
    assert wire.servers[0].dead_until == 0.0
    assert server.connections == 2


@pytest.mark.parametrize("name", ["cas", "add"])
def test_a_command_the_reset_connection_refused_to_send_is_sent_again(fake, name):
    """A cas / add that could not even be sent on an idle connection the
    server had reset cannot have acted: it goes out once more on a new one."""
    server = fake(b"STORED\r\n", reset=True)
    wire = wire_to(server.port, timeout=1.0)
    assert wire.store(b"set", b"k", b"v", 60)
    time.sleep(0.1)  # the server closes its end: the reset reaches our idle socket
    assert wire.store(name.encode(), b"k", b"w", 60, 1 if name == "cas" else None)
    assert server.connections == 2


def test_a_server_that_accepts_but_never_answers_times_out(fake):
    """A silent peer is a timeout, reported as such."""
    server = fake(b"", hang=True)
    wire = wire_to(server.port, timeout=0.2)
    with pytest.raises(StoreUnavailable, match=r"no answer within 0\.2 s"):
        wire.delete(b"k")


# -- several servers -----------------------------------------------------------


@pytest.fixture(scope="module")
def three() -> Iterator[list[MemcachedServer]]:
    """Three memcached servers."""
    servers = [start_or_skip(MemcachedServer()) for _ in range(3)]
    yield servers
    for server in servers:
        server.close()


def test_keys_go_to_the_server_python_memcached_picks(three):
    """With three weighted servers, each key lands on the server
    python-memcached's own ``_get_server`` chooses for it."""
    for server in three:
        server.ensure_up()
        server.flush()
    weights = (1, 2, 1)
    client = memcache.Client(
        [(f"{HOST}:{server.port}", w) for server, w in zip(three, weights)]
    )
    wire = Wire(buckets(client), timeout=2.0, dead_retry=1.0, key_hash=key_hash)
    by_port = {server.port: wire_to(server.port) for server in three}
    used = set()
    for i in range(300):
        key = b"key-%d" % i
        assert wire.store(b"set", key, b"v%d" % i, 60)
        host, _ = client._get_server(key)
        port = host.address[1]
        used.add(port)
        for other_port, single in by_port.items():
            found = single.gets(key)[0]
            assert found == (b"v%d" % i if other_port == port else None)
    assert used == set(by_port)  # every server got keys
    client.disconnect_all()
    for single in [wire, *by_port.values()]:
        single.close()
