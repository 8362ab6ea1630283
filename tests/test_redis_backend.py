"""RedisBackend over a real redis-server: the direct wire, its retry, scripts, errors.

Connection failures are made by the server itself: ``CLIENT KILL`` closes the
connection the wire will use next, so the failure is met on the wire, as in
a real race with an idle timeout or a restart. Redis Cluster clients are
tested against a real one-node cluster, behind a proxy that can lose a reply
after the server ran the command (the cluster client then sends it again).
"""

from __future__ import annotations

import os
import select
import time
from collections.abc import Iterator
from typing import Any

import pytest
from cachelib.redis import RedisCache
from servers import DroppingProxy, RedisClusterServer, RedisServer, ServerError

from wsgi_session.errors import LockTimeout, StoreUnavailable
from wsgi_session.stores import CountingBackend, backend_for, open_store
from wsgi_session.stores.base import Record, SaveResult, encode_record
from wsgi_session.stores.redis import RedisBackend
from wsgi_session.stores.redis_compat import (
    UNAVAILABLE,
    created_connections,
    socket_of,
)

redis = pytest.importorskip("redis")

KEY = "0123456789abcdef"


class SentinelServer(RedisServer):
    """redis-server in Sentinel mode, watching one master as 'main'."""

    def __init__(self, master: RedisServer) -> None:
        super().__init__()
        self.master = master

    def argv(self) -> list[str]:
        """redis-server --sentinel with a fresh config file (Sentinel rewrites it)."""
        conf = self.dir / "sentinel.conf"
        conf.write_text(
            f"port {self.port}\nbind {self.host}\ndir {self.dir}\n"
            f"sentinel monitor main {self.master.host} {self.master.port} 1\n"
        )
        return [self.binary, str(conf), "--sentinel"]


@pytest.fixture
def backend(redis_url: str) -> RedisBackend:
    """A RedisBackend on the test server (built from its URL)."""
    built = backend_for(open_store(redis_url))
    assert isinstance(built, RedisBackend)
    return built


@pytest.fixture
def admin(redis_server: RedisServer, redis_url: str) -> Iterator[Any]:
    """A separate client for setting up and inspecting the server."""
    client = redis.Redis(host=redis_server.host, port=redis_server.port)
    yield client
    client.close()


@pytest.fixture
def sentinel(redis_server: RedisServer, redis_url: str) -> Iterator[SentinelServer]:
    """A Sentinel watching the test Redis."""
    server = SentinelServer(redis_server)
    try:
        server.start()
    except ServerError as exc:
        server.close()
        pytest.skip(str(exc))
    yield server
    server.close()


def in_use(backend: RedisBackend) -> int:
    """Connections the backend's wire has made and not got back."""
    return backend.wire.busy


def calls(admin: Any, command: str) -> int:
    """How often the server has run ``command`` (clients and scripts)."""
    stats = admin.info("commandstats").get(f"cmdstat_{command}")
    return int(stats["calls"]) if stats else 0


def server_closes_next_connection(
    backend: RedisBackend, admin: Any, monkeypatch: pytest.MonkeyPatch, reset: bool
) -> None:
    """Have the server close the connection the backend's next command uses.

    With ``reset``, one stray byte is written first so that the server
    answers with a TCP reset: the next send then fails, before the command
    reaches the server; without it, the send succeeds and the read fails.
    """
    wire = backend.wire
    if wire.next_connection() is None:
        backend.load("warm-up")  # a connected connection for the next command
    sock = socket_of(wire.next_connection())
    host, port = sock.getsockname()[:2]
    assert admin.client_kill(f"{host}:{port}")
    assert select.select([sock], [], [], 2)[0], "the server did not close"
    if reset:
        sock.send(b"\r\n")
        time.sleep(0.05)


def test_plain_client_sends_commands_on_a_pooled_connection(backend):
    """A redis.Redis client is driven directly through its connection pool."""
    assert backend.wire.direct and backend._read is backend._write


