"""Store URLs, the pickle-free adapter, outages and per-backend specifics.

The behaviour every backend shares is in ``test_store_contract.py``.
"""

from __future__ import annotations

import ctypes
import errno
import importlib.util
import logging
import os
import pickle
import secrets
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cachelib import BaseCache, FileSystemCache, MemcachedCache, RedisCache, SimpleCache
from conftest import memcached_client_url
from servers import MemcachedServer, RedisClusterServer, RedisServer

from wsgi_session.errors import ConfigError, LockTimeout, StoreUnavailable
from wsgi_session.stores import (
    CountingBackend,
    RawSerializer,
    Record,
    SaveResult,
    backend_for,
    decode_record,
    encode_record,
    is_in_memory,
    open_store,
    parse_store_url,
    prepare_store,
)
from wsgi_session.stores.file import FileBackend, FileCache, flock_mutex
from wsgi_session.stores.fileswap import FileSwap
from wsgi_session.stores.generic import GenericBackend
from wsgi_session.stores.memcached import MemcachedBackend, RefusingUnpickler
from wsgi_session.stores.memory import MemoryBackend, MemoryCache
from wsgi_session.stores.redis import RedisBackend

redis = pytest.importorskip("redis")
memcache = pytest.importorskip("memcache")


def new_key() -> str:
    """A fresh store key shaped like the session layer's."""
    return f"wss:{{{secrets.token_hex(16)}}}"


class PickleBomb:
    """Unpickling this creates a directory: proof that pickle.loads ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Callable[..., Any], tuple[str]]:
        return (os.mkdir, (str(self.marker),))


# -- URL parsing ---------------------------------------------------------------


def test_memory_url_defaults_to_a_threshold_of_100000() -> None:
    """memory:// keeps 100,000 sessions by default, never cachelib's 500."""
    cache = open_store("memory://")
    assert isinstance(cache, SimpleCache) and isinstance(cache, MemoryCache)
    assert cache._threshold == 100_000


def test_memory_url_takes_a_threshold() -> None:
    """memory://?threshold=N sets the cache threshold."""
    assert open_store("memory://?threshold=10000")._threshold == 10_000  # type: ignore[attr-defined]


def test_memory_store_records_expire_for_create_and_merge() -> None:
    """On memory://, a record past its TTL is gone for merge and its key can be
    created again; a live one is neither replaced by create nor lost by merge."""
    cache = MemoryCache()
    backend = MemoryBackend(cache)
    assert backend.create("k", b"m", {"a": b"1"}, 60)
    assert not backend.create("k", b"m2", {"a": b"2"}, 60)
    assert backend.merge("k", b"m3", {"b": b"2"}, [], 60) is SaveResult.SAVED
    record = backend.load("k")
    assert record is not None and record.fields == {"a": b"1", "b": b"2"}
    _, stored = cache.entries["k"]
    cache.entries["k"] = (time.time() - 1, stored)  # its TTL has passed
    assert backend.merge("k", b"m4", {"c": b"3"}, [], 60) is SaveResult.GONE
    assert backend.create("k", b"m5", {"z": b"9"}, 60)
    record = backend.load("k")
    assert record is not None and record.fields == {"z": b"9"}


def test_memory_backend_over_a_plain_simplecache_merges_framed_bytes() -> None:
    """A SimpleCache passed in (not ours) stores framed bytes, merged the same way."""
    cache = SimpleCache()
    backend = MemoryBackend(cache)
    assert backend.create("k", b"m", {"a": b"1"}, 60)
    assert backend.merge("k", b"m2", {"b": b"2"}, ["a"], 60) is SaveResult.SAVED
    assert isinstance(cache.get("k"), bytes)
    record = backend.load("k")
    assert record is not None and record.fields == {"b": b"2"}
    assert backend.merge("k", b"m3", {}, ["b"], 60) is SaveResult.EMPTIED
    assert backend.load("k") is None


def test_file_url_defaults_and_options(tmp_path: Path) -> None:
    """file:// opens a FileSystemCache; threshold 100,000 and mode 0600 by default."""
    cache = open_store(f"file://{tmp_path}/a")
    assert isinstance(cache, FileSystemCache) and isinstance(cache, FileCache)
    assert (cache._threshold, cache._mode, cache._path) == (
        100_000,
        0o600,
        f"{tmp_path}/a",
    )
    other = open_store(f"file://{tmp_path}/b?threshold=50&mode=0640")
    assert (other._threshold, other._mode) == (50, 0o640)  # type: ignore[attr-defined]


def test_file_url_files_get_the_configured_mode(tmp_path: Path) -> None:
    """Session files are written with the mode from ?mode=."""
    cache = open_store(f"file://{tmp_path}?mode=0640")
    backend_for(cache).create("k", b"m", {"a": b"1"}, 60)
    path = Path(cache._get_filename("k"))  # type: ignore[attr-defined]
    assert path.stat().st_mode & 0o777 == 0o640


def test_redis_url_builds_a_client_with_short_timeouts() -> None:
    """redis:// parses host, port, db, password and prefix; timeouts default to 5s."""
    cache = open_store("redis://:p%40ss@cache.example:6380/3?key_prefix=app:")
    assert isinstance(cache, RedisCache)
    assert cache.key_prefix == "app:"
    kwargs = cache._write_client.connection_pool.connection_kwargs
    assert (kwargs["host"], kwargs["port"], kwargs["db"]) == ("cache.example", 6380, 3)
    assert kwargs["password"] == "p@ss"
    assert kwargs["socket_timeout"] == 5.0
    assert kwargs["socket_connect_timeout"] == 5.0
    assert kwargs["health_check_interval"] == 30


