"""Beaker's session configuration, translated into wsgi_session's options.

:func:`translate_beaker_config` takes what ``beaker.middleware.SessionMiddleware``
takes (``config`` and keyword arguments; prefixes ``beaker.session.``,
``session.``, ``session_``; strings coerced as Beaker coerces them) and
returns a :class:`BeakerOptions`: the keyword arguments of
:class:`~wsgi_session.SessionMiddleware` (SPEC §2) and the few facts with
Beaker semantics the drop-in keeps. Beaker itself is never imported.

>>> result = translate_beaker_config(
...     {"session.type": "ext:redis", "session.url": "redis://cache:6379/0",
...      "session.secret": "s3cret", "session.timeout": "600",
...      "session.auto": "true", "debug": "true"},
... )
>>> result.options["store"], result.options["idle_timeout"], result.auto
('redis://cache:6379/0', 600, True)
>>> result.options["cookie_name"]
'beaker.session.id'
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
import re
import types
import typing as t

from ..config import DEFAULTS, combine_errors, validate
from ..errors import ConfigError
from ..inifile import KINDS, coerce_each
from .backends import STORE_KEYS, beaker_store

__all__ = [
    "BEAKER_COOKIE_NAME",
    "NEVER_EXPIRES_MAX_AGE",
    "PREFIXES",
    "BeakerOptions",
    "translate_beaker_config",
]

#: The prefixes that mark a key of ``config`` as a session option.
PREFIXES = ("beaker.session.", "session.", "session_")

#: Beaker's default cookie name, kept by the drop-in.
BEAKER_COOKIE_NAME = "beaker.session.id"

#: ``cookie_expires = false`` ("never": Beaker writes 2038) as a Max-Age:
#: 400 days, the longest lifetime browsers keep a cookie (RFC 6265bis).
NEVER_EXPIRES_MAX_AGE = 400 * 86400

#: Beaker option -> the §2 option it sets (the store options are in STORE_KEYS).
_RENAMED = {
    "key": "cookie_name",
    "secret": "secret_key",
    "timeout": "idle_timeout",
    "cookie_expires": "cookie_max_age",
    "cookie_domain": "cookie_domain",
    "cookie_path": "cookie_path",
    "secure": "cookie_secure",
    "httponly": "cookie_httponly",
    "samesite": "cookie_samesite",
    "data_serializer": "serializer",
}

#: Beaker-only options the drop-in keeps (fields of BeakerOptions).
_KEPT = ("auto", "webtest_varname")

#: Beaker options accepted without effect, and why.
_NO_EFFECT = {
    "lock_dir": "sessions are locked through the store (SPEC §7), not lock files",
    "invalidate_corrupt": "corrupt stored data always starts a fresh session",
    "save_accessed_time": "the access time is always kept",
    "log_file": "Beaker does not read it either",
}

#: Beaker options refused, and why (client-side cookie sessions and
#: session internals that wsgi_session replaces).
_REFUSED = {
    "validate_key": "it signs Beaker's client-side cookie sessions, which keep the "
    "data in the browser; wsgi_session keeps it server-side and signs ids with "
    "secret",
    "encrypt_key": "it encrypts session data for Beaker's client-side cookie "
    "sessions (or at rest); wsgi_session keeps the data server-side and the "
    "browser only holds a signed id",
    "encrypt_nonce_bits": "it only serves encrypt_key, which wsgi_session does not use",
    "crypto_type": "it only serves encrypt_key, which wsgi_session does not use",
    "id": "a fixed session id for every request is not a setting",
    "use_cookies": "the id travels by cookie or URL as tracking= says",
    "session_class": "the session object is the drop-in's",
    "namespace_class": "the store is chosen by type and url",
}

#: Every option name accepted under a prefix: Beaker's and §2's.
_VALID = tuple(sorted({*_RENAMED, *STORE_KEYS, *_KEPT, *_NO_EFFECT, *_REFUSED, *KINDS}))

_DIGITS = re.compile(r"\d+")
_TRUE = ("true", "yes", "on", "y", "t", "1")
_FALSE = ("false", "no", "off", "n", "f", "0")


@dataclasses.dataclass(frozen=True)
class BeakerOptions:
    """What a Beaker configuration means for the drop-in.

    ``options`` are keyword arguments of :class:`~wsgi_session.SessionMiddleware`
    (a read-only mapping; without ``secret`` it has no ``secret_key``).

    >>> opts = translate_beaker_config(key="app.sid", cookie_expires="3600")
    >>> opts.options["cookie_name"], opts.options["cookie_max_age"]
    ('app.sid', 3600)
    >>> opts.unsigned_ids, opts.auto
    (True, False)
    """

    #: §2 keyword arguments.
    options: t.Mapping[str, t.Any]
    #: Beaker's ``auto``: save at the end of every request that changed the
    #: session (False: only after ``save()``).
    auto: bool = False
    #: Beaker's ``cookie_expires`` as a datetime: the fixed date every session
    #: cookie expires at (aware, UTC). ``options["cookie_max_age"]`` holds the
    #: seconds left at translation; the drop-in recomputes it per response.
    cookie_expires_at: dt.datetime | None = None
    #: Beaker's ``webtest_varname``: the name under which the session goes
    #: into ``environ["paste.testing_variables"]``.
    webtest_varname: str | None = None
    #: No ``secret``: ids are sent unsigned (SPEC §12.3); the drop-in warns.
    unsigned_ids: bool = False
    #: Options given that have no effect here (as written, prefix included).
    ignored: tuple[str, ...] = ()


# -- Beaker's coercion of strings (beaker.util.verify_options) ----------------


class _Bad(ValueError):
    """A value Beaker's rules refuse; the message says what is expected."""


