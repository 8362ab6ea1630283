"""Several worker processes sharing sessions through Redis (run under gunicorn).

Each gunicorn worker is a separate process with its own memory, so sessions
must live in a shared store. Start Redis, then::

    WSGI_SESSION_STORE=redis://127.0.0.1:6379/0 \\
    WSGI_SESSION_SECRET=change-me \\
    gunicorn -w 3 -b 127.0.0.1:8000 examples.gunicorn_redis:application

(from the project root; or ``gunicorn -c examples/gunicorn_conf.py
examples.gunicorn_redis:application``, which sets the same three workers).
Reload http://127.0.0.1:8000/ : the counter goes up by one each time while the
``X-Worker-Pid`` header (also shown on the page) changes between workers.

The Redis client connects lazily, on the first request of each worker, so the
module may also be imported before the fork (``--preload``). Every worker of
one site must use the same ``WSGI_SESSION_SECRET``; without one this example
uses a fixed development secret, which is fine on your machine only.
"""

from __future__ import annotations

import os
import typing as t
from collections.abc import Iterable

from wsgi_session import SessionMiddleware, get_session

Environ = t.Dict[str, t.Any]
StartResponse = t.Callable[..., t.Callable[[bytes], object]]


def counter_app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    """Count this session's requests and say which worker process answered."""
    session = get_session(environ)
    session["count"] = session.get("count", 0) + 1
    pid = os.getpid()
    body = f"count={session['count']} pid={pid}\n".encode()
    start_response(
        "200 OK",
        [
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Length", str(len(body))),
            ("X-Worker-Pid", str(pid)),
        ],
    )
    return [body]


application = SessionMiddleware(
    counter_app,
    secret_key=os.environ.get("WSGI_SESSION_SECRET", "gunicorn-example-change-me"),
    store=os.environ.get("WSGI_SESSION_STORE", "redis://127.0.0.1:6379/0"),
    tracking="cookie",
)
