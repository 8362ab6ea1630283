"""Session metadata: the one-line format stored beside the data, and its memo.

A stored session carries a :class:`SessionMeta` (creation and last-write
times, idle timeout, User-Agent binding, URL exposure) encoded as one ASCII
line. Every request of a session decodes the same line until the session is
written again, so recently decoded lines are remembered.

>>> m = SessionMeta(created=now_ms(), written=now_ms(), timeout=60, binding=None)
>>> line = m.encode()
>>> SessionMeta.decode(line) is m  # remembered when it was encoded
True
>>> SessionMeta.decode(b"1.5,2.5,,,").timeout is None
True
"""

from __future__ import annotations

import math
import time
import typing as t

from .memo import Memo

__all__ = ["SessionMeta", "now_ms"]


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
        :meth:`written_at` or :meth:`~wsgi_session.Session.start` holds whole
        milliseconds (:func:`now_ms`) and decodes back to an equal object, so
        it is remembered for the next :meth:`decode` of the same line.
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
#: written, and every request of the session decodes it). The key is the
#: whole line, which determines the metadata; a SessionMeta is an immutable
#: named tuple, so handing the same one to several requests is safe.
_decoded_meta: Memo[bytes, SessionMeta] = Memo(4096)
_remember_meta = _decoded_meta.put
