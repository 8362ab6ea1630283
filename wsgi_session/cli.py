"""The ``wsgi-session`` command line: serve the demo, check a configuration.

``wsgi-session demo`` serves :mod:`wsgi_session.demo` with the standard
library's WSGI server (one thread per request); ``wsgi-session check app.ini``
loads a config file the way :meth:`SessionMiddleware.from_ini
<wsgi_session.SessionMiddleware.from_ini>` does, then writes, reads back and
deletes a probe entry in its store. Exit status: 0 when all is well, 1 when the
store fails, 2 for a bad command line or configuration.

>>> main(["check", "/no/such/app.ini"])  # the reason is printed to stderr
2
"""

from __future__ import annotations

import argparse
import datetime as dt
import secrets
import socket
import socketserver
import sys
import time
import typing as t
from urllib.parse import urlsplit, urlunsplit
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from . import __version__
from .errors import ConfigError, StoreUnavailable
from .inifile import load_config
from .session import SessionMeta
from .stores import (
    MissingClient,
    backend_for,
    close_store,
    is_in_memory,
    open_store,
)
from .users import UserIndex

__all__ = ["ThreadingWSGIServer", "main", "make_threaded_server", "redact_url"]

PROG = "wsgi-session"

#: Exit statuses of :func:`main` (130 is the shells' status for Ctrl-C).
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

#: TTL of the probe entry ``check`` writes, in seconds (it is deleted at once).
PROBE_TTL = 60


class ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    """wsgiref's server with one thread per request (threads do not block exit)."""

    daemon_threads = True


class _ThreadingWSGIServer6(ThreadingWSGIServer):
    address_family = socket.AF_INET6


def make_threaded_server(
    host: str,
    port: int,
    app: t.Any,
    handler_class: type[WSGIRequestHandler] = WSGIRequestHandler,
) -> ThreadingWSGIServer:
    """A threaded wsgiref server bound to ``host:port`` (port 0: any free port).

    >>> server = make_threaded_server("127.0.0.1", 0, lambda e, s: [])
    >>> server.server_port > 0
    True
    >>> server.server_close()
    """
    server_class = _ThreadingWSGIServer6 if ":" in host else ThreadingWSGIServer
    return make_server(
        host, port, app, server_class=server_class, handler_class=handler_class
    )


