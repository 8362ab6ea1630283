"""The dirty-tracking session object; no I/O of its own.

A :class:`Session` is a ``MutableMapping[str, Any]`` over the data of one
session, loaded lazily through its *host* (the middleware's per-request
coordinator) on first use. It remembers exactly which keys the request set or
deleted, so that a save can merge only those into the stored version, and it
detects in-place changes of mutable values by comparing serialized forms.

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
import math
import time
import typing as t
from collections.abc import Iterator, Mapping, MutableMapping

from .errors import SerializationError
from .flash import NO_FLASH, FlashState, lookup_dotted, select_input
from .serializers import Serializer, default_serializer
from .signing import new_session_id

__all__ = ["DATA_PREFIX", "SYS_FIELD", "Session", "SessionHost", "SessionMeta"]

log = logging.getLogger("wsgi_session")

#: Record field prefix of user data keys; the flash bookkeeping lives in SYS_FIELD.
DATA_PREFIX = "d"
SYS_FIELD = "s"
_IMMUTABLE = (str, int, float, bool, type(None), bytes)
_MISSING: t.Any = object()
_UTC = dt.timezone.utc


class SessionHost(t.Protocol):
    """What a :class:`Session` needs from its request (the middleware provides it)."""

    def load_session(self, session: Session) -> None:
        """Fill ``session`` via :meth:`Session.adopt` or leave it new."""

    def discard_stored(self, session: Session, *, destroyed: bool) -> None:
        """Delete the stored entry of ``session`` now (destroy)."""

    def move_stored(self, session: Session, new_id: str) -> None:
        """Store ``session`` under ``new_id``, then delete its old entry."""


class SessionMeta(t.NamedTuple):
    """Metadata stored beside the data: times are POSIX seconds (UTC).

    ``binding`` is a hash of the User-Agent that created the session;
    ``exposed`` is True when its id has been written into URLs (then the
    binding holds whichever way the id comes back).

    >>> m = SessionMeta(created=10.0, written=20.0, timeout=1800, binding="ab")
    >>> SessionMeta.decode(m.encode()) == m
    True
    """

    created: float
    written: float
    timeout: int | None
    binding: str | None
    exposed: bool = False

    def encode(self) -> bytes:
        """Serialize to one ASCII line: ``created,written,timeout,binding,exposed``.

        Times are written with millisecond precision. Metadata made by
        :meth:`written_at` or :meth:`Session.start` holds whole milliseconds
        (:func:`now_ms`) and decodes back to an equal object, so it is
        remembered for the next :meth:`decode` of the same line.
        """
        data = b"%.3f,%.3f,%s,%s,%s" % (
            self.created,
            self.written,
            b"" if self.timeout is None else b"%d" % self.timeout,
            (self.binding or "").encode("ascii"),
            b"1" if self.exposed else b"",
        )
        _remember_meta(data, self)
        return data

    def written_at(self, now: float) -> SessionMeta:
        """The same metadata with ``written`` set to ``now`` (a :func:`now_ms`).

        >>> SessionMeta(1.0, 2.0, 60, None).written_at(5.0).written
        5.0
        """
        return SessionMeta(self.created, now, self.timeout, self.binding, self.exposed)

    @classmethod
    def decode(cls, data: bytes) -> SessionMeta:
        """Parse :meth:`encode` output; raise ValueError on anything else.

        >>> SessionMeta.decode(b"garbage")
        Traceback (most recent call last):
        ...
        ValueError: corrupt session metadata
        """
        if type(data) is not bytes:
            return cls._parse(data)
        meta = _decoded_meta.get(data)
        if meta is not None:
            return meta
        meta = cls._parse(data)
        _remember_meta(data, meta)
        return meta

    @classmethod
    def _parse(cls, data: bytes) -> SessionMeta:
        try:
            created, written, timeout, binding, exposed = data.decode("ascii").split(
                ","
            )
            meta = cls(
                float(created),
                float(written),
                int(timeout) if timeout else None,
                binding or None,
                exposed == "1",
            )
        except (AttributeError, UnicodeDecodeError, ValueError) as exc:
            raise ValueError("corrupt session metadata") from exc
        if (meta.timeout is not None and meta.timeout <= 0) or not (
            math.isfinite(meta.created) and math.isfinite(meta.written)
        ):
            raise ValueError("corrupt session metadata")
        return meta


def now_ms() -> float:
    """The current POSIX time in whole milliseconds, the precision stored in
    metadata: such a time is written and read back exactly.

    >>> t = now_ms(); float("%.3f" % t) == t
    True
    """
    return int(time.time() * 1000) / 1000


#: Recently decoded meta lines (a session's line changes only when it is
#: written, and every request of the session decodes it).
_decoded_meta: dict[bytes, SessionMeta] = {}
_DECODED_META_MAX = 4096


def _remember_meta(data: bytes, meta: SessionMeta) -> None:
    if len(_decoded_meta) >= _DECODED_META_MAX:
        _decoded_meta.clear()
    _decoded_meta[data] = meta


class _NullHost:
    def load_session(self, session: Session) -> None:
        pass

    def discard_stored(self, session: Session, *, destroyed: bool) -> None:
        pass

    def move_stored(self, session: Session, new_id: str) -> None:
        session._id = new_id
        session.saved(session.meta)


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
        """Start the request's state: a new, empty session until adopted."""
        self._raw = {}
        self._items = {}
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
        return cls(_NullHost(), **options)

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

    def start(self, binding: str | None = None) -> None:
        """Begin a new session (called by the host while loading), bound to
        the User-Agent hash ``binding`` if given."""
        now = now_ms()
        self.meta = SessionMeta(now, now, self._idle, binding)

    def adopt(
        self, session_id: str, meta: SessionMeta, fields: Mapping[str, bytes]
    ) -> None:
        """Take over a stored session (called by the host while loading).

        Raises ValueError when the flash bookkeeping field is corrupt.
        """
        self._id = session_id
        self._stored = True
        self._is_new = False
        self.meta = meta
        self._last_accessed = meta.written
        self._raw = raw = {
            name[1:]: value for name, value in fields.items() if name[:1] == DATA_PREFIX
        }
        self._items = dict.fromkeys(raw, _MISSING)
        flash = fields.get(SYS_FIELD)
        if flash is not None:
            self._flash = FlashState.decode(flash, self._serializer)

    @property
    def loaded(self) -> bool:
        """True once the session has been loaded (or started new) this request."""
        return self._loaded

    # -- the mapping --------------------------------------------------------

    def _value(self, key: str) -> t.Any:
        value = self._items[key]
        if value is _MISSING:
            data = self._pending.get(key)
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
        for key in [k for k, v in self._items.items() if v is _MISSING]:
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
    def last_accessed(self) -> dt.datetime | None:
        """When the session was last written or refreshed before this request."""
        self._load()
        return _utc(self._last_accessed)

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

    # -- flash data -----------------------------------------------------------

    def flash(self, key: str, value: t.Any) -> None:
        """Store a value readable during the NEXT request only.

        >>> s = Session.detached(); s.flash("notice", "Saved"); s["notice"]
        'Saved'
        """
        self[key] = value
        self._writable_flash().mark_new(key)

    def now(self, key: str, value: t.Any) -> None:
        """Store a value readable during THIS request only."""
        self[key] = value
        self._writable_flash().mark_now(key)

    def reflash(self) -> None:
        """Keep all current flash data (and old input) for one more request."""
        self._load()
        self._writable_flash().reflash()

    def keep(self, *keys: str) -> None:
        """Keep only these flash keys for one more request."""
        self._load()
        self._writable_flash().keep(keys)

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
        self._load()
        data = select_input(form, only, exclude)
        try:
            self._serializer.dumps(data)
        except SerializationError as exc:
            raise exc.under("<old input>") from None
        self._writable_flash().set_input(data)
        self._ensure_id()

    def old(self, name: str, default: t.Any = None) -> t.Any:
        """Read a flashed form field; dotted names reach into nested dicts.

        >>> s = Session.detached(); s.flash_input({"profile": {"name": "Ann"}})
        >>> s.old("profile.name")
        'Ann'
        """
        self._load()
        return lookup_dotted(self._flash.input or {}, name, default)

    # -- saving (called by the middleware) -------------------------------------

    def _writable_flash(self) -> FlashState:
        if self._flash is NO_FLASH:
            self._flash = FlashState()
        return self._flash

    def age_flash(self) -> None:
        """End-of-request flash aging: drop what was shown, keep what is new."""
        if self._flash is NO_FLASH:
            return
        for key in self._flash.age():
            if key in self._items:
                del self[key]

    def changes(self) -> tuple[dict[str, bytes], set[str]]:
        """Return ``(fields_to_set, fields_to_delete)`` in record form.

        Watched mutable values are serialized again and compared with the
        loaded bytes, so in-place changes are found; raises
        SerializationError (naming the key path) if one became unserializable.
        """
        fields: dict[str, bytes] = {}
        flash = self._flash
        if not (self._watch or self._pending or self._removed or flash.changed):
            return fields, set()
        for key in self._watch:
            value = self._items.get(key, _MISSING)
            if value is _MISSING:
                continue
            data = self._dumps(key, value)
            if data != self._raw.get(key, _MISSING) or key in self._pending:
                self._pending[key] = data
        if self._pending and self._id is None:
            self._ensure_id()
        for key, data in self._pending.items():
            fields[DATA_PREFIX + key] = data
        removed = (
            {DATA_PREFIX + key for key in self._removed} if self._removed else set()
        )
        if self._flash.changed or (fields and not self._stored and self._flash.active):
            if self._flash.active:
                fields[SYS_FIELD] = self._flash.encode(self._serializer)
            elif self._stored:
                removed.add(SYS_FIELD)
        return fields, removed

    def all_fields(
        self, set_fields: Mapping[str, bytes] | None = None
    ) -> dict[str, bytes]:
        """Every field of the record as it should be stored after this request.

        ``set_fields`` is :meth:`changes`' first result when the caller has
        it already (each call serializes the watched values again).
        """
        if set_fields is None:
            set_fields, _ = self.changes()
        fields = {DATA_PREFIX + k: v for k, v in self._raw.items() if k in self._items}
        fields.update(set_fields)
        if self._flash.active:
            fields[SYS_FIELD] = self._flash.encode(self._serializer)
        return fields

    def saved(self, meta: SessionMeta) -> None:
        """Record that the current state is now stored under ``meta``."""
        for key, data in self._pending.items():
            self._raw[key] = data
        for key in self._removed:
            self._raw.pop(key, None)
        self._pending.clear()
        self._removed.clear()
        if self._flash.changed:
            self._flash.changed = False
        self._meta_changed = self._forced = False
        self.meta = meta
        self._stored = True

    def mark_exposed(self) -> None:
        """Record that the id has been written into a URL (binds it to its agent)."""
        if not self.meta.exposed:
            self.meta = self.meta._replace(exposed=True)
            self._meta_changed = True

    def unstored(self, new_id: str) -> None:
        """The stored entry is gone; continue as an unsaved session ``new_id``."""
        self._raw.clear()
        self._removed.clear()
        self._stored = False
        self._id = new_id

    def fail(self, error: BaseException) -> None:
        """Make every further use of this session raise ``error`` (no save)."""
        self._loaded = False
        self._failure = error

    @property
    def unchanged(self) -> bool:
        """True when nothing was set, deleted, flashed or watched this request
        (then :meth:`changes` has nothing to report)."""
        return not (
            self._watch
            or self._pending
            or self._removed
            or self._flash.changed
            or self._meta_changed
            or self._forced
        )

    @property
    def stored(self) -> bool:
        """True when an entry exists in the store under the current id."""
        return self._stored

    @property
    def has_data(self) -> bool:
        """True when the session holds any data or pending flash input."""
        return bool(self._items) or self._flash.active

    @property
    def meta_changed(self) -> bool:
        """True when metadata (the timeout) was changed by this request."""
        return self._meta_changed or self._forced
