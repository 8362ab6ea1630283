"""``request.session`` under Pyramid: :class:`PyramidSession`, an ``ISession``.

A view of the request's :class:`~wsgi_session.Session` with Pyramid's API
and semantics (SPEC §12.2): ``created`` in POSIX seconds, ``new``,
``invalidate()`` (the stored session ends; writes afterwards start a new
one), ``changed()``, flash queues that persist until popped, and the
session CSRF token of Pyramid's ``LegacySessionCSRFStoragePolicy`` and
``SessionCSRFStoragePolicy`` (both keep it under ``"_csrft_"``). The same
data is ``environ["wsgi_session"]``. This is the only module of ours that
imports Pyramid (its interfaces) and zope.interface.

>>> from zope.interface.verify import verifyObject
>>> from pyramid.interfaces import ISession
>>> from wsgi_session import Session
>>> session = PyramidSession(Session.detached())
>>> verifyObject(ISession, session)
True
>>> session.flash("Saved"); session.flash("Saved", allow_duplicate=False)
>>> session.peek_flash(), session.pop_flash(), session.pop_flash()
(['Saved'], ['Saved'], [])
"""

from __future__ import annotations

import secrets
import typing as t

from pyramid.interfaces import ISession  # type: ignore[import-untyped]
from zope.interface import implementer  # type: ignore[import-untyped]

from ..sessionview import SessionView

__all__ = ["CSRF_KEY", "FLASH_PREFIX", "ISession", "PyramidSession"]

#: The session key of Pyramid's CSRF token (both session storage policies).
CSRF_KEY = "_csrft_"
#: Pyramid's flash queue ``q`` lives under the key ``FLASH_PREFIX + q``.
FLASH_PREFIX = "_f_"


@implementer(ISession)
class PyramidSession(SessionView):
    """Pyramid's ``ISession`` over a wsgi_session :class:`~wsgi_session.Session`."""

    __slots__ = ("__provides__",)

    # -- the dict API (IDict): SessionView's ------------------------------

    def __repr__(self) -> str:
        return f"<PyramidSession over {self._session!r}>"

    def get(self, key: str, default: t.Any = None) -> t.Any:
        """The value of ``key``, or ``default``."""
        return self._session.get(key, default)

    # -- ISession -------------------------------------------------------------

    @property
    def created(self) -> float:
        """When the session was created, in POSIX seconds."""
        return self._session.meta.created

    @property
    def new(self) -> bool:
        """True when this request did not resume a stored session."""
        return self._session.is_new

    def invalidate(self) -> None:
        """End the session: its stored entry is deleted and its cookie
        expired; data written afterwards goes into a new session (new id)."""
        self._session.destroy()

    def changed(self) -> None:
        """Force a save of the session (a nested change is found anyway)."""
        self._session.modified = True

    def flash(self, msg: t.Any, queue: str = "", allow_duplicate: bool = True) -> None:
        """Append ``msg`` to flash queue ``queue`` (kept until popped).

        >>> from wsgi_session import Session
        >>> s = PyramidSession(Session.detached()); s.flash("a", "errors")
        >>> s.peek_flash(), s.peek_flash("errors")
        ([], ['a'])
        """
        key = FLASH_PREFIX + queue
        messages = list(self._session.get(key, []))
        if allow_duplicate or msg not in messages:
            messages.append(msg)
            self._session[key] = messages

    def pop_flash(self, queue: str = "") -> list[t.Any]:
        """Remove and return the messages of ``queue``."""
        messages: list[t.Any] = self._session.pop(FLASH_PREFIX + queue, [])
        return messages

    def peek_flash(self, queue: str = "") -> list[t.Any]:
        """The messages of ``queue``, left in place."""
        messages: list[t.Any] = self._session.get(FLASH_PREFIX + queue, [])
        return messages

    def new_csrf_token(self) -> str:
        """Store a new CSRF token in the session and return it.

        >>> from wsgi_session import Session
        >>> s = PyramidSession(Session.detached()); token = s.new_csrf_token()
        >>> s.get_csrf_token() == token, len(token)
        (True, 40)
        """
        token = secrets.token_hex(20)
        self._session[CSRF_KEY] = token
        return token

    def get_csrf_token(self) -> str:
        """The session's CSRF token (one is made on first use)."""
        token = self._session.get(CSRF_KEY)
        if not isinstance(token, str):
            token = self.new_csrf_token()
        return token