def test_redis_url_options() -> None:
    """redis:// accepts user, timeouts, health check and pool size options."""
    spec = parse_store_url(
        "redis://ann:pw@h?db=2&socket_timeout=0.5&socket_connect_timeout=1"
        "&health_check_interval=0&max_connections=7"
    )
    assert spec.options == {
        "host": "h",
        "port": 6379,
        "username": "ann",
        "password": "pw",
        "db": 2,
        "socket_timeout": 0.5,
        "socket_connect_timeout": 1.0,
        "health_check_interval": 0,
        "max_connections": 7,
    }


def test_rediss_url_enables_tls_with_its_options() -> None:
    """rediss:// turns TLS on and accepts ssl_cert_reqs and ssl_ca_certs."""
    spec = parse_store_url(
        "rediss://h:6390/0?ssl_cert_reqs=optional&ssl_ca_certs=/etc/ca.pem"
    )
    assert spec.options["ssl"] is True
    assert spec.options["ssl_cert_reqs"] == "optional"
    assert spec.options["ssl_ca_certs"] == "/etc/ca.pem"
    cache = open_store("rediss://h:6390/0?ssl_cert_reqs=none")
    pool = cache._write_client.connection_pool  # type: ignore[attr-defined]
    assert pool.connection_class.__name__ == "SSLConnection"
    assert pool.connection_kwargs["ssl_cert_reqs"] == "none"


def test_memcached_url_builds_a_pickle_refusing_cas_client() -> None:
    """memcached:// builds python-memcached with CAS, a size limit and no unpickling."""
    cache = open_store("memcached://10.0.0.1:11211,10.0.0.2?key_prefix=app:")
    assert isinstance(cache, MemcachedCache)
    assert cache.key_prefix == "app:"
    client = cache._client
    assert [str(s).split(" ")[0] for s in client.servers] == [
        "inet:10.0.0.1:11211",
        "inet:10.0.0.2:11211",
    ]
    assert client.cache_cas is True
    assert client.unpickler is RefusingUnpickler
    assert client.server_max_value_length == 1_000_000


def test_memcached_url_options() -> None:
    """memcached:// accepts IPv6 hosts and timeout / size options."""
    spec = parse_store_url(
        "memcached://[::1]:11212?socket_timeout=1&dead_retry=5&max_value_length=500"
    )
    assert spec.options == {
        "servers": ["inet6:[::1]:11212"],
        "socket_timeout": 1.0,
        "dead_retry": 5.0,
        "max_value_length": 500,
    }


@pytest.mark.skipif(
    importlib.util.find_spec("pylibmc") is not None, reason="pylibmc installed"
)
def test_memcached_url_with_missing_pylibmc_names_the_install() -> None:
    """client=pylibmc without pylibmc is a ConfigError saying what to install."""
    with pytest.raises(ConfigError, match=r'pip install "pylibmc>=1\.6,<2"') as info:
        open_store("memcached://h?client=pylibmc")
    assert info.value.key == "store"


def test_mongodb_url_is_parsed_without_connecting() -> None:
    """mongodb:// keeps its own options for pymongo and takes collection/key_prefix."""
    spec = parse_store_url(
        "mongodb://u:p@db1,db2/app?replicaSet=rs0&collection=s&key_prefix=x:"
    )
    assert spec.options == {
        "uri": "mongodb://u:p@db1,db2/app?replicaSet=rs0",
        "db": "app",
        "collection": "s",
        "key_prefix": "x:",
    }


@pytest.mark.skipif(
    importlib.util.find_spec("pymongo") is not None, reason="pymongo installed"
)
def test_mongodb_url_without_pymongo_names_the_client() -> None:
    """mongodb:// without pymongo is a ConfigError naming the client to install."""
    with pytest.raises(ConfigError, match=r'pip install "pymongo>=4\.0,<5"'):
        open_store("mongodb://localhost/app")


def test_dynamodb_url_is_parsed_without_connecting() -> None:
    """dynamodb://table takes region, endpoint_url and key_prefix."""
    spec = parse_store_url(
        "dynamodb://Sessions_1?region=eu-west-1&endpoint_url=http://localhost:8000"
    )
    assert spec.options == {
        "table": "Sessions_1",
        "region": "eu-west-1",
        "endpoint_url": "http://localhost:8000",
        "key_prefix": None,
    }


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("", "use one of: memory://, file://, redis://"),
        ("ftp://host/x", "unsupported store URL scheme 'ftp'"),
        ("/var/lib/sessions", "use one of"),
        ("memory://?threshold=abc", "'threshold' must be an integer"),
        ("memory://?threshold=0", "'threshold' must be at least 1"),
        ("memory://?size=5", "unknown option 'size'.*accepted: threshold"),
        ("memory://?threshold=5&threshold=6", "given twice"),
        ("memory://?threshold=", "has no value"),
        ("memory://host", "takes no host"),
        ("file://relative/path", "absolute path"),
        ("file://", "absolute path"),
        ("file:///x?mode=999", "octal file mode"),
        ("redis://h:99999", "invalid port"),
        ("redis://h/abc", "database must be a number"),
        ("redis://h/1?db=2", "database twice"),
        ("redis://h?ssl_cert_reqs=none", "unknown option 'ssl_cert_reqs'"),
        ("rediss://h?ssl_cert_reqs=maybe", "none, optional or required"),
        ("redis://h?socket_timeout=-1", "positive number"),
        ("redis://h?socket_timeout=soon", "number of seconds"),
        ("memcached://u:p@h", "no user or password"),
        ("memcached://h:0", "invalid port"),
        ("memcached://h?client=libmc", "memcache or pylibmc"),
        ("memcached://h?dead_retry=0", "positive number"),
        ("dynamodb://?region=x", "needs a table name"),
        ("redis://h/0#frag", "fragment"),
    ],
)
def test_bad_store_urls_are_config_errors_naming_store(url: str, message: str) -> None:
    """Every malformed store URL is a ConfigError with key 'store' saying why."""
    with pytest.raises(ConfigError, match=message) as info:
        open_store(url)
    assert info.value.key == "store"