def test_load_is_retried_once_when_the_server_closed_the_connection(
    backend, admin, monkeypatch
):
    """A load whose connection the server closed is sent again and gets the data."""
    backend.create(KEY, b"meta", {"a": b"1", "b": b"2"}, 60)
    counted = CountingBackend(backend)
    before, hgetall = counted.round_trips, calls(admin, "hgetall")
    server_closes_next_connection(backend, admin, monkeypatch, reset=False)
    assert backend.load(KEY) == Record(b"meta", {"a": b"1", "b": b"2"})
    assert counted.round_trips - before == 2
    assert calls(admin, "hgetall") - hgetall == 1  # the lost one never arrived
    assert in_use(backend) == 0


def test_create_is_not_sent_twice_once_it_was_written(backend, admin, monkeypatch):
    """A create whose reply is lost raises StoreUnavailable; it is not repeated."""
    server_closes_next_connection(backend, admin, monkeypatch, reset=False)
    counted = CountingBackend(backend)
    before = counted.round_trips
    with pytest.raises(StoreUnavailable) as info:
        backend.create(KEY, b"meta", {"a": b"1"}, 60)
    assert isinstance(info.value.original, redis.ConnectionError)
    assert counted.round_trips - before == 1
    assert in_use(backend) == 0
    assert backend.create(KEY, b"meta", {"a": b"1"}, 60)  # the pool recovered


def test_create_is_retried_when_the_send_itself_failed(backend, admin, monkeypatch):
    """A create that never reached the server is sent once more, and succeeds."""
    backend.load(KEY)  # the scripts' first use is not what this test measures
    backend.create("other", b"meta", {"a": b"1"}, 60)
    counted = CountingBackend(backend)
    before, evalsha = counted.round_trips, calls(admin, "evalsha")
    server_closes_next_connection(backend, admin, monkeypatch, reset=True)
    assert backend.create(KEY, b"meta", {"a": b"1"}, 60)
    assert counted.round_trips - before == 2
    assert calls(admin, "evalsha") - evalsha == 1
    assert backend.load(KEY) == Record(b"meta", {"a": b"1"})
    assert in_use(backend) == 0


def test_stopped_server_raises_store_unavailable_and_frees_connections(
    backend, redis_server
):
    """With the server down every call raises StoreUnavailable; no connection leaks."""
    backend.create(KEY, b"meta", {"a": b"1"}, 60)
    redis_server.stop()
    try:
        for call in (
            lambda: backend.load(KEY),
            lambda: backend.merge(KEY, b"meta", {"b": b"2"}, [], 60),
            lambda: backend.create("new", b"meta", {"a": b"1"}, 60),
            lambda: backend.delete(KEY),
        ):
            with pytest.raises(StoreUnavailable) as info:
                call()
            assert isinstance(info.value.original, redis.ConnectionError)
            assert in_use(backend) == 0
    finally:
        redis_server.start()
    assert backend.load(KEY) is None  # the restarted server is empty, and reached


@pytest.mark.parametrize("via", ["plain", "sentinel"])
def test_timeout_is_not_retried_and_the_connection_is_dropped(
    request, redis_server, redis_url, via
):
    """A read timeout raises StoreUnavailable, unretried; its connection is closed."""
    if via == "sentinel":
        from redis.sentinel import Sentinel

        sentinel = request.getfixturevalue("sentinel")
        sentinels = Sentinel([(sentinel.host, sentinel.port)])
        client = sentinels.master_for("main", socket_timeout=0.3)
    else:
        client = redis.Redis(
            host=redis_server.host, port=redis_server.port, socket_timeout=0.3
        )
    backend = RedisBackend(RedisCache(client, key_prefix="to:"))
    backend.create(KEY, b"meta", {"a": b"1"}, 60)
    backend.create("other", b"meta", {"b": b"2"}, 60)
    counted = CountingBackend(backend)
    before = counted.round_trips
    redis_server.pause()
    try:
        with pytest.raises(StoreUnavailable) as info:
            backend.load(KEY)
    finally:
        redis_server.resume()
    # redis-py's TimeoutError; on Python 3.9 a ConnectionError around the
    # builtin TimeoutError of its parser ("... ('Timeout reading from socket',)")
    assert "Timeout reading" in str(info.value.original)
    assert counted.round_trips - before == 1  # not sent again
    assert in_use(backend) == 0
    assert backend.wire.connected == 0  # dropped: no late reply is ever read
    assert backend.load("other") == Record(b"meta", {"b": b"2"})
    client.close()


