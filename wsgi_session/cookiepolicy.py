"""Should a session cookie be set or expired at the end of a request, and which.

The last step of the request pipeline, after the save: :class:`CookiePolicy`
looks at what the save did (:class:`~wsgi_session.repository.Wrote`) and at
the request's facts, and returns the ``Set-Cookie`` headers to send. Its small
methods are the override points (as Flask's ``should_set_cookie``): an
integration that has another cookie rule overrides one of them.

>>> from wsgi_session import SessionMiddleware
>>> policy = SessionMiddleware(lambda e, s: [], secret_key="k").cookie_policy
>>> policy.cookies.name, policy.cookie_value("A" * 43).startswith("A" * 43 + ".")
('session', True)
"""

from __future__ import annotations

import typing as t

from .repository import CREATED, ENDED, NOTHING, Wrote
from .signing import IdSigner
from .tracking import CookieProfile

if t.TYPE_CHECKING:  # pragma: no cover
    from .context import RequestContext

__all__ = ["CookiePolicy", "Headers"]

Headers = t.List[t.Tuple[str, str]]


class CookiePolicy:
    """The session cookie rule of SPEC §2 and §4.

    * a session just created, or given a new id, sends its cookie;
    * a stored session that was written or refreshed sends it again only
      when the cookie has a Max-Age (so that it slides with the session);
    * a session that ended (destroyed, ended concurrently, emptied) or a
      refused session cookie gets the cookie expired;
    * in URL mode no session cookie is ever sent;
    * the probe cookie goes out until the client brings one of ours back.

    >>> from wsgi_session import SessionMiddleware
    >>> from wsgi_session.context import RequestContext
    >>> from wsgi_session.repository import NOTHING
    >>> mw = SessionMiddleware(lambda e, s: [], secret_key="k")
    >>> request = RequestContext(mw, {"HTTP_COOKIE": "session=forged.value"})
    >>> request.session.get("n")  # loads the session: the forged cookie is refused
    >>> mw.cookie_policy.headers(request, NOTHING)
    [('Set-Cookie', 'session=; Expires=...; Max-Age=0; HttpOnly; Path=/; SameSite=Lax')]
    """

    __slots__ = ("cookies", "signer")

    def __init__(self, cookies: CookieProfile, signer: IdSigner) -> None:
        #: Builds the Set-Cookie headers (name and attributes).
        self.cookies = cookies
        self.signer = signer

    def headers(self, request: RequestContext, wrote: Wrote) -> Headers:
        """The Set-Cookie headers for a request whose save did ``wrote``
        (called by the save of a loaded session)."""
        state = request.state
        assert state is not None  # the session is loaded: save() asks
        if wrote is ENDED or (
            wrote is NOTHING
            and not state.stored
            and (state.destroyed or self.refused_cookie_goes(request))
        ):
            return self.expire(request)
        if self.should_set_cookie(request, wrote):
            return [self.set_cookie(request)]
        return []

    def should_set_cookie(self, request: RequestContext, wrote: Wrote) -> bool:
        """True when the session cookie goes out with this response."""
        state = request.state
        assert state is not None  # the session is loaded: save() asks
        if state.tracking == "url" or state.id is None or not state.stored:
            return False
        if wrote is CREATED or state.id != request.loaded_id:
            return True  # new, or regenerated: the client needs the new id
        return wrote is not NOTHING and self.cookies.max_age is not None

    def refused_cookie_goes(self, request: RequestContext) -> bool:
        """True when a presented session cookie that was refused is expired."""
        return request.cookie_rejected

    def cookie_value(self, session_id: str) -> str:
        """The session cookie value for ``session_id``: the signed id."""
        return self.signer.sign(session_id)

    def set_cookie(self, request: RequestContext) -> tuple[str, str]:
        """The Set-Cookie header that carries the session's id."""
        session_id = request.session.state.id
        assert session_id is not None
        return self.cookies.set_header(request.environ, self.cookie_value(session_id))

    def expire(self, request: RequestContext) -> Headers:
        """The header that expires the client's session cookie, if it has one."""
        if (
            request.session.state.tracking == "url"
            or not request.presented.cookie_values
        ):
            return []
        return [self.cookies.expire_header(request.environ)]

    def probe(self, request: RequestContext) -> tuple[str, str] | None:
        """The test cookie's header, when it goes out: ``tracking="auto"``, and
        the request brought back neither it nor a session cookie (§4)."""
        if request.settings.tracking != "auto" or request.presented.has_our_cookie:
            return None
        return self.cookies.probe_header(request.environ)

    def untouched(self, request: RequestContext) -> Headers:
        """The headers of a request that never loaded its session: none."""
        return []
