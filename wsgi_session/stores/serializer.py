"""The pickle-free serializer installed on every store: bytes in, bytes out.

cachelib pickles values by default, so reading a planted value would run
``pickle.loads`` on attacker-controlled bytes. :func:`prepare_store` replaces
the serializer of a cache instance with :class:`RawSerializer`, which only
passes ``bytes`` through (plus plain ints, for counters)::

    >>> from cachelib import SimpleCache
    >>> cache = prepare_store(SimpleCache())
    >>> cache.set("k", b"\\x80\\x04data")
    True
    >>> cache.get("k")
    b'\\x80\\x04data'
"""

from __future__ import annotations

import pickle
import typing as t

from cachelib.base import BaseCache
from cachelib.file import FileSystemCache
from cachelib.serializers import BaseSerializer

from .cachelib_compat import recount_files

__all__ = ["RawSerializer", "prepare_store"]

#: How an int is written to a file (FileSystemCache's item counter). Session
#: records start with ``b"WSR1"``, so they can never be mistaken for it.
_INT_TAG = b"#int "


class RawSerializer(BaseSerializer):
    """A cachelib serializer that stores ``bytes`` as they are and never unpickles.

    ``int`` becomes ASCII digits (so Redis ``INCR`` still works); anything
    else is a ``TypeError``, never a silent ``None``.

    >>> s = RawSerializer()
    >>> s.dumps(b"abc"), s.dumps(42), s.loads(b"42")
    (b'abc', b'42', b'42')
    >>> s.dumps("text")
    Traceback (most recent call last):
    ...
    TypeError: RawSerializer stores bytes only, not str
    """

    def dumps(self, value: t.Any, protocol: int = pickle.HIGHEST_PROTOCOL) -> bytes:
        """Return ``value`` as bytes (``bytes`` unchanged, ``int`` as digits)."""
        if type(value) is int:
            return str(value).encode("ascii")
        if isinstance(value, (bytes, bytearray, memoryview)):
            return bytes(value)
        raise TypeError(f"RawSerializer stores bytes only, not {type(value).__name__}")

    def loads(self, bvalue: t.Any) -> t.Any:
        """Return stored bytes unchanged (``None`` stays ``None``)."""
        if bvalue is None:
            return None
        if isinstance(bvalue, (bytes, bytearray, memoryview)):
            return bytes(bvalue)
        raise TypeError(f"RawSerializer reads bytes only, not {type(bvalue).__name__}")

    def dump(
        self, value: t.Any, f: t.IO[bytes], protocol: int = pickle.HIGHEST_PROTOCOL
    ) -> None:
        """Write ``value`` to a file; an ``int`` is tagged so :meth:`load` restores it.

        >>> import io
        >>> buf = io.BytesIO()
        >>> RawSerializer().dump(7, buf)
        >>> _ = buf.seek(0)
        >>> RawSerializer().load(buf)
        7
        """
        if type(value) is int:
            f.write(_INT_TAG + str(value).encode("ascii"))
        else:
            f.write(self.dumps(value))

    def load(self, f: t.IO[bytes]) -> t.Any:
        """Read a value written by :meth:`dump`: ``bytes``, or a tagged ``int``."""
        data = f.read()
        if data.startswith(_INT_TAG):
            digits = data[len(_INT_TAG) :]
            if digits.isdigit() or (digits[:1] == b"-" and digits[1:].isdigit()):
                return int(digits)
        return data


_Cache = t.TypeVar("_Cache", bound=BaseCache)


def prepare_store(cache: _Cache) -> _Cache:
    """Install :class:`RawSerializer` on ``cache`` (in place) and return it.

    Safe to call more than once. For a cache you built yourself this changes
    only cachelib's serializer: what the client library does underneath (for
    one, python-memcached unpickles values it flagged itself) is out of reach.

    >>> from cachelib import SimpleCache
    >>> isinstance(prepare_store(SimpleCache()).serializer, RawSerializer)
    True
    """
    if isinstance(getattr(cache, "serializer", None), RawSerializer):
        return cache
    cache.serializer = RawSerializer()  # type: ignore[attr-defined]
    if isinstance(cache, FileSystemCache):
        # The item counter was written with pickle; rewrite it in our format.
        recount_files(cache)
    return cache
