"""The session the application sees: a mapping with session verbs; no I/O.

A :class:`Session` is a ``MutableMapping[str, Any]`` over one request's
:class:`~wsgi_session.state.SessionState` (data, changes, flash, metadata,
id, flags), loaded lazily through its *host* on first use. The host is the
request pipeline (:mod:`wsgi_session.context`); :class:`SessionHost` is what
a session needs from it, and :attr:`Session.state` is the host's way in.

>>> s = Session.detached()
>>> s["cart"] = ["apple"]
>>> s["cart"].append("pear")
>>> s.put({"user": "ann", "theme": "dark"})
>>> s.pull("theme"), s.has("theme"), sorted(s.all())
('dark', False, ['cart', 'user'])
"""

from __future__ import annotations

import datetime as dt
import typing as t
from collections.abc import Iterator, Mapping, MutableMapping

from .csrf import mask_token, token_matches
from .errors import SerializationError
from .flash import lookup_dotted, select_input
from .host import DetachedHost as DetachedHost
from .host import SessionHost as SessionHost
from .lifetime import expires_at
from .meta import SessionMeta as SessionMeta
from .meta import now_ms as now_ms
from .recordfields import DATA_PREFIX as DATA_PREFIX
from .recordfields import SYS_FIELD as SYS_FIELD
from .signing import new_session_id
from .state import SessionState

if t.TYPE_CHECKING:  # pragma: no cover
    from .users import SessionInfo

__all__ = [
    "DATA_PREFIX",
    "SYS_FIELD",
    "DetachedHost",
    "Session",
    "SessionHost",
    "SessionMeta",
]

_UTC = dt.timezone.utc


def _utc(ts: float | None) -> dt.datetime | None:
    return None if ts is None else dt.datetime.fromtimestamp(ts, _UTC)


