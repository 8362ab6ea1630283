"""Flash data: which keys live one more request, flashed form input, and the
session verbs that use them.

The scheme is Laravel's: flashed keys are ordinary session keys, listed as
*new* (survive the next request) or *old* (removed at the end of this one).
Aging at the end of each request removes the old ones and turns new into old.
:class:`FlashState` is that bookkeeping; :class:`FlashMixin` gives
:class:`~wsgi_session.Session` its flash verbs (``flash``, ``now``,
``reflash``, ``keep``, ``flash_input``, ``old``) on top of it.

>>> f = FlashState()
>>> f.mark_new("notice")
>>> f.age()         # end of the flashing request: nothing to drop yet
[]
>>> f.age()         # end of the next request: the notice goes
['notice']
"""

from __future__ import annotations

import typing as t
from collections.abc import Container, Iterable, Mapping

from .errors import SerializationError

__all__ = ["NO_FLASH", "FlashMixin", "FlashState", "lookup_dotted", "select_input"]

_MISSING: t.Any = object()


class _Codec(t.Protocol):
    def dumps(self, obj: t.Any) -> bytes: ...

    def loads(self, data: bytes) -> t.Any: ...


class FlashState:
    """Flash keys by age, plus flashed form input and its age."""

    def __init__(self) -> None:
        self.new: list[str] = []
        self.old: list[str] = []
        self.input: dict[str, t.Any] | None = None
        self.input_age = 0
        self.changed = False

    @property
    def active(self) -> bool:
        """True when anything is flashed."""
        return bool(self.new or self.old or self.input is not None)

    def encode(self, codec: _Codec) -> bytes:
        """Serialize with the session's serializer."""
        return codec.dumps(
            {"n": self.new, "o": self.old, "i": self.input, "a": self.input_age}
        )

    @classmethod
    def decode(cls, data: bytes, codec: _Codec) -> FlashState:
        """Parse :meth:`encode` output; ValueError when it is corrupt.

        >>> from wsgi_session.serializers import default_serializer as c
        >>> f = FlashState(); f.mark_new("a"); f.set_input({"x": "1"})
        >>> g = FlashState.decode(f.encode(c), c)
        >>> g.new, g.input
        (['a'], {'x': '1'})
        """
        try:
            raw = codec.loads(data)
            state = cls()
            state.new = [str(k) for k in raw["n"]]
            state.old = [str(k) for k in raw["o"]]
            state.input = raw["i"] if isinstance(raw["i"], dict) else None
            state.input_age = 1 if raw["a"] else 0
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError("corrupt flash state") from exc
        return state

    def mark_new(self, key: str) -> None:
        """``key`` is readable during the next request."""
        if key in self.old:
            self.old.remove(key)
        if key not in self.new:
            self.new.append(key)
        self.changed = True

    def mark_now(self, key: str) -> None:
        """``key`` is readable during this request only."""
        if key in self.new:
            self.new.remove(key)
        if key not in self.old:
            self.old.append(key)
        self.changed = True

    def reflash(self) -> None:
        """Keep everything one more request."""
        if self.old or (self.input is not None and self.input_age):
            self.new.extend(k for k in self.old if k not in self.new)
            self.old = []
            self.input_age = 0
            self.changed = True

    def keep(self, keys: Iterable[str]) -> None:
        """Keep these keys one more request.

        >>> f = FlashState(); f.mark_now("a"); f.keep("a"); f.age()
        []
        """
        for key in keys:
            if key in self.old:
                self.old.remove(key)
                self.new.append(key)
                self.changed = True

    def set_input(self, data: dict[str, t.Any]) -> None:
        """Flash form input for the next request."""
        self.input = data
        self.input_age = 0
        self.changed = True

    def reset(self) -> None:
        """Forget all flash state."""
        if self.active:
            self.changed = True
        self.new, self.old, self.input, self.input_age = [], [], None, 0

    def age(self) -> list[str]:
        """Advance one request; return the keys to remove from the session."""
        if not (self.old or self.new or self.input is not None):
            return []
        drop = [key for key in self.old if key not in self.new]
        if self.old or self.new:
            self.changed = True
        self.old, self.new = self.new, []
        if self.input is not None:
            if self.input_age:
                self.input = None
                self.input_age = 0
            else:
                self.input_age = 1
            self.changed = True
        return drop


