"""The tables the load test prints: one per run, a summary, and the comparison.

>>> _fmt_answers({"503": 2, "200": 10})
'200: 10, 503: 2'
"""

from __future__ import annotations

from tests.load.judge import Report
from tests.load.settings import LOCK_TIMEOUT


def _fmt_answers(answers: dict[str, int]) -> str:
    return ", ".join(f"{k}: {v}" for k, v in sorted(answers.items())) or "-"


def print_report(report: Report) -> None:
    f = report.figures
    c = f["clients"]
    title = (
        f"{report.contender}  store={report.store}  "
        f"faults={'on' if report.faults else 'off'}"
    )
    print("=" * 78)
    print(title)
    print("-" * 78)
    changes = f["id_changes"]
    counters = "; ".join(
        f"n={x['final']} (confirmed {x['confirmed']}, uncertain {x['uncertain']})"
        for x in f["lock_counters"]
    )
    rows = [
        (
            "clients",
            f"{sum(c.values())} ({c['individual']} individual, "
            f"{c['shared']} in shared sessions, {c['lock']} lock-mode)",
        ),
        ("duration", f"{f['duration']} s"),
        ("requests", f"{f['requests']} ({f['rate']}/s)"),
        ("answers", _fmt_answers(f["status"])),
        (
            "latency p50 / p99 / max",
            f"{f['p50_ms']} / {f['p99_ms']} / {f['max_ms']} ms",
        ),
        (
            "p99: merge routes / lock routes",
            f"{f['p99_merge_ms']} / {f['p99_lock_ms']} ms",
        ),
        (
            "CPU per request: app / store",
            f"{f.get('app_cpu_us', '-')} / {f.get('store_cpu_us', '-')} µs",
        ),
        (
            "requests over 1 s",
            f"{f['slow']} (max {f['slow_max_s']} s) {f['slow_kinds']}",
        ),
        (
            "writes confirmed (shared)",
            f"{f['writes_confirmed']} ({f['shared_writes']})",
        ),
        ("lost updates", f["lost_updates"]),
        ("late writes", f["late_writes"]),
        (
            "lost acknowledged writes",
            f"{f['lost_acknowledged']} ({f['lost_pct']} % of confirmed writes)",
        ),
        ("lost lock-route increments", f["lost_increments"]),
        ("503'd writes that landed", f["uncertain_landed"]),
        (
            "flash round trips ok / inconcl.",
            f"{f['flash_ok']} / {f['flash_inconclusive']}",
        ),
        ("logins / logouts", f"{f['logins']} / {f['logouts']}"),
        (
            "id changes (old gone/reissued)",
            f"{changes.get('total', 0)} ({changes.get('old session gone', 0)}"
            f"/{f['reissued']})",
        ),
        ("sessions vanished (unexpected)", f["lost_sessions"]),
        ("sessions dropped by a restart", f["dropped_by_restart"]),
        (
            "final check: sessions / keys",
            f"{f['sessions_checked']} / {f['keys_checked']}",
        ),
        ("lock counters", counters or "-"),
        ("tracebacks in server log", f["server_tracebacks"]),
    ]
    for name, value in rows:
        print(f"{name:<34}{value}")
    if report.fault_rows:
        print("-" * 78)
        print(f"{'fault':<52}{'at':>6}{'length':>8}  answers in window")
        for row in report.fault_rows:
            length = row["end"] - row["start"]
            print(
                f"{row['name']:<52}{row['at']:>5}s{length:>7.1f}s  "
                f"{_fmt_answers(row['answers'])}"
            )
            if "next_status" in row:
                retried = " (retried: its worker was killed)"
                retried = retried if row.get("waiting_retried") else ""
                print(
                    f"    lock TTL left just after the kill: {row['lock_ttl_left']} s\n"
                    f"    request waiting since {row['waiting_started']} s after the "
                    f"lock was taken: {row['waiting_status']} after "
                    f"{row['waiting_wait']} s{retried}\n"
                    f"    request sent just after the kill: {row['next_status']} after "
                    f"{row['next_wait']} s (lock timeout {LOCK_TIMEOUT} s)\n"
                    f"    data intact: {row['intact']} {row['data']}"
                )
    print("-" * 78)
    if report.ok:
        print("PASS: every assertion holds" + ("" if report.ours else " of the server"))
    for failure in report.failures:
        print(f"FAIL: {failure[:600]}")
    for finding in report.reported:
        print(f"REPORTED (not a failure for a peer): {finding[:600]}")


