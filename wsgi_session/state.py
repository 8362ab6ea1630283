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

The values themselves and their changes are the base class,
:class:`~wsgi_session.values.SessionValues`; the record form (which field
holds what) is :mod:`wsgi_session.recordfields`.

>>> state = SessionState()
>>> state.start()
>>> state.set_value("n", 1)
>>> state.changes()
({'dn': b'1'}, set())
>>> state.saved(state.meta); state.stored, state.unchanged
(True, True)
"""

from __future__ import annotations

import typing as t
from collections.abc import Mapping

from .credentials import Credentials
from .flash import NO_FLASH, FlashState
from .meta import SessionMeta, now_ms
from .recordfields import DATA_PREFIX, SYS_FIELD, read_system_fields
from .serializers import Serializer, default_serializer
from .values import SessionValues

__all__ = ["SessionState"]


class SessionState(SessionValues):
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
        "absolute_timeout",
        "accessed",
        "idle_timeout",
        "is_new",
        "last_accessed",
        "loaded",
        "loading",
        "meta",
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
        # SessionValues.__init__ inlined (the id, its serializer, touched):
        # one call fewer on every request that uses its session.
        self.serializer = serializer
        self.id = None
        #: The session key that names the signed-in user (§13.1), or None.
        self.user_key = user_key
        #: The idle timeout new sessions get; the absolute limit, or None.
        self.idle_timeout = idle_timeout
        self.absolute_timeout = absolute_timeout
        #: When the resumed session was last written (POSIX seconds), or None.
        self.last_accessed: float | None = None
        #: How the id travels this request: "cookie", "url" or "both".
        self.tracking = "cookie"
        #: Loaded (or started new) this request / being loaded right now
        #: (given its data by :meth:`start` or :meth:`adopt`); an entry
        #: exists in the store under :attr:`id`; the application used the
        #: session this request.
        self.loaded = self.loading = self.started = self.stored = False
        self.accessed = self.touched = False
        #: This request did not resume a stored session.
        self.is_new = True
        self._flash = NO_FLASH

    # -- loading (the host's calls) ---------------------------------------------

    def start(self, binding: str | None = None) -> None:
        """Begin a new, empty session bound to the User-Agent hash ``binding``."""
        now = now_ms()
        self.meta = SessionMeta(now, now, self.idle_timeout, binding)
        self.begin_values({})
        self.started = True

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
        self.begin_values(raw)
        self.started = True

    def _adopt_system_fields(self, fields: Mapping[str, bytes]) -> None:
        system = read_system_fields(fields)
        if system.flash is not None:
            self._flash = FlashState.decode(system.flash, self.serializer)
        self._creds = Credentials.stored(system)

    def fail(self, error: BaseException) -> None:
        """Make every further use of the session raise ``error`` (no save)."""
        self.loaded = False
        self.failure = error

    def size(self) -> int | None:
        """The number of keys, or None before the session is started."""
        return self.key_count if self.started else None

    def stored_value(self, key: str, default: t.Any = None) -> t.Any:
        """The value of ``key`` as loaded from the store (``default`` if none,
        or before the session is started)."""
        return super().stored_value(key, default) if self.started else default

    # -- flash --------------------------------------------------------------------

    @property
    def flash(self) -> FlashState:
        """The flash bookkeeping (read it; change it through :meth:`writable_flash`)."""
        return self._flash

    def writable_flash(self) -> FlashState:
        """The flash bookkeeping, made this session's own before a change
        (which counts as touching the session: :attr:`unchanged` is False)."""
        self.touched = True
        if self._flash is NO_FLASH:
            self._flash = FlashState()
        return self._flash

    def age_flash(self) -> None:
        """End-of-request flash aging: drop what was shown, keep what is new."""
        if self._flash is NO_FLASH:
            return
        for key in self._flash.age():
            if self.contains(key):
                self.delete_value(key)
        if self._flash.changed:
            self.touched = True  # :attr:`unchanged` covers the flash state too

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
            self.touched = True
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
            self.touched = True

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
        self.touched = True
        self.ensure_id()

    def unbind(self) -> None:
        """Record that the session no longer belongs to a user."""
        if self._creds is not None and self._creds.unbind():
            self.touched = True

    # -- metadata -------------------------------------------------------------------

    def set_timeout(self, seconds: int | None) -> None:
        """Give this session its own idle timeout (a change to save)."""
        if seconds != self.meta.timeout:
            self.meta = self.meta._replace(timeout=seconds)
            self._meta_changed = self.touched = True
            self.ensure_id()

    def mark_exposed(self) -> None:
        """Record that the id has been written into a URL (binds it to its agent)."""
        if not self.meta.exposed:
            self.meta = self.meta._replace(exposed=True)
            self._meta_changed = self.touched = True

    def force(self, value: bool) -> None:
        """Force a save (``modified = True``) or stop forcing one."""
        self._forced = bool(value)
        if value:
            self.touched = True
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
            or self.values_pending
            or self._meta_changed
            or self._flash.changed
            or (self._creds is not None and self._creds.changed)
        )

    @property
    def meta_changed(self) -> bool:
        """True when metadata (the timeout) changed or a save is forced."""
        return self._meta_changed or self._forced

    @property
    def has_data(self) -> bool:
        """True when the session holds any data or pending flash input."""
        return (
            self.has_values
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
        removed: set[str] = set()
        if self._creds is not None:
            self._creds.write_changes(fields, removed, stored=self.stored)
        self.value_changes(fields, removed)
        flash = self._flash
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
        fields = self.kept_value_fields()
        fields.update(set_fields)
        if self._flash.active:
            fields[SYS_FIELD] = self._flash.encode(self.serializer)
        if self._creds is not None:
            self._creds.write_all(fields)
        return fields

    # -- how the write went (the host's calls) ---------------------------------------

    def saved(self, meta: SessionMeta) -> None:
        """Record that the current state is now stored under ``meta``."""
        self.values_saved()
        if self._flash.changed:
            self._flash.changed = False
        self._meta_changed = self._forced = False
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
        self.values_unstored()
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
        self.clear_values()
        self._flash = NO_FLASH
        self._forced = self._meta_changed = False
        self._creds = None
        self.destroyed = True
