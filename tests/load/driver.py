"""The load-test clients: keep-alive "browsers" and a model of what they wrote.

Run by ``run.py`` in a process of its own::

    python tests/load/driver.py CONFIG.json RESULT.json

It prints ``START <unix time>`` when the clients begin, runs them for
``duration`` seconds, prints ``LOADED <unix time>``, then verifies every
session over HTTP and writes ``RESULT.json``. Only the standard library is
used (``http.client``), so the clients share no code with the server under
test.

Each client is a "browser" carrying one session cookie:

* individual clients read, write keys unique to them (``c7_2``), do flash
  round trips (flash, then the next request must see it, the one after must
  not), log in (``regenerate``: a new id, same data) and log out (``destroy``);
* shared-session groups: several clients hold the SAME cookie and write
  distinct keys concurrently (the merge test);
* lock clients share one session on the ``/lock/`` side and increment one
  counter (``concurrency="lock"``: every increment must see a distinct value).

Every write remembers its value. A write answered 200 is *confirmed*; one
answered 503 or cut off is *uncertain* (it may or may not have landed). A key
read back with neither its last confirmed value nor a value of an uncertain
write made after it is a **lost update**; with the value of an uncertain write
made *before* the last confirmed one, it is a **late write** (a failed write
that landed after a newer successful one).

A client whose presented id is answered with a new id, an expired cookie or
an empty new session records an *id change*; at the end the old id is read
again: if that session still exists, the server **re-issued** an id to a
client that presented a valid one.
"""

from __future__ import annotations

import http.client
import http.cookiejar
import json
import random
import sys
import threading
import time
import typing as t
from collections import deque
from dataclasses import dataclass, field

COOKIE = "session"
#: Keys the app itself writes; excluded from the data comparison.
APP_KEYS = {"user", "notice", "held"}


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


@dataclass
class KeyState:
    """What a client knows about one of its keys."""

    confirmed: int | None = None  # None: absent
    pending: set[int] = field(default_factory=set)  # uncertain, after confirmed
    stale: set[int] = field(default_factory=set)  # uncertain, before confirmed


