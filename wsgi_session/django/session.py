"""``request.session``: Django's ``SessionBase`` API over a wsgi_session session.

:class:`DjangoSession` is a view of one :class:`~wsgi_session.Session` (the
request's, or one opened by key outside a request): its data *is* that
session's, so what a view writes through ``request.session`` is in
``request.wsgi_session`` at once and back. It is a real
``django.contrib.sessions.backends.base.SessionBase``, with Django's
meanings where the two APIs differ (SPEC §12.1):

* ``session_key`` is the session cookie's value (the signed id), None until
  the session has an id;
* ``flush()`` destroys the session and continues with a new, empty one;
  ``clear()`` empties it and keeps the key; ``cycle_key()`` is
  :meth:`~wsgi_session.Session.regenerate`;
* ``set_expiry()`` keeps Django's ``"_session_expiry"`` in the data (so the
  ``get_expiry_*`` getters are Django's own) and gives the session the idle
  timeout it means (:mod:`wsgi_session.django.expiry`); a session whose
  expiry date has passed is never served;
* ``save()`` writes now, an empty session included; a save that finds the
  session deleted meanwhile raises Django's ``UpdateError`` and never
  brings it back; ``delete()``, ``exists()``, ``load()``, ``create()`` and
  ``clear_expired()`` work on the same stored sessions;
* ``modified`` is True once the request assigned or deleted a key (setting
  it True forces a save); ``accessed`` once the session was used.

Async variants (``aget``, ``aset``, ``asave``, ``acycle_key``, ``aflush``...)
are Django's, over the same methods.
"""

from __future__ import annotations

import typing as t

from asgiref.sync import sync_to_async
from django.contrib.sessions.backends.base import CreateError, SessionBase, UpdateError
from django.utils.module_loading import import_string

from ..state import SessionState
from .dropin import DjangoRepository, drop_in_middleware
from .expiry import EXPIRY_KEY, expired, idle_seconds

if t.TYPE_CHECKING:  # pragma: no cover
    from ..context import RequestContext
    from ..session import Session

__all__ = ["DjangoSession"]