def _as_bool(value: t.Any, *, optional: bool = True) -> bool | None:
    if isinstance(value, bool) or (value is None and optional):
        return value
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
        raise _Bad("a boolean: true/false, yes/no, on/off, y/n, t/f or 1/0")
    return bool(value)


def _as_int(value: t.Any) -> int | None:
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    if isinstance(value, str) and _DIGITS.fullmatch(value):
        return int(value)
    raise _Bad("a whole number of seconds (digits only)")


def _as_str(value: t.Any, *, optional: bool = True) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise _Bad("a string")
    if not value.strip():
        raise _Bad("a non-empty string (Beaker refuses empty values)")
    return value


def _as_expires(value: t.Any) -> bool | dt.datetime | dt.timedelta:
    # Beaker tries bool, datetime, timedelta, int in that order: "0" is False.
    if isinstance(value, (bool, dt.datetime, dt.timedelta)):
        return value
    if isinstance(value, str):
        try:
            return t.cast(bool, _as_bool(value, optional=False))
        except _Bad:
            pass
    number = _as_int(value) if value is not None else None
    if number is None or number <= 0:
        raise _Bad(
            "true (a browser-session cookie), false (a persistent cookie), a "
            "positive number of seconds, a timedelta or a datetime"
        )
    return dt.timedelta(seconds=number)


def _as_serializer(value: t.Any) -> t.Any:
    if value == "json":
        return "json"
    if value == "pickle":
        raise _Bad(
            "'json' or an object with dumps() and loads(): wsgi_session never "
            "unpickles stored data (remove the option; stored values become "
            "tagged JSON, SPEC §6)"
        )
    if isinstance(value, str) or not (
        hasattr(value, "dumps") and hasattr(value, "loads")
    ):
        raise _Bad("'json' or an object with dumps() and loads()")
    return value


def _as_samesite(value: t.Any) -> t.Any:
    # Beaker does not coerce it: a false value omits the attribute.
    return value or None


_COERCE: dict[str, t.Callable[[t.Any], t.Any]] = {
    "key": lambda v: _as_str(v, optional=False),
    "secret": _as_str,
    "timeout": _as_int,
    "cookie_expires": _as_expires,
    "cookie_domain": _as_str,
    "cookie_path": _as_str,
    "secure": lambda v: bool(_as_bool(v)),
    "httponly": lambda v: bool(_as_bool(v)),
    "samesite": _as_samesite,
    "data_serializer": _as_serializer,
    "type": _as_str,
    "url": lambda v: v,  # Beaker does not coerce it
    "data_dir": _as_str,
    "lock_dir": _as_str,
    "memcache_module": _as_str,
    "table_name": _as_str,
    "schema_name": _as_str,
    "auto": lambda v: bool(_as_bool(v)),
    "save_accessed_time": _as_bool,
    "invalidate_corrupt": _as_bool,
    "webtest_varname": _as_str,
}