def print_summary(reports: list[Report]) -> None:
    print("=" * 78)
    print(
        f"{'store':<11}{'faults':<8}{'requests':>9}{'req/s':>7}{'p50 ms':>8}"
        f"{'p99 ms':>8}{'503':>6}{'500':>5}{'conn':>6}{'lost':>6}{'reiss':>6}  result"
    )
    for r in reports:
        f = r.figures
        st = f["status"]
        conn = sum(v for k, v in st.items() if k.startswith("conn"))
        n500 = sum(v for k, v in st.items() if k.startswith("5") and k != "503")
        print(
            f"{r.store:<11}{'on' if r.faults else 'off':<8}{f['requests']:>9}"
            f"{f['rate']:>7}{f['p50_ms']:>8}{f['p99_ms']:>8}{st.get('503', 0):>6}"
            f"{n500:>5}{conn:>6}{f['lost_updates']:>6}{f['reissued']:>6}  "
            f"{'PASS' if r.ok else 'FAIL'}"
        )


def print_comparison(rounds: list[list[Report]], failures: list[str]) -> None:
    """One table, every contender of every round, then the verdict.

    ``rounds`` holds one list of reports per round (ours first in each).
    """
    print("=" * 92)
    print(
        f"{'contender':<13}{'round':>5}{'requests':>9}{'req/s':>6}{'p50':>6}"
        f"{'p99':>6}{'p99 m':>6}{'p99 l':>6}{'app µs':>7}{'Redis µs':>9}"
        f"{'writes':>7}{'lost':>5}{'% all':>6}{'% shared':>9}{'incr lost':>10}"
    )
    for number, reports in enumerate(rounds, 1):
        for r in reports:
            f = r.figures
            shared_pct = 100 * f["lost_acknowledged"] / max(f["shared_writes"], 1)
            print(
                f"{r.contender:<13}{number:>5}{f['requests']:>9}{f['rate']:>6}"
                f"{f['p50_ms']:>6.0f}{f['p99_ms']:>6.0f}{f['p99_merge_ms']:>6.0f}"
                f"{f['p99_lock_ms']:>6.0f}{f.get('app_cpu_us', '-'):>7}"
                f"{f.get('store_cpu_us', '-'):>9}{f['writes_confirmed']:>7}"
                f"{f['lost_acknowledged']:>5}{f['lost_pct']:>6}{shared_pct:>9.1f}"
                f"{f['lost_increments']:>10}"
            )
    print("-" * 92)
    ratios = [
        r[0].figures["requests"] / max(r[1].figures["requests"], 1) for r in rounds
    ]
    total = sum(r[0].figures["requests"] for r in rounds) / max(
        sum(r[1].figures["requests"] for r in rounds), 1
    )
    print(
        f"requests {rounds[0][0].contender} / {rounds[0][1].contender}: "
        + ", ".join(f"{x:.2f}" for x in ratios)
        + (f" (all rounds: {total:.2f})" if len(rounds) > 1 else "")
    )
    print(
        "p50, p99: ms, all requests; p99 m / p99 l: merge routes / /lock/ routes\n"
        "only; app µs / Redis µs: CPU time of the gunicorn workers / of\n"
        "redis-server per request; writes: /set answered 200; lost: reads that\n"
        "found a key without its last acknowledged value (% of all writes, % of\n"
        "the writes in the two shared sessions); incr lost: /lock/incr answered\n"
        "200 but missing from the final counter"
    )
    for failure in failures:
        print(f"FAIL: {failure}")
    if not failures:
        print("PASS: ours served at least as many requests, with 0 lost writes")
