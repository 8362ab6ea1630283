"""Benchmark: per-request cost against the number of keys in the session.

Run from the repository root::

    python tests/benchmarks/keys.py [--quick] [--rounds N] [--only STORE]
        [--count K] [--markdown PATH] [--json PATH] [--plot PATH] [--no-pin]

(also ``python tests/benchmarks/run.py --keys ...``; ``--only`` (memory,
file, redis, memcached) and ``--count`` may be repeated.) Issue 16: a session holding K
small keys (K = 1, 10, 50, 300, 1000), then one key read (``/read``) or one
key changed (``/write``) per request; wsgi_session against Beaker (JSON
data serializer: ``data_serializer=json``) and, on Flask, wsgi_session's
replace mode against Flask-Session. The same harness as ``run.py``: direct
WSGI calls, the cookie carried, every response checked, an untimed read
after each batch checks that the last write persisted, contenders
interleaved in an order rotated per round, the median over rounds of each
batch's mean. ``--plot`` draws µs per request against K (log scales, one
line per contender) with matplotlib; ``--json`` keeps the numbers so
``keys_plot.py`` can draw them again without a run.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import sys
import time
import typing as t
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path[:0] = [str(HERE), str(ROOT)]

from harness import (  # noqa: E402
    BenchmarkError,
    CookieJar,
    MachineLoad,
    call,
    environ_template,
    median,
    pin_process,
    timed_batch,
)
from keys_contenders import CONTENDERS, START, KeysEnv, build  # noqa: E402

KEY_COUNTS = (1, 10, 50, 300, 1000)
STORES = ("memory", "file", "redis", "memcached")
SCENARIOS = ("read", "write")
#: The peer each contender is compared with (a ratio column per pair).
PAIRS = (("ws", "beaker"), ("flask_ws", "flask_session"))


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass
class Cell:
    """One contender, one key count, one scenario: a client and its samples."""

    contender: str
    app: t.Any
    keys: int
    scenario: str
    jar: CookieJar = field(default_factory=CookieJar)
    counter: int = START
    count: int = 0
    samples: list[float] = field(default_factory=list)
    failed: str | None = None

    @property
    def name(self) -> str:
        return f"{self.contender} / {self.keys} keys / {self.scenario}"

    def check(self, i: int, exchange: t.Any) -> None:
        expected = self.counter + i + 1 if self.scenario == "write" else self.counter
        if not exchange.status.startswith("200") or exchange.body != b"%d" % expected:
            raise BenchmarkError(
                f"{self.name}: {exchange.status}, expected {expected},"
                f" got {exchange.body[:60]!r}"
            )


#: Environ templates, one per path, built once (timed_batch copies them).
_template = functools.lru_cache(maxsize=None)(environ_template)


def _batch(cell: Cell, count: int) -> float:
    mean, cell.jar = timed_batch(
        cell.app, _template("/" + cell.scenario), cell.jar, count, cell.check
    )
    if cell.scenario == "write":
        cell.counter += count
    exchange = call(cell.app, _template("/read"), cell.jar)
    if exchange.body != b"%d" % cell.counter:
        raise BenchmarkError(f"{cell.name}: not persisted ({exchange.body[:60]!r})")
    return mean


def _prepare(cell: Cell, batch_seconds: float) -> None:
    """Fill the session (untimed), warm up, size the batch."""
    setup = call(cell.app, _template(f"/setup/{cell.keys}"), cell.jar)
    if not setup.status.startswith("200") or not cell.jar.values:
        raise BenchmarkError(f"{cell.name}: setup answered {setup.status}")
    _batch(cell, 3)
    warm = _batch(cell, 5)
    cell.count = max(5, min(2000, int(batch_seconds / max(warm, 1e-7))))


@dataclass
class StoreRun:
    """The cells of one store, by (contender, keys, scenario)."""

    store: str
    cells: dict[tuple[str, int, str], Cell]
    notes: dict[str, str]
    missing: dict[str, str]

    def time(self, contender: str, keys: int, scenario: str) -> float | None:
        """Median µs per request."""
        cell = self.cells.get((contender, keys, scenario))
        if cell is None or cell.failed or not cell.samples:
            return None
        return median(cell.samples) * 1e6


def run_store(
    env: KeysEnv, rounds: int, batch_seconds: float, keys: t.Sequence[int]
) -> StoreRun:
    """Measure every contender at every key count on ``env``'s store."""
    apps, notes, missing = build(env)
    cells: dict[tuple[str, int, str], Cell] = {}
    for name, app in apps.items():
        for k in keys:
            for scenario in SCENARIOS:
                cell = Cell(name, app, k, scenario)
                cells[name, k, scenario] = cell
                try:
                    _prepare(cell, batch_seconds)
                except Exception as exc:
                    cell.failed = f"{type(exc).__name__}: {exc}"
                    log(f"  !! {cell.name}: {cell.failed}")
    names = list(apps)
    for r in range(rounds):
        log(f"  {env.store}: round {r + 1}/{rounds}")
        shift = r % max(1, len(names))
        order = names[shift:] + names[:shift]
        for k in keys:
            for scenario in SCENARIOS:
                for name in order:
                    cell = cells[name, k, scenario]
                    if cell.failed:
                        continue
                    try:
                        cell.samples.append(_batch(cell, cell.count))
                    except Exception as exc:
                        cell.failed = f"{type(exc).__name__}: {exc}"
                        log(f"  !! {cell.name}: {cell.failed}")
    return StoreRun(env.store, cells, notes, missing)


