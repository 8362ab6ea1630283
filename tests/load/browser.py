"""One keep-alive HTTP "browser" of the load test, and what it records.

:class:`Browser` carries one session cookie over one ``http.client``
connection and records every answer in its :class:`Stats`; :func:`merge`
adds the clients' statistics up. Standard library only (see ``driver.py``).
"""

from __future__ import annotations

import http.client
import http.cookiejar
import json
import time
import typing as t
from collections import deque
from dataclasses import dataclass, field

COOKIE = "session"


def sid_of(cookie: str | None) -> str | None:
    """The session id inside a signed cookie value ``<id>.<signature>``."""
    return cookie.rsplit(".", 1)[0] if cookie else None


@dataclass
class Reply:
    """One HTTP exchange as the client saw it."""

    status: int  # 0: no HTTP answer (connection error, timeout)
    data: dict[str, t.Any] | None
    cookie: tuple[str, str] | None  # ("set", value) | ("expire", "")
    t0: float
    t1: float
    error: str = ""
    traceback: bool = False


@dataclass
class Stats:
    """What one client thread measured (merged at the end)."""

    status: dict[str, int] = field(default_factory=dict)
    by_kind: dict[str, dict[str, int]] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    #: The latencies of the ``/lock/`` routes again (they wait for the lock).
    lock_latencies: list[float] = field(default_factory=list)
    ok_times: list[float] = field(default_factory=list)
    slow: list[list[t.Any]] = field(default_factory=list)  # requests over 1 s
    failures: list[list[t.Any]] = field(default_factory=list)  # non-200 and errors
    violations: list[dict[str, t.Any]] = field(default_factory=list)
    id_changes: list[dict[str, t.Any]] = field(default_factory=list)
    expected_gone: list[dict[str, t.Any]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    def bump(self, name: str, n: int = 1) -> None:
        self.counts[name] = self.counts.get(name, 0) + n


class Browser:
    """One keep-alive connection and one session cookie."""

    def __init__(self, host: str, port: int, timeout: float, stats: Stats) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self.stats = stats
        self.conn: http.client.HTTPConnection | None = None
        self.cookie: str | None = None
        #: The last few exchanges (kind, status, t0, t1): evidence for reports.
        self.history: deque[tuple[str, int, float, float]] = deque(maxlen=40)

    def _connection(self) -> http.client.HTTPConnection:
        if self.conn is None:
            self.conn = http.client.HTTPConnection(
                self.host, self.port, timeout=self.timeout
            )
        return self.conn

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def get(self, path: str, kind: str, cookie: str | None = None, *, record=True):
        """GET ``path`` with ``cookie`` (default: ours); return a :class:`Reply`."""
        cookie = self.cookie if cookie is None else cookie
        headers = {"Cookie": f"{COOKIE}={cookie}"} if cookie else {}
        t0 = time.time()
        try:
            conn = self._connection()
            conn.request("GET", path, headers=headers)
            resp = conn.getresponse()
            body = resp.read()
            set_cookies = resp.msg.get_all("Set-Cookie") or []
            if resp.will_close:
                self.close()
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            reply = Reply(0, None, None, t0, time.time(), type(exc).__name__)
        else:
            reply = Reply(
                resp.status, None, _session_cookie(set_cookies), t0, time.time()
            )
            reply.traceback = b"Traceback" in body or b'File "' in body
            if resp.status == 200:
                try:
                    reply.data = json.loads(body)
                except ValueError:
                    reply.error = "bad json"
            else:
                reply.error = body[:120].decode("utf-8", "replace")
        if record:
            self._record(reply, kind)
            self.history.append((kind, reply.status, reply.t0, reply.t1))
        return reply

    def _record(self, reply: Reply, kind: str) -> None:
        stats = self.stats
        key = str(reply.status) if reply.status else f"conn:{reply.error}"
        stats.status[key] = stats.status.get(key, 0) + 1
        per = stats.by_kind.setdefault(kind, {})
        per[key] = per.get(key, 0) + 1
        if reply.status:
            stats.latencies.append(reply.t1 - reply.t0)
            if kind.startswith("lock"):
                stats.lock_latencies.append(reply.t1 - reply.t0)
        if reply.status == 200:
            stats.ok_times.append(reply.t0)
        if reply.t1 - reply.t0 > 1.0:
            stats.slow.append([reply.t0, reply.t1, reply.status, kind])
        if reply.status != 200:
            stats.failures.append(
                [
                    reply.t0,
                    reply.t1,
                    reply.status,
                    kind,
                    reply.error[:80],
                    reply.traceback,
                ]
            )
        if reply.traceback:
            stats.violations.append(
                {"what": "traceback in body", "t": reply.t0, "kind": kind}
            )
        if reply.status != 200 and reply.cookie is not None:
            stats.violations.append(
                {
                    "what": f"Set-Cookie on a {reply.status or 'failed'} answer",
                    "t": reply.t0,
                    "kind": kind,
                }
            )


def _session_cookie(headers: list[str]) -> tuple[str, str] | None:
    """Our cookie in Set-Cookie headers: ``("set", value)`` or ``("expire", "")``.

    A cookie expires by ``Max-Age=0`` (wsgi_session) or by an ``Expires``
    date in the past (Beaker), as a browser reads it.
    """
    for header in headers:
        name, _, rest = header.partition("=")
        if name.strip() != COOKIE:
            continue
        value, _, attrs = rest.partition(";")
        lowered = attrs.lower().replace(" ", "")
        if not value or "max-age=0" in lowered or _expired(attrs):
            return ("expire", "")
        return ("set", value)
    return None


def _expired(attrs: str) -> bool:
    """True when the cookie attributes carry an ``Expires`` date in the past."""
    for attr in attrs.split(";"):
        key, _, date = attr.partition("=")
        if key.strip().lower() == "expires" and date.strip():
            when = http.cookiejar.http2time(date.strip())
            return when is not None and when < time.time()
    return False


def merge(all_stats: list[Stats]) -> Stats:
    """The statistics of all clients added up."""
    total = Stats()
    for s in all_stats:
        for k, v in s.status.items():
            total.status[k] = total.status.get(k, 0) + v
        for kind, per in s.by_kind.items():
            into = total.by_kind.setdefault(kind, {})
            for k, v in per.items():
                into[k] = into.get(k, 0) + v
        total.latencies += s.latencies
        total.lock_latencies += s.lock_latencies
        total.ok_times += s.ok_times
        total.slow += s.slow
        total.failures += s.failures
        total.violations += s.violations
        total.id_changes += s.id_changes
        total.expected_gone += s.expected_gone
        for k, v in s.counts.items():
            total.bump(k, v)
    return total
