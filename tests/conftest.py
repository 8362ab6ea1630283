"""Shared fixtures: real Redis and Memcached servers, and store URLs per backend.

``redis_server`` / ``memcached_server`` (session scope) start a private
server on a free loopback port; if its binary is missing the test is
skipped, or fails when the ``CI`` environment variable is set.
``redis_url`` / ``memcached_url`` give each test an emptied server and a
unique key prefix. ``store_url`` runs a test once per backend;
``open_cache`` (the contract suite's) also over caches passed in as
instances: a plain ``SimpleCache`` and a cache of no special-cased type.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import pytest
from cachelib import BaseCache, SimpleCache
from servers import (
    MariaDBServer,
    MemcachedServer,
    PostgresServer,
    RedisClusterServer,
    RedisServer,
    ServerError,
    ServerProcess,
)

from wsgi_session.stores import open_store

_counter = itertools.count()
_S = TypeVar("_S", bound=ServerProcess)


def start_or_skip(server: _S, timeout: float = 10.0) -> _S:
    """Start ``server``; skip the test without the binary (fail on CI)."""
    try:
        server.start(timeout)
    except ServerError as exc:
        server.close()
        if os.environ.get("CI"):
            pytest.fail(f"CI needs {server.binary}: {exc}")
        pytest.skip(str(exc))
    return server


def errors_in_threads(work: Callable[[int], object], count: int) -> list[BaseException]:
    """Run ``work(0)`` ... ``work(count - 1)`` in threads at once; return what
    they raised (a failed assert in a thread is otherwise only printed)."""
    errors: list[BaseException] = []

    def run(n: int) -> None:
        try:
            work(n)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """A private redis-server for the whole test run."""
    server = RedisServer()
    start_or_skip(server)
    yield server
    server.close()


@pytest.fixture(scope="session")
def memcached_server() -> Iterator[MemcachedServer]:
    """A private memcached for the whole test run."""
    server = MemcachedServer()
    start_or_skip(server)
    yield server
    server.close()


@pytest.fixture(scope="module")
def redis_cluster() -> Iterator[RedisClusterServer]:
    """A one-node Redis Cluster (all slots: it still refuses cross-slot commands)."""
    server = start_or_skip(RedisClusterServer())
    yield server
    server.close()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """URL of the (emptied, running) test Redis with a key prefix unique to the test."""
    redis_server.ensure_up()
    redis_server.flush()
    return f"{redis_server.url}?key_prefix=t{next(_counter)}:&socket_timeout=2"


@pytest.fixture
def memcached_url(memcached_server: MemcachedServer) -> str:
    """URL of the (emptied, running) test memcached with a unique key prefix."""
    memcached_server.ensure_up()
    memcached_server.flush()
    # dead_retry: python-memcached shuns a failed server this long; keep it
    # short so a restarted test server is used again at once.
    prefix = f"t{next(_counter)}:"
    return (
        f"{memcached_server.url}?key_prefix={prefix}&socket_timeout=2&dead_retry=0.05"
    )


def memcached_client_url(url: str, client: str) -> str:
    """``url`` with ``client=`` set; a test asking for pylibmc is skipped
    where it is not installed (it compiles against libmemcached; CI
    installs both)."""
    if client == "pylibmc":
        pytest.importorskip("pylibmc")
    return url + ("&" if "?" in url else "?") + f"client={client}"


@pytest.fixture
def pylibmc_url(memcached_url: str) -> str:
    """The test memcached through pylibmc."""
    return memcached_client_url(memcached_url, "pylibmc")


#: The kinds of store URL ``store_url`` runs a test over (add new ones here
#: and in ``_store_url``).
STORE_URL_KINDS = [
    "memory",
    "file",
    "redis",
    "memcached",
    "sqlite",
    "postgresql",
    "mariadb",
]

#: The stores the contract suite (``open_cache``) runs over: every store URL
#: kind, plus caches given to the middleware as instances.
CONTRACT_STORES = [*STORE_URL_KINDS, "pylibmc", "generic", "simplecache"]


def _store_url(request: pytest.FixtureRequest, kind: str, tmp_path: Path) -> str:
    if kind == "memory":
        return "memory://"
    if kind == "file":
        return "file://" + quote(str(tmp_path / "sessions"))
    url: str = request.getfixturevalue(f"{kind}_url")
    return url


@pytest.fixture(params=STORE_URL_KINDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """One store URL per backend; the servers start only when needed."""
    return _store_url(request, request.param, tmp_path)


class DictCache(BaseCache):
    """A cachelib cache of a type the stores do not special-case (so it gets
    the generic backend), over a dict that several instances may share."""

    def __init__(self, entries: dict[str, tuple[float, Any]]) -> None:
        super().__init__()
        self.entries = entries
        self.guard = threading.Lock()

    def _live(self, key: str) -> tuple[float, Any] | None:
        entry = self.entries.get(key)
        if entry is not None and entry[0] and entry[0] <= time.time():
            del self.entries[key]
            return None
        return entry

    def _expires(self, timeout: int | None) -> float:
        return time.time() + timeout if timeout else 0

    def get(self, key: str) -> Any:
        with self.guard:
            entry = self._live(key)
            return None if entry is None else entry[1]

    def set(self, key: str, value: Any, timeout: int | None = None) -> bool:
        with self.guard:
            self.entries[key] = (self._expires(timeout), value)
            return True

    def add(self, key: str, value: Any, timeout: int | None = None) -> bool:
        with self.guard:
            if self._live(key) is not None:
                return False
            self.entries[key] = (self._expires(timeout), value)
            return True

    def delete(self, key: str) -> bool:
        with self.guard:
            return self.entries.pop(key, None) is not None


@pytest.fixture(params=CONTRACT_STORES)
def open_cache(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Callable[[], BaseCache]:
    """A function opening a new cache instance on one store (per store kind)."""
    kind = request.param
    if kind == "generic":
        shared: dict[str, tuple[float, Any]] = {}
        return lambda: DictCache(shared)
    if kind == "simplecache":
        return SimpleCache  # a plain cachelib SimpleCache passed in
    url = _store_url(request, kind, tmp_path)
    return lambda: open_store(url)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A private PostgreSQL cluster for the whole test run."""
    server = PostgresServer()
    start_or_skip(server, 60)
    yield server
    server.close()


