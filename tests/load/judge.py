"""The judge: turn the driver's raw result into figures and failed assertions.

:func:`evaluate` judges one run of one contender. Its assertions come in two
kinds: the *server's* (status codes in and outside fault windows, 5xx,
tracebacks, the lock probe) and the *session contract's* (lost updates, late
writes, foreign data, flash, login and logout ids, sessions that vanished,
lock-mode counters). For wsgi_session both are failures; for a peer
(``--peer beaker``) the contract's findings are *reported*, since they are
what the comparison measures, and only the server's are failures.
:func:`compare` judges the contenders against each other.

>>> _percentile([3.0, 1.0, 2.0], 0.5)
2.0
"""

from __future__ import annotations

import typing as t
from collections import Counter
from dataclasses import dataclass, field

from tests.load.settings import CONTENDERS, LOCK_TIMEOUT, STORE_TIMEOUT


@dataclass
class Report:
    """The figures of one run and the assertions it failed.

    ``reported`` holds a peer's session-contract findings (empty for ours,
    whose findings are failures).
    """

    store: str
    faults: bool
    figures: dict[str, t.Any]
    fault_rows: list[dict[str, t.Any]]
    failures: list[str]
    contender: str = CONTENDERS[0]
    reported: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def ours(self) -> bool:
        """True for wsgi_session, False for a peer."""
        return self.contender == CONTENDERS[0]


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def _without(values: list[float], some: list[float]) -> list[float]:
    """``values`` less one occurrence of each of ``some`` (a sub-multiset).

    >>> _without([1.0, 2.0, 2.0, 3.0], [2.0, 3.0])
    [1.0, 2.0]
    """
    left = Counter(some)
    kept = []
    for value in values:
        if left[value]:
            left[value] -= 1
        else:
            kept.append(value)
    return kept


def _window_of(failure: list[t.Any], faults: list[dict[str, t.Any]]):
    """The fault window a failed request overlaps (a worker kill first for
    connection errors, which only a worker kill explains)."""
    t0, t1 = failure[0], failure[1]
    hits = [r for r in faults if t0 <= r["end"] + r["grace"] and t1 >= r["start"]]
    if not failure[2]:
        hits.sort(key=lambda r: not r["name"].startswith("gunicorn"))
    return hits[0] if hits else None


def _window_failures(
    result: dict[str, t.Any], faults: list[dict[str, t.Any]]
) -> list[str]:
    """Answers inside and outside fault windows (fills each row's ``answers``)."""
    failures: list[str] = []
    outside: dict[str, int] = {}
    for row in faults:
        row["answers"] = {}
    for f in result["failures"]:
        key = str(f[2]) if f[2] else f"conn:{f[4] or '?'}"
        row = _window_of(f, faults)
        if row is None:
            outside[key] = outside.get(key, 0) + 1
        else:
            row["answers"][key] = row["answers"].get(key, 0) + 1
            if f[2] and f[2] != 200 and len(row.setdefault("examples", [])) < 5:
                row["examples"].append(
                    {
                        "status": f[2],
                        "kind": f[3],
                        "started": round(f[0] - row["start"], 3),
                        "took": round(f[1] - f[0], 3),
                    }
                )
    for row in faults:
        for t_ok in result["ok_times"]:
            if row["start"] <= t_ok <= row["end"] + row["grace"]:
                row["answers"]["200"] = row["answers"].get("200", 0) + 1
        # a store outage may answer 503; a worker kill may cut off the requests
        # in flight on that worker, but must not make anyone else wait and fail
        if row["name"].startswith("gunicorn"):
            bad = {
                k: v
                for k, v in row["answers"].items()
                if k != "200" and not k.startswith("conn:")
            }
            if bad:
                failures.append(
                    f"after '{row['name']}': answers other than 200 (besides "
                    f"requests cut off on the killed worker): {bad}; "
                    f"e.g. {row.get('examples')}"
                )
            continue
        bad = {k: v for k, v in row["answers"].items() if k not in ("200", "503")}
        if bad:
            failures.append(f"during '{row['name']}': answers other than 503: {bad}")
        # a 503 for a request that started during the outage is fine; one
        # answered long after the store came back is not the outage's doing
        # (a lock left behind by it, say)
        late = row["end"] + row["grace"] + STORE_TIMEOUT + 1
        late_503 = [
            f
            for f in result["failures"]
            if f[2] == 503 and f[1] > late and _window_of(f, faults) is row
        ]
        if late_503:
            examples = [
                {
                    "kind": f[3],
                    "started": round(f[0] - row["end"], 2),
                    "answered": round(f[1] - row["end"], 2),
                }
                for f in late_503[:3]
            ]
            failures.append(
                f"after '{row['name']}': {len(late_503)} answers 503 more than "
                f"{late - row['end']:.1f}s after the store recovered (seconds "
                f"relative to the recovery): {examples}"
            )
    if outside:
        failures.append(f"non-200 answers outside fault windows: {outside}")
    return failures


