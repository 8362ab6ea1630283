"""Django's cookie rule as a step of the request pipeline: :class:`DjangoCookiePolicy`.

Django gives each session cookie the Max-Age of that session's own expiry
(``request.session.set_expiry()``: seconds, a date, or ``0`` for a
browser-session cookie), else ``SESSION_COOKIE_AGE``, or none at all with
``SESSION_EXPIRE_AT_BROWSER_CLOSE``. The policy of the drop-in does the
same; everything else (when a cookie is set or expired, the probe, URL
mode) is the base :class:`~wsgi_session.cookiepolicy.CookiePolicy`'s.
No Django import.

>>> from wsgi_session.signing import IdSigner
>>> from wsgi_session.tracking import CookieProfile
>>> profile = CookieProfile("sessionid", path="/", domain=None, secure=False,
...                         httponly=True, samesite="Lax", max_age=1209600)
>>> policy = DjangoCookiePolicy(profile, IdSigner(["k"]), browser_close=False)
>>> policy.profile_for(None).max_age, policy.profile_for(60).max_age
(None, 60)
"""

from __future__ import annotations

import typing as t

from ..cookiepolicy import CookiePolicy
from ..memo import Memo
from ..repository import NOTHING, Wrote
from ..signing import IdSigner
from ..tracking import CookieProfile
from .expiry import EXPIRY_KEY, cookie_max_age

if t.TYPE_CHECKING:  # pragma: no cover
    from ..context import RequestContext

__all__ = ["DjangoCookiePolicy"]

_NOT_SET: t.Any = object()


class DjangoCookiePolicy(CookiePolicy):
    """The base cookie rule, with each session's Max-Age as Django sets it."""

    __slots__ = ("_profiles", "browser_close")

    def __init__(
        self, cookies: CookieProfile, signer: IdSigner, *, browser_close: bool
    ) -> None:
        super().__init__(cookies, signer)
        #: ``SESSION_EXPIRE_AT_BROWSER_CLOSE``.
        self.browser_close = browser_close
        # Cookie profiles by Max-Age: every other attribute is this policy's
        # own, so the Max-Age decides the profile.
        self._profiles: Memo[int | None, CookieProfile] = Memo(64)

    def max_age(self, request: RequestContext) -> int | None:
        """The Max-Age of this request's session cookie (None: browser session)."""
        session = request.session
        expiry = session.get(EXPIRY_KEY) if session.state.loaded else None
        if expiry is None:
            return self.cookies.max_age
        return cookie_max_age(
            expiry, default=self.cookies.max_age, browser_close=self.browser_close
        )

    def profile_for(self, max_age: int | None) -> CookieProfile:
        """The cookie profile with this Max-Age and the policy's other attributes."""
        if max_age == self.cookies.max_age:
            return self.cookies
        found = self._profiles.get(max_age, _NOT_SET)
        if found is _NOT_SET:
            base = self.cookies
            found = CookieProfile(
                base.name,
                path=base.path,
                domain=base.domain,
                secure=base.secure,
                httponly=base.httponly,
                samesite=base.samesite,
                max_age=max_age,
                partitioned=base.partitioned,
            )
            self._profiles.put(max_age, found)
        return t.cast(CookieProfile, found)

    def should_set_cookie(self, request: RequestContext, wrote: Wrote) -> bool:
        """The base rule; and a written session whose own cookie has a
        Max-Age gets it again (it slides with the session, as in Django)."""
        if super().should_set_cookie(request, wrote):
            return True
        state = request.session.state
        if wrote is NOTHING or state.tracking == "url" or not state.stored:
            return False
        return state.id is not None and self.max_age(request) is not None

    def set_cookie(self, request: RequestContext) -> tuple[str, str]:
        """The session cookie, with the Max-Age of the session's expiry."""
        session_id = request.session.state.id
        assert session_id is not None
        profile = self.profile_for(self.max_age(request))
        return profile.set_header(request.environ, self.cookie_value(session_id))
