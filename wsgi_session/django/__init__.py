"""Django integration: ``request.session`` on wsgi_session, unchanged apps.

``settings.py`` of a project, in place of Django's own sessions::

    INSTALLED_APPS = [..., "wsgi_session.django"]  # {% load wsgi_session %}, checks
    MIDDLEWARE = [
        ...,
        "wsgi_session.django.SessionMiddleware",  # not django.contrib.sessions'
        ...,
    ]
    SESSION_ENGINE = "wsgi_session.django.engine"  # client.login(), clearsessions
    WSGI_SESSION = {"store": "redis://127.0.0.1:6379/0", "tracking": "auto"}

``request.session`` is then Django's ``SessionBase`` API over a server-side
wsgi_session session (auth, messages, ``CSRF_USE_SESSIONS`` and views work
unchanged), and ``request.wsgi_session`` the same session as a
:class:`wsgi_session.Session`. ``WSGI_SESSION`` takes
:class:`wsgi_session.SessionMiddleware`'s options; the ones it leaves unset
follow Django's ``SECRET_KEY`` and ``SESSION_*`` settings. The middleware
works with or without ``wsgi_session.SessionMiddleware`` wrapping the WSGI
application; the template tags (``{% rewrite_url %}``, ``{% session_input %}``)
and :func:`context_processor` add the session id to links and forms in URL
mode. Importing this package does not import Django.

>>> from wsgi_session.django import SessionMiddleware
>>> SessionMiddleware.__mro__[1].__module__
'django.contrib.sessions.middleware'
"""

from __future__ import annotations

import importlib
import typing as t

if t.TYPE_CHECKING:  # pragma: no cover
    from .context_processors import context_processor as context_processor
    from .middleware import SessionMiddleware as SessionMiddleware
    from .middleware import request_session as request_session

__all__ = ["SessionMiddleware", "context_processor", "request_session"]

#: Where each public name lives (imported on first use: they import Django).
_LAZY = {
    "SessionMiddleware": ".middleware",
    "request_session": ".middleware",
    "context_processor": ".context_processors",
}


def __getattr__(name: str) -> t.Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module, __name__), name)
