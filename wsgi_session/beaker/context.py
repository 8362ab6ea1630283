"""The request pipeline under the Beaker drop-in: when to save, which cookie, which id.

Three steps of :mod:`wsgi_session.context` get a Beaker flavour, each by
overriding one named step:

* :class:`BeakerRequestContext` -- ``save_wanted()``: without ``auto`` a
  request's changes reach the store only when the app called ``save()`` (or
  ``delete()``); a request that changed nothing still slides the session's
  expiry, as Beaker saves its access time. It also puts the Beaker view of
  the session (:class:`~wsgi_session.beaker.session.BeakerSession`) into
  the environ;
* :class:`BeakerCookiePolicy` -- the cookie's ``Domain`` and ``Path`` may
  be set for one response (``session.domain = ...``), and a fixed
  ``cookie_expires`` date is turned into the seconds left on each response;
* :class:`UnsignedIds` and :class:`FixedIdResolver` -- ids sent unsigned when
  Beaker's configuration has no ``secret`` (SPEC §12.3), and the resolver of
  ``get_by_id()``, which resumes the id the *application* names.

>>> ids = UnsignedIds()
>>> sid = "A" * 43
>>> ids.sign(sid) == sid, ids.unsign(sid) == sid, ids.unsign("../etc") is None
(True, True, True)
"""

from __future__ import annotations

import datetime as dt
import secrets
import typing as t

from ..context import RequestContext, WSGIEnviron
from ..cookiepolicy import CookiePolicy, Headers
from ..presented import IdResolver, Resolution
from ..repository import Wrote
from ..signing import IdSigner, is_valid_id
from ..tracking import CookieProfile, Presented
from .session import BeakerSession

if t.TYPE_CHECKING:  # pragma: no cover
    from ..middleware import SessionMiddleware

__all__ = [
    "BeakerCookiePolicy",
    "BeakerRequestContext",
    "FixedIdResolver",
    "UnsignedIds",
]


class UnsignedIds(IdSigner):
    """Ids as they are, for a Beaker configuration without ``secret``.

    A value is accepted only if it has the shape of one of our 256-bit ids;
    it still resumes a session only if the store knows it (an unknown id
    gets a new session with a fresh id: ids are never adopted).

    >>> ids = UnsignedIds(); sid = "A" * 43
    >>> ids.sign(sid) == sid, ids.unsign(sid + ".signature"), ids.unsign(None)
    (True, None, None)
    """

    def __init__(self) -> None:
        # The parent wants a key; this one never signs anything that is sent.
        super().__init__([secrets.token_bytes(32)])

    def sign(self, session_id: str) -> str:
        """The id itself."""
        return session_id

    def unsign(self, value: str) -> str | None:
        """``value`` if it has the shape of an id, else None (never raises)."""
        if isinstance(value, str) and is_valid_id(value):
            return value
        return None


class FixedIdResolver(IdResolver):
    """Resolves to the id an application call names, whatever was presented.

    This is ``get_by_id()``'s resolver: the request's own cookie and URL are
    ignored.

    >>> resolver = FixedIdResolver(UnsignedIds(), "A" * 43)
    >>> presented = Presented.of(("B" * 43,), probe=False, cookie_seen=True)
    >>> resolver.resolve(presented)[:2] == ("A" * 43, "cookie")
    True
    """

    __slots__ = ("session_id",)

    def __init__(self, signer: IdSigner, session_id: str) -> None:
        super().__init__(signer)
        self.session_id = session_id

    def resolve(self, presented: Presented) -> Resolution:
        """Always the fixed id (a lookup of an unknown id finds nothing)."""
        return Resolution(self.session_id, "cookie")


