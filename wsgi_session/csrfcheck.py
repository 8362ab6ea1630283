"""Whether a request's CSRF token is accepted (SPEC §13.2).

With ``csrf="check"`` the middleware asks :func:`refusal` before the app
runs: a POST, PUT, PATCH or DELETE outside ``csrf_exempt`` must carry a token
of its session (header ``X-CSRF-Token``, or form field ``csrf_token`` of a
urlencoded or multipart body, read without consuming it), and on HTTPS come
from the request's own origin. :func:`check_request` is the same check for an
application that checks by hand. The tokens themselves are
:mod:`wsgi_session.csrf`'s.

>>> from wsgi_session import SessionMiddleware
>>> mw = SessionMiddleware(lambda e, s: [], secret_key="k", csrf="check")
>>> from wsgi_session.context import RequestContext
>>> post = RequestContext(mw, {"REQUEST_METHOD": "POST", "PATH_INFO": "/"})
>>> refusal(post)
'no CSRF token'
>>> refusal(RequestContext(mw, {"REQUEST_METHOD": "GET"})) is None
True
"""

from __future__ import annotations

import typing as t

from .csrf import FIELD_NAME, HEADER_ENVIRON_KEY, is_exempt, origin_refusal
from .tracking import form_field
from .urlparts import request_origin

if t.TYPE_CHECKING:  # pragma: no cover
    from .context import RequestContext

__all__ = ["CHECKED_METHODS", "check_request", "presented_token", "refusal"]

#: The methods ``csrf="check"`` checks (§13.2).
CHECKED_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def presented_token(request: RequestContext) -> str | None:
    """The token the request carries: the header, else the form field.

    The form field is read from a urlencoded or multipart body without
    consuming it; None when neither is there.

    >>> from wsgi_session import SessionMiddleware
    >>> from wsgi_session.context import RequestContext
    >>> mw = SessionMiddleware(lambda e, s: [], secret_key="k")
    >>> presented_token(RequestContext(mw, {"HTTP_X_CSRF_TOKEN": "abc"}))
    'abc'
    >>> presented_token(RequestContext(mw, {})) is None
    True
    """
    environ = request.environ
    header = environ.get(HEADER_ENVIRON_KEY)
    if isinstance(header, str) and header:
        return header
    return form_field(environ, FIELD_NAME, request.settings.url_body_limit)


def check_request(request: RequestContext) -> str | None:
    """Why the request's token (and, on HTTPS, its origin) is refused, or None.

    Loads the session (its secret verifies the token); raises
    StoreUnavailable when the store is down.

    >>> from wsgi_session import SessionMiddleware
    >>> from wsgi_session.context import RequestContext
    >>> request = RequestContext(SessionMiddleware(lambda e, s: [], secret_key="k"), {})
    >>> request.environ["HTTP_X_CSRF_TOKEN"] = "forged"
    >>> check_request(request)
    'the CSRF token does not belong to this session'
    >>> request.environ["HTTP_X_CSRF_TOKEN"] = request.session.csrf_token()
    >>> check_request(request) is None
    True
    """
    why = origin_refusal(request.environ, request_origin(request.environ))
    if why is not None:
        return why
    token = presented_token(request)
    if token is None:
        return "no CSRF token"
    if not request.session.check_csrf(token):
        return "the CSRF token does not belong to this session"
    return None


def refusal(request: RequestContext) -> str | None:
    """Why ``csrf="check"`` refuses this request before the app, or None.

    Only the methods of :data:`CHECKED_METHODS` outside ``csrf_exempt`` are
    checked, with :func:`check_request`.

    >>> from wsgi_session import SessionMiddleware
    >>> from wsgi_session.context import RequestContext
    >>> mw = SessionMiddleware(lambda e, s: [], secret_key="k", csrf_exempt="/hooks/")
    >>> post = {"REQUEST_METHOD": "POST", "PATH_INFO": "/hooks/payment"}
    >>> refusal(RequestContext(mw, post)) is None  # an exempt path
    True
    """
    environ = request.environ
    method = str(environ.get("REQUEST_METHOD", "GET")).upper()
    if method not in CHECKED_METHODS:
        return None
    if is_exempt(str(environ.get("PATH_INFO", "")), request.settings.csrf_exempt):
        return None
    return check_request(request)
