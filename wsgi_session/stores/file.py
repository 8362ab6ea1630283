"""The filesystem store: ``file://`` and the backend over cachelib's FileSystemCache.

Each session is one file named by cachelib's scheme (a hash of the key),
written atomically (a temporary file put in place by
:class:`~wsgi_session.stores.fileswap.FileSwap`) in cachelib's layout: a
4-byte expiry header, then the framed record. The short mutex of a merge
is ``fcntl.flock`` on one of 256 files shared by all sessions
(:func:`flock_mutex`; a lock file as below where there is no ``fcntl``).
Session locks (``concurrency="lock"``) are lock files created with
``O_CREAT | O_EXCL`` holding a token and an expiry time; a lock past its
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
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, suppress

from cachelib.file import FileSystemCache

from ..errors import StoreUnavailable
from .base import DEFAULT_THRESHOLD, check_ttl, poll_until, warn_eviction
from .cachelib_compat import FileCacheHooks, file_layout
from .fileswap import FileSwap
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
        #: True once the store warned that it evicts live sessions (logged once).
        self.eviction_warned = False
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


# Session files are read and written with os-level calls: open() and
# fdopen() add buffered-I/O objects and four system calls per file
# (fstat, isatty, two lseeks) that a whole-file read or write never needs.
_BINARY = getattr(os, "O_BINARY", 0)  # (Windows)


def _read_file(path: str) -> bytes:
    """The whole content of the file at ``path`` (FileNotFoundError, OSError)."""
    fd = os.open(path, os.O_RDONLY | _BINARY)
    try:
        chunks = [os.read(fd, os.fstat(fd).st_size + 1)]  # + 1: to see the end
        while chunks[-1]:
            chunks.append(os.read(fd, 1 << 16))
    finally:
        os.close(fd)
    return b"".join(chunks)


def _write_new_file(path: str, data: bytes) -> None:
    """Create the file ``path`` (which must not exist) holding ``data``."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _BINARY, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    except BaseException:
        os.close(fd)
        with suppress(OSError):
            os.unlink(path)
        raise
    os.close(fd)


try:
    import fcntl
except ImportError:  # (Windows) the merge mutex is a lock file there
    fcntl = None  # type: ignore[assignment]

#: Descriptors of held mutexes (a forked child closes its copies: see below).
_held: set[int] = set()


def _close_held() -> None:
    """In a forked child: close the copies of the parent's mutex descriptors, so
    that the parent releases its mutex by closing its own (a flock is held
    until every copy of its descriptor is closed)."""
    for fd in list(_held):
        with suppress(OSError):
            os.close(fd)
    _held.clear()


if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(after_in_child=_close_held)


@contextmanager
def flock_mutex(path: str, timeout: float) -> Iterator[None]:
    """Hold ``fcntl.flock(LOCK_EX)`` on the file at ``path`` (created once, kept).

    The kernel releases it when its holder closes the file or dies: no lock
    file is created or removed per merge (two metadata writes, 35 µs on an
    idle ext4 disk and 100 µs or more on a busy one), and none is left behind
    by a worker that was killed. Each acquisition opens its own descriptor,
    so threads of one process exclude each other too.

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "m")
    >>> with flock_mutex(path, timeout=1):
    ...     with flock_mutex(path, timeout=0.01):
    ...         pass
    Traceback (most recent call last):
    ...
    wsgi_session.errors.LockTimeout: could not lock the session within 0.01s
    """
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise StoreUnavailable(f"cannot open lock file: {exc}", original=exc) from exc

    def attempt() -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    _held.add(fd)
    try:
        poll_until(attempt, timeout)
        yield
    finally:
        _held.discard(fd)
        os.close(fd)  # releases the lock


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
        self._swap = FileSwap()

    def _read(self, key: str) -> tuple[bytes | None, object]:
        self._on_access()
        try:
            data = _read_file(self._path(key))
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
        if not os.path.exists(path):
            layout.prune()
        name = f"tmp{secrets.token_hex(8)}{self._suffix}"
        tmp = os.path.join(layout.directory, name)
        try:
            _write_new_file(tmp, _HEADER.pack(_expiry(check_ttl(ttl))) + value)
            try:
                os.chmod(tmp, layout.mode)  # exactly, whatever the umask
                replaced = self._swap.replace(tmp, path)
            except BaseException:
                with suppress(OSError):
                    os.unlink(tmp)
                raise
        except OSError as exc:
            raise StoreUnavailable(
                f"cannot write session file: {exc}", original=exc
            ) from exc
        if not replaced:
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
        if fcntl is None:
            return file_lock(
                self._lock_path(key, "mlock"),
                self.mutex_timeout,
                self.mutex_ttl,
                self._suffix,
            )
        # Session file names are hashes: their last two characters pick one of
        # 256 stripes (two sessions of a stripe wait for each other's merge).
        stripe = self._path(key)[-2:]
        name = f"mutex-{stripe}{self._suffix}"
        return flock_mutex(
            os.path.join(self._layout.directory, name), self.mutex_timeout
        )

    def lock(
        self, key: str, timeout: float, ttl: float
    ) -> AbstractContextManager[None]:
        """Exclusive session lock file; a holder that died loses it after ``ttl``."""
        return file_lock(self._lock_path(key, "lock"), timeout, ttl, self._suffix)
