"""The session backend protocol, the :class:`Record` it moves, and its framing.

(Plus the few helpers every backend shares: TTL checks, polling delays, the
``wsgi_session.stores`` logger and its one-time eviction warning.)

The session layer persists a session as a :class:`Record`: an opaque ``meta``
blob plus named fields (``str -> bytes``). A :class:`Backend` stores records
atomically in one cachelib store. Backends other than memory keep the fields
(Redis) or the whole record (the others) as ONE value framed by
:func:`encode_record` / :func:`decode_record`::

    >>> blob = encode_record(b"meta", {"cart": b"[1,2]"})
    >>> decode_record(blob)
    (b'meta', {'cart': b'[1,2]'})

The framing is little-endian: a header, a table of lengths, then the bytes::

    magic    4 bytes  b"WSR2"
    sizes    u32 length of the meta, u32 number of fields (n), u32 length in
             bytes of the names (the UTF-8 block below)
    lengths  n x u32 name lengths in characters, then n x u32 value lengths
    meta     the meta
    names    the names, concatenated, as UTF-8
    values   the values, concatenated

Lengths first and the data in two blocks let both directions run as a few
C-level passes over all fields (``struct`` for the table, one UTF-8 decode
for every name, ``io.StringIO`` / ``io.BytesIO`` reads to split the blocks)
instead of a Python loop per field: at 1,000 fields about 5 x fewer
instructions to encode and 3 x fewer to decode than one ``struct`` call per
length (callgrind). Anything else (bad magic, truncated, trailing bytes,
lengths that do not add up, names that are not UTF-8, duplicate names) is a
``ValueError``: the session layer treats it as a corrupt session.
"""

from __future__ import annotations

import enum
import io
import logging
import math
import struct
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from ..errors import ConfigError, LockTimeout

__all__ = [
    "DEFAULT_THRESHOLD",
    "MAGIC",
    "Backend",
    "EvictionWarned",
    "MissingClient",
    "Record",
    "SaveResult",
    "apply_changes",
    "backoff",
    "check_ttl",
    "decode_record",
    "encode_record",
    "lock_seconds",
    "logger",
    "poll_until",
    "warn_eviction",
]

#: The logger of the stores package (eviction warnings and the like).
logger = logging.getLogger("wsgi_session.stores")

#: The first four bytes of every framed record.
MAGIC = b"WSR2"

#: magic, meta size, number of fields, names size.
_HEAD = struct.Struct("<4sIII")


class MissingClient(ConfigError):
    """The client library a store URL needs is not installed.

    A store problem, not a mistake in the settings: ``wsgi-session check``
    exits 1 for it (2 for other ConfigErrors). The message names the package
    to install, with the supported version range::

        >>> str(MissingClient('redis:// needs redis-py (pip install "redis>=4.5,<9")'))
        'redis:// needs redis-py (pip install "redis>=4.5,<9")'
    """

    def __init__(self, message: str) -> None:
        super().__init__(message, key="store")


@dataclass
class Record:
    """One stored session: ``meta`` plus named ``fields``.

    ``token`` is backend-private (a CAS id or version); pass it back to
    :meth:`Backend.merge` unchanged, or leave it ``None``.

    >>> Record(b"m", {"a": b"1"}).fields["a"]
    b'1'
    """

    meta: bytes
    fields: dict[str, bytes]
    token: object = field(default=None, compare=False)


class SaveResult(enum.Enum):
    """What a write did.

    >>> SaveResult("gone") is SaveResult.GONE
    True
    """

    #: The record was written.
    SAVED = "saved"
    #: The session no longer exists in the store; nothing was written.
    GONE = "gone"
    #: No fields remained after the change, so the entry was deleted.
    EMPTIED = "emptied"


