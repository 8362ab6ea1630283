"""The app ``wsgi-session demo`` serves: a small legacy-style site built on sessions.

It is written the way old WSGI apps are: one function per page, HTML from
``string.Template`` with every value escaped, no framework. It uses only what
such an app can use after wrapping it in :class:`~wsgi_session.SessionMiddleware`:
the session in ``environ["wsgi_session"]``, :func:`~wsgi_session.rewrite_url` on
every link, :func:`~wsgi_session.hidden_input` and
:func:`~wsgi_session.csrf_input` in every form. Redirects are
plain ``Location: /…`` headers; the middleware adds the session id to them when
the browser does not keep cookies, so the site works with cookies on and off.

Pages: ``/`` (home), ``/login`` (a form with validation errors and the old
input refilled), ``/profile`` (a GET search form, and a POST form that edits a
note kept in the session), ``/sessions`` (where the user is signed in, and
"log out other devices") and ``/logout``. Every POST form carries a CSRF token
(the middleware runs ``csrf="check"``); logging in binds the session to its
user (``user_key="user"``). Every page says how the session
travels: by cookie, by URL, or both until the browser proves it keeps cookies.
When a URL id is refused because it was issued to another User-Agent, the page
says so (:class:`DemoEvents` records the ``rejected`` event). The server of
``wsgi-session demo`` logs with :class:`DemoRequestHandler`, which masks ids.

>>> from werkzeug.test import Client
>>> client = Client(make_demo_app())
>>> page = client.get("/login").text  # the first answer sets the cookie probe
>>> token = page.split('name="csrf_token" value="')[1].split('"')[0]
>>> form = {"username": "ann", "password": "demo", "csrf_token": token}
>>> response = client.post("/login", data=form)
>>> response.status_code, response.headers["Location"]
(303, '/profile')
>>> "Welcome ann!" in client.get("/profile").text
True
"""

from __future__ import annotations

import datetime as dt
import hmac
import re
import secrets
import threading
import typing as t
from collections.abc import Iterable
from wsgiref.simple_server import WSGIRequestHandler

from markupsafe import Markup, escape
from werkzeug.wrappers import Request

from . import demo_templates as pages
from .events import RejectReason, SessionEvents
from .helpers import csrf_input, hidden_input, rewrite_url
from .middleware import SessionMiddleware, WSGIEnviron, get_session
from .redact import redact_session_ids

__all__ = [
    "DEMO_PASSWORD",
    "REJECTED_KEY",
    "DemoEvents",
    "DemoRequestHandler",
    "demo_app",
    "make_demo_app",
]

StartResponse = t.Callable[..., t.Callable[[bytes], object]]
Headers = t.List[t.Tuple[str, str]]

#: The password every demo user logs in with (the page says so).
DEMO_PASSWORD = "demo"  # noqa: S105 - a demo password, shown on the login page

#: What the search form on the profile page searches.
SERVERS = (
    "Apache mod_wsgi",
    "Bjoern",
    "CherryPy",
    "Gunicorn",
    "Meinheld",
    "uWSGI",
    "Waitress",
    "Werkzeug",
    "wsgiref",
)

#: Longest note the profile page accepts, in characters.
NOTE_LIMIT = 200

_USERNAME_RE = re.compile(r"[A-Za-z0-9._-]{2,32}")

#: The environ key where :class:`DemoEvents` records why a presented id was refused.
REJECTED_KEY = "wsgi_session.demo.rejected"

_BINDING_NOTICE = (
    "The session id in this link was issued to another browser or tool "
    "(its User-Agent differs), so it was not used: you have a new session here."
)

_TRACKING = {
    "cookie": "by cookie: your browser keeps cookies.",
    "url": (
        "by URL: links carry ?sid=… and forms a hidden field, "
        "because your browser refuses cookies."
    ),
    "both": ("by cookie and by URL, until your browser shows that it keeps cookies."),
}


def _render(template: t.Any, **values: object) -> Markup:
    """Fill ``template``; values are HTML-escaped unless they are Markup already."""
    filled = template.substitute({k: escape(v) for k, v in values.items()})
    return Markup(filled)  # noqa: S704 - our template, every value escaped above


# -- pages ----------------------------------------------------------------------------


class _Response(t.NamedTuple):
    status: str
    headers: Headers
    body: bytes


