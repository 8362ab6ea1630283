"""Real redis-server and memcached processes for the tests, on free loopback ports.

A :class:`ServerProcess` starts its binary, waits until it answers, and can
be stopped, restarted on the same port (outage tests) or frozen with SIGSTOP.
:func:`send` talks the servers' text protocols without any client library,
so test set-up never depends on the code under test.
"""

from __future__ import annotations

import contextlib
import ctypes
import glob
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import typing as t
from pathlib import Path

__all__ = [
    "DroppingProxy",
    "MariaDBServer",
    "MemcachedServer",
    "PostgresServer",
    "RedisClusterServer",
    "RedisServer",
    "ServerError",
    "ServerProcess",
    "free_port",
    "send",
]

HOST = "127.0.0.1"


class ServerError(RuntimeError):
    """The server binary is missing or did not come up."""


def _die_with_parent() -> None:
    """In the child (Linux): get SIGTERM when the test run dies, even if killed."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def free_port() -> int:
    """Return a TCP port on the loopback interface that is free right now."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def send(port: int, payload: bytes, until: bytes, timeout: float = 2.0) -> bytes:
    """Send ``payload`` to ``HOST:port`` and read until ``until`` is received."""
    with socket.create_connection((HOST, port), timeout=timeout) as sock:
        sock.sendall(payload)
        data = b""
        while until not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        return data


def _pg_startup_message(user: str, database: str) -> bytes:
    """PostgreSQL's StartupMessage (protocol 3.0) for ``user`` on ``database``."""
    body = struct.pack("!i", 196608)  # protocol version 3.0
    body += b"user\x00" + user.encode() + b"\x00database\x00" + database.encode()
    body += b"\x00\x00"
    return struct.pack("!i", 4 + len(body)) + body