class Client:
    """Base of the three kinds of client: cookie handling and id-change detection."""

    prefix = ""

    def __init__(self, name: str, browser: Browser, rng: random.Random) -> None:
        self.name = name
        self.browser = browser
        self.stats = browser.stats
        self.rng = rng
        self.keys: dict[str, KeyState] = {}
        self.seq = 0
        self.maybe_destroyed = False
        #: When the client got its current cookie (a store restart excuses
        #: the loss of sessions older than the restart only).
        self.session_since = 0.0

    # -- cookies and ids --------------------------------------------------

    def apply(self, reply: Reply, kind: str, *, expect_change: bool = False) -> None:
        """Take the reply's cookie like a browser; record unexpected id changes.

        An id change is a 200 answer to a request that presented a cookie and
        got an empty new session, or (unless ``expect_change``: login, logout)
        a Set-Cookie with another id or an expired cookie.
        """
        presented = self.browser.cookie
        if reply.status == 200 and reply.data is not None and presented:
            new_session = bool(reply.data.get("new"))
            changed = reply.cookie is not None and (
                reply.cookie[0] == "expire"
                or sid_of(reply.cookie[1]) != sid_of(presented)
            )
            emptied = (
                reply.cookie == ("expire", "")
                and not new_session
                and kind != "flash"
                and not set(reply.data.get("data", {})) - {"notice"}
            )  # the last flash message was shown: the session ended empty
            if emptied:
                self.keys = {}
            elif new_session or (changed and not expect_change):
                self.stats.id_changes.append(
                    {
                        "client": self.name,
                        "kind": kind,
                        "t": reply.t0,
                        "old_cookie": presented,
                        "new": new_session,
                        "cookie": reply.cookie[0] if reply.cookie else None,
                        "maybe_destroyed": self.maybe_destroyed,
                        "since": self.session_since,
                        "history": list(self.browser.history),
                    }
                )
            if new_session:
                self.keys = {}  # the presented session is gone for us
                self.maybe_destroyed = False
        if reply.status == 200 and reply.cookie is not None:
            if reply.cookie[0] == "set":
                self.browser.cookie = reply.cookie[1]
                self.session_since = reply.t0
            else:
                self.browser.cookie = None

    # -- the data model ---------------------------------------------------

    def own(self, key: str) -> bool:
        return key.startswith(self.prefix)

    def wrote(self, key: str, value: int, reply: Reply) -> None:
        state = self.keys.setdefault(key, KeyState())
        if reply.status == 200:
            state.stale |= state.pending
            state.pending = set()
            if state.confirmed is not None:
                state.stale.add(state.confirmed)
            state.confirmed = value
        else:
            state.pending.add(value)

    def check(self, reply: Reply, where: str) -> None:
        """Compare the session data of a 200 reply with what this client wrote."""
        if reply.status != 200 or reply.data is None or "data" not in reply.data:
            return
        data = reply.data["data"]
        for key in data:
            if key in APP_KEYS or self.group_key(key):
                continue
            if not self.own(key):
                self.stats.violations.append(
                    {
                        "what": "foreign data in session",
                        "t": reply.t0,
                        "key": key,
                        "client": self.name,
                        "where": where,
                    }
                )
            elif key not in self.keys:
                self.stats.violations.append(
                    {
                        "what": "phantom key",
                        "t": reply.t0,
                        "key": key,
                        "client": self.name,
                        "where": where,
                    }
                )
        for key, state in self.keys.items():
            observed = data.get(key)
            self.compare(key, state, observed, reply.t0, where)

    def group_key(self, key: str) -> bool:
        """Keys of other members of a shared session (not ours to check)."""
        return False

    def compare(
        self, key: str, state: KeyState, observed: t.Any, when: float, where: str
    ) -> None:
        if observed == state.confirmed:
            state.stale |= state.pending
            state.pending = set()
            return
        if observed in state.pending:
            if state.confirmed is not None:
                state.stale.add(state.confirmed)
            state.pending.discard(observed)
            state.stale |= state.pending
            state.pending = set()
            state.confirmed = observed
            self.stats.bump("uncertain writes that landed")
            return
        what = "late write" if observed in state.stale else "lost update"
        self.stats.violations.append(
            {
                "what": what,
                "t": when,
                "client": self.name,
                "key": key,
                "confirmed": state.confirmed,
                "observed": observed,
                "where": where,
                "sid": (sid_of(self.browser.cookie) or "")[:8],
                "history": list(self.browser.history),
            }
        )
        self.stats.bump("lost updates" if what == "lost update" else "late writes")
        state.confirmed = observed  # resync: count each loss once
        state.pending = set()

    def next_value(self) -> int:
        self.seq += 1
        return self.seq

    def write(self, key: str, base: str = "") -> Reply:
        value = self.next_value()
        reply = self.browser.get(f"{base}/set?k={key}&v={value}", "set")
        self.apply(reply, "set")
        self.wrote(key, value, reply)
        self.check(reply, "set")
        return reply

    def read(self, base: str = "") -> Reply:
        reply = self.browser.get(f"{base}/read", "read")
        self.apply(reply, "read")
        self.check(reply, "read")
        return reply

    def step(self) -> None:
        raise NotImplementedError


