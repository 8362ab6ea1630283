"""One frozen settings object, strictly validated; shared by every entry point.

:class:`Settings` holds the arguments of :class:`~wsgi_session.SessionMiddleware`
after validation. Every mistake is a :class:`~wsgi_session.ConfigError` naming
the argument and the accepted values, raised at construction.

>>> s = Settings.build(secret_key="s3cret", idle_timeout="15m")
Traceback (most recent call last):
...
wsgi_session.errors.ConfigError: idle_timeout: expected a number of seconds, ...
>>> Settings.build(secret_key="s3cret").idle_timeout
1800
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import typing as t

from .errors import ConfigError
from .events import SessionEvents
from .serializers import Serializer, check_serializer

__all__ = ["DEFAULTS", "Settings"]

_COOKIE_NAME_RE = re.compile(r"\A[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
_PARAM_RE = re.compile(r"\A[A-Za-z0-9_.\-]+\Z")
_SAMESITE = {"strict": "Strict", "lax": "Lax", "none": "None"}

#: The default value of every setting, by name (the middleware signature).
DEFAULTS: dict[str, t.Any] = {
    "secret_key": None,
    "store": None,
    "cookie_name": "session",
    "cookie_path": "/",
    "cookie_domain": None,
    "cookie_secure": "auto",
    "cookie_httponly": True,
    "cookie_samesite": "Lax",
    "cookie_max_age": None,
    "idle_timeout": 1800,
    "absolute_timeout": None,
    "tracking": "auto",
    "url_param": "sid",
    "environ_key": "wsgi_session",
    "serializer": "json",
    "concurrency": "merge",
    "rewrite_html": False,
    "events": None,
    "lock_timeout": 10,
    "url_body_limit": 1024 * 1024,
}


def _choice(key: str, value: t.Any, choices: tuple[t.Any, ...]) -> t.Any:
    if not any(value is c or (type(value) is type(c) and value == c) for c in choices):
        shown = ", ".join(repr(c) for c in choices)
        raise ConfigError(f"{key}: expected one of {shown}, got {value!r}", key=key)
    return value


def _bool(key: str, value: t.Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{key}: expected True or False, got {value!r}", key=key)
    return value


def _seconds(key: str, value: t.Any, *, optional: bool = True) -> int | None:
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


def _secret_keys(value: t.Any) -> tuple[str | bytes, ...]:
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


@dataclasses.dataclass(frozen=True)
class Settings:
    """The validated settings of one middleware (see :meth:`build`).

    Durations are whole seconds; ``cookie_samesite`` is normalised to
    ``"Strict"``, ``"Lax"``, ``"None"`` or None.

    >>> Settings.build(secret_key="k", cookie_samesite="strict").cookie_samesite
    'Strict'
    """

    secret_key: tuple[str | bytes, ...]
    store: t.Any
    cookie_name: str
    cookie_path: str
    cookie_domain: str | None
    cookie_secure: bool | str
    cookie_httponly: bool
    cookie_samesite: str | None
    cookie_max_age: int | None
    idle_timeout: int | None
    absolute_timeout: int | None
    tracking: str
    url_param: str
    environ_key: str
    serializer: Serializer
    concurrency: str
    rewrite_html: bool
    events: SessionEvents | None
    lock_timeout: int
    url_body_limit: int

    @classmethod
    def build(cls, **options: t.Any) -> Settings:
        """Validate keyword options (missing ones take :data:`DEFAULTS`).

        >>> Settings.build(secret_key="k", colour="blue")
        Traceback (most recent call last):
        ...
        wsgi_session.errors.ConfigError: colour: unknown setting
        """
        for key in options:
            if key not in DEFAULTS:
                raise ConfigError(f"{key}: unknown setting", key=key)
        o = {**DEFAULTS, **options}
        name = o["cookie_name"]
        if not isinstance(name, str) or not _COOKIE_NAME_RE.match(name):
            raise ConfigError(
                f"cookie_name: expected a non-empty cookie token, got {name!r}",
                key="cookie_name",
            )
        path = o["cookie_path"]
        if not isinstance(path, str) or not path.startswith("/") or ";" in path:
            raise ConfigError(
                f"cookie_path: expected a path starting with '/', got {path!r}",
                key="cookie_path",
            )
        domain = o["cookie_domain"]
        if domain is not None and (
            not isinstance(domain, str) or not domain or ";" in domain
        ):
            raise ConfigError(
                f"cookie_domain: expected a host name or None, got {domain!r}",
                key="cookie_domain",
            )
        secure = _choice("cookie_secure", o["cookie_secure"], (True, False, "auto"))
        samesite = o["cookie_samesite"]
        if samesite is not None:
            if not isinstance(samesite, str) or samesite.lower() not in _SAMESITE:
                raise ConfigError(
                    "cookie_samesite: expected one of 'Strict', 'Lax', 'None', "
                    f"None, got {samesite!r}",
                    key="cookie_samesite",
                )
            samesite = _SAMESITE[samesite.lower()]
        if samesite == "None" and secure is False:
            raise ConfigError(
                "cookie_samesite: 'None' requires cookie_secure=True or 'auto' "
                "(browsers drop SameSite=None cookies without Secure)",
                key="cookie_samesite",
            )
        if name.startswith("__Host-"):
            if secure is False or path != "/" or domain is not None:
                raise ConfigError(
                    "cookie_name: a '__Host-' cookie requires cookie_secure=True, "
                    "cookie_path='/' and cookie_domain=None",
                    key="cookie_name",
                )
            secure = True
        elif name.startswith("__Secure-"):
            if secure is False:
                raise ConfigError(
                    "cookie_name: a '__Secure-' cookie requires cookie_secure=True",
                    key="cookie_name",
                )
            secure = True
        url_param = o["url_param"]
        if not isinstance(url_param, str) or not _PARAM_RE.match(url_param):
            raise ConfigError(
                "url_param: expected a non-empty name of letters, digits, '_', "
                f"'.', '-', got {url_param!r}",
                key="url_param",
            )
        environ_key = o["environ_key"]
        if not isinstance(environ_key, str) or not environ_key:
            raise ConfigError(
                f"environ_key: expected a non-empty str, got {environ_key!r}",
                key="environ_key",
            )
        events = o["events"]
        if events is not None and not isinstance(events, SessionEvents):
            raise ConfigError(
                "events: expected an instance of a wsgi_session.SessionEvents "
                f"subclass or None, got {events!r}",
                key="events",
            )
        body_limit = o["url_body_limit"]
        if (
            not isinstance(body_limit, int)
            or isinstance(body_limit, bool)
            or body_limit < 0
        ):
            raise ConfigError(
                f"url_body_limit: expected a number of bytes >= 0, got {body_limit!r}",
                key="url_body_limit",
            )
        lock_timeout = _seconds("lock_timeout", o["lock_timeout"], optional=False)
        assert lock_timeout is not None
        store = o["store"]
        methods = ("get", "set", "add", "delete")
        if not isinstance(store, (str, type(None))) and not all(
            hasattr(store, m) for m in methods
        ):
            raise ConfigError(
                "store: expected a cachelib.BaseCache instance, a store URL "
                f"or None, got {store!r}",
                key="store",
            )
        return cls(
            secret_key=_secret_keys(o["secret_key"]),
            store=store,
            cookie_name=name,
            cookie_path=path,
            cookie_domain=domain,
            cookie_secure=secure,
            cookie_httponly=_bool("cookie_httponly", o["cookie_httponly"]),
            cookie_samesite=samesite,
            cookie_max_age=_seconds("cookie_max_age", o["cookie_max_age"]),
            idle_timeout=_seconds("idle_timeout", o["idle_timeout"]),
            absolute_timeout=_seconds("absolute_timeout", o["absolute_timeout"]),
            tracking=_choice("tracking", o["tracking"], ("auto", "cookie", "url")),
            url_param=url_param,
            environ_key=environ_key,
            serializer=check_serializer(o["serializer"]),
            concurrency=_choice(
                "concurrency", o["concurrency"], ("merge", "lock", "none")
            ),
            rewrite_html=_bool("rewrite_html", o["rewrite_html"]),
            events=events,
            lock_timeout=lock_timeout,
            url_body_limit=body_limit,
        )