# -- collecting the session options -------------------------------------------


def _strip_prefix(key: str) -> tuple[str, str] | None:
    for prefix in PREFIXES:
        if key.startswith(prefix):
            return prefix, key[len(prefix) :]
    return None


def _collect(
    config: t.Mapping[str, t.Any], kwargs: t.Mapping[str, t.Any]
) -> dict[str, tuple[str, t.Any]]:
    """Option name -> (key as written, value); keyword arguments win."""
    found: dict[str, tuple[str, t.Any]] = {}
    for source, unprefixed in ((config, False), (kwargs, True)):
        for key, value in source.items():
            if not isinstance(key, str):
                continue
            split = _strip_prefix(key)
            if split is not None:
                found[split[1]] = (key, value)
            elif unprefixed:
                found[key] = (key, value)
    return found


def _unknown(written: str, name: str) -> ConfigError:
    prefix = written[: len(written) - len(name)]
    match = difflib.get_close_matches(name.lower(), _VALID, n=1)
    hint = f"; did you mean {prefix + match[0]!r}?" if match else ""
    return ConfigError(f"{written}: unknown Beaker session option{hint}", key=written)


def _expiry(
    value: bool | dt.datetime | dt.timedelta, written: str
) -> tuple[int | None, dt.datetime | None]:
    """(cookie_max_age, cookie_expires_at) for Beaker's cookie_expires."""
    if value is True:
        return None, None
    if value is False:
        return NEVER_EXPIRES_MAX_AGE, None
    if isinstance(value, dt.timedelta):
        seconds = int(value.total_seconds())
        if seconds <= 0:
            raise _Bad("a positive duration (a cookie that expires at once is dropped)")
        return seconds, None
    # Beaker writes a naive datetime into the Expires attribute as GMT.
    at = value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
    at = at.astimezone(dt.timezone.utc)
    left = int((at - dt.datetime.now(dt.timezone.utc)).total_seconds())
    if left <= 0:
        raise _Bad(f"a date in the future ({written} is {at.isoformat()})")
    return left, at


def _conflicts(found: t.Mapping[str, tuple[str, t.Any]]) -> list[ConfigError]:
    """Errors for a Beaker option and the §2 option it sets, both given."""
    pairs = [(b, ours) for b, ours in _RENAMED.items() if b != ours]
    pairs += [(b, "store") for b in ("type", "url", "data_dir", "bind")]
    return [
        ConfigError(
            f"{found[b][0]} and {found[ours][0]} both set {ours}: keep one",
            key=found[b][0],
        )
        for b, ours in pairs
        if b in found and ours in found
    ]


