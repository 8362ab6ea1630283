"""The record form of a session: its state as store fields, and back.

A session is stored as one record: a metadata line (:mod:`wsgi_session.meta`)
plus fields. The serialized value of user key ``k`` is field
``DATA_PREFIX + k``; the flash bookkeeping is field ``SYS_FIELD``.

The store is reached through the session's *host* (the request's
coordinator). This module holds both sides of that contract:
:class:`SessionHost` is what a :class:`~wsgi_session.Session` needs from its
host; :class:`SessionRecord` is the part of the session that the host calls:
it starts or adopts a record while loading, reports the fields to write, and
is told how the write went.

>>> from wsgi_session import Session
>>> s = Session.detached(); s["n"] = 1
>>> s.changes()
({'dn': b'1'}, set())
>>> s.saved(s.meta); s.stored, s.unchanged
(True, True)
"""

from __future__ import annotations

import typing as t
from collections.abc import Mapping

from .flash import FlashState
from .meta import SessionMeta, now_ms
from .serializers import Serializer

if t.TYPE_CHECKING:
    from .session import Session

__all__ = ["DATA_PREFIX", "SYS_FIELD", "UNDECODED", "SessionHost", "SessionRecord"]

#: Record field prefix of user data keys; the flash bookkeeping lives in SYS_FIELD.
DATA_PREFIX = "d"
SYS_FIELD = "s"
#: The value of a key whose stored bytes have not been decoded yet.
UNDECODED: t.Any = object()


class SessionHost(t.Protocol):
    """What a :class:`~wsgi_session.Session` needs from its request (the
    middleware provides it)."""

    def load_session(self, session: Session) -> None:
        """Fill ``session`` via :meth:`SessionRecord.adopt` or leave it new."""

    def discard_stored(self, session: Session, *, destroyed: bool) -> None:
        """Delete the stored entry of ``session`` now (destroy)."""

    def move_stored(self, session: Session, new_id: str) -> None:
        """Store ``session`` under ``new_id``, then delete its old entry."""


class DetachedHost:
    """The host of a detached session: no store behind it.

    >>> from wsgi_session import Session
    >>> s = Session.detached(); s["n"] = 1; s.saved(s.meta); old = s.id
    >>> s.regenerate(); s.id != old, s.stored
    (True, True)
    """

    def load_session(self, session: Session) -> None:
        pass

    def discard_stored(self, session: Session, *, destroyed: bool) -> None:
        pass

    def move_stored(self, session: Session, new_id: str) -> None:
        session.assign_id(new_id)
        session.saved(session.meta)


class _RecordHost(t.Protocol):
    """What :class:`SessionRecord` uses of the session class it is mixed into."""

    _id: str | None
    _stored: bool
    _is_new: bool
    _loaded: bool
    _failure: BaseException | None
    _last_accessed: float | None
    _meta_changed: bool
    _forced: bool
    _tracking: str
    meta: SessionMeta
    _raw: dict[str, bytes]
    _items: dict[str, t.Any]
    _flash: FlashState

    @property
    def _idle(self) -> int | None: ...

    @property
    def _serializer(self) -> Serializer: ...

    @property
    def _pending(self) -> dict[str, bytes]: ...

    @property
    def _removed(self) -> set[str]: ...

    @property
    def _watch(self) -> set[str]: ...

    def _dumps(self, key: str, value: t.Any) -> bytes: ...

    def _ensure_id(self) -> None: ...

    def _load(self) -> None: ...

    def changes(self) -> tuple[dict[str, bytes], set[str]]: ...


