"""The load test's clients: what each kind of "browser" does and remembers.

Individual clients, members of a shared session and lock clients (see
``driver.py`` for what each checks), the :class:`Ledger` of lock-mode
counters, one client's loop (:func:`run_client`) and the set of clients a
configuration asks for (:func:`build_clients`).
"""

from __future__ import annotations

import random
import threading
import time
import typing as t
from dataclasses import dataclass, field

from tests.load.browser import Browser, Reply, Stats, sid_of

#: Keys the app itself writes; excluded from the data comparison.
APP_KEYS = {"user", "notice", "held"}


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