class ServerProcess:
    """One server process on a fixed port: start, stop, pause, resume."""

    binary = ""
    scheme = ""
    #: Sent to check readiness, and the reply that proves it.
    probe = (b"", b"")
    #: The signal that stops the server.
    stop_signal = signal.SIGTERM

    def __init__(self) -> None:
        self.host = HOST
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix=f"wss-{self.binary}-"))
        self.process: subprocess.Popen[bytes] | None = None
        self.paused = False

    @property
    def url(self) -> str:
        """The store URL of this server, e.g. ``redis://127.0.0.1:6379/0``."""
        return f"{self.scheme}://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        """True while the process is alive (paused counts as running)."""
        return self.process is not None and self.process.poll() is None

    def argv(self) -> list[str]:
        """The command line starting the server."""
        raise NotImplementedError

    def popen_options(self) -> dict[str, t.Any]:
        """Extra keyword arguments of the server's ``subprocess.Popen``."""
        return {}

    def prepare(self) -> None:
        """Set up what the server needs before its first start (a data dir)."""

    def start(self, timeout: float = 10.0) -> None:
        """Start the server (again, on the same port) and wait until it answers."""
        if self.running:
            return
        if shutil.which(self.binary) is None:
            raise ServerError(f"{self.binary} is not installed")
        self.prepare()
        log = open(self.dir / "server.log", "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            self.argv(),
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.dir,
            preexec_fn=_die_with_parent,
            **self.popen_options(),
        )
        self._log = log
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                if self.probe[1] in send(self.port, *self.probe, timeout=0.5):
                    return
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        output = (self.dir / "server.log").read_text(errors="replace")[-2000:]
        raise ServerError(f"{self.binary} did not start on port {self.port}: {output}")

    def stop(self) -> None:
        """Stop the server (a paused one is resumed first so it can exit)."""
        process, self.process = self.process, None
        if process is None:
            return
        if self.paused:
            self.resume(process)
        process.send_signal(self.stop_signal)
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        self._log.close()

    def pause(self) -> None:
        """Freeze the server (SIGSTOP): connections hang instead of failing.

        Returns once the kernel reports the process stopped: the signal is
        delivered asynchronously, and a request sent in between would still
        be answered.
        """
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGSTOP)
        self.paused = True
        stat = Path(f"/proc/{self.process.pid}/stat")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                state = stat.read_text().rsplit(")", 1)[1].split()[0]
            except (OSError, IndexError):
                return  # no /proc: the best we can do is the signal
            if state in ("T", "t"):
                return
            time.sleep(0.005)

    def resume(self, process: subprocess.Popen[bytes] | None = None) -> None:
        """Unfreeze the server (SIGCONT)."""
        process = process or self.process
        if process is not None and self.paused:
            os.kill(process.pid, signal.SIGCONT)
        self.paused = False

    def ensure_up(self) -> None:
        """Resume or restart the server if a test left it paused or stopped."""
        if self.paused:
            self.resume()
        if not self.running:
            self.start()

    def close(self) -> None:
        """Stop the server and remove its directory."""
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class RedisServer(ServerProcess):
    """redis-server with persistence off, in its own directory."""

    binary = "redis-server"
    scheme = "redis"
    probe = (b"PING\r\n", b"+PONG")

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:PORT/0``."""
        return f"redis://{self.host}:{self.port}/0"

    def argv(self) -> list[str]:
        """redis-server on loopback, no RDB / AOF files."""
        return [
            self.binary,
            "--port",
            str(self.port),
            "--bind",
            self.host,
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.dir),
            "--loglevel",
            "warning",
        ]

    def flush(self) -> None:
        """Empty every database (the server is private to the test run)."""
        send(self.port, b"FLUSHALL\r\n", b"\r\n")


class MemcachedServer(ServerProcess):
    """memcached on loopback, TCP only, 64 MB."""

    binary = "memcached"
    scheme = "memcached"
    probe = (b"version\r\n", b"VERSION")

    def argv(self) -> list[str]:
        """memcached on loopback with UDP off (``-u root`` when run as root)."""
        argv = [self.binary, "-l", self.host, "-p", str(self.port), "-U", "0"]
        argv += ["-m", "64"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            argv += ["-u", "root"]
        return argv

    def flush(self) -> None:
        """Drop every item (the server is private to the test run)."""
        send(self.port, b"flush_all\r\n", b"\r\n")


class RedisClusterServer(RedisServer):
    """A one-node Redis Cluster owning all 16384 slots.

    With ``announce_port`` the node tells clients (CLUSTER SLOTS) to reach it
    on that port: where a :class:`DroppingProxy` listens.
    """

    def __init__(self, announce_port: int | None = None) -> None:
        super().__init__()
        # The cluster bus listens on port + 10000: the port must be <= 55535.
        while self.port > 55535:
            self.port = free_port()
        self.announce_port = announce_port

    def argv(self) -> list[str]:
        """redis-server in cluster mode with its own nodes.conf."""
        argv = [
            *super().argv(),
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            str(self.dir / "nodes.conf"),
        ]
        if self.announce_port is not None:
            argv += ["--cluster-announce-port", str(self.announce_port)]
            argv += ["--cluster-announce-bus-port", str(self.port + 10000)]
        return argv

    def start(self, timeout: float = 10.0) -> None:
        """Start the node, assign it every slot, wait for cluster_state:ok."""
        super().start(timeout)
        send(self.port, b"CLUSTER ADDSLOTSRANGE 0 16383\r\n", b"\r\n")
        deadline = time.monotonic() + timeout
        while b"cluster_state:ok" not in send(
            self.port, b"CLUSTER INFO\r\n", b"cluster_stats"
        ):
            if time.monotonic() > deadline:
                self.stop()
                raise ServerError("redis cluster did not reach cluster_state:ok")
            time.sleep(0.05)


class DroppingProxy:
    """A TCP proxy on loopback in front of a real server that can lose a reply.

    :meth:`drop_reply_to` arms it: the next request containing ``marker`` is
    forwarded (the server runs it), its reply is thrown away and the client's
    connection closed, as when a network fails after the server answered.
    """

    def __init__(self, upstream_port: int, port: int | None = None) -> None:
        self.upstream_port = upstream_port
        self.listener = socket.create_server((HOST, port or 0))
        self.port = int(self.listener.getsockname()[1])
        self.marker: bytes | None = None
        self.dropped = 0
        self.lock = threading.Lock()
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def drop_reply_to(self, marker: bytes) -> None:
        """Lose the reply to the next request that contains ``marker``."""
        with self.lock:
            self.marker = marker

    def _accept(self) -> None:
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection((HOST, self.upstream_port), 2)
            except OSError:
                client.close()
                continue
            state = {"drop": False}
            threading.Thread(
                target=self._requests, args=(client, server, state), daemon=True
            ).start()
            threading.Thread(
                target=self._replies, args=(server, client, state), daemon=True
            ).start()

    def _requests(
        self, client: socket.socket, server: socket.socket, state: dict[str, bool]
    ) -> None:
        try:
            while data := client.recv(65536):
                with self.lock:
                    if self.marker is not None and self.marker in data:
                        self.marker = None
                        state["drop"] = True
                server.sendall(data)
        except OSError:
            pass
        finally:
            _shut(server)

    def _replies(
        self, server: socket.socket, client: socket.socket, state: dict[str, bool]
    ) -> None:
        try:
            while data := server.recv(65536):
                if state["drop"]:
                    self.dropped += 1
                    break
                client.sendall(data)
        except OSError:
            pass
        finally:
            _shut(client)
            _shut(server)

    def close(self) -> None:
        """Stop accepting connections."""
        self.closed = True
        self.listener.close()


def _shut(sock: socket.socket) -> None:
    """Close ``sock`` now, waking a thread blocked reading it."""
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


def _as_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _run(argv: list[str], log: Path, **options: t.Any) -> None:
    with open(log, "ab") as out:
        done = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, **options)
    if done.returncode:
        raise ServerError(
            f"{argv[0]} failed: {log.read_text(errors='replace')[-2000:]}"
        )


class PostgresServer(ServerProcess):
    """A private PostgreSQL cluster (initdb + postgres), durability off.

    PostgreSQL refuses to run as root: as root, the cluster belongs to
    ``nobody`` and the server runs as that user.
    """

    binary = "initdb"
    scheme = "postgresql"
    # A login as postgres (a StartupMessage; trust authentication): ready
    # once it gets AuthenticationOk. While PostgreSQL is still starting up
    # (or recovering after a restart) it answers an error and hangs up: an
    # SSLRequest probe was answered then too, and connections still failed.
    probe = (
        _pg_startup_message("postgres", "postgres"),
        b"R\x00\x00\x00\x08\x00\x00\x00\x00",
    )
    stop_signal = signal.SIGINT  # "fast" shutdown: do not wait for clients

    def __init__(self) -> None:
        super().__init__()
        # Debian keeps initdb / postgres in /usr/lib/postgresql/N/bin.
        found = shutil.which("initdb") or next(
            iter(sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)),
            None,
        )
        if found:
            self.binary = found

    @property
    def url(self) -> str:
        """``postgresql://postgres@127.0.0.1:PORT/postgres``."""
        return f"postgresql://postgres@{self.host}:{self.port}/postgres"

    def _user(self) -> dict[str, t.Any]:
        return {"user": "nobody"} if _as_root() else {}

    def popen_options(self) -> dict[str, t.Any]:
        """Run as ``nobody`` when the tests run as root."""
        return self._user()

    def prepare(self) -> None:
        """initdb into the server's directory (once)."""
        data = self.dir / "data"
        if data.exists():
            return
        if _as_root():
            os.chown(self.dir, 65534, -1)
        argv = [self.binary, "-D", str(data), "-U", "postgres", "-A", "trust"]
        argv += ["--no-sync", "-E", "UTF8", "--locale=C"]
        _run(argv, self.dir / "initdb.log", cwd=self.dir, **self._user())

    def argv(self) -> list[str]:
        """postgres on loopback with its socket in the server's directory."""
        initdb = shutil.which(self.binary)
        assert initdb is not None
        postgres = Path(os.path.realpath(initdb)).parent / "postgres"
        return [
            str(postgres),
            "-D",
            str(self.dir / "data"),
            "-p",
            str(self.port),
            "-h",
            self.host,
            "-k",
            str(self.dir),
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off",
        ]


