"""Django's settings as wsgi_session's options (SPEC §12.1, "Settings").

``WSGI_SESSION = {...}`` in ``settings.py`` takes §2's names (or
``{"ini": path, "section": ...}`` to read an ini file, SPEC §8). Options it
leaves unset default to Django's own session settings, as Flask's replace
mode does with Flask's: :func:`options_from_django` reads any object with
attributes (``django.conf.settings``, a plain namespace) and does not import
Django.

>>> from types import SimpleNamespace
>>> conf = options_from_django(SimpleNamespace(
...     SECRET_KEY="new", SECRET_KEY_FALLBACKS=["old"],
...     WSGI_SESSION={"store": "redis://cache:6379/0"},
... ))
>>> conf.options["secret_key"], conf.options["store"], conf.options["cookie_name"]
(['old', 'new'], 'redis://cache:6379/0', 'sessionid')
>>> conf.save_every_request
False
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing as t

from ..config import DEFAULTS, combine_errors, validate
from ..errors import ConfigError
from ..inifile import load_config

__all__ = [
    "DJANGO_DEFAULTS",
    "SETTING",
    "USER_KEY_PRESET",
    "DjangoSessionConfig",
    "options_from_django",
]

#: The Django setting that holds wsgi_session's options.
SETTING = "WSGI_SESSION"

#: The ``user_key`` Django's drop-in presets (SPEC §12.1, §13.1):
#: ``django.contrib.auth``'s session key.
USER_KEY_PRESET = "_auth_user_id"

#: The Django settings read, with Django's own default for each
#: (``django/conf/global_settings.py``), used when the object lacks one.
DJANGO_DEFAULTS: dict[str, t.Any] = {
    "SECRET_KEY": "",
    "SECRET_KEY_FALLBACKS": [],
    "SESSION_COOKIE_NAME": "sessionid",
    "SESSION_COOKIE_AGE": 60 * 60 * 24 * 7 * 2,
    "SESSION_COOKIE_DOMAIN": None,
    "SESSION_COOKIE_PATH": "/",
    "SESSION_COOKIE_SECURE": False,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "SESSION_EXPIRE_AT_BROWSER_CLOSE": False,
    "SESSION_SAVE_EVERY_REQUEST": False,
}

_INI_KEYS = ("ini", "section")


@dataclasses.dataclass(frozen=True)
class DjangoSessionConfig:
    """What a Django settings object means for the drop-in.

    >>> from types import SimpleNamespace
    >>> conf = options_from_django(SimpleNamespace(
    ...     SECRET_KEY="k", SESSION_EXPIRE_AT_BROWSER_CLOSE=True,
    ...     SESSION_SAVE_EVERY_REQUEST=True,
    ... ))
    >>> conf.options["cookie_max_age"], conf.save_every_request
    (None, True)
    """

    #: §2 keyword arguments (read-only).
    options: t.Mapping[str, t.Any]
    #: ``SESSION_SAVE_EVERY_REQUEST``: save (and resend the cookie) on every
    #: request, as Django's middleware does, not only when the session changed.
    save_every_request: bool = False


def _read(settings: t.Any, name: str) -> t.Any:
    return getattr(settings, name, DJANGO_DEFAULTS[name])


def _from_django(settings: t.Any) -> tuple[dict[str, t.Any], dict[str, str]]:
    """Options from Django's session settings, and the setting behind each."""
    options: dict[str, t.Any] = {}
    origin: dict[str, str] = {}

    def put(option: str, value: t.Any, *names: str) -> None:
        options[option] = value
        origin[option] = " / ".join(names)

    key = _read(settings, "SECRET_KEY")
    if key:
        fallbacks = list(_read(settings, "SECRET_KEY_FALLBACKS") or ())
        put("secret_key", [*fallbacks, key], "SECRET_KEY_FALLBACKS", "SECRET_KEY")
    put("cookie_name", _read(settings, "SESSION_COOKIE_NAME"), "SESSION_COOKIE_NAME")
    for option, name in (
        ("cookie_domain", "SESSION_COOKIE_DOMAIN"),
        ("cookie_path", "SESSION_COOKIE_PATH"),
        ("cookie_httponly", "SESSION_COOKIE_HTTPONLY"),
    ):
        put(option, _read(settings, name), name)
    # As in Flask's replace mode: False means Secure on HTTPS requests.
    secure = _read(settings, "SESSION_COOKIE_SECURE")
    put("cookie_secure", True if secure is True else "auto", "SESSION_COOKIE_SECURE")
    # Django omits the attribute for a false SESSION_COOKIE_SAMESITE.
    samesite = _read(settings, "SESSION_COOKIE_SAMESITE")
    put("cookie_samesite", samesite or None, "SESSION_COOKIE_SAMESITE")
    # Django ends a session SESSION_COOKIE_AGE after its last save, whether
    # or not the cookie outlives the browser: that is our idle limit.
    age = _read(settings, "SESSION_COOKIE_AGE")
    put("idle_timeout", age, "SESSION_COOKIE_AGE")
    if _read(settings, "SESSION_EXPIRE_AT_BROWSER_CLOSE"):
        put("cookie_max_age", None, "SESSION_EXPIRE_AT_BROWSER_CLOSE")
    else:
        put("cookie_max_age", age, "SESSION_COOKIE_AGE")
    return options, origin


