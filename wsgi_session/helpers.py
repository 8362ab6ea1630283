"""The helpers applications call in templates and views.

``rewrite_url`` and ``hidden_input`` consult the request context the
middleware put in the environ and are no-ops in cookie mode and before the
session's first write; ``csrf_input`` and ``check_csrf`` are the CSRF token
of §13.2 in a form, and the check of a request by hand.

>>> rewrite_url({}, "/cart?x=1")
'/cart?x=1'
>>> str(hidden_input({}))
''
"""

from __future__ import annotations

import typing as t

from markupsafe import Markup

from .context import CONTEXT_KEY
from .csrf import FIELD_NAME
from .csrfcheck import check_request
from .errors import CSRFError
from .events import RejectReason, dispatch
from .rewrite import add_session_param, hidden_input_markup, request_origin

__all__ = ["check_csrf", "csrf_input", "hidden_input", "rewrite_url"]


def _token(environ: t.Mapping[str, t.Any]) -> tuple[str, str] | None:
    context = environ.get(CONTEXT_KEY)
    if context is None:
        return None
    token = context.url_token()
    return None if token is None else (context.url_param, token)


def rewrite_url(environ: t.Mapping[str, t.Any], url: str) -> str:
    """Add the session id to a same-origin ``url`` when URL tracking is active.

    Other hosts, ``javascript:``, ``mailto:`` and fragment-only URLs are
    returned unchanged, as is everything in cookie mode.

    >>> from wsgi_session import SessionMiddleware
    >>> from wsgi_session.context import RequestContext
    >>> mw = SessionMiddleware(lambda e, s: [], secret_key="k", tracking="url")
    >>> environ = {"HTTP_HOST": "example.org"}
    >>> RequestContext(mw, environ).session["n"] = 1  # the first write makes the id
    >>> rewrite_url(environ, "/cart?x=1")
    '/cart?x=1&sid=...'
    >>> rewrite_url(environ, "https://other.example/")
    'https://other.example/'
    """
    found = _token(environ)
    if found is None:
        return url
    param, token = found
    rewritten = add_session_param(
        url, param=param, token=token, origin=request_origin(environ)
    )
    if rewritten != url:
        environ[CONTEXT_KEY].exposed = True
    return rewritten


def hidden_input(environ: t.Mapping[str, t.Any]) -> Markup:
    """A hidden form input carrying the session id, or an empty Markup.

    GET forms need it: browsers drop the query string of a form's action.

    >>> from wsgi_session import SessionMiddleware
    >>> from wsgi_session.context import RequestContext
    >>> mw = SessionMiddleware(lambda e, s: [], secret_key="k", tracking="url")
    >>> environ = {"HTTP_HOST": "example.org"}
    >>> RequestContext(mw, environ).session["n"] = 1
    >>> str(hidden_input(environ))
    '<input type="hidden" name="sid" value="...">'
    """
    found = _token(environ)
    if found is None:
        return Markup("")
    environ[CONTEXT_KEY].exposed = True
    return hidden_input_markup(*found)


def _context(environ: t.Mapping[str, t.Any]) -> t.Any:
    context = environ.get(CONTEXT_KEY)
    if context is None:
        raise LookupError(
            "no wsgi_session in this environ: is the app wrapped by SessionMiddleware?"
        )
    return context


def csrf_input(environ: t.Mapping[str, t.Any]) -> Markup:
    """A hidden ``csrf_token`` input with a fresh token of the request's session.

    Works in every tracking mode (the token never goes into a URL); the
    session's CSRF secret is made on first use.

    >>> from wsgi_session import SessionMiddleware
    >>> from wsgi_session.context import RequestContext
    >>> environ = {}
    >>> _ = RequestContext(SessionMiddleware(lambda e, s: [], secret_key="k"), environ)
    >>> str(csrf_input(environ))
    '<input type="hidden" name="csrf_token" value="...">'
    """
    token = _context(environ).session.csrf_token()
    return Markup('<input type="hidden" name="%s" value="%s">') % (FIELD_NAME, token)


def check_csrf(environ: t.Mapping[str, t.Any]) -> None:
    """Check the request's CSRF token by hand; raise :class:`~wsgi_session.CSRFError`.

    The token is the ``X-CSRF-Token`` header or the ``csrf_token`` field of a
    form body (read without consuming it); on HTTPS the Origin (or Referer)
    must be the request's own. A refusal fires ``rejected(environ,
    RejectReason.CSRF_FAILED)``.

    >>> from wsgi_session import SessionMiddleware
    >>> from wsgi_session.context import RequestContext
    >>> mw = SessionMiddleware(lambda e, s: [], secret_key="k")
    >>> environ = {"REQUEST_METHOD": "POST"}
    >>> context = RequestContext(mw, environ)
    >>> check_csrf(environ)
    Traceback (most recent call last):
    ...
    wsgi_session.errors.CSRFError: no CSRF token
    >>> environ["HTTP_X_CSRF_TOKEN"] = context.session.csrf_token()
    >>> check_csrf(environ)  # accepted: returns None
    """
    context = _context(environ)
    why = check_request(context)
    if why is not None:
        dispatch(context.settings.events, "rejected", environ, RejectReason.CSRF_FAILED)
        raise CSRFError(why)
