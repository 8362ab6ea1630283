"""The contenders of the key-count sweep (keys.py): one app per session layer.

Paths: ``/setup/<K>`` fills a fresh session with K keys (``counter`` and
K - 1 short strings), ``/read`` answers the counter, ``/write`` adds one
to it and answers the new value.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import typing as t
from dataclasses import dataclass, field
from pathlib import Path

from contenders import SECRET

__all__ = ["CONTENDERS", "START", "KeysEnv", "build", "filled"]

#: Contender keys and labels, in table order.
CONTENDERS = {
    "ws": "wsgi_session",
    "beaker": "Beaker",
    "flask_ws": "Flask+wsgi_session",
    "flask_session": "Flask-Session",
}

#: The counter every filled session starts at.
START = 7


def filled(count: int) -> dict[str, t.Any]:
    """A session of ``count`` small keys."""
    data: dict[str, t.Any] = {"counter": START}
    for i in range(1, count):
        data[f"k{i:04d}"] = f"value {i}"
    return data


@dataclass
class KeysEnv:
    """One store: its server (if any) and a temporary directory."""

    store: str
    server: t.Any = None
    tmp: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="wsk-")))
    closers: list[t.Callable[[], None]] = field(default_factory=list)

    @property
    def address(self) -> str:
        return f"{self.server.host}:{self.server.port}"

    def close(self) -> None:
        for closer in reversed(self.closers):
            with contextlib.suppress(Exception):
                closer()
        shutil.rmtree(self.tmp, ignore_errors=True)


def _respond(start_response: t.Callable[..., t.Any], body: bytes) -> list[bytes]:
    headers = [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))]
    start_response("200 OK", headers)
    return [body]


def plain_app(
    session_of: t.Callable[[t.Any], t.Any], commit: t.Callable[[t.Any], t.Any] | None
) -> t.Any:
    def app(environ: dict[str, t.Any], start_response: t.Callable[..., t.Any]):
        path = environ["PATH_INFO"]
        s = session_of(environ)
        if path == "/read":
            body = b"%d" % s["counter"]
        elif path == "/write":
            s["counter"] += 1
            body = b"%d" % s["counter"]
        else:  # /setup/<K>
            s.update(filled(int(path.rsplit("/", 1)[1])))
            body = b"%d" % START
        if commit is not None and path != "/read":
            commit(s)
        return _respond(start_response, body)

    return app


def flask_app(name: str) -> t.Any:
    import flask

    app = flask.Flask(f"keys_{name}")
    app.config["SECRET_KEY"] = SECRET
    session = flask.session

    @app.route("/read")
    def read() -> str:
        return str(session["counter"])

    @app.route("/write")
    def write() -> str:
        session["counter"] += 1
        return str(session["counter"])

    @app.route("/setup/<int:count>")
    def setup(count: int) -> str:
        session.update(filled(count))
        return str(START)

    return app


def _ws_url(env: KeysEnv, prefix: str) -> str:
    if env.store == "memory":
        return "memory://"
    if env.store == "file":
        return "file://" + str(env.tmp / prefix)
    return f"{env.server.url}?key_prefix={prefix}:"


def _ws(env: KeysEnv) -> tuple[t.Any, str]:
    from wsgi_session import SessionMiddleware

    app = plain_app(lambda environ: environ["wsgi_session"], None)
    middleware = SessionMiddleware(app, secret_key=SECRET, store=_ws_url(env, "ws"))
    return middleware, "defaults (concurrency=merge, JSON)"


def _beaker(env: KeysEnv) -> tuple[t.Any, str]:
    from beaker.middleware import SessionMiddleware

    options = {
        "session.key": "beaker.session.id",
        "session.secret": SECRET,
        "session.data_serializer": "json",
    }
    kind = {"memory": "memory", "file": "file"}.get(env.store, f"ext:{env.store}")
    options["session.type"] = kind
    if env.store == "file":
        options["session.data_dir"] = str(env.tmp / "beaker" / "data")
        options["session.lock_dir"] = str(env.tmp / "beaker" / "lock")
    elif env.store == "redis":
        options["session.url"] = env.server.url
    elif env.store == "memcached":
        options["session.url"] = env.address
        options["session.lock_dir"] = str(env.tmp / "beaker" / "lock")
    app = plain_app(lambda environ: environ["beaker.session"], lambda s: s.save())
    return SessionMiddleware(app, options), f"type={kind}, data_serializer=json"


def _flask_ws(env: KeysEnv) -> tuple[t.Any, str]:
    from wsgi_session.flask import WSGISession

    app = flask_app("ws")
    WSGISession(app, replace_flask_session=True, store=_ws_url(env, "fws"))
    return app, "WSGISession(app, replace_flask_session=True)"


def _flask_session(env: KeysEnv) -> tuple[t.Any, str]:
    from flask_session import Session

    app = flask_app("flask_session")
    if env.store == "redis":
        import redis

        client = redis.Redis(host=env.server.host, port=env.server.port)
        env.closers.append(client.close)
        app.config.update(SESSION_TYPE="redis", SESSION_REDIS=client)
        note = "SESSION_TYPE=redis"
    elif env.store == "memcached":
        import memcache

        mc = memcache.Client([env.address])
        env.closers.append(mc.disconnect_all)
        app.config.update(SESSION_TYPE="memcached", SESSION_MEMCACHED=mc)
        note = "SESSION_TYPE=memcached (python-memcached)"
    else:
        from cachelib import FileSystemCache, SimpleCache

        if env.store == "memory":
            cache: t.Any = SimpleCache(threshold=100_000)
        else:
            cache = FileSystemCache(str(env.tmp / "flask_session"), threshold=100_000)
        app.config.update(SESSION_TYPE="cachelib", SESSION_CACHELIB=cache)
        note = f"SESSION_TYPE=cachelib ({type(cache).__name__})"
    Session(app)
    return app, note + " (msgpack)"


_BUILDERS = {
    "ws": _ws,
    "beaker": _beaker,
    "flask_ws": _flask_ws,
    "flask_session": _flask_session,
}


def build(env: KeysEnv) -> tuple[dict[str, t.Any], dict[str, str], dict[str, str]]:
    """``(apps, notes, missing)`` by contender key; a contender that cannot be
    built is reported in ``missing``."""
    apps: dict[str, t.Any] = {}
    notes: dict[str, str] = {}
    missing: dict[str, str] = {}
    for name, builder in _BUILDERS.items():
        try:
            apps[name], notes[name] = builder(env)
        except Exception as exc:  # reported, not fatal
            missing[name] = f"{type(exc).__name__}: {exc}"
    return apps, notes, missing
