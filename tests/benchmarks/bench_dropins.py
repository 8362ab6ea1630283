"""The drop-ins against what they replace, in one process (issue 12).

* **Beaker-compat**: the plain app of :mod:`contenders` on
  ``environ["beaker.session"]`` (``save()`` after each change) under Beaker's
  ``SessionMiddleware`` and under ``wsgi_session.beaker.SessionMiddleware``;
* **Pyramid**: one Pyramid view doing the same on ``request.session``, with
  ``pyramid_beaker``'s session factory and with
  ``config.include("wsgi_session.pyramid")`` (the factory alone, no WSGI
  wrapper), plus the bare Pyramid app.

On the memory store and a private Redis (tests/servers.py). Rounds are
interleaved (every contender once per round) and each figure is the median
over rounds of the mean per request; ratios are ours / theirs per round, so
machine noise hits both sides alike. Run from the repository root::

    python tests/benchmarks/bench_dropins.py [--rounds 7] [--requests 2000]
"""

from __future__ import annotations

import argparse
import sys
import typing as t
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path[:0] = [str(HERE), str(ROOT)]

from contenders import SECRET, SMALL_SESSION, START, plain_app  # noqa: E402
from harness import CookieJar, call, environ_template, median, timed_batch  # noqa: E402

WSGIApp = t.Callable[..., t.Iterable[bytes]]
SCENARIOS = ("read", "write", "untouched")


def _beaker_options(store: str, redis_url: str) -> dict[str, str]:
    options = {"session.secret": SECRET, "session.key": "beaker.session.id"}
    if store == "memory":
        options["session.type"] = "memory"
    else:
        options.update({"session.type": "ext:redis", "session.url": redis_url})
    return options


def _save(session: t.Any) -> None:
    session.save()


def beaker_contenders(store: str, redis_url: str) -> dict[str, WSGIApp]:
    """Beaker's middleware and ours, both given Beaker's options."""
    from beaker.middleware import SessionMiddleware as Beaker

    from wsgi_session.beaker import SessionMiddleware as DropIn

    options = _beaker_options(store, redis_url)
    app = plain_app(lambda environ: environ["beaker.session"], _save)
    ours = dict(options)
    if store == "redis":
        ours["session.url"] = f"{redis_url}?key_prefix=dropin:"
    return {
        "bare app": plain_app(None),
        "Beaker": Beaker(app, options),
        "wsgi_session.beaker": DropIn(app, ours),
    }


def _pyramid_view(request: t.Any) -> t.Any:
    from pyramid.response import Response

    path = request.path_info
    if path == "/untouched":
        return Response(b"untouched", content_type="text/plain")
    if request.registry.settings.get("bare"):
        return Response(b"%d" % START, content_type="text/plain")
    s = request.session
    if path == "/read":
        s.get("user")
        body = b"%d" % s["counter"]
    elif path == "/write":
        n = s["counter"] + 1
        s["counter"] = n
        body = b"%d" % n
    elif path == "/setup":
        s.update(SMALL_SESSION)
        body = b"%d" % START
    else:
        raise LookupError(path)
    return Response(body, content_type="text/plain")


def _pyramid(settings: dict[str, t.Any], include: str | None) -> WSGIApp:
    from pyramid.config import Configurator

    with Configurator(settings=settings) as config:
        if include:
            config.include(include)
        config.add_route("any", "/*path")
        config.add_view(_pyramid_view, route_name="any")
        app: WSGIApp = config.make_wsgi_app()
    return app


def pyramid_contenders(store: str, redis_url: str) -> dict[str, WSGIApp]:
    """Bare Pyramid, pyramid_beaker and our factory on the same view."""
    beaker = _beaker_options(store, redis_url)
    ours = {
        "wsgi_session.secret_key": SECRET,
        "wsgi_session.store": "memory://"
        if store == "memory"
        else f"{redis_url}?key_prefix=pyr:",
    }
    return {
        "bare Pyramid": _pyramid({"bare": True}, None),
        "pyramid_beaker": _pyramid(beaker, "pyramid_beaker"),
        "wsgi_session.pyramid": _pyramid(ours, "wsgi_session.pyramid"),
    }


def _check(i: int, exchange: t.Any) -> None:
    if not exchange.status.startswith("200"):
        raise AssertionError(f"request {i}: {exchange.status} {exchange.body[:80]!r}")


def measure(
    apps: dict[str, WSGIApp], rounds: int, requests: int
) -> dict[tuple[str, str], list[float]]:
    """Mean µs per request, per round, for every app and scenario."""
    templates = {p: environ_template(p) for p in ("/setup", "/read", "/write")}
    templates["/untouched"] = environ_template("/untouched")
    jars: dict[str, CookieJar] = {}
    for name, app in apps.items():
        jar = CookieJar()
        call(app, templates["/setup"], jar)
        jars[name] = jar
    samples: dict[tuple[str, str], list[float]] = {}
    for _ in range(rounds):
        for scenario in SCENARIOS:
            for name, app in apps.items():
                mean, jars[name] = timed_batch(
                    app, templates["/" + scenario], jars[name], requests, _check
                )
                samples.setdefault((name, scenario), []).append(mean * 1e6)
    return samples


def report(
    title: str,
    samples: dict[tuple[str, str], list[float]],
    ours: str,
    theirs: str,
    bare: str,
) -> list[str]:
    names = list(dict.fromkeys(name for name, _ in samples))
    lines = [f"== {title} (median µs per request) ==", ""]
    lines.append(f"{'scenario':<10}" + "".join(f"{n:>22}" for n in names))
    for scenario in SCENARIOS:
        cells = [median(samples[n, scenario]) for n in names]
        lines.append(f"{scenario:<10}" + "".join(f"{c:>22.1f}" for c in cells))
    lines.append("")
    lines.append(
        f"overhead over {bare}, {ours} / {theirs} (median of per-round ratios)"
    )
    for scenario in SCENARIOS:
        ratios = [
            (o - b) / (th - b) if th - b > 0 else float("nan")
            for o, th, b in zip(
                samples[ours, scenario],
                samples[theirs, scenario],
                samples[bare, scenario],
            )
        ]
        time_ratios = [
            o / th for o, th in zip(samples[ours, scenario], samples[theirs, scenario])
        ]
        lines.append(
            f"  {scenario:<10} overhead ratio {median(ratios):5.2f}   "
            f"time ratio {median(time_ratios):5.2f}"
        )
    lines.append("")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--only", choices=("memory", "redis"))
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore", DeprecationWarning)  # WebOb imports cgi
    from tests.servers import RedisServer

    stores = [args.only] if args.only else ["memory", "redis"]
    server = None
    if "redis" in stores:
        server = RedisServer()
        server.start()
    out: list[str] = []
    try:
        for store in stores:
            url = server.url if server is not None else ""
            beaker = measure(beaker_contenders(store, url), args.rounds, args.requests)
            out += report(
                f"{store}: Beaker-compat",
                beaker,
                "wsgi_session.beaker",
                "Beaker",
                "bare app",
            )
            pyr = measure(pyramid_contenders(store, url), args.rounds, args.requests)
            out += report(
                f"{store}: Pyramid",
                pyr,
                "wsgi_session.pyramid",
                "pyramid_beaker",
                "bare Pyramid",
            )
    finally:
        if server is not None:
            server.close()
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
