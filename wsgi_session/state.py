"""The state of one session during one request.

A :class:`SessionState` holds everything a request knows about its session:
the data (stored bytes, decoded values, what was set or deleted), the flash
bookkeeping, the metadata, the id and the flags (loaded, stored, new,
destroyed...). :class:`~wsgi_session.Session` is the mapping the application
sees over it; whoever *hosts* the session (the request pipeline) uses the
small public API below: :meth:`start` or :meth:`adopt` while loading,
:meth:`changes` / :meth:`all_fields` to know what to write, :meth:`saved`
once written, :meth:`assign_id` / :meth:`renew_id` / :meth:`unstored` when
the stored entry moves. Nothing outside this module touches its private
attributes.

Its record form (which field holds what) is :mod:`wsgi_session.recordfields`.

>>> state = SessionState()
>>> state.start()
>>> state.set_value("n", 1)
>>> state.changes()
({'dn': b'1'}, set())
>>> state.saved(state.meta); state.stored, state.unchanged
(True, True)
"""

from __future__ import annotations

import contextlib
import logging
import typing as t
from collections.abc import Iterator, Mapping

from .credentials import Credentials
from .errors import SerializationError
from .flash import NO_FLASH, FlashState
from .meta import SessionMeta, now_ms
from .recordfields import (
    DATA_PREFIX,
    SYS_FIELD,
    read_system_fields,
)
from .serializers import Serializer, default_serializer
from .signing import new_session_id

__all__ = ["SessionState"]

log = logging.getLogger("wsgi_session")

#: The value of a key whose stored bytes have not been decoded yet; the
#: default of a lookup that has none.
_UNDECODED: t.Any = object()
_MISSING: t.Any = object()
#: Types whose values cannot change in place (no need to watch them). Exact
#: types: a subclass (Markup, an IntEnum) is watched, which is only slower.
_IMMUTABLE = frozenset((str, int, float, bool, type(None), bytes))