def _server_failures(status: dict[str, int], server_log: str) -> list[str]:
    """5xx other than 503, and tracebacks in the gunicorn log."""
    failures: list[str] = []
    n500 = sum(v for k, v in status.items() if k.startswith("5") and k != "503")
    if n500:
        failures.append(f"{n500} answers 5xx other than 503")
    tracebacks = server_log.count("Traceback")
    if tracebacks:
        failures.append(f"{tracebacks} tracebacks in the gunicorn log")
    return failures


def _lock_probe_failures(faults: list[dict[str, t.Any]]) -> list[str]:
    """The dead worker's lock expires and the requests waiting for it get 200."""
    failures: list[str] = []
    for row in faults:
        if "next_status" not in row and row["name"].startswith(
            "gunicorn worker SIGKILL holding"
        ):
            failures.append(f"lock probe did not run: {row.get('error')}")
        if "next_status" not in row:
            continue
        if row["lock_ttl_left"] in ("none",):
            failures.append("the dead worker's lock has no expiry")
        for who in ("waiting", "next"):
            code, wait = row[f"{who}_status"], row[f"{who}_wait"]
            if code != 200:
                failures.append(
                    f"lock probe: the {who} request after the worker kill got "
                    f"{code} after {wait}s (lock timeout {LOCK_TIMEOUT}s)"
                )
            elif wait > LOCK_TIMEOUT + 0.1:  # 0.1 s: the HTTP round trip
                failures.append(f"lock probe: the {who} request waited {wait}s")
        if not row["intact"]:
            failures.append(
                f"lock-mode session not intact after the kill: {row['data']}"
            )
    return failures


#: What the driver finds that is the server's doing, not the session contract's.
SERVER_FINDINGS = (
    "traceback in body",
    "Set-Cookie on a",
    "driver error",
    "final read failed",
    "final lookup of an old id failed",
)


def _driver_findings(result: dict[str, t.Any], *, contract: bool) -> list[str]:
    """The driver's findings about the session contract, or else the server's."""
    mine = [
        v
        for v in result["violations"]
        if v["what"].startswith(SERVER_FINDINGS) != contract
    ]
    return [
        f"{n} x {what}: e.g. {[v for v in mine if v['what'] == what][:3]}"
        for what, n in _count_by_what(mine).items()
    ]


