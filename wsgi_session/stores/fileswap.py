"""Put a new version of a file in place atomically, and cheaply on Linux.

The file store writes a session's new version to a temporary file and moves
it over the old one, so that readers, who take no lock, see the old or the
new version and never a partial one. ``os.replace`` over an existing file
does that, but on ext4 it also allocates and starts writing out the new
file's blocks at once (the ``auto_da_alloc`` heuristic, which protects
replace-by-rename against a power cut) and frees the old file's: 150-200 µs
per session write on an idle disk of the benchmark machine, several ms while
other processes write to it. On Linux, :class:`FileSwap` exchanges the two
files instead (``renameat2(RENAME_EXCHANGE)``, atomic for readers in the same
way) and then unlinks the old version: about 15 µs, and a session rewritten
within the kernel's writeback delay (about 30 s) never reaches the disk at all.

What the exchange gives up is only that early write-out: after a power cut
or an OS crash (not a crash of the process), a session written in the last
seconds may be found empty. An empty file reads as a corrupt session, so
that session starts fresh. Elsewhere (other systems, file systems without
the exchange, such as NFS) :class:`FileSwap` uses ``os.replace``::

    >>> import pathlib, tempfile
    >>> old = pathlib.Path(tempfile.mkdtemp(), "s")
    >>> new = old.with_suffix(".tmp")
    >>> _ = old.write_bytes(b"v1"), new.write_bytes(b"v2")
    >>> FileSwap().replace(str(new), str(old))  # True: there was an old version
    True
    >>> old.read_bytes(), new.exists()
    (b'v2', False)
"""

from __future__ import annotations

import ctypes
import errno
import os
import sys
import typing as t
from contextlib import suppress

__all__ = ["FileSwap"]

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2
#: renameat2's answers when a file system or kernel cannot exchange.
_UNSUPPORTED = {errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.EXDEV}


def _renameat2() -> t.Any:
    """libc's ``renameat2``, or ``None`` where there is none."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        function = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):  # no libc symbol (glibc < 2.28, musl < 1.2)
        return None
    function.argtypes = [
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_uint,
    ]
    function.restype = ctypes.c_int
    return function


_exchange = _renameat2()


class FileSwap:
    """Moves new versions of files into place (one per directory: it
    remembers when the directory's file system cannot exchange)."""

    def __init__(self, exchange: t.Any = _exchange) -> None:
        #: libc's renameat2 (``None``: always rename); given up on once it
        #: answers that this file system cannot exchange.
        self._exchange = exchange

    def replace(self, new: str, path: str) -> bool:
        """Move the file ``new`` to ``path`` atomically; return True when it
        replaced a file there (whose old version is then deleted).

        OSError as ``os.replace`` raises it.
        """
        exchange = self._exchange
        if exchange is not None:
            new_b, path_b = os.fsencode(new), os.fsencode(path)
            if exchange(_AT_FDCWD, new_b, _AT_FDCWD, path_b, _RENAME_EXCHANGE) == 0:
                with suppress(OSError):  # (a leftover ends in the temporary suffix)
                    os.unlink(new)  # the old version, now under the temporary name
                return True
            code = ctypes.get_errno()
            if code == errno.ENOENT:  # nothing at ``path`` yet: a plain rename
                os.replace(new, path)
                return False
            if code not in _UNSUPPORTED:
                raise OSError(code, os.strerror(code), path)
            self._exchange = None  # this file system cannot: rename from now on
        existed = os.path.exists(path)
        os.replace(new, path)
        return existed
