"""Flash data: which keys live one more request, and flashed form input.

The scheme is Laravel's: flashed keys are ordinary session keys, listed as
*new* (survive the next request) or *old* (removed at the end of this one).
Aging at the end of each request removes the old ones and turns new into old.
:class:`FlashState` is that bookkeeping; the flash verbs of
:class:`~wsgi_session.Session` (``flash``, ``now``, ``reflash``, ``keep``,
``flash_input``, ``old``) delegate to it.

>>> f = FlashState()
>>> f.mark_new("notice")
>>> f.age()         # end of the flashing request: nothing to drop yet
[]
>>> f.age()         # end of the next request: the notice goes
['notice']
"""

from __future__ import annotations

import typing as t
from collections.abc import Iterable, Mapping

__all__ = ["NO_FLASH", "FlashState", "lookup_dotted", "select_input"]


class _Codec(t.Protocol):
    def dumps(self, obj: t.Any) -> bytes: ...

    def loads(self, data: bytes) -> t.Any: ...


class FlashState:
    """Flash keys by age, plus flashed form input and its age.

    Flashed input, like a flashed key, lives through the next request:

    >>> f = FlashState(); f.set_input({"email": "ann@example.org"})
    >>> f.age(), f.input  # end of the flashing request: kept for the next
    ([], {'email': 'ann@example.org'})
    >>> f.age(), f.input, f.active  # end of the next one: gone
    ([], None, False)
    """

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
