"""A tiny legacy WSGI app with a server-side session: a visit counter.

Run it with ``python examples/counter.py`` and open http://127.0.0.1:8000/ .
Set ``WSGI_SESSION_STORE`` (e.g. ``redis://127.0.0.1:6379/0``) to share
sessions between processes; the default is the in-memory store.
"""

from __future__ import annotations

import contextlib
import html
import os
import sys

from wsgi_session import SessionMiddleware, get_session, hidden_input, rewrite_url


def counter_app(environ, start_response):
    """Count the visits of this browser; ``/reset`` forgets them."""
    session = get_session(environ)
    if environ.get("PATH_INFO") == "/reset":
        session.destroy()
        start_response("302 Found", [("Location", "/")])
        return [b""]
    session["visits"] = session.get("visits", 0) + 1
    body = (
        "<!doctype html><title>Counter</title>"
        f"<p>You have been here {session['visits']} time(s).</p>"
        f'<p><a href="{html.escape(rewrite_url(environ, "/"))}">again</a> '
        f'<a href="{html.escape(rewrite_url(environ, "/reset"))}">reset</a></p>'
        f'<form method="get" action="/">{hidden_input(environ)}'
        "<button>again (form)</button></form>"
    )
    start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
    return [body.encode()]


def make_app(store: str | None = None):
    """The counter wrapped by the session middleware."""
    secret = os.environ.get("WSGI_SESSION_SECRET", "counter-demo-secret-change-me")
    return SessionMiddleware(
        counter_app,
        secret_key=secret,
        store=store or os.environ.get("WSGI_SESSION_STORE") or "memory://",
    )


application = make_app()


def main(argv: list[str] | None = None) -> None:
    """Serve the counter on 127.0.0.1 (port from argv[1] or 8000)."""
    from wsgi_session.cli import make_threaded_server

    args = sys.argv[1:] if argv is None else argv
    port = int(args[0]) if args else 8000
    with make_threaded_server("127.0.0.1", port, application) as server:
        print(f"Counter running on http://127.0.0.1:{server.server_port}/", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            server.serve_forever()


if __name__ == "__main__":
    main()