def _explicit(value: t.Any) -> tuple[dict[str, t.Any], list[ConfigError]]:
    """The options of ``WSGI_SESSION`` (read from its ini file if it names one)."""
    if value is None:
        return {}, []
    if not isinstance(value, t.Mapping):
        message = f"{SETTING}: expected a dict of options, got {type(value).__name__}"
        return {}, [ConfigError(message, key=SETTING)]
    if "ini" in value:
        extra = [key for key in value if key not in _INI_KEYS]
        if extra:
            message = (
                f"{SETTING}: with 'ini', only 'section' may be given (put "
                f"{', '.join(map(repr, extra))} in the ini file)"
            )
            return {}, [ConfigError(message, key=SETTING)]
        return load_config(value["ini"], value.get("section", "wsgi_session")), []
    errors = []
    for key in value:
        if key not in DEFAULTS:
            match = difflib.get_close_matches(str(key), list(DEFAULTS), n=1)
            hint = f"; did you mean {match[0]!r}?" if match else ""
            errors.append(
                ConfigError(f"{SETTING}[{key!r}]: unknown setting{hint}", key=SETTING)
            )
    return {k: v for k, v in value.items() if k in DEFAULTS}, errors


def options_from_django(settings: t.Any) -> DjangoSessionConfig:
    """Build the drop-in's options from a Django settings object.

    ``WSGI_SESSION`` wins; every option it leaves unset comes from Django's
    settings: ``secret_key`` from ``SECRET_KEY_FALLBACKS`` + ``SECRET_KEY``
    (newest last), the cookie's name and attributes from
    ``SESSION_COOKIE_NAME`` / ``_DOMAIN`` / ``_PATH`` / ``_SECURE`` (False
    means Secure on HTTPS requests) / ``_HTTPONLY`` / ``_SAMESITE``,
    ``idle_timeout`` from ``SESSION_COOKIE_AGE`` (Django ends sessions that
    long after their last save), ``cookie_max_age`` too unless
    ``SESSION_EXPIRE_AT_BROWSER_CLOSE``. Values of ``WSGI_SESSION`` are taken
    as Python values (as keyword arguments are); an ini file's are coerced
    (SPEC §8). Every mistake comes in one
    :class:`~wsgi_session.ConfigError`, one line each, naming the Django
    setting behind it.

    >>> from types import SimpleNamespace
    >>> try:
    ...     options_from_django(SimpleNamespace(SECRET_KEY="k",
    ...         SESSION_COOKIE_SAMESITE="Loose", WSGI_SESSION={"idle_timout": 60}))
    ... except ConfigError as exc:
    ...     print(exc)  # doctest: +ELLIPSIS
    WSGI_SESSION['idle_timout']: unknown setting; did you mean 'idle_timeout'?
    cookie_samesite: expected one of ..., got 'Loose' (from SESSION_COOKIE_SAMESITE)
    """
    options, origin = _from_django(settings)
    explicit, errors = _explicit(getattr(settings, SETTING, None))
    options.update(explicit)
    for option in explicit:
        origin[option] = f"{SETTING}[{option!r}]"
    for mistake in validate(options)[1]:
        where = origin.get(t.cast(str, mistake.key))
        message = f"{mistake} (from {where})" if where else str(mistake)
        errors.append(ConfigError(message, key=mistake.key))
    if errors:
        raise combine_errors(errors)
    return DjangoSessionConfig(
        options=types.MappingProxyType(options),
        save_every_request=bool(_read(settings, "SESSION_SAVE_EVERY_REQUEST")),
    )
