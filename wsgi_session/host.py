"""Who hosts a session: what a :class:`~wsgi_session.Session` needs from its request.

The request pipeline (:class:`~wsgi_session.context.RequestContext`) is the
host of a request's session; :class:`SessionHost` is the small interface a
session calls (make its state, load it, move or delete the stored entry,
its user's sessions), and :class:`DetachedHost` the host of a session with
no store behind it (tests, scripts, examples).
"""

from __future__ import annotations

import typing as t
from types import MappingProxyType

from .state import SessionState

if t.TYPE_CHECKING:  # pragma: no cover
    from .session import Session
    from .users import SessionInfo

__all__ = ["DetachedHost", "SessionHost"]


class SessionHost(t.Protocol):
    """What a :class:`Session` needs from its request (the pipeline provides it).

    A host makes the session's state once, at the session's first use:

    >>> from wsgi_session import Session
    >>> class Noisy(DetachedHost):
    ...     def new_state(self):
    ...         print("state made"); return super().new_state()
    >>> s = Session(Noisy()); s["a"] = 1; s["b"] = 2
    state made
    """

    def new_state(self) -> SessionState:
        """Make the session's state (called once, when the session is first
        used: a request that never touches its session makes none)."""

    def bind_user(self, session: Session, user_id: str) -> None:
        """Bind ``session`` to ``user_id`` now (new id, CSRF secret, index entry)."""

    def user_sessions(self, session: Session) -> list[SessionInfo]:
        """The live sessions of the session's user."""

    def end_other_sessions(self, session: Session) -> int:
        """End the other sessions of the session's user; how many."""

    def load_session(self, session: Session) -> None:
        """Fill ``session.state`` (:meth:`~SessionState.adopt`) or leave it new."""

    def discard_stored(self, session: Session, *, destroyed: bool) -> None:
        """Delete the stored entry of ``session`` now (destroy)."""

    def move_stored(self, session: Session, new_id: str) -> None:
        """Store ``session`` under ``new_id``, then delete its old entry."""


class DetachedHost:
    """The host of a detached session: no store behind it. ``options`` are
    :class:`~wsgi_session.state.SessionState`'s (serializer, timeouts...).

    >>> from wsgi_session import Session
    >>> s = Session.detached(); s["n"] = 1; s.state.saved(s.state.meta); old = s.id
    >>> s.regenerate(); s.id != old, s.state.stored
    (True, True)
    """

    #: The options of the states this host makes.
    options: t.Mapping[str, t.Any] = MappingProxyType({})

    def __init__(self, **options: t.Any) -> None:
        self.options = options

    def new_state(self) -> SessionState:
        return SessionState(**self.options)

    def load_session(self, session: Session) -> None:
        pass

    def bind_user(self, session: Session, user_id: str) -> None:
        session.regenerate()
        session.state.bind(user_id, user_id)

    def user_sessions(self, session: Session) -> list[SessionInfo]:
        return []

    def end_other_sessions(self, session: Session) -> int:
        return 0

    def discard_stored(self, session: Session, *, destroyed: bool) -> None:
        pass

    def move_stored(self, session: Session, new_id: str) -> None:
        state = session.state
        state.assign_id(new_id)
        state.saved(state.meta)