class BeakerRequestContext(RequestContext):
    """One request under the Beaker drop-in.

    ``auto`` is Beaker's option; ``standalone`` marks a session opened by an
    application call (``get_by_id()``, ``environ["beaker.get_session"]()``)
    rather than by a request: its ``save()`` writes at once.

    >>> from wsgi_session.beaker import SessionMiddleware
    >>> request = SessionMiddleware(lambda e, s: [], secret="k").request_context({})
    >>> request.beaker["n"] = 1; request.save_wanted()  # not auto: only after save()
    False
    >>> request.beaker.save(); request.save_wanted()
    True
    """

    __slots__ = (
        "auto",
        "beaker",
        "cookie_domain",
        "cookie_path",
        "save_requested",
        "standalone",
    )

    def __init__(
        self,
        middleware: SessionMiddleware,
        environ: WSGIEnviron,
        *,
        auto: bool,
        beaker_key: str | None,
        resolver: IdResolver | None = None,
        standalone: bool = False,
    ) -> None:
        super().__init__(middleware, environ, resolver=resolver)
        self.auto = auto
        self.standalone = standalone
        #: ``save()`` or ``delete()`` was called during this request.
        self.save_requested = False
        #: Cookie attributes set for this response only (``session.domain``).
        self.cookie_domain: str | None = None
        self.cookie_path: str | None = None
        #: The Beaker view of this request's session.
        self.beaker: BeakerSession = BeakerSession(self)
        if beaker_key is not None:
            environ[beaker_key] = self.beaker

    def save_wanted(self) -> bool:
        """Beaker's rule: with ``auto``, or after ``save()``, the changes are
        written; otherwise nothing is, but a request that changed nothing
        may still refresh the session's expiry (Beaker's access time)."""
        if self.auto or self.save_requested:
            return True
        state = self.session.state
        if state.unchanged:
            return True
        fields, removed = state.changes()  # in-place changes of values read
        return not fields and not removed and not state.meta_changed


class BeakerCookiePolicy(CookiePolicy):
    """Our cookie rule, with Beaker's per-response ``domain`` / ``path``.

    ``expires_at`` is Beaker's fixed ``cookie_expires`` date (aware UTC),
    sent as the seconds left on each response. A ``Domain`` is written as the
    application set it, leading dot included:

    >>> from wsgi_session.beaker import SessionMiddleware
    >>> mw = SessionMiddleware(lambda e, s: [], secret="k")
    >>> request = mw.request_context({})
    >>> request.beaker["n"] = 1; request.beaker.domain = ".example.org"
    >>> mw.cookie_policy.set_cookie(request)
    ('Set-Cookie', 'beaker.session.id=...; Domain=.example.org; HttpOnly; Path=/; ...')
    """

    __slots__ = ("expires_at",)

    def __init__(
        self,
        cookies: CookieProfile,
        signer: IdSigner,
        expires_at: dt.datetime | None = None,
    ) -> None:
        super().__init__(cookies, signer)
        self.expires_at = expires_at

    def profile(self, request: RequestContext) -> CookieProfile:
        """The cookie attributes of this response."""
        base = self.cookies
        domain = path = None
        if isinstance(request, BeakerRequestContext):
            domain, path = request.cookie_domain, request.cookie_path
        if domain is None and path is None and self.expires_at is None:
            return base
        max_age = base.max_age
        if self.expires_at is not None:
            left = self.expires_at - dt.datetime.now(dt.timezone.utc)
            max_age = max(0, int(left.total_seconds()))
        return CookieProfile(
            base.name,
            path=base.path if path is None else path,
            domain=base.domain if domain is None else domain,
            secure=base.secure,
            httponly=base.httponly,
            samesite=base.samesite,
            max_age=max_age,
            partitioned=base.partitioned,
        )

    def should_set_cookie(self, request: RequestContext, wrote: Wrote) -> bool:
        """Ours, and also when the app set the cookie's domain or path."""
        if super().should_set_cookie(request, wrote):
            return True
        state = request.session.state
        return (
            isinstance(request, BeakerRequestContext)
            and (request.cookie_domain is not None or request.cookie_path is not None)
            and state.stored
            and state.id is not None
            and state.tracking != "url"
        )

    def set_cookie(self, request: RequestContext) -> tuple[str, str]:
        """The session cookie, with this response's attributes."""
        session_id = request.session.state.id
        assert session_id is not None
        value = self.cookie_value(session_id)
        profile = self.profile(request)
        return _dotted(profile.set_header(request.environ, value), profile.domain)

    def expire(self, request: RequestContext) -> Headers:
        """The expiring cookie, with this response's domain and path."""
        headers = super().expire(request)
        if not headers:
            return headers
        profile = self.profile(request)
        return [_dotted(profile.expire_header(request.environ), profile.domain)]


def _dotted(header: tuple[str, str], domain: str | None) -> tuple[str, str]:
    """The header with ``Domain`` written as configured: Werkzeug drops a
    leading dot (RFC 6265 ignores it); Beaker apps and their tests expect it.

    >>> _dotted(("Set-Cookie", "k=v; Domain=example.com; Path=/"), ".example.com")
    ('Set-Cookie', 'k=v; Domain=.example.com; Path=/')
    """
    if not domain or not domain.startswith("."):
        return header
    name, value = header
    return name, value.replace(f"; Domain={domain[1:]};", f"; Domain={domain};", 1)
