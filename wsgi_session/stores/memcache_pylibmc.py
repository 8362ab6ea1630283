"""pylibmc behind the same five commands as the memcached wire.

:class:`~wsgi_session.stores.memcached.MemcachedBackend` sends ``gets``,
``set`` / ``add`` / ``replace`` / ``cas`` and ``delete`` to a *commands*
object: :class:`~wsgi_session.stores.memcache_wire.Wire` for python-memcached,
:class:`PylibmcCommands` for a pylibmc client (through its documented API,
borrowing a client per call from the cache's pool). pylibmc's ``NotFound``
is an answer (``False``); its other errors raise
:class:`~wsgi_session.errors.StoreUnavailable`::

    >>> from contextlib import nullcontext
    >>> commands = PylibmcCommands(lambda: nullcontext(None))
    >>> commands.gets(b"k")
    Traceback (most recent call last):
      ...
    wsgi_session.errors.StoreUnavailable: memcached gets failed: ...
"""

from __future__ import annotations

import typing as t
from collections.abc import Callable
from contextlib import AbstractContextManager

from ..errors import StoreUnavailable

__all__ = ["PylibmcCommands", "refusing_client_class"]


def refusing_client_class(pylibmc: t.Any) -> t.Any:
    """A ``pylibmc.Client`` subclass that refuses values not stored as plain bytes.

    Pickles, integers, text and compressed values carry flags: never a
    session record.

    Example (pylibmc is an optional extra, so this is not run as a doctest;
    ``tests/test_stores.py`` plants a pickle in a real memcached for both
    clients)::

        import pylibmc
        client = refusing_client_class(pylibmc)(["127.0.0.1:11211"])
        client.deserialize(*client.serialize(b"record"))  # b'record': flags 0
        client.deserialize(*client.serialize({"user": "ann"}))  # ValueError
    """

    class Client(pylibmc.Client):  # type: ignore[misc]
        def deserialize(self, value: bytes, flags: int) -> bytes:
            if flags:
                raise ValueError("memcached value is not a session record")
            return value

    return Client


class PylibmcCommands:
    """The commands of the memcached backend, sent through pylibmc clients.

    ``borrow`` is a context manager factory yielding a client (the cache's
    ``ThreadMappedPool.reserve``, or one shared client).

    >>> from contextlib import nullcontext
    >>> class NotFound(Exception): pass  # pylibmc's error for a missing key
    >>> class Client:
    ...     def delete(self, key): raise NotFound(key)
    >>> PylibmcCommands(lambda: nullcontext(Client())).delete(b"wss:{a}")  # an answer
    False
    """

    def __init__(self, borrow: Callable[[], AbstractContextManager[t.Any]]) -> None:
        self._borrow = borrow

    def gets(self, key: bytes) -> tuple[bytes | None, object]:
        """``(value, cas id)`` of ``key``; ``(None, None)`` when it is absent."""
        found = self._call("gets", key)
        if found is False:
            return None, None
        value, cas = t.cast("tuple[t.Optional[bytes], object]", found)
        return value, cas

    def store(
        self, cmd: bytes, key: bytes, value: bytes, exptime: int, cas: object = None
    ) -> bool:
        """``set`` / ``add`` / ``replace`` / ``cas``; ``False`` when not stored."""
        if cmd == b"cas":
            return bool(self._call("cas", key, value, cas, time=exptime))
        return bool(self._call(cmd.decode("ascii"), key, value, time=exptime))

    def delete(self, key: bytes) -> bool:
        """Delete ``key``; ``True`` if it was there."""
        return bool(self._call("delete", key))

    def close(self) -> None:
        """Nothing to do: the pool owns the clients."""

    def _call(self, name: str, *args: object, **kwargs: object) -> object:
        """``client.<name>(...)``; ``False`` for NotFound, else StoreUnavailable."""
        try:
            with self._borrow() as client:
                return getattr(client, name)(*args, **kwargs)
        except ValueError:  # a value that is not ours (refusing_client_class)
            raise
        except Exception as exc:  # pylibmc raises its own error classes
            if type(exc).__name__ == "NotFound":
                return False
            raise StoreUnavailable(
                f"memcached {name} failed: {exc}", original=exc
            ) from exc