@pytest.fixture(scope="session")
def mariadb_server() -> Iterator[MariaDBServer]:
    """A private MariaDB server for the whole test run."""
    server = MariaDBServer()
    start_or_skip(server, 60)
    yield server
    server.close()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """URL of a SQLite store in a file of the test's own."""
    return "sqlite:///" + str(tmp_path / "sessions.db")


@pytest.fixture
def postgresql_url(postgres_server: PostgresServer) -> str:
    """URL of the (running) test PostgreSQL with tables unique to the test."""
    postgres_server.ensure_up()
    return f"{postgres_server.url}?table_prefix=t{next(_counter)}_"


@pytest.fixture
def mariadb_url(mariadb_server: MariaDBServer) -> str:
    """URL of the (running) test MariaDB with tables unique to the test."""
    mariadb_server.ensure_up()
    return f"{mariadb_server.url}?table_prefix=t{next(_counter)}_"


@pytest.fixture(autouse=True)
def _dispose_sql_engines() -> Iterator[None]:
    """Close the connection pools of the SQL engines a test opened."""
    try:
        from sqlalchemy import event
        from sqlalchemy.engine import Engine
    except ImportError:  # pragma: no cover - SQLAlchemy is a test dependency
        yield
        return
    engines: list[Engine] = []

    def opened(conn: object) -> None:
        engines.append(conn.engine)  # type: ignore[attr-defined]

    event.listen(Engine, "engine_connect", opened)
    try:
        yield
    finally:
        event.remove(Engine, "engine_connect", opened)
        for engine in engines:
            engine.dispose()