def _page(
    environ: WSGIEnviron, title: str, content: Markup, status: str = "200 OK"
) -> _Response:
    """A full HTML page around ``content``: navigation, flash message, tracking."""
    session = get_session(environ)
    user = session.get("user")
    if user is None:
        account = _render(pages.LOGGED_OUT, login_url=rewrite_url(environ, "/login"))
    else:
        account = _render(
            pages.LOGGED_IN,
            user=user,
            hidden=hidden_input(environ),
            csrf=csrf_input(environ),
            sessions_url=rewrite_url(environ, "/sessions"),
        )
    message = session.get("message")
    flash = _render(pages.FLASH, message=message) if message else Markup("")
    notice_text = session.get("notice") or _binding_notice(environ)
    notice = _render(pages.NOTICE, message=notice_text) if notice_text else Markup("")
    if session.id is None:
        tracking_text = "No session yet: nothing is stored until you log in."
    else:
        tracking_text = "Your session travels " + _TRACKING[session.tracking]
    html = _render(
        pages.LAYOUT,
        title=title,
        home_url=rewrite_url(environ, "/"),
        profile_url=rewrite_url(environ, "/profile"),
        account=account,
        notice=notice,
        flash=flash,
        content=content,
        tracking=session.tracking,
        tracking_text=tracking_text,
    )
    headers = [
        ("Content-Type", "text/html; charset=utf-8"),
        ("Cache-Control", "no-store"),
        ("X-Content-Type-Options", "nosniff"),
    ]
    return _Response(status, headers, html.encode("utf-8"))


def _binding_notice(environ: WSGIEnviron) -> str | None:
    """The notice to show when this request's id was refused for its User-Agent."""
    if environ.get(REJECTED_KEY) is RejectReason.BINDING_MISMATCH:
        return _BINDING_NOTICE
    return None


def _redirect(location: str) -> _Response:
    """``303 See Other`` to a path of this site (the middleware adds the id)."""
    return _Response("303 See Other", [("Location", location)], b"")


def _error(errors: t.Mapping[str, str], field: str) -> Markup:
    message = errors.get(field)
    return _render(pages.ERROR, field=field, message=message) if message else Markup("")


def home(environ: WSGIEnviron, request: Request) -> _Response:
    """``/``: what the demo is, and links to the other pages.

    >>> from werkzeug.test import Client
    >>> page = Client(make_demo_app()).get("/").text
    >>> 'href="/login"' in page, "No session yet" in page  # nothing stored yet
    (True, True)
    """
    content = _render(
        pages.HOME,
        login_url=rewrite_url(environ, "/login"),
        profile_url=rewrite_url(environ, "/profile"),
        search_url=rewrite_url(environ, "/profile?q=wsgi"),
        password=DEMO_PASSWORD,
    )
    return _page(environ, "Home", content)


def _login_errors(username: str, password: str) -> dict[str, str]:
    errors = {}
    if not username:
        errors["username"] = "Enter a user name."
    elif not _USERNAME_RE.fullmatch(username):
        errors["username"] = "Use 2 to 32 letters, digits, dots, dashes or underscores."
    if not password:
        errors["password"] = "Enter the password."  # noqa: S105 - a message
    elif not hmac.compare_digest(password.encode(), DEMO_PASSWORD.encode()):
        errors["password"] = f"Wrong password (the demo password is “{DEMO_PASSWORD}”)."
    return errors


def login(environ: WSGIEnviron, request: Request) -> _Response:
    """``/login``: the form, and its POST: errors with old input, or log in.

    >>> from werkzeug.test import Client
    >>> client = Client(make_demo_app()); page = client.get("/login").text
    >>> token = page.split('name="csrf_token" value="')[1].split('"')[0]
    >>> form = {"username": "a", "password": "x", "csrf_token": token}
    >>> client.post("/login", data=form).headers["Location"]  # back to the form
    '/login'
    >>> page = client.get("/login").text; "Wrong password" in page, 'value="a"' in page
    (True, True)
    """
    session = get_session(environ)
    if request.method == "POST":
        username = request.form.get("username", "").strip()
        password = request.form.get("password", "")
        errors = _login_errors(username, password)
        if errors:
            session.flash("errors", errors)
            session.flash_input(request.form, only=["username"])
            return _redirect("/login")
        # Setting the user_key binds the session to the user: a new id (session
        # fixation), a new CSRF secret, an entry in the user's index.
        session["user"] = username
        session["since"] = dt.datetime.now(dt.timezone.utc).strftime("%H:%M UTC")
        session.flash("message", f"Welcome {username}!")
        return _redirect("/profile")
    errors = session.get("errors") or {}
    content = _render(
        pages.LOGIN,
        csrf=csrf_input(environ),  # first: it may create the session (and its id)
        hidden=hidden_input(environ),
        username=session.old("username", ""),
        username_error=_error(errors, "username"),
        password_error=_error(errors, "password"),
        password=DEMO_PASSWORD,
    )
    return _page(environ, "Log in", content)