class SessionRecord:
    """What the host of a :class:`~wsgi_session.Session` calls: loading,
    the fields to store, and the outcome of storing them.

    >>> from wsgi_session import Session
    >>> s = Session.detached(); s.loaded, s.stored
    (False, False)
    >>> s["n"] = 1; s.loaded, s.has_data, s.unchanged
    (True, True, False)
    """

    __slots__ = ()

    # Attributes of the session that these methods assign, at their full
    # types (a type checker would take them from the assignments here).
    _id: str | None
    _failure: BaseException | None
    _last_accessed: float | None

    # -- loading (called by the host) -------------------------------------------

    def start(self: _RecordHost, binding: str | None = None) -> None:
        """Begin a new session (called by the host while loading), bound to
        the User-Agent hash ``binding`` if given."""
        now = now_ms()
        self.meta = SessionMeta(now, now, self._idle, binding)
        raw: dict[str, bytes] = {}
        items: dict[str, t.Any] = {}
        self._raw, self._items = raw, items

    def adopt(
        self: _RecordHost,
        session_id: str,
        meta: SessionMeta,
        fields: Mapping[str, bytes],
    ) -> None:
        """Take over a stored session (called by the host while loading).

        Raises ValueError when the flash bookkeeping field is corrupt.
        """
        self._id = session_id
        self._stored = True
        self._is_new = False
        self.meta = meta
        self._last_accessed = meta.written
        raw: dict[str, bytes] = {}
        for name, value in fields.items():  # a loop: cheaper than a
            if name[:1] == DATA_PREFIX:  # comprehension for a few fields
                raw[name[1:]] = value
        self._raw = raw
        self._items = dict.fromkeys(raw, UNDECODED)
        flash = fields.get(SYS_FIELD)
        if flash is not None:
            self._flash = FlashState.decode(flash, self._serializer)

    @property
    def loaded(self: _RecordHost) -> bool:
        """True once the session has been loaded (or started new) this request."""
        return self._loaded

    def load(self: _RecordHost) -> None:
        """Load the session now if it is not loaded yet (the host's call: an
        application just uses the session)."""
        self._load()

    @property
    def current_id(self: _RecordHost) -> str | None:
        """The id as it stands, without loading (``id`` loads first)."""
        return self._id

    @property
    def current_tracking(self: _RecordHost) -> str:
        """The tracking mode as it stands, without loading."""
        return self._tracking

    @property
    def new_record(self: _RecordHost) -> bool:
        """True while no stored session has been adopted (without loading)."""
        return self._is_new

    def assign_id(self: _RecordHost, session_id: str | None) -> None:
        """Carry on under ``session_id`` (the host moved the stored entry)."""
        self._id = session_id

    def renew_id(self: _RecordHost) -> None:
        """Draw a fresh random id (the store refused the one drawn: taken)."""
        self._id = None
        self._ensure_id()

    # -- saving (called by the host) --------------------------------------------

    def changes(self: _RecordHost) -> tuple[dict[str, bytes], set[str]]:
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
            value = self._items.get(key, UNDECODED)
            if value is UNDECODED:
                continue
            data = self._dumps(key, value)
            if data != self._raw.get(key, UNDECODED) or key in self._pending:
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
        self: _RecordHost, set_fields: Mapping[str, bytes] | None = None
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

    def saved(self: _RecordHost, meta: SessionMeta) -> None:
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

    def mark_exposed(self: _RecordHost) -> None:
        """Record that the id has been written into a URL (binds it to its agent)."""
        if not self.meta.exposed:
            self.meta = self.meta._replace(exposed=True)
            self._meta_changed = True

    def unstored(self: _RecordHost, new_id: str) -> None:
        """The stored entry is gone; continue as an unsaved session ``new_id``."""
        self._raw.clear()
        self._removed.clear()
        self._stored = False
        self._id = new_id

    def fail(self: _RecordHost, error: BaseException) -> None:
        """Make every further use of this session raise ``error`` (no save)."""
        self._loaded = False
        self._failure = error

    @property
    def unchanged(self: _RecordHost) -> bool:
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
    def stored(self: _RecordHost) -> bool:
        """True when an entry exists in the store under the current id."""
        return self._stored

    @property
    def has_data(self: _RecordHost) -> bool:
        """True when the session holds any data or pending flash input."""
        return bool(self._items) or self._flash.active

    @property
    def meta_changed(self: _RecordHost) -> bool:
        """True when metadata (the timeout) was changed by this request."""
        return self._meta_changed or self._forced
