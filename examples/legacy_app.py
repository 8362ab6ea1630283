"""A plain WSGI to-do list, written as old apps were, with server-side sessions.

No framework: one function per page, ``string.Template`` templates, values
escaped by hand with ``markupsafe.escape``. The session comes from the
middleware; every link goes through ``rewrite_url`` and every form carries
``hidden_input``, so the app keeps working for browsers that refuse cookies
(the session id then travels in the URL). Redirects are plain ``Location``
headers: the middleware adds the id to them itself.

Run it with ``python examples/legacy_app.py [port]`` (port 0 picks a free one)
and open the printed URL. ``WSGI_SESSION_STORE`` selects the store (default
``memory://``), ``WSGI_SESSION_SECRET`` the secret key.
"""

from __future__ import annotations

import contextlib
import os
import string
import sys
import typing as t
from collections.abc import Iterable
from socketserver import ThreadingMixIn
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIServer, make_server

from markupsafe import Markup, escape

from wsgi_session import SessionMiddleware, get_session, hidden_input, rewrite_url

Environ = t.Dict[str, t.Any]
StartResponse = t.Callable[..., t.Callable[[bytes], object]]

MAX_TITLE = 80

TEMPLATES = {
    "layout": string.Template("""\
<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>$title</title></head>
<body>
<p><a id="all-link" href="$all_url">All</a> |
<a id="open-link" href="$open_url">Open</a> |
<a id="done-link" href="$done_url">Done</a></p>
$flash
<h1>$title</h1>
$content
<p><small id="tracking">session: $tracking</small></p>
</body>
</html>
"""),
    "flash": string.Template('<p id="flash" role="status"><b>$message</b></p>'),
    "list": string.Template("""\
<form id="filter-form" method="get" action="/">
$hidden
<input name="q" value="$query" aria-label="Search"> <button>Search</button>
</form>
<ul id="todos">$items</ul>
<form id="add-form" method="post" action="/add">
$hidden
<input name="title" value="$old_title" aria-label="New item"> <button>Add</button>
$error
</form>
<form id="clear-form" method="post" action="/clear">
$hidden<button>Remove done items</button>
</form>
<p><a id="reset-link" href="$reset_url">Forget everything</a></p>
"""),
    "item": string.Template("""\
<li>$mark $title
<form method="post" action="/toggle" style="display:inline">
$hidden<input type="hidden" name="index" value="$index"><button>$action</button>
</form></li>"""),
    "error": string.Template('<p id="error" style="color:#b00">$message</p>'),
}


def render(name: str, **values: object) -> Markup:
    """Fill a template; every value is escaped unless it is Markup already."""
    filled = TEMPLATES[name].substitute({k: escape(v) for k, v in values.items()})
    return Markup(filled)


