"""Benchmark: the Django drop-in against bare Django and Django's own sessions.

Run with ``python tests/benchmarks/bench_django.py [--rounds N] [--requests N]
[--only "Django cache,ours memory"]``
from the repository root. One Django project, served by its own
``WSGIHandler`` (no WSGI wrapper: the drop-in opens and saves sessions
itself), with the middleware and session engine of each contender:

* ``bare``: no session middleware at all (the floor);
* ``Django db`` / ``Django cache``: ``django.contrib.sessions`` with its
  database backend (SQLite in memory) or cache backend (local memory);
* ``Django cache (Redis)``: the cache backend on Django's ``RedisCache``;
* ``ours memory`` / ``ours Redis``: ``wsgi_session.django.SessionMiddleware``
  and engine on ``memory://`` and on a Redis server started for the run.

Scenarios: ``read`` (a stored session read, not changed) and ``write`` (one
key changed). The contenders run interleaved in each round; the table has
the median time per request and the overhead over bare Django in the same
run (the machine is shared: compare ratios, not absolute numbers).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import typing as t
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parents[1]), str(HERE.parent), str(HERE)]

import django  # noqa: E402
from django.conf import settings  # noqa: E402
from django.http import HttpResponse  # noqa: E402
from django.urls import path  # noqa: E402
from harness import CookieJar, Exchange, call, environ_template, timed_batch  # noqa: E402

DJANGO_MW = "django.contrib.sessions.middleware.SessionMiddleware"
OURS_MW = "wsgi_session.django.SessionMiddleware"


def read(request: t.Any) -> HttpResponse:
    """Read one key of the session (bare Django has none: a constant)."""
    session = getattr(request, "session", None)
    return HttpResponse(str(0 if session is None else session.get("n", 0)))


def write(request: t.Any) -> HttpResponse:
    """Change one key of the session."""
    session = getattr(request, "session", None)
    if session is None:
        return HttpResponse("0")
    session["n"] = session.get("n", 0) + 1
    return HttpResponse(str(session["n"]))


urlpatterns = [path("read/", read), path("write/", write)]


def configure() -> None:
    """One Django configuration for all contenders (they override parts)."""
    settings.configure(
        DEBUG=False,
        SECRET_KEY="bench-secret-key",
        ALLOWED_HOSTS=["*"],
        ROOT_URLCONF=__name__,
        USE_TZ=True,
        INSTALLED_APPS=["django.contrib.sessions", "wsgi_session.django"],
        DATABASES={
            "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}
        },
        MIDDLEWARE=[],
        DEFAULT_AUTO_FIELD="django.db.models.AutoField",
        LOGGING_CONFIG=None,
    )
    django.setup()
    from django.core.management import call_command

    call_command("migrate", run_syncdb=True, verbosity=0)


def contenders(redis_url: str) -> dict[str, dict[str, t.Any]]:
    """The settings each contender runs with."""
    redis_cache = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_url,
        }
    }
    return {
        "bare": {"MIDDLEWARE": []},
        "Django db": {
            "MIDDLEWARE": [DJANGO_MW],
            "SESSION_ENGINE": "django.contrib.sessions.backends.db",
        },
        "Django cache": {
            "MIDDLEWARE": [DJANGO_MW],
            "SESSION_ENGINE": "django.contrib.sessions.backends.cache",
        },
        "Django cache (Redis)": {
            "MIDDLEWARE": [DJANGO_MW],
            "SESSION_ENGINE": "django.contrib.sessions.backends.cache",
            "CACHES": redis_cache,
        },
        "ours memory": {
            "MIDDLEWARE": [OURS_MW],
            "SESSION_ENGINE": "wsgi_session.django.engine",
            "WSGI_SESSION": {"store": "memory://"},
        },
        "ours Redis": {
            "MIDDLEWARE": [OURS_MW],
            "SESSION_ENGINE": "wsgi_session.django.engine",
            "WSGI_SESSION": {"store": redis_url},
        },
    }


def _check(i: int, exchange: Exchange) -> None:
    if not exchange.status.startswith("200"):
        raise AssertionError(f"request {i}: {exchange.status} {exchange.body[:200]!r}")


def measure(
    name: str, overrides: dict[str, t.Any], scenario: str, requests: int
) -> float:
    """Mean seconds per request of one batch of ``scenario`` for a contender."""
    from django.core.wsgi import get_wsgi_application
    from django.test import override_settings

    with override_settings(**overrides):
        app = get_wsgi_application()
        template = environ_template(f"/{scenario}/")
        jar = CookieJar()
        call(app, environ_template("/write/"), jar)  # a stored session to use
        if name != "bare" and not jar.values:
            raise AssertionError(f"{name}: no session cookie")
        seconds, _ = timed_batch(app, template, jar, requests, _check)
    return seconds


def main(argv: list[str] | None = None) -> None:
    """Run the rounds and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument(
        "--only", default="", help="comma-separated contenders (bare always runs)"
    )
    args = parser.parse_args(argv)
    from servers import RedisServer

    configure()
    redis = RedisServer()
    redis.start()
    try:
        table = contenders(redis.url)
        if args.only:
            wanted = {"bare", *(name.strip() for name in args.only.split(","))}
            table = {name: v for name, v in table.items() if name in wanted}
        results: dict[tuple[str, str], list[float]] = {}
        for _round in range(args.rounds):
            for scenario in ("read", "write"):
                for name, overrides in table.items():
                    seconds = measure(name, overrides, scenario, args.requests)
                    results.setdefault((name, scenario), []).append(seconds)
    finally:
        redis.close()
    print(f"median of {args.rounds} rounds x {args.requests} requests, µs per request")
    print(f"{'contender':<22} {'read':>8} {'+bare':>8} {'write':>8} {'+bare':>8}")
    bare = {s: statistics.median(results[("bare", s)]) for s in ("read", "write")}
    for name in table:
        cells = []
        for scenario in ("read", "write"):
            value = statistics.median(results[(name, scenario)])
            cells += [f"{value * 1e6:8.1f}", f"{(value - bare[scenario]) * 1e6:8.1f}"]
        print(f"{name:<22} " + " ".join(cells))


if __name__ == "__main__":
    main()
