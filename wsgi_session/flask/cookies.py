"""Flask's cookie rules as steps of the request pipeline.

:class:`FlaskIdResolver` reads session cookies with or without the permanent
hint; :class:`FlaskCookiePolicy` is Flask's ``should_set_cookie``: in replace
mode a permanent session gets a persistent cookie of
``PERMANENT_SESSION_LIFETIME``, sent again whenever the session is modified
or, with ``SESSION_REFRESH_EACH_REQUEST``, on every request; in both modes a
cookie signed with a key we do not know is ignored but kept, as Flask does.

A permanent session's cookie value ends in :data:`~.profile.PERMANENT_HINT`,
so a request that never touches the session refreshes that cookie (the same
value, a new Max-Age) without loading the session from the store. The hint
is not signed and need not be: it only makes the server re-send, with the
permanent lifetime, a cookie whose signed id verifies, which the client
could keep as long as it likes anyway; whether the session is permanent is
decided by its stored data whenever the session is used. Ids in URLs never
carry the hint.
"""

from __future__ import annotations

import typing as t

from ..cookiepolicy import CookiePolicy, Headers
from ..presented import IdResolver
from ..repository import Wrote
from ..signing import IdSigner
from ..tracking import CookieProfile
from .profile import PERMANENT_HINT, _split_hint

if t.TYPE_CHECKING:  # pragma: no cover
    from ..context import RequestContext

__all__ = ["FlaskCookiePolicy", "FlaskIdResolver"]


class FlaskIdResolver(IdResolver):
    """Session cookie values may end in the permanent hint.

    >>> from wsgi_session.signing import IdSigner
    >>> resolver = FlaskIdResolver(IdSigner(["k"]))
    >>> value = resolver.signer.sign("A" * 43)
    >>> [resolver.unsign_cookie(v) == "A" * 43 for v in (value, value + PERMANENT_HINT)]
    [True, True]
    """

    __slots__ = ()

    def unsign_cookie(self, value: str) -> str | None:
        """The session id in a cookie value (with or without the hint)."""
        return self.signer.unsign(_split_hint(value)[0])


class FlaskCookiePolicy(CookiePolicy):
    """Flask's cookie rules (the permanent ones in replace mode only).

    A session cookie that fails to verify is kept, as Flask keeps it; the
    base policy expires it:

    >>> from wsgi_session import SessionMiddleware
    >>> from wsgi_session.context import RequestContext
    >>> mw = SessionMiddleware(lambda e, s: [], secret_key="k")
    >>> base = mw.cookie_policy
    >>> policy = FlaskCookiePolicy(base.cookies, base.signer,
    ...     permanent_cookies=base.cookies, refresh_each_request=True, replace=True)
    >>> request = RequestContext(mw, {"HTTP_COOKIE": "session=signed.elsewhere"})
    >>> request.session.get("n")  # loads: the cookie is refused
    >>> policy.refused_cookie_goes(request), base.refused_cookie_goes(request)
    (False, True)
    """

    __slots__ = ("permanent_cookies", "refresh_each_request", "replace")

    def __init__(
        self,
        cookies: CookieProfile,
        signer: IdSigner,
        *,
        permanent_cookies: CookieProfile,
        refresh_each_request: bool,
        replace: bool,
    ) -> None:
        super().__init__(cookies, signer)
        #: The cookie of a permanent session (Max-Age = its lifetime).
        self.permanent_cookies = permanent_cookies
        self.refresh_each_request = refresh_each_request
        self.replace = replace

    def should_set_cookie(self, request: RequestContext, wrote: Wrote) -> bool:
        """The base rule, or in replace mode Flask's ``should_set_cookie``
        (and dropping a stale permanent hint)."""
        if super().should_set_cookie(request, wrote):
            return True
        if not self.replace:
            return False
        state = request.state
        assert state is not None  # the session is loaded: save() asks
        if state.tracking == "url" or not state.stored or state.destroyed:
            return False
        # Flask's rule, hinted() inlined: this runs on every request that
        # used its session. ``request`` is the FlaskRequestContext the
        # middleware made; ``permanent`` was set by its prepare_save().
        if request.permanent:  # type: ignore[attr-defined]
            return self.refresh_each_request or request.session.modified
        value = request.resolution.cookie_value
        if value is not None and value.endswith(PERMANENT_HINT):
            return True  # a stale hint goes
        return request.session.modified

    def refused_cookie_goes(self, request: RequestContext) -> bool:
        """Like Flask, ignore but keep a cookie signed with a key we do not know.

        A key rotation rolled out to some processes first must not log
        their users out (the cookie verifies again once the key is known).
        """
        if not request.cookie_rejected:
            return False
        unsign = self.signer.unsign
        values = request.presented.cookie_values
        return any(unsign(_split_hint(value)[0]) is not None for value in values)

    def cookie_value(self, session_id: str) -> str:
        """The signed id (the hint is added by :meth:`set_cookie`)."""
        return self.signer.sign(session_id)

    def set_cookie(self, request: RequestContext) -> tuple[str, str]:
        """A permanent session's cookie: persistent, its value hinted."""
        state = request.state  # the session is loaded: headers() asks
        assert state is not None and state.id is not None
        value = self.signer.sign(state.id)
        if self.replace and request.permanent:  # type: ignore[attr-defined]
            return self.permanent_cookies.set_header(
                request.environ, value + PERMANENT_HINT
            )
        return self.cookies.set_header(request.environ, value)

    def hinted(self, request: RequestContext) -> bool:
        """True when the presented cookie that verified carried the hint."""
        value = request.resolution.cookie_value
        return value is not None and value.endswith(PERMANENT_HINT)

    def untouched(self, request: RequestContext) -> Headers:
        """Re-send a permanent session's cookie without loading the session.

        Only in replace mode with ``SESSION_REFRESH_EACH_REQUEST``, and only
        the cookie whose signed id verifies, when its value carries the hint.
        """
        if (
            not self.replace
            or not self.refresh_each_request
            or request.settings.tracking == "url"
        ):
            return []
        value = self._hinted_cookie(request)
        if value is None:
            return []
        return [self.permanent_cookies.set_header(request.environ, value)]

    def _hinted_cookie(self, request: RequestContext) -> str | None:
        """The presented cookie value, if the first genuine one has the hint."""
        unsign = self.signer.unsign
        for value in request.presented.cookie_values:
            if value.endswith(PERMANENT_HINT):
                if unsign(value[: -len(PERMANENT_HINT)]) is not None:
                    return value
            elif unsign(value) is not None:
                return None
        return None
