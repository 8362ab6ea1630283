"""A Pylons-style app on ``environ["beaker.session"]``, and a script that serves it.

The app is written against Beaker's session API, as Pylons and Paste apps
are: it reads and writes ``environ["beaker.session"]``, calls ``save()``
after a change (without ``auto``, nothing is stored otherwise) and keeps
Pylons-style flash messages in the session. ``pylons.ini`` wraps it in
``egg:wsgi_session#beaker``, so the session lives server-side in
wsgi_session's store; with ``tracking = url`` the id travels in the page's
links and forms (``rewrite_html``) for browsers that refuse cookies
(``python examples/pylons_app.py 8000 url``).

Run ``python examples/pylons_app.py [port]`` (port 0 picks a free one); it sets
a development ``PYLONS_SESSION_SECRET`` if the environment has none.
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


def flash(session: t.Any, message: str) -> None:
    """Queue a message for the next page, as ``pylons.controllers.util`` did."""
    session.setdefault("_flash", []).append(message)
    session.save()


def pop_messages(session: t.Any) -> list[str]:
    """Take the queued messages (and store that they were shown)."""
    messages: list[str] = session.pop("_flash", [])
    if messages:
        session.save()
    return messages


def _form(environ: Environ) -> dict[str, list[str]]:
    try:
        size = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        size = 0
    body = environ["wsgi.input"].read(size) if size > 0 else b""
    return parse_qs(body.decode("utf-8", "replace"))


def make_app(global_conf: t.Mapping[str, str], **settings: str) -> WSGIApp:
    """The ``paste.app_factory``: a guest book kept in the Beaker session."""
    title = settings.get("title", "Guest book")

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        session = environ["beaker.session"]
        path, method = environ.get("PATH_INFO", "/"), environ["REQUEST_METHOD"]
        if path == "/sign" and method == "POST":
            name = (_form(environ).get("name") or [""])[0].strip()[:40]
            if name:
                session.setdefault("names", []).append(name)
                flash(session, f"Thanks for signing, {name}!")
            else:
                flash(session, "Please give a name.")
            start_response("303 See Other", [("Location", "/")])
            return [b""]
        if path == "/forget":
            session.delete()
            start_response("303 See Other", [("Location", "/")])
            return [b""]
        names = session.get("names", [])
        notes = "".join(
            f"<p class=flash>{html.escape(m)}</p>" for m in pop_messages(session)
        )
        rows = "".join(f"<li>{html.escape(n)}</li>" for n in names) or "<li>none</li>"
        body = (
            f"<!doctype html><title>{html.escape(title)}</title>"
            f"<h1>{html.escape(title)}</h1>{notes}<ul id=names>{rows}</ul>"
            '<form method="post" action="/sign"><input name="name" aria-label="Name">'
            '<button>Sign</button></form><p><a href="/forget">Forget me</a></p>'
        )
        start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
        return [body.encode("utf-8")]

    return app


def load(path: Path = HERE / "pylons.ini", tracking: str = "cookie") -> WSGIApp:
    """Load the ``main`` pipeline of ``pylons.ini`` with PasteDeploy."""
    from paste.deploy import loadapp

    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))  # for ``use = call:examples.pylons_app:...``
    conf = {"beaker.session.tracking": tracking}  # read by the filter, as Beaker
    app: WSGIApp = loadapp(f"config:{path}", global_conf=conf)
    return app


class ThreadingServer(ThreadingMixIn, WSGIServer):
    """wsgiref's server, one thread per request, so that Ctrl-C always reaches
    the loop (a single-threaded one can swallow it while answering)."""

    daemon_threads = True


def main(argv: list[str] | None = None) -> None:
    """Serve the pipeline on 127.0.0.1 (port from argv[0] or 8000; ``url`` as
    argv[1] tracks sessions in URLs)."""
    os.environ.setdefault("PYLONS_SESSION_SECRET", "pylons-example-secret-change-me")
    args = sys.argv[1:] if argv is None else argv
    port = int(args[0]) if args else 8000
    tracking = args[1] if len(args) > 1 else "cookie"
    with make_server(
        "127.0.0.1", port, load(tracking=tracking), ThreadingServer
    ) as server:
        url = f"http://127.0.0.1:{server.server_port}/"
        print(f"Pylons-style example running on {url}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C stops quietly
            server.serve_forever()


if __name__ == "__main__":
    main()
