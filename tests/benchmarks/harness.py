"""The measuring machinery of the benchmark: environs, cookies, timed batches.

Requests are direct WSGI calls. Each request gets a fresh environ: a copy of
a template built once per path (werkzeug's ``EnvironBuilder`` is far too slow
to run inside the timed loop), a fresh empty ``wsgi.input`` and the
``Cookie`` header of the client's :class:`CookieJar`. Only the WSGI call and
the consumption of its body (join + ``close()``) are timed; building the
environ, carrying cookies and checking responses happen outside the clock.
"""

from __future__ import annotations

import contextlib
import gc
import io
import os
import statistics
import time
import typing as t
from dataclasses import dataclass, field

from werkzeug.test import EnvironBuilder

__all__ = [
    "BenchmarkError",
    "CookieJar",
    "Exchange",
    "MachineLoad",
    "call",
    "environ_template",
    "median",
    "pin_process",
    "timed_batch",
]

Headers = t.List[t.Tuple[str, str]]
WSGIApp = t.Callable[..., t.Iterable[bytes]]


class BenchmarkError(AssertionError):
    """A contender answered wrongly: its numbers would be meaningless."""


def environ_template(path: str) -> dict[str, t.Any]:
    """A GET environ for ``path`` on http://bench.example, without input or cookies."""
    environ = EnvironBuilder(
        path=path,
        base_url="http://bench.example/",
        headers={"User-Agent": "wsgi_session-benchmark/1.0"},
    ).get_environ()
    environ.pop("wsgi.input", None)
    environ.pop("HTTP_COOKIE", None)
    environ["wsgi.multiprocess"] = False
    environ["wsgi.multithread"] = False
    return environ


@dataclass
class CookieJar:
    """What a browser keeps: name -> value, from each response's Set-Cookie."""

    values: dict[str, str] = field(default_factory=dict)
    header: str | None = None

    def update(self, headers: Headers) -> None:
        """Apply the response's ``Set-Cookie`` headers (values are stripped:
        Beaker sends ``" name=value"``); an expired cookie is dropped."""
        changed = False
        for name, raw in headers:
            if name.lower() != "set-cookie":
                continue
            pair, _, attributes = raw.strip().partition(";")
            key, _, value = pair.strip().partition("=")
            key, value = key.strip(), value.strip()
            attrs = attributes.lower().replace(" ", "")
            if not value or "max-age=0" in attrs or "expires=thu,01jan1970" in attrs:
                self.values.pop(key, None)
            else:
                self.values[key] = value
            changed = True
        if changed:
            self.rebuild()

    def rebuild(self) -> None:
        """Recompute the ``Cookie`` request header."""
        self.header = (
            "; ".join(f"{k}={v}" for k, v in self.values.items())
            if self.values
            else None
        )

    def copy(self) -> CookieJar:
        """An independent copy (a second tab of the same browser)."""
        return CookieJar(dict(self.values), self.header)


@dataclass
class Exchange:
    """One response: status line, headers, joined body."""

    status: str
    headers: Headers
    body: bytes

    def header_names(self) -> list[str]:
        """Lower-cased header names (for checks)."""
        return [k.lower() for k, _ in self.headers]


def _environ(template: dict[str, t.Any], jar: CookieJar | None) -> dict[str, t.Any]:
    environ = template.copy()
    environ["wsgi.input"] = io.BytesIO()
    if jar is not None and jar.header is not None:
        environ["HTTP_COOKIE"] = jar.header
    return environ


def call(app: WSGIApp, template: dict[str, t.Any], jar: CookieJar | None) -> Exchange:
    """One untimed request; the jar (if any) takes the response's cookies."""
    seen: list[t.Any] = []

    def start_response(status: str, headers: Headers, exc_info: t.Any = None):
        seen[:] = [status, headers]
        return _no_write

    iterable = app(_environ(template, jar), start_response)
    try:
        body = b"".join(iterable)
    finally:
        close = getattr(iterable, "close", None)
        if close is not None:
            close()
    if not seen:
        raise BenchmarkError("the application did not call start_response")
    exchange = Exchange(seen[0], list(seen[1]), body)
    if jar is not None:
        jar.update(exchange.headers)
    return exchange


