"""Small WSGI apps and a client helper shared by the end-to-end tests."""

from __future__ import annotations

import json
import typing as t
from urllib.parse import parse_qsl

from werkzeug.test import Client

from wsgi_session import SessionMiddleware, get_session

SECRET = "test-secret-key-0123456789"


def session_app(environ: dict[str, t.Any], start_response: t.Callable[..., t.Any]):
    """A legacy app driven by the query string.

    ``?set=k:v`` sets keys (JSON values), ``?del=k`` deletes, ``?flash=k:v``
    flashes, ``?regenerate=1``, ``?destroy=1`` (first), ``?touch=0`` never touches the
    session; the body is the session's data as JSON (plus ``id``).
    """
    query = dict(parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True))
    if query.get("touch") == "0":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"untouched"]
    s = get_session(environ)
    if query.get("destroy"):
        s.destroy()
    for item in query.get("set", "").split(",") if query.get("set") else []:
        key, _, value = item.partition(":")
        s[key] = json.loads(value)
    if query.get("del"):
        del s[query["del"]]
    if query.get("flash"):
        key, _, value = query["flash"].partition(":")
        s.flash(key, value)
    if query.get("incr"):
        s[query["incr"]] = s.get(query["incr"], 0) + 1
    if query.get("append"):
        s.setdefault("list", []).append(query["append"])
    if query.get("regenerate"):
        s.regenerate()
    if query.get("clear"):
        s.clear()
    body = json.dumps({"data": s.all(), "id": s.id, "new": s.is_new})
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body.encode()]


def wrap(app: t.Any = session_app, **options: t.Any) -> SessionMiddleware:
    options.setdefault("secret_key", SECRET)
    options.setdefault("tracking", "cookie")
    return SessionMiddleware(app, **options)


def client(app: t.Any = None, **options: t.Any) -> Client:
    return Client(app if app is not None else wrap(**options))


def data(response: t.Any) -> dict[str, t.Any]:
    return t.cast(t.Dict[str, t.Any], json.loads(response.get_data(as_text=True)))


def set_cookies(response: t.Any) -> list[str]:
    return t.cast(t.List[str], response.headers.getlist("Set-Cookie"))


def counter_app(environ: dict[str, t.Any], start_response: t.Callable[..., t.Any]):
    """Counts the requests of a session: ``n`` goes up by one, the body is it."""
    session = environ["wsgi_session"]
    session["n"] = session.get("n", 0) + 1
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [str(session["n"]).encode()]
