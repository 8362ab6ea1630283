"""The exception tree of wsgi_session; imports nothing of ours.

Every error the library raises derives from :class:`SessionError`::

    >>> from wsgi_session.errors import ConfigError, SessionError
    >>> issubclass(ConfigError, SessionError) and issubclass(ConfigError, ValueError)
    True
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "LockTimeout",
    "SerializationError",
    "SessionError",
    "StoreUnavailable",
]


class SessionError(Exception):
    """Base class of every error raised by wsgi_session.

    >>> isinstance(StoreUnavailable("down"), SessionError)
    True
    """


class ConfigError(SessionError, ValueError):
    """A setting is missing or invalid; raised at construction, never per request.

    ``key`` names the offending setting; when one call, mapping or ini
    section holds several mistakes they all come in one error, a line each,
    and ``key`` is the first line's setting.

    >>> err = ConfigError("must be positive", key="idle_timeout")
    >>> err.key, str(err)
    ('idle_timeout', 'must be positive')
    """

    def __init__(self, message: str, *, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


class StoreUnavailable(SessionError):
    """The session store could not be reached, or refused a write.

    The middleware turns an uncaught ``StoreUnavailable`` into
    ``503 Service Unavailable``. ``original`` is the underlying exception,
    if any.

    >>> StoreUnavailable("redis is down").original is None
    True
    """

    def __init__(self, message: str, *, original: BaseException | None = None) -> None:
        super().__init__(message)
        self.original = original


class LockTimeout(StoreUnavailable):
    """A session lock could not be acquired in time (``concurrency="lock"``).

    It is a :class:`StoreUnavailable`, so an uncaught one becomes a 503.

    >>> issubclass(LockTimeout, StoreUnavailable)
    True
    """


class SerializationError(SessionError, TypeError):
    """A value cannot be stored by the session serializer.

    ``path`` locates the value inside the session (``"cart.items[2]"``) and
    ``type_name`` names its type.

    >>> err = SerializationError("items[2]", "object")
    >>> err.path, err.type_name
    ('items[2]', 'object')
    >>> str(err)
    "cannot serialize value of type 'object' at 'items[2]'"
    >>> str(err.under("cart"))
    "cannot serialize value of type 'object' at 'cart.items[2]'"
    """

    def __init__(self, path: str, type_name: str, detail: str | None = None) -> None:
        self.path = path
        self.type_name = type_name
        self.detail = detail
        where = f" at {path!r}" if path else ""
        message = f"cannot serialize value of type {type_name!r}{where}"
        if detail:
            message += f": {detail}"
        super().__init__(message)

    def under(self, key: str) -> SerializationError:
        """Return the same error with ``key`` prefixed to its path.

        >>> SerializationError("", "set").under("tags").path
        'tags'
        >>> SerializationError("[0]", "set").under("tags").path
        'tags[0]'
        """
        if not self.path:
            path = key
        elif self.path.startswith("["):
            path = key + self.path
        else:
            path = f"{key}.{self.path}"
        return SerializationError(path, self.type_name, self.detail)


class CSRFError(SessionError):
    """An unsafe request did not carry a valid CSRF token (§13.2).

    ``reason`` says what was wrong, in words safe to log (never the token).

    >>> str(CSRFError("no CSRF token")), CSRFError("no CSRF token").reason
    ('no CSRF token', 'no CSRF token')
    """

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)
