"""The dirty-tracking session object; no I/O of its own.

A :class:`Session` is a ``MutableMapping[str, Any]`` over the data of one
session, loaded lazily through its *host* (the middleware's per-request
coordinator) on first use. It remembers exactly which keys the request set or
deleted, so that a save can merge only those into the stored version, and it
detects in-place changes of mutable values by comparing serialized forms.
Its flash verbs come from :class:`~wsgi_session.flash.FlashMixin`, the
methods its host calls to load and save it from
:class:`~wsgi_session.record.SessionRecord`, and its metadata is a
:class:`~wsgi_session.meta.SessionMeta`.

>>> s = Session.detached()
>>> s["cart"] = ["apple"]
>>> s["cart"].append("pear")
>>> s.put({"user": "ann", "theme": "dark"})
>>> s.pull("theme"), s.has("theme"), sorted(s.all())
('dark', False, ['cart', 'user'])
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import typing as t
from collections.abc import Iterator, Mapping, MutableMapping

from .errors import SerializationError
from .flash import NO_FLASH, FlashMixin, FlashState
from .meta import SessionMeta as SessionMeta
from .meta import now_ms as now_ms
from .record import DATA_PREFIX as DATA_PREFIX
from .record import SYS_FIELD as SYS_FIELD
from .record import UNDECODED, DetachedHost, SessionRecord
from .record import SessionHost as SessionHost
from .serializers import Serializer, default_serializer
from .signing import new_session_id

__all__ = ["DATA_PREFIX", "SYS_FIELD", "Session", "SessionHost", "SessionMeta"]

log = logging.getLogger("wsgi_session")

_IMMUTABLE = (str, int, float, bool, type(None), bytes)
_UTC = dt.timezone.utc


def _utc(ts: float | None) -> dt.datetime | None:
    return None if ts is None else dt.datetime.fromtimestamp(ts, _UTC)


class Session(FlashMixin, SessionRecord, MutableMapping[str, t.Any]):
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

    # Slots: a request sets about twenty of these, and slot stores are
    # cheaper than growing an instance dict (subclasses may add a __dict__).
    __slots__ = (
        "_absolute",
        "_failure",
        "_flash",
        "_forced",
        "_host",
        "_id",
        "_idle",
        "_is_new",
        "_items",
        "_last_accessed",
        "_loaded",
        "_loading",
        "_meta_changed",
        "_pending",
        "_raw",
        "_removed",
        "_serializer",
        "_stored",
        "_tracking",
        "_watch",
        "accessed",
        "destroyed",
        "meta",
    )

    #: True once the session was destroyed during this request.
    destroyed: bool
    #: True once the application used the session during this request.
    accessed: bool
    #: The metadata stored beside the data (None until the session is loaded).
    meta: SessionMeta
    # The containers are made by _begin() when the session is first used.
    _raw: dict[str, bytes]
    _items: dict[str, t.Any]
    _pending: dict[str, bytes]
    _removed: set[str]
    _watch: set[str]
    _flash: FlashState

    def __init__(
        self,
        host: SessionHost,
        serializer: Serializer = default_serializer,
        idle_timeout: int | None = 1800,
        absolute_timeout: int | None = None,
    ) -> None:
        self._host = host
        self._serializer = serializer
        self._idle = idle_timeout
        self._absolute = absolute_timeout
        self._loading = self._loaded = self._stored = False
        self._meta_changed = self._forced = self.destroyed = self.accessed = False
        self._failure: BaseException | None = None
        self._id: str | None = None
        self._is_new = True
        self._last_accessed: float | None = None
        self._tracking = "cookie"
        self.meta = None  # type: ignore[assignment]  # set while loading

    def _begin(self) -> None:
        """Start the request's state (``start`` or ``adopt`` then fill the data)."""
        self._pending = {}
        self._removed = set()
        self._watch = set()
        self._flash = NO_FLASH

    @classmethod
    def detached(cls, **options: t.Any) -> Session:
        """A session with no store behind it (tests, scripts, examples).

        >>> Session.detached().is_new
        True
        """
        return cls(DetachedHost(), **options)

    # -- loading ----------------------------------------------------------

    def _load(self) -> None:
        self.accessed = True
        if self._loaded:
            return
        if self._failure is not None:
            raise self._failure
        if self._loading:
            return
        self._loading = True
        self._begin()
        try:
            self._host.load_session(self)
            if self.meta is None:  # the host left it new
                self.start()
        except BaseException as exc:
            self._failure = exc
            raise
        finally:
            self._loading = False
        self._loaded = True

    # -- the mapping --------------------------------------------------------

    def _value(self, key: str) -> t.Any:
        value = self._items[key]
        if value is UNDECODED:
            data = self._pending.get(key) if self._pending else None
            try:
                value = self._serializer.loads(self._raw[key] if data is None else data)
            except Exception:
                log.warning("wsgi_session: dropping an undecodable session value")
                del self._items[key]
                self._removed.add(key)
                raise KeyError(key) from None
            self._items[key] = value
        if not isinstance(value, _IMMUTABLE):
            self._watch.add(key)
        return value

    def __getitem__(self, key: str) -> t.Any:
        if not self._loaded:
            self._load()
        return self._value(key)

    def __setitem__(self, key: str, value: t.Any) -> None:
        if not isinstance(key, str):
            raise TypeError(f"session keys must be str, not {type(key).__name__}")
        if not self._loaded:
            self._load()
        data = self._dumps(key, value)
        if (
            key in self._items
            and self._raw.get(key) == data
            and key not in self._pending
        ):
            self._items[key] = value  # same serialized value: no real change
        else:
            self._items[key] = value
            self._pending[key] = data
            self._removed.discard(key)
            self._ensure_id()
        if not isinstance(value, _IMMUTABLE):
            self._watch.add(key)

    def __delitem__(self, key: str) -> None:
        self._load()
        del self._items[key]
        self._pending.pop(key, None)
        self._watch.discard(key)
        if key in self._raw:
            self._removed.add(key)

    def __contains__(self, key: object) -> bool:
        if not self._loaded:
            self._load()
        return key in self._items

    def __iter__(self) -> Iterator[str]:
        self._load()
        self._decode_all()
        return iter(list(self._items))

    def __len__(self) -> int:
        self._load()
        self._decode_all()
        return len(self._items)

    def _decode_all(self) -> None:
        """Decode every value not read yet, dropping undecodable ones."""
        for key in [k for k, v in self._items.items() if v is UNDECODED]:
            with contextlib.suppress(KeyError):
                self._value(key)

    def __repr__(self) -> str:
        state = "new" if self._is_new else "stored"
        return f"<Session {state} keys={len(self._items) if self._loaded else '?'}>"

    def get(self, key: str, default: t.Any = None) -> t.Any:
        """Return the value of ``key``, or ``default``.

        >>> Session.detached().get("missing", 0)
        0
        """
        if not self._loaded:
            self._load()
        if key not in self._items:
            return default
        try:
            return self._value(key)
        except KeyError:
            return default

    def clear(self) -> None:
        """Remove all data (the id is kept; an emptied stored session is deleted)."""
        for key in list(self):
            del self[key]

    def _dumps(self, key: str, value: t.Any) -> bytes:
        try:
            return self._serializer.dumps(value)
        except SerializationError as exc:
            raise exc.under(key) from None
        except Exception as exc:
            raise SerializationError(key, type(value).__qualname__, str(exc)) from exc

    def _ensure_id(self) -> None:
        if self._id is None:
            self._id = new_session_id()

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
        self._writable_flash().reset()

    # -- identity and time --------------------------------------------------

    @property
    def id(self) -> str | None:
        """The session id, or None until the first write creates it."""
        self._load()
        return self._id

    @property
    def is_new(self) -> bool:
        """True when this request did not resume a stored session."""
        self._load()
        return self._is_new

    @property
    def created(self) -> dt.datetime:
        """When the session was created (aware UTC)."""
        self._load()
        return t.cast(dt.datetime, _utc(self.meta.created))

    @property
    def last_accessed(self) -> dt.datetime:
        """When the session was last written or refreshed before this request;
        for a new session its creation time (as servlet containers do).

        >>> s = Session.detached(); s.last_accessed == s.created
        True
        """
        self._load()
        last = self._last_accessed
        return t.cast(dt.datetime, _utc(self.meta.created if last is None else last))

    @property
    def timeout(self) -> int | None:
        """This session's idle timeout in seconds (settable per session).

        >>> s = Session.detached(); s.timeout = 60; s.timeout, s.modified
        (60, True)
        """
        self._load()
        return self.meta.timeout

    @timeout.setter
    def timeout(self, seconds: int | dt.timedelta | None) -> None:
        self._load()
        if isinstance(seconds, dt.timedelta):
            seconds = int(seconds.total_seconds())
        if seconds is not None and (not isinstance(seconds, int) or seconds <= 0):
            raise ValueError("timeout must be a positive number of seconds or None")
        if seconds != self.meta.timeout:
            self.meta = self.meta._replace(timeout=seconds)
            self._meta_changed = True
            self._ensure_id()

    @property
    def tracking(self) -> str:
        """How the id travels this request: ``"cookie"``, ``"url"`` or ``"both"``."""
        self._load()
        return self._tracking

    @tracking.setter
    def tracking(self, mode: str) -> None:
        self._tracking = mode

    @property
    def expires(self) -> dt.datetime | None:
        """When the session expires if left alone (aware UTC), or None."""
        self._load()
        return _utc(self.expiry(self.meta))

    def expiry(self, meta: SessionMeta) -> float | None:
        """The POSIX time at which a session with ``meta`` expires, or None."""
        end = None if meta.timeout is None else meta.written + meta.timeout
        if self._absolute is not None:
            hard = meta.created + self._absolute
            end = hard if end is None else min(end, hard)
        return end

    @property
    def modified(self) -> bool:
        """True when the request changed the session (settable to force a save)."""
        if not self._loaded:
            return self._forced
        return bool(
            self._forced
            or self._pending
            or self._removed
            or self._meta_changed
            or self._flash.changed
        )

    @modified.setter
    def modified(self, value: bool) -> None:
        self._forced = bool(value)
        if value and self._loaded:
            self._ensure_id()

    # -- lifecycle ----------------------------------------------------------

    def regenerate(self) -> None:
        """Give the session a new id, keep its data, delete the old id at once.

        Call it after login, to defeat session fixation.

        >>> s = Session.detached(); s["user"] = "ann"; old = s.id
        >>> s.regenerate(); s.id != old and s["user"] == "ann"
        True
        """
        self._load()
        new_id = new_session_id()
        if self._stored:
            # The store copies the session to the new id first and deletes
            # the old one only then: an outage can fail the request but never
            # lose the session.
            self._host.move_stored(self, new_id)
        else:
            self._id = new_id

    def destroy(self) -> None:
        """Delete the session from the store and expire its cookie.

        Writes after it start a fresh session with a fresh id.
        """
        self._load()
        if self._stored:
            self._host.discard_stored(self, destroyed=True)
        now = now_ms()
        self.meta = SessionMeta(
            now, now, self.meta.timeout, self.meta.binding, self.meta.exposed
        )
        self._id = None
        self._last_accessed = None
        self._stored = False
        self._is_new = True
        self._raw.clear()
        self._items.clear()
        self._pending.clear()
        self._removed.clear()
        self._watch.clear()
        self._flash = NO_FLASH
        self._forced = self._meta_changed = False
        self.destroyed = True
