"""Which serializer turns session data into bytes: tagged JSON, or opt-in pickle.

This module is the ``serializer=`` setting's contract: what a serializer is
(:class:`Serializer`), the default, and :func:`check_serializer`. The two
serializers live in :mod:`wsgi_session.jsonserializer` and
:mod:`wsgi_session.pickleserializer` and are re-exported here, the import
point the documentation names (``wsgi_session.serializers.PickleSerializer``).

The default, :data:`default_serializer`, is a :class:`JSONSerializer`: compact
UTF-8 JSON in which the Python types JSON lacks are wrapped in one-key "tag"
objects, so that everything round-trips exactly, types included::

    >>> from datetime import date
    >>> data = {"cart": (1, 2), "since": date(2024, 5, 1)}
    >>> default_serializer.dumps(data)
    b'{"cart":{" t":[1,2]},"since":{" d":"2024-05-01"}}'
    >>> default_serializer.loads(default_serializer.dumps(data)) == data
    True

:class:`PickleSerializer` exists only to migrate legacy data out of a trusted
store; :func:`check_serializer` validates the ``serializer=`` setting.
"""

from __future__ import annotations

import json
import pickle
from typing import Any, Protocol, cast

from .errors import ConfigError
from .jsonserializer import JSONSerializer as JSONSerializer
from .pickleserializer import PickleSerializer as PickleSerializer

__all__ = [
    "JSONSerializer",
    "PickleSerializer",
    "Serializer",
    "check_serializer",
    "default_serializer",
]


class Serializer(Protocol):
    """What ``serializer=`` accepts: any object with these two methods.

    ``dumps`` raises :class:`~wsgi_session.errors.SerializationError` for a
    value it cannot store; ``loads`` raises :class:`ValueError` for data it
    cannot read (the session then starts fresh and logs a warning).

    >>> class Latin1Strings:
    ...     def dumps(self, obj: Any) -> bytes:
    ...         return obj.encode("latin-1")
    ...     def loads(self, data: bytes) -> Any:
    ...         return data.decode("latin-1")
    >>> check_serializer(Latin1Strings()).loads(b"caf\\xe9")
    'café'
    """

    def dumps(self, obj: Any) -> bytes:
        """Return ``obj`` as bytes."""

    def loads(self, data: bytes) -> Any:
        """Return the object that ``data`` was made from."""


default_serializer = JSONSerializer()
"""The serializer used unless ``serializer=`` says otherwise.

>>> default_serializer.loads(default_serializer.dumps([b"\\x00", 1.5]))
[b'\\x00', 1.5]
"""


_USAGE = (
    "serializer must be 'json' or an object with dumps(obj) -> bytes and "
    "loads(bytes) -> obj methods, such as wsgi_session.serializers.JSONSerializer()"
)


def check_serializer(obj: Any) -> Serializer:
    """Validate the ``serializer=`` setting and return the serializer to use.

    ``"json"`` means :data:`default_serializer`; otherwise ``obj`` must be an
    instance with callable ``dumps`` and ``loads``. Raises
    :class:`~wsgi_session.errors.ConfigError` (``key="serializer"``) for
    anything else, including ``"pickle"``: pickle is opt-in only, by passing a
    :class:`PickleSerializer` instance.

    >>> check_serializer("json") is default_serializer
    True
    >>> check_serializer("pickle")
    Traceback (most recent call last):
    ...
    wsgi_session.errors.ConfigError: serializer='pickle' is not accepted: ...
    """
    if isinstance(obj, str):
        if obj == "json":
            return default_serializer
        if obj == "pickle":
            raise ConfigError(
                "serializer='pickle' is not accepted: unpickling runs arbitrary "
                "code for anyone who can write to the store. To read legacy data "
                "from a trusted store, pass "
                "wsgi_session.serializers.PickleSerializer() explicitly",
                key="serializer",
            )
        raise ConfigError(f"{_USAGE}; got {obj!r}", key="serializer")
    if obj is json or obj is pickle:
        hint = "use serializer='json'" if obj is json else "pass PickleSerializer()"
        message = f"{_USAGE}; got the {obj.__name__} module ({hint})"
        raise ConfigError(message, key="serializer")
    if isinstance(obj, type):
        message = f"{_USAGE}; got the class {obj.__qualname__} (pass an instance)"
        raise ConfigError(message, key="serializer")
    if not (
        callable(getattr(obj, "dumps", None)) and callable(getattr(obj, "loads", None))
    ):
        message = f"{_USAGE}; got {type(obj).__qualname__}"
        raise ConfigError(message, key="serializer")
    return cast(Serializer, obj)
