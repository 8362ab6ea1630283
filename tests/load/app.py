"""The load-test app: a legacy WSGI app wrapped by SessionMiddleware under gunicorn.

Run by ``tests/load/run.py`` as ``gunicorn tests.load.app:application``.
Configured by environment variables (all set by ``run.py``):

* ``LOAD_CONTENDER``: ``wsgi_session`` (default) or ``beaker``: which
  middleware serves the routes (``--peer beaker``);
* ``LOAD_STORE_URL``: the store URL (required; a ``redis://`` URL for Beaker);
* ``LOAD_SECRET``: the secret key (every worker must use the same one);
* ``LOAD_LOCK_TIMEOUT``: ``lock_timeout`` of the ``/lock/`` side (default 10);
* ``LOAD_STATE_DIR``: where ``/lock/hold`` leaves its marker file.

Routes (GET; every answer is JSON, ``{"new": is_new, "data": all data, "pid"}``,
where ``new`` says whether the request resumed no stored session)::

    /noop                       never touches the session
    /read                       reads every key
    /set?k=KEY&v=INT            sets one key
    /flash?v=TEXT               flashes "notice" for the next request
    /login?user=NAME            sets "user", then regenerate()
    /logout                     destroy()
    /incr?k=KEY                 KEY += 1
    /hold?seconds=S&tag=T       loads the session, writes STATE_DIR/hold-T.json
                                (pid, time), sleeps S seconds, sets "held"

``/lock/<route>`` serves the same routes through a second middleware with
``concurrency="lock"`` over the same store, cookie and secret.

The routes use the session through :class:`LoadSession`: wsgi_session's
``Session`` is one as it is; :class:`BeakerSession` adapts Beaker's, so the
same clients run against both. Under Beaker ``/lock/`` goes to the same
middleware, because Beaker has no session lock over Redis (its ``ext:redis``
namespace takes none when it loads or saves a session).
"""

from __future__ import annotations

import json
import os
import time
import typing as t
from collections.abc import Iterable
from urllib.parse import parse_qsl

from wsgi_session import SessionMiddleware, get_session

Environ = t.Dict[str, t.Any]
StartResponse = t.Callable[..., t.Any]
WSGIApp = t.Callable[[Environ, StartResponse], Iterable[bytes]]

CONTENDER = os.environ.get("LOAD_CONTENDER", "wsgi_session")
STORE_URL = os.environ.get("LOAD_STORE_URL", "memory://")
SECRET = os.environ.get("LOAD_SECRET", "load-test-secret-0123456789")
LOCK_TIMEOUT = int(os.environ.get("LOAD_LOCK_TIMEOUT", "10"))
STATE_DIR = os.environ.get("LOAD_STATE_DIR", "")
#: The session cookie's name under both contenders (the driver sends it).
COOKIE = "session"
#: Beaker's idle timeout: wsgi_session's default ``idle_timeout``.
BEAKER_TIMEOUT = 1800


class LoadSession(t.Protocol):
    """What the routes use of a session (wsgi_session's ``Session`` as it is)."""

    @property
    def is_new(self) -> bool: ...

    def get(self, key: str, default: t.Any = None) -> t.Any: ...

    def __setitem__(self, key: str, value: t.Any) -> None: ...

    def all(self) -> dict[str, t.Any]: ...

    def flash(self, key: str, value: t.Any) -> None: ...

    def regenerate(self) -> None: ...

    def destroy(self) -> None: ...


class BeakerSession:
    """Beaker's ``environ["beaker.session"]`` as a :class:`LoadSession`.

    Every change is followed by Beaker's ``save()`` (which marks the session
    for the write at the end of the request). Beaker has no flash: a flashed
    key is stored with its name listed under ``_flash``; the next request
    that loads the session takes it out of the data and shows it for that
    request only, as wsgi_session's ``flash`` does. Keys starting with ``_``
    (Beaker's ``_accessed_time``, ``_creation_time``; ``_flash``) are not data.

    >>> class Fake(dict):
    ...     is_new = False
    ...     def save(self): pass
    >>> stored = Fake(_flash=["notice"], notice="Saved", n=1, _accessed_time=0.0)
    >>> BeakerSession(stored).all()
    {'n': 1, 'notice': 'Saved'}
    >>> sorted(stored)
    ['_accessed_time', 'n']
    """

    def __init__(self, beaker: t.Any) -> None:
        self.beaker = beaker
        self.shown: dict[str, t.Any] = {}
        flashed = beaker.pop("_flash", None)  # loads the session
        if flashed is not None:
            self.shown = {key: beaker.pop(key, None) for key in flashed}
            beaker.save()

    @property
    def is_new(self) -> bool:
        return bool(self.beaker.is_new)

    def get(self, key: str, default: t.Any = None) -> t.Any:
        return self.shown.get(key, self.beaker.get(key, default))

    def __setitem__(self, key: str, value: t.Any) -> None:
        self.beaker[key] = value
        self.beaker.save()

    def all(self) -> dict[str, t.Any]:
        data = {k: v for k, v in self.beaker.items() if not k.startswith("_")}
        return {**data, **self.shown}

    def flash(self, key: str, value: t.Any) -> None:
        self.beaker["_flash"] = [*self.beaker.get("_flash", []), key]
        self[key] = value

    def regenerate(self) -> None:
        self.beaker.regenerate_id()
        self.beaker.save()

    def destroy(self) -> None:
        self.beaker.delete()


