"""``manage.py check`` for the drop-in: its settings, its session engine.

Registered by the app config of ``"wsgi_session.django"``:

* ``wsgi_session.E001``: ``WSGI_SESSION`` or a Django setting it reads is
  invalid (the message of the :class:`~wsgi_session.ConfigError`, naming
  the setting);
* ``wsgi_session.W001``: ``wsgi_session.django.SessionMiddleware`` is in
  ``MIDDLEWARE`` but ``SESSION_ENGINE`` is another engine, so
  ``Client.login()``, ``client.session`` and ``SessionStore(key)`` would
  not reach the sessions ``request.session`` uses.
"""

from __future__ import annotations

import typing as t

from django.core import checks

from ..errors import ConfigError
from .dropin import drop_in_middleware

__all__ = ["ENGINE", "MIDDLEWARE", "check_drop_in"]

#: The drop-in's names as settings spell them.
ENGINE = "wsgi_session.django.engine"
MIDDLEWARE = "wsgi_session.django.SessionMiddleware"


def check_drop_in(
    app_configs: t.Any = None, **kwargs: t.Any
) -> list[checks.CheckMessage]:
    """The drop-in's system checks (see the module docstring)."""
    from django.conf import settings

    found: list[checks.CheckMessage] = []
    try:
        drop_in_middleware(settings)
    except ConfigError as exc:
        found.append(
            checks.Error(
                str(exc),
                hint="WSGI_SESSION takes wsgi_session.SessionMiddleware's options",
                id="wsgi_session.E001",
            )
        )
    middleware = list(getattr(settings, "MIDDLEWARE", None) or ())
    engine = getattr(settings, "SESSION_ENGINE", None)
    if MIDDLEWARE in middleware and engine != ENGINE:
        found.append(
            checks.Warning(
                f"SESSION_ENGINE is {engine!r}: Client.login(), client.session and "
                "SessionStore(key) will not reach the sessions of request.session",
                hint=f"SESSION_ENGINE = {ENGINE!r}",
                id="wsgi_session.W001",
            )
        )
    return found
