"""The settings of the middleware: one table, and the frozen object built from it.

:data:`SETTINGS` lists every setting once, in the order of the
:class:`~wsgi_session.SessionMiddleware` signature: its name, default, the
form it takes in ini files (a *kind*, which :mod:`wsgi_session.inifile` turns
into a coercer), its validator and the facts the configuration reference
shows. :data:`DEFAULTS`, :class:`Settings`, ini coercion and the reference
page (docs/configuration.rst, through a Sphinx extension in docs/) are all
derived from it; adding a setting is one entry here plus a field of
:class:`Settings` (kept in step by a check at import).

Every mistake is a :class:`~wsgi_session.ConfigError` naming the argument and
the accepted values, raised at construction; all the mistakes of one call are
reported together, one line each.

>>> s = Settings.build(secret_key="s3cret", idle_timeout="15m")
Traceback (most recent call last):
...
wsgi_session.errors.ConfigError: idle_timeout: expected a number of seconds, ...
>>> Settings.build(secret_key="s3cret").idle_timeout
1800
"""

from __future__ import annotations

import dataclasses
import typing as t

from . import checks
from .checks import Check
from .errors import ConfigError
from .events import SessionEvents
from .serializers import Serializer

__all__ = [
    "DEFAULTS",
    "SETTINGS",
    "Kind",
    "Setting",
    "Settings",
    "combine_errors",
    "validate",
]

#: The string forms of ini files (see :data:`wsgi_session.inifile.COERCERS`).
Kind = t.Literal[
    "text",
    "path_prefixes",
    "optional_text",
    "boolean",
    "boolean_or_auto",
    "duration",
    "optional_duration",
    "byte_size",
    "secret_keys",
    "samesite",
    "serializer",
    "events",
]


class Setting(t.NamedTuple):
    """One setting: its name, default, ini form, validator and reference facts.

    ``type_doc``, ``default_doc`` and ``ini_doc`` are reStructuredText for the
    ``:Type:``, ``:Default:`` (after the default's repr) and ``:In ini files:``
    fields of the configuration reference; ``summary`` is its one-line gist.

    >>> SETTINGS[0].name, SETTINGS[0].kind
    ('secret_key', 'secret_keys')
    >>> SETTINGS[0].check("secret_key", "k")
    ('k',)
    """

    name: str
    default: t.Any
    kind: Kind
    check: Check
    type_doc: str
    default_doc: str
    ini_doc: str
    summary: str


_DURATION = "``int`` seconds | ``timedelta``"

