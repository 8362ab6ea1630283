"""Benchmark: wsgi_session against Beaker, Flask-Session and the store's floor.

Run from the repository root::

    python tests/benchmarks/run.py [--quick] [--rounds N] [--markdown PATH]
        [--only memory|file|redis|sqlite|postgresql]

(``--only`` may be repeated.) ``run.py --keys [OPTIONS]`` runs the
key-count sweep of issue 16 instead (``keys.py``, whose options it takes).
Not part of the test suite: pytest ignores
``tests/benchmarks``. A full run takes about 3 minutes on a 2-core machine,
``--quick`` about 30 s. Needs ``redis-server`` on the PATH for the
Redis store (it is started on a free loopback port and stopped at the end)
and Beaker, Flask, Flask-Session, redis-py and cachelib; the SQL stores
(issue 14: read and one-key write only) need SQLAlchemy, Django and
Flask-SQLAlchemy, and for PostgreSQL ``initdb`` / ``postgres`` and psycopg
(a private cluster on a free loopback port, like the Redis server).

What it does (issue 6):

* Direct WSGI calls, no HTTP server; a fresh environ per request (a copy of a
  prebuilt template with a fresh ``wsgi.input``); the session cookie carried
  from each ``Set-Cookie`` to the next request, as a browser does. Only the
  WSGI call and consuming its body are timed.
* Every response is checked (the app echoes the counter it read or wrote),
  and after every batch an untimed read checks that the last write
  persisted, so a session layer that silently drops data cannot win.
* Contenders run interleaved: each round runs every contender once per
  scenario, in an order rotated from round to round, so machine drift hits
  all alike. A contender's result is the median over rounds of its mean time
  per request; its *overhead* is the median over rounds of the difference to
  its bare app measured in the same round (the bare WSGI app for plain
  contenders, the bare Flask app for Flask ones).
* On Redis, round trips per request are counted by the server: its SLOWLOG
  (threshold 0, enabled only for the counting pass) lists each command with
  the client address, so commands run inside a Lua script (address ``?:0``)
  are not mistaken for round trips.

The goals of issue 6 are evaluated at the end and printed PASS / FAIL.
"""

from __future__ import annotations

import argparse
import datetime as dt
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

from contenders import (  # noqa: E402
    BIG_SESSION_BYTES,
    ORDER,
    START,
    Contender,
    StoreEnv,
    build_contenders,
)
from harness import (  # noqa: E402
    BenchmarkError,
    CookieJar,
    Exchange,
    MachineLoad,
    call,
    environ_template,
    median,
    pin_process,
    timed_batch,
)
from sql_contenders import SQL_ORDER, SQL_STORES, build_sql_contenders  # noqa: E402

STORES = ("memory", "file", "redis", *SQL_STORES)


@dataclass(frozen=True)
class Scenario:
    """One kind of request."""

    key: str
    label: str
    path: str
    setup: str | None  #: path that fills the session first (None: no session)
    writes: bool = False
    fresh: bool = False  #: every request is a new browser (no cookies)


SCENARIOS = [
    Scenario("untouched", "untouched (cookie sent)", "/untouched", "/setup"),
    Scenario("read", "read-only", "/read", "/setup"),
    Scenario("write", "change one key", "/write", "/setup", writes=True),
    Scenario("big", "50 keys / 20 KB, one changes", "/big", "/setup-big", writes=True),
    Scenario("new", "new session", "/new", None, fresh=True),
]
SCENARIO = {s.key: s for s in SCENARIOS}
#: The SQL stores (issue 14) measure reads and one-key merge writes.
SQL_SCENARIOS = [SCENARIO["read"], SCENARIO["write"]]


def scenarios_of(store: str) -> list[Scenario]:
    return SQL_SCENARIOS if store in SQL_STORES else SCENARIOS


