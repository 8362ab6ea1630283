"""Profile wsgi_session's hot paths with cProfile (the benchmark's requests).

Run from the repository root::

    python tests/benchmarks/profile_paths.py [--requests N] [--top N] [--path NAME]
        [--keys K]

NAME is one of memory-untouched, memory-read, memory-write, redis-read,
redis-write, flask-read, flask-write, flask-redis-read, flask-redis-write
(``--path`` may be repeated; default:
memory-read, memory-write, redis-write). With ``--keys K`` the session
holds K small keys and the requests are the key-count sweep's (keys.py:
one key read or changed), on memory, file, Redis or Memcached: NAME is
then one of memory-read ... memcached-write (``--path`` required).
Each path runs the same requests as ``run.py`` (direct WSGI calls, cookies
carried), first unprofiled to warm up, then under cProfile; it prints the
functions with the most own time and the most cumulative time, and each
wsgi_session module's share of own time. With ``--plain`` the requests run
without cProfile, for a sampling profiler::

    py-spy record -f raw -o spy.txt -- python tests/benchmarks/profile_paths.py \
        --plain --path memory-read --requests 50000
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import pstats
import sys
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path[:0] = [str(HERE), str(ROOT)]

from contenders import StoreEnv, build_contenders  # noqa: E402
from harness import CookieJar, call, environ_template, timed_batch  # noqa: E402
from keys_contenders import KeysEnv, build  # noqa: E402


def run_profiled(profiler, app, template, jar, requests) -> None:
    """Profile only the WSGI calls (environs are built before the clock starts)."""
    environs = []
    for _ in range(requests):
        environ = template.copy()
        environ["wsgi.input"] = io.BytesIO()
        if jar.header is not None:
            environ["HTTP_COOKIE"] = jar.header
        environs.append(environ)

    def start_response(status, headers, exc_info=None):
        assert status.startswith("200"), status

    gc.collect()
    profiler.enable()
    for environ in environs:
        iterable = app(environ, start_response)
        try:
            b"".join(iterable)
        finally:
            close = getattr(iterable, "close", None)
            if close is not None:
                close()
    profiler.disable()


PATHS = {
    "memory-untouched": ("memory", "ws", "/untouched"),
    "memory-read": ("memory", "ws", "/read"),
    "memory-write": ("memory", "ws", "/write"),
    "redis-read": ("redis", "ws", "/read"),
    "redis-write": ("redis", "ws", "/write"),
    "flask-read": ("memory", "flask_ws", "/read"),
    "flask-write": ("memory", "flask_ws", "/write"),
    "flask-redis-read": ("redis", "flask_ws", "/read"),
    "flask-redis-write": ("redis", "flask_ws", "/write"),
}
#: The paths of ``--keys``: the key-count sweep's requests (store-scenario).
KEY_PATHS = {
    f"{store}-{scenario}": None
    for store in ("memory", "file", "redis", "memcached")
    for scenario in ("read", "write")
}


def _keys_app(name: str, keys: int, servers: dict) -> tuple:
    """The key-count sweep's wsgi_session app for ``name`` (store-scenario)."""
    store, _, scenario = name.rpartition("-")
    env = KeysEnv(store, servers.get(store))
    apps, _notes, missing = build(env)
    if "ws" not in apps:
        raise SystemExit(f"{name}: {missing.get('ws')}")
    return env, apps["ws"], f"/setup/{keys}", "/" + scenario, f"ws, {keys} keys"