#: Every setting, in the order of the middleware signature.
SETTINGS: tuple[Setting, ...] = (
    Setting(
        "secret_key", None, "secret_keys", checks.secret_keys,
        "``str`` | ``bytes`` | a list or tuple of them",
        "required: building the middleware without a non-empty key is a "
        ":class:`~wsgi_session.ConfigError`",
        "one key, or several: one per line, or comma-separated",
        "the keys that sign the session id, newest last",
    ),
    Setting(
        "store", None, "optional_text", checks.store,
        "a store URL (``str``) | a ``cachelib.BaseCache`` instance"
        " | a SQLAlchemy ``Engine`` | ``None``",
        "the in-process ``memory://`` store",
        "a store URL; ``None`` or empty for ``memory://``",
        "where the session data lives",
    ),
    Setting(
        "cookie_name", "session", "text", checks.cookie_name,
        "``str`` (a cookie token)", "", "the name",
        "name of the session cookie",
    ),
    Setting(
        "cookie_path", "/", "text", checks.cookie_path,
        "``str`` starting with ``/``", "", "the path",
        "``Path`` attribute of the cookie",
    ),
    Setting(
        "cookie_domain", None, "optional_text", checks.cookie_domain,
        "``str`` | ``None``", "a host-only cookie",
        "the domain; ``None`` or empty for a host-only cookie",
        "``Domain`` attribute of the cookie",
    ),
    Setting(
        "cookie_secure", "auto", "boolean_or_auto", checks.one_of(True, False, "auto"),
        "``True`` | ``False`` | ``'auto'``", "", "``auto`` or a boolean",
        "``Secure`` attribute; ``'auto'``: on HTTPS requests",
    ),
    Setting(
        "cookie_httponly", True, "boolean", checks.bool_value,
        "``bool``", "", "a boolean",
        "``HttpOnly`` attribute of the cookie",
    ),
    Setting(
        "cookie_samesite", "Lax", "samesite", checks.samesite,
        "``'Strict'`` | ``'Lax'`` | ``'None'`` | ``None`` (any case)", "",
        "``Strict``, ``Lax``, ``None`` (the attribute value ``SameSite=None``) "
        "— or an empty value to omit the attribute",
        "``SameSite`` attribute of the cookie",
    ),
    Setting(
        "cookie_max_age", None, "optional_duration", checks.seconds,
        f"{_DURATION} | ``None``",
        "a browser-session cookie, gone when the browser closes",
        "a duration; ``None`` or empty for a browser-session cookie",
        "makes the cookie persistent (“remember me”)",
    ),
    Setting(
        "idle_timeout", 1800, "optional_duration", checks.seconds,
        f"{_DURATION} | ``None``", "(30 minutes)",
        "a duration; ``None`` or empty for no idle limit",
        "a session unused for this long is over",
    ),
    Setting(
        "absolute_timeout", None, "optional_duration", checks.seconds,
        f"{_DURATION} | ``None``", "no limit",
        "a duration; ``None`` or empty for no limit",
        "maximum age of a session, however active",
    ),
    Setting(
        "tracking", "auto", "text", checks.one_of("auto", "cookie", "url"),
        "``'auto'`` | ``'cookie'`` | ``'url'``", "",
        "``auto``, ``cookie`` or ``url``",
        "how the id travels: cookie, URL, or chosen per client",
    ),
    Setting(
        "url_param", "sid", "text", checks.url_param,
        "``str`` (letters, digits, ``_``, ``.``, ``-``)", "", "the name",
        "query parameter and form field of the id in URL mode",
    ),
    Setting(
        "environ_key", "wsgi_session", "text", checks.nonempty_str,
        "``str``", "", "the key",
        "environ key under which the application finds the session",
    ),
    Setting(
        "serializer", "json", "serializer", checks.serializer,
        "``'json'`` | an object with ``dumps(obj) -> bytes`` and "
        "``loads(bytes) -> obj``", "",
        "``json``, or an import path such as "
        "``wsgi_session.serializers:PickleSerializer``",
        "how session values become bytes",
    ),
    Setting(
        "concurrency", "merge", "text", checks.one_of("merge", "lock", "none"),
        "``'merge'`` | ``'lock'`` | ``'none'``", "",
        "``merge``, ``lock`` or ``none``",
        "what happens when two requests of one session run at once",
    ),
    Setting(
        "rewrite_html", False, "boolean", checks.bool_value,
        "``bool``", "", "a boolean",
        "rewrite links and forms of HTML responses in URL mode",
    ),
    Setting(
        "events", None, "events", checks.events,
        "an instance of a :class:`~wsgi_session.SessionEvents` subclass | ``None``",
        "",
        "the import path of a ``SessionEvents`` subclass (instantiated without "
        "arguments) or instance; ``None`` or empty for none",
        "lifecycle hooks",
    ),
    Setting(
        "user_key", None, "optional_text", checks.optional_nonempty_str,
        "``str`` | ``None``", "(no user binding)",
        "the key; ``None`` or empty for none",
        "the session key that names the signed-in user (binding, index)",
    ),
    Setting(
        "csrf", "off", "text", checks.one_of("off", "check"),
        "``'off'`` | ``'check'``", "",
        "``off`` or ``check``",
        "refuse unsafe requests without a valid CSRF token (403)",
    ),
    Setting(
        "csrf_exempt", (), "path_prefixes", checks.path_prefixes,
        "iterable of ``str`` path prefixes", "(none)",
        "prefixes, one per line or comma-separated",
        "``PATH_INFO`` prefixes the CSRF check skips",
    ),
    Setting(
        "lock_timeout", 10, "duration", checks.required_seconds,
        _DURATION, "", "a duration (required: ``None`` is refused)",
        "how long a request waits for the session lock",
    ),
    Setting(
        "url_body_limit", 1024 * 1024, "byte_size", checks.byte_count,
        "``int`` bytes (``>= 0``)", "(1 MiB)",
        "a size: ``1048576``, ``512KiB``, ``1MiB``",
        "largest POST body inspected for an id field",
    ),
)  # fmt: skip

