"""The filesystem store: ``file://`` and the backend over cachelib's FileSystemCache.

Each session is one file named by cachelib's scheme (a hash of the key),
written atomically (temporary file + ``os.replace``) in cachelib's layout: a
4-byte expiry header, then the framed record. Locks are lock files created
with ``O_CREAT | O_EXCL`` holding a token and an expiry time; a lock past its
expiry is broken by renaming it aside. All helper files end in cachelib's
transaction suffix, so cachelib neither counts nor prunes them::

    >>> import tempfile
    >>> cache = FileCache(tempfile.mkdtemp())
    >>> backend = FileBackend(cache)
    >>> backend.create("wss:{a}", b"m", {"x": b"1"}, 60)
    True
    >>> backend.load("wss:{a}").fields
    {'x': b'1'}
"""

from __future__ import annotations

import math
import os
import secrets
import struct
import tempfile
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, suppress

from cachelib.file import FileSystemCache

from ..errors import StoreUnavailable
from .base import DEFAULT_THRESHOLD, check_ttl, poll_until, warn_eviction
from .cachelib_compat import FileCacheHooks, file_layout
from .framed import FramedBackend
from .serializer import RawSerializer, prepare_store

__all__ = ["FileBackend", "FileCache", "file_lock"]

_HEADER = struct.Struct("I")  # cachelib's expiry header: unix time, 0 = never


def _expiry(ttl: int) -> int:
    return math.ceil(time.time() + ttl) if ttl else 0


class FileCache(FileCacheHooks):
    """cachelib's FileSystemCache for sessions: big threshold, no pickle.

    Warns once when it evicts a session that had not expired; entries
    without expiry are evicted last.

    >>> import tempfile
    >>> FileCache(tempfile.mkdtemp()).threshold
    100000
    """

    serializer = RawSerializer()  # type: ignore[assignment]  # no pickle

    def __init__(
        self,
        cache_dir: str,
        threshold: int = DEFAULT_THRESHOLD,
        default_timeout: int = 300,
        mode: int = 0o600,
    ) -> None:
        self._eviction_warned = False
        super().__init__(
            cache_dir, threshold=threshold, default_timeout=default_timeout, mode=mode
        )

    def expiry(self, seconds: int) -> int:
        """Round up: an entry never expires before its TTL."""
        return _expiry(seconds)

    def evict(self) -> bool:
        """Evict the files closest to expiry first (called only after the
        expired ones are gone: whatever goes here had not expired)."""
        entries = []
        for name in self.session_files():
            try:
                with open(name, "rb") as f:
                    expires = _HEADER.unpack(f.read(_HEADER.size))[0]
            except (OSError, struct.error):
                continue
            entries.append((expires or math.inf, name))
        evicted = False
        for _, name in sorted(entries):
            if not self.over_threshold():
                break
            try:
                os.remove(name)
            except OSError:
                continue
            self.count_removed()
            evicted = True
        if evicted:
            warn_eviction(self, "file")
        return True


def _read_lock(path: str) -> tuple[str, float] | None:
    """Return ``(token, expires)`` of a lock file, or ``None`` if it is gone."""
    try:
        with open(path, "rb") as f:
            content = f.read()
    except FileNotFoundError:
        return None
    try:
        token, expires = content.decode("ascii").split()
        return token, float(expires)
    except ValueError:  # being written (or its writer died): short grace period
        try:
            return "", os.stat(path).st_mtime + 2.0
        except FileNotFoundError:
            return None


def _remove_if_token(path: str, token: str, suffix: str) -> bool:
    """Remove the lock file at ``path`` only if it holds ``token``.

    The file is first renamed aside (atomic), then checked; a lock that turns
    out to be someone else's is linked back into place.
    """
    aside = f"{path}.{secrets.token_hex(8)}{suffix}"
    try:
        os.rename(path, aside)
    except FileNotFoundError:
        return False
    moved = _read_lock(aside)
    if moved is not None and moved[0] == token:
        os.unlink(aside)
        return True
    with suppress(OSError):  # fails if a new lock took its place meanwhile
        os.link(aside, path)
    os.unlink(aside)
    return False


