"""The contenders of the benchmark: one small app, wrapped by each session layer.

Every plain-WSGI contender runs the same app (:func:`plain_app`) and every
Flask contender the same Flask routes (:func:`flask_app`); they differ only
in where the session comes from. The paths:

``/untouched``  never touches the session (the request still brings its cookie)
``/read``       reads ``user`` and ``counter``; the body is the counter
``/write``      increments ``counter`` (one key changes); the body is the new value
``/big``        the same on a session of 50 keys / ~20 KB
``/new``        a first visit: stores ``user`` and ``counter = 1``
``/setup``, ``/setup-big``  fill a fresh session (untimed)

The body always tells the harness what the app read or wrote, so a session
layer that silently failed to persist is caught by the next request.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import shutil
import tempfile
import typing as t
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "BIG_SESSION",
    "SECRET",
    "SMALL_SESSION",
    "START",
    "Contender",
    "StoreEnv",
    "build_contenders",
]

SECRET = "benchmark-secret-key-0123456789abcdef"
#: The counter starts at a value no fresh or broken session would show.
START = 41
SMALL_SESSION: dict[str, t.Any] = {"user": "ann", "counter": START}


def _big_session() -> dict[str, t.Any]:
    """50 keys, about 20 KB of JSON: strings, and small dicts with lists."""
    data: dict[str, t.Any] = {"user": "ann", "counter": START}
    for i in range(48):
        if i % 2:
            data[f"pref_{i:02d}"] = f"value {i} " + "x" * 390
        else:
            data[f"item_{i:02d}"] = {
                "id": i,
                "title": f"Item number {i} " + "y" * 300,
                "tags": ["red", "green", "blue", str(i)],
                "price": 12.5 + i,
                "qty": i % 7,
            }
    return data


BIG_SESSION = _big_session()
assert len(BIG_SESSION) == 50
BIG_SESSION_BYTES = len(json.dumps(BIG_SESSION, separators=(",", ":")))

Environ = t.Dict[str, t.Any]
WSGIApp = t.Callable[..., t.Iterable[bytes]]


def _respond(start_response: t.Callable[..., t.Any], body: bytes, extra=()):
    headers = [
        ("Content-Type", "text/plain; charset=utf-8"),
        ("Content-Length", str(len(body))),
        *extra,
    ]
    start_response("200 OK", headers)
    return [body]


def plain_app(
    session_of: t.Callable[[Environ], t.Any] | None,
    commit: t.Callable[[t.Any], None] | None = None,
) -> WSGIApp:
    """The plain WSGI app; ``session_of=None`` gives the bare app (no session)."""

    def app(environ: Environ, start_response: t.Callable[..., t.Any]):
        path = environ["PATH_INFO"]
        if path == "/untouched":
            return _respond(start_response, b"untouched")
        if session_of is None:  # the bare app: same responses, no session
            return _respond(start_response, b"%d" % START)
        s = session_of(environ)
        if path == "/read":
            s.get("user")
            body = b"%d" % s["counter"]
        elif path in ("/write", "/big"):
            n = s["counter"] + 1
            s["counter"] = n
            body = b"%d" % n
        elif path == "/new":
            s["user"] = "ann"
            s["counter"] = 1
            body = b"1"
        elif path == "/setup":
            s.update(SMALL_SESSION)
            body = b"%d" % START
        elif path == "/setup-big":
            s.update(BIG_SESSION)
            body = b"%d" % START
        else:
            raise LookupError(path)
        if commit is not None and path != "/read":
            commit(s)
        return _respond(start_response, body)

    return app


def floor_app(
    get: t.Callable[[str], bytes | None], put: t.Callable[[str, bytes], t.Any]
) -> WSGIApp:
    """The store floor: the app keeps a JSON blob in the store itself.

    A read is one ``get``, a write ``get`` + ``put``, a new session one
    ``put``; the key travels in an unsigned ``floor=<key>`` cookie. No
    signing, no expiry bookkeeping, no protection against lost updates.
    """

    def app(environ: Environ, start_response: t.Callable[..., t.Any]):
        path = environ["PATH_INFO"]
        if path == "/untouched":
            return _respond(start_response, b"untouched")
        if path in ("/new", "/setup", "/setup-big"):
            key = secrets.token_urlsafe(32)
            if path == "/new":
                data: dict[str, t.Any] = {"user": "ann", "counter": 1}
            else:
                data = dict(SMALL_SESSION if path == "/setup" else BIG_SESSION)
            put(key, json.dumps(data).encode())
            cookie = ("Set-Cookie", f"floor={key}; Path=/; HttpOnly")
            return _respond(start_response, b"%d" % data["counter"], [cookie])
        key = environ["HTTP_COOKIE"][6:]  # the harness sends exactly "floor=<key>"
        raw = get(key)
        if raw is None:
            raise LookupError("floor: session lost")
        data = json.loads(raw)
        if path == "/read":
            data.get("user")
            return _respond(start_response, b"%d" % data["counter"])
        data["counter"] += 1
        put(key, json.dumps(data).encode())
        return _respond(start_response, b"%d" % data["counter"])

    return app


def flask_app(name: str, uses_session: bool = True) -> t.Any:
    """The same five routes in Flask, on ``flask.session``."""
    import flask

    app = flask.Flask(f"bench_{name}")

    def untouched():
        return "untouched"

    if not uses_session:
        app.add_url_rule("/untouched", view_func=untouched)
        for path in ("/read", "/write", "/big", "/new", "/setup", "/setup-big"):
            app.add_url_rule(path, path, lambda: str(START))
        return app

    session = flask.session

    def read():
        session.get("user")
        return str(session["counter"])

    def write():
        n = session["counter"] + 1
        session["counter"] = n
        return str(n)

    def new():
        session["user"] = "ann"
        session["counter"] = 1
        return "1"

    def setup():
        session.update(SMALL_SESSION)
        return str(START)

    def setup_big():
        session.update(BIG_SESSION)
        return str(START)

    app.add_url_rule("/untouched", view_func=untouched)
    app.add_url_rule("/read", view_func=read)
    app.add_url_rule("/write", view_func=write)
    app.add_url_rule("/big", "big", write)
    app.add_url_rule("/new", view_func=new)
    app.add_url_rule("/setup", view_func=setup)
    app.add_url_rule("/setup-big", view_func=setup_big)
    return app


@dataclass
class Contender:
    """One session layer on one store."""

    key: str  #: short id: bare, floor, ws, beaker, flask, flask_session, flask_ws
    label: str
    family: str  #: "plain" or "flask" (which bare app it is measured against)
    app: WSGIApp | None
    #: False for the bare apps: their responses carry no session state to check.
    stateful: bool = True
    #: Why the contender is missing from the run, if it is.
    unavailable: str | None = None
    note: str = ""
    #: The wsgi_session middleware, when there is one (for round-trip counters).
    middleware: t.Any = None


@dataclass
class StoreEnv:
    """What the contenders of one store share: a temp dir, the server."""

    store: str  #: "memory", "file" or "redis"
    tmp: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="wsb-")))
    redis_host: str = "127.0.0.1"
    redis_port: int = 0
    sql_url: str = ""  #: the PostgreSQL server's URL (SQL stores)
    closers: list[t.Callable[[], None]] = field(default_factory=list)

    @property
    def redis_url(self) -> str:
        return f"redis://{self.redis_host}:{self.redis_port}/0"

    def close(self) -> None:
        for closer in reversed(self.closers):
            with contextlib.suppress(Exception):  # best effort at exit
                closer()
        shutil.rmtree(self.tmp, ignore_errors=True)


def _guard(
    key: str, label: str, family: str, build: t.Callable[[], Contender]
) -> Contender:
    try:
        return build()
    except Exception as exc:  # a contender that cannot be built is reported
        return Contender(
            key, label, family, None, unavailable=f"{type(exc).__name__}: {exc}"
        )


def _bare(env: StoreEnv) -> Contender:
    return Contender("bare", "bare app", "plain", plain_app(None), stateful=False)


def _floor(env: StoreEnv) -> Contender:
    if env.store == "redis":
        import redis

        client = redis.Redis(host=env.redis_host, port=env.redis_port)
        env.closers.append(client.close)

        def get(key: str) -> bytes | None:
            return client.get("floor:" + key)  # type: ignore[return-value]

        def put(key: str, value: bytes) -> None:
            client.set("floor:" + key, value, ex=2100)

        note = "redis-py GET / SET EX of a JSON blob"
    else:
        from cachelib import FileSystemCache, SimpleCache

        if env.store == "memory":
            cache: t.Any = SimpleCache(threshold=100_000)
            note = "cachelib SimpleCache get / set of a JSON blob"
        else:
            cache = FileSystemCache(str(env.tmp / "floor"), threshold=100_000)
            note = "cachelib FileSystemCache get / set of a JSON blob"
        get = cache.get

        def put(key: str, value: bytes) -> None:
            cache.set(key, value, timeout=2100)

    return Contender("floor", "store floor", "plain", floor_app(get, put), note=note)


def _ws_store_url(env: StoreEnv, prefix: str) -> str:
    if env.store == "memory":
        return "memory://"
    if env.store == "file":
        return "file://" + str(env.tmp / prefix)
    return f"{env.redis_url}?key_prefix={prefix}:"


def _wsgi_session(env: StoreEnv) -> Contender:
    from wsgi_session import SessionMiddleware

    middleware = SessionMiddleware(
        plain_app(lambda environ: environ["wsgi_session"]),
        secret_key=SECRET,
        store=_ws_store_url(env, "ws"),
    )
    return Contender(
        "ws",
        "wsgi_session",
        "plain",
        middleware,
        note="defaults: tracking=auto, concurrency=merge, JSON",
        middleware=middleware,
    )


def _beaker(env: StoreEnv) -> Contender:
    from beaker.middleware import SessionMiddleware as BeakerMiddleware

    options = {
        "session.key": "beaker.session.id",
        "session.secret": SECRET,
    }
    if env.store == "memory":
        options["session.type"] = "memory"
    elif env.store == "file":
        options["session.type"] = "file"
        options["session.data_dir"] = str(env.tmp / "beaker" / "data")
        options["session.lock_dir"] = str(env.tmp / "beaker" / "lock")
    else:
        options["session.type"] = "ext:redis"
        options["session.url"] = env.redis_url
    app = plain_app(lambda environ: environ["beaker.session"], lambda s: s.save())
    return Contender(
        "beaker",
        "Beaker",
        "plain",
        BeakerMiddleware(app, options),
        note=f"type={options['session.type']}, defaults (save_accessed_time=True)"
        + (
            "; ext:redis works with redis-py 8 (StrictRedis.from_url, GET / SET)"
            if env.store == "redis"
            else ""
        ),
    )


def _flask_bare(env: StoreEnv) -> Contender:
    return Contender(
        "flask",
        "bare Flask",
        "flask",
        flask_app("bare", uses_session=False),
        stateful=False,
        note="no SECRET_KEY, routes never touch the session",
    )


def _flask_session(env: StoreEnv) -> Contender:
    from flask_session import Session as FlaskSessionExtension

    app = flask_app("flask_session")
    app.config["SECRET_KEY"] = SECRET
    if env.store == "redis":
        import redis

        client = redis.Redis(host=env.redis_host, port=env.redis_port)
        env.closers.append(client.close)
        app.config.update(SESSION_TYPE="redis", SESSION_REDIS=client)
        note = "SESSION_TYPE=redis (msgpack)"
    else:
        from cachelib import FileSystemCache, SimpleCache

        if env.store == "memory":
            cache: t.Any = SimpleCache(threshold=100_000)
            note = "SESSION_TYPE=cachelib, SimpleCache(threshold=100000)"
        else:
            cache = FileSystemCache(str(env.tmp / "flask_session"), threshold=100_000)
            note = "SESSION_TYPE=cachelib, FileSystemCache(threshold=100000)"
        app.config.update(SESSION_TYPE="cachelib", SESSION_CACHELIB=cache)
    FlaskSessionExtension(app)
    return Contender(
        "flask_session",
        "Flask-Session",
        "flask",
        app,
        note=note + "; defaults (SESSION_REFRESH_EACH_REQUEST=True)",
    )


def _flask_ws(env: StoreEnv) -> Contender:
    try:
        from wsgi_session.flask import WSGISession
    except ImportError as exc:
        return Contender(
            "flask_ws",
            "Flask+wsgi_session",
            "flask",
            None,
            unavailable=f"not available: wsgi_session.flask cannot be imported ({exc})",
        )
    app = flask_app("flask_ws")
    app.config["SECRET_KEY"] = SECRET
    WSGISession(app, replace_flask_session=True, store=_ws_store_url(env, "fws"))
    return Contender(
        "flask_ws",
        "Flask+wsgi_session",
        "flask",
        app,
        note="WSGISession(app, replace_flask_session=True)",
        middleware=app.extensions.get("wsgi_session"),
    )


_BUILDERS: list[tuple[str, str, str, t.Callable[[StoreEnv], Contender]]] = [
    ("bare", "bare app", "plain", _bare),
    ("floor", "store floor", "plain", _floor),
    ("ws", "wsgi_session", "plain", _wsgi_session),
    ("beaker", "Beaker", "plain", _beaker),
    ("flask", "bare Flask", "flask", _flask_bare),
    ("flask_session", "Flask-Session", "flask", _flask_session),
    ("flask_ws", "Flask+wsgi_session", "flask", _flask_ws),
]

#: Contender keys in table order.
ORDER = [key for key, *_ in _BUILDERS]


def build_contenders(env: StoreEnv) -> list[Contender]:
    """Every contender on ``env``'s store; broken ones carry ``unavailable``."""
    return [
        _guard(key, label, family, lambda b=build: b(env))  # type: ignore[misc]
        for key, label, family, build in _BUILDERS
    ]