class Individual(Client):
    """A browser with a session of its own: every kind of request."""

    def __init__(self, name: str, browser: Browser, rng: random.Random) -> None:
        super().__init__(name, browser, rng)
        self.prefix = f"{name}_"
        self.flash_state: tuple[str, str] | None = None

    def step(self) -> None:
        if self.flash_state is not None:
            self.flash_step()
            return
        roll = self.rng.random()
        has_session = self.browser.cookie is not None
        if roll < 0.05:
            self.browser.get("/noop", "noop")
        elif roll < 0.38:
            self.read()
        elif roll < 0.80 or not has_session:
            self.write(f"{self.prefix}{self.rng.randrange(5)}")
        elif roll < 0.90:
            self.flash()
        elif roll < 0.96:
            self.login()
        else:
            self.logout()

    def flash(self) -> None:
        text = f"{self.name}-{self.next_value()}"
        reply = self.browser.get(f"/flash?v={text}", "flash")
        self.apply(reply, "flash")
        self.check(reply, "flash")
        if reply.status == 200:
            self.flash_state = ("show", text)
            self.stats.bump("flash round trips started")

    def flash_step(self) -> None:
        assert self.flash_state is not None
        stage, text = self.flash_state
        reply = self.read()
        if reply.status != 200 or reply.data is None:
            self.flash_state = None
            self.stats.bump("flash round trips inconclusive")
            return
        shown = reply.data["data"].get("notice")
        if reply.data.get("new"):
            self.flash_state = None
            self.stats.bump("flash round trips inconclusive")
        elif stage == "show":
            if shown != text:
                self.stats.violations.append(
                    {
                        "what": "flash not shown on the next request",
                        "t": reply.t0,
                        "client": self.name,
                        "expected": text,
                        "observed": shown,
                    }
                )
                self.flash_state = None
            else:
                self.flash_state = ("gone", text)
        else:
            self.flash_state = None
            if shown is not None:
                self.stats.violations.append(
                    {
                        "what": "flash shown twice",
                        "t": reply.t0,
                        "client": self.name,
                        "observed": shown,
                    }
                )
            else:
                self.stats.bump("flash round trips ok")

    def login(self) -> None:
        old = self.browser.cookie
        reply = self.browser.get(f"/login?user={self.name}", "login")
        if reply.status == 200:
            if (
                reply.cookie is None
                or reply.cookie[0] != "set"
                or sid_of(reply.cookie[1]) == sid_of(old)
            ):
                self.stats.violations.append(
                    {
                        "what": "login did not issue a new id",
                        "t": reply.t0,
                        "client": self.name,
                    }
                )
            elif old is not None and not (reply.data or {}).get("new"):
                self.stats.expected_gone.append(
                    {
                        "client": self.name,
                        "why": "regenerated",
                        "cookie": old,
                        "t": reply.t0,
                    }
                )
            self.stats.bump("logins")
        self.apply(reply, "login", expect_change=True)
        self.check(reply, "login")

    def logout(self) -> None:
        old = self.browser.cookie
        reply = self.browser.get("/logout", "logout")
        if reply.status == 200:
            if reply.cookie != ("expire", "") and not (reply.data or {}).get("new"):
                self.stats.violations.append(
                    {
                        "what": "logout did not expire the cookie",
                        "t": reply.t0,
                        "client": self.name,
                    }
                )
            if old is not None and not (reply.data or {}).get("new"):
                self.stats.expected_gone.append(
                    {
                        "client": self.name,
                        "why": "destroyed",
                        "cookie": old,
                        "t": reply.t0,
                    }
                )
            self.apply(reply, "logout", expect_change=True)
            self.keys = {}
            self.browser.cookie = None
            self.maybe_destroyed = False
            self.stats.bump("logouts")
        else:
            self.maybe_destroyed = True


class SharedMember(Client):
    """One of several browsers holding the same session cookie."""

    def __init__(self, name: str, group: str, browser: Browser, rng: random.Random):
        super().__init__(name, browser, rng)
        self.group = group
        self.prefix = f"{group}{name}_"

    def group_key(self, key: str) -> bool:
        return key.startswith(self.group) and not self.own(key)

    def step(self) -> None:
        roll = self.rng.random()
        if roll < 0.05:
            self.browser.get("/noop", "noop")
        elif roll < 0.40:
            self.read()
        else:
            self.write(f"{self.prefix}{self.rng.randrange(3)}")
            self.stats.bump("shared-session writes")


class LockMember(Client):
    """Increments one counter of a session shared in ``concurrency="lock"`` mode."""

    def __init__(self, name: str, browser: Browser, rng: random.Random, ledger):
        super().__init__(name, browser, rng)
        self.ledger = ledger
        self.prefix = "n"

    def group_key(self, key: str) -> bool:
        return True

    def step(self) -> None:
        sid = sid_of(self.browser.cookie)
        if self.rng.random() < 0.1:
            reply = self.browser.get("/lock/read", "lock-read")
            self.apply(reply, "lock-read")
            return
        reply = self.browser.get("/lock/incr?k=n", "lock-incr")
        self.apply(reply, "lock-incr")
        if reply.status == 200 and reply.data is not None:
            sid = sid_of(self.browser.cookie)
            self.ledger.confirmed(sid, self.browser.cookie, reply.data["data"].get("n"))
        else:
            self.ledger.uncertain(sid)


