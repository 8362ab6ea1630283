"""Django's ``SessionMiddleware``, with ``request.session`` on wsgi_session.

``MIDDLEWARE = [..., "wsgi_session.django.SessionMiddleware", ...]`` in place
of ``django.contrib.sessions.middleware.SessionMiddleware`` (a subclass of it:
the admin's check ``admin.E410`` and code that calls ``process_request()`` /
``process_response()`` keep working). Each request gets

* ``request.session``: a :class:`~wsgi_session.django.session.DjangoSession`,
  Django's ``SessionBase`` API over the request's wsgi_session session;
* ``request.wsgi_session``: that :class:`~wsgi_session.Session` itself.

Under the WSGI wrapper (``SessionMiddleware(get_wsgi_application())`` in
``wsgi.py``) the session is the environ's, and the wrapper saves it. Without
it (``runserver``, ``django.test.Client``) this middleware opens the session
from ``request.environ`` through the drop-in's pipeline
(:func:`~wsgi_session.django.dropin.drop_in_middleware`) and, after the view,
saves it and gives the response exactly the headers the wrapper would
(:func:`~wsgi_session.finish.finish_headers`; HTML rewriting with
``rewrite_html``): the same code path. A store outage is a ``503``.

>>> from types import SimpleNamespace
>>> request_session(SimpleNamespace(environ={}))
Traceback (most recent call last):
...
django.core.exceptions.ImproperlyConfigured: wsgi_session is not set up for this ...
"""

from __future__ import annotations

import io
import typing as t
from http.cookies import SimpleCookie

from django.contrib.sessions.exceptions import SessionInterrupted
from django.contrib.sessions.middleware import (
    SessionMiddleware as DjangoSessionMiddleware,
)
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpResponse

from ..context import CONTEXT_KEY, RequestContext
from ..errors import StoreUnavailable
from ..finish import (
    finish_headers,
    rewrite_body,
    unavailable_response,
    untouched_headers,
    wants_html_rewrite,
)
from ..middleware import get_session
from ..session import Session
from .dropin import DropInMiddleware, drop_in_middleware
from .session import DjangoSession

__all__ = ["NOT_WRAPPED", "SessionMiddleware", "request_session"]

#: The message of the error raised for a request that has no wsgi_session.
NOT_WRAPPED = (
    "wsgi_session is not set up for this request: list "
    "'wsgi_session.django.SessionMiddleware' in MIDDLEWARE (in place of "
    "Django's SessionMiddleware), or wrap Django's WSGI application with "
    "wsgi_session.SessionMiddleware in your wsgi.py, e.g. "
    "'application = SessionMiddleware(get_wsgi_application(), secret_key=...)'"
)

_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def request_session(request: t.Any) -> Session:
    """Return the wsgi_session session of a Django request.

    Raises :class:`~django.core.exceptions.ImproperlyConfigured`, saying how
    to set wsgi_session up, for a request that has none.

    >>> from types import SimpleNamespace
    >>> request_session(SimpleNamespace(META={}))
    Traceback (most recent call last):
    ...
    django.core.exceptions.ImproperlyConfigured: wsgi_session is not set up ...
    """
    session = getattr(request, "wsgi_session", None)
    if isinstance(session, Session):
        return session
    try:
        return get_session(_environ(request))
    except LookupError:
        raise ImproperlyConfigured(NOT_WRAPPED) from None


def _environ(request: t.Any) -> dict[str, t.Any]:
    """The request's WSGI environ (an ASGI request's ``META`` stands in, told
    the request's scheme: Secure cookies on HTTPS)."""
    environ = getattr(request, "environ", None)
    if environ is None:
        environ = request.META
        scheme = getattr(request, "scheme", None)
        if scheme:
            environ.setdefault("wsgi.url_scheme", scheme)
    return t.cast(t.Dict[str, t.Any], environ)


def _owned(context: RequestContext) -> bool:
    """True when this middleware opened the session (no WSGI wrapper)."""
    return isinstance(context.middleware, DropInMiddleware)


class SessionMiddleware(DjangoSessionMiddleware):  # type: ignore[misc]
    """``request.session`` and ``request.wsgi_session`` from wsgi_session.

    A view::

        def login(request):
            user = authenticate(request, ...)
            auth.login(request, user)  # cycle_key(): a new session id
            request.session["cart"] = []
            return redirect("/")  # in URL mode the Location gets the id

    The settings (``WSGI_SESSION`` over Django's ``SESSION_*``) are checked
    when the middleware is built: a mistake is a
    :class:`~wsgi_session.ConfigError` naming it.
    """

    def __init__(self, get_response: t.Callable[[t.Any], t.Any]) -> None:
        super().__init__(get_response)
        drop_in_middleware()  # settings mistakes fail at start-up

    def process_request(self, request: t.Any) -> None:
        """Open the request's session (lazily: the store is read on first use)."""
        environ = _environ(request)
        context = environ.get(CONTEXT_KEY)
        if not isinstance(context, RequestContext):  # no WSGI wrapper in front
            middleware = drop_in_middleware()
            _keep_form_body(request, environ, middleware)
            context = middleware.request_context(environ)
            _cookie_from_request(request, context)
        request.wsgi_session = context.session
        request.session = DjangoSession.of(context)

    def process_response(self, request: t.Any, response: t.Any) -> t.Any:
        """Save the session this middleware opened and give the response its
        headers (under the WSGI wrapper, the wrapper does both)."""
        session = getattr(request, "session", None)
        if not isinstance(session, DjangoSession):  # a view put another there
            return super().process_response(request, response)
        context = session.context
        if not _owned(context):
            if drop_in_middleware().save_every_request and not session.is_empty():
                session.wsgi_session.modified = True
            return response
        try:
            return _finish(context, session, response)
        except StoreUnavailable:
            return _unavailable()
        finally:
            context.release()
            context.suspended()

    def process_exception(self, request: t.Any, exception: Exception) -> t.Any:
        """A view that could not reach the store gets a ``503`` (no traceback)."""
        if isinstance(exception, StoreUnavailable):
            return _unavailable()
        return None