def translate_beaker_config(
    config: t.Mapping[str, t.Any] | None = None, **kwargs: t.Any
) -> BeakerOptions:
    """Translate Beaker's session configuration into :class:`BeakerOptions`.

    ``config`` may be a whole application configuration: only its keys with
    a prefix of :data:`PREFIXES` are read. Keyword arguments are session
    options with or without a prefix, and win over ``config``. §2's own
    names are accepted too (coerced as in ini files, SPEC §8). Every mistake
    (an unknown option under a prefix, a value Beaker would refuse, an option
    of Beaker's cookie sessions) is reported in one
    :class:`~wsgi_session.ConfigError`, one line each.

    Defaults: Beaker's cookie name and cookie tracking (as Beaker: no URL
    tracking, no probe cookie, until ``tracking`` says so); otherwise
    wsgi_session's own defaults (``Secure`` on HTTPS, ``HttpOnly``). Beaker
    has no server-side limit without ``timeout``: the idle limit is then the
    cookie's lifetime when ``cookie_expires`` gives one, else the default 30
    minutes; an explicit ``timeout=None`` means no limit.

    >>> try:
    ...     translate_beaker_config({"session.tyep": "file"})
    ... except ConfigError as exc:
    ...     print(exc)
    session.tyep: unknown Beaker session option; did you mean 'session.type'?
    >>> never = translate_beaker_config(secret="k", cookie_expires=False)
    >>> never.options["cookie_max_age"] // 86400
    400
    """
    found = _collect(config or {}, kwargs)
    errors: list[ConfigError] = _conflicts(found)
    beaker: dict[str, t.Any] = {}
    ours: dict[str, t.Any] = {}
    origin: dict[str, str] = {}
    ignored: list[str] = []
    for name, (written, value) in found.items():
        if name in _REFUSED:
            if value is not None:
                errors.append(
                    ConfigError(
                        f"{written}: not supported: {_REFUSED[name]}", key=written
                    )
                )
        elif name in _COERCE:
            try:
                beaker[name] = _COERCE[name](value)
            except _Bad as exc:
                errors.append(
                    ConfigError(
                        f"{written}: expected {exc}, got {value!r}", key=written
                    )
                )
        elif name in ("bind", "table", "sa_opts"):
            beaker[name] = value
        elif name in KINDS:
            ours[name] = value
        elif name.startswith("sa."):
            ignored.append(written)  # Beaker's session passes them to nobody
        else:
            errors.append(_unknown(written, name))
        if name in _NO_EFFECT:
            ignored.append(written)

    if beaker.get("timeout") is not None and beaker.get("save_accessed_time") is False:
        errors.append(
            ConfigError(
                f"{found['save_accessed_time'][0]}: must be true to use timeout "
                "(as in Beaker)",
                key=found["save_accessed_time"][0],
            )
        )

    # Beaker's cookie name; cookie tracking only (Beaker has no URL tracking
    # and sends no probe cookie): ``tracking`` switches URL tracking on.
    options: dict[str, t.Any] = {
        "cookie_name": BEAKER_COOKIE_NAME,
        "tracking": "cookie",
    }
    for name, target in _RENAMED.items():
        if name in beaker and name != "cookie_expires":
            options[target] = beaker[name]
            origin[target] = found[name][0]
    expires_at = None
    if "cookie_expires" in beaker:
        written = found["cookie_expires"][0]
        try:
            max_age, expires_at = _expiry(beaker["cookie_expires"], written)
        except _Bad as exc:
            errors.append(ConfigError(f"{written}: expected {exc}", key=written))
        else:
            options["cookie_max_age"] = max_age
            origin["cookie_max_age"] = written
    if "timeout" not in found and "idle_timeout" not in ours:
        options["idle_timeout"] = (
            options.get("cookie_max_age") or DEFAULTS["idle_timeout"]
        )
    if options.get("secret_key") is None:
        options.pop("secret_key", None)

    if any(key in found for key in STORE_KEYS):
        choice = beaker_store({k: beaker[k] for k in STORE_KEYS if k in beaker})
        errors += [_renamed_error(exc, found) for exc in choice.errors]
        ignored += [found[key][0] for key in choice.ignored]
        if choice.store is not None:
            options["store"] = choice.store
            first = next(k for k in ("type", "url", "data_dir", "bind") if k in found)
            origin["store"] = found[first][0]

    coerced = coerce_each(ours, source="the Beaker configuration")
    errors += coerced.errors
    options.update(coerced.values)
    for name in ours:
        origin[name] = found[name][0]

    failed = {t.cast(str, e.key) for e in errors}
    skip = {n for n, w in origin.items() if w in failed} | set(coerced.failed)
    skip.add("store")  # a URL is checked above; opening it here would connect
    unsigned = "secret_key" not in options
    if unsigned:
        skip.add("secret_key")
    for mistake in validate(options, skip=skip)[1]:
        where = origin.get(t.cast(str, mistake.key))
        message = f"{mistake} (from {where})" if where else str(mistake)
        errors.append(ConfigError(message, key=where or mistake.key))
    if errors:
        raise combine_errors(errors)
    return BeakerOptions(
        options=types.MappingProxyType(options),
        auto=bool(beaker.get("auto", False)),
        cookie_expires_at=expires_at,
        webtest_varname=beaker.get("webtest_varname"),
        unsigned_ids=unsigned,
        ignored=tuple(ignored),
    )


def _renamed_error(
    exc: ConfigError, found: t.Mapping[str, tuple[str, t.Any]]
) -> ConfigError:
    """A backend error, with the option named as the user wrote it."""
    name = t.cast(str, exc.key)
    written = found.get(name, (name, None))[0]
    if written == name:
        return exc
    return ConfigError(written + str(exc)[len(name) :], key=written)