def test_config_errors_never_echo_the_password() -> None:
    """A bad redis URL's error message does not contain its password."""
    with pytest.raises(ConfigError) as info:
        open_store("redis://:hunter2@h/0?bogus=1")
    assert "hunter2" not in str(info.value)


def test_importing_the_stores_does_not_import_client_libraries() -> None:
    """Client libraries are imported only when a store that needs them is opened."""
    code = (
        "import sys, wsgi_session.stores as s; s.open_store('memory://');"
        "bad = {'redis', 'memcache', 'pylibmc', 'pymongo', 'boto3'} & set(sys.modules);"
        "print(sorted(bad)); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=Path(__file__).parent.parent,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# -- backend selection and the serializer ----------------------------------


def test_backend_for_picks_the_backend_by_cache_type(
    tmp_path: Path, redis_url: str, memcached_url: str
) -> None:
    """Each cachelib class gets its backend; other caches the generic one."""

    class OtherCache(BaseCache):
        pass

    assert isinstance(backend_for(open_store("memory://")), MemoryBackend)
    assert isinstance(backend_for(SimpleCache()), MemoryBackend)
    assert isinstance(backend_for(FileSystemCache(str(tmp_path))), FileBackend)
    assert isinstance(backend_for(open_store(redis_url)), RedisBackend)
    assert isinstance(backend_for(open_store(memcached_url)), MemcachedBackend)
    assert isinstance(backend_for(OtherCache()), GenericBackend)


def test_is_in_memory_only_for_in_process_caches(tmp_path: Path) -> None:
    """is_in_memory() is True for SimpleCache stores only."""
    assert is_in_memory(open_store("memory://"))
    assert not is_in_memory(open_store(f"file://{tmp_path}"))
    assert not is_in_memory(open_store("redis://localhost/0"))


def test_raw_serializer_passes_bytes_and_refuses_everything_else() -> None:
    """RawSerializer stores bytes and ints as bytes and raises on other types."""
    serializer = RawSerializer()
    assert serializer.dumps(b"\x80\x04x") == b"\x80\x04x"
    assert serializer.dumps(12) == b"12"
    assert serializer.loads(pickle.dumps({"a": 1})) == pickle.dumps({"a": 1})
    for value in ("text", 1.5, True, None, {"a": 1}):
        with pytest.raises(TypeError):
            serializer.dumps(value)


def test_prepare_store_replaces_the_serializer_of_a_user_cache(tmp_path: Path) -> None:
    """prepare_store() installs RawSerializer on caches the user built."""
    simple = SimpleCache()
    assert prepare_store(simple) is simple
    assert isinstance(simple.serializer, RawSerializer)
    user_redis = RedisCache(redis.Redis(host="127.0.0.1"))
    assert isinstance(prepare_store(user_redis).serializer, RawSerializer)


def test_prepare_store_keeps_a_user_file_cache_working(tmp_path: Path) -> None:
    """A FileSystemCache that counted files with pickle keeps counting after prepare."""
    cache = FileSystemCache(str(tmp_path), threshold=10)
    cache.set("legacy", "pickled value")
    backend = backend_for(cache)  # prepares it
    backend.create("wss:{a}", b"m", {"a": b"1"}, 60)
    assert cache._file_count == 2
    assert backend.merge("wss:{a}", b"m", {}, ["a"], 60) is SaveResult.EMPTIED
    assert cache._file_count == 1


def test_framing_rejects_corrupt_bytes() -> None:
    """decode_record raises ValueError on anything but a well-formed record."""
    good = encode_record(b"m", {"a": b"1"})
    assert decode_record(good) == (b"m", {"a": b"1"})
    for bad in (b"", b"WSR2", good[:-1], good + b"x", b"XXXX" + good[4:]):
        with pytest.raises(ValueError):
            decode_record(bad)


def test_framing_round_trips_any_names_and_values() -> None:
    """Names with line breaks, NUL, non-ASCII or nothing, and any bytes, round-trip."""
    fields = {
        "a\r\nb": b"\x00\xff",
        "\r": b"",
        "\n": b"x" * 70_000,
        "": b"empty name",
        "\x00": b"nul",
        "日本語-é": b"\xc3\x28",
    }
    meta = b"meta\r\n\x00"
    assert decode_record(encode_record(meta, fields)) == (meta, fields)
    assert decode_record(bytearray(encode_record(meta, fields))) == (meta, fields)
    assert decode_record(encode_record(b"m", {"a": bytearray(b"1")}))[1] == {"a": b"1"}
    with pytest.raises(TypeError, match="must be bytes"):
        encode_record(b"m", {"a": "text"})  # type: ignore[dict-item]


def _frame(count: int, names: bytes, lengths: list[int], values: bytes) -> bytes:
    """A record frame written by hand (to build malformed ones)."""
    head = struct.pack(f"<4sIII{2 * count}I", b"WSR2", 0, count, len(names), *lengths)
    return head + names + values


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (_frame(2, b"aa", [1, 1, 1, 1], b"12"), "duplicate"),
        (_frame(1, b"\xff", [1, 1], b"1"), "not UTF-8"),
        (_frame(1, b"ab", [1, 1], b"1"), "do not add up"),
        (_frame(1, b"a", [1, 2], b"1"), "do not add up"),
        (_frame(1, b"a", [1, 1], b"12"), "do not add up"),
        (struct.pack("<4sIII", b"WSR2", 0, 1_000_000, 0), "truncated"),
        (_frame(0, b"", [], b"")[:10], "truncated"),
    ],
)
def test_framing_names_what_is_wrong(data: bytes, problem: str) -> None:
    """Duplicate or non-UTF-8 names, lengths that do not add up and truncated
    tables are ValueErrors that say so."""
    with pytest.raises(ValueError, match=problem):
        decode_record(data)


