"""Instrumentation: count what a backend does, outside the store contract.

:class:`CountingBackend` wraps any :class:`~wsgi_session.stores.base.Backend`
and counts the calls made to it and, for a backend that reports its store
accesses (an :class:`Observable` one: every backend of this package), the
round trips they cost. A counted backend is given to a middleware by
assignment::

    >>> from wsgi_session.stores import backend_for, open_store
    >>> counted = CountingBackend(backend_for(open_store("memory://")))
    >>> counted.create("wss:{a}", b"m", {"x": b"1"}, 60)
    True
    >>> counted.load("wss:{a}").fields, counted.round_trips, counted.calls["load"]
    ({'x': b'1'}, 2, 1)

(``middleware.backend = CountingBackend(middleware.backend)``.) Nothing here
runs unless a backend is wrapped: the backends' own hook costs one call of
a no-op function per store access.
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager
from typing import Protocol, runtime_checkable

from .base import Backend, Record, SaveResult

__all__ = ["CountingBackend", "Observable", "Observer", "ignore"]

#: Called once per store access (a network round trip, a file read…).
Observer = Callable[[], object]


def ignore() -> None:
    """The observer of a backend nobody watches: does nothing.

    >>> ignore()
    """


@runtime_checkable
class Observable(Protocol):
    """A backend that reports each store access to one observer."""

    def observe(self, on_access: Observer) -> Observer:
        """Call ``on_access`` once per store access from now on; return the
        observer it replaces (:func:`ignore` when there was none), which the
        new observer should call in turn."""


class CountingBackend:
    """A Backend that counts calls and round trips of the backend it wraps.

    ``round_trips`` counts store accesses (network round trips for Redis
    and Memcached, a repeated command twice; cache or file operations for
    the others), as the wrapped backend reports them; ``calls`` counts
    protocol calls by name. Two counters may wrap the same backend: both
    see every access.

    >>> from wsgi_session.stores import backend_for, open_store
    >>> counted = CountingBackend(backend_for(open_store("memory://")))
    >>> counted.delete("wss:{gone}")
    >>> counted.calls, counted.observed
    (Counter({'delete': 1}), True)
    """

    def __init__(self, backend: Backend) -> None:
        #: The backend counted.
        self.backend = backend
        #: Store accesses since this counter was made.
        self.round_trips = 0
        #: Protocol calls by method name.
        self.calls: collections.Counter[str] = collections.Counter()
        #: Whether ``backend`` reports its store accesses (else
        #: ``round_trips`` stays 0).
        self.observed = isinstance(backend, Observable)
        self._previous: Observer = ignore
        if isinstance(backend, Observable):
            self._previous = backend.observe(self._accessed)

    def _accessed(self) -> None:
        self.round_trips += 1
        self._previous()

    def observe(self, on_access: Observer) -> Observer:
        """Pass an observer on to the wrapped backend (counters nest)."""
        if isinstance(self.backend, Observable):
            return self.backend.observe(on_access)
        return ignore

    def load(self, key: str) -> Record | None:
        """Counted :meth:`Backend.load`."""
        self.calls["load"] += 1
        return self.backend.load(key)

    def create(self, key: str, meta: bytes, fields: dict[str, bytes], ttl: int) -> bool:
        """Counted :meth:`Backend.create`."""
        self.calls["create"] += 1
        return self.backend.create(key, meta, fields, ttl)

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
        """Counted :meth:`Backend.merge`."""
        self.calls["merge"] += 1
        return self.backend.merge(key, meta, set_fields, del_fields, ttl, token=token)

    def replace(
        self, key: str, meta: bytes, fields: dict[str, bytes], ttl: int
    ) -> SaveResult:
        """Counted :meth:`Backend.replace`."""
        self.calls["replace"] += 1
        return self.backend.replace(key, meta, fields, ttl)

    def touch(self, key: str, meta: bytes, ttl: int) -> bool:
        """Counted :meth:`Backend.touch`."""
        self.calls["touch"] += 1
        return self.backend.touch(key, meta, ttl)

    def delete(self, key: str) -> None:
        """Counted :meth:`Backend.delete`."""
        self.calls["delete"] += 1
        self.backend.delete(key)

    def lock(
        self, key: str, timeout: float, ttl: float
    ) -> AbstractContextManager[None]:
        """Counted :meth:`Backend.lock`."""
        self.calls["lock"] += 1
        return self.backend.lock(key, timeout, ttl)