def test_flushed_scripts_are_sent_again_with_eval(backend, admin):
    """After SCRIPT FLUSH a write falls back to EVAL once, then EVALSHA works again."""
    backend.create(KEY, b"meta", {"a": b"1"}, 60)
    record = backend.load(KEY)
    assert record is not None
    admin.script_flush()
    counted = CountingBackend(backend)
    before = counted.round_trips
    evalsha, eval_ = calls(admin, "evalsha"), calls(admin, "eval")
    result = backend.merge(KEY, b"meta2", {"b": b"2"}, ["a"], 60, token=record.token)
    assert result is SaveResult.SAVED
    assert counted.round_trips - before == 2  # NOSCRIPT, then EVAL
    assert (calls(admin, "evalsha") - evalsha, calls(admin, "eval") - eval_) == (1, 1)
    assert backend.merge(KEY, b"meta3", {"c": b"3"}, [], 60) is SaveResult.SAVED
    assert calls(admin, "evalsha") - evalsha == 2 and calls(admin, "eval") == eval_ + 1
    assert backend.load(KEY) == Record(b"meta3", {"b": b"2", "c": b"3"})
    assert in_use(backend) == 0


def test_three_thousand_fields_are_one_value(backend, admin):
    """A 3,000-field session is created and merged exactly, as one framed value."""
    fields = {f"k{i}": f"v{i}".encode() for i in range(3000)}
    assert backend.create(KEY, b"meta", fields, 60)
    name = backend.cache.key_prefix + KEY
    assert admin.hlen(name) == 3  # meta, data, version
    assert backend.load(KEY) == Record(b"meta", fields)

    changed = {f"n{i}": b"new" for i in range(2500)}
    removed = [f"k{i}" for i in range(2500)]
    result = backend.merge(KEY, b"meta2", changed, removed, 60)
    assert result is SaveResult.SAVED
    expected = {f"k{i}": f"v{i}".encode() for i in range(2500, 3000)} | changed
    assert backend.load(KEY) == Record(b"meta2", expected)
    assert admin.hlen(name) == 3


def test_merge_writes_the_data_once_and_counts_the_version(backend, admin):
    """A merge is one HSET of meta and data and one HINCRBY of the version."""
    backend.create(KEY, b"meta", {"a": b"1", "b": b"2"}, 60)
    record = backend.load(KEY)
    assert record is not None
    hset, hincrby = calls(admin, "hset"), calls(admin, "hincrby")
    backend.merge(KEY, b"meta2", {"c": b"3"}, ["a"], 60, token=record.token)
    assert (calls(admin, "hset") - hset, calls(admin, "hincrby") - hincrby) == (1, 1)
    assert backend.load(KEY) == Record(b"meta2", {"b": b"2", "c": b"3"})
    assert admin.hget(backend.cache.key_prefix + KEY, "v") == b"2"


def test_merge_onto_a_stale_version_merges_again_onto_the_newer_one(backend, admin):
    """A merge whose loaded version is stale gets the newer one back and keeps both
    changes, in one more round trip."""
    backend.create(KEY, b"meta", {"a": b"1"}, 60)
    stale = backend.load(KEY)
    assert stale is not None
    assert backend.merge(KEY, b"m2", {"b": b"2"}, [], 60) is SaveResult.SAVED
    counted = CountingBackend(backend)
    result = backend.merge(KEY, b"m3", {"c": b"3"}, ["a"], 60, token=stale.token)
    assert result is SaveResult.SAVED
    assert counted.round_trips == 2  # refused with the newer version, then written
    assert backend.load(KEY) == Record(b"m3", {"b": b"2", "c": b"3"})


