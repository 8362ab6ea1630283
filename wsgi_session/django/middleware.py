"""Django's ``SessionMiddleware``: put the WSGI session on ``request.wsgi_session``.

The session itself is created by :class:`wsgi_session.SessionMiddleware`
wrapping Django's WSGI application; this Django middleware only hands the
request's session to views, and fails loudly when that wrapper is missing.

>>> from types import SimpleNamespace
>>> request_session(SimpleNamespace(environ={}))
Traceback (most recent call last):
...
django.core.exceptions.ImproperlyConfigured: wsgi_session is not set up for this ...
"""

from __future__ import annotations

import typing as t

from django.core.exceptions import ImproperlyConfigured

from ..middleware import get_session
from ..session import Session

__all__ = ["NOT_WRAPPED", "SessionMiddleware", "request_session"]

#: The message of the error raised for a request that did not go through the wrapper.
NOT_WRAPPED = (
    "wsgi_session is not set up for this request: wrap Django's WSGI application "
    "with wsgi_session.SessionMiddleware in your wsgi.py, e.g. "
    "'application = SessionMiddleware(get_wsgi_application(), secret_key=...)', "
    "and serve that 'application' (WSGI_APPLICATION / your server's entry point). "
    "django.test.Client bypasses wsgi.py: test with "
    "werkzeug.test.Client(application) instead."
)

#: The message for a request without a WSGI environ (ASGI).
NO_ENVIRON = (
    "wsgi_session works under WSGI only: this request has no WSGI environ "
    "(is the project served through asgi.py?)"
)


def request_session(request: t.Any) -> Session:
    """Return the session of a Django request served through the WSGI wrapper.

    Raises :class:`~django.core.exceptions.ImproperlyConfigured`, explaining
    how to wrap the application, when the request did not go through
    :class:`wsgi_session.SessionMiddleware`.

    >>> from types import SimpleNamespace
    >>> request_session(SimpleNamespace())
    Traceback (most recent call last):
    ...
    django.core.exceptions.ImproperlyConfigured: wsgi_session works under WSGI only...
    """
    environ = getattr(request, "environ", None)
    if environ is None:
        raise ImproperlyConfigured(NO_ENVIRON)
    try:
        return get_session(environ)
    except LookupError:
        raise ImproperlyConfigured(NOT_WRAPPED) from None


class SessionMiddleware:
    """Django middleware that sets ``request.wsgi_session`` for views.

    ``MIDDLEWARE = [..., "wsgi_session.django.SessionMiddleware"]``; then in a
    view::

        def login(request):
            request.wsgi_session["user_id"] = user.pk
            request.wsgi_session.regenerate()  # after login: session fixation

    The session stays lazy: the store is read only when a view touches it.

    >>> from types import SimpleNamespace
    >>> middleware = SessionMiddleware(lambda request: "response")
    >>> middleware(SimpleNamespace(environ={}))
    Traceback (most recent call last):
    ...
    django.core.exceptions.ImproperlyConfigured: wsgi_session is not set up for this ...
    """

    sync_capable = True
    async_capable = False

    def __init__(self, get_response: t.Callable[[t.Any], t.Any]) -> None:
        self.get_response = get_response

    def __call__(self, request: t.Any) -> t.Any:
        request.wsgi_session = request_session(request)
        return self.get_response(request)
