"""The template context processor: ``wsgi_session`` and ``session_input``.

``TEMPLATES[...]["OPTIONS"]["context_processors"]`` lists
``"wsgi_session.django.context_processor"``; templates then read
``{{ wsgi_session.user_id }}`` and put ``{{ session_input }}`` in forms.

>>> from types import SimpleNamespace
>>> context_processor(SimpleNamespace(environ={}))
Traceback (most recent call last):
...
django.core.exceptions.ImproperlyConfigured: wsgi_session is not set up for this ...
"""

from __future__ import annotations

import typing as t

from ..helpers import hidden_input
from .middleware import request_session

__all__ = ["context_processor"]


def context_processor(request: t.Any) -> dict[str, t.Any]:
    """Add the request's session and its hidden form input to template contexts.

    ``wsgi_session`` is the session (loaded only if the template reads it);
    ``session_input`` is :func:`wsgi_session.hidden_input` as computed when
    rendering starts: a ``Markup``, which Django does not escape, and empty
    in cookie mode. Raises ``ImproperlyConfigured`` when the application is
    not wrapped by :class:`wsgi_session.SessionMiddleware`.

    >>> from types import SimpleNamespace
    >>> from werkzeug.test import Client
    >>> from wsgi_session import SessionMiddleware
    >>> def app(environ, start_response):
    ...     request = SimpleNamespace(environ=environ)
    ...     context = context_processor(request)
    ...     start_response("200 OK", [])
    ...     return [repr(sorted(context)).encode()]
    >>> Client(SessionMiddleware(app, secret_key="k")).get("/").text
    "['session_input', 'wsgi_session']"
    """
    session = request_session(request)
    return {"wsgi_session": session, "session_input": hidden_input(request.environ)}