def test_replace_counts_the_version_on(backend, admin):
    """A replace overwrites the hash and raises its version: a stale merge fails."""
    backend.create(KEY, b"meta", {"a": b"1"}, 60)
    stale = backend.load(KEY)
    assert stale is not None
    assert backend.replace(KEY, b"m2", {"b": b"2"}, 60) is SaveResult.SAVED
    assert admin.hget(backend.cache.key_prefix + KEY, "v") == b"2"
    backend.merge(KEY, b"m3", {"c": b"3"}, [], 60, token=stale.token)
    assert backend.load(KEY) == Record(b"m3", {"b": b"2", "c": b"3"})


def test_merge_semantics_survive_the_new_scripts(backend):
    """Merge says GONE for a missing session and EMPTIED (and deletes) when emptied."""
    assert backend.merge(KEY, b"m", {"a": b"1"}, [], 60) is SaveResult.GONE
    assert backend.load(KEY) is None
    backend.create(KEY, b"m", {"a": b"1"}, 60)
    assert not backend.create(KEY, b"m", {"a": b"2"}, 60)
    assert backend.merge(KEY, b"m", {}, ["a"], 60) is SaveResult.EMPTIED
    assert backend.load(KEY) is None
    assert backend.replace(KEY, b"m", {"a": b"1"}, 60) is SaveResult.GONE


def test_wrong_type_key_is_a_value_error_and_keeps_the_connection(backend, admin):
    """A key that is not a hash raises ValueError; the pool stays usable."""
    admin.set(backend.cache.key_prefix + KEY, b"not a session")
    with pytest.raises(ValueError, match="does not hold a session"):
        backend.load(KEY)
    assert in_use(backend) == 0
    backend.create("other", b"meta", {"a": b"1"}, 60)
    assert backend.load("other") == Record(b"meta", {"a": b"1"})


@pytest.mark.parametrize(
    ("mapping", "problem"),
    [
        ({"m": b"m", "d": encode_record(b"", {"a": b"1"})}, "not a session hash"),
        ({"m": b"m", "d": b"WSR2", "v": b"1"}, "truncated"),
        ({"f:a": b"1", "m": b"m"}, "not a session hash"),
        ({"m": b"m", "d": encode_record(b"", {"a": b"1"}), "v": 1, "x": 1}, "hash"),
    ],
)
def test_malformed_hash_is_a_value_error(backend, admin, mapping, problem):
    """A hash without our three fields, or with corrupt data, raises ValueError."""
    admin.hset(backend.cache.key_prefix + KEY, mapping=mapping)
    with pytest.raises(ValueError, match=problem):
        backend.load(KEY)


@pytest.mark.parametrize("protocol", [2, 3])
def test_load_reads_both_reply_protocols(redis_server, redis_url, protocol):
    """HGETALL's flat RESP2 list and RESP3 map both become the same Record."""
    resp3 = int(redis.__version__.split(".")[0]) >= 5  # RESP3 came with 5.0
    if protocol == 3 and not resp3:
        pytest.skip("redis-py before 5.0 speaks RESP2 only")
    options = {"protocol": protocol} if resp3 else {}
    client = redis.Redis(host=redis_server.host, port=redis_server.port, **options)
    backend = RedisBackend(RedisCache(client, key_prefix="p:"))
    backend.create(KEY, b"meta", {"a": b"1", "b": b"2"}, 60)
    assert backend.load(KEY) == Record(b"meta", {"a": b"1", "b": b"2"})
    client.close()


@pytest.mark.parametrize("protocol", [2, 3])
def test_load_of_a_large_hash_keeps_every_field(redis_server, redis_url, protocol):
    """A session hash of 1,000 fields (non-ASCII names too) loads every field."""
    resp3 = int(redis.__version__.split(".")[0]) >= 5
    if protocol == 3 and not resp3:
        pytest.skip("redis-py before 5.0 speaks RESP2 only")
    options = {"protocol": protocol} if resp3 else {}
    client = redis.Redis(host=redis_server.host, port=redis_server.port, **options)
    backend = RedisBackend(RedisCache(client, key_prefix="big:"))
    fields = {f"k{i}-é": b"v%d" % i for i in range(1000)} | {"m": b"", "f:": b"x"}
    backend.create(KEY, b"meta", fields, 60)
    assert backend.load(KEY) == Record(b"meta", fields)
    client.close()


