"""The session object of replace mode: :class:`FlaskSession`.

A :class:`~wsgi_session.Session` that is also a Flask ``SessionMixin``, with
Flask's meanings of ``permanent``, ``new``, ``accessed`` and ``modified``,
and the permanent lifetime applied as its idle timeout. No I/O of its own.
"""

from __future__ import annotations

import typing as t

from flask.sessions import SessionMixin

from ..session import Session


class FlaskSession(Session, SessionMixin):
    """A :class:`~wsgi_session.Session` that is also a Flask session.

    It has Flask's ``permanent`` (stored under ``"_permanent"``, as Flask
    does), ``new``, ``accessed`` and ``modified``. ``modified`` has Flask's
    meaning: True once the request assigned or deleted a key (even with an
    equal value), and it stays True after the session was saved.

    >>> s = FlaskSession.detached()
    >>> s.permanent, s.modified
    (False, False)
    >>> s["user_id"] = 1
    >>> s.permanent = True
    >>> s.permanent, s.modified, s.new, s["_permanent"]
    (True, True, True, True)
    """

    # Per-request state as class-level defaults (most requests never touch
    # their session): this request assigned or deleted a key; the number of
    # writes ``modified = False`` last saw.
    _assigned = False
    _writes_seen = 0

    def __setitem__(self, key: str, value: t.Any) -> None:
        super().__setitem__(key, value)
        self._assigned = True

    def __delitem__(self, key: str) -> None:
        super().__delitem__(key)
        self._assigned = True

    @property
    def new(self) -> bool:  # type: ignore[override]
        """True when this request did not resume a stored session."""
        return self.is_new

    @property
    def modified(self) -> bool:
        """True once this request assigned or deleted a key, or wrote the
        session (it stays True after the save), until set to False."""
        if self._assigned:
            return True
        state = self.state
        return state.writes > self._writes_seen or state.modified

    @modified.setter
    def modified(self, value: bool) -> None:
        if not value:
            self._assigned = False
            self._writes_seen = self.state.writes
        self.state.force(value)

    @property
    def unsaved(self) -> bool:
        """True when changes are waiting to be written to the store."""
        return self.state.modified

    def was_permanent(self) -> bool:
        """True when the stored copy (as loaded) was a permanent session."""
        return bool(self.state.stored_value("_permanent", False))

    def sync_timeout(
        self, lifetime: int, default: int | None, *, permanent: bool | None = None
    ) -> bool:
        """Permanent sessions live ``lifetime`` seconds since their last use.

        A session that stops being permanent gets the ``default`` idle
        timeout back; any other session keeps its own. ``permanent`` is
        :attr:`permanent`, when the caller has read it already. Returns
        whether the session is permanent.

        >>> s = FlaskSession.detached(idle_timeout=600)
        >>> s.permanent = True
        >>> s.sync_timeout(86400, 600), s.timeout
        (True, 86400)
        >>> s.permanent = False
        >>> s.sync_timeout(86400, 600), s.timeout  # not stored as permanent yet
        (False, 86400)
        """
        # Reads the state directly (not through permanent / was_permanent):
        # this runs on every save in replace mode.
        state = self.state
        if not state.loaded:
            state = self.load()
        if permanent is None:
            permanent = bool(state.get_value("_permanent", False))
        if permanent:
            target: int | None = lifetime
        elif state.stored_value("_permanent", False):  # was permanent
            target = default
        else:
            return False
        if state.meta.timeout != target:
            self.timeout = target
        return permanent