def session_of(environ: Environ) -> LoadSession:
    """The request's session under the contender this process serves."""
    if CONTENDER == "beaker":
        return BeakerSession(environ["beaker.session"])
    return get_session(environ)


def _answer(start_response: StartResponse, status: str, body: t.Any) -> list[bytes]:
    data = json.dumps(body, sort_keys=True).encode()
    start_response(
        status,
        [("Content-Type", "application/json"), ("Content-Length", str(len(data)))],
    )
    return [data]


def _hold(environ: Environ, query: dict[str, str]) -> None:
    """Keep the session (and, in lock mode, its lock) for a while."""
    session = session_of(environ)
    session.get("held")  # loads the session: the lock is ours from here
    if STATE_DIR:
        path = os.path.join(STATE_DIR, f"hold-{query.get('tag', 'x')}.json")
        with open(path + ".tmp", "w") as f:
            json.dump({"pid": os.getpid(), "t": time.time()}, f)
        os.replace(path + ".tmp", path)
    time.sleep(float(query.get("seconds", "1")))
    session["held"] = time.time()


def legacy_app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    """Dispatch on PATH_INFO; see the module docstring."""
    path = environ.get("PATH_INFO", "")
    query = dict(parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True))
    if path == "/noop":
        return _answer(start_response, "200 OK", {"pid": os.getpid()})
    session = session_of(environ)
    new = session.is_new  # loads the session (and may raise StoreUnavailable)
    if path == "/read":
        pass
    elif path == "/set":
        session[query["k"]] = int(query["v"])
    elif path == "/flash":
        session.flash("notice", query["v"])
    elif path == "/login":
        session["user"] = query["user"]
        session.regenerate()
    elif path == "/logout":
        session.destroy()
    elif path == "/incr":
        session[query["k"]] = session.get(query["k"], 0) + 1
    elif path == "/hold":
        _hold(environ, query)
    else:
        return _answer(start_response, "404 Not Found", {"error": path})
    body = {"new": new, "data": session.all(), "pid": os.getpid()}
    return _answer(start_response, "200 OK", body)


def _beaker_app() -> WSGIApp:
    """Beaker's SessionMiddleware: ``ext:redis``, JSON, the same cookie and TTL."""
    from beaker.middleware import SessionMiddleware as BeakerMiddleware

    return t.cast(
        WSGIApp,
        BeakerMiddleware(
            legacy_app,
            {
                "session.type": "ext:redis",
                "session.url": STORE_URL,
                "session.data_serializer": "json",
                "session.key": COOKIE,
                "session.secret": SECRET,
                "session.httponly": True,
                "session.timeout": BEAKER_TIMEOUT,
            },
        ),
    )


def _wsgi_session_apps() -> tuple[WSGIApp, WSGIApp]:
    """The merge-mode middleware, and the lock-mode one over the same store."""
    merge_app = SessionMiddleware(
        legacy_app, secret_key=SECRET, store=STORE_URL, tracking="cookie"
    )
    lock_app = SessionMiddleware(
        legacy_app,
        secret_key=SECRET,
        store=merge_app.store,
        tracking="cookie",
        concurrency="lock",
        lock_timeout=LOCK_TIMEOUT,
    )
    return merge_app, lock_app


if CONTENDER == "beaker":
    merge_app = lock_app = _beaker_app()
else:
    merge_app, lock_app = _wsgi_session_apps()


def application(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    """``/lock/...`` goes to the lock-mode middleware, the rest to merge mode."""
    path = environ.get("PATH_INFO", "")
    if path.startswith("/lock/"):
        environ["PATH_INFO"] = path[len("/lock") :]
        return lock_app(environ, start_response)
    return merge_app(environ, start_response)