@dataclass
class Cell:
    """One contender in one scenario: its client state and its samples."""

    contender: Contender
    scenario: Scenario
    jar: CookieJar = field(default_factory=CookieJar)
    counter: int = START
    count: int = 0
    samples: list[float] = field(default_factory=list)
    failed: str | None = None
    round_trips: float | None = None
    commands: str = ""
    backend_round_trips: float | None = None

    @property
    def name(self) -> str:
        return f"{self.contender.label} / {self.scenario.key}"

    def check(self, i: int, exchange: Exchange) -> None:
        """Validate response ``i`` of the current batch."""
        if not exchange.status.startswith("200"):
            raise BenchmarkError(f"{self.name}: status {exchange.status}")
        scenario = self.scenario
        if scenario.key == "untouched":
            if exchange.body != b"untouched":
                raise BenchmarkError(f"{self.name}: body {exchange.body[:60]!r}")
            return
        if not self.contender.stateful:
            return
        if scenario.fresh:
            expected = 1
            if "set-cookie" not in exchange.header_names():
                raise BenchmarkError(f"{self.name}: no cookie for the new session")
        elif scenario.writes:
            expected = self.counter + i + 1
        else:
            expected = self.counter
        if exchange.body != b"%d" % expected:
            raise BenchmarkError(
                f"{self.name}: expected {expected}, got {exchange.body[:60]!r}"
            )

    def after_batch(self, count: int, templates: dict[str, dict[str, t.Any]]) -> None:
        """Advance the expected counter; verify persistence with an untimed read."""
        if self.scenario.writes:
            self.counter += count
        if not self.contender.stateful:
            return
        expected = 1 if self.scenario.fresh else self.counter
        exchange = call(self.contender.app, templates["/read"], self.jar)
        if exchange.body != b"%d" % expected:
            raise BenchmarkError(
                f"{self.name}: after the batch the session reads "
                f"{exchange.body[:60]!r}, expected {expected}: not persisted"
            )


@dataclass
class StoreResult:
    """Everything measured on one store."""

    store: str
    contenders: list[Contender]
    cells: dict[tuple[str, str], Cell]
    rounds: int
    seconds: float = 0.0

    def cell(self, contender: str, scenario: str) -> Cell | None:
        cell = self.cells.get((contender, scenario))
        if cell is None or cell.failed or not cell.samples:
            return None
        return cell

    def time(self, contender: str, scenario: str) -> float | None:
        """Median µs per request."""
        cell = self.cell(contender, scenario)
        return None if cell is None else median(cell.samples) * 1e6

    def overhead(self, contender: str, scenario: str) -> float | None:
        """Median over rounds of (contender - its bare app), µs."""
        cell = self.cell(contender, scenario)
        base_key = "flask" if cell and cell.contender.family == "flask" else "bare"
        base = self.cell(base_key, scenario)
        if cell is None or base is None:
            return None
        pairs = zip(cell.samples, base.samples)
        return median(a - b for a, b in pairs) * 1e6


# -- running ------------------------------------------------------------------


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _templates() -> dict[str, dict[str, t.Any]]:
    paths = {s.path for s in SCENARIOS} | {"/read", "/setup", "/setup-big"}
    return {path: environ_template(path) for path in paths}


def _prepare(cell: Cell, templates: dict[str, dict[str, t.Any]]) -> None:
    """Create the client's session (untimed) and check it reads back."""
    app = cell.contender.app
    setup = cell.scenario.setup
    if setup is None:
        return
    exchange = call(app, templates[setup], cell.jar)
    if not exchange.status.startswith("200"):
        raise BenchmarkError(f"{cell.name}: setup answered {exchange.status}")
    if cell.contender.stateful:
        if not cell.jar.values:
            raise BenchmarkError(f"{cell.name}: setup set no cookie")
        read = call(app, templates["/read"], cell.jar)
        if read.body != b"%d" % START:
            raise BenchmarkError(f"{cell.name}: setup reads back {read.body[:60]!r}")


def _batch(cell: Cell, templates: dict[str, dict[str, t.Any]], count: int) -> float:
    scenario = cell.scenario
    mean, jar = timed_batch(
        cell.contender.app,
        templates[scenario.path],
        cell.jar,
        count,
        cell.check,
        fresh_client=scenario.fresh,
    )
    cell.jar = jar
    cell.after_batch(count, templates)
    return mean


