"""One request under Flask: :class:`FlaskRequestContext`.

The request pipeline with the steps of the request's Flask profile (its
signing keys, :class:`~wsgi_session.flask.cookies.FlaskIdResolver` and
:class:`~wsgi_session.flask.cookies.FlaskCookiePolicy`), and in replace mode
one step of its own: before the save, a permanent session gets
``PERMANENT_SESSION_LIFETIME`` as its idle timeout.
"""

from __future__ import annotations

import typing as t

from ..middleware import RequestContext
from .profile import _Profile

if t.TYPE_CHECKING:  # pragma: no cover
    from ..middleware import WSGIEnviron
    from .middleware import FlaskSessionMiddleware
    from .sessions import FlaskSession


class FlaskRequestContext(RequestContext):
    """The request pipeline under Flask: keys and cookie rules per request."""

    __slots__ = ("detached", "permanent", "profile")

    middleware: FlaskSessionMiddleware

    def __init__(
        self,
        middleware: FlaskSessionMiddleware,
        environ: WSGIEnviron,
        profile: _Profile,
    ) -> None:
        super().__init__(
            middleware,
            environ,
            resolver=profile.resolver,
            cookie_policy=profile.cookie_policy,
        )
        self.profile = profile
        #: True when opened outside a WSGI call through the middleware
        #: (``app.test_request_context()``); in replace mode Flask's
        #: ``save_session`` saves it, and (with ``concurrency="lock"``)
        #: Flask's teardown releases its lock.
        self.detached = False
        #: The session being saved is permanent (replace mode; read by the
        #: cookie policy).
        self.permanent = False

    def prepare_save(self) -> None:
        """In replace mode, a permanent session lives ``PERMANENT_SESSION_LIFETIME``
        seconds since its last use; one that stops being permanent gets the
        ``idle_timeout`` back."""
        super().prepare_save()
        if not self.middleware.replace:
            return
        session: FlaskSession = self.session  # type: ignore[assignment]
        self.permanent = session.sync_timeout(
            self.profile.lifetime, self.settings.idle_timeout
        )