def profile_path(
    name: str,
    requests: int,
    top: int,
    servers: dict,
    plain: bool = False,
    keys: int | None = None,
) -> None:
    if keys is not None:
        env, app, setup, path, label = _keys_app(name, keys, servers)
        store = env.store
    else:
        store, key, path = PATHS[name]
        env = StoreEnv(store)
        setup = "/setup"
    redis_server = servers.get("redis")
    if keys is None and redis_server is not None:
        env.redis_host, env.redis_port = redis_server.host, redis_server.port
    try:
        if keys is None:
            contender = next(c for c in build_contenders(env) if c.key == key)
            if contender.unavailable:
                print(f"{name}: {contender.label} unavailable: {contender.unavailable}")
                return
            app, label = contender.app, contender.label
        jar = CookieJar()
        call(app, environ_template(setup), jar)
        template = environ_template(path)

        def ok(i, exchange):
            assert exchange.status.startswith("200"), exchange.status

        timed_batch(app, template, jar, 200, ok)  # warm up
        mean, _ = timed_batch(app, template, jar, requests, ok)
        if plain:  # for an external sampling profiler (py-spy)
            print(f"{name}: {mean * 1e6:.1f} µs/request")
            return
        profiler = cProfile.Profile()
        run_profiled(profiler, app, template, jar, requests)
    finally:
        env.close()
    stats = pstats.Stats(profiler)
    total = stats.total_tt  # type: ignore[attr-defined]
    print(f"\n=== {name}: {label} {path} on {store} ===")
    print(
        f"unprofiled: {mean * 1e6:.1f} µs/request; profiled total own time "
        f"{total:.3f} s for {requests} requests"
    )
    by_module: dict[str, float] = defaultdict(float)
    rows = []
    for (filename, line, func), (_cc, nc, tt, ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        where = _short(filename)
        rows.append((tt, ct, nc, f"{where}:{line}({func})"))
        by_module[_module(filename)] += tt
    print(f"\n-- top {top} by own time (share of all own time)")
    for tt, _ct, nc, label in sorted(rows, reverse=True)[:top]:
        print(
            f"{tt / total * 100:5.1f}%  {tt * 1e6 / requests:7.2f} µs/req  "
            f"calls/req {nc / requests:6.1f}  {label}"
        )
    print(f"\n-- top {top} wsgi_session functions by cumulative time")
    ours = [r for r in rows if "wsgi_session/" in r[3]]
    for _tt, ct, nc, label in sorted(ours, key=lambda r: r[1], reverse=True)[:top]:
        print(
            f"{ct / total * 100:5.1f}%  {ct * 1e6 / requests:7.2f} µs/req  "
            f"calls/req {nc / requests:6.1f}  {label}"
        )
    print("\n-- own time by module")
    for module, tt in sorted(by_module.items(), key=lambda kv: -kv[1])[:15]:
        print(f"{tt / total * 100:5.1f}%  {tt * 1e6 / requests:7.2f} µs/req  {module}")


def _short(filename: str) -> str:
    for marker in ("site-packages/", "wsgi_session/", "tests/benchmarks/"):
        if marker in filename:
            head = "" if marker == "site-packages/" else marker
            return head + filename.split(marker, 1)[1]
    return filename.rsplit("/", 2)[-1] if "/" in filename else filename


def _module(filename: str) -> str:
    short = _short(filename)
    if short.startswith("wsgi_session/"):
        return short
    if "/" in short:
        return short.split("/", 1)[0]
    return short


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--path", action="append", choices=sorted(PATHS | KEY_PATHS))
    parser.add_argument("--keys", type=int, help="a session of K small keys")
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument(
        "--plain",
        action="store_true",
        help="no cProfile: just run the requests (to sample with py-spy)",
    )
    args = parser.parse_args()
    paths = args.path or ["memory-read", "memory-write", "redis-write"]
    table = PATHS if args.keys is None else KEY_PATHS
    if any(p not in table for p in paths):
        parser.error("with --keys: " + ", ".join(KEY_PATHS) + "; else the others")
    from tests.servers import MemcachedServer, RedisServer

    servers = {}
    try:
        for store, kind in (("redis", RedisServer), ("memcached", MemcachedServer)):
            if any(f"{store}-" in p for p in paths):  # flask-redis-read too
                servers[store] = kind()
                servers[store].start()
        for name in paths:
            profile_path(name, args.requests, args.top, servers, args.plain, args.keys)
    finally:
        for server in servers.values():
            server.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