# -- eviction warnings -----------------------------------------------------------


@pytest.mark.parametrize("kind", ["memory", "file"])
def test_evicting_live_sessions_warns_once(
    kind: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Past the threshold, evicting live sessions logs one warning, not one each."""
    url = (
        "memory://?threshold=3"
        if kind == "memory"
        else f"file://{tmp_path}?threshold=3"
    )
    backend = backend_for(open_store(url))
    with caplog.at_level(logging.WARNING, logger="wsgi_session.stores"):
        keys = [new_key() for _ in range(10)]
        for key in keys:
            backend.create(key, b"m", {"a": b"1"}, 600)
    warnings = [r for r in caplog.records if r.name == "wsgi_session.stores"]
    assert len(warnings) == 1
    assert "?threshold=" in warnings[0].getMessage()
    assert "evicted" in warnings[0].getMessage()
    assert backend.load(keys[-1]) is not None
    assert sum(backend.load(key) is not None for key in keys) <= 4


@pytest.mark.parametrize("kind", ["memory", "file"])
def test_entries_without_expiry_are_evicted_last(kind: str, tmp_path: Path) -> None:
    """Eviction drops the sessions closest to expiry first; ttl=0 ones last."""
    url = (
        "memory://?threshold=3"
        if kind == "memory"
        else f"file://{tmp_path}?threshold=3"
    )
    backend = backend_for(open_store(url))
    forever = new_key()
    backend.create(forever, b"m", {"a": b"1"}, 0)
    for _ in range(6):
        backend.create(new_key(), b"m", {"a": b"1"}, 600)
    assert backend.load(forever) is not None


# -- no pickle, ever ---------------------------------------------------------


def test_planted_pickle_in_redis_is_never_unpickled(
    redis_url: str, redis_server: RedisServer, tmp_path: Path
) -> None:
    """Pickles planted in Redis (as a string or inside the hash) never run."""
    marker = tmp_path / "pwned"
    bomb = pickle.dumps(PickleBomb(marker))
    cache = open_store(redis_url)
    backend = backend_for(cache)
    raw = redis.Redis(port=redis_server.port)
    prefix = cache.key_prefix  # type: ignore[attr-defined]
    as_string, as_hash = new_key(), new_key()
    raw.set(prefix + as_string, b"!" + bomb)  # cachelib's pickle format
    data = encode_record(b"", {"x": bomb})
    raw.hset(prefix + as_hash, mapping={"m": bomb, "d": data, "v": bomb})
    with pytest.raises(ValueError):
        backend.load(as_string)
    assert cache.get(as_string) == b"!" + bomb
    record = backend.load(as_hash)
    assert record is not None and record.fields == {"x": bomb}
    raw.close()
    assert not marker.exists()


@pytest.mark.parametrize("client", ["memcache", "pylibmc"])
def test_planted_pickle_in_memcached_is_never_unpickled(
    memcached_url: str, memcached_server: MemcachedServer, tmp_path: Path, client: str
) -> None:
    """A value python-memcached flagged as pickled is refused, not unpickled,
    whichever client the store uses."""
    marker = tmp_path / "pwned"
    cache = open_store(memcached_client_url(memcached_url, client))
    backend = backend_for(cache)
    key = new_key()
    raw = memcache.Client([f"127.0.0.1:{memcached_server.port}"])
    assert raw.set(cache.key_prefix + key, PickleBomb(marker))  # type: ignore[attr-defined]
    raw.disconnect_all()
    with pytest.raises(ValueError):
        backend.load(key)
    if client == "memcache":  # cachelib's own get: the refusing unpickler
        assert cache.get(key) is None
    else:  # the refusing pylibmc client raises where pylibmc would unpickle
        with pytest.raises(ValueError):
            cache.get(key)
    assert not marker.exists()


def test_planted_pickle_in_a_session_file_is_never_unpickled(tmp_path: Path) -> None:
    """A pickle written in cachelib's file format is read as bytes, never loaded."""
    marker = tmp_path / "pwned"
    cache = open_store(f"file://{tmp_path}/store")
    key = new_key()
    with open(cache._get_filename(key), "wb") as f:  # type: ignore[attr-defined]
        f.write(struct.pack("I", 0) + pickle.dumps(PickleBomb(marker)))
    with pytest.raises(ValueError):
        backend_for(cache).load(key)
    assert cache.get(key) == pickle.dumps(PickleBomb(marker))
    assert not marker.exists()


def test_planted_pickle_in_memory_is_never_unpickled(tmp_path: Path) -> None:
    """A pickled entry in a SimpleCache is read as bytes, never loaded."""
    marker = tmp_path / "pwned"
    cache = SimpleCache()
    key = new_key()
    cache.set(key, PickleBomb(marker))  # stored with cachelib's pickle serializer
    with pytest.raises(ValueError):
        backend_for(cache).load(key)
    assert not marker.exists()


# -- outages -------------------------------------------------------------------


@pytest.fixture
def stopped(request: pytest.FixtureRequest) -> Iterator[Callable[[Any], None]]:
    """Stop a server for one test and always start it again afterwards."""
    servers: list[Any] = []

    def stop(server: Any) -> None:
        servers.append(server)
        server.stop()

    yield stop
    for server in servers:
        server.ensure_up()


def _all_operations_fail(backend: Any, key: str) -> None:
    with pytest.raises(StoreUnavailable):
        backend.load(key)
    with pytest.raises(StoreUnavailable):
        backend.merge(key, b"m", {"b": b"2"}, [], 60)
    with pytest.raises(StoreUnavailable):
        backend.create(new_key(), b"m", {"b": b"2"}, 60)
    with pytest.raises(StoreUnavailable):
        backend.touch(key, b"m", 60)
    with pytest.raises(StoreUnavailable), backend.lock(key, timeout=1, ttl=5):
        pass  # pragma: no cover


def test_stopped_redis_raises_store_unavailable(
    redis_url: str, redis_server: RedisServer, stopped: Callable[[Any], None]
) -> None:
    """With Redis down every operation raises StoreUnavailable carrying the cause."""
    backend = backend_for(open_store(redis_url))
    key = new_key()
    backend.create(key, b"m", {"a": b"1"}, 60)
    stopped(redis_server)
    _all_operations_fail(backend, key)
    try:
        backend.load(key)
    except StoreUnavailable as exc:
        assert isinstance(exc.original, redis.ConnectionError)
    redis_server.start()
    assert backend.load(key) is None  # the server kept nothing; no error


@pytest.mark.parametrize("client", ["memcache", "pylibmc"])
def test_stopped_memcached_raises_store_unavailable(
    memcached_server: MemcachedServer, stopped: Callable[[Any], None], client: str
) -> None:
    """With memcached down, reads raise StoreUnavailable instead of 'missing'
    (with either client)."""
    memcached_server.ensure_up()
    url = memcached_client_url(f"{memcached_server.url}?dead_retry=0.1", client)
    backend = backend_for(open_store(url))
    key = new_key()
    backend.create(key, b"m", {"a": b"1"}, 60)
    stopped(memcached_server)
    _all_operations_fail(backend, key)
    memcached_server.start()
    deadline = time.monotonic() + 3
    while True:
        try:
            assert backend.load(key) is None
            break
        except StoreUnavailable:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@pytest.mark.parametrize("name", ["redis", "memcached"])
def test_frozen_server_times_out_as_store_unavailable(
    name: str, request: pytest.FixtureRequest
) -> None:
    """A server that stops answering (SIGSTOP) raises StoreUnavailable in time."""
    server = request.getfixturevalue(f"{name}_server")
    url = request.getfixturevalue(f"{name}_url")
    backend = backend_for(
        open_store(url.replace("socket_timeout=2", "socket_timeout=0.3"))
    )
    key = new_key()
    backend.create(key, b"m", {"a": b"1"}, 60)
    server.pause()
    try:
        started = time.monotonic()
        with pytest.raises(StoreUnavailable):
            backend.load(key)
        assert time.monotonic() - started < 2
    finally:
        server.resume()


def test_pylibmc_client_keeps_the_contract(
    memcached_server: MemcachedServer, tmp_path: Path, stopped: Callable[[Any], None]
) -> None:
    """With ?client=pylibmc: CAS merges, no unpickling, outages raise."""
    pylibmc = pytest.importorskip("pylibmc")
    memcached_server.ensure_up()
    backend = backend_for(open_store(f"{memcached_server.url}?client=pylibmc"))
    assert isinstance(backend, MemcachedBackend)
    key = new_key()
    assert backend.create(key, b"m", {"a": b"1"}, 60)
    assert backend.create(key, b"m", {"a": b"1"}, 60) is False
    stale = backend.load(key)
    assert stale is not None
    assert backend.merge(key, b"m", {"b": b"2"}, [], 60) is SaveResult.SAVED
    assert backend.merge(key, b"m", {"c": b"3"}, [], 60, token=stale.token).value
    assert backend.load(key) == Record(b"m", {"a": b"1", "b": b"2", "c": b"3"})
    assert backend.merge(key, b"m", {}, ["a", "b", "c"], 60) is SaveResult.EMPTIED
    assert backend.touch(key, b"m", 60) is False
    marker = tmp_path / "pwned"
    bomb_key = new_key()
    raw = pylibmc.Client([f"127.0.0.1:{memcached_server.port}"])
    raw.set(bomb_key, PickleBomb(marker))
    with pytest.raises(ValueError):
        backend.load(bomb_key)
    assert not marker.exists()
    stopped(memcached_server)
    with pytest.raises(StoreUnavailable):
        backend.load(key)


def test_memcached_value_over_the_item_limit_is_refused(memcached_url: str) -> None:
    """Writing more than memcached's item size raises StoreUnavailable 'too large'."""
    backend = backend_for(open_store(memcached_url))
    key = new_key()
    big = {"blob": b"x" * 1_100_000}
    with pytest.raises(StoreUnavailable, match="too large"):
        backend.create(key, b"m", big, 60)
    backend.create(key, b"m", {"a": b"1"}, 60)
    with pytest.raises(StoreUnavailable, match=r"too large .*limit 1000000"):
        backend.merge(key, b"m", big, [], 60)
    record = backend.load(key)
    assert record is not None and record.fields == {"a": b"1"}


def test_memcached_ttl_over_30_days_is_sent_as_a_timestamp(memcached_url: str) -> None:
    """A TTL beyond memcached's 30-day relative limit still keeps the record."""
    backend = backend_for(open_store(memcached_url))
    key = new_key()
    backend.create(key, b"m", {"a": b"1"}, 31 * 86400)
    assert backend.load(key) is not None
    assert backend.touch(key, b"m", 40 * 86400)
    assert backend.load(key) is not None


class RefusingCache(SimpleCache):
    """A cache whose writes fail the cachelib way: by returning False."""

    def set(self, *args: Any, **kwargs: Any) -> bool:
        return False


def test_generic_backend_raises_on_a_refused_write() -> None:
    """A cache that answers False to set() makes the save raise StoreUnavailable."""
    cache = RefusingCache()
    backend = GenericBackend(cache)
    key = new_key()
    assert backend.create(key, b"m", {"a": b"1"}, 60)
    with pytest.raises(StoreUnavailable, match="refused"):
        backend.merge(key, b"m", {"b": b"2"}, [], 60)


def test_generic_backend_keeps_the_contract_over_add_locks() -> None:
    """The generic backend merges, empties, and locks through get/set/add/delete."""
    backend = GenericBackend(SimpleCache())
    key = new_key()
    assert backend.create(key, b"m", {"a": b"1"}, 60)
    assert backend.create(key, b"m", {"a": b"1"}, 60) is False
    assert backend.merge(key, b"m2", {"b": b"2"}, [], 60) is SaveResult.SAVED
    assert backend.load(key) == Record(b"m2", {"a": b"1", "b": b"2"})
    assert backend.merge(key, b"m", {}, ["a", "b"], 60) is SaveResult.EMPTIED
    assert backend.merge(key, b"m", {"a": b"1"}, [], 60) is SaveResult.GONE
    with backend.lock(key, timeout=1, ttl=30):
        assert backend.cache.get(key + ":lock") is not None
    assert backend.cache.get(key + ":lock") is None


# -- Redis specifics -------------------------------------------------------------


def test_redis_layout_is_one_hash_under_the_key_prefix(
    redis_url: str, redis_server: RedisServer
) -> None:
    """A Redis session is a hash 'prefix+key': meta, framed fields, version; a TTL."""
    cache = open_store(redis_url)
    backend = backend_for(cache)
    key = new_key()
    backend.create(key, b"meta", {"a": b"1"}, 60)
    raw = redis.Redis(port=redis_server.port)
    name = cache.key_prefix + key  # type: ignore[attr-defined]
    data = encode_record(b"", {"a": b"1"})
    assert raw.hgetall(name) == {b"m": b"meta", b"d": data, b"v": b"1"}
    assert 59_000 < raw.pttl(name) <= 60_000
    backend.touch(key, b"meta2", 0)  # a new meta: the same version of the data
    assert raw.hgetall(name) == {b"m": b"meta2", b"d": data, b"v": b"1"}
    assert raw.ttl(name) == -1
    backend.merge(key, b"meta3", {"b": b"2"}, ["a"], 30)
    data = encode_record(b"", {"b": b"2"})
    assert raw.hgetall(name) == {b"m": b"meta3", b"d": data, b"v": b"2"}
    assert 29_000 < raw.pttl(name) <= 30_000
    raw.close()


def test_redis_lock_key_is_set_with_its_expiry_atomically(
    redis_url: str, redis_server: RedisServer
) -> None:
    """The Redis lock key keeps the session key's hash tag and always has a TTL."""
    cache = open_store(redis_url)
    backend = backend_for(cache)
    key = new_key()
    raw = redis.Redis(port=redis_server.port)
    lock_name = cache.key_prefix + key + ":lock"  # type: ignore[attr-defined]
    with backend.lock(key, timeout=1, ttl=7):
        assert 6_000 < raw.pttl(lock_name) <= 7_000
    assert not raw.exists(lock_name)
    raw.close()


def test_redis_unlock_leaves_a_lock_taken_over_by_another_holder(
    redis_url: str, redis_server: RedisServer
) -> None:
    """Releasing an expired lock does not delete the lock someone else now holds."""
    cache = open_store(redis_url)
    backend = backend_for(cache)
    key = new_key()
    raw = redis.Redis(port=redis_server.port)
    lock_name = cache.key_prefix + key + ":lock"  # type: ignore[attr-defined]
    with backend.lock(key, timeout=1, ttl=30):
        raw.set(lock_name, b"someone else")
    assert raw.get(lock_name) == b"someone else"
    raw.close()


def test_redis_round_trips_match_the_server_command_count(
    redis_url: str, redis_server: RedisServer
) -> None:
    """Redis load, merge (with a load's token), touch, replace and delete each send
    the server one command; a merge without a token loads first."""
    backend = CountingBackend(backend_for(open_store(redis_url)))
    key = new_key()
    backend.create(key, b"m", {"a": b"1"}, 60)
    backend.merge(key, b"m", {"b": b"1"}, [], 60)  # scripts loaded, pool warm
    backend.touch(key, b"m", 60)
    backend.replace(key, b"m", {"a": b"1", "b": b"1"}, 60)
    raw = redis.Redis(port=redis_server.port)

    def calls() -> dict[str, int]:
        stats = raw.info("commandstats")
        return {name[8:]: int(value["calls"]) for name, value in stats.items()}

    # Commands inside a Lua script are counted too, but only EVALSHA, HGETALL
    # and DEL ever come from the client.
    sent_by_client = ("evalsha", "eval", "script|load", "hgetall", "del")
    calls()
    loaded: list[Record] = []

    def load() -> None:
        record = backend.load(key)
        assert record is not None
        loaded.append(record)

    def merge_loaded() -> None:
        backend.merge(key, b"m", {"c": b"1"}, ["a"], 60, token=loaded[-1].token)

    for name, operation in (
        ("hgetall", load),
        ("evalsha", merge_loaded),
        ("hgetall+evalsha", lambda: backend.merge(key, b"m", {"e": b"1"}, [], 60)),
        ("evalsha", lambda: backend.touch(key, b"m", 60)),
        ("evalsha", lambda: backend.replace(key, b"m", {"d": b"1"}, 60)),
        ("del", lambda: backend.delete(key)),
    ):
        before, counted = calls(), backend.round_trips
        operation()
        after = calls()
        delta = {n: after[n] - before.get(n, 0) for n in after if n != "info"}
        if name == "evalsha":
            assert delta["evalsha"] == 1
            assert sum(delta.get(n, 0) for n in sent_by_client if n != "del") == 1
            expected = 1
        elif name == "hgetall+evalsha":
            assert (delta["hgetall"], delta["evalsha"]) == (1, 1)
            assert sum(delta.get(n, 0) for n in sent_by_client) == 2
            expected = 2
        else:
            assert {n: d for n, d in delta.items() if d} == {name: 1}
            expected = 1
        assert backend.round_trips - counted == expected
    raw.close()


def test_redis_cluster_client_works_like_a_plain_one(
    redis_cluster: RedisClusterServer,
) -> None:
    """A RedisCache over redis.cluster.RedisCluster supports every operation."""
    from redis.cluster import RedisCluster

    client = RedisCluster(host="127.0.0.1", port=redis_cluster.port)
    backend = backend_for(RedisCache(client, key_prefix="c:"))
    key = new_key()
    assert backend.create(key, b"m", {"a": b"1"}, 60)
    assert backend.merge(key, b"m", {"b": b"2"}, [], 60) is SaveResult.SAVED
    assert backend.touch(key, b"m2", 60)
    with backend.lock(key, timeout=1, ttl=5):
        assert client.pttl("c:" + key + ":lock") > 0
    assert backend.replace(key, b"m", {"c": b"3"}, 60) is SaveResult.SAVED
    assert backend.load(key) == Record(b"m", {"c": b"3"})
    backend.delete(key)
    assert backend.load(key) is None
    client.close()


# -- file specifics --------------------------------------------------------------


def test_file_lock_of_a_dead_holder_is_broken_after_its_ttl(tmp_path: Path) -> None:
    """A stale lock file (expired holder) is taken over; a live one is not."""
    backend = backend_for(open_store(f"file://{tmp_path}"))
    key = new_key()
    path = backend._lock_path(key, "lock")  # type: ignore[attr-defined]
    Path(path).write_text(f"deadbeef {time.time() - 1:.6f}")
    with backend.lock(key, timeout=0.5, ttl=5):
        assert Path(path).read_text().split()[0] != "deadbeef"
    assert not Path(path).exists()
    Path(path).write_text(f"alive {time.time() + 60:.6f}")
    with pytest.raises(StoreUnavailable), backend.lock(key, timeout=0.2, ttl=5):
        pass  # pragma: no cover
    assert Path(path).read_text().startswith("alive")


def test_file_lock_release_spares_a_lock_taken_over_after_expiry(
    tmp_path: Path,
) -> None:
    """Releasing an expired lock that another holder took leaves theirs in place."""
    from wsgi_session.stores.file import file_lock

    path = tmp_path / "x.lock"
    with file_lock(str(path), timeout=1, ttl=0.5):
        path.write_text(f"other {time.time() + 60:.6f}")  # expired, taken over
    assert path.read_text().startswith("other ")
    path.unlink()
    with file_lock(str(path), timeout=1, ttl=30):  # fresh: released at once
        assert path.exists()
    assert not path.exists()


def test_file_swap_replaces_and_falls_back_to_a_rename(tmp_path: Path) -> None:
    """FileSwap puts a new version in place (True when it replaced one), and
    renames instead where the file system cannot exchange."""
    swap = FileSwap()
    target, new = tmp_path / "s", tmp_path / "s.tmp"
    new.write_bytes(b"v1")
    assert swap.replace(str(new), str(target)) is False  # nothing there yet
    new.write_bytes(b"v2")
    assert swap.replace(str(new), str(target)) is True
    assert target.read_bytes() == b"v2" and not new.exists()

    calls = []

    def unsupported(*args: Any) -> int:
        calls.append(args)
        ctypes.set_errno(errno.EINVAL)  # what NFS answers
        return -1

    swap = FileSwap(exchange=unsupported)
    for text in (b"v3", b"v4"):
        new.write_bytes(text)
        assert swap.replace(str(new), str(target)) is True
        assert target.read_bytes() == text and not new.exists()
    assert len(calls) == 1  # asked once, then renamed


_HOLD_FLOCK = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
print("held", flush=True)
time.sleep(60)
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fcntl.flock is POSIX")
def test_file_merge_mutex_excludes_threads_and_processes_and_dies_with_its_holder(
    tmp_path: Path,
) -> None:
    """The flock merge mutex excludes other threads and processes, and a killed
    holder's mutex is free at once."""
    path = str(tmp_path / "mutex")
    held = flock_mutex(path, timeout=1)
    again = flock_mutex(path, timeout=0.05)  # another acquisition, same process
    with held, pytest.raises(LockTimeout), again:
        pass
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD_FLOCK, path], stdout=subprocess.PIPE
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"held\n"
        with pytest.raises(LockTimeout), flock_mutex(path, timeout=0.05):
            pass
    finally:
        holder.kill()
        holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()
    with flock_mutex(path, timeout=0.05):  # released by the kernel
        pass


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_file_merge_mutex_is_not_kept_by_a_child_forked_while_it_was_held(
    tmp_path: Path,
) -> None:
    """A child forked while the parent held a merge mutex does not hold it on."""
    path = str(tmp_path / "mutex")
    with flock_mutex(path, timeout=1):
        child = os.fork()
        if child == 0:  # pragma: no cover - the child
            time.sleep(2)
            os._exit(0)
    try:
        with flock_mutex(path, timeout=0.2):  # the child is still alive
            pass
    finally:
        os.waitpid(child, 0)