def redact_url(url: str) -> str:
    """``url`` with its password (if any) replaced by ``***``, for printing.

    >>> redact_url("redis://:s3cret@cache:6379/0")
    'redis://:***@cache:6379/0'
    >>> redact_url("memory://")
    'memory://'
    """
    parts = urlsplit(url)
    if parts.password is None:
        return url
    userinfo, _, hostinfo = parts.netloc.rpartition("@")
    user = userinfo.partition(":")[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{hostinfo}"))


def _fail(command: str, message: str, status: int) -> int:
    print(f"{PROG} {command}: {message}", file=sys.stderr)
    return status


# -- demo -----------------------------------------------------------------------------


def _demo(args: argparse.Namespace) -> int:
    from .demo import DemoRequestHandler, make_demo_app

    try:
        app = make_demo_app(store=args.store)
    except ConfigError as exc:
        return _fail("demo", str(exc), EXIT_USAGE)
    try:
        server = make_threaded_server(
            args.host, args.port, app, handler_class=DemoRequestHandler
        )
    except OSError as exc:
        return _fail("demo", f"cannot listen on {args.host}:{args.port}: {exc}", 1)
    with server:
        host = f"[{args.host}]" if ":" in args.host else args.host
        url = f"http://{host}:{server.server_port}/"
        print(f"Serving the wsgi_session demo on {url} (Ctrl-C to stop)", flush=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            print("Stopped.", flush=True)
    return EXIT_OK


# -- check ----------------------------------------------------------------------------


def _probe(store: t.Any) -> float:
    """Create, read back and delete a probe entry; return the seconds it took."""
    backend = backend_for(store)
    key = "wss:{" + secrets.token_hex(16) + "}"  # the shape of a session key
    now = time.time()
    meta = SessionMeta(now, now, PROBE_TTL, None).encode()
    fields = {"dprobe": b'"wsgi-session check"'}
    started = time.perf_counter()
    if not backend.create(key, meta, fields, ttl=PROBE_TTL):
        raise RuntimeError("the store refused to create the probe entry")
    try:
        record = backend.load(key)
        if record is None:
            raise RuntimeError("the probe entry was written but cannot be read back")
        if record.meta != meta or record.fields != fields:
            raise RuntimeError(
                "the probe entry read back differs from what was written"
            )
    finally:
        backend.delete(key)
    if backend.load(key) is not None:
        raise RuntimeError("the probe entry is still there after being deleted")
    return time.perf_counter() - started


def _check(args: argparse.Namespace) -> int:
    try:
        options = load_config(args.config, args.section)
    except ConfigError as exc:
        return _fail("check", str(exc), EXIT_USAGE)
    count = f"{len(options)} setting{'' if len(options) == 1 else 's'}"
    print(f"config:  {args.config} [{args.section}] is valid ({count})")
    url = options.get("store") or "memory://"
    try:
        store = open_store(url)
    except MissingClient as exc:  # the store's client is not installed
        return _fail("check", str(exc), EXIT_FAILED)
    except ConfigError as exc:
        return _fail("check", str(exc), EXIT_USAGE)
    except Exception as exc:  # mongodb:// and dynamodb:// connect at once
        return _fail("check", f"cannot reach the store: {exc}", EXIT_FAILED)
    try:
        try:
            kind = type(backend_for(store)).__name__.replace("Backend", "").lower()
            print(f"store:   {redact_url(url)} (type: {kind})")
            elapsed = _probe(store)
        except ConfigError as exc:
            return _fail("check", str(exc), EXIT_USAGE)
        except StoreUnavailable as exc:
            return _fail("check", f"cannot reach the store: {exc}", EXIT_FAILED)
        except Exception as exc:
            detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            return _fail("check", f"the store does not work: {detail}", EXIT_FAILED)
    finally:
        close_store(store)
    print(
        "probe:   wrote, read back and deleted a test entry: "
        f"{elapsed * 1000:.1f} ms for the round trip"
    )
    ddl = getattr(store, "ddl", None)
    if callable(ddl):  # SQL stores: the schema they created (if missing)
        print("schema:  (created when missing)")
        for statement in ddl():
            print(statement + ";")
    if is_in_memory(store):
        print(
            "note:    memory:// keeps sessions inside one process: they are not "
            "shared between workers and end when the process stops"
        )
    print("OK")
    return EXIT_OK


# -- sweep ----------------------------------------------------------------------------


class _Configured(t.NamedTuple):
    """A command's settings, its store URL and the store opened from it."""

    options: dict[str, t.Any]
    url: str
    store: t.Any


def _open_configured(command: str, args: argparse.Namespace) -> _Configured | int:
    """Load ``CONFIG.ini [--section S]`` and open its store; or the exit status
    (2 for a configuration mistake, 1 for an unreachable store), reported."""
    try:
        options = load_config(args.config, args.section)
        url = options.get("store") or "memory://"
        return _Configured(options, url, open_store(url))
    except ConfigError as exc:
        return _fail(command, str(exc), EXIT_USAGE)
    except Exception as exc:  # mongodb:// and dynamodb:// connect at once
        return _fail(command, f"cannot reach the store: {exc}", EXIT_FAILED)


def _sweep(args: argparse.Namespace) -> int:
    configured = _open_configured("sweep", args)
    if isinstance(configured, int):
        return configured
    url, store = configured.url, configured.store
    try:
        sweep = getattr(backend_for(store), "sweep", None)
        if sweep is None:
            print(f"nothing to sweep: {redact_url(url)} expires sessions itself (TTLs)")
            return EXIT_OK
        try:
            count = sweep()
        except StoreUnavailable as exc:
            return _fail("sweep", f"cannot reach the store: {exc}", EXIT_FAILED)
    finally:
        close_store(store)
    print(f"deleted {count} expired session{'' if count == 1 else 's'}")
    return EXIT_OK


# -- sessions ---------------------------------------------------------------------


def _sessions(args: argparse.Namespace) -> int:
    configured = _open_configured("sessions", args)
    if isinstance(configured, int):
        return configured
    store = configured.store
    users = UserIndex(backend_for(store), configured.options.get("absolute_timeout"))
    try:
        if args.end:
            count = users.end_all(args.user)
            print(f"ended {count} session{'' if count == 1 else 's'} of {args.user!r}")
            return EXIT_OK
        listed = users.sessions(args.user)
    except StoreUnavailable as exc:
        return _fail("sessions", f"cannot reach the store: {exc}", EXIT_FAILED)
    finally:
        close_store(store)
    if not listed:
        print(f"no live sessions of {args.user!r}")
    for info in listed:
        expires = "never" if info.expires is None else _when(info.expires)
        print(
            f"{info.handle}  created {_when(info.created)}  last used "
            f"{_when(info.last_accessed)}  expires {expires}  {info.tracking}  "
            f"{info.user_agent or '-'}"
        )
    return EXIT_OK


def _when(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


# -- the parser -----------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Server-side sessions for legacy WSGI apps: tools.",
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {__version__}"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = commands.add_parser(
        "demo",
        help="serve a small demo app (works with cookies on and off)",
        description="Serve the wsgi_session demo app with a threaded wsgiref "
        "server. Its secret key is random per run: sessions end when it stops.",
    )
    demo.add_argument("--host", default="127.0.0.1", help="default: %(default)s")
    demo.add_argument(
        "--port", type=int, default=8000, help="0 picks a free port (default: 8000)"
    )
    demo.add_argument(
        "--store",
        default="memory://",
        metavar="URL",
        help="session store URL, e.g. redis://127.0.0.1:6379/0 (default: memory://)",
    )
    demo.set_defaults(run=_demo)
    check = commands.add_parser(
        "check",
        help="validate a config file and test its store",
        description="Load the session settings from an ini file, then write, read "
        "back and delete a probe entry in the configured store.",
    )
    _config_arguments(check)
    check.set_defaults(run=_check)
    sweep = commands.add_parser(
        "sweep",
        help="delete expired sessions from a store without TTLs (SQL)",
        description="Delete the expired sessions of the configured store and print "
        "how many; stores with TTLs expire sessions themselves (a no-op).",
    )
    _config_arguments(sweep)
    sweep.set_defaults(run=_sweep)
    sessions = commands.add_parser(
        "sessions",
        help="list a user's live sessions, or end them (--end)",
        description="List the live sessions of a user (handle, times, tracking, "
        "User-Agent) from the configured store, or end them all with --end.",
    )
    _config_arguments(sessions)
    sessions.add_argument("--user", required=True, metavar="ID", help="the user id")
    sessions.add_argument(
        "--end", action="store_true", help="end every session of the user"
    )
    sessions.set_defaults(run=_sessions)
    return parser


def _config_arguments(command: argparse.ArgumentParser) -> None:
    """The ``CONFIG.ini [--section S]`` arguments of the commands that read one."""
    command.add_argument("config", metavar="CONFIG.ini", help="the ini file")
    command.add_argument(
        "--section",
        default="wsgi_session",
        metavar="S",
        help="the ini section holding the settings (default: %(default)s)",
    )


def main(argv: t.Sequence[str] | None = None) -> int:
    """Run the ``wsgi-session`` command line; return the exit status.

    >>> main([])  # doctest: +ELLIPSIS
    usage: wsgi-session [-h] [--version] COMMAND ...
    ...
    2
    """
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error already printed
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    if args.command is None:
        parser.print_help(sys.stdout)
        return EXIT_USAGE
    run: t.Callable[[argparse.Namespace], int] = args.run
    try:
        return run(args)
    except KeyboardInterrupt:  # Ctrl-C while checking a slow store, say
        print(f"{PROG} {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
