"""Load test with fault injection: real stores, gunicorn, 50 browsers, one command.

::

    python tests/load/run.py [--store redis|memcached|file|postgresql|sqlite|all]
                             [--duration 60]
                             [--clients 50] [--faults] [--json report.json]

For each store it starts the store (redis-server with ``--appendonly yes
--appendfsync always`` in a temporary directory, memcached, or a temporary
``file://`` directory, a private PostgreSQL cluster, a SQLite file), the
load-test app (``tests/load/app.py``) under
gunicorn (2 workers x 4 threads, ``gthread``) on a free loopback port, and
the clients (``tests/load/driver.py``) in a separate process. With
``--faults`` it injects, during the load:

* redis: SIGKILL of redis-server and a restart 3 s later (same AOF); SIGSTOP
  for longer than the client socket timeout, then SIGCONT;
* memcached: SIGKILL and restart (its data is gone: fresh sessions are
  expected), SIGSTOP / SIGCONT;
* every store: a gunicorn worker SIGKILLed while it holds a session lock
  (``concurrency="lock"``); the next request of that session is timed;
* file and sqlite: also a plain worker SIGKILL in the middle of merge-mode
  traffic;
* postgresql: a fast shutdown (every connection cut) and a restart 3 s later.

It prints a table per store and exits non-zero if an assertion fails: a 500,
a traceback, a non-503 answer during an outage, any error outside one, a lost
update, an id re-issued to a client whose session still exists, a session
(other than memcached's after its restart) not intact after recovery, a lock
left without expiry or one the next request could not take within the lock
timeout. See ``tests/load/README.md``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import typing as t
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
for _path in (str(ROOT), str(ROOT / "tests")):  # wsgi_session, tests/servers.py
    if _path not in sys.path:
        sys.path.insert(0, _path)

if __package__:  # imported as tests.load.run (the smoke test)
    from . import driver as load_driver
else:  # run as a script: tests/load is sys.path[0]
    import driver as load_driver  # type: ignore[no-redef]
from servers import (  # noqa: E402
    MemcachedServer,
    PostgresServer,
    RedisServer,
    ServerProcess,
    _die_with_parent,
    free_port,
    send,
)

from wsgi_session.middleware import store_key  # noqa: E402

HOST = "127.0.0.1"
#: Socket timeout of the store clients (in the store URL); pauses last longer.
STORE_TIMEOUT = 2
#: The app's lock_timeout (the library default).
LOCK_TIMEOUT = 10
STORES = ("redis", "memcached", "file", "postgresql", "sqlite")

Plan = t.List[t.Tuple[float, str, t.Dict[str, t.Any]]]


class DurableRedisServer(RedisServer):
    """redis-server that survives SIGKILL: AOF on, fsync before every reply.

    (``appendfsync everysec``, Redis' default, may drop the last second of
    acknowledged writes on a crash; that would be Redis' loss, not ours.)
    """

    def argv(self) -> list[str]:
        argv = super().argv()
        argv[argv.index("--appendonly") + 1] = "yes"
        return [*argv, "--appendfsync", "always"]


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


# -- the pieces of one run ---------------------------------------------------


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


def start_store(store: str, tmp: str) -> tuple[ServerProcess | None, str, str | None]:
    """Start the store; return the server (None for file), its URL and file dir."""
    if store == "redis":
        server: ServerProcess = DurableRedisServer()
        server.start()
        url = (
            f"{server.url}?socket_timeout={STORE_TIMEOUT}"
            f"&socket_connect_timeout={STORE_TIMEOUT}"
        )
        return server, url, None
    if store == "memcached":
        server = MemcachedServer()
        server.start()
        return server, f"{server.url}?socket_timeout={STORE_TIMEOUT}", None
    if store == "file":
        directory = os.path.join(tmp, "sessions")
        os.makedirs(directory)
        return None, f"file://{directory}", directory
    if store == "postgresql":
        server = PostgresServer()
        server.start(60)
        return server, f"{server.url}?connect_timeout={STORE_TIMEOUT}", None
    if store == "sqlite":
        return None, "sqlite:///" + os.path.join(tmp, "sessions.db"), None
    raise ValueError(f"unknown store {store!r}")


def worker_pids(master: int) -> list[int]:
    """The gunicorn workers (children of the master process)."""
    try:
        with open(f"/proc/{master}/task/{master}/children") as f:
            return [int(pid) for pid in f.read().split()]
    except OSError:
        return []


def start_gunicorn(
    url: str, port: int, state_dir: str, log: Path, workers: int, threads: int
) -> subprocess.Popen[bytes]:
    """gunicorn with the load-test app; wait until every worker is up."""
    env = dict(os.environ)
    env.update(
        LOAD_STORE_URL=url,
        LOAD_STATE_DIR=state_dir,
        LOAD_LOCK_TIMEOUT=str(LOCK_TIMEOUT),
        LOAD_SECRET="load-test-" + os.urandom(8).hex(),
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
    )
    argv = [
        sys.executable,
        "-m",
        "gunicorn",
        "--worker-class",
        "gthread",
        "--workers",
        str(workers),
        "--threads",
        str(threads),
        "--bind",
        f"{HOST}:{port}",
        "--timeout",
        "120",
        "--graceful-timeout",
        "3",
        "--keep-alive",
        "10",
        "--log-level",
        "warning",
        "tests.load.app:application",
    ]
    out = open(log, "ab")  # noqa: SIM115 - the child keeps it
    process = subprocess.Popen(
        argv,
        cwd=ROOT,
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
        preexec_fn=_die_with_parent,
    )
    out.close()
    deadline = time.monotonic() + 30
    probe = load_driver.Browser(HOST, port, 2, load_driver.Stats())
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        if (
            probe.get("/noop", "noop", record=False).status == 200
            and len(worker_pids(process.pid)) >= workers
        ):
            probe.close()
            time.sleep(0.3)
            return process
        time.sleep(0.1)
    stop_gunicorn(process)
    raise RuntimeError(f"gunicorn did not start: {log.read_text()[-2000:]}")


def stop_gunicorn(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


# -- faults ----------------------------------------------------------------------


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

    def browser(cookie: str | None = None) -> load_driver.Browser:
        b = load_driver.Browser(HOST, ctx.port, 120, load_driver.Stats())
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
    sid = load_driver.sid_of(cookie)
    assert sid is not None
    tag = os.urandom(6).hex()
    replies: dict[str, load_driver.Reply] = {}

    def fetch(path: str, name: str) -> load_driver.Reply:
        b = browser(cookie)
        try:
            return b.get(path, name)
        finally:
            b.close()

    def other_worker(pid: int) -> load_driver.Browser:
        """A keep-alive connection served by another worker than ``pid``."""
        for _ in range(50):
            b = browser(cookie)
            if (b.get("/noop", "noop").data or {}).get("pid") != pid:
                return b
            b.close()
        return browser(cookie)

    def send_in_background(
        name: str, path: str, on: load_driver.Browser | None = None
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


# -- one scenario ------------------------------------------------------------------


@dataclass
class Report:
    """The figures of one run and the assertions it failed."""

    store: str
    faults: bool
    figures: dict[str, t.Any]
    fault_rows: list[dict[str, t.Any]]
    failures: list[str]

    @property
    def ok(self) -> bool:
        return not self.failures


def run_scenario(
    store: str,
    *,
    duration: float = 60,
    clients: int = 50,
    faults: bool = False,
    plan: Plan | None = None,
    workers: int = 2,
    threads: int = 4,
    think_ms: float = 5,
    seed: int = 1,
    lock_clients: int | None = None,
    keep: bool = False,
) -> Report:
    """Run the load against one store (with its fault plan); return the report."""
    tmp = tempfile.mkdtemp(prefix=f"wss-load-{store}-")
    server, url, file_dir = start_store(store, tmp)
    state_dir = os.path.join(tmp, "state")
    os.makedirs(state_dir)
    port = free_port()
    log = Path(tmp) / "gunicorn.log"
    gunicorn = proc = None
    try:
        gunicorn = start_gunicorn(url, port, state_dir, log, workers, threads)
        ctx = Context(store, url, server, file_dir, port, state_dir, gunicorn)
        cfg = {
            "host": HOST,
            "port": port,
            "duration": duration,
            "clients": clients,
            "seed": seed,
            "think_ms": think_ms,
            "shared_groups": 2 if clients >= 25 else 1,
            "group_size": 5 if clients >= 25 else 3,
            "lock_clients": (3 if clients >= 20 else 2)
            if lock_clients is None
            else lock_clients,
            "http_timeout": 60,
        }
        cfg_path, out_path = Path(tmp) / "driver.json", Path(tmp) / "result.json"
        cfg_path.write_text(json.dumps(cfg))
        with open(Path(tmp) / "driver.log", "wb") as err:
            proc = subprocess.Popen(
                [sys.executable, str(HERE / "driver.py"), str(cfg_path), str(out_path)],
                stdout=subprocess.PIPE,
                stderr=err,
                cwd=ROOT,
                preexec_fn=_die_with_parent,
            )
        assert proc.stdout is not None
        with proc.stdout:
            line = proc.stdout.readline().decode()
        if not line.startswith("START"):
            proc.wait(10)
            raise RuntimeError(
                "driver failed: " + (Path(tmp) / "driver.log").read_text()[-3000:]
            )
        start = float(line.split()[1])
        for at, name, kwargs in (
            (plan if plan is not None else default_plan(store, duration))
            if faults
            else []
        ):
            delay = start + at - time.time()
            if delay > 0:
                time.sleep(delay)
            row = FAULTS[name](ctx, **kwargs)
            row["at"] = round(row["start"] - start, 1)
            ctx.faults.append(row)
        proc.wait(duration + 300)
        if proc.returncode != 0 or not out_path.exists():
            raise RuntimeError(
                "driver failed: " + (Path(tmp) / "driver.log").read_text()[-3000:]
            )
        result = json.loads(out_path.read_text())
        stop_gunicorn(gunicorn)
        server_log = log.read_text(errors="replace")
        return evaluate(store, faults, cfg, result, ctx.faults, server_log)
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(5)
        if gunicorn is not None:
            stop_gunicorn(gunicorn)
        if server is not None:
            server.close()
        if keep:
            print(f"(kept {tmp})")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def _window_of(failure: list[t.Any], faults: list[dict[str, t.Any]]):
    """The fault window a failed request overlaps (a worker kill first for
    connection errors, which only a worker kill explains)."""
    t0, t1 = failure[0], failure[1]
    hits = [r for r in faults if t0 <= r["end"] + r["grace"] and t1 >= r["start"]]
    if not failure[2]:
        hits.sort(key=lambda r: not r["name"].startswith("gunicorn"))
    return hits[0] if hits else None


def evaluate(
    store: str,
    faulted: bool,
    cfg: dict[str, t.Any],
    result: dict[str, t.Any],
    faults: list[dict[str, t.Any]],
    server_log: str,
) -> Report:
    """Turn the driver's raw result into figures and failed assertions."""
    failures: list[str] = []
    status = result["status"]
    requests = sum(status.values())
    latencies = result["latencies"]
    counts = result["counts"]
    ver = result["verification"]
    memcached_restart = [
        row["start"] for row in faults if row["name"].startswith("memcached SIGKILL")
    ]

    # answers inside and outside fault windows
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
    n500 = sum(v for k, v in status.items() if k.startswith("5") and k != "503")
    if n500:
        failures.append(f"{n500} answers 5xx other than 503")
    tracebacks = server_log.count("Traceback")
    if tracebacks:
        failures.append(f"{tracebacks} tracebacks in the gunicorn log")

    # the driver's own findings
    by_what: dict[str, int] = {}
    for v in result["violations"]:
        by_what[v["what"]] = by_what.get(v["what"], 0) + 1
    for what, n in sorted(by_what.items()):
        examples = [v for v in result["violations"] if v["what"] == what][:3]
        failures.append(f"{n} x {what}: e.g. {examples}")

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

    # the lock probe
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

    # requests that took over a second (in lock mode: waits for a lock)
    slow = result["slow"]
    slow_kinds: dict[str, int] = {}
    for req in slow:
        slow_kinds[req[3]] = slow_kinds.get(req[3], 0) + 1

    by_kind = result["by_kind"]
    figures = {
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
        "writes_confirmed": by_kind.get("set", {}).get("200", 0),
        "shared_writes": counts.get("shared-session writes", 0),
        "lost_updates": counts.get("lost updates", 0)
        + counts.get("final lost updates", 0),
        "late_writes": counts.get("late writes", 0)
        + counts.get("final late writes", 0),
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
        "lost_sessions": len(lost_sessions) + len(missing),
        "dropped_by_restart": dropped,
        "server_tracebacks": tracebacks,
        "violations": by_what,
    }
    return Report(store, faulted, figures, faults, failures)


# -- output ----------------------------------------------------------------------


def _fmt_answers(answers: dict[str, int]) -> str:
    return ", ".join(f"{k}: {v}" for k, v in sorted(answers.items())) or "-"


def print_report(report: Report) -> None:
    f = report.figures
    c = f["clients"]
    title = f"store={report.store}  faults={'on' if report.faults else 'off'}"
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
            "requests over 1 s",
            f"{f['slow']} (max {f['slow_max_s']} s) {f['slow_kinds']}",
        ),
        (
            "writes confirmed (shared)",
            f"{f['writes_confirmed']} ({f['shared_writes']})",
        ),
        ("lost updates", f["lost_updates"]),
        ("late writes", f["late_writes"]),
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
        print("PASS: every assertion holds")
    for failure in report.failures:
        print(f"FAIL: {failure[:600]}")


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", choices=[*STORES, "all"], default="redis")
    parser.add_argument("--duration", type=float, default=60)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--faults", action="store_true")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--think-ms", type=float, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", help="also write the reports to this file")
    parser.add_argument("--keep", action="store_true", help="keep the temp dirs")
    args = parser.parse_args(argv)
    stores = STORES if args.store == "all" else (args.store,)
    reports = []
    for store in stores:
        report = run_scenario(
            store,
            duration=args.duration,
            clients=args.clients,
            faults=args.faults,
            workers=args.workers,
            threads=args.threads,
            think_ms=args.think_ms,
            seed=args.seed,
            keep=args.keep,
        )
        print_report(report)
        reports.append(report)
    print_summary(reports)
    if args.json:
        with open(args.json, "w") as f:
            json.dump([r.__dict__ for r in reports], f, indent=1, default=str)
    return 0 if all(r.ok for r in reports) else 1


if __name__ == "__main__":
    sys.exit(main())
