"""The app of ``examples/paste.ini``, and a script that serves that pipeline.

``paste.ini`` puts the session middleware in front of this app as a
PasteDeploy filter (``use = egg:wsgi_session#session``). The app itself knows
nothing about the middleware's configuration: it just uses
``environ["wsgi_session"]``, and writes plain HTML without calling the URL
helpers, because the filter sets ``rewrite_html = true`` (the middleware adds
the session id to its links and forms when the browser refuses cookies).

Run ``python examples/paste_app.py [port]`` (port 0 picks a free one); it sets
a development ``WSGI_SESSION_SECRET`` if the environment has none.
"""

from __future__ import annotations

import contextlib
import html
import os
import sys
import typing as t
from collections.abc import Iterable
from pathlib import Path
from socketserver import ThreadingMixIn
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIServer, make_server

Environ = t.Dict[str, t.Any]
StartResponse = t.Callable[..., t.Callable[[bytes], object]]
WSGIApp = t.Callable[[Environ, StartResponse], Iterable[bytes]]

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def make_app(global_conf: t.Mapping[str, str], **settings: str) -> WSGIApp:
    """The ``paste.app_factory``: a page that remembers a name in the session."""
    greeting = settings.get("greeting", "Hello")

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        session = environ["wsgi_session"]
        name = parse_qs(environ.get("QUERY_STRING", "")).get("name", [""])[0]
        if name:
            session["name"] = name[:40]
        session["views"] = session.get("views", 0) + 1
        body = (
            "<!doctype html><title>PasteDeploy example</title>"
            f"<h1>{html.escape(greeting)}, "
            f"{html.escape(session.get('name', 'stranger'))}</h1>"
            f"<p id=views>Views in this session: {session['views']}</p>"
            '<form method="get" action="/"><input name="name" aria-label="Name">'
            '<button>Call me that</button></form><p><a href="/">Reload</a></p>'
        )
        start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
        return [body.encode("utf-8")]

    return app


def load(path: Path = HERE / "paste.ini") -> WSGIApp:
    """Load the ``main`` pipeline of ``paste.ini`` with PasteDeploy."""
    from paste.deploy import loadapp

    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))  # for ``use = call:examples.paste_app:make_app``
    app: WSGIApp = loadapp(f"config:{path}")
    return app


class ThreadingServer(ThreadingMixIn, WSGIServer):
    """wsgiref's server, one thread per request: Ctrl-C always reaches the loop.

    (A single-threaded wsgiref server can swallow a Ctrl-C that arrives while
    it is answering: its handler catches every exception of a request.)
    """

    daemon_threads = True


def main(argv: list[str] | None = None) -> None:
    """Serve the pipeline on 127.0.0.1 (port from argv[0] or 8000)."""
    os.environ.setdefault("WSGI_SESSION_SECRET", "paste-example-secret-change-me")
    args = sys.argv[1:] if argv is None else argv
    port = int(args[0]) if args else 8000
    with make_server("127.0.0.1", port, load(), ThreadingServer) as server:
        url = f"http://127.0.0.1:{server.server_port}/"
        print(f"PasteDeploy example running on {url}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C stops quietly
            server.serve_forever()


if __name__ == "__main__":
    main()
