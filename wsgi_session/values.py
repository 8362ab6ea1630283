"""The values of one session: decoded when first read, changes tracked.

A :class:`SessionValues` holds the application's key / value pairs of one
request's session in three layers: the bytes loaded from the store (decoded
only when a key is first read), the values the application set or read, and
what changed since loading (set, deleted, or a mutable value that was read
and may have been changed in place). It decides which data fields a save
writes (:meth:`~SessionValues.value_changes`) and draws the session's id when
the first value is written.

It is the base of :class:`~wsgi_session.state.SessionState`, which adds the
rest of a session's state (metadata, flash, credentials, flags); the two are
one object per request. Its record form (which field holds what) is
:mod:`wsgi_session.recordfields`.

>>> values = SessionValues()
>>> values.begin_values({"n": b"1"})
>>> values.get_value("n"), values.id is None
(1, True)
>>> values.set_value("m", [2]); values.id is not None
True
>>> fields, removed = {}, set()
>>> values.value_changes(fields, removed); fields
{'dm': b'[2]'}
"""

from __future__ import annotations

import contextlib
import logging
import typing as t
from collections.abc import Iterator

from .errors import SerializationError
from .recordfields import DATA_PREFIX
from .serializers import Serializer, default_serializer
from .signing import new_session_id

__all__ = ["SessionValues"]

log = logging.getLogger("wsgi_session")

#: The value of a key whose stored bytes have not been decoded yet; the
#: default of a lookup that has none.
_UNDECODED: t.Any = object()
_MISSING: t.Any = object()
#: Types whose values cannot change in place (no need to watch them). Exact
#: types: a subclass (Markup, an IntEnum) is watched, which is only slower.
_IMMUTABLE = frozenset((str, int, float, bool, type(None), bytes))


class SessionValues:
    """A session's key / value pairs, their stored bytes and their changes.

    ``id`` is the session id (None until a value is first written);
    ``touched`` is True once anything but a watched value changed (what a
    read-only request asks on every save: one flag; the state sets it for
    its own changes: metadata, flash, credentials).

    >>> values = SessionValues()
    >>> values.begin_values({})
    >>> values.unchanged, values.has_values
    (True, False)
    >>> values.set_value("a", 1); values.unchanged, values.touched
    (False, True)
    """

    # Slots: one is made per request (see SessionState's slots).
    __slots__ = (
        "_items",
        "_pending",
        "_raw",
        "_removed",
        "_watch",
        "id",
        "serializer",
        "touched",
    )

    def __init__(self, serializer: Serializer = default_serializer) -> None:
        self.serializer = serializer
        #: The session id, or None until the first write creates one.
        self.id: str | None = None
        self.touched = False

    def begin_values(self, raw: dict[str, bytes]) -> None:
        """Start from the stored bytes ``raw`` (key -> serialized value; the
        dict is taken over, not copied): nothing decoded, nothing changed."""
        self._raw = raw
        self._items: dict[str, t.Any] = dict.fromkeys(raw, _UNDECODED) if raw else {}
        self._pending: dict[str, bytes] = {}
        self._removed: set[str] = set()
        self._watch: set[str] = set()

    # -- reading and changing (the facade's calls) ---------------------------------

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
                self.touched = True
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
            self.touched = True
            self.ensure_id()
        if type(value) not in _IMMUTABLE:
            self._watch.add(key)

    def delete_value(self, key: str) -> None:
        """Remove ``key``; KeyError when missing."""
        del self._items[key]
        self._pending.pop(key, None)
        self._watch.discard(key)
        self.touched = True
        if key in self._raw:
            self._removed.add(key)

    def live_keys(self) -> Iterator[str]:
        """The keys whose values decode (undecodable ones are dropped now)."""
        for key in [k for k, v in self._items.items() if v is _UNDECODED]:
            with contextlib.suppress(KeyError):
                self.get_value(key)
        return iter(list(self._items))

    def stored_value(self, key: str, default: t.Any = None) -> t.Any:
        """The value of ``key`` as loaded from the store (``default`` if none)."""
        raw = self._raw.get(key)
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

    # -- what there is and what changed -----------------------------------------------

    @property
    def key_count(self) -> int:
        """How many keys the data holds."""
        return len(self._items)

    @property
    def has_values(self) -> bool:
        """True when the data holds any key."""
        return bool(self._items)

    @property
    def values_pending(self) -> bool:
        """True when a key was set or deleted (known without re-serializing)."""
        return bool(self._pending or self._removed)

    @property
    def unchanged(self) -> bool:
        """True when nothing was set, deleted or touched and no mutable value
        was read this request (then there is nothing to write)."""
        return not (self.touched or self._watch)

    def value_changes(self, fields: dict[str, bytes], removed: set[str]) -> None:
        """Add the data fields to write to ``fields`` and those to delete to
        ``removed`` (record form).

        Watched mutable values are serialized again and compared with the
        loaded bytes, so in-place changes are found; raises
        SerializationError (naming the key path) if one became
        unserializable.
        """
        if not (self._watch or self._pending or self._removed):
            return
        pending = self._pending
        for key in self._watch:
            value = self._items.get(key, _UNDECODED)
            if value is _UNDECODED:
                continue
            data = self.dumps(key, value)
            if data != self._raw.get(key, _UNDECODED) or key in pending:
                pending[key] = data
        if pending:
            self.ensure_id()
        for key, data in pending.items():
            fields[DATA_PREFIX + key] = data
        removed.update(DATA_PREFIX + key for key in self._removed)

    def kept_value_fields(self) -> dict[str, bytes]:
        """The data fields of the loaded record that are still in the data."""
        items = self._items
        return {DATA_PREFIX + k: v for k, v in self._raw.items() if k in items}

    # -- after a write (the state's calls) ---------------------------------------------

    def values_saved(self) -> None:
        """The changes are stored: they become the loaded bytes."""
        raw = self._raw
        for key, data in self._pending.items():
            raw[key] = data
        for key in self._removed:
            raw.pop(key, None)
        self._pending.clear()
        self._removed.clear()
        self.touched = False

    def values_unstored(self) -> None:
        """The stored entry is gone: every value counts as new."""
        self._raw.clear()
        self._removed.clear()

    def clear_values(self) -> None:
        """Drop every value and change (a destroyed session starts over)."""
        self.begin_values({})  # new, empty containers: nothing shares the old
        self.touched = False