class Ledger:
    """Lock-mode counters per session: confirmed increments and values seen."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.sessions: dict[str, dict[str, t.Any]] = {}

    def _entry(self, sid: str | None) -> dict[str, t.Any]:
        return self.sessions.setdefault(
            sid or "-",
            {
                "confirmed": 0,
                "uncertain": 0,
                "values": [],
                "cookie": None,
                "since": time.time(),
            },
        )

    def confirmed(self, sid: str | None, cookie: str | None, value: t.Any) -> None:
        with self.lock:
            entry = self._entry(sid)
            entry["confirmed"] += 1
            entry["values"].append(value)
            entry["cookie"] = cookie

    def uncertain(self, sid: str | None) -> None:
        with self.lock:
            self._entry(sid)["uncertain"] += 1


def run_client(client: Client, deadline: float, think: float) -> None:
    rng = client.rng
    try:
        while time.time() < deadline:
            client.step()
            if think:
                time.sleep(rng.uniform(0, 2 * think))
    except Exception as exc:  # a bug in the driver must not hide silently
        client.stats.violations.append(
            {"what": "driver error", "client": client.name, "error": repr(exc)}
        )
    finally:
        client.browser.close()


def verify(
    clients: list[Client],
    ledger: Ledger,
    load: Stats,
    final: Stats,
    host: str,
    port: int,
    timeout: float,
) -> dict[str, t.Any]:
    """After the load: read every session back; look up every old id.

    ``load`` holds what the clients recorded during the run; findings of the
    verification go to ``final``. Sessions found missing are listed (with the
    time the client got them) rather than judged: only the orchestrator knows
    whether a store restart excuses them.
    """
    browser = Browser(host, port, timeout, final)
    result: dict[str, t.Any] = {
        "sessions checked": 0,
        "keys checked": 0,
        "missing sessions": [],
    }
    for client in clients:
        if isinstance(client, LockMember) or client.browser.cookie is None:
            continue
        if not client.keys:
            continue
        reply = browser.get("/read", "verify", client.browser.cookie)
        if reply.status != 200 or reply.data is None:
            final.violations.append(
                {
                    "what": "final read failed",
                    "client": client.name,
                    "status": reply.status,
                    "error": reply.error,
                }
            )
            continue
        result["sessions checked"] += 1
        if reply.data.get("new"):
            if not client.maybe_destroyed:
                result["missing sessions"].append(
                    {
                        "client": client.name,
                        "since": client.session_since,
                        "confirmed keys": sum(
                            1 for st in client.keys.values() if st.confirmed is not None
                        ),
                    }
                )
            continue
        client.stats = final  # violations found now go to the final stats
        result["keys checked"] += len(client.keys)
        client.check(reply, "final")
    # lock-mode counters
    for sid, entry in ledger.sessions.items():
        values = [v for v in entry["values"] if v is not None]
        duplicates = len(values) - len(set(values))
        if duplicates:
            final.violations.append(
                {
                    "what": "lock mode: two increments saw the same value",
                    "sid": sid[:8],
                    "duplicates": duplicates,
                }
            )
        if entry["cookie"] is None:
            continue
        reply = browser.get("/lock/read", "verify", entry["cookie"])
        low, high = entry["confirmed"], entry["confirmed"] + entry["uncertain"]
        if reply.status == 200 and reply.data is not None and reply.data["new"]:
            result["missing sessions"].append(
                {
                    "client": "lock group",
                    "since": entry["since"],
                    "confirmed increments": low,
                }
            )
            continue
        n = (reply.data or {}).get("data", {}).get("n")
        result.setdefault("lock counters", []).append(
            {"final": n, "confirmed": low, "uncertain": entry["uncertain"]}
        )
        if reply.status != 200 or n is None or not low <= n <= high:
            final.violations.append(
                {
                    "what": "lock mode: counter off",
                    "final": n,
                    "confirmed": low,
                    "uncertain": entry["uncertain"],
                    "status": reply.status,
                }
            )
    # ids that must be gone, and ids that were replaced without being gone
    for item in load.expected_gone:
        reply = browser.get("/read", "verify", item["cookie"])
        if reply.status == 200 and reply.data is not None and not reply.data["new"]:
            final.violations.append(
                {
                    "what": f"old id still valid after being {item['why']}",
                    "client": item["client"],
                    "t": item["t"],
                }
            )
    changes = {"total": len(load.id_changes), "old session gone": 0, "reissued": 0}
    for item in load.id_changes:
        reply = browser.get("/read", "verify", item["old_cookie"])
        item["old_exists"] = bool(reply.data and not reply.data["new"])
        if reply.status != 200 or reply.data is None:
            final.violations.append(
                {"what": "final lookup of an old id failed", "status": reply.status}
            )
        elif reply.data["new"]:
            changes["old session gone"] += 1
        else:
            changes["reissued"] += 1
            final.violations.append(
                {
                    "what": "id re-issued while the presented session exists",
                    **{k: v for k, v in item.items() if k != "old_cookie"},
                }
            )
    result["id changes"] = changes
    result["old ids looked up"] = len(load.expected_gone)
    browser.close()
    return result


def merge(all_stats: list[Stats]) -> Stats:
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


def build_clients(cfg: dict[str, t.Any], ledger: Ledger) -> list[Client]:
    host, port, timeout = cfg["host"], cfg["port"], cfg["http_timeout"]
    rng = random.Random(cfg["seed"])
    clients: list[Client] = []

    def browser() -> Browser:
        return Browser(host, port, timeout, Stats())

    for g in range(cfg["shared_groups"]):
        group = f"g{g}"
        members = [
            SharedMember(f"m{i}", group, browser(), random.Random(rng.random()))
            for i in range(cfg["group_size"])
        ]
        founder = members[0]
        reply = founder.write(f"{founder.prefix}0")
        if reply.status != 200 or founder.browser.cookie is None:
            raise RuntimeError(f"could not create shared session: {reply}")
        for member in members[1:]:
            member.browser.cookie = founder.browser.cookie
            member.session_since = founder.session_since
        clients += members
    if cfg["lock_clients"]:
        members = [
            LockMember(f"l{i}", browser(), random.Random(rng.random()), ledger)
            for i in range(cfg["lock_clients"])
        ]
        reply = members[0].browser.get("/lock/incr?k=n", "lock-incr")
        members[0].apply(reply, "lock-incr")
        if reply.status != 200:
            raise RuntimeError(f"could not create lock session: {reply}")
        ledger.confirmed(
            sid_of(members[0].browser.cookie), members[0].browser.cookie, 1
        )
        for member in members[1:]:
            member.browser.cookie = members[0].browser.cookie
            member.session_since = members[0].session_since
        clients += members
    n_individual = cfg["clients"] - len(clients)
    for i in range(n_individual):
        clients.append(Individual(f"c{i}", browser(), random.Random(rng.random())))
    return clients


def main(argv: list[str]) -> int:
    with open(argv[1]) as f:
        cfg = json.load(f)
    ledger = Ledger()
    clients = build_clients(cfg, ledger)
    start = time.time()
    deadline = start + cfg["duration"]
    print(f"START {start:.6f}", flush=True)
    threads = [
        threading.Thread(
            target=run_client, args=(c, deadline, cfg["think_ms"] / 1000), daemon=True
        )
        for c in clients
    ]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    elapsed = time.time() - start
    print(f"LOADED {time.time():.6f}", flush=True)  # the verification follows
    stats = merge([c.stats for c in clients])
    # let the run's last faults settle before reading everything back
    time.sleep(cfg.get("settle", 0.5))
    final = Stats()
    verify_start = time.time()
    verification = verify(
        clients, ledger, stats, final, cfg["host"], cfg["port"], cfg["http_timeout"]
    )
    result = {
        "elapsed": elapsed,
        "verify_seconds": time.time() - verify_start,
        "start": start,
        "status": stats.status,
        "by_kind": stats.by_kind,
        "latencies": stats.latencies,
        "lock_latencies": stats.lock_latencies,
        "ok_times": stats.ok_times,
        "slow": stats.slow,
        "failures": stats.failures,
        "violations": stats.violations + final.violations,
        "id_changes": [
            {k: v for k, v in c.items() if k != "old_cookie"} for c in stats.id_changes
        ],
        "counts": {
            **stats.counts,
            **{f"final {k}": v for k, v in final.counts.items()},
        },
        "verification": verification,
        "verification_status": final.status,
        "clients": {
            "individual": sum(isinstance(c, Individual) for c in clients),
            "shared": sum(isinstance(c, SharedMember) for c in clients),
            "lock": sum(isinstance(c, LockMember) for c in clients),
        },
    }
    with open(argv[2], "w") as f:
        json.dump(result, f)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
