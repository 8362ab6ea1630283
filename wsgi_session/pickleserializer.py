"""Pickle session data: the opt-in serializer for migrating out of a trusted store.

Never the default and not selectable as ``serializer="pickle"`` (see
:func:`~wsgi_session.serializers.check_serializer`): unpickling runs whatever
code the data names. Use it only to read legacy sessions, then switch back.

    >>> s = PickleSerializer(protocol=2)
    >>> s.loads(s.dumps({"ids": {1, 2}}))
    {'ids': {1, 2}}
"""

from __future__ import annotations

import pickle
from typing import Any

from .errors import SerializationError

__all__ = ["PickleSerializer"]


class PickleSerializer:
    """Pickle, for migrating legacy session data out of a TRUSTED store only.

    Unsafe otherwise: ``pickle.loads`` runs whatever code the data tells it to,
    so anyone who can write to the store -- a shared or compromised Redis or
    Memcached, a writable session directory, a neighbouring app on the same
    server -- gets code execution in your application. It is therefore never
    the default and not available as ``serializer="pickle"``: pass an instance
    explicitly, and switch back to JSON once old sessions have expired.

    ``protocol`` (keyword-only, default :attr:`protocol`) is the pickle
    protocol written; any protocol is read.

    >>> s = PickleSerializer()
    >>> s.loads(s.dumps({"user": ("ann", 7)}))
    {'user': ('ann', 7)}
    """

    #: Pickle protocol used by :meth:`dumps`; override to suit older readers.
    protocol: int = pickle.DEFAULT_PROTOCOL

    def __init__(self, *, protocol: int | None = None) -> None:
        if protocol is not None:
            self.protocol = protocol

    def dumps(self, obj: Any) -> bytes:
        """Return ``obj`` pickled; :class:`SerializationError` if it cannot be.

        >>> PickleSerializer().dumps(lambda: 1)
        Traceback (most recent call last):
        ...
        wsgi_session.errors.SerializationError: cannot serialize ... 'function': ...
        """
        try:
            return pickle.dumps(obj, protocol=self.protocol)
        except Exception as exc:  # any __reduce__ can raise anything
            raise SerializationError("", type(obj).__qualname__, str(exc)) from exc

    def loads(self, data: bytes) -> Any:
        """Return the unpickled value; :class:`ValueError` for corrupt data.

        >>> PickleSerializer().loads(b"not a pickle")
        Traceback (most recent call last):
        ...
        ValueError: session data is not a valid pickle: ...
        """
        try:
            return pickle.loads(data)  # noqa: S301 -- opt-in, trusted store only
        except Exception as exc:  # corrupt pickles raise many exception types
            message = f"session data is not a valid pickle: {exc!r}"
            raise ValueError(message) from exc
