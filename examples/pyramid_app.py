"""A Pyramid app on wsgi_session: ``config.include("wsgi_session.pyramid")``.

The views use Pyramid's own APIs only: ``request.session`` (flash queues, the
CSRF token), ``SessionAuthenticationHelper`` for the login, and
``require_csrf`` on every POST. The session lives server-side in
wsgi_session's store, configured by ``wsgi_session.*`` settings; with
``wsgi_session.tracking = url`` (and ``rewrite_html``) it survives in
browsers that refuse cookies: the id travels in the links, forms and
redirects.

Run ``python examples/pyramid_app.py [port] [cookie|url]`` (port 0 picks a
free one); it sets a development ``PYRAMID_SESSION_SECRET`` if the
environment has none.
"""

from __future__ import annotations

import contextlib
import html
import os
import sys
import typing as t
import warnings
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIServer, make_server

with warnings.catch_warnings():  # WebOb imports cgi, deprecated since Python 3.11
    warnings.simplefilter("ignore", DeprecationWarning)
    from pyramid.authentication import SessionAuthenticationHelper
    from pyramid.config import Configurator
    from pyramid.httpexceptions import HTTPSeeOther
    from pyramid.response import Response

helper = SessionAuthenticationHelper()


def home(request: t.Any) -> Response:
    """The page: flash messages, who is signed in, the login / logout form."""
    session = request.session
    notes = "".join(
        f"<p class=flash>{html.escape(str(m))}</p>" for m in session.pop_flash()
    )
    user = helper.authenticated_userid(request)
    token = (
        f'<input type="hidden" name="csrf_token" value="{session.get_csrf_token()}">'
    )
    if user:
        who = f"<p id=user>Signed in as {html.escape(user)}</p>"
        form = (
            f'<form method="post" action="/logout">{token}'
            "<button>Sign out</button></form>"
        )
    else:
        who = "<p id=user>Not signed in</p>"
        form = (
            f'<form method="post" action="/login">{token}'
            '<input name="user" aria-label="User"><button>Sign in</button></form>'
        )
    body = (
        "<!doctype html><title>Pyramid example</title><h1>Pyramid example</h1>"
        f'{notes}{who}{form}<p><a href="/">Reload</a></p>'
    )
    return Response(body, content_type="text/html")


def login(request: t.Any) -> HTTPSeeOther:
    """Sign in (the CSRF token was checked by require_csrf)."""
    user = request.POST.get("user", "").strip()[:40]
    if not user:
        request.session.flash("Please give a user name.")
        return HTTPSeeOther(location="/")
    headers = helper.remember(request, user)
    request.session.flash(f"Welcome, {user}!")
    return HTTPSeeOther(location="/", headers=headers)


def logout(request: t.Any) -> HTTPSeeOther:
    """Sign out: the user id leaves the session."""
    headers = helper.forget(request)
    request.session.flash("Signed out.")
    return HTTPSeeOther(location="/", headers=headers)


def make_app(
    tracking: str = "cookie", settings: t.Mapping[str, t.Any] | None = None
) -> t.Any:
    """The WSGI app; ``tracking`` ``"url"`` keeps sessions without cookies."""
    secret = os.environ.get("PYRAMID_SESSION_SECRET", "pyramid-example-secret")
    config_settings = {
        "wsgi_session.secret_key": secret,
        "wsgi_session.store": "memory://",
        "wsgi_session.tracking": tracking,
        "wsgi_session.rewrite_html": "true",
        **(settings or {}),
    }
    return paste_app({}, **config_settings)


def paste_app(global_config: t.Mapping[str, str], **settings: str) -> t.Any:
    """The ``paste.app_factory`` for a PasteDeploy pipeline whose
    ``[filter:session]`` (``use = egg:wsgi_session#session``) has the session
    configuration: the app's own settings then need no ``wsgi_session.*`` key,
    and ``request.session`` is the filter's session."""
    with Configurator(settings=settings) as config:
        config.include("wsgi_session.pyramid")
        config.set_default_csrf_options(require_csrf=True)
        config.add_route("home", "/")
        config.add_route("login", "/login")
        config.add_route("logout", "/logout")
        config.add_view(home, route_name="home", request_method="GET")
        config.add_view(login, route_name="login", request_method="POST")
        config.add_view(logout, route_name="logout", request_method="POST")
        return config.make_wsgi_app()


class ThreadingServer(ThreadingMixIn, WSGIServer):
    """wsgiref's server, one thread per request, so that Ctrl-C always
    reaches the loop."""

    daemon_threads = True


def main(argv: list[str] | None = None) -> None:
    """Serve on 127.0.0.1 (port from argv[0] or 8000, tracking from argv[1])."""
    args = sys.argv[1:] if argv is None else argv
    port = int(args[0]) if args else 8000
    tracking = args[1] if len(args) > 1 else "cookie"
    app = make_app(tracking)
    with make_server("127.0.0.1", port, app, ThreadingServer) as server:
        url = f"http://127.0.0.1:{server.server_port}/"
        print(f"Pyramid example running on {url}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C stops quietly
            server.serve_forever()


if __name__ == "__main__":
    main()
