"""The load-test app: a legacy WSGI app wrapped by SessionMiddleware under gunicorn.

Run by ``tests/load/run.py`` as ``gunicorn tests.load.app:application``.
Configured by environment variables (all set by ``run.py``):

* ``LOAD_STORE_URL``: the store URL (required);
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

STORE_URL = os.environ.get("LOAD_STORE_URL", "memory://")
SECRET = os.environ.get("LOAD_SECRET", "load-test-secret-0123456789")
LOCK_TIMEOUT = int(os.environ.get("LOAD_LOCK_TIMEOUT", "10"))
STATE_DIR = os.environ.get("LOAD_STATE_DIR", "")


def _answer(start_response: StartResponse, status: str, body: t.Any) -> list[bytes]:
    data = json.dumps(body, sort_keys=True).encode()
    start_response(
        status,
        [("Content-Type", "application/json"), ("Content-Length", str(len(data)))],
    )
    return [data]


def _hold(environ: Environ, query: dict[str, str]) -> None:
    """Keep the session (and, in lock mode, its lock) for a while."""
    session = get_session(environ)
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
    session = get_session(environ)
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


def application(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    """``/lock/...`` goes to the lock-mode middleware, the rest to merge mode."""
    path = environ.get("PATH_INFO", "")
    if path.startswith("/lock/"):
        environ["PATH_INFO"] = path[len("/lock") :]
        return lock_app(environ, start_response)
    return merge_app(environ, start_response)