def test_file_store_helper_files_are_not_counted_as_sessions(tmp_path: Path) -> None:
    """Lock files do not count towards the threshold and leave nothing behind
    but the merge mutexes' stripe files (at most 256, whatever the sessions)."""
    cache = open_store(f"file://{tmp_path}")
    backend = backend_for(cache)
    keys = [new_key() for _ in range(300)]
    for key in keys:
        backend.create(key, b"m", {"a": b"1"}, 60)
        with backend.lock(key, timeout=1, ttl=5):
            backend.merge(key, b"m", {"b": b"1"}, [], 60)
    assert cache._file_count == len(keys)  # type: ignore[attr-defined]
    names = [p.name for p in tmp_path.iterdir()]
    stripes = [name for name in names if name.startswith("mutex-")]
    assert 0 < len(stripes) <= 256
    assert all(name.endswith(".__wz_cache") for name in stripes)
    assert len(names) - len(stripes) == len(keys) + 1  # the sessions, the counter
    assert not any(".lock" in name or ".mlock" in name for name in names)


def test_file_store_directory_gone_raises_store_unavailable(tmp_path: Path) -> None:
    """A file store whose directory vanished raises StoreUnavailable on write."""
    directory = tmp_path / "store"
    backend = backend_for(open_store(f"file://{directory}?threshold=1000"))
    directory.rename(tmp_path / "elsewhere")
    with pytest.raises(StoreUnavailable):
        backend.create(new_key(), b"m", {"a": b"1"}, 60)