def _fail(cell: Cell, exc: BaseException) -> None:
    cell.failed = f"{type(exc).__name__}: {exc}"
    log(f"  !! {cell.name} excluded: {cell.failed}")


def run_store(
    store: str, rounds: int, batch_seconds: float, server: t.Any
) -> StoreResult:
    """Measure every contender and scenario on one store."""
    started = time.perf_counter()
    env = StoreEnv(store)
    if store == "redis" and server is not None:
        env.redis_host, env.redis_port = server.host, server.port
    elif server is not None:
        env.sql_url = server.url
    try:
        return _run_store(env, rounds, batch_seconds, started)
    finally:
        env.close()


def _run_store(
    env: StoreEnv, rounds: int, batch_seconds: float, started: float
) -> StoreResult:
    store = env.store
    templates = _templates()
    scenarios = scenarios_of(store)
    sql = store in SQL_STORES
    contenders = build_sql_contenders(env) if sql else build_contenders(env)
    cells: dict[tuple[str, str], Cell] = {}
    for contender in contenders:
        if contender.unavailable:
            log(f"  -- {contender.label} on {store}: {contender.unavailable}")
            continue
        for scenario in scenarios:
            if contender.key == "floor" and scenario.key == "untouched":
                continue  # identical to the bare app
            cell = Cell(contender, scenario)
            cells[contender.key, scenario.key] = cell
            try:
                _prepare(cell, templates)
                # Warm up (scripts, connections, caches) and size the batch.
                _batch(cell, templates, 3)
                warm = _batch(cell, templates, 5)
                cell.count = max(5, min(5000, int(batch_seconds / max(warm, 1e-7))))
            except Exception as exc:
                _fail(cell, exc)
    live = [c for c in contenders if not c.unavailable]
    for r in range(rounds):
        log(f"  {store}: round {r + 1}/{rounds}")
        shift = r % max(1, len(live))
        order = live[shift:] + live[:shift]
        for scenario in scenarios:
            for contender in order:
                cell = cells.get((contender.key, scenario.key))
                if cell is None or cell.failed:
                    continue
                try:
                    cell.samples.append(_batch(cell, templates, cell.count))
                except Exception as exc:
                    _fail(cell, exc)
    if store == "redis":
        _count_redis_round_trips(env, cells, templates)
    result = StoreResult(store, contenders, cells, rounds)
    result.seconds = time.perf_counter() - started
    return result


def _counting(middleware: t.Any) -> t.Any:
    """Wrap a wsgi_session middleware's backend in a CountingBackend (else None)."""
    from wsgi_session.stores import CountingBackend

    backend = getattr(middleware, "backend", None)
    if backend is None:
        return None
    middleware.backend = CountingBackend(backend)
    return middleware.backend


def _count_redis_round_trips(
    env: StoreEnv, cells: dict[tuple[str, str], Cell], templates: dict[str, t.Any]
) -> None:
    """Count each cell's commands per request with the server's SLOWLOG."""
    import redis

    admin = redis.Redis(
        host=env.redis_host, port=env.redis_port, client_name="bench-admin"
    )
    requests = 10
    try:
        admin.config_set("slowlog-max-len", 100_000)
        admin.config_set("slowlog-log-slower-than", 0)
        for cell in cells.values():
            if cell.failed:
                continue
            middleware = cell.contender.middleware
            backend = _counting(middleware)
            before = backend.round_trips if backend is not None else 0
            admin.slowlog_reset()
            for i in range(requests):
                jar = CookieJar() if cell.scenario.fresh else cell.jar
                exchange = call(cell.contender.app, templates[cell.scenario.path], jar)
                cell.check(i, exchange)
            if cell.scenario.writes:
                cell.counter += requests
            entries = admin.slowlog_get(100_000)
            names: dict[str, int] = {}
            for entry in entries:
                address = entry.get("client_address", b"")
                if address in (b"?:0", "?:0"):
                    continue  # a command run inside a Lua script
                if entry.get("client_name") in (b"bench-admin", "bench-admin"):
                    continue
                command = entry["command"]
                if isinstance(command, bytes):
                    command = command.decode("utf-8", "replace")
                name = command.split(" ", 1)[0].upper()
                names[name] = names.get(name, 0) + 1
            cell.round_trips = sum(names.values()) / requests
            cell.commands = " ".join(
                f"{n}" if c == requests else f"{n}x{c / requests:g}"
                for n, c in sorted(names.items())
            )
            if backend is not None:
                cell.backend_round_trips = (backend.round_trips - before) / requests
                middleware.backend = backend.backend  # the uncounted one again
    finally:
        admin.config_set("slowlog-log-slower-than", 10_000)
        admin.config_set("slowlog-max-len", 128)
        admin.slowlog_reset()
        admin.close()


