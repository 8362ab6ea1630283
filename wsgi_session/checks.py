"""Checks of single setting values: each returns the value to use, or raises a
:class:`~wsgi_session.ConfigError` that names the setting and what it accepts.

:mod:`wsgi_session.config` pairs each setting with one of these in its table.

>>> seconds("idle_timeout", 90), bool_value("cookie_httponly", False)
(90, False)
>>> url_param("url_param", "a b")
Traceback (most recent call last):
...
wsgi_session.errors.ConfigError: url_param: ...
"""

from __future__ import annotations

import datetime as dt
import re
import typing as t

from .errors import ConfigError
from .events import SessionEvents
from .serializers import Serializer, check_serializer
from .stores import open_store
from .stores.sql_ref import is_sql_engine

#: A validator: ``check(name, value)`` returns the value to use or raises.
Check = t.Callable[[str, t.Any], t.Any]

_COOKIE_NAME_RE = re.compile(r"\A[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
_PARAM_RE = re.compile(r"\A[A-Za-z0-9_.\-]+\Z")
_SAMESITE = {"strict": "Strict", "lax": "Lax", "none": "None"}


def one_of(*choices: t.Any) -> Check:
    """A check that accepts only one of ``choices``, compared by type and value.

    ``True`` is not taken for ``1``, nor ``1`` for ``True``.

    >>> check = one_of("merge", "lock", "none")
    >>> check("concurrency", "lock")
    'lock'
    >>> one_of(True, False, "auto")("cookie_secure", 1)
    Traceback (most recent call last):
    ...
    wsgi_session.errors.ConfigError: cookie_secure: expected one of True, False, ...
    """
    shown = ", ".join(repr(c) for c in choices)

    def check(key: str, value: t.Any) -> t.Any:
        if not any(
            value is c or (type(value) is type(c) and value == c) for c in choices
        ):
            raise ConfigError(f"{key}: expected one of {shown}, got {value!r}", key=key)
        return value

    return check


def bool_value(key: str, value: t.Any) -> bool:
    """``value`` if it is a bool; truthy strings and numbers are refused.

    >>> bool_value("cookie_httponly", True)
    True
    >>> bool_value("cookie_httponly", "yes")
    Traceback (most recent call last):
    ...
    wsgi_session.errors.ConfigError: cookie_httponly: expected True or False, ...
    """
    if not isinstance(value, bool):
        raise ConfigError(f"{key}: expected True or False, got {value!r}", key=key)
    return value


def seconds(key: str, value: t.Any, *, optional: bool = True) -> int | None:
    """A positive number of seconds as an int (at least 1), or None if ``optional``.

    A :class:`~datetime.timedelta` counts as its total seconds; fractions are
    cut off; zero, negative numbers and bools are refused.

    >>> import datetime as dt
    >>> seconds("idle_timeout", dt.timedelta(minutes=30)), seconds("k", 0.2)
    (1800, 1)
    >>> seconds("absolute_timeout", None) is None
    True
    """
    if value is None and optional:
        return None
    if isinstance(value, dt.timedelta):
        value = value.total_seconds()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if value <= 0:
            raise ConfigError(
                f"{key}: must be a positive number of seconds, got {value!r}", key=key
            )
        return max(1, int(value))
    extra = " or None" if optional else ""
    raise ConfigError(
        f"{key}: expected a number of seconds, a timedelta{extra}, got {value!r}",
        key=key,
    )


def required_seconds(key: str, value: t.Any) -> int:
    """Like :func:`seconds`, but None is refused too.

    >>> required_seconds("lock_timeout", 10.5)
    10
    >>> required_seconds("lock_timeout", None)
    Traceback (most recent call last):
    ...
    wsgi_session.errors.ConfigError: lock_timeout: expected a number of seconds, ...
    """
    return t.cast(int, seconds(key, value, optional=False))


def secret_keys(key: str, value: t.Any) -> tuple[str | bytes, ...]:
    """The signing keys as a tuple, oldest first: one key or a list of them.

    Every key must be a non-empty str or bytes; the error for a missing key
    says how to generate one.

    >>> secret_keys("secret_key", "k"), secret_keys("secret_key", ["old", b"new"])
    (('k',), ('old', b'new'))
    >>> secret_keys("secret_key", ["old", ""])
    Traceback (most recent call last):
    ...
    wsgi_session.errors.ConfigError: secret_key: every key must be a non-empty ...
    """
    keys = [value] if isinstance(value, (str, bytes)) else value
    if value is None or not isinstance(keys, (list, tuple)):
        raise ConfigError(
            "secret_key: a secret key is required (a str, bytes, or a list of "
            "them, newest last); generate one with "
            "python -c 'import secrets; print(secrets.token_hex(32))'",
            key="secret_key",
        )
    if not keys or any(not isinstance(k, (str, bytes)) or not k for k in keys):
        raise ConfigError(
            "secret_key: every key must be a non-empty str or bytes", key="secret_key"
        )
    return tuple(keys)


def store(key: str, value: t.Any) -> t.Any:
    """A store URL, None, a cache object, or the SQL store over a SQLAlchemy Engine.

    A cache object must have ``get``, ``set``, ``add`` and ``delete``; URLs are
    returned as given and opened later.

    >>> from cachelib import SimpleCache
    >>> cache = SimpleCache()
    >>> store("store", "memory://"), store("store", cache) is cache
    ('memory://', True)
    """
    if is_sql_engine(value):  # a SQLAlchemy Engine: the SQL store over it
        return open_store(value)
    if not isinstance(value, (str, type(None))) and not all(
        hasattr(value, m) for m in ("get", "set", "add", "delete")
    ):
        raise ConfigError(
            "store: expected a cachelib.BaseCache instance, a store URL "
            f"or None, got {value!r}",
            key="store",
        )
    return value


def cookie_name(key: str, value: t.Any) -> str:
    """``value`` if it is a valid cookie name (an RFC 6265 token).

    >>> cookie_name("cookie_name", "sid")
    'sid'
    >>> cookie_name("cookie_name", "my session")
    Traceback (most recent call last):
    ...
    wsgi_session.errors.ConfigError: cookie_name: expected a non-empty cookie ...
    """
    if not isinstance(value, str) or not _COOKIE_NAME_RE.match(value):
        raise ConfigError(
            f"cookie_name: expected a non-empty cookie token, got {value!r}",
            key="cookie_name",
        )
    return value


def cookie_path(key: str, value: t.Any) -> str:
    """``value`` if it is a path that starts with ``/`` and holds no ``;``.

    >>> cookie_path("cookie_path", "/shop")
    '/shop'
    >>> cookie_path("cookie_path", "shop")
    Traceback (most recent call last):
    ...
    wsgi_session.errors.ConfigError: cookie_path: expected a path starting with '/', ...
    """
    if not isinstance(value, str) or not value.startswith("/") or ";" in value:
        raise ConfigError(
            f"cookie_path: expected a path starting with '/', got {value!r}",
            key="cookie_path",
        )
    return value


def cookie_domain(key: str, value: t.Any) -> str | None:
    """``value`` if it is None (a host-only cookie) or a non-empty host name.

    >>> cookie_domain("cookie_domain", "example.org"), cookie_domain("k", None)
    ('example.org', None)
    """
    if value is not None and (not isinstance(value, str) or not value or ";" in value):
        raise ConfigError(
            f"cookie_domain: expected a host name or None, got {value!r}",
            key="cookie_domain",
        )
    return value


def samesite(key: str, value: t.Any) -> str | None:
    """The SameSite attribute in its canonical spelling, or None to leave it out.

    >>> samesite("cookie_samesite", "strict"), samesite("cookie_samesite", None)
    ('Strict', None)
    """
    if value is None:
        return None
    if not isinstance(value, str) or value.lower() not in _SAMESITE:
        raise ConfigError(
            "cookie_samesite: expected one of 'Strict', 'Lax', 'None', "
            f"None, got {value!r}",
            key="cookie_samesite",
        )
    return _SAMESITE[value.lower()]


def url_param(key: str, value: t.Any) -> str:
    """``value`` if it is a query parameter name of letters, digits, ``_.-``.

    >>> url_param("url_param", "sid")
    'sid'
    """
    if not isinstance(value, str) or not _PARAM_RE.match(value):
        raise ConfigError(
            "url_param: expected a non-empty name of letters, digits, '_', "
            f"'.', '-', got {value!r}",
            key="url_param",
        )
    return value


def nonempty_str(key: str, value: t.Any) -> str:
    """``value`` if it is a non-empty str.

    >>> nonempty_str("environ_key", "wsgi_session")
    'wsgi_session'
    >>> nonempty_str("environ_key", "")
    Traceback (most recent call last):
    ...
    wsgi_session.errors.ConfigError: environ_key: expected a non-empty str, got ''
    """
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{key}: expected a non-empty str, got {value!r}", key=key)
    return value


def optional_nonempty_str(key: str, value: t.Any) -> str | None:
    """None, or a non-empty str.

    >>> optional_nonempty_str("user_key", None), optional_nonempty_str("k", "_id")
    (None, '_id')
    """
    return None if value is None else nonempty_str(key, value)


def serializer(key: str, value: t.Any) -> Serializer:
    """The serializer to use: ``"json"``, or an object with ``dumps`` and ``loads``.

    :func:`~wsgi_session.serializers.check_serializer` decides; ``"pickle"``
    is refused.

    >>> from wsgi_session.serializers import default_serializer
    >>> serializer("serializer", "json") is default_serializer
    True
    """
    return check_serializer(value)


def events(key: str, value: t.Any) -> SessionEvents | None:
    """``value`` if it is None or a :class:`~wsgi_session.SessionEvents` instance.

    >>> hooks = SessionEvents()
    >>> events("events", hooks) is hooks, events("events", None)
    (True, None)
    """
    if value is not None and not isinstance(value, SessionEvents):
        raise ConfigError(
            "events: expected an instance of a wsgi_session.SessionEvents "
            f"subclass or None, got {value!r}",
            key="events",
        )
    return value


def path_prefixes(key: str, value: t.Any) -> tuple[str, ...]:
    """A tuple of path prefixes, each starting with ``/``.

    >>> path_prefixes("csrf_exempt", ["/api/", "/hooks"])
    ('/api/', '/hooks')
    """
    if isinstance(value, str):
        value = (value,)
    try:
        prefixes = tuple(value)
    except TypeError:
        prefixes = None
    if prefixes is None or not all(
        isinstance(p, str) and p.startswith("/") for p in prefixes
    ):
        raise ConfigError(
            f"{key}: expected path prefixes starting with '/', got {value!r}",
            key=key,
        )
    return prefixes


def byte_count(key: str, value: t.Any) -> int:
    """``value`` if it is an int of bytes, zero or more (bools are refused).

    >>> byte_count("url_body_limit", 1024 * 1024)
    1048576
    >>> byte_count("url_body_limit", -1)
    Traceback (most recent call last):
    ...
    wsgi_session.errors.ConfigError: url_body_limit: expected a number of bytes ...
    """
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ConfigError(
            f"{key}: expected a number of bytes >= 0, got {value!r}", key=key
        )
    return value


# -- the table ----------------------------------------------------------------
