"""The faults of ``--faults``: store kills, pauses and restarts, gunicorn worker kills.

Each fault is a function of the running scenario's :class:`Context` that
returns its row for the report: ``name``, ``start`` and ``end`` (Unix time) and
``grace`` (how long after ``end`` its effects are excused); the lock probe adds
what it measured. ``default_plan`` says when each store's faults start::

    >>> [name for _at, name, _kw in default_plan("file", 60)]
    ['worker-kill-lock', 'worker-kill']
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import threading
import time
import typing as t
from dataclasses import dataclass, field
from pathlib import Path

from servers import ServerProcess, send

from tests.load import browser as load_browser
from tests.load.settings import HOST, STORE_TIMEOUT, Plan
from wsgi_session.middleware import store_key


@dataclass
class Context:
    """Everything a fault needs to know about the running scenario."""

    store: str
    url: str
    server: ServerProcess | None
    file_dir: str | None
    port: int
    state_dir: str
    gunicorn: subprocess.Popen[bytes]
    faults: list[dict[str, t.Any]] = field(default_factory=list)


def hard_kill(server: ServerProcess) -> None:
    """SIGKILL the server process (no shutdown, no save) and reap it."""
    process = server.process
    assert process is not None
    if server.paused:
        os.kill(process.pid, signal.SIGCONT)
        server.paused = False
    process.kill()
    process.wait(10)
    server._log.close()
    server.process = None


def worker_pids(master: int) -> list[int]:
    """The gunicorn workers (children of the master process)."""
    try:
        with open(f"/proc/{master}/task/{master}/children") as f:
            return [int(pid) for pid in f.read().split()]
    except OSError:
        return []


def fault_store_kill(ctx: Context, down: float = 3.0) -> dict[str, t.Any]:
    """SIGKILL the store server, wait ``down`` seconds, start it again."""
    assert ctx.server is not None
    start = time.time()
    hard_kill(ctx.server)
    time.sleep(down)
    ctx.server.start()
    return {
        "name": f"{ctx.store} SIGKILL + restart ({down:g}s down)",
        "start": start,
        "end": time.time(),
        "grace": 1.5 if ctx.store == "redis" else 2.5,
    }


def fault_store_restart(ctx: Context, down: float = 3.0) -> dict[str, t.Any]:
    """Stop the database (fast shutdown: connections cut), restart it later."""
    assert ctx.server is not None
    start = time.time()
    ctx.server.stop()
    time.sleep(down)
    ctx.server.start(60)
    return {
        "name": f"{ctx.store} shutdown + restart ({down:g}s down)",
        "start": start,
        "end": time.time(),
        "grace": 2.5,
    }


def fault_store_pause(ctx: Context, seconds: float = STORE_TIMEOUT + 3) -> dict:
    """SIGSTOP the store server for ``seconds`` (> client socket timeout)."""
    assert ctx.server is not None
    start = time.time()
    ctx.server.pause()
    time.sleep(seconds)
    ctx.server.resume()
    return {
        "name": f"{ctx.store} SIGSTOP {seconds:g}s (socket timeout {STORE_TIMEOUT}s)",
        "start": start,
        "end": time.time(),
        "grace": 1.5 if ctx.store == "redis" else 2.5,
    }


def lock_expiry(ctx: Context, sid: str) -> float | str:
    """Seconds left on the session lock of ``sid``, read from the store itself.

    ``"none"`` when the lock exists without expiry, ``"absent"`` when there is
    no lock.
    """
    key = store_key(sid) + ":lock"
    if ctx.store in ("postgresql", "sqlite"):  # a lease row keyed by the session
        import sqlalchemy as sa

        from wsgi_session.stores.sql_engine import driver_url

        engine = sa.create_engine(driver_url(ctx.url.split("?")[0]))
        try:
            with engine.connect() as conn:
                expires = conn.execute(
                    sa.text("SELECT expires_at FROM wsgi_session_locks WHERE key = :k"),
                    {"k": store_key(sid)},
                ).scalar()
        finally:
            engine.dispose()
        return "absent" if expires is None else round(expires / 1000 - time.time(), 3)
    if ctx.store == "redis":
        assert ctx.server is not None
        reply = send(ctx.server.port, f"PTTL {key}\r\n".encode(), b"\r\n")
        ms = int(reply.strip().lstrip(b":"))
        return {-1: "none", -2: "absent"}.get(ms, ms / 1000)
    if ctx.store == "memcached":
        assert ctx.server is not None
        reply = send(ctx.server.port, f"mg {key} t\r\n".encode(), b"\r\n")
        if reply.startswith(b"EN"):
            return "absent"
        ttl = int(reply.split()[1][1:])
        return "none" if ttl == -1 else float(ttl)
    assert ctx.file_dir is not None  # FileBackend: <sha256 of key>.lock<suffix>
    name = hashlib.sha256(store_key(sid).encode()).hexdigest() + ".lock.__wz_cache"
    try:
        with open(os.path.join(ctx.file_dir, name)) as f:
            _token, _, expires = f.read().partition(" ")
    except FileNotFoundError:
        return "absent"
    return round(float(expires) - time.time(), 3) if expires else "none"


def fault_worker_kill_lock(ctx: Context, kill_after: float = 0.5) -> dict[str, t.Any]:
    """SIGKILL the worker that holds a session lock; time the next requests.

    The holder takes the lock, a second request of the session starts
    ``kill_after / 2`` later and waits for it (a second tab), the holder's
    worker is killed at ``kill_after``, and a third request is sent just
    after the kill. Both must get 200 within the lock timeout.
    """

    def browser(cookie: str | None = None) -> load_browser.Browser:
        b = load_browser.Browser(HOST, ctx.port, 120, load_browser.Stats())
        b.cookie = cookie
        return b

    setup = browser()
    reply = setup.get("/lock/set?k=probe&v=1", "probe")
    setup.close()
    cookie = reply.cookie[1] if reply.cookie else None
    result: dict[str, t.Any] = {"name": "gunicorn worker SIGKILL holding a lock"}
    if reply.status != 200 or cookie is None:
        result.update(start=time.time(), end=time.time(), grace=0, error=reply.status)
        return result
    sid = load_browser.sid_of(cookie)
    assert sid is not None
    tag = os.urandom(6).hex()
    replies: dict[str, load_browser.Reply] = {}

    def fetch(path: str, name: str) -> load_browser.Reply:
        b = browser(cookie)
        try:
            return b.get(path, name)
        finally:
            b.close()

    def other_worker(pid: int) -> load_browser.Browser:
        """A keep-alive connection served by another worker than ``pid``."""
        for _ in range(50):
            b = browser(cookie)
            if (b.get("/noop", "noop").data or {}).get("pid") != pid:
                return b
            b.close()
        return browser(cookie)

    def send_in_background(
        name: str, path: str, on: load_browser.Browser | None = None
    ) -> threading.Thread:
        def run() -> None:
            if on is not None:
                reply = on.get(path, name)
                on.close()
            else:
                reply = fetch(path, name)
            if name == "waiting" and reply.status == 0:  # its worker was the one
                result["waiting_retried"] = True  # killed: a browser retries
                reply = fetch(path, name)
            replies[name] = reply

        thread = threading.Thread(target=run)
        thread.start()
        return thread

    hold = send_in_background("hold", f"/lock/hold?seconds=60&tag={tag}")
    marker = Path(ctx.state_dir) / f"hold-{tag}.json"
    deadline = time.monotonic() + 15
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.005)
    if not marker.exists():
        result.update(start=time.time(), end=time.time(), grace=0, error="no hold")
        return result
    info = json.loads(marker.read_text())
    elsewhere = other_worker(info["pid"])
    time.sleep(max(0.0, info["t"] + kill_after / 2 - time.time()))
    waiting = send_in_background("waiting", "/lock/incr?k=probe", elsewhere)
    time.sleep(max(0.0, info["t"] + kill_after - time.time()))
    kill = time.time()
    os.kill(info["pid"], signal.SIGKILL)
    expiry = lock_expiry(ctx, sid)
    after = fetch("/lock/incr?k=probe", "after")
    waiting.join(130)
    hold.join(130)
    waited = replies["waiting"]
    final = fetch("/lock/read", "probe")
    data = (final.data or {}).get("data", {})
    expected = 1 + (waited.status == 200) + (after.status == 200)
    result.update(
        start=kill,
        end=kill,
        grace=2.0,  # in-flight requests of the killed worker are cut off
        lock_ttl_left=expiry,
        waiting_status=waited.status,
        waiting_wait=round(waited.t1 - waited.t0, 3),
        waiting_started=round(waited.t0 - info["t"], 3),
        next_status=after.status,
        next_wait=round(after.t1 - after.t0, 3),
        since_acquired=round(after.t1 - info["t"], 3),
        intact=data == {"probe": expected},
        data=data,
        holder=replies["hold"].status,
    )
    return result


def fault_worker_kill(ctx: Context) -> dict[str, t.Any]:
    """SIGKILL a random gunicorn worker in the middle of merge-mode traffic."""
    pids = worker_pids(ctx.gunicorn.pid)
    start = time.time()
    if pids:
        os.kill(random.choice(pids), signal.SIGKILL)
    return {
        "name": "gunicorn worker SIGKILL (merge traffic)",
        "start": start,
        "end": start,
        "grace": 2.0,
    }


FAULTS: dict[str, t.Callable[..., dict[str, t.Any]]] = {
    "store-kill": fault_store_kill,
    "store-pause": fault_store_pause,
    "store-restart": fault_store_restart,
    "worker-kill-lock": fault_worker_kill_lock,
    "worker-kill": fault_worker_kill,
}


def default_plan(store: str, duration: float) -> Plan:
    """When (seconds into the load) each fault of ``--faults`` starts."""
    if store == "postgresql":
        return [
            (0.15 * duration, "store-restart", {"down": 3.0}),
            (0.6 * duration, "worker-kill-lock", {}),
        ]
    if store in ("file", "sqlite"):
        return [
            (0.25 * duration, "worker-kill-lock", {}),
            (0.6 * duration, "worker-kill", {}),
        ]
    return [
        (0.15 * duration, "store-kill", {"down": 3.0}),
        (0.4 * duration, "store-pause", {}),
        (0.65 * duration, "worker-kill-lock", {}),
    ]