# -- goals --------------------------------------------------------------------


@dataclass
class Goal:
    """One goal of issue 6 and its outcome."""

    text: str
    limit: float
    value: float | None
    detail: str = ""

    @property
    def status(self) -> str:
        if self.value is None:
            return "NOT RUN"
        return "PASS" if self.value <= self.limit else "FAIL"

    def margin(self) -> str:
        if self.value is None:
            return ""
        if self.value <= self.limit:
            return f"{(1 - self.value / self.limit) * 100:.0f}% under the limit"
        return f"{(self.value / self.limit - 1) * 100:.0f}% over the limit"


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b <= 0:
        return None
    return a / b


def _fmt(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


class GoalSpec(t.NamedTuple):
    """A goal of issue 6: ``ours`` measured against ``theirs``."""

    store: str
    scenario: str
    ours: str
    theirs: str
    limit: float
    overhead: bool  #: compare overheads over the bare app (else plain times)

    def text(self) -> str:
        names = {"ws": "wsgi_session", "beaker": "Beaker", "floor": "store floor"}
        names.update(flask_ws="Flask+wsgi_session", flask_session="Flask-Session")
        names.update(django="Django db")
        what = " overhead" if self.overhead else ""
        limit = "" if self.limit == 1 else f"{self.limit:g} x "
        return (
            f"{self.store} {self.scenario}: {names[self.ours]}{what}"
            f" <= {limit}{names[self.theirs]}{what}"
        )


GOALS = [
    GoalSpec("memory", "read", "ws", "beaker", 0.25, True),
    GoalSpec("memory", "write", "ws", "beaker", 0.25, True),
    GoalSpec("memory", "untouched", "ws", "beaker", 1.0, False),
    GoalSpec("redis", "read", "ws", "floor", 1.2, False),
    GoalSpec("redis", "read", "ws", "beaker", 0.5, False),
    GoalSpec("redis", "write", "ws", "floor", 1.25, False),
    GoalSpec("redis", "write", "ws", "beaker", 1.0, False),
    GoalSpec("memory", "read", "flask_ws", "flask_session", 0.3, True),
    GoalSpec("memory", "write", "flask_ws", "flask_session", 0.3, True),
    GoalSpec("redis", "read", "flask_ws", "flask_session", 0.5, True),
    GoalSpec("redis", "write", "flask_ws", "flask_session", 0.75, True),
    # issue 14: SQL stores (the peers' times include their own bare app)
    *[
        spec
        for store in SQL_STORES
        for spec in (
            GoalSpec(store, "read", "ws", "floor", 1.2, False),
            GoalSpec(store, "write", "ws", "floor", 1.3, False),
            GoalSpec(store, "read", "ws", "django", 1.0, False),
            GoalSpec(store, "write", "ws", "django", 1.0, False),
            GoalSpec(store, "read", "ws", "flask_session", 1.0, False),
            GoalSpec(store, "write", "ws", "flask_session", 1.0, False),
        )
    ],
]


def evaluate(results: dict[str, StoreResult]) -> list[Goal]:
    """The goals of issue 6, as ratios measured in this run."""
    goals: list[Goal] = []
    for spec in GOALS:
        result = results.get(spec.store)
        if result is None:
            goals.append(Goal(spec.text(), spec.limit, None))
            continue
        measure = result.overhead if spec.overhead else result.time
        ours = measure(spec.ours, spec.scenario)
        theirs = measure(spec.theirs, spec.scenario)
        detail = f"{_fmt(ours)} µs vs {_fmt(theirs)} µs"
        if spec.overhead:
            detail += " over the bare app"
        if theirs is not None:
            detail += f" (limit: {_fmt(theirs * spec.limit)} µs)"
        goals.append(Goal(spec.text(), spec.limit, _ratio(ours, theirs), detail))
    return goals


# -- reporting ----------------------------------------------------------------


def _labels(result: StoreResult) -> dict[str, str]:
    return {c.key: c.label for c in result.contenders}


def _table(
    header: list[str], rows: list[list[str]], markdown: bool, left: int = 1
) -> list[str]:
    """A table; the first ``left`` columns are text (left-aligned)."""
    if markdown:
        rule = ["---" if i < left else "---:" for i in range(len(header))]
        return ["| " + " | ".join(row) + " |" for row in [header, rule, *rows]]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(row: list[str]) -> str:
        cells = [
            cell.ljust(widths[i]) if i < left else cell.rjust(widths[i])
            for i, cell in enumerate(row)
        ]
        return "  ".join(cells).rstrip()

    return [line(header), "  ".join("-" * w for w in widths), *map(line, rows)]


def store_report(result: StoreResult, markdown: bool) -> list[str]:
    """Times, overheads and (Redis) round trips of one store."""
    labels = _labels(result)
    order = SQL_ORDER if result.store in SQL_STORES else ORDER
    keys = [k for k in order if any(kk == k for kk, _ in result.cells)]
    scenarios = scenarios_of(result.store)
    out: list[str] = []
    title = (
        f"{result.store} store: median µs per request, {result.rounds} rounds"
        f" ({result.seconds:.0f} s)"
    )
    out += [f"### {title}", ""] if markdown else [f"== {title} =="]
    rows = []
    for scenario in scenarios:
        row = [scenario.label]
        for key in keys:
            if key == "floor" and scenario.key == "untouched":
                row.append("= bare")
                continue
            row.append(_fmt(result.time(key, scenario.key)))
        rows.append(row)
    out += _table(["scenario", *[labels[k] for k in keys]], rows, markdown)
    out.append("")
    if result.store in SQL_STORES:
        return out + _sql_ratios(result, markdown) + _problems(result, markdown)
    # overheads and ratios
    header = [
        "overhead over bare app (µs)",
        "wsgi_session",
        "Beaker",
        "ws / Beaker",
        "Flask+wsgi_session",
        "Flask-Session",
        "F+ws / F-S",
    ]
    rows = []
    for scenario in SCENARIOS:
        ws = result.overhead("ws", scenario.key)
        bk = result.overhead("beaker", scenario.key)
        fws = result.overhead("flask_ws", scenario.key)
        fs = result.overhead("flask_session", scenario.key)
        rows.append(
            [
                scenario.label,
                _fmt(ws),
                _fmt(bk),
                _fmt(_ratio(ws, bk), 2),
                _fmt(fws),
                _fmt(fs),
                _fmt(_ratio(fws, fs), 2),
            ]
        )
    out += _table(header, rows, markdown)
    out.append("")
    if result.store == "redis":
        header = ["round trips per request (server count)"] + [labels[k] for k in keys]
        rows = []
        for scenario in SCENARIOS:
            row = [scenario.label]
            for key in keys:
                cell = result.cells.get((key, scenario.key))
                if cell is None or cell.round_trips is None:
                    row.append("= bare" if key == "floor" else "n/a")
                    continue
                text = f"{cell.round_trips:g}"
                if cell.commands:
                    text += f" ({cell.commands})"
                row.append(text)
            rows.append(row)
        out += _table(header, rows, markdown)
        ws_counts = [
            f"{s.key} {result.cells[('ws', s.key)].backend_round_trips:g}"
            for s in SCENARIOS
            if ("ws", s.key) in result.cells
            and result.cells["ws", s.key].backend_round_trips is not None
        ]
        if ws_counts:
            out.append("")
            out.append(
                "wsgi_session's own round_trips counter agrees: " + ", ".join(ws_counts)
            )
        out.append("")
    return out + _problems(result, markdown)


def _sql_ratios(result: StoreResult, markdown: bool) -> list[str]:
    """wsgi_session's time against the floor and each peer (SQL stores)."""
    header = ["ratio of times", "ws / floor", "ws / Django db", "ws / Flask-Session"]
    rows = []
    for scenario in SQL_SCENARIOS:
        ws = result.time("ws", scenario.key)
        rows.append(
            [scenario.label]
            + [
                _fmt(_ratio(ws, result.time(key, scenario.key)), 2)
                for key in ("floor", "django", "flask_session")
            ]
        )
    return [*_table(header, rows, markdown), ""]


def _problems(result: StoreResult, markdown: bool) -> list[str]:
    out: list[str] = []
    problems = [
        f"{c.label}: {c.unavailable}" for c in result.contenders if c.unavailable
    ] + [f"{cell.name}: {cell.failed}" for cell in result.cells.values() if cell.failed]
    if problems:
        out.append("Problems on this store:" if not markdown else "**Problems:**")
        out += [("- " if markdown else "  ! ") + p for p in problems]
        out.append("")
    return out


def goals_report(goals: list[Goal], markdown: bool) -> list[str]:
    """The PASS / FAIL table of the issue's goals."""
    out = ["### Goals of issue 6", ""] if markdown else ["== Goals of issue 6 =="]
    rows = [
        [g.text, g.status, _fmt(g.value, 2), f"{g.limit:g}", g.margin(), g.detail]
        for g in goals
    ]
    header = ["goal", "result", "ratio", "limit", "margin", "measured"]
    out += _table(header, rows, markdown, left=2)
    passed = sum(g.status == "PASS" for g in goals)
    out += ["", f"{passed} of {len(goals)} goals pass.", ""]
    return out


def _versions() -> str:
    names = ["Beaker", "Flask", "Flask-Session", "redis", "cachelib", "Werkzeug"]
    names += ["SQLAlchemy", "psycopg", "Django", "Flask-SQLAlchemy"]
    found = []
    for name in names:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            found.append(f"{name} (missing)")
    return ", ".join(found)


def notes(results: dict[str, StoreResult]) -> list[str]:
    """How each contender was configured (one line per contender)."""
    seen: dict[str, dict[str, list[str]]] = {}
    for result in results.values():
        for c in result.contenders:
            if c.note:
                by_note = seen.setdefault(c.label, {})
                by_note.setdefault(c.note, []).append(result.store)
    lines = []
    for label, by_note in seen.items():
        parts = [
            note if len(by_note) == 1 else f"{'/'.join(stores)}: {note}"
            for note, stores in by_note.items()
        ]
        lines.append(f"{label}: " + "; ".join(parts))
    return lines


def full_report(
    results: dict[str, StoreResult],
    goals: list[Goal],
    command: str,
    pinned: int | None,
    machine: str,
    markdown: bool,
) -> str:
    """The whole report as text or Markdown."""
    cpu = os.cpu_count()
    when = dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    head = [
        f"Command: `{command}` ({when})"
        if markdown
        else f"Command: {command} ({when})",
        f"Machine: {platform.machine()}, {cpu} CPUs, {platform.system()}; "
        f"Python {platform.python_version()}; {_versions()}",
        f"Big session: 50 keys, {BIG_SESSION_BYTES:,} bytes of JSON.",
        "CPU: not pinned."
        if pinned is None
        else f"CPU: the benchmark and redis-server are pinned to CPU {pinned}.",
        machine,
        "",
    ]
    if markdown:
        head = [line + ("  " if line else "") for line in head]
    body: list[str] = []
    for store in STORES:
        if store in results:
            body += store_report(results[store], markdown)
    body += goals_report(goals, markdown)
    config = notes(results)
    if config:
        body.append(
            "Contender configuration:"
            if not markdown
            else "**Contender configuration:**"
        )
        body += [("- " if markdown else "  ") + line for line in config]
    return "\n".join(head + body) + "\n"


def pin_to_one_cpu(redis_server: t.Any) -> int | None:
    """Pin this process and redis-server to the same CPU; return it (Linux).

    On a small VM, loopback latency to an unpinned redis-server jumps
    between ~40 and ~130 µs with the scheduler's placement of the two
    processes, which swamps the differences measured here; sharing one CPU
    makes every round trip a plain hand-off, the same for all contenders.
    """
    if not hasattr(os, "sched_setaffinity"):
        return None
    cpu = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    if redis_server is not None and redis_server.process is not None:
        pin_process(redis_server.process.pid, cpu)
    return cpu


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if "--keys" in argv:  # the key-count sweep: keys.py and its options
        from keys import main as sweep

        return sweep([arg for arg in argv if arg != "--keys"])
    parser = argparse.ArgumentParser(
        description="Benchmark wsgi_session against Beaker and Flask-Session."
    )
    parser.add_argument("--quick", action="store_true", help="short run (< 40 s)")
    parser.add_argument("--rounds", type=int, help="interleaved rounds per store")
    parser.add_argument(
        "--only", action="append", choices=STORES, help="run only this store"
    )
    parser.add_argument("--markdown", metavar="PATH", help="also write Markdown here")
    parser.add_argument(
        "--no-pin",
        action="store_true",
        help="do not pin the benchmark and redis-server to one CPU",
    )
    args = parser.parse_args(argv)
    rounds = args.rounds or (5 if args.quick else 15)
    batch_seconds = 0.02 if args.quick else 0.1
    stores = [s for s in STORES if not args.only or s in args.only]
    command = "python tests/benchmarks/run.py" + (
        " " + " ".join(argv if argv is not None else sys.argv[1:])
        if (argv if argv is not None else sys.argv[1:])
        else ""
    )

    redis_server = postgres_server = None
    results: dict[str, StoreResult] = {}
    load = MachineLoad()
    try:
        if "redis" in stores:
            from tests.servers import RedisServer, ServerError

            redis_server = RedisServer()
            try:
                redis_server.start()
            except ServerError as exc:
                log(f"redis store skipped: {exc}")
                redis_server.close()
                redis_server = None
                stores.remove("redis")
        pinned = None if args.no_pin else pin_to_one_cpu(redis_server)
        if redis_server is not None and redis_server.process is not None:
            load.watch(redis_server.process.pid)
        if "postgresql" in stores:
            from tests.servers import PostgresServer, ServerError

            postgres_server = PostgresServer()
            try:
                postgres_server.start()
            except ServerError as exc:
                log(f"postgresql store skipped: {exc}")
                postgres_server.close()
                postgres_server = None
                stores.remove("postgresql")
        if postgres_server is not None and postgres_server.process is not None:
            if pinned is not None:
                pin_process(postgres_server.process.pid, pinned)
            load.watch(postgres_server.process.pid)
        for store in stores:
            log(f"{store} store ...")
            server = {"redis": redis_server, "postgresql": postgres_server}
            results[store] = run_store(store, rounds, batch_seconds, server.get(store))
        others = load.others_share()
    finally:
        if redis_server is not None:
            redis_server.close()
        if postgres_server is not None:
            postgres_server.close()
    machine = (
        "Other processes: unknown."
        if others is None
        else f"Other processes used {others * 100:.0f}% of the machine's CPU"
        " during the run"
        + (
            ": the numbers are noisy, run again on a quiet machine."
            if others > 0.1
            else "."
        )
    )
    if others is not None and others > 0.1:
        log(machine)
    goals = evaluate(results)
    print(full_report(results, goals, command, pinned, machine, markdown=False))
    if args.markdown:
        Path(args.markdown).write_text(
            full_report(results, goals, command, pinned, machine, markdown=True),
            encoding="utf-8",
        )
        log(f"Markdown written to {args.markdown}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
