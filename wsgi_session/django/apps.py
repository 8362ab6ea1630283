"""The Django ``AppConfig`` of ``wsgi_session.django`` (label ``wsgi_session``).

Listing ``"wsgi_session.django"`` in ``INSTALLED_APPS`` is what makes
``{% load wsgi_session %}`` available and registers the drop-in's system
checks (``manage.py check``); the app has no models.

>>> WsgiSessionConfig.label
'wsgi_session'
"""

from __future__ import annotations

from django.apps import AppConfig

__all__ = ["WsgiSessionConfig"]


class WsgiSessionConfig(AppConfig):  # type: ignore[misc]  # django has no stubs
    """The app registered by ``INSTALLED_APPS = [..., "wsgi_session.django"]``.

    >>> WsgiSessionConfig.name
    'wsgi_session.django'
    """

    name = "wsgi_session.django"
    label = "wsgi_session"
    verbose_name = "WSGI sessions"
    default = True

    def ready(self) -> None:
        """Register the drop-in's system checks (:mod:`.checks`)."""
        from django.core import checks

        from .checks import check_drop_in

        checks.register(check_drop_in)