def _no_write(data: bytes) -> None:
    raise BenchmarkError("the benchmark apps do not use write()")


Check = t.Callable[[int, Exchange], None]


def timed_batch(
    app: WSGIApp,
    template: dict[str, t.Any],
    jar: CookieJar,
    count: int,
    check: Check,
    *,
    fresh_client: bool = False,
) -> tuple[float, CookieJar]:
    """Run ``count`` requests; return (mean seconds per request, last jar).

    With ``fresh_client`` every request comes from a new browser (no
    cookies): the new-session scenario. ``check(i, exchange)`` validates
    each response outside the clock and raises :class:`BenchmarkError`.
    """
    perf = time.perf_counter
    seen: list[t.Any] = [None, None]

    def start_response(status: str, headers: Headers, exc_info: t.Any = None):
        seen[0] = status
        seen[1] = headers
        return _no_write

    gc.collect()
    total = 0.0
    for i in range(count):
        if fresh_client:
            jar = CookieJar()
        environ = template.copy()
        environ["wsgi.input"] = io.BytesIO()
        if jar.header is not None:
            environ["HTTP_COOKIE"] = jar.header
        started = perf()
        iterable = app(environ, start_response)
        try:
            body = b"".join(iterable)
        finally:
            close = getattr(iterable, "close", None)
            if close is not None:
                close()
        total += perf() - started
        exchange = Exchange(seen[0], list(seen[1]), body)
        jar.update(exchange.headers)
        check(i, exchange)
    return total / count, jar


def pin_process(pid: int, cpu: int) -> None:
    """Pin every thread of process ``pid`` to ``cpu`` (Linux).

    ``sched_setaffinity(pid)`` moves only the thread whose id is ``pid``:
    memcached serves its connections from worker threads started before
    the benchmark pins it, which stayed free to run on the other CPU (a
    loopback round trip to them then cost about 55 µs instead of 16 µs,
    unlike redis-server's, whose main thread does the work). A process's
    later children and threads inherit the pinned set.
    """
    try:
        threads = [int(tid) for tid in os.listdir(f"/proc/{pid}/task")]
    except OSError:
        threads = [pid]
    for tid in threads:
        with contextlib.suppress(OSError):  # the thread ended meanwhile
            os.sched_setaffinity(tid, {cpu})


def median(values: t.Iterable[float]) -> float:
    """The median (NaN for no values)."""
    values = list(values)
    return statistics.median(values) if values else float("nan")


class MachineLoad:
    """How much CPU other processes used while the benchmark ran (Linux).

    The benchmark cannot stop other work on the machine; it reports it, so
    a noisy run is recognisable as one.
    """

    def __init__(self) -> None:
        self.pids: list[int] = []
        self._start = self._sample()

    @staticmethod
    def _jiffies_busy() -> float | None:
        try:
            with open("/proc/stat") as f:
                fields = [int(x) for x in f.readline().split()[1:]]
        except (OSError, ValueError):
            return None
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
        return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")

    def _pid_seconds(self) -> float:
        total = 0.0
        for pid in self.pids:
            try:
                with open(f"/proc/{pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
            except (OSError, ValueError, IndexError):
                pass
        return total

    def _sample(self) -> tuple[float, float | None, float, float]:
        own = os.times()
        return (
            time.monotonic(),
            self._jiffies_busy(),
            own.user + own.system,
            self._pid_seconds(),
        )

    def watch(self, pid: int) -> None:
        """Count ``pid`` (our redis-server) as ours, not as other load."""
        self.pids.append(pid)
        wall, busy, own, _ = self._start
        self._start = (wall, busy, own, self._pid_seconds())

    def others_share(self) -> float | None:
        """Share of all CPUs used by other processes since construction."""
        wall, busy, own, pids = self._sample()
        wall0, busy0, own0, pids0 = self._start
        if busy is None or busy0 is None or wall <= wall0:
            return None
        others = (busy - busy0) - (own - own0) - (pids - pids0)
        return max(0.0, others / ((wall - wall0) * (os.cpu_count() or 1)))