# -- reporting ----------------------------------------------------------------


def _fmt(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "n/a"
    return f"{value:,.{digits}f}"


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b <= 0 else a / b


def table(run: StoreRun, scenario: str, keys: t.Sequence[int], md: bool) -> list[str]:
    """µs per request by key count, one column per contender, plus ratios."""
    names = [n for n in CONTENDERS if any(c == n for c, _, _ in run.cells)]
    pairs = [(a, b) for a, b in PAIRS if a in names and b in names]
    header = ["keys", *[CONTENDERS[n] for n in names]]
    header += [f"{CONTENDERS[a]} / {CONTENDERS[b]}" for a, b in pairs]
    rows = []
    for k in keys:
        row = [f"{k:,}"] + [_fmt(run.time(n, k, scenario)) for n in names]
        row += [
            _fmt(_ratio(run.time(a, k, scenario), run.time(b, k, scenario)), 2)
            for a, b in pairs
        ]
        rows.append(row)
    if md:
        rule = ["---:"] * len(header)
        return ["| " + " | ".join(r) + " |" for r in [header, rule, *rows]]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return [
        "  ".join(cell.rjust(w) for cell, w in zip(r, widths)) for r in [header, *rows]
    ]


#: Issue 16's goals: (keys, limit of wsgi_session / Beaker) per scenario;
#: on every store but memory (where the limits are run.py's).
GOALS = {
    "read": ((1, 0.25), (50, 1.0), (300, 1.0), (1000, 1.0)),
    "write": ((1, 0.6), (50, 1.0), (300, 1.0), (1000, 1.0)),
}


def goals(data: dict[str, t.Any]) -> list[str]:
    """PASS / FAIL of each goal, from the medians (:func:`as_json`'s data)."""
    keys = data["keys"]
    lines = []
    for store, scenarios in data["stores"].items():
        if store == "memory":
            continue
        for scenario, limits in GOALS.items():
            times = scenarios[scenario]
            for k, limit in limits:
                if k not in keys or "ws" not in times or "beaker" not in times:
                    continue
                ws, bk = times["ws"][keys.index(k)], times["beaker"][keys.index(k)]
                ratio = _ratio(ws, bk)
                status = (
                    "n/a" if ratio is None else "PASS" if ratio <= limit else "FAIL"
                )
                lines.append(
                    f"{status}  {store} {scenario}, {k:,} key{'s' if k > 1 else ''}:"
                    " wsgi_session / Beaker"
                    f" {_fmt(ratio, 2)} (limit {limit:g})"
                )
    return lines


def _versions() -> str:
    names = ["Beaker", "Flask-Session", "redis", "hiredis", "python-memcached"]
    found = []
    for name in names:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            found.append(f"{name} (not installed)")
    try:
        from redis.utils import HIREDIS_AVAILABLE
    except ImportError:
        HIREDIS_AVAILABLE = False
    parser = "hiredis" if HIREDIS_AVAILABLE else "pure Python"
    return ", ".join(found) + f"; redis-py's reply parser: {parser}"


def report(
    runs: list[StoreRun], keys: t.Sequence[int], head: list[str], md: bool
) -> str:
    """The whole sweep as text or Markdown."""
    out = [line + ("  " if md and line else "") for line in head] + [""]
    for run in runs:
        for scenario in SCENARIOS:
            what = "one key read" if scenario == "read" else "one key changed"
            title = f"{run.store}, {what}: median µs per request"
            out += [f"#### {title}", ""] if md else [f"== {title} =="]
            out += [*table(run, scenario, keys, md), ""]
        problems = [f"{n}: {why}" for n, why in run.missing.items()]
        problems += [c.name + ": " + c.failed for c in run.cells.values() if c.failed]
        out += [("- " if md else "  ! ") + p for p in problems]
    out.append("Goals of issue 16:" if not md else "**Goals of issue 16:**")
    out += [
        ("- " if md else "  ") + g for g in goals(json.loads(as_json(runs, keys, head)))
    ]
    out.append("")
    out.append("Contenders:" if not md else "**Contenders:**")
    notes: dict[str, list[str]] = {}
    for run in runs:
        for name, note in run.notes.items():
            notes.setdefault(f"{CONTENDERS[name]}: {note}", []).append(run.store)
    out += [("- " if md else "  ") + f"{n} ({', '.join(s)})" for n, s in notes.items()]
    return "\n".join(out) + "\n"


def as_json(runs: list[StoreRun], keys: t.Sequence[int], head: list[str]) -> str:
    """The medians, for keys_plot.py."""
    data = {
        "head": head,
        "keys": list(keys),
        "labels": CONTENDERS,
        "stores": {
            run.store: {
                scenario: {
                    name: [run.time(name, k, scenario) for k in keys]
                    for name in CONTENDERS
                    if any(c == name for c, _, _ in run.cells)
                }
                for scenario in SCENARIOS
            }
            for run in runs
        },
    }
    return json.dumps(data, indent=1)


# -- running ------------------------------------------------------------------


def _start_servers(stores: list[str]) -> dict[str, t.Any]:
    from tests.servers import MemcachedServer, RedisServer, ServerError

    servers: dict[str, t.Any] = {}
    for store, kind in (("redis", RedisServer), ("memcached", MemcachedServer)):
        if store in stores:
            server = kind()
            try:
                server.start()
            except ServerError as exc:
                log(f"{store} store skipped: {exc}")
                server.close()
                stores.remove(store)
                continue
            servers[store] = server
    return servers


def _pin(servers: dict[str, t.Any]) -> int | None:
    """This process and the servers on one CPU (see run.py's pin_to_one_cpu)."""
    if not hasattr(os, "sched_setaffinity"):
        return None
    cpu = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    for server in servers.values():
        if server.process is not None:
            pin_process(server.process.pid, cpu)
    return cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Per-request cost against keys.")
    parser.add_argument("--quick", action="store_true", help="short run")
    parser.add_argument("--rounds", type=int, help="interleaved rounds per store")
    parser.add_argument("--only", action="append", choices=STORES)
    parser.add_argument("--count", type=int, action="append", help="key counts")
    parser.add_argument("--markdown", metavar="PATH", help="also write Markdown")
    parser.add_argument("--json", metavar="PATH", help="also write the medians")
    parser.add_argument("--plot", metavar="PATH", help="draw a PNG (matplotlib)")
    parser.add_argument("--no-pin", action="store_true", help="do not pin to a CPU")
    args = parser.parse_args(argv)
    rounds = args.rounds or (3 if args.quick else 9)
    batch_seconds = 0.02 if args.quick else 0.06
    keys = tuple(args.count or KEY_COUNTS)
    stores = [s for s in STORES if not args.only or s in args.only]
    started = time.perf_counter()
    load = MachineLoad()
    servers = _start_servers(stores)
    runs = []
    try:
        pinned = None if args.no_pin else _pin(servers)
        for server in servers.values():
            load.watch(server.process.pid)
        for store in stores:
            log(f"{store} store ...")
            env = KeysEnv(store, servers.get(store))
            try:
                runs.append(run_store(env, rounds, batch_seconds, keys))
            finally:
                env.close()
        others = load.others_share()
    finally:
        for server in servers.values():
            server.close()
    cpu = "not pinned" if pinned is None else f"pinned with the servers to CPU {pinned}"
    head = [
        "Command: python tests/benchmarks/keys.py "
        + " ".join(argv if argv is not None else sys.argv[1:]),
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs; Python"
        f" {platform.python_version()}; {_versions()}",
        f"{rounds} rounds, {time.perf_counter() - started:.0f} s; CPU: {cpu};"
        " other processes used "
        + ("an unknown share" if others is None else f"{others * 100:.0f}%")
        + " of the machine's CPU.",
        "Session: K keys (`counter` + K - 1 keys `k0001`... holding short"
        " strings); one key read or one key changed per request.",
    ]
    print(report(runs, keys, head, md=False))
    if args.markdown:
        Path(args.markdown).write_text(report(runs, keys, head, md=True), "utf-8")
    if args.json or args.plot:
        data = as_json(runs, keys, head)
        if args.json:
            Path(args.json).write_text(data, "utf-8")
        if args.plot:
            from keys_plot import plot

            plot(json.loads(data), args.plot)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