def form_data(environ: Environ) -> dict[str, str]:
    """The urlencoded POST body as a dict of first values (the legacy way)."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    body = environ["wsgi.input"].read(min(length, 64 * 1024)).decode("utf-8", "replace")
    return {k: v[0] for k, v in parse_qs(body).items()}


def query_data(environ: Environ) -> dict[str, str]:
    """The query string as a dict of first values."""
    return {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}


def page(environ: Environ, title: str, content: Markup) -> bytes:
    """A whole page: filter links, the flash message, ``content``."""
    session = get_session(environ)
    message = session.get("message")
    return render(
        "layout",
        title=title,
        all_url=rewrite_url(environ, "/"),
        open_url=rewrite_url(environ, "/?show=open"),
        done_url=rewrite_url(environ, "/?show=done"),
        flash=render("flash", message=message) if message else Markup(""),
        content=content,
        tracking=session.tracking if session.id else "none yet",
    ).encode("utf-8")


def show_list(environ: Environ) -> bytes:
    """``GET /``: the to-do list, filtered by ``?show=`` and ``?q=``."""
    session = get_session(environ)
    args = query_data(environ)
    show, query = args.get("show", "all"), args.get("q", "").strip()
    hidden = hidden_input(environ)
    items = []
    for index, todo in enumerate(session.get("todos", [])):
        if (show == "open" and todo["done"]) or (show == "done" and not todo["done"]):
            continue
        if query and query.casefold() not in todo["title"].casefold():
            continue
        items.append(
            render(
                "item",
                mark="✔" if todo["done"] else "☐",
                title=todo["title"],
                hidden=hidden,
                index=index,
                action="Reopen" if todo["done"] else "Done",
            )
        )
    error = session.get("error")
    content = render(
        "list",
        hidden=hidden,
        query=query,
        items=Markup("").join(items) or Markup("<li>Nothing here.</li>"),
        old_title=session.old("title", ""),
        error=render("error", message=error) if error else Markup(""),
        reset_url=rewrite_url(environ, "/reset"),
    )
    return page(environ, "To do", content)


def add(environ: Environ) -> None:
    """``POST /add``: validate, then append, or flash the error and the input."""
    session = get_session(environ)
    form = form_data(environ)
    title = form.get("title", "").strip()
    if not title or len(title) > MAX_TITLE:
        session.flash("error", f"Write a title of 1 to {MAX_TITLE} characters.")
        session.flash_input(form, only=["title"])
        return
    session["todos"] = [*session.get("todos", []), {"title": title, "done": False}]
    session.flash("message", f"Added “{title}”.")


def toggle(environ: Environ) -> None:
    """``POST /toggle``: mark an item done or open again (an in-place change)."""
    session = get_session(environ)
    todos = session.get("todos", [])
    index = form_data(environ).get("index", "")
    if index.isdigit() and int(index) < len(todos):
        todos[int(index)]["done"] = not todos[int(index)]["done"]  # saved anyway


def clear(environ: Environ) -> None:
    """``POST /clear``: drop the items that are done."""
    session = get_session(environ)
    todos = session.get("todos", [])
    session["todos"] = [todo for todo in todos if not todo["done"]]
    session.flash("message", f"Removed {len(todos) - len(session['todos'])} item(s).")


def reset(environ: Environ) -> None:
    """``GET /reset``: end the session."""
    session = get_session(environ)
    session.destroy()
    session.flash("message", "Everything forgotten.")


ACTIONS = {"/add": add, "/toggle": toggle, "/clear": clear}


def todo_app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    """The to-do app; it needs the session middleware around it."""
    path, method = environ.get("PATH_INFO", "/"), environ["REQUEST_METHOD"]
    if path == "/" and method in ("GET", "HEAD"):
        body = show_list(environ)
        start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
        return [body]
    if (path in ACTIONS and method == "POST") or (path == "/reset" and method == "GET"):
        ACTIONS.get(path, reset)(environ)
        start_response("303 See Other", [("Location", "/")])
        return [b""]
    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"Not found\n"]


def make_app(store: str | None = None) -> SessionMiddleware:
    """The to-do app wrapped by the session middleware (cookies or URLs: auto)."""
    return SessionMiddleware(
        todo_app,
        secret_key=os.environ.get(
            "WSGI_SESSION_SECRET", "legacy-demo-secret-change-me"
        ),
        store=store or os.environ.get("WSGI_SESSION_STORE") or "memory://",
        tracking="auto",
    )


application = make_app()


class ThreadingServer(ThreadingMixIn, WSGIServer):
    """wsgiref's server, one thread per request: Ctrl-C always reaches the loop.

    (A single-threaded wsgiref server can swallow a Ctrl-C that arrives while
    it is answering: its handler catches every exception of a request.)
    """

    daemon_threads = True


def main(argv: list[str] | None = None) -> None:
    """Serve the app on 127.0.0.1 (port from argv[0] or 8000; 0 = any free port)."""
    args = sys.argv[1:] if argv is None else argv
    port = int(args[0]) if args else 8000
    with make_server("127.0.0.1", port, application, ThreadingServer) as server:
        url = f"http://127.0.0.1:{server.server_port}/"
        print(f"Legacy to-do app running on {url}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C stops quietly
            server.serve_forever()


if __name__ == "__main__":
    main()