@runtime_checkable
class Backend(Protocol):
    """Atomic record operations on one store: the contract every store keeps.

    This docstring is the contract (``docs/writing-a-store.rst`` explains it
    for authors of a store; ``tests/test_store_contract.py`` checks it for
    every backend).

    * **Records.** A record is ``meta`` (opaque bytes) plus at least one
      field (``str`` name -> ``bytes``). A record left without fields counts
      as gone: ``load`` answers ``None`` for it, and writes that would leave
      it empty delete it (``EMPTIED``). ``create`` refuses an empty record
      (``ValueError``).
    * **Corruption.** ``load`` raises ``ValueError`` for a value it did not
      write or cannot decode (wrong type, bad framing, foreign fields); the
      session layer then treats the session as unknown and deletes it. It
      never unpickles anything.
    * **No resurrection.** ``merge``, ``replace`` and ``touch`` never
      recreate a record that is gone: they answer ``GONE`` / ``False``.
    * **Sharing.** A loaded :class:`Record` may be shared with the store (the
      memory store returns its stored object): callers must not change its
      ``fields``; the backend never changes a record it handed out.
    * **TTL.** ``ttl`` is whole seconds from now, ``0`` meaning "no expiry";
      every write sets it afresh. A record is never served after its TTL
      (a store may keep it longer, as long as ``load`` hides it).
    * **Locks.** ``lock(key, timeout, ttl)`` waits at most ``timeout``
      seconds (then :class:`~wsgi_session.errors.LockTimeout`); once held,
      the lock expires by itself after ``ttl`` seconds, so a holder that died
      blocks others for ``ttl`` at most. Releasing a lock that expired and
      was taken by someone else leaves the new holder's lock alone.
    * **Retries.** A command may be sent again after a connection failure
      only if repeating it cannot change its answer: reads, ``merge``,
      ``replace``, ``touch`` and ``delete`` may be repeated (a repeated merge
      re-applies the same values); ``create`` and taking a lock must not be
      repeated blindly (a repeat would find its own record or lock). A
      backend whose client repeats commands by itself makes them safe to
      repeat (the Redis backend: a ``create`` that finds exactly the record
      it would write answers ``True``; a lock holder's own token counts as
      acquired). A timeout is never retried.
    * **Failures.** A store that cannot be reached or refuses a write raises
      :class:`~wsgi_session.errors.StoreUnavailable` (the session layer
      answers 503 and never issues a new id). ``None`` / ``False`` / ``GONE``
      mean only "not there"; a backend must never report a failure as
      "missing".

    Counting round trips is not part of the contract: wrap a backend in
    :class:`~wsgi_session.stores.instrument.CountingBackend` for that.

    >>> from wsgi_session.stores import backend_for, open_store
    >>> backend = backend_for(open_store("memory://"))
    >>> isinstance(backend, Backend)
    True
    """

    def load(self, key: str) -> Record | None:
        """Return the stored record, or ``None``; ``ValueError`` if corrupt."""

    def create(self, key: str, meta: bytes, fields: dict[str, bytes], ttl: int) -> bool:
        """Store a new record only if ``key`` is absent; ``False`` if it exists."""

    def merge(
        self,
        key: str,
        meta: bytes,
        set_fields: Mapping[str, bytes],
        del_fields: Iterable[str],
        ttl: int,
        *,
        token: object = None,
    ) -> SaveResult:
        """Apply field changes atomically onto the newest stored version.

        Deletions first, then sets; ``token`` (from :attr:`Record.token`)
        may save a read but never makes the merge ignore a newer version.
        """

    def replace(
        self, key: str, meta: bytes, fields: dict[str, bytes], ttl: int
    ) -> SaveResult:
        """Overwrite an existing record (last writer wins); ``GONE`` if absent."""

    def touch(self, key: str, meta: bytes, ttl: int) -> bool:
        """Replace ``meta`` and refresh the TTL; ``False`` if the record is gone."""

    def delete(self, key: str) -> None:
        """Delete the record; no error if it does not exist."""

    def lock(
        self, key: str, timeout: float, ttl: float
    ) -> AbstractContextManager[None]:
        """Hold an exclusive per-session lock that expires after ``ttl`` seconds."""


#: Default maximum number of sessions of ``memory://`` and ``file://`` stores.
DEFAULT_THRESHOLD = 100_000


class EvictionWarned(Protocol):
    """A cache that remembers whether it warned of evicting live sessions."""

    #: True once the warning of :func:`warn_eviction` was logged.
    eviction_warned: bool


def warn_eviction(cache: EvictionWarned, kind: str) -> None:
    """Log, once per cache, that live sessions are being evicted.

    >>> class Cache:
    ...     eviction_warned = False
    >>> cache = Cache()
    >>> warn_eviction(cache, "memory")
    >>> cache.eviction_warned
    True
    """
    if cache.eviction_warned:
        return
    cache.eviction_warned = True
    logger.warning(
        "The %s session store is full: sessions that have not expired are "
        "being evicted (users are logged out). Raise ?threshold= in the "
        "store URL.",
        kind,
    )


def encode_record(meta: bytes, fields: Mapping[str, bytes]) -> bytes:
    """Frame ``meta`` and ``fields`` as one ``bytes`` value.

    >>> encode_record(b"", {})
    b'WSR2\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00'
    >>> encode_record(b"", {"a": "text"})
    Traceback (most recent call last):
    ...
    TypeError: field 'a' must be bytes, not str
    """
    values = list(fields.values())
    if not set(map(type, values)) <= _BYTES:
        values = [_as_bytes(name, value) for name, value in fields.items()]
    names = "".join(fields).encode("utf-8")
    count = len(values)
    head = struct.pack(
        f"<4sIII{2 * count}I",
        MAGIC,
        len(meta),
        count,
        len(names),
        *map(len, fields),
        *map(len, values),
    )
    return b"".join([head, meta, names, *values])


_BYTES = frozenset({bytes})


