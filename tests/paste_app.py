"""A tiny WSGI app for the PasteDeploy tests (``use = call:paste_app:make_app``).

``/set?value=x`` stores ``x`` in the session; any other path answers with the
stored value (or ``-``) and the app's ``greeting`` setting.
"""

from __future__ import annotations

import typing as t
from collections.abc import Iterable
from urllib.parse import parse_qs

StartResponse = t.Callable[..., t.Callable[[bytes], object]]
WSGIApp = t.Callable[[t.Dict[str, t.Any], StartResponse], Iterable[bytes]]


def make_app(global_conf: t.Mapping[str, str], **local_conf: str) -> WSGIApp:
    """Return the app (the ``paste.app_factory`` protocol)."""
    greeting = local_conf.get("greeting", "hi")

    def app(environ: dict[str, t.Any], start_response: StartResponse) -> list[bytes]:
        session = environ["wsgi_session"]
        if environ["PATH_INFO"] == "/set":
            query = parse_qs(environ.get("QUERY_STRING", ""))
            session["value"] = query.get("value", [""])[0]
        body = f"{greeting} {session.get('value', '-')}".encode()
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [body]

    return app
