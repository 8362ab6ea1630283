"""One bounded memo for every cache in the package.

Several hot paths look the same input up again and again (a browser sends
the same Cookie header, the same signed id, the same metadata line on every
request of a session). Each remembers recent results in a :class:`Memo`:
a dict with a size bound. When it is full it is emptied and starts again,
which costs nothing per hit (no LRU bookkeeping) and bounds memory.

Each use says at its definition what its key is and why a remembered value
is safe to hand out again (the key must determine the value completely).

>>> m = Memo(2)
>>> m.put("a", 1); m.put("b", 2)
>>> m.get("a"), m.get("z")
(1, None)
>>> m.put("c", 3)  # full: emptied first
>>> m.get("a"), m.get("c"), len(m)
(None, 3, 1)
"""

from __future__ import annotations

import typing as t

__all__ = ["Memo"]

K = t.TypeVar("K")
V = t.TypeVar("V")


class Memo(t.Generic[K, V]):
    """A dict of at most ``maxsize`` entries, emptied when full.

    ``get`` is the underlying dict's own bound ``get`` (the hot-path lookup
    costs exactly a dict lookup); only :meth:`put` checks the bound.

    >>> m: Memo[str, int] = Memo(10)
    >>> m.get("x", -1)
    -1
    """

    __slots__ = ("_data", "get", "maxsize")

    def __init__(self, maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self.maxsize = maxsize
        self._data: dict[K, V] = {}
        #: ``memo.get(key, default=None)``: the remembered value or ``default``.
        self.get = self._data.get

    def put(self, key: K, value: V) -> None:
        """Remember ``value`` for ``key`` (emptying the memo first when full)."""
        data = self._data
        if len(data) >= self.maxsize and key not in data:
            data.clear()  # the same dict: ``get`` stays bound to it
        data[key] = value

    def clear(self) -> None:
        """Forget everything."""
        self._data.clear()

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        return key in self._data
