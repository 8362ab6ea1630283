"""Load test with fault injection: real stores, gunicorn, 50 browsers, one command.

::

    python tests/load/run.py [--store redis|memcached|file|postgresql|sqlite|all]
                             [--duration 60] [--clients 50] [--faults]
                             [--peer beaker [--rounds 1]] [--json report.json]

For each store it starts the store (redis-server with ``--appendonly yes
--appendfsync always`` in a temporary directory, memcached, or a temporary
``file://`` directory, a private PostgreSQL cluster, a SQLite file), the
load-test app (``tests/load/app.py``) under
gunicorn (2 workers x 4 threads, ``gthread``) on a free loopback port, and
the clients (``tests/load/driver.py``) in a separate process. With
``--faults`` it injects the faults of ``tests/load/faults.py`` during the load
(store kills, pauses and restarts, gunicorn worker kills, one of them while
the worker holds a session lock).

It prints a table per store and exits non-zero if an assertion fails
(``tests/load/judge.py``): a 500, a traceback, a non-503 answer during an
outage, any error outside one, a lost update, an id re-issued to a client
whose session still exists, a session (other than memcached's after its
restart) not intact after recovery, a lock left without expiry or one the
next request could not take within the lock timeout.

``--peer beaker`` runs the same clients against the same app on the same
Redis and gunicorn twice, once under wsgi_session and once under Beaker's
``SessionMiddleware`` (``ext:redis``, ``data_serializer=json``), and prints
one table of both: requests served, p50 / p99 latency, confirmed writes and
lost ones. Beaker's lost writes are reported; ours serving fewer requests, or
losing any write, fails. See ``tests/load/README.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import typing as t
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
for _path in (str(ROOT), str(ROOT / "tests")):  # wsgi_session, tests/servers.py
    if _path not in sys.path:
        sys.path.insert(0, _path)

from servers import (  # noqa: E402
    MemcachedServer,
    PostgresServer,
    RedisServer,
    ServerProcess,
    _die_with_parent,
    free_port,
)

from tests.load.browser import Browser, Stats  # noqa: E402
from tests.load.faults import FAULTS, Context, default_plan, worker_pids  # noqa: E402
from tests.load.judge import Report, compare, evaluate  # noqa: E402
from tests.load.settings import (  # noqa: E402
    CONTENDERS,
    HOST,
    LOCK_TIMEOUT,
    PEER_STORES,
    STORE_TIMEOUT,
    STORES,
    Plan,
)
from tests.load.tables import (  # noqa: E402
    print_comparison,
    print_report,
    print_summary,
)


class DurableRedisServer(RedisServer):
    """redis-server that survives SIGKILL: AOF on, fsync before every reply.

    (``appendfsync everysec``, Redis' default, may drop the last second of
    acknowledged writes on a crash; that would be Redis' loss, not ours.)
    """

    def argv(self) -> list[str]:
        argv = super().argv()
        argv[argv.index("--appendonly") + 1] = "yes"
        return [*argv, "--appendfsync", "always"]


@dataclass
class RunningStore:
    """A started store: its server (None for file and sqlite), URL and file dir."""

    name: str
    server: ServerProcess | None
    url: str
    file_dir: str | None

    def close(self) -> None:
        if self.server is not None:
            self.server.close()


def start_store(store: str, tmp: str) -> RunningStore:
    """Start the store; its files (if any) go under ``tmp``."""
    if store == "redis":
        server: ServerProcess = DurableRedisServer()
        server.start()
        url = (
            f"{server.url}?socket_timeout={STORE_TIMEOUT}"
            f"&socket_connect_timeout={STORE_TIMEOUT}"
        )
        return RunningStore(store, server, url, None)
    if store == "memcached":
        server = MemcachedServer()
        server.start()
        return RunningStore(
            store, server, f"{server.url}?socket_timeout={STORE_TIMEOUT}", None
        )
    if store == "file":
        directory = os.path.join(tmp, "sessions")
        os.makedirs(directory)
        return RunningStore(store, None, f"file://{directory}", directory)
    if store == "postgresql":
        server = PostgresServer()
        server.start(60)
        url = f"{server.url}?connect_timeout={STORE_TIMEOUT}"
        return RunningStore(store, server, url, None)
    if store == "sqlite":
        url = "sqlite:///" + os.path.join(tmp, "sessions.db")
        return RunningStore(store, None, url, None)
    raise ValueError(f"unknown store {store!r}")


def empty_redis(server: ServerProcess) -> None:
    """FLUSHALL, then rewrite the append-only file, so the next run starts alike."""
    import redis

    client = redis.Redis(host=server.host, port=server.port)
    try:
        client.flushall()
        client.bgrewriteaof()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            info = client.info("persistence")
            if (
                not info["aof_rewrite_in_progress"]
                and not info["aof_rewrite_scheduled"]
            ):
                return
            time.sleep(0.05)
    finally:
        client.close()


def start_gunicorn(
    url: str,
    port: int,
    state_dir: str,
    log: Path,
    workers: int,
    threads: int,
    contender: str = CONTENDERS[0],
) -> subprocess.Popen[bytes]:
    """gunicorn with the load-test app under ``contender``; wait for every worker."""
    env = dict(os.environ)
    env.update(
        LOAD_CONTENDER=contender,
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
    probe = Browser(HOST, port, 2, Stats())
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


# -- one scenario ------------------------------------------------------------------


def driver_config(
    port: int,
    *,
    duration: float,
    clients: int,
    seed: int,
    think_ms: float,
    lock_clients: int | None,
) -> dict[str, t.Any]:
    """What ``driver.py`` reads: where, how long, and how many of which client."""
    return {
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


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rpartition(")")[2].split()  # from field 3, state
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_now(ctx: Context) -> dict[str, float]:
    """CPU seconds used so far by the gunicorn workers and by the store server."""
    store = ctx.server.process if ctx.server is not None else None
    return {
        "app": sum(cpu_seconds(pid) for pid in worker_pids(ctx.gunicorn.pid)),
        "store": cpu_seconds(store.pid) if store is not None else 0.0,
    }


def drive(ctx: Context, cfg: dict[str, t.Any], plan: Plan, tmp: Path) -> dict:
    """Run the driver, inject the faults of ``plan``; return its raw result.

    Without faults the result also has ``cpu``: the CPU seconds the workers
    and the store used during the load (not the verification after it).
    """
    cfg_path, out_path = tmp / "driver.json", tmp / "result.json"
    cfg_path.write_text(json.dumps(cfg))
    with open(tmp / "driver.log", "wb") as err:
        proc = subprocess.Popen(
            [sys.executable, str(HERE / "driver.py"), str(cfg_path), str(out_path)],
            stdout=subprocess.PIPE,
            stderr=err,
            cwd=ROOT,
            preexec_fn=_die_with_parent,
        )
    try:
        assert proc.stdout is not None
        with proc.stdout:
            line = proc.stdout.readline().decode()
            cpu_start = cpu_now(ctx)
            if not line.startswith("START"):
                proc.wait(10)
                raise RuntimeError(
                    "driver failed: " + (tmp / "driver.log").read_text()[-3000:]
                )
            start = float(line.split()[1])
            for at, name, kwargs in plan:
                delay = start + at - time.time()
                if delay > 0:
                    time.sleep(delay)
                row = FAULTS[name](ctx, **kwargs)
                row["at"] = round(row["start"] - start, 1)
                ctx.faults.append(row)
            loaded = proc.stdout.readline().decode().startswith("LOADED")
            cpu_end = cpu_now(ctx)
        proc.wait(cfg["duration"] + 300)
        if proc.returncode != 0 or not out_path.exists():
            raise RuntimeError(
                "driver failed: " + (tmp / "driver.log").read_text()[-3000:]
            )
        result = t.cast(dict, json.loads(out_path.read_text()))
        if loaded and not plan:
            result["cpu"] = {k: cpu_end[k] - cpu_start[k] for k in cpu_start}
        return result
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


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
    contender: str = CONTENDERS[0],
    running: RunningStore | None = None,
) -> Report:
    """Run the load against one store (with its fault plan); return the report.

    The store is started and stopped here unless ``running`` is given.
    """
    tmp = tempfile.mkdtemp(prefix=f"wss-load-{store}-{contender}-")
    backing = running or start_store(store, tmp)
    state_dir = os.path.join(tmp, "state")
    os.makedirs(state_dir)
    port = free_port()
    log = Path(tmp) / "gunicorn.log"
    gunicorn = None
    try:
        gunicorn = start_gunicorn(
            backing.url, port, state_dir, log, workers, threads, contender
        )
        ctx = Context(
            store,
            backing.url,
            backing.server,
            backing.file_dir,
            port,
            state_dir,
            gunicorn,
        )
        cfg = driver_config(
            port,
            duration=duration,
            clients=clients,
            seed=seed,
            think_ms=think_ms,
            lock_clients=lock_clients,
        )
        if not faults:
            plan = []
        elif plan is None:
            plan = default_plan(store, duration)
        result = drive(ctx, cfg, plan, Path(tmp))
        stop_gunicorn(gunicorn)
        server_log = log.read_text(errors="replace")
        return evaluate(store, faults, result, ctx.faults, server_log, contender)
    finally:
        if gunicorn is not None:
            stop_gunicorn(gunicorn)
        if running is None:
            backing.close()
        if keep:
            print(f"(kept {tmp})")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def run_peer(
    store: str, peer: str, rounds: int, **options: t.Any
) -> tuple[list[list[Report]], list[str]]:
    """Ours and ``peer`` on one store, ``rounds`` times (the order alternates).

    Both contenders run against the same store server, emptied before each
    run. Returns the reports per round (ours first) and what :func:`compare`
    found.
    """
    tmp = tempfile.mkdtemp(prefix=f"wss-load-{store}-peer-")
    backing = start_store(store, tmp)
    per_round: list[list[Report]] = []
    try:
        for number in range(rounds):
            order = [CONTENDERS[0], peer]
            if number % 2:
                order.reverse()
            reports = {}
            for contender in order:
                if backing.server is not None and store == "redis":
                    empty_redis(backing.server)
                reports[contender] = run_scenario(
                    store, contender=contender, running=backing, **options
                )
            per_round.append([reports[CONTENDERS[0]], reports[peer]])
    finally:
        backing.close()
        shutil.rmtree(tmp, ignore_errors=True)
    ours = [pair[0] for pair in per_round]
    theirs = [pair[1] for pair in per_round]
    return per_round, compare(ours, theirs)


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
    parser.add_argument(
        "--peer", choices=CONTENDERS[1:], help="also run the app under this middleware"
    )
    parser.add_argument(
        "--rounds", type=int, default=1, help="with --peer: runs of each contender"
    )
    parser.add_argument("--json", help="also write the reports to this file")
    parser.add_argument("--keep", action="store_true", help="keep the temp dirs")
    args = parser.parse_args(argv)
    options = dict(
        duration=args.duration,
        clients=args.clients,
        workers=args.workers,
        threads=args.threads,
        think_ms=args.think_ms,
        seed=args.seed,
        keep=args.keep,
    )
    if args.peer:
        if args.faults:
            parser.error(
                "--faults applies to wsgi_session only (tests/load/README.md): "
                "run it without --peer"
            )
        if args.store not in PEER_STORES[args.peer]:
            parser.error(
                f"--peer {args.peer} needs --store {PEER_STORES[args.peer][0]}"
            )
        return peer_main(args.store, args.peer, args.rounds, args.json, options)
    stores = STORES if args.store == "all" else (args.store,)
    reports = []
    for store in stores:
        report = run_scenario(store, faults=args.faults, **options)
        print_report(report)
        reports.append(report)
    print_summary(reports)
    if args.json:
        with open(args.json, "w") as f:
            json.dump([r.__dict__ for r in reports], f, indent=1, default=str)
    return 0 if all(r.ok for r in reports) else 1


def peer_main(
    store: str, peer: str, rounds: int, json_path: str | None, options: dict
) -> int:
    """``--peer``: run both contenders, print every report, then one table."""
    per_round, failures = run_peer(store, peer, rounds, **options)
    reports = [r for pair in per_round for r in pair]
    for report in reports:
        print_report(report)
    print_comparison(per_round, failures)
    if json_path:
        with open(json_path, "w") as f:
            json.dump([r.__dict__ for r in reports], f, indent=1, default=str)
    return 0 if not failures and all(r.ok for r in reports) else 1


if __name__ == "__main__":
    sys.exit(main())