@contextmanager
def file_lock(
    path: str, timeout: float, ttl: float, suffix: str = ""
) -> Iterator[None]:
    """Hold an exclusive lock file at ``path``; broken by others after ``ttl`` s.

    ``suffix`` must end the names of helper files (renamed-aside locks).

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "x.lock")
    >>> with file_lock(path, timeout=1, ttl=5):
    ...     os.path.exists(path)
    True
    >>> os.path.exists(path)
    False
    """
    token = secrets.token_hex(16)
    expires = 0.0  # of our lock, once written

    def attempt() -> bool:
        nonlocal expires
        while True:
            try:
                fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
            except FileExistsError:
                holder = _read_lock(path)
                if holder is None:  # released meanwhile
                    continue
                if holder[1] < time.time():  # stale: its holder died; break it
                    _remove_if_token(path, holder[0], suffix)
                    continue
                return False
            except OSError as exc:
                raise StoreUnavailable(
                    f"cannot create lock file: {exc}", original=exc
                ) from exc
            try:
                expires = time.time() + ttl
                os.write(fd, f"{token} {expires:.6f}".encode("ascii"))
            finally:
                os.close(fd)
            return True

    poll_until(attempt, timeout)
    try:
        yield
    finally:
        # Others break a lock only once it has expired; until a second before
        # that it is certainly still ours, and one unlink releases it (the
        # rename-aside check costs four more file operations).
        if time.time() < expires - 1.0:
            with suppress(FileNotFoundError):
                os.unlink(path)
        else:
            _remove_if_token(path, token, suffix)


class FileBackend(FramedBackend):
    """The Backend protocol over a FileSystemCache directory.

    Store accesses: file reads, writes and removals.

    >>> import tempfile
    >>> backend = FileBackend(FileCache(tempfile.mkdtemp()))
    >>> backend.load("wss:{missing}") is None
    True
    """

    def __init__(self, cache: FileSystemCache) -> None:
        super().__init__()
        self.cache = prepare_store(cache)
        self._layout = file_layout(cache)
        self._path = self._layout.filename
        self._suffix = self._layout.suffix

    def _read(self, key: str) -> tuple[bytes | None, object]:
        self._on_access()
        try:
            with open(self._path(key), "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return None, None
        except OSError as exc:
            raise StoreUnavailable(
                f"cannot read session file: {exc}", original=exc
            ) from exc
        if len(data) < _HEADER.size:
            raise ValueError("truncated session file")
        expires = _HEADER.unpack(data[: _HEADER.size])[0]
        if expires and expires < time.time():
            return None, None
        return data[_HEADER.size :], None

    def _write(self, key: str, value: bytes, ttl: int) -> None:
        self._on_access()
        layout = self._layout
        path = self._path(key)
        new = not os.path.exists(path)
        if new:
            layout.prune()
        try:
            fd, tmp = tempfile.mkstemp(suffix=self._suffix, dir=layout.directory)
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(_HEADER.pack(_expiry(check_ttl(ttl))))
                    f.write(value)
                os.chmod(tmp, layout.mode)
                os.replace(tmp, path)
            except BaseException:
                with suppress(OSError):
                    os.unlink(tmp)
                raise
        except OSError as exc:
            raise StoreUnavailable(
                f"cannot write session file: {exc}", original=exc
            ) from exc
        if new:
            layout.update_count(1)

    def _add(self, key: str, value: bytes, ttl: int) -> bool:
        with self._mutex(key):
            if self._read(key)[0] is not None:
                return False
            self._write(key, value, ttl)
            return True

    def _remove(self, key: str) -> bool:
        self._on_access()
        try:
            os.remove(self._path(key))
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise StoreUnavailable(
                f"cannot delete session file: {exc}", original=exc
            ) from exc
        self._layout.update_count(-1)
        return True

    def _lock_path(self, key: str, kind: str) -> str:
        return f"{self._path(key)}.{kind}{self._suffix}"

    def _mutex(self, key: str) -> AbstractContextManager[None]:
        return file_lock(
            self._lock_path(key, "mlock"),
            self.mutex_timeout,
            self.mutex_ttl,
            self._suffix,
        )

    def lock(
        self, key: str, timeout: float, ttl: float
    ) -> AbstractContextManager[None]:
        """Exclusive session lock file; a holder that died loses it after ``ttl``."""
        return file_lock(self._lock_path(key, "lock"), timeout, ttl, self._suffix)