# -- client libraries: version ranges and missing clients --------------------------


def _requirements() -> list[str]:
    """Every requirement line of setup.cfg (install_requires and extras)."""
    import configparser

    config = configparser.ConfigParser()
    config.read(Path(__file__).parent.parent / "setup.cfg")
    lines = config["options"]["install_requires"].splitlines()
    for value in config["options.extras_require"].values():
        lines += value.splitlines()
    return [line.strip() for line in lines if line.strip()]


def test_setup_cfg_pins_the_ranges_the_compat_modules_support() -> None:
    """Every mention of a store client in setup.cfg pins exactly its supported range."""
    from wsgi_session.stores import cachelib_compat, memcache_compat, redis_compat
    from wsgi_session.stores.requirements import RANGES

    assert RANGES["redis"] == redis_compat.SUPPORTED
    assert RANGES["cachelib"] == cachelib_compat.SUPPORTED
    assert RANGES["python-memcached"] == memcache_compat.SUPPORTED
    found: dict[str, set[str]] = {}
    for line in _requirements():
        name = line.split(">")[0].split("=")[0].split("<")[0]
        if name in RANGES:
            found.setdefault(name, set()).add(line[len(name) :])
    assert found == {name: {spec} for name, spec in RANGES.items()}
    for spec in RANGES.values():
        assert ">=" in spec and ",<" in spec  # both ends pinned