#: The default value of every setting, by name (the middleware signature).
DEFAULTS: dict[str, t.Any] = {s.name: s.default for s in SETTINGS}


# -- validation ---------------------------------------------------------------


def _check_together(values: dict[str, t.Any]) -> list[ConfigError]:
    """The rules that involve several settings, over those found valid."""
    errors = []
    secure = values.get("cookie_secure")
    if secure is False and values.get("cookie_samesite") == "None":
        errors.append(
            ConfigError(
                "cookie_samesite: 'None' requires cookie_secure=True or 'auto' "
                "(browsers drop SameSite=None cookies without Secure)",
                key="cookie_samesite",
            )
        )
    names = ("cookie_name", "cookie_secure", "cookie_path", "cookie_domain")
    if not all(n in values for n in names):
        return errors
    name = values["cookie_name"]
    if name.startswith("__Host-"):
        if secure is False or values["cookie_path"] != "/" or values["cookie_domain"]:
            errors.append(
                ConfigError(
                    "cookie_name: a '__Host-' cookie requires cookie_secure=True, "
                    "cookie_path='/' and cookie_domain=None",
                    key="cookie_name",
                )
            )
        values["cookie_secure"] = True
    elif name.startswith("__Secure-"):
        if secure is False:
            errors.append(
                ConfigError(
                    "cookie_name: a '__Secure-' cookie requires cookie_secure=True",
                    key="cookie_name",
                )
            )
        values["cookie_secure"] = True
    return errors


def validate(
    options: t.Mapping[str, t.Any], *, skip: t.Collection[str] = ()
) -> tuple[dict[str, t.Any], list[ConfigError]]:
    """Check keyword options; return the values to use and every mistake found.

    Missing settings take their default. Settings named in ``skip`` (already
    reported as wrong by the caller) are neither checked nor returned, nor
    are the rules that involve them. Mistakes come in this order: unknown
    names, then each setting in table order, then rules across settings.

    >>> values, errors = validate({"secret_key": "k", "tracking": "sometimes"})
    >>> values["secret_key"], [str(e) for e in errors]
    (('k',), ["tracking: expected one of 'auto', 'cookie', 'url', got 'sometimes'"])
    """
    errors = [
        ConfigError(f"{key}: unknown setting", key=key)
        for key in options
        if key not in DEFAULTS
    ]
    values: dict[str, t.Any] = {}
    for setting in SETTINGS:
        name = setting.name
        if name in skip:
            continue
        try:
            values[name] = setting.check(name, options.get(name, setting.default))
        except ConfigError as exc:
            errors.append(exc)
    errors += _check_together(values)
    return values, errors


def combine_errors(errors: t.Sequence[ConfigError]) -> ConfigError:
    """One ConfigError for several: one line each; ``key`` is the first one's.

    A single error is returned unchanged.

    >>> both = combine_errors([ConfigError("a: bad", key="a"), ConfigError("b: bad")])
    >>> print(both)
    a: bad
    b: bad
    >>> both.key
    'a'
    """
    if len(errors) == 1:
        return errors[0]
    return ConfigError("\n".join(str(e) for e in errors), key=errors[0].key)


@dataclasses.dataclass(frozen=True)
class Settings:
    """The validated settings of one middleware (see :meth:`build`).

    Durations are whole seconds; ``cookie_samesite`` is normalised to
    ``"Strict"``, ``"Lax"``, ``"None"`` or None. The fields are the names of
    :data:`SETTINGS`, in its order.

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
    user_key: str | None
    csrf: str
    csrf_exempt: tuple[str, ...]
    lock_timeout: int
    url_body_limit: int

    @classmethod
    def build(cls, **options: t.Any) -> Settings:
        """Validate keyword options (missing ones take :data:`DEFAULTS`).

        Every mistake is reported, one line each, in one ConfigError.

        >>> Settings.build(secret_key="k", colour="blue")
        Traceback (most recent call last):
        ...
        wsgi_session.errors.ConfigError: colour: unknown setting
        """
        values, errors = validate(options)
        if errors:
            raise combine_errors(errors)
        return cls(**values)


if tuple(f.name for f in dataclasses.fields(Settings)) != tuple(DEFAULTS):
    raise AssertionError("Settings fields and SETTINGS are out of step")