class DjangoSession(SessionBase):  # type: ignore[misc]  # django has no stubs
    """Django's ``SessionBase`` over a wsgi_session session.

    ``DjangoSession(session_key)`` opens the stored session whose cookie
    value is ``session_key`` (or a new one) through the drop-in's pipeline,
    as Django's ``SessionStore(session_key)`` does; the middleware builds
    one per request with :meth:`of`.
    """

    def __init__(
        self, session_key: str | None = None, *, context: RequestContext | None = None
    ) -> None:
        # Not SessionBase.__init__: its attributes are properties here.
        detached = context is None
        if context is None:
            key = session_key if self._validate_session_key(session_key) else None
            context = drop_in_middleware().detached_context(key)
        self._bind(context, detached=detached)

    @classmethod
    def of(cls, context: RequestContext) -> DjangoSession:
        """The ``request.session`` of the request whose pipeline is ``context``."""
        return cls(context=context)

    def _bind(self, context: RequestContext, *, detached: bool) -> None:
        presented = context.presented
        values = presented.cookie_values
        self._context = context
        self._wsgi: Session = context.session
        #: The key the session was opened with (until it is loaded).
        self._presented: str | None = values[0] if values else presented.url_value
        self._detached = detached
        self._assigned = self._checked = False
        self._accessed: bool | None = None

    # -- what it is a view of ------------------------------------------------------

    @property
    def context(self) -> RequestContext:
        """The request pipeline of the session (its host)."""
        return self._context

    @property
    def wsgi_session(self) -> Session:
        """The :class:`~wsgi_session.Session` this is a view of."""
        return self._wsgi

    # -- loading -------------------------------------------------------------------

    def _get_session(self, no_load: bool = False) -> Session:
        session = self._wsgi
        state = session.state
        if not state.loaded:
            session.load()
            if self._detached:  # no request to hold a session lock for
                self._context.release()
        if not self._checked:
            self._checked = True
            if state.contains(EXPIRY_KEY) and expired(session.get(EXPIRY_KEY)):
                session.destroy()  # its expiry date has passed: never served
        self._accessed = None  # follow the session again
        state.accessed = True
        return session

    _session = property(_get_session)

    async def _aget_session(self, no_load: bool = False) -> Session:
        if not self._wsgi.state.loaded:
            await sync_to_async(self._get_session)()
        return self._get_session()

    @property
    def _session_cache(self) -> Session:
        # Django code checks hasattr(session, "_session_cache") for "loaded".
        if not self._wsgi.state.loaded:
            raise AttributeError("_session_cache")
        return self._wsgi

    def load(self) -> dict[str, t.Any]:
        """The session's data as stored (Django's ``load()``): a dict read
        from the store, without this request's unsaved changes. An unknown,
        tampered or expired key gives ``{}`` (and a new session)."""
        state = self._wsgi.state
        if not state.loaded:
            return self._get_session().all()
        if not state.stored or state.id is None:
            return {}
        context = self._context
        found = context.repository.find(state.id, agent=context.agent, from_url=False)
        if not isinstance(found, tuple):
            return {}
        meta, record = found
        stored = SessionState(state.serializer)
        try:
            stored.adopt(state.id, meta, record.fields)
        except ValueError:
            return {}
        return {key: stored.get_value(key) for key in stored.live_keys()}

    # -- keys ----------------------------------------------------------------------

    def _get_session_key(self) -> str | None:
        state = self._wsgi.state
        if not state.loaded:
            return self._presented
        session_id = state.id
        if session_id is None:
            return None
        return self._context.cookie_policy.cookie_value(session_id)

    def _set_session_key(self, value: str | None) -> None:
        # Django's internals assign _session_key; here it opens that key.
        key = value if self._validate_session_key(value) else None
        self._bind(drop_in_middleware().detached_context(key), detached=True)

    session_key = property(_get_session_key)
    _session_key = property(_get_session_key, _set_session_key)

    def _session_id(self, session_key: str | None) -> str | None:
        """The session id a cookie value carries, if it is genuine."""
        if not session_key:
            return None
        return self._context.resolver.unsign_cookie(str(session_key))

    # -- flags ---------------------------------------------------------------------

    @property
    def modified(self) -> bool:
        """Django's flag: True once the request assigned or deleted a key
        through this view (settable; True also forces a save). Changes made
        through ``request.wsgi_session`` are saved whatever it says."""
        return self._assigned

    @modified.setter
    def modified(self, value: bool) -> None:
        self._assigned = bool(value)
        self._wsgi.state.force(bool(value))

    @property
    def accessed(self) -> bool:
        """True once the session was used during the request (settable)."""
        if self._accessed is not None:
            return self._accessed
        return self._wsgi.state.accessed

    @accessed.setter
    def accessed(self, value: bool) -> None:
        self._accessed = bool(value)

    @property
    def serializer(self) -> t.Any:
        """``SESSION_SERIALIZER`` (for Django's ``encode()`` / ``decode()``;
        the stored data uses wsgi_session's serializer)."""
        from django.conf import settings

        return import_string(settings.SESSION_SERIALIZER)

    # -- the data ------------------------------------------------------------------

    def __setitem__(self, key: str, value: t.Any) -> None:
        self._get_session()[key] = value
        self._assigned = True

    def __delitem__(self, key: str) -> None:
        del self._get_session()[key]
        self._assigned = True

    def clear(self) -> None:
        """Remove all data; the key is kept (Django's ``clear()``)."""
        self._get_session().clear()
        self._assigned = True

    def is_empty(self) -> bool:
        """True when the session has neither a key nor data."""
        state = self._wsgi.state
        if not state.loaded:
            return not self._presented
        return state.id is None and not state.has_data

    def get_session_cookie_age(self) -> int:
        """The age of a session without its own expiry: the idle timeout."""
        timeout = self._context.settings.idle_timeout
        if timeout is None:
            from django.conf import settings

            return int(settings.SESSION_COOKIE_AGE)
        return int(timeout)

    def set_expiry(self, value: t.Any) -> None:
        """Django's ``set_expiry()``; the session gets the idle timeout it means."""
        super().set_expiry(value)
        session = self._get_session()
        target = idle_seconds(
            session.get(EXPIRY_KEY), self._context.settings.idle_timeout
        )
        if session.timeout != target:
            session.timeout = target

    async def aset_expiry(self, value: t.Any) -> None:
        """Async :meth:`set_expiry`."""
        await self._aget_session()
        self.set_expiry(value)

    # -- lifecycle -----------------------------------------------------------------

    def flush(self) -> None:
        """End the session (deleted from the store) and continue with a new,
        empty one without a key."""
        self._get_session().destroy()
        self._assigned = True

    async def aflush(self) -> None:
        """Async :meth:`flush`."""
        await sync_to_async(self.flush)()

    def cycle_key(self) -> None:
        """A new key for the same data; the old one stops working at once."""
        self._get_session().regenerate()

    async def acycle_key(self) -> None:
        """Async :meth:`cycle_key`."""
        await sync_to_async(self.cycle_key)()

    # -- Django's backend surface --------------------------------------------------

    def exists(self, session_key: str | None) -> bool:
        """True when ``session_key`` opens a stored session that may be served."""
        session_id = self._session_id(session_key)
        if session_id is None:
            return False
        context = self._context
        found = context.repository.find(session_id, agent=context.agent, from_url=False)
        return isinstance(found, tuple)

    def create(self) -> None:
        """Store the session now under a new key."""
        self._get_session().regenerate()
        self.save()
        self._assigned = True

    def save(self, must_create: bool = False) -> None:
        """Write the session to the store now, even unchanged or empty.

        ``must_create`` refuses (``CreateError``) a session that is stored
        already. A session deleted meanwhile (a logout in another request)
        raises ``UpdateError`` and continues empty; it is not written back.
        """
        session = self._get_session()
        state = session.state
        if must_create and state.stored:
            raise CreateError
        live = state.stored and not state.destroyed
        repository = self._context.repository
        if not state.stored and not state.has_data:
            if isinstance(repository, DjangoRepository):
                repository.create_empty(state)
            return
        state.force(True)
        self._context.save()  # its cookie headers: the end of the request's
        if state.forced:  # nothing was written (a new session left empty)
            state.force(False)
        if live and state.destroyed:
            state.reset()
            raise UpdateError

    def delete(self, session_key: str | None = None) -> None:
        """Delete the stored session of ``session_key`` (default: this one's)."""
        if session_key is None:
            session_key = self.session_key
        session_id = self._session_id(session_key)
        if session_id is not None:
            self._context.repository.delete(session_id)

    @classmethod
    def clear_expired(cls) -> None:
        """Delete expired sessions from a store without TTLs (SQL); stores
        with TTLs expire them themselves."""
        sweep = getattr(drop_in_middleware().backend, "sweep", None)
        if sweep is not None:
            sweep()