class Session(MutableMapping[str, t.Any]):
    """The session of one request: a mutable mapping plus session verbs.

    Values must be serializable by the configured serializer; assigning one
    that is not raises :class:`~wsgi_session.SerializationError` at once.

    >>> s = Session.detached()
    >>> s.id is None  # no id until the first write
    True
    >>> s["n"] = 1
    >>> len(s.id), s.is_new, s.modified
    (43, True, True)
    """

    # Slots: one session is made per request (subclasses may add a __dict__).
    __slots__ = ("_host", "_state")

    def __init__(self, host: SessionHost) -> None:
        self._host = host
        # Made at first use (host.new_state()): most requests of a site never
        # touch their session, and a state costs about 3,500 machine
        # instructions to make and collect (callgrind), 12 % of such a request.
        self._state: SessionState | None = None

    @property
    def state(self) -> SessionState:
        """The request's session state: the host's way in (an application
        uses the mapping and the verbs instead). Made at first use."""
        state = self._state
        if state is None:
            state = self._state = self._host.new_state()
        return state

    @classmethod
    def detached(cls, **options: t.Any) -> Session:
        """A session with no store behind it (tests, scripts, examples).

        >>> Session.detached().is_new
        True
        """
        return cls(DetachedHost(**options))

    # -- loading ----------------------------------------------------------

    def load(self) -> SessionState:
        """Load the session now if it is not loaded yet (the host's call: an
        application just uses the session); return its state."""
        state = self._state
        if state is None:  # the ``state`` property's work, without its call
            state = self._state = self._host.new_state()
        state.accessed = True
        if state.loaded:
            return state
        if state.failure is not None:
            raise state.failure
        if state.loading:
            return state
        state.loading = True
        try:
            self._host.load_session(self)
            if not state.started:  # the host left it new
                state.start()
        except BaseException as exc:
            state.fail(exc)
            raise
        finally:
            state.loading = False
        state.loaded = True
        return state

    @property
    def host(self) -> SessionHost:
        """The request that hosts this session (its pipeline); the pipeline
        replaces itself with a weak proxy of itself once its response is
        complete (:meth:`~wsgi_session.context.RequestContext.end`)."""
        return self._host

    @host.setter
    def host(self, host: SessionHost) -> None:
        self._host = host

    @property
    def loaded(self) -> bool:
        """True once the session has been loaded (or started new) this request."""
        state = self._state  # an unused session has no state: none is made
        return state is not None and state.loaded

    @property
    def accessed(self) -> bool:
        """True once the application used the session during this request."""
        state = self._state  # an unused session has no state: none is made
        return state is not None and state.accessed

    @accessed.setter
    def accessed(self, value: bool) -> None:
        # Flask sets this on every ``flask.session`` access: the ``state``
        # property's work, without its call.
        state = self._state
        if state is None:
            state = self._state = self._host.new_state()
        state.accessed = bool(value)

    @property
    def destroyed(self) -> bool:
        """True once the session was destroyed during this request."""
        return self.state.destroyed

    # -- the mapping --------------------------------------------------------

    def __getitem__(self, key: str) -> t.Any:
        state = self._state
        if state is None or not state.loaded:
            state = self.load()
        return state.get_value(key)

    def __setitem__(self, key: str, value: t.Any) -> None:
        if not isinstance(key, str):
            raise TypeError(f"session keys must be str, not {type(key).__name__}")
        state = self._state
        if state is None or not state.loaded:
            state = self.load()
        state.set_value(key, value)

    def __delitem__(self, key: str) -> None:
        self.load()
        self.state.delete_value(key)

    def __contains__(self, key: object) -> bool:
        state = self._state
        if state is None or not state.loaded:
            state = self.load()
        return state.contains(key)

    def __iter__(self) -> Iterator[str]:
        self.load()
        return self.state.live_keys()

    def __len__(self) -> int:
        self.load()
        return sum(1 for _ in self.state.live_keys())

    def __repr__(self) -> str:
        state = self.state
        kind = "new" if state.is_new else "stored"
        size = state.size() if state.loaded else None
        return f"<Session {kind} keys={'?' if size is None else size}>"

    def get(self, key: str, default: t.Any = None) -> t.Any:
        """Return the value of ``key``, or ``default``.

        >>> Session.detached().get("missing", 0)
        0
        """
        state = self._state
        if state is None or not state.loaded:
            state = self.load()
        return state.get_value(key, default)

    def clear(self) -> None:
        """Remove all data (the id is kept; an emptied stored session is deleted)."""
        for key in list(self):
            del self[key]

    # -- the verbs of the seed frameworks -------------------------------------

    def put(self, key: str | Mapping[str, t.Any], value: t.Any = None) -> None:
        """Store one value, or every item of a mapping.

        >>> s = Session.detached(); s.put("a", 1); s.put({"b": 2}); s.all()
        {'a': 1, 'b': 2}
        """
        if isinstance(key, Mapping):
            self.update(key)
        else:
            self[key] = value

    def has(self, key: str) -> bool:
        """``key in session``."""
        return key in self

    def all(self) -> dict[str, t.Any]:
        """A shallow copy of all data as a plain dict."""
        return {key: self[key] for key in self}

    def forget(self, key: str) -> None:
        """Remove ``key``; no error if it is missing.

        >>> s = Session.detached(); s.forget("nothing"); len(s)
        0
        """
        self.pop(key, None)

    def pull(self, key: str, default: t.Any = None) -> t.Any:
        """Return the value of ``key`` and remove it.

        >>> s = Session.detached(); s["token"] = "x"; s.pull("token"), "token" in s
        ('x', False)
        """
        return self.pop(key, default)

    def flush(self) -> None:
        """Remove all data and flash state; the id is kept."""
        self.clear()
        self.state.writable_flash().reset()

    # -- flash data and old input -----------------------------------------------

    def flash(self, key: str, value: t.Any) -> None:
        """Store a value readable during the NEXT request only.

        >>> s = Session.detached(); s.flash("notice", "Saved"); s["notice"]
        'Saved'
        """
        self[key] = value
        self.state.writable_flash().mark_new(key)

    def now(self, key: str, value: t.Any) -> None:
        """Store a value readable during THIS request only."""
        self[key] = value
        self.state.writable_flash().mark_now(key)

    def reflash(self) -> None:
        """Keep all current flash data (and old input) for one more request."""
        self.load()
        self.state.writable_flash().reflash()

    def keep(self, *keys: str) -> None:
        """Keep only these flash keys for one more request.

        >>> s = Session.detached(); s.now("a", 1); s.keep("a"); s.state.age_flash()
        >>> s["a"]
        1
        """
        self.load()
        self.state.writable_flash().keep(keys)

    def flash_input(
        self,
        form: Mapping[str, t.Any],
        only: t.Iterable[str] | None = None,
        exclude: t.Iterable[str] | None = None,
    ) -> None:
        """Flash submitted form fields so the next request can refill the form.

        >>> s = Session.detached()
        >>> s.flash_input({"email": "a@b.c", "password": "x"}, exclude=["password"])
        >>> s.old("email"), s.old("password", "")
        ('a@b.c', '')
        """
        self.load()
        state = self.state
        data = select_input(form, only, exclude)
        try:
            state.serializer.dumps(data)
        except SerializationError as exc:
            raise exc.under("<old input>") from None
        state.writable_flash().set_input(data)
        state.ensure_id()

    def old(self, name: str, default: t.Any = None) -> t.Any:
        """Read a flashed form field; dotted names reach into nested dicts.

        >>> s = Session.detached(); s.flash_input({"profile": {"name": "Ann"}})
        >>> s.old("profile.name")
        'Ann'
        """
        self.load()
        return lookup_dotted(self.state.flash.input or {}, name, default)

    # -- the user (§13.1) ------------------------------------------------------------

    def login(self, user_id: t.Any) -> None:
        """Bind the session to ``user_id`` now: a new id (session fixation), a
        new CSRF secret, an entry in the user's index; sets :setting:`user_key`
        when it is configured.

        >>> s = Session.detached(); s["cart"] = [1]; old = s.id
        >>> s.login(42); s.user_id, s.id != old, s["cart"]
        ('42', True, [1])
        """
        self.load()
        user = str(user_id)
        key = self.state.user_key
        if key is not None:
            self[key] = user_id
        self._host.bind_user(self, user)

    @property
    def user_id(self) -> str | None:
        """The signed-in user (``str``), or None when anonymous."""
        self.load()
        state = self.state
        key = state.user_key
        if key is None:
            return state.bound_user
        value = state.get_value(key, None)
        return None if value is None else str(value)

    def user_sessions(self) -> list[SessionInfo]:
        """The live sessions of this session's user (this one ``current``)."""
        self.load()
        return self._host.user_sessions(self)

    def end_other_sessions(self) -> int:
        """End every other session of this session's user ("log out other
        devices"); return how many were ended."""
        self.load()
        return self._host.end_other_sessions(self)

    # -- CSRF tokens (§13.2) ----------------------------------------------------

    def csrf_token(self) -> str:
        """A CSRF token for this session, masked afresh on every call.

        The session's secret is made on first use (the session is then
        stored); ``regenerate()`` rotates it. Put tokens in forms or headers,
        never in URLs.

        >>> s = Session.detached(); a, b = s.csrf_token(), s.csrf_token()
        >>> a != b and s.check_csrf(a) and s.check_csrf(b)
        True
        """
        self.load()
        return mask_token(self.state.csrf_secret())

    def check_csrf(self, token: object) -> bool:
        """True when ``token`` is a token of this session (constant-time).

        >>> Session.detached().check_csrf("forged")
        False
        """
        self.load()
        return token_matches(token, self.state.current_csrf_secret)

    # -- identity and time --------------------------------------------------

    @property
    def id(self) -> str | None:
        """The session id, or None until the first write creates it."""
        self.load()
        return self.state.id

    @property
    def is_new(self) -> bool:
        """True when this request did not resume a stored session."""
        self.load()
        return self.state.is_new

    @property
    def created(self) -> dt.datetime:
        """When the session was created (aware UTC)."""
        self.load()
        return t.cast(dt.datetime, _utc(self.state.meta.created))

    @property
    def last_accessed(self) -> dt.datetime:
        """When the session was last written or refreshed before this request;
        for a new session its creation time (as servlet containers do).

        >>> s = Session.detached(); s.last_accessed == s.created
        True
        """
        self.load()
        state = self.state
        last = state.last_accessed
        return t.cast(dt.datetime, _utc(state.meta.created if last is None else last))

    @property
    def timeout(self) -> int | None:
        """This session's idle timeout in seconds (settable per session).

        >>> s = Session.detached(); s.timeout = 60; s.timeout, s.modified
        (60, True)
        """
        self.load()
        return self.state.meta.timeout

    @timeout.setter
    def timeout(self, seconds: int | dt.timedelta | None) -> None:
        self.load()
        if isinstance(seconds, dt.timedelta):
            seconds = int(seconds.total_seconds())
        if seconds is not None and (not isinstance(seconds, int) or seconds <= 0):
            raise ValueError("timeout must be a positive number of seconds or None")
        self.state.set_timeout(seconds)

    @property
    def tracking(self) -> str:
        """How the id travels this request: ``"cookie"``, ``"url"`` or ``"both"``."""
        self.load()
        return self.state.tracking

    @property
    def expires(self) -> dt.datetime | None:
        """When the session expires if left alone (aware UTC), or None."""
        self.load()
        state = self.state
        return _utc(expires_at(state.meta, state.absolute_timeout))

    @property
    def meta(self) -> SessionMeta:
        """The metadata stored beside the data (loads the session)."""
        self.load()
        return self.state.meta

    @property
    def modified(self) -> bool:
        """True when the request changed the session (settable to force a save)."""
        return self.state.modified

    @modified.setter
    def modified(self, value: bool) -> None:
        self.state.force(value)

    # -- lifecycle ----------------------------------------------------------

    def regenerate(self) -> None:
        """Give the session a new id, keep its data, delete the old id at once.

        Call it after login, to defeat session fixation. The CSRF secret is
        rotated too.

        >>> s = Session.detached(); s["user"] = "ann"; old = s.id
        >>> s.regenerate(); s.id != old and s["user"] == "ann"
        True
        """
        self.load()
        new_id = new_session_id()
        self.state.rotate_csrf()
        if self.state.stored:
            # The store copies the session to the new id first and deletes
            # the old one only then: an outage can fail the request but never
            # lose the session.
            self._host.move_stored(self, new_id)
        else:
            self.state.assign_id(new_id)

    def destroy(self) -> None:
        """Delete the session from the store and expire its cookie.

        Writes after it start a fresh session with a fresh id.
        """
        self.load()
        if self.state.stored:
            self._host.discard_stored(self, destroyed=True)
        self.state.reset()