class MariaDBServer(ServerProcess):
    """A private MariaDB (mariadb-install-db + mariadbd), no grant checks."""

    binary = "mariadbd"
    scheme = "mysql"
    # The server greets first; its greeting names it.
    probe = (b"", b"MariaDB")

    @property
    def url(self) -> str:
        """``mysql://root@127.0.0.1:PORT/test``."""
        return f"mysql://root@{self.host}:{self.port}/test"

    def prepare(self) -> None:
        """mariadb-install-db into the server's directory (once)."""
        data = self.dir / "data"
        if data.exists():
            return
        argv = ["mariadb-install-db", "--no-defaults", f"--datadir={data}"]
        argv += ["--auth-root-authentication-method=normal", "--skip-name-resolve"]
        if _as_root():
            argv.append("--user=root")
        _run(argv, self.dir / "install.log", cwd=self.dir)
        (data / "test").mkdir(exist_ok=True)  # the test database

    def argv(self) -> list[str]:
        """mariadbd on loopback, durability off, 4 MiB packets at most."""
        binary = shutil.which(self.binary) or self.binary
        argv = [
            binary,
            "--no-defaults",
            f"--datadir={self.dir / 'data'}",
            f"--socket={self.dir / 'mysqld.sock'}",
            f"--pid-file={self.dir / 'mysqld.pid'}",
            f"--port={self.port}",
            f"--bind-address={self.host}",
            "--skip-grant-tables",
            "--skip-name-resolve",
            "--skip-log-bin",
            "--innodb-flush-log-at-trx-commit=0",
            "--innodb-buffer-pool-size=32M",
            "--max-allowed-packet=4M",
            "--max-connections=200",
        ]
        if _as_root():
            argv.append("--user=root")
        return argv
