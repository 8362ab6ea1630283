"""One request under Flask: :class:`FlaskRequestContext`.

Uses the request's profile for signing and cookies, and in replace mode
applies Flask's cookie policy (permanent cookies, refresh on every request,
the permanent hint, foreign cookies kept) when the session is saved.
"""

from __future__ import annotations

import logging
import typing as t

from ..errors import StoreUnavailable
from ..middleware import RequestContext
from .profile import PERMANENT_HINT, _Profile, _split_hint

if t.TYPE_CHECKING:  # pragma: no cover
    from ..middleware import WSGIEnviron
    from .middleware import FlaskSessionMiddleware
    from .sessions import FlaskSession

log = logging.getLogger("wsgi_session")


class FlaskRequestContext(RequestContext):
    """The request coordinator under Flask: cookie profile and keys per request.

    In replace mode it also applies Flask's cookie policy: a permanent
    session gets a persistent cookie of ``PERMANENT_SESSION_LIFETIME``, sent
    again whenever the session is modified or, with
    ``SESSION_REFRESH_EACH_REQUEST``, on every request.

    A permanent session's cookie value ends in :data:`PERMANENT_HINT`, so a
    request that never touches the session refreshes that cookie (the same
    value, a new Max-Age) without loading the session from the store. The hint
    is not signed and need not be: it only makes the server re-send, with the
    permanent lifetime, a cookie whose signed id verifies, which the client
    could keep as long as it likes anyway; whether the session is permanent is
    decided by its stored data whenever the session is used. Ids in URLs never
    carry the hint.
    """

    __slots__ = ("_hinted", "_permanent", "_saved", "detached", "profile")

    middleware: FlaskSessionMiddleware

    def __init__(
        self,
        middleware: FlaskSessionMiddleware,
        environ: WSGIEnviron,
        profile: _Profile,
    ) -> None:
        super().__init__(
            middleware, environ, signer=profile.signer, cookies=profile.cookies
        )
        self.profile = profile
        #: True when opened outside a WSGI call through the middleware
        #: (``app.test_request_context()``); in replace mode Flask's
        #: ``save_session`` saves it, and (with ``concurrency="lock"``)
        #: Flask's teardown releases its lock.
        self.detached = False
        self._saved = False
        self._permanent = False  # the cookie written now is a permanent session's
        self._hinted = False  # the presented cookie that verified carried the hint

    # -- the cookie value -----------------------------------------------------

    def unsign_cookie(self, value: str) -> str | None:
        """The session id in a cookie value (with or without the permanent hint)."""
        signed, hinted = _split_hint(value)
        session_id = self.signer.unsign(signed)
        if session_id is not None:
            self._hinted = hinted
        return session_id

    def cookie_value(self, session_id: str) -> str:
        """The signed id, plus :data:`PERMANENT_HINT` for a permanent session."""
        signed = self.signer.sign(session_id)
        return signed + PERMANENT_HINT if self._permanent else signed

    # -- saving ---------------------------------------------------------------

    def save(self) -> list[tuple[str, str]]:
        """Save as the middleware does, with Flask's cookie policy in replace mode."""
        if not self.middleware.replace:
            self._keep_foreign_cookie()
            return super().save()
        session: FlaskSession = self.session  # type: ignore[assignment]
        if not session.loaded and not session.modified:
            return self._refresh_untouched(session)
        if self._saved and not session.unsaved:
            return []  # a second call (end of a streamed body) with nothing new
        accessed = session.accessed
        try:
            permanent = bool(session.permanent)  # loads a session only marked modified
        except StoreUnavailable:
            log.debug("wsgi_session: store unavailable; cookie not refreshed")
            return []
        self._saved = True
        self._permanent = permanent
        profile = self.profile
        if permanent:
            self.cookies = profile.permanent_cookies
        session.sync_timeout(
            profile.lifetime, self.settings.idle_timeout, permanent=permanent
        )
        if self.cookie_rejected:
            self._keep_foreign_cookie()  # after the load, which may reject it
        headers = super().save()
        if not headers and self._cookie_due(session, permanent):
            assert session.current_id is not None
            value = self.cookie_value(session.current_id)
            headers = [self.cookies.set_header(self.environ, value)]
        # Looking at the session here is not using it; a response that sets
        # or deletes the cookie does vary by it.
        session.accessed = accessed or bool(headers)
        return headers

    def _refresh_untouched(self, session: FlaskSession) -> list[tuple[str, str]]:
        """Re-send a permanent session's cookie without loading the session.

        Only with ``SESSION_REFRESH_EACH_REQUEST``, and only the cookie whose
        signed id verifies, when its value carries the permanent hint.
        """
        if not self.profile.refresh_each_request or self.settings.tracking == "url":
            return []
        value = self._hinted_cookie()
        if value is None:
            return []
        session.accessed = True  # the response varies by the cookie
        return [self.profile.permanent_cookies.set_header(self.environ, value)]

    def _hinted_cookie(self) -> str | None:
        """The presented cookie value, if the first genuine one has the hint."""
        unsign = self.signer.unsign
        for value in self.presented.cookie_values:
            if value.endswith(PERMANENT_HINT):
                if unsign(value[: -len(PERMANENT_HINT)]) is not None:
                    return value
            elif unsign(value) is not None:
                return None
        return None

    def _cookie_due(self, session: FlaskSession, permanent: bool) -> bool:
        """Flask's ``should_set_cookie``, plus dropping a stale permanent hint."""
        if permanent:
            due = self.profile.refresh_each_request or session.modified
        else:
            due = self._hinted or session.modified  # a stale hint goes
        return (
            due
            and session.current_tracking != "url"
            and session.stored
            and not session.destroyed
        )

    def _keep_foreign_cookie(self) -> None:
        """Like Flask, ignore but keep a cookie signed with a key we do not know.

        A key rotation rolled out to some processes first must not log
        their users out (the cookie verifies again once the key is known).
        """
        if self.cookie_rejected and not self.session.destroyed:
            unsign = self.signer.unsign
            values = self.presented.cookie_values
            if all(unsign(_split_hint(value)[0]) is None for value in values):
                self.cookie_rejected = False