class SessionState:
    """Data, changes, flash, metadata, id and flags of one request's session.

    The plain attributes are public facts for the session and its host to
    read; they change only through the methods (``tracking`` and
    ``accessed`` excepted: the host sets the mode, the facade records use).

    >>> state = SessionState(idle_timeout=60)
    >>> state.start(binding="ua")
    >>> state.meta.timeout, state.meta.binding, state.id
    (60, 'ua', None)
    >>> state.set_value("cart", ["apple"]); state.id is not None
    True
    """

    # Slots: one state is made per request; slot stores are cheaper than an
    # instance dict.
    # The facts every loaded session sets are slots; the rarely changed ones
    # (a failure, CSRF, a bound user, flash, counters) are class-level
    # defaults that an instance overrides only when they change, so making
    # and loading the state of a request sets a dozen attributes, not
    # twenty-five. Measured with callgrind on a read and an untouched
    # request: all slots, each set in __init__, costs about 1,000 machine
    # instructions more per request than this.
    __slots__ = (
        "__dict__",
        "_flash",
        "_items",
        "_pending",
        "_raw",
        "_removed",
        "_touched",
        "_watch",
        "absolute_timeout",
        "accessed",
        "id",
        "idle_timeout",
        "is_new",
        "last_accessed",
        "loaded",
        "loading",
        "meta",
        "serializer",
        "started",
        "stored",
        "tracking",
        "user_key",
    )

    #: The metadata stored beside the data (set by :meth:`start` / :meth:`adopt`).
    meta: SessionMeta
    #: The application destroyed the session this request.
    destroyed = False
    #: The error every further use raises (a failed load or move), or None.
    failure: BaseException | None = None
    #: How many times this request wrote the session to the store.
    writes = 0
    _meta_changed = _forced = False
    #: The CSRF secret and user binding, when the session has either.
    _creds: Credentials | None = None

    def __init__(
        self,
        serializer: Serializer = default_serializer,
        idle_timeout: int | None = 1800,
        absolute_timeout: int | None = None,
        user_key: str | None = None,
    ) -> None:
        self.serializer = serializer
        #: The session key that names the signed-in user (§13.1), or None.
        self.user_key = user_key
        #: The idle timeout new sessions get; the absolute limit, or None.
        self.idle_timeout = idle_timeout
        self.absolute_timeout = absolute_timeout
        #: The session id, or None until the first write creates one; when
        #: the resumed session was last written (POSIX seconds), or None.
        self.id: str | None
        self.last_accessed: float | None
        self.id = self.last_accessed = None
        #: How the id travels this request: "cookie", "url" or "both".
        self.tracking = "cookie"
        #: Loaded (or started new) this request / being loaded right now
        #: (given its data by :meth:`start` or :meth:`adopt`); an entry
        #: exists in the store under :attr:`id`; the application used the
        #: session this request. ``_touched``: anything but a watched value
        #: or the flash state changed (what :attr:`unchanged` asks on every
        #: read-only request: one flag, not six).
        self.loaded = self.loading = self.started = self.stored = False
        self.accessed = self._touched = False
        #: This request did not resume a stored session.
        self.is_new = True
        self._flash = NO_FLASH

    # -- loading (the host's calls) ---------------------------------------------

    def start(self, binding: str | None = None) -> None:
        """Begin a new, empty session bound to the User-Agent hash ``binding``."""
        now = now_ms()
        self.meta = SessionMeta(now, now, self.idle_timeout, binding)
        self._raw: dict[str, bytes] = {}
        self._items: dict[str, t.Any] = {}
        self._begin()

    def adopt(
        self, session_id: str, meta: SessionMeta, fields: Mapping[str, bytes]
    ) -> None:
        """Take over a stored session. ValueError when a system field is corrupt."""
        raw: dict[str, bytes] = {}
        others = False
        for name, value in fields.items():  # a loop: cheaper than a
            if name[:1] == DATA_PREFIX:  # comprehension for a few fields
                raw[name[1:]] = value
            else:
                others = True
        if others:  # most sessions hold data fields only
            self._adopt_system_fields(fields)
        self.id = session_id
        self.stored = True
        self.is_new = False
        self.meta = meta
        self.last_accessed = meta.written
        self._raw = raw
        self._items = dict.fromkeys(raw, _UNDECODED)
        self._begin()

    def _adopt_system_fields(self, fields: Mapping[str, bytes]) -> None:
        system = read_system_fields(fields)
        if system.flash is not None:
            self._flash = FlashState.decode(system.flash, self.serializer)
        self._creds = Credentials.stored(system)

    def _begin(self) -> None:
        self.started = True
        self._pending: dict[str, bytes] = {}
        self._removed: set[str] = set()
        self._watch: set[str] = set()

    def fail(self, error: BaseException) -> None:
        """Make every further use of the session raise ``error`` (no save)."""
        self.loaded = False
        self.failure = error

    # -- the data (the facade's calls) --------------------------------------------

    def get_value(self, key: str, default: t.Any = _MISSING) -> t.Any:
        """The decoded value of ``key``; ``default`` when it is missing or
        undecodable, KeyError without a default."""
        value = self._items.get(key, _MISSING)
        if value is _MISSING:
            if default is _MISSING:
                raise KeyError(key)
            return default
        if value is _UNDECODED:
            data = self._pending.get(key) if self._pending else None
            try:
                value = self.serializer.loads(self._raw[key] if data is None else data)
            except Exception:
                log.warning("wsgi_session: dropping an undecodable session value")
                del self._items[key]
                self._removed.add(key)
                self._touched = True
                if default is _MISSING:
                    raise KeyError(key) from None
                return default
            self._items[key] = value
        if type(value) not in _IMMUTABLE:
            self._watch.add(key)
        return value

    def contains(self, key: object) -> bool:
        """True when ``key`` is in the data (decoded or not)."""
        return key in self._items

    def set_value(self, key: str, value: t.Any) -> None:
        """Set ``key``; a value serialized as stored is not a change."""
        data = self.dumps(key, value)
        if (
            key in self._items
            and self._raw.get(key) == data
            and key not in self._pending
        ):
            self._items[key] = value  # the same serialized value: no real change
        else:
            self._items[key] = value
            self._pending[key] = data
            self._removed.discard(key)
            self._touched = True
            self.ensure_id()
        if type(value) not in _IMMUTABLE:
            self._watch.add(key)

    def delete_value(self, key: str) -> None:
        """Remove ``key``; KeyError when missing."""
        del self._items[key]
        self._pending.pop(key, None)
        self._watch.discard(key)
        self._touched = True
        if key in self._raw:
            self._removed.add(key)

    def live_keys(self) -> Iterator[str]:
        """The keys whose values decode (undecodable ones are dropped now)."""
        for key in [k for k, v in self._items.items() if v is _UNDECODED]:
            with contextlib.suppress(KeyError):
                self.get_value(key)
        return iter(list(self._items))

    def size(self) -> int | None:
        """The number of keys, or None before the session is started."""
        return len(self._items) if self.started else None

    def stored_value(self, key: str, default: t.Any = None) -> t.Any:
        """The value of ``key`` as loaded from the store (``default`` if none)."""
        raw = self._raw.get(key) if self.started else None
        if raw is None:
            return default
        try:
            return self.serializer.loads(raw)
        except Exception:
            return default

    def dumps(self, key: str, value: t.Any) -> bytes:
        """Serialize ``value``; SerializationError names ``key`` and the type."""
        try:
            return self.serializer.dumps(value)
        except SerializationError as exc:
            raise exc.under(key) from None
        except Exception as exc:
            raise SerializationError(key, type(value).__qualname__, str(exc)) from exc

    def ensure_id(self) -> None:
        """Draw a random id if the session has none yet (it is being written)."""
        if self.id is None:
            self.id = new_session_id()

    # -- flash --------------------------------------------------------------------

    @property
    def flash(self) -> FlashState:
        """The flash bookkeeping (read it; change it through :meth:`writable_flash`)."""
        return self._flash

    def writable_flash(self) -> FlashState:
        """The flash bookkeeping, made this session's own before a change."""
        if self._flash is NO_FLASH:
            self._flash = FlashState()
        return self._flash

    def age_flash(self) -> None:
        """End-of-request flash aging: drop what was shown, keep what is new."""
        if self._flash is NO_FLASH:
            return
        for key in self._flash.age():
            if key in self._items:
                self.delete_value(key)

    # -- credentials: the CSRF secret (§13.2), the user (§13.1) -------------------

    def _credentials(self) -> Credentials:
        if self._creds is None:
            self._creds = Credentials()
        return self._creds

    def csrf_secret(self) -> str:
        """The session's CSRF secret, made on first use (which makes the
        session non-empty: it is stored with it)."""
        creds = self._credentials()
        if creds.secret is None:
            self._touched = True
            self.ensure_id()
        return creds.make_secret()

    @property
    def current_csrf_secret(self) -> str | None:
        """The CSRF secret if the session has one (none is made)."""
        return None if self._creds is None else self._creds.secret

    def rotate_csrf(self) -> None:
        """Replace an existing CSRF secret (regenerate, login): tokens of the
        old one stop verifying."""
        if self._creds is not None and self._creds.rotate_secret():
            self._touched = True

    @property
    def bound_user(self) -> str | None:
        """The user the session is bound to, or None."""
        return None if self._creds is None else self._creds.user

    @property
    def handle(self) -> str | None:
        """The session's handle in its user's index, or None."""
        return None if self._creds is None else self._creds.handle

    def bind(self, user_id: str, handle: str) -> None:
        """Record that the session now belongs to ``user_id`` (a change to save)."""
        self._credentials().bind(user_id, handle)
        self._touched = True
        self.ensure_id()

    def unbind(self) -> None:
        """Record that the session no longer belongs to a user."""
        if self._creds is not None and self._creds.unbind():
            self._touched = True

    # -- metadata -------------------------------------------------------------------

    def set_timeout(self, seconds: int | None) -> None:
        """Give this session its own idle timeout (a change to save)."""
        if seconds != self.meta.timeout:
            self.meta = self.meta._replace(timeout=seconds)
            self._meta_changed = self._touched = True
            self.ensure_id()

    def mark_exposed(self) -> None:
        """Record that the id has been written into a URL (binds it to its agent)."""
        if not self.meta.exposed:
            self.meta = self.meta._replace(exposed=True)
            self._meta_changed = self._touched = True

    def force(self, value: bool) -> None:
        """Force a save (``modified = True``) or stop forcing one."""
        self._forced = bool(value)
        if value:
            self._touched = True
        if value and self.loaded:
            self.ensure_id()

    @property
    def forced(self) -> bool:
        """True when a save is forced."""
        return self._forced

    # -- what to write (the host's calls) --------------------------------------------

    @property
    def modified(self) -> bool:
        """True when there are changes to save (known without re-serializing)."""
        if not self.loaded:
            return self._forced
        return bool(
            self._forced
            or self._pending
            or self._removed
            or self._meta_changed
            or self._flash.changed
            or (self._creds is not None and self._creds.changed)
        )

    @property
    def unchanged(self) -> bool:
        """True when nothing was set, deleted, flashed or watched this request
        (then :meth:`changes` has nothing to report)."""
        return not (self._touched or self._watch or self._flash.changed)

    @property
    def meta_changed(self) -> bool:
        """True when metadata (the timeout) changed or a save is forced."""
        return self._meta_changed or self._forced

    @property
    def has_data(self) -> bool:
        """True when the session holds any data or pending flash input."""
        return (
            bool(self._items)
            or self._flash.active
            or (self._creds is not None and self._creds.present)
        )

    def changes(self) -> tuple[dict[str, bytes], set[str]]:
        """Return ``(fields_to_set, fields_to_delete)`` in record form.

        Watched mutable values are serialized again and compared with the
        loaded bytes, so in-place changes are found; raises
        SerializationError (naming the key path) if one became unserializable.
        """
        fields: dict[str, bytes] = {}
        flash = self._flash
        removed: set[str] = set()
        if self._creds is not None:
            self._creds.write_changes(fields, removed, stored=self.stored)
        if not (self._watch or self._pending or self._removed or flash.changed):
            return fields, removed
        for key in self._watch:
            value = self._items.get(key, _UNDECODED)
            if value is _UNDECODED:
                continue
            data = self.dumps(key, value)
            if data != self._raw.get(key, _UNDECODED) or key in self._pending:
                self._pending[key] = data
        if self._pending:
            self.ensure_id()
        for key, data in self._pending.items():
            fields[DATA_PREFIX + key] = data
        removed.update(DATA_PREFIX + key for key in self._removed)
        if flash.changed or (fields and not self.stored and flash.active):
            if flash.active:
                fields[SYS_FIELD] = flash.encode(self.serializer)
            elif self.stored:
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
            fields[SYS_FIELD] = self._flash.encode(self.serializer)
        if self._creds is not None:
            self._creds.write_all(fields)
        return fields

    # -- how the write went (the host's calls) ---------------------------------------

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
        self._meta_changed = self._forced = self._touched = False
        if self._creds is not None:
            self._creds.saved()
        self.meta = meta
        self.stored = True
        self.writes += 1

    def refreshed(self, meta: SessionMeta) -> None:
        """Record that only the expiry of the stored entry was renewed."""
        self.meta = meta

    def assign_id(self, session_id: str | None) -> None:
        """Carry on under ``session_id`` (the host moved the stored entry)."""
        self.id = session_id

    def renew_id(self) -> None:
        """Draw a fresh random id (the store refused the one drawn: taken)."""
        self.id = None
        self.ensure_id()

    def unstored(self, new_id: str | None) -> None:
        """The stored entry is gone; continue as an unsaved session ``new_id``."""
        self._raw.clear()
        self._removed.clear()
        self.stored = False
        self.id = new_id

    def ended(self) -> None:
        """The stored entry ended under this request (a concurrent destroy,
        or emptied by the save): the session counts as destroyed."""
        self.destroyed = True

    def reset(self) -> None:
        """Start over empty after a destroy: new times, no id, nothing stored."""
        now = now_ms()
        meta = self.meta
        self.meta = SessionMeta(now, now, meta.timeout, meta.binding, meta.exposed)
        self.id = None
        self.last_accessed = None
        self.stored = False
        self.is_new = True
        self._raw.clear()
        self._items.clear()
        self._begin()
        self._flash = NO_FLASH
        self._forced = self._meta_changed = self._touched = False
        self._creds = None
        self.destroyed = True
