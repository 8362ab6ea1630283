"""``manage.py clearsessions``: delete expired sessions where the store keeps them.

Django's own command comes with ``django.contrib.sessions``, which a project
on the drop-in no longer needs in ``INSTALLED_APPS``; this one is the same
command (and the one Django runs when both apps are installed and ours is
listed first). With ``SESSION_ENGINE = "wsgi_session.django.engine"`` it
sweeps a SQL store and says how many sessions it deleted; stores with TTLs
expire sessions themselves, and it says so. Another engine's
``SessionStore.clear_expired()`` is called as Django's command does.
"""

from __future__ import annotations

import typing as t
from importlib import import_module

from django.core.management.base import BaseCommand, CommandError

from ...checks import ENGINE
from ...dropin import drop_in_middleware


class Command(BaseCommand):  # type: ignore[misc]  # django has no stubs
    """Delete the expired sessions of the session engine's store."""

    help = (
        "Delete expired sessions from stores that keep them (SQL); stores with "
        "TTLs (memory, file, Redis, Memcached) expire sessions themselves."
    )

    def handle(self, *args: t.Any, **options: t.Any) -> None:
        """Sweep the drop-in's store, or ask another engine to clear."""
        from django.conf import settings

        if settings.SESSION_ENGINE != ENGINE:
            store = import_module(settings.SESSION_ENGINE).SessionStore
            try:
                store.clear_expired()
            except NotImplementedError:
                raise CommandError(
                    f"session engine {settings.SESSION_ENGINE!r} cannot clear "
                    "expired sessions"
                ) from None
            return
        sweep = getattr(drop_in_middleware().backend, "sweep", None)
        if sweep is None:
            self.stdout.write("nothing to sweep: the store expires sessions itself")
            return
        count = sweep()
        self.stdout.write(f"deleted {count} expired session{'' if count == 1 else 's'}")
