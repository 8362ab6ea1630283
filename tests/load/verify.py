"""After the load: every session read back, every old id looked up."""

from __future__ import annotations

import typing as t

from tests.load.browser import Browser, Stats
from tests.load.clients import Client, Ledger, LockMember


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