def test_redis_extra_installs_the_c_reply_parser() -> None:
    """pip install "wsgi_session[redis]" brings hiredis (issue 16: big sessions)."""
    import configparser

    config = configparser.ConfigParser()
    config.read(Path(__file__).parent.parent / "setup.cfg")
    extra = config["options.extras_require"]["redis"].split()
    assert [line.split(">")[0] for line in extra] == ["redis", "hiredis"]


def test_missing_client_names_the_package_and_is_a_store_failure(
    tmp_path: Path,
) -> None:
    """Without redis-py, check exits 1 naming pip install "redis>=4.5,<9"."""
    ini = tmp_path / "app.ini"
    ini.write_text("[wsgi_session]\nsecret_key = k\nstore = redis://127.0.0.1/0\n")
    code = (
        "import sys; sys.modules['redis'] = None\n"  # as if it were not installed
        "from wsgi_session.cli import main\n"
        f"sys.exit(main(['check', {str(ini)!r}]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=Path(__file__).parent.parent,
        check=False,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert 'pip install "redis>=4.5,<9"' in result.stderr
    assert "wsgi_session[" not in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_client_is_still_a_config_error_for_the_library() -> None:
    """open_store() without its client raises MissingClient, a ConfigError."""
    code = (
        "import sys; sys.modules['memcache'] = None\n"
        "from wsgi_session.stores import MissingClient, open_store\n"
        "from wsgi_session import ConfigError\n"
        "try:\n"
        "    open_store('memcached://127.0.0.1')\n"
        "except MissingClient as exc:\n"
        "    assert isinstance(exc, ConfigError) and exc.key == 'store'\n"
        "    print(exc)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=Path(__file__).parent.parent,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert 'pip install "python-memcached>=1.59,<2"' in result.stdout