def test_single_connection_client_uses_its_own_api(redis_server, redis_url, admin):
    """A client the wire cannot borrow from works through execute_command."""
    client = redis.Redis(
        host=redis_server.host, port=redis_server.port, single_connection_client=True
    )
    backend = RedisBackend(RedisCache(client, key_prefix="s:"))
    assert not backend.wire.direct
    assert backend.create(KEY, b"meta", {"a": b"1"}, 60)
    admin.script_flush()
    assert backend.merge(KEY, b"meta", {"b": b"2"}, [], 60) is SaveResult.SAVED
    assert backend.load(KEY) == Record(b"meta", {"a": b"1", "b": b"2"})
    with backend.lock(KEY, timeout=1, ttl=5):
        assert admin.pttl(f"s:{KEY}:lock") > 0
    backend.delete(KEY)
    assert backend.load(KEY) is None
    client.close()


def test_sentinel_client_is_driven_directly_and_retries(sentinel, admin, monkeypatch):
    """A Sentinel master_for() client uses the pooled wire and its one retry."""
    from redis.sentinel import Sentinel

    client = Sentinel([(sentinel.host, sentinel.port)]).master_for("main")
    backend = RedisBackend(RedisCache(client, key_prefix="sen:"))
    assert backend.wire.direct
    assert backend.create(KEY, b"meta", {"a": b"1"}, 60)
    server_closes_next_connection(backend, admin, monkeypatch, reset=False)
    assert backend.load(KEY) == Record(b"meta", {"a": b"1"})
    assert in_use(backend) == 0
    client.close()


def test_one_connection_serves_consecutive_commands(backend):
    """Sequential commands reuse one connection from the wire's free list."""
    backend.create(KEY, b"meta", {"a": b"1"}, 60)
    for _ in range(20):
        assert backend.load(KEY) == Record(b"meta", {"a": b"1"})
    assert created_connections(backend.wire.client.connection_pool) == 1
    assert backend.wire.connected == 1 and in_use(backend) == 0


def test_forked_child_does_not_reuse_the_parents_connections(backend):
    """A forked child starts with no idle connection, connects anew and works."""
    import os

    backend.create(KEY, b"meta", {"a": b"1"}, 60)
    assert backend.wire.connected
    parent_socket = socket_of(backend.wire.next_connection())
    pid = os.fork()
    if pid == 0:  # the child: report through the exit code only
        code = 1
        try:
            if not backend.wire.connected:
                record = backend.load(KEY)
                code = 0 if record == Record(b"meta", {"a": b"1"}) else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    # the parent's connection is untouched by the child and still works
    assert socket_of(backend.wire.next_connection()) is parent_socket
    assert backend.load(KEY) == Record(b"meta", {"a": b"1"})


# -- Redis Cluster -------------------------------------------------------------


@pytest.fixture
def proxied_cluster() -> Iterator[tuple[RedisClusterServer, DroppingProxy]]:
    """A one-node cluster that tells clients to reach it through a proxy.

    A second proxy is a second startup node, kept as one (no dynamic startup
    nodes): redis-py forgets a startup node after a connection error on it,
    and with none left its client cannot find the cluster again.
    """
    from servers import free_port

    proxy_port = free_port()
    server = RedisClusterServer(announce_port=proxy_port)
    try:
        server.start()
    except ServerError as exc:
        server.close()
        if os.environ.get("CI"):
            pytest.fail(str(exc))
        pytest.skip(str(exc))
    proxy = DroppingProxy(server.port, proxy_port)
    spare = DroppingProxy(server.port)
    proxy.spare_port = spare.port  # type: ignore[attr-defined]
    yield server, proxy
    spare.close()
    proxy.close()
    server.close()