def _cookie_from_request(request: t.Any, context: RequestContext) -> None:
    """Read the session cookie from ``request.COOKIES``, as Django's middleware
    does, when the Cookie header did not bring it (code before this middleware,
    or a test, may have set it there)."""
    presented = context.presented
    if presented.cookie_values:
        return
    value = request.COOKIES.get(context.cookies.name)
    if value:
        context.presented = presented._replace(
            cookie_values=(value,), cookie_seen=True, has_our_cookie=True
        )


def _keep_form_body(
    request: t.Any, environ: dict[str, t.Any], middleware: DropInMiddleware
) -> None:
    """Let the pipeline look for a URL id in a small form body without taking
    it from Django: Django reads the body first and the pipeline reads a copy."""
    settings = middleware.settings
    if settings.tracking == "cookie" or environ.get("REQUEST_METHOD") != "POST":
        return
    ctype = str(environ.get("CONTENT_TYPE", "")).split(";")[0].strip().lower()
    if ctype not in _FORM_TYPES:
        return
    try:
        length = int(environ.get("CONTENT_LENGTH") or "")
    except ValueError:
        return
    if 0 < length <= settings.url_body_limit:
        try:
            body = request.body
        except Exception:  # too big for Django, or a broken stream: Django says so
            return
        environ["wsgi.input"] = io.BytesIO(body)


def _finish(context: RequestContext, session: DjangoSession, response: t.Any) -> t.Any:
    """Save the session and put the wrapper's headers on ``response``."""
    original = list(response.items())  # Django keeps header values as str
    headers = original
    state = session.wsgi_session.state
    if response.status_code >= 500:  # as Django: no session save for 5xx
        headers = untouched_headers(context, headers)
    else:
        middleware = t.cast(DropInMiddleware, context.middleware)
        if middleware.save_every_request and not session.is_empty():
            state.force(True)
        if context.settings.rewrite_html and not response.streaming:
            status = f"{response.status_code} {response.reason_phrase}"
            if wants_html_rewrite(context, status, headers):
                headers, body = rewrite_body(context, headers, response.content)
                response.content = body
        live = state.loaded and state.stored and not state.destroyed
        modified = state.modified
        headers = finish_headers(context, headers)
        if live and modified and state.destroyed and state.has_data:
            raise SessionInterrupted(
                "The request's session was deleted before the request completed. "
                "The user may have logged out in a concurrent request, for example."
            )
    kept = len(original)
    for i, (name, value) in enumerate(headers):  # the app's come first
        if i < kept and original[i] == (name, value):
            continue
        if name.lower() == "set-cookie":
            _set_cookie(response, value, context)
        else:
            response[name] = value
    return response


#: ``Set-Cookie`` attributes as keyword arguments of Django's ``set_cookie()``
#: (``Expires`` is left out: Django derives it from ``Max-Age``, as Werkzeug did).
_COOKIE_OPTIONS = {"max-age": "max_age", "path": "path", "domain": "domain"}
_COOKIE_FLAGS = {"secure": "secure", "httponly": "httponly"}


def _cookie_options(header: str) -> tuple[str, str, dict[str, t.Any]] | None:
    """``(name, value, set_cookie() options)`` of a header the pipeline built,
    or None for one this reading does not cover (quoted values, other
    attributes).

    >>> _cookie_options("sessionid=abc.def; Expires=Wed, 16 Dec 2026 15:36:53 GMT; "
    ...                 "Max-Age=60; HttpOnly; Path=/; SameSite=Lax")
    ('sessionid', 'abc.def',
     {'max_age': 60, 'httponly': True, 'path': '/', 'samesite': 'Lax'})
    >>> _cookie_options('sessionid="a b"; Path=/') is None
    True
    """
    pair, *attributes = header.split("; ")
    name, _, value = pair.partition("=")
    if value.startswith('"'):
        return None
    options: dict[str, t.Any] = {}
    for attribute in attributes:
        key, _, text = attribute.partition("=")
        key = key.lower()
        if key in _COOKIE_OPTIONS:
            options[_COOKIE_OPTIONS[key]] = int(text) if key == "max-age" else text
        elif key in _COOKIE_FLAGS:
            options[_COOKIE_FLAGS[key]] = True
        elif key == "samesite":
            options["samesite"] = text
        elif key != "expires":
            return None
    return name, value, options


def _set_cookie(response: t.Any, header: str, context: RequestContext) -> None:
    """Put a ``Set-Cookie`` value of the pipeline on a Django response, as
    Django's ``set_cookie()`` would (an expired session cookie as Django's own
    middleware deletes it)."""
    found = _cookie_options(header)
    if found is None:  # a form set_cookie() cannot take: Django's cookie parser
        jar: SimpleCookie = SimpleCookie()
        jar.load(header)
        for name, morsel in jar.items():
            response.cookies[name] = morsel
        return
    name, value, options = found
    profile = context.cookies
    if name == profile.name and options.get("max_age") == 0:
        response.delete_cookie(
            name, path=profile.path, domain=profile.domain, samesite=profile.samesite
        )
    else:
        response.set_cookie(name, value, **options)


def _unavailable() -> HttpResponse:
    """The ``503`` of a store outage (the WSGI wrapper's)."""
    status, headers, body = unavailable_response()
    response = HttpResponse(body, status=int(status[:3]))
    for name, value in headers:
        response[name] = value
    return response
