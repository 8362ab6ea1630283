"""Users benchmark (issue 13): what binding a session to its user costs.

* a read-only request of a bound session against an anonymous one, on memory
  and on Redis: µs per request (the difference is the CPU cost of binding)
  and store round trips (must be equal);
* ``end_sessions_of()`` for a user with 1, 10 and 1,000 sessions on Redis.

Run from the repository root (a private redis-server is started, as in
``run.py``)::

    PYTHONPATH=. python tests/benchmarks/users.py [--rounds N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import typing as t
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/ for servers

from harness import CookieJar, call, environ_template
from servers import RedisServer

from wsgi_session import SessionMiddleware
from wsgi_session.stores import CountingBackend


def app(environ: dict[str, t.Any], start_response: t.Any) -> list[bytes]:
    """/login binds the session to a user; / reads one key."""
    session = environ["wsgi_session"]
    if environ["PATH_INFO"] == "/login":
        session["user"] = "ann"
        session["n"] = 1
    elif environ["PATH_INFO"] == "/start":
        session["n"] = 1
    body = str(session.get("n")).encode()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body]


def read_cost(store: str, bound: bool, requests: int, rounds: int) -> tuple[float, int]:
    """Median µs per read-only request, and store round trips per request."""
    # The same data either way (a "user" key); only binding differs.
    user_key = "user" if bound else None
    mw = SessionMiddleware(app, secret_key="k", store=store, user_key=user_key)
    counting = CountingBackend(mw.backend)
    jar = CookieJar()
    call(mw, environ_template("/login"), jar)
    template = environ_template("/")
    call(mw, template, jar)  # warm
    medians = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(requests):
            call(mw, template, jar)
        medians.append((time.perf_counter() - start) / requests * 1e6)
    before = counting.round_trips
    call(mw, template, jar)
    return statistics.median(medians), counting.round_trips - before


def end_all_cost(store: str, sessions: int) -> float:
    """Milliseconds of one end_sessions_of() for a user with ``sessions`` sessions."""
    mw = SessionMiddleware(app, secret_key="k", store=store, user_key="user")
    mw.end_sessions_of("ann")  # sessions of earlier measurements
    for _ in range(sessions):
        call(mw, environ_template("/login"), CookieJar())
    start = time.perf_counter()
    ended = mw.end_sessions_of("ann")
    elapsed = (time.perf_counter() - start) * 1e3
    if ended != sessions:
        raise AssertionError(f"ended {ended} of {sessions} sessions")
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args(argv)
    redis = RedisServer()
    redis.start()
    try:
        url = f"redis://{redis.host}:{redis.port}/0"
        print("read-only request, µs (median of rounds) and store round trips")
        print(f"{'store':8} {'anonymous':>12} {'bound':>12} {'bound-anon':>11} trips")
        for name, store in (("memory", "memory://"), ("redis", url)):
            anon, anon_trips = read_cost(store, False, args.requests, args.rounds)
            bound, bound_trips = read_cost(store, True, args.requests, args.rounds)
            print(
                f"{name:8} {anon:12.1f} {bound:12.1f} {bound - anon:+11.1f} "
                f"{anon_trips} / {bound_trips}"
            )
        print("\nend_sessions_of() on Redis, ms")
        for count in (1, 10, 1000):
            print(f"{count:6d} sessions: {end_all_cost(url, count):9.1f} ms")
    finally:
        redis.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
