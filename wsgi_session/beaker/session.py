"""``environ["beaker.session"]``: Beaker's session API over the request's session.

:class:`BeakerSession` is a view: the data, the id and the lifetime are those
of the request's :class:`~wsgi_session.Session` (``environ["wsgi_session"]``
sees every change at once, and the other way round). What differs from our
own API is Beaker's meaning of a few verbs (SPEC §12.3):

* without ``auto``, changes reach the store only if :meth:`~BeakerSession.save`
  was called during the request;
* :meth:`~BeakerSession.delete` really deletes the stored session (Beaker
  keeps the data in memory and may write it back);
* :meth:`~BeakerSession.invalidate` ends the session: its data is gone and
  what is written next gets a fresh id;
* :attr:`~BeakerSession.created` and :attr:`~BeakerSession.last_accessed` are
  POSIX seconds (``last_accessed`` is None for a new session);
* :meth:`~BeakerSession.get_by_id` is an application call: it loads the
  session the application names, through the middleware's repository.

>>> from wsgi_session.beaker import SessionMiddleware
>>> mw = SessionMiddleware(lambda e, s: [], secret="k")
>>> environ = {}
>>> context = mw.request_context(environ)
>>> session = environ["beaker.session"]
>>> session["user"] = "ann"
>>> session.has_key("user"), environ["wsgi_session"]["user"], session.is_new
(True, 'ann', True)
"""

from __future__ import annotations

import typing as t

from ..session import Session
from ..sessionview import SessionView

if t.TYPE_CHECKING:  # pragma: no cover
    from .context import BeakerRequestContext

__all__ = ["BeakerSession"]


class BeakerSession(SessionView):
    """Beaker's ``Session`` / ``SessionObject`` API over one request's session."""

    __slots__ = ("_context",)

    def __init__(self, context: BeakerRequestContext) -> None:
        super().__init__(context.session)
        self._context = context

    # -- the dict API: SessionView's -------------------------------------

    def __bool__(self) -> bool:
        """Always True: Beaker's session is never an empty dict (it holds its
        times), and apps test ``if not session`` for a missing one."""
        return True

    def __repr__(self) -> str:
        return f"<BeakerSession over {self._session!r}>"

    def get(self, key: str, default: t.Any = None) -> t.Any:
        """The value of ``key``, or ``default``."""
        return self._session.get(key, default)

    def has_key(self, key: str) -> bool:
        """``key in session`` (Beaker keeps Python 2's name)."""
        return key in self._session

    def copy(self) -> dict[str, t.Any]:
        """A shallow copy of the data as a plain dict (Beaker's is a dict)."""
        return self._session.all()

    # -- identity and time ----------------------------------------------------

    @property
    def session(self) -> Session:
        """The wsgi_session :class:`~wsgi_session.Session` behind this view."""
        return self._session

    @property
    def id(self) -> str:
        """The session id. Beaker has one from the first access: a new
        session gets its id here (it is stored only if it gets data)."""
        session = self._session
        session.load()
        state = session.state
        state.ensure_id()
        assert state.id is not None
        return state.id

    @property
    def is_new(self) -> bool:
        """True when this request did not resume a stored session."""
        return self._session.is_new

    @property
    def created(self) -> float:
        """When the session was created, in POSIX seconds (as Beaker)."""
        return self._session.meta.created

    @property
    def last_accessed(self) -> float | None:
        """When the session was last used before this request (POSIX
        seconds), or None for a new session (as Beaker)."""
        session = self._session
        session.load()
        return session.state.last_accessed

    @property
    def timeout(self) -> int | None:
        """The idle timeout in seconds (settable for this session)."""
        return self._session.timeout

    @timeout.setter
    def timeout(self, seconds: int | None) -> None:
        self._session.timeout = seconds

    @property
    def domain(self) -> str | None:
        """The session cookie's ``Domain``; set it to change it for this response."""
        context = self._context
        if context.cookie_domain is not None:
            return context.cookie_domain
        return context.cookies.domain

    @domain.setter
    def domain(self, value: str | None) -> None:
        self._context.cookie_domain = value

    @property
    def path(self) -> str:
        """The session cookie's ``Path``; set it to change it for this response."""
        context = self._context
        if context.cookie_path is not None:
            return context.cookie_path
        return context.cookies.path

    @path.setter
    def path(self, value: str) -> None:
        self._context.cookie_path = value

    # -- Beaker's lifecycle ---------------------------------------------------

    def save(self) -> None:
        """Store this request's changes: at the end of the request, or at
        once for a session opened by ``get_by_id()`` / ``beaker.get_session``."""
        context = self._context
        context.save_requested = True
        if context.standalone:
            self.persist()

    def delete(self) -> None:
        """Delete the session from the store now and expire its cookie; data
        written afterwards starts a fresh session with a fresh id."""
        self._context.save_requested = True
        self._session.destroy()

    def invalidate(self) -> None:
        """End this session (its data is gone, its stored entry deleted) and
        go on as a new session, which gets a fresh id when it is written."""
        self._session.destroy()

    def regenerate_id(self) -> None:
        """Give the session a new id and keep its data (after a login)."""
        self._session.regenerate()

    def revert(self) -> None:
        """Drop this request's changes: back to the session as it is stored.

        The stored copy is read again (a new session just empties).
        """
        context = self._context
        session = self._session
        session.load()
        state = session.state
        if state.stored and state.id is not None:
            found = context.repository.find(
                state.id, agent=context.agent, from_url=context.source == "url"
            )
            if isinstance(found, tuple):
                meta, record = found
                state.adopt(state.id, meta, record.fields)
                return
        session.clear()

    def persist(self) -> None:
        """Write what should be written now, by Beaker's rules (``save()``
        called, or ``auto``); the middleware calls it at the end anyway."""
        self._context.save()

    def accessed(self) -> bool:
        """True once the session was used during this request."""
        return self._session.accessed

    def dirty(self) -> bool:
        """True once ``save()`` or ``delete()`` was called."""
        return self._context.save_requested

    def get_by_id(self, id: str) -> BeakerSession | None:
        """The stored session ``id``, or None if the store has no such session.

        An application call (an admin page, a test): the id comes from the
        application, never from the request, and the session is read through
        the middleware's repository with the usual checks (expired or
        corrupt sessions are not served). ``save()`` on it writes at once.
        """
        from .middleware import SessionMiddleware

        middleware = self._context.middleware
        assert isinstance(middleware, SessionMiddleware)
        return middleware.get_by_id(id)
