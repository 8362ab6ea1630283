"""Session lifecycle events: the hooks operators override, and their safe dispatch.

Subclass :class:`SessionEvents` and override what you need; pass an instance
as ``events=``. A handler that raises is logged and the request goes on.

>>> class CountRejected(SessionEvents):
...     rejected_count = 0
...     def rejected(self, environ, reason):
...         self.rejected_count += 1
>>> events = CountRejected()
>>> dispatch(events, "rejected", {}, RejectReason.BAD_SIGNATURE)
>>> events.rejected_count
1
"""

from __future__ import annotations

import enum
import logging
import typing as t

if t.TYPE_CHECKING:  # pragma: no cover
    from .session import Session

__all__ = ["EndReason", "RejectReason", "SessionEvents", "dispatch"]

log = logging.getLogger("wsgi_session")
WSGIEnviron = t.Dict[str, t.Any]


class EndReason(enum.Enum):
    """Why a session ended.

    >>> EndReason.EXPIRED.value
    'expired'
    """

    DESTROYED = "destroyed"
    EXPIRED = "expired"
    #: Ended by ``end_sessions_of()``, ``end_session()`` or
    #: ``end_other_sessions()`` (§13.1), found at its next request.
    REVOKED = "revoked"


class RejectReason(enum.Enum):
    """Why a presented session id (or CSRF token) was not accepted.

    >>> RejectReason("unknown_id") is RejectReason.UNKNOWN_ID
    True
    """

    #: Not signed by any current key (forged, tampered, or a retired key).
    BAD_SIGNATURE = "bad_signature"
    #: Correctly signed but not in the store (expired away, destroyed, evicted).
    UNKNOWN_ID = "unknown_id"
    #: A URL id arrived while cookies are in use or URL tracking is off.
    URL_ID_REFUSED = "url_id_refused"
    #: A URL id arrived with another User-Agent than the one it was issued to.
    BINDING_MISMATCH = "binding_mismatch"
    #: An unsafe request's CSRF token was missing or did not verify (§13.2).
    CSRF_FAILED = "csrf_failed"


class SessionEvents:
    """No-op hooks for the life of a session; override the ones you need.

    >>> class Audit(SessionEvents):
    ...     def created(self, session, environ):
    ...         print("new session")
    >>> dispatch(Audit(), "created", None, {})
    new session
    """

    def created(self, session: Session, environ: WSGIEnviron) -> None:
        """A new session was stored for the first time."""

    def resumed(self, session: Session, environ: WSGIEnviron) -> None:
        """An existing session was loaded for this request."""

    def suspended(self, session: Session, environ: WSGIEnviron) -> None:
        """The request that used the session has ended (after saving)."""

    def ended(self, session: Session, reason: EndReason) -> None:
        """The session was destroyed or found expired."""

    def rejected(self, environ: WSGIEnviron, reason: RejectReason) -> None:
        """A request presented an id that was not accepted."""


def dispatch(events: SessionEvents | None, name: str, *args: t.Any) -> None:
    """Call ``events.<name>(*args)``; log and swallow any exception it raises.

    >>> class Broken(SessionEvents):
    ...     def ended(self, session, reason):
    ...         raise RuntimeError("bug in handler")
    >>> dispatch(Broken(), "ended", None, EndReason.DESTROYED)  # logged, not raised
    """
    if events is None:
        return
    try:
        getattr(events, name)(*args)
    except Exception:
        log.exception("wsgi_session: the %s event handler raised", name)