def cluster_backend(proxy: DroppingProxy) -> tuple[RedisBackend, Any]:
    """A backend over a RedisCluster client that reaches the node via ``proxy``."""
    from redis.cluster import ClusterNode, RedisCluster

    nodes = [ClusterNode("127.0.0.1", port) for port in (proxy.port, proxy.spare_port)]  # type: ignore[attr-defined]
    client = RedisCluster(
        startup_nodes=nodes, socket_timeout=2, dynamic_startup_nodes=False
    )
    backend = backend_for(RedisCache(client, key_prefix="c:"))
    assert isinstance(backend, RedisBackend) and not backend.wire.direct
    return backend, client


def test_cluster_create_sent_again_after_a_lost_reply_is_created(proxied_cluster):
    """A create the cluster client re-sends (first reply lost) answers True."""
    server, proxy = proxied_cluster
    backend, client = cluster_backend(proxy)
    admin = redis.Redis(host=server.host, port=server.port)
    backend.create("wss:{warm}", b"m", {"a": b"1"}, 60)  # the script is loaded
    evalsha = calls(admin, "evalsha")
    proxy.drop_reply_to(b"EVALSHA")
    key = "wss:{new}"
    assert backend.create(key, b"meta", {"a": b"1"}, 60) is True
    assert proxy.dropped == 1
    assert calls(admin, "evalsha") - evalsha == 2  # it really ran twice
    assert backend.load(key) == Record(b"meta", {"a": b"1"})
    assert backend.create(key, b"other", {"a": b"1"}, 60) is False  # not ours
    client.close()
    admin.close()


def test_cluster_lock_sent_again_after_a_lost_reply_is_held(proxied_cluster):
    """A lock request the cluster client re-sends finds its own token: held."""
    _, proxy = proxied_cluster
    backend, client = cluster_backend(proxy)
    with backend.lock("wss:{warm}", timeout=1, ttl=5):
        pass  # the lock script is loaded
    proxy.drop_reply_to(b"EVALSHA")
    key = "wss:{locked}"
    with backend.lock(key, timeout=1, ttl=30):
        assert proxy.dropped == 1
        assert client.pttl(f"c:{key}:lock") > 0
        with pytest.raises(LockTimeout), backend.lock(key, timeout=0.2, ttl=30):
            pass  # pragma: no cover
    assert not client.exists(f"c:{key}:lock")
    client.close()


def test_cluster_without_slots_is_store_unavailable(proxied_cluster):
    """A cluster that stops serving its slots gives StoreUnavailable, not a crash."""
    server, proxy = proxied_cluster
    backend, client = cluster_backend(proxy)
    backend.create("wss:{a}", b"m", {"a": b"1"}, 60)
    admin = redis.Redis(host=server.host, port=server.port)
    admin.execute_command("CLUSTER", "DELSLOTSRANGE", 0, 16383)
    for _ in range(3):  # RedisClusterException (8.x), IndexError (4.5): no RedisError
        with pytest.raises(StoreUnavailable) as info:
            backend.load("wss:{a}")
        assert isinstance(info.value.original, (*UNAVAILABLE, IndexError))
    admin.execute_command("CLUSTER", "ADDSLOTSRANGE", 0, 16383)
    client.close()
    admin.close()


def test_unreachable_cluster_is_store_unavailable(proxied_cluster):
    """With the only node down, cluster errors ("cannot be connected") are 503s."""
    server, proxy = proxied_cluster
    backend, client = cluster_backend(proxy)
    backend.create("wss:{a}", b"m", {"a": b"1"}, 60)
    server.stop()
    for call in (
        lambda: backend.load("wss:{a}"),
        lambda: backend.create("wss:{b}", b"m", {"a": b"1"}, 60),
        lambda: backend.load("wss:{a}"),
    ):
        with pytest.raises(StoreUnavailable) as info:
            call()  # redis-py 8: "Redis Cluster cannot be connected"
        assert isinstance(info.value.original, UNAVAILABLE)
    client.close()