def _search_results(query: str) -> Markup:
    if not query:
        return Markup("")
    found = [name for name in SERVERS if query.casefold() in name.casefold()]
    if not found:
        return Markup('<p id="results">No server matches “{}”.</p>').format(query)
    items = Markup("").join(Markup("<li>{}</li>").format(name) for name in found)
    return Markup('<ul id="results">{}</ul>').format(items)


def profile(environ: WSGIEnviron, request: Request) -> _Response:
    """``/profile``: search (GET form) and edit the note (POST form).

    A visitor who is not logged in is sent to the login page; until the
    browser shows that it keeps cookies, the redirect carries the id too:

    >>> from werkzeug.test import Client
    >>> response = Client(make_demo_app()).get("/profile")
    >>> response.status_code, response.headers["Location"]
    (303, '/login?sid=...')
    """
    session = get_session(environ)
    if "user" not in session:
        session.flash("message", "Please log in first.")
        return _redirect("/login")
    if request.method == "POST":
        note = request.form.get("note", "").strip()
        if len(note) > NOTE_LIMIT:
            session.flash(
                "errors",
                {"note": f"Too long: {len(note)} characters, at most {NOTE_LIMIT}."},
            )
            session.flash_input(request.form, only=["note"])
        else:
            session["note"] = note
            session.flash("message", "Saved")
        return _redirect("/profile")
    query = request.args.get("q", "").strip()
    errors = session.get("errors") or {}
    content = _render(
        pages.PROFILE,
        user=session["user"],
        since=session.get("since", "?"),
        hidden=hidden_input(environ),
        csrf=csrf_input(environ),
        query=query,
        results=_search_results(query),
        note=session.old("note", session.get("note", "")),
        note_error=_error(errors, "note"),
        limit=NOTE_LIMIT,
    )
    return _page(environ, "Your profile", content)


def logout(environ: WSGIEnviron, request: Request) -> _Response:
    """``/logout``: POST ends the session; GET asks for the POST.

    >>> from werkzeug.test import Client
    >>> client = Client(make_demo_app())
    >>> '<form id="logout-page-form" method="post"' in client.get("/logout").text
    True
    >>> client.post("/logout").status_code  # a POST without its CSRF token
    403
    """
    session = get_session(environ)
    if request.method == "POST":
        session.destroy()
        session.flash("message", "Bye")  # lives in a fresh session with a fresh id
        return _redirect("/")
    content = _render(
        pages.LOGOUT, hidden=hidden_input(environ), csrf=csrf_input(environ)
    )
    return _page(environ, "Log out", content)


def sessions(environ: WSGIEnviron, request: Request) -> _Response:
    """``/sessions``: where the user is signed in; POST logs out the others.

    >>> from werkzeug.test import Client
    >>> page = Client(make_demo_app()).get("/sessions", follow_redirects=True)
    >>> page.request.path, "Please log in first." in page.text
    ('/login', True)
    """
    session = get_session(environ)
    if "user" not in session:
        session.flash("message", "Please log in first.")
        return _redirect("/login")
    if request.method == "POST":
        ended = session.end_other_sessions()
        others = "other session" if ended == 1 else "other sessions"
        session.flash("message", f"Logged out {ended} {others}.")
        return _redirect("/sessions")
    rows = Markup("").join(
        _render(
            pages.SESSION_ROW,
            css="current" if info.current else "other",
            agent=(info.user_agent or "unknown browser")[:60],
            marker=Markup(" <strong>(this one)</strong>") if info.current else "",
            created=info.created.strftime("%H:%M UTC"),
            last_used=info.last_accessed.strftime("%H:%M:%S UTC"),
            tracking=info.tracking,
        )
        for info in session.user_sessions()
    )
    content = _render(
        pages.SESSIONS,
        user=session["user"],
        rows=rows,
        hidden=hidden_input(environ),
        csrf=csrf_input(environ),
    )
    return _page(environ, "Your sessions", content)


_ROUTES: dict[str, t.Callable[[WSGIEnviron, Request], _Response]] = {
    "/": home,
    "/login": login,
    "/profile": profile,
    "/logout": logout,
    "/sessions": sessions,
}
_POST_ROUTES = frozenset({"/login", "/profile", "/logout", "/sessions"})