#: The flash state of a session with nothing flashed; shared, never changed
#: (a session replaces it with its own :class:`FlashState` before writing).
NO_FLASH = FlashState()


def select_input(
    form: Mapping[str, t.Any],
    only: Iterable[str] | None = None,
    exclude: Iterable[str] | None = None,
) -> dict[str, t.Any]:
    """Pick the fields to flash from a dict or a werkzeug MultiDict.

    Multi-valued fields become lists; uploaded files are never flashed.

    >>> from werkzeug.datastructures import MultiDict
    >>> select_input(MultiDict([("tag", "a"), ("tag", "b"), ("pw", "x")]),
    ...              exclude=["pw"])
    {'tag': ['a', 'b']}
    """
    only_set = set(only) if only is not None else None
    excluded = set(exclude or ())
    getlist = getattr(form, "getlist", None)
    data: dict[str, t.Any] = {}
    for name in form:
        if (only_set is not None and name not in only_set) or name in excluded:
            continue
        values = list(getlist(name)) if getlist is not None else [form[name]]
        values = [v for v in values if not hasattr(v, "stream")]
        if values:
            data[name] = values[0] if len(values) == 1 else values
    return data


def lookup_dotted(data: Mapping[str, t.Any], name: str, default: t.Any = None) -> t.Any:
    """``data[name]``, or walk ``a.b.c`` through nested dicts.

    >>> lookup_dotted({"a": {"b": 1}}, "a.b"), lookup_dotted({"x.y": 2}, "x.y")
    (1, 2)
    """
    if name in data:
        return data[name]
    node: t.Any = data
    for part in name.split("."):
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return default
    return node


class _FlashHost(t.Protocol):
    """What :class:`FlashMixin` uses of the session class it is mixed into."""

    _flash: FlashState

    @property
    def _items(self) -> Container[str]: ...

    @property
    def _serializer(self) -> _Codec: ...

    def _load(self) -> None: ...

    def _ensure_id(self) -> None: ...

    def _writable_flash(self) -> FlashState: ...

    def __setitem__(self, key: str, value: t.Any) -> None: ...

    def __delitem__(self, key: str) -> None: ...


class FlashMixin:
    """The flash verbs of :class:`~wsgi_session.Session`, over its ``_flash``.

    >>> from wsgi_session import Session
    >>> s = Session.detached(); s.flash("notice", "Saved"); s.age_flash()
    >>> s["notice"]  # still there for the next request
    'Saved'
    """

    __slots__ = ()

    def flash(self: _FlashHost, key: str, value: t.Any) -> None:
        """Store a value readable during the NEXT request only.

        >>> from wsgi_session import Session
        >>> s = Session.detached(); s.flash("notice", "Saved"); s["notice"]
        'Saved'
        """
        self[key] = value
        self._writable_flash().mark_new(key)

    def now(self: _FlashHost, key: str, value: t.Any) -> None:
        """Store a value readable during THIS request only."""
        self[key] = value
        self._writable_flash().mark_now(key)

    def reflash(self: _FlashHost) -> None:
        """Keep all current flash data (and old input) for one more request."""
        self._load()
        self._writable_flash().reflash()

    def keep(self: _FlashHost, *keys: str) -> None:
        """Keep only these flash keys for one more request."""
        self._load()
        self._writable_flash().keep(keys)

    def flash_input(
        self: _FlashHost,
        form: Mapping[str, t.Any],
        only: t.Iterable[str] | None = None,
        exclude: t.Iterable[str] | None = None,
    ) -> None:
        """Flash submitted form fields so the next request can refill the form.

        >>> from wsgi_session import Session
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

    def old(self: _FlashHost, name: str, default: t.Any = None) -> t.Any:
        """Read a flashed form field; dotted names reach into nested dicts.

        >>> from wsgi_session import Session
        >>> s = Session.detached(); s.flash_input({"profile": {"name": "Ann"}})
        >>> s.old("profile.name")
        'Ann'
        """
        self._load()
        return lookup_dotted(self._flash.input or {}, name, default)

    def _writable_flash(self: _FlashHost) -> FlashState:
        if self._flash is NO_FLASH:
            self._flash = FlashState()
        return self._flash

    def age_flash(self: _FlashHost) -> None:
        """End-of-request flash aging: drop what was shown, keep what is new."""
        if self._flash is NO_FLASH:
            return
        for key in self._flash.age():
            if key in self._items:
                del self[key]
