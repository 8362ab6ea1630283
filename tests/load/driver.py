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

import json
import sys
import threading
import time
from pathlib import Path

if __name__ == "__main__":  # run as a script: the checkout's tests.load
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.load.browser import Stats, merge
from tests.load.clients import (
    Individual,
    Ledger,
    LockMember,
    SharedMember,
    build_clients,
    run_client,
)
from tests.load.verify import verify


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