def demo_app(environ: WSGIEnviron, start_response: StartResponse) -> Iterable[bytes]:
    """The demo as a plain WSGI app; it needs :class:`SessionMiddleware` around it.

    >>> from werkzeug.test import Client
    >>> Client(make_demo_app()).get("/nowhere").status_code
    404
    """
    request = Request(environ)
    path = request.path
    handler = _ROUTES.get(path)
    if handler is None:
        content = _render(pages.NOT_FOUND, home_url=rewrite_url(environ, "/"))
        response = _page(environ, "Not found", content, "404 Not Found")
    elif request.method not in ("GET", "HEAD") and not (
        request.method == "POST" and path in _POST_ROUTES
    ):
        allowed = "GET, HEAD, POST" if path in _POST_ROUTES else "GET, HEAD"
        response = _Response(
            "405 Method Not Allowed",
            [("Allow", allowed), ("Content-Type", "text/plain; charset=utf-8")],
            b"Method Not Allowed\n",
        )
    else:
        response = handler(environ, request)
        if response.status.startswith("303") and _binding_notice(environ):
            # Say it on the page the redirect leads to.
            get_session(environ).flash("notice", _BINDING_NOTICE)
    headers = [*response.headers, ("Content-Length", str(len(response.body)))]
    start_response(response.status, headers)
    return [] if request.method == "HEAD" else [response.body]


class DemoEvents(SessionEvents):
    """Records in the environ why a presented id was refused, for the page.

    >>> environ = {}
    >>> DemoEvents().rejected(environ, RejectReason.BINDING_MISMATCH)
    >>> environ[REJECTED_KEY]
    <RejectReason.BINDING_MISMATCH: 'binding_mismatch'>
    """

    def rejected(self, environ: WSGIEnviron, reason: RejectReason) -> None:
        """Keep ``reason`` in ``environ[REJECTED_KEY]``."""
        environ[REJECTED_KEY] = reason


class DemoRequestHandler(WSGIRequestHandler):
    """wsgiref's request handler whose log lines never show a session id.

    The value of the served middleware's ``url_param`` is replaced by
    ``<redacted>`` in every line (request lines and errors alike), as
    :func:`~wsgi_session.redact.redact_session_ids` does.

    >>> import contextlib, io
    >>> handler = DemoRequestHandler.__new__(DemoRequestHandler)  # one per connection
    >>> handler.client_address, handler.server = ("127.0.0.1", 50000), None
    >>> with contextlib.redirect_stderr(io.StringIO()) as log:
    ...     handler.log_message('"%s" %s -', "GET /profile?sid=abc.def HTTP/1.1", 200)
    >>> print(log.getvalue(), end="")
    127.0.0.1 - - [...] "GET /profile?sid=<redacted> HTTP/1.1" 200 -
    """

    def log_message(self, format: str, *args: t.Any) -> None:
        """Log like wsgiref does, with session ids masked."""
        get_app = getattr(self.server, "get_app", None)
        app = get_app() if get_app is not None else None
        param = app.settings.url_param if isinstance(app, SessionMiddleware) else "sid"
        super().log_message("%s", redact_session_ids(format % args, param))


_process_secret: list[str] = []
_process_secret_lock = threading.Lock()


def _secret_of_this_process() -> str:
    """A random secret key made once per process (never written anywhere)."""
    with _process_secret_lock:
        if not _process_secret:
            _process_secret.append(secrets.token_urlsafe(32))
        return _process_secret[0]


def make_demo_app(
    store: t.Any = "memory://",
    secret_key: str | bytes | list[str | bytes] | None = None,
    **options: t.Any,
) -> SessionMiddleware:
    """The demo wrapped by :class:`SessionMiddleware` with ``tracking="auto"``,
    ``user_key="user"`` and ``csrf="check"``.

    Unless ``events`` is given, :class:`DemoEvents` records refused ids for
    the page's notice.
    Without ``secret_key`` the app signs with a random key made once per
    process, so its sessions end when the process stops (fine for a demo).
    ``store`` is a store URL or a cachelib cache; other keyword arguments go
    to the middleware.

    >>> app = make_demo_app(idle_timeout=600)
    >>> app.settings.tracking, app.settings.idle_timeout
    ('auto', 600)
    """
    if secret_key is None:
        secret_key = _secret_of_this_process()
    options.setdefault("tracking", "auto")
    options.setdefault("events", DemoEvents())
    options.setdefault("user_key", "user")
    options.setdefault("csrf", "check")
    return SessionMiddleware(demo_app, secret_key=secret_key, store=store, **options)