def _count_by_what(violations: list[dict[str, t.Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for v in violations:
        counts[v["what"]] = counts.get(v["what"], 0) + 1
    return dict(sorted(counts.items()))


def _contract_findings(
    result: dict[str, t.Any], faults: list[dict[str, t.Any]]
) -> tuple[list[str], dict[str, t.Any]]:
    """The session contract: the driver's findings, vanished and missing sessions.

    Returns the findings and the figures they were drawn from.
    """
    failures: list[str] = []
    ver = result["verification"]
    memcached_restart = [
        row["start"] for row in faults if row["name"].startswith("memcached SIGKILL")
    ]
    failures += _driver_findings(result, contract=True)

    # sessions that vanished from under a client that presented them, and
    # sessions missing at the end: only memcached's restart excuses them, and
    # only for sessions it held before restarting
    def excused(since: float) -> bool:
        return bool(memcached_restart) and since < memcached_restart[0]

    lost_sessions = [
        change
        for change in result["id_changes"]
        if not change.get("old_exists")
        and not change.get("maybe_destroyed")
        and not excused(change["since"])
    ]
    if lost_sessions:
        failures.append(
            f"{len(lost_sessions)} sessions vanished from the store under their "
            f"client: e.g. {lost_sessions[:3]}"
        )
    missing = [m for m in ver["missing sessions"] if not excused(m["since"])]
    if missing:
        failures.append(f"{len(missing)} sessions missing at the end: {missing[:5]}")
    dropped = (
        len(ver["missing sessions"])
        - len(missing)
        + sum(
            1
            for change in result["id_changes"]
            if not change.get("old_exists") and excused(change["since"])
        )
    )
    figures = {
        "lost_sessions": len(lost_sessions) + len(missing),
        "dropped_by_restart": dropped,
    }
    return failures, figures


def evaluate(
    store: str,
    faulted: bool,
    result: dict[str, t.Any],
    faults: list[dict[str, t.Any]],
    server_log: str,
    contender: str = CONTENDERS[0],
) -> Report:
    """Turn the driver's raw result into figures and failed assertions."""
    status = result["status"]
    failures = _window_failures(result, faults)
    failures += _server_failures(status, server_log)
    failures += _lock_probe_failures(faults)
    failures += _driver_findings(result, contract=False)
    contract, contract_figures = _contract_findings(result, faults)
    figures = {
        **_figures(result),
        **contract_figures,
        "server_tracebacks": server_log.count("Traceback"),
        "violations": _count_by_what(result["violations"]),
    }
    if contender == CONTENDERS[0]:
        return Report(store, faulted, figures, faults, failures + contract)
    return Report(store, faulted, figures, faults, failures, contender, contract)


def _figures(result: dict[str, t.Any]) -> dict[str, t.Any]:
    """Requests, latencies, writes and what the verification read back."""
    status = result["status"]
    requests = sum(status.values())
    latencies = result["latencies"]
    lock_latencies = result.get("lock_latencies", [])
    merge_latencies = _without(latencies, lock_latencies)
    counts = result["counts"]
    ver = result["verification"]
    by_kind = result["by_kind"]
    writes = by_kind.get("set", {}).get("200", 0)
    lost = counts.get("lost updates", 0) + counts.get("final lost updates", 0)
    late = counts.get("late writes", 0) + counts.get("final late writes", 0)
    # requests that took over a second (in lock mode: waits for a lock)
    slow = result["slow"]
    slow_kinds: dict[str, int] = {}
    for req in slow:
        slow_kinds[req[3]] = slow_kinds.get(req[3], 0) + 1
    return {
        "slow": len(slow),
        "slow_max_s": round(max((r[1] - r[0] for r in slow), default=0), 2),
        "slow_kinds": slow_kinds,
        "slow_examples": [
            {
                "started at": round(r[0] - result["start"], 2),
                "took": round(r[1] - r[0], 2),
                "status": r[2],
                "kind": r[3],
            }
            for r in sorted(slow, key=lambda r: r[0] - r[1])[:5]
        ],
        "duration": round(result["elapsed"], 1),
        "clients": result["clients"],
        "requests": requests,
        "rate": round(requests / max(result["elapsed"], 1e-9)),
        "status": dict(sorted(status.items())),
        "p50_ms": round(1000 * _percentile(latencies, 0.50), 1),
        "p99_ms": round(1000 * _percentile(latencies, 0.99), 1),
        "max_ms": round(1000 * max(latencies, default=0), 1),
        # without the lock routes (their requests wait for each other)
        "p99_merge_ms": round(1000 * _percentile(merge_latencies, 0.99), 1),
        "p99_lock_ms": round(1000 * _percentile(lock_latencies, 0.99), 1),
        "writes_confirmed": writes,
        "shared_writes": counts.get("shared-session writes", 0),
        "lost_updates": lost,
        "late_writes": late,
        # a read found the key without its last acknowledged value: a lost
        # update, or a late write (an older value back); several such writes
        # between two reads of the key count once
        "lost_acknowledged": lost + late,
        "lost_pct": round(100 * (lost + late) / max(writes, 1), 1),
        "uncertain_landed": counts.get("uncertain writes that landed", 0)
        + counts.get("final uncertain writes that landed", 0),
        "flash_ok": counts.get("flash round trips ok", 0),
        "flash_inconclusive": counts.get("flash round trips inconclusive", 0),
        "logins": counts.get("logins", 0),
        "logouts": counts.get("logouts", 0),
        "id_changes": ver.get("id changes", {}),
        "reissued": ver.get("id changes", {}).get("reissued", 0),
        "sessions_checked": ver.get("sessions checked", 0),
        "keys_checked": ver.get("keys checked", 0),
        "lock_counters": ver.get("lock counters", []),
        # CPU time per request served (no faults only): µs
        **{
            f"{who}_cpu_us": round(1e6 * seconds / max(requests, 1))
            for who, seconds in result.get("cpu", {}).items()
        },
        "lost_increments": sum(
            max(0, c["confirmed"] - (c["final"] or 0))
            for c in ver.get("lock counters", [])
        ),
    }


def compare(ours: list[Report], peer: list[Report]) -> list[str]:
    """Ours serves at least as many requests as the peer, and loses no write.

    >>> def run(who, requests, lost):
    ...     figures = {"requests": requests, "lost_acknowledged": lost,
    ...                "lost_increments": 0}
    ...     return Report("redis", False, figures, [], [], who)
    >>> compare([run("wsgi_session", 900, 0)], [run("beaker", 1000, 80)])
    ['wsgi_session served 900 requests, beaker 1000']
    """
    failures: list[str] = []
    mine = sum(r.figures["requests"] for r in ours)
    theirs = sum(r.figures["requests"] for r in peer)
    if mine < theirs:
        failures.append(
            f"{ours[0].contender} served {mine} requests, {peer[0].contender} {theirs}"
        )
    lost = sum(
        r.figures["lost_acknowledged"] + r.figures["lost_increments"] for r in ours
    )
    if lost:
        failures.append(f"{ours[0].contender} lost {lost} acknowledged writes")
    return failures