def _as_bytes(name: str, value: object) -> bytes:
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise TypeError(f"field {name!r} must be bytes, not {type(value).__name__}")
    return bytes(value)


#: Up to this many fields, :func:`decode_record` splits by slicing.
_SMALL_RECORD = 8


def decode_record(data: bytes) -> tuple[bytes, dict[str, bytes]]:
    """Return ``(meta, fields)`` from :func:`encode_record` output.

    Raises ``ValueError`` on anything that is not a well-formed record.

    >>> decode_record(b"not a record")
    Traceback (most recent call last):
    ...
    ValueError: not a session record (bad magic)
    """
    if type(data) is not bytes:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise ValueError(f"not a session record ({type(data).__name__})")
        data = bytes(data)
    try:
        magic, meta_size, count, names_size = _HEAD.unpack_from(data)
        if magic != MAGIC:
            raise ValueError("not a session record (bad magic)")
        lengths = struct.unpack_from(f"<{2 * count}I", data, _HEAD.size)
    except struct.error as exc:
        if not data.startswith(MAGIC):
            raise ValueError("not a session record (bad magic)") from None
        raise ValueError("truncated session record") from exc
    start = _HEAD.size + 8 * count
    names_at = start + meta_size
    values_at = names_at + names_size
    try:
        names = data[names_at:values_at].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError("field name is not UTF-8") from exc
    name_lengths, value_lengths = lengths[:count], lengths[count:]
    if sum(name_lengths) != len(names) or values_at + sum(value_lengths) != len(data):
        raise ValueError("the lengths of the session record do not add up")
    if count <= _SMALL_RECORD:
        # A few fields: slicing in a loop beats making the two readers below
        # (a 3-field record decodes in about 60 % of the time; microbenchmark).
        fields = {}
        name_at, value_at = 0, values_at
        for name_length, value_length in zip(name_lengths, value_lengths):
            name_end, value_end = name_at + name_length, value_at + value_length
            fields[names[name_at:name_end]] = data[value_at:value_end]
            name_at, value_at = name_end, value_end
    else:
        values = io.BytesIO(data)
        values.seek(values_at)
        split = io.StringIO(names).read  # (newline="\n" leaves "\r" alone)
        fields = dict(zip(map(split, name_lengths), map(values.read, value_lengths)))
    if len(fields) != count:
        raise ValueError("duplicate field names in session record")
    return data[start:names_at], fields


def apply_changes(
    fields: Mapping[str, bytes],
    set_fields: Mapping[str, bytes],
    del_fields: Iterable[str],
) -> dict[str, bytes]:
    """Return a copy of ``fields`` with deletions, then sets, applied.

    >>> apply_changes({"a": b"1", "b": b"2"}, {"c": b"3"}, ["a"])
    {'b': b'2', 'c': b'3'}
    """
    result = dict(fields)
    for name in del_fields:
        result.pop(name, None)
    result.update(set_fields)
    return result


def check_ttl(ttl: int) -> int:
    """Validate a TTL in whole seconds (``0`` = no expiry) and return it.

    >>> check_ttl(30)
    30
    >>> check_ttl(-1)
    Traceback (most recent call last):
    ...
    ValueError: ttl must be an int >= 0 (seconds), got -1
    """
    if type(ttl) is int and ttl >= 0:  # every call of ours: one test
        return ttl
    if isinstance(ttl, bool) or not isinstance(ttl, int) or ttl < 0:
        raise ValueError(f"ttl must be an int >= 0 (seconds), got {ttl!r}")
    return ttl


def lock_seconds(ttl: float) -> int:
    """Round a lock TTL up to whole seconds (at least one).

    >>> lock_seconds(0.2), lock_seconds(2.0), lock_seconds(2.5)
    (1, 2, 3)
    """
    return max(1, math.ceil(ttl))


def poll_until(acquire: Callable[[], bool], timeout: float) -> None:
    """Call ``acquire`` with a growing back-off until it returns True.

    Raises :class:`~wsgi_session.LockTimeout` after ``timeout`` seconds.

    >>> attempts = iter([False, False, True])
    >>> poll_until(lambda: next(attempts), timeout=1)
    >>> poll_until(lambda: False, timeout=0.01)
    Traceback (most recent call last):
    ...
    wsgi_session.errors.LockTimeout: could not lock the session within 0.01s
    """
    deadline = time.monotonic() + timeout
    delays = backoff()
    while not acquire():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise LockTimeout(f"could not lock the session within {timeout:g}s")
        time.sleep(min(next(delays), remaining))


def backoff(start: float = 0.002, cap: float = 0.05) -> Iterator[float]:
    """Yield polling delays: doubling from ``start`` up to ``cap``.

    >>> delays = backoff(0.01, 0.04)
    >>> [next(delays) for _ in range(4)]
    [0.01, 0.02, 0.04, 0.04]
    """
    delay = start
    while True:
        yield delay
        delay = min(delay * 2, cap)
