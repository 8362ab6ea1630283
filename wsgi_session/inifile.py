"""Turn strings from ini files, PasteDeploy and mappings into typed settings.

Configuration files only hold strings; :func:`coerce_mapping` turns them into
the values :class:`~wsgi_session.SessionMiddleware` takes (booleans, durations
in seconds, lists of secret keys, imported serializer and events objects),
substitutes ``${NAME}`` from the environment, and reports every mistake as a
:class:`~wsgi_session.ConfigError` that names the setting, the value, the file
and the section; all the mistakes of a mapping or section come in one error,
one line each. :func:`load_config` reads one section of an ini file. Which
coercer a setting takes is given by its kind in
:data:`wsgi_session.config.SETTINGS`.

>>> coerce_mapping(
...     {"secret_key": "old, new", "idle_timeout": "15m", "rewrite_html": "yes"},
...     source="app.ini",
...     section="wsgi_session",
... )
{'secret_key': ['old', 'new'], 'idle_timeout': 900, 'rewrite_html': True}
>>> try:
...     coerce_mapping({"secret_key": "k", "idle_timout": "15m"}, source="app.ini")
... except ConfigError as exc:
...     print(exc)
unknown setting 'idle_timout' in app.ini; did you mean 'idle_timeout'?
"""

from __future__ import annotations

import configparser
import difflib
import importlib
import os
import re
import typing as t

from .config import SETTINGS, combine_errors, validate
from .errors import ConfigError

__all__ = [
    "COERCERS",
    "KINDS",
    "Coerced",
    "coerce_each",
    "coerce_mapping",
    "load_config",
    "resolve_layers",
]

Coercer = t.Callable[[str], t.Any]


class _BadValue(ValueError):
    """A string that a coercer cannot turn into its setting's type."""

    def __init__(self, expected: str, detail: str | None = None) -> None:
        super().__init__(expected)
        self.expected = expected
        self.detail = detail


# -- the coercers: one per kind of setting ------------------------------------

_TRUE = ("true", "yes", "on", "1")
_FALSE = ("false", "no", "off", "0")
_BOOLEAN_USAGE = "a boolean: true/false, yes/no, on/off or 1/0"
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION_RE = re.compile(r"(\d+)\s*([smhd]?)", re.IGNORECASE)
_DURATION_USAGE = "a number of seconds or a duration like 90, 30s, 15m, 8h or 7d"
_UNIT_BYTES = {"": 1, "b": 1, "kib": 1024, "mib": 1024**2, "gib": 1024**3}
_SIZE_RE = re.compile(r"(\d+)\s*(b|kib|mib|gib)?", re.IGNORECASE)
_SIZE_USAGE = "a number of bytes, optionally with a unit B, KiB, MiB or GiB (1MiB)"
_IMPORT_PATH_RE = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*(:[A-Za-z_]\w*(\.\w+)*)?")


def _is_unset(value: str) -> bool:
    """``None`` (any case) and the empty value both mean "not set"."""
    return value.strip().lower() in ("", "none")


def _text(value: str) -> str:
    return value.strip()


def _optional_text(value: str) -> str | None:
    return None if _is_unset(value) else value.strip()


def _boolean(value: str) -> bool:
    word = value.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise _BadValue(_BOOLEAN_USAGE)


def _boolean_or_auto(value: str) -> bool | str:
    if value.strip().lower() == "auto":
        return "auto"
    try:
        return _boolean(value)
    except _BadValue:
        raise _BadValue(f"'auto' or {_BOOLEAN_USAGE}") from None


def _duration(value: str) -> int:
    match = _DURATION_RE.fullmatch(value.strip())
    if match is None:
        raise _BadValue(_DURATION_USAGE)
    return int(match[1]) * _UNIT_SECONDS[match[2].lower()]


def _optional_duration(value: str) -> int | None:
    if _is_unset(value):
        return None
    try:
        return _duration(value)
    except _BadValue:
        raise _BadValue(f"{_DURATION_USAGE}, or None or empty for no limit") from None


def _byte_size(value: str) -> int:
    match = _SIZE_RE.fullmatch(value.strip())
    if match is None:
        raise _BadValue(_SIZE_USAGE)
    return int(match[1]) * _UNIT_BYTES[(match[2] or "").lower()]


def _secret_keys(value: str) -> str | list[str] | None:
    # Several lines: one key per line (a key may then contain commas).
    # One line: comma-separated. Blank entries are dropped; newest key last.
    text = value.strip()
    parts = text.splitlines() if "\n" in text else text.split(",")
    keys = [part.strip() for part in parts if part.strip()]
    if not keys or (len(keys) == 1 and keys[0].lower() == "none"):
        return None  # Settings.build explains that a key is required
    return keys[0] if len(keys) == 1 else keys


def _path_prefixes(value: str) -> tuple[str, ...]:
    # One per line or comma-separated; blank entries are dropped.
    text = value.strip()
    parts = text.splitlines() if "\n" in text else text.split(",")
    return tuple(part.strip() for part in parts if part.strip())


def _samesite(value: str) -> str | None:
    # An empty value omits the attribute; "None" is the attribute value
    # SameSite=None (Settings.build normalises and checks the spelling).
    return value.strip() or None


def _import(value: str) -> t.Any:
    """Import ``package.module:attr`` or ``package.module.attr``."""
    path = value.strip()
    if not _IMPORT_PATH_RE.fullmatch(path) or ("." not in path and ":" not in path):
        raise _BadValue("an import path like 'package.module:name'")
    if ":" in path:
        module_name, _, attr_path = path.partition(":")
    else:
        module_name, _, attr_path = path.rpartition(".")
    try:
        obj: t.Any = importlib.import_module(module_name)
        for attr in attr_path.split("."):
            obj = getattr(obj, attr)
    except Exception as exc:  # the imported module is the user's code
        raise _BadValue(
            "an import path like 'package.module:name'",
            f"cannot import it: {type(exc).__name__}: {exc}",
        ) from exc
    if isinstance(obj, type):
        try:
            return obj()
        except Exception as exc:
            raise _BadValue(
                "an import path of an object or of a class that takes no arguments",
                f"{obj.__qualname__}() failed: {type(exc).__name__}: {exc}",
            ) from exc
    return obj


def _serializer(value: str) -> t.Any:
    # "pickle" goes through unchanged: Settings.build explains why it is refused.
    if value.strip() in ("json", "pickle"):
        return value.strip()
    try:
        return _import(value)
    except _BadValue as exc:
        raise _BadValue(f"'json' or {exc.expected}", exc.detail) from exc


def _events(value: str) -> t.Any:
    if _is_unset(value):
        return None
    try:
        return _import(value)
    except _BadValue as exc:
        raise _BadValue(
            f"{exc.expected} of a SessionEvents subclass, or None or empty",
            exc.detail,
        ) from exc


#: How a string of each kind (:data:`wsgi_session.config.Kind`) becomes a value.
COERCERS: dict[str, Coercer] = {
    "text": _text,
    "optional_text": _optional_text,
    "boolean": _boolean,
    "boolean_or_auto": _boolean_or_auto,
    "duration": _duration,
    "optional_duration": _optional_duration,
    "byte_size": _byte_size,
    "secret_keys": _secret_keys,
    "path_prefixes": _path_prefixes,
    "samesite": _samesite,
    "serializer": _serializer,
    "events": _events,
}

#: The coercer of every setting, by name, from the kind given in
#: :data:`~wsgi_session.config.SETTINGS`.
KINDS: dict[str, Coercer] = {s.name: COERCERS[s.kind] for s in SETTINGS}


# -- ${NAME} substitution -----------------------------------------------------

_VARIABLE_RE = re.compile(r"\$(?:(\$)|\{([A-Za-z_][A-Za-z0-9_]*)\}|(\{[^}]*\}?))")


def _substitute(key: str, value: str, where: str) -> str:
    """Replace ``${NAME}`` by the environment variable NAME; ``$$`` is ``$``."""

    def replace(match: re.Match[str]) -> str:
        if match[1]:
            return "$"
        name = match[2]
        if name is None:
            raise ConfigError(
                f"{key}: malformed variable reference '${match[3]}' in {where}; "
                "write ${NAME} with NAME made of letters, digits and '_', "
                "or $$ for a literal '$'",
                key=key,
            )
        if name not in os.environ:
            raise ConfigError(
                f"{key}: environment variable {name!r} is not set "
                f"(referenced as ${{{name}}} in {where})",
                key=key,
            )
        return os.environ[name]

    return _VARIABLE_RE.sub(replace, value)


# -- the public functions -----------------------------------------------------


def _location(source: str, section: str | None) -> str:
    return f"[{section}] of {source}" if section else source


def _unknown(key: object, where: str) -> ConfigError:
    name = key if isinstance(key, str) else repr(key)
    match = difflib.get_close_matches(name.lower(), list(KINDS), n=1)
    if match:
        hint = f"did you mean {match[0]!r}?"
    else:
        hint = "valid settings are " + ", ".join(KINDS)
    return ConfigError(
        f"unknown setting {name!r} in {where}; {hint}",
        key=key if isinstance(key, str) else None,
    )


def _bad_value(
    key: str, raw: str, value: str, where: str, error: _BadValue
) -> ConfigError:
    shown = f"{raw!r} (= {value!r})" if value != raw else repr(raw)
    message = f"{key}: invalid value {shown} in {where}; expected {error.expected}"
    if error.detail:
        message += f" ({error.detail})"
    return ConfigError(message, key=key)


class Coerced(t.NamedTuple):
    """What :func:`coerce_each` made of one mapping."""

    #: The coerced value of every key that is a setting and could be coerced.
    values: dict[str, t.Any]
    #: One error per mistake: unknown keys first, then bad values, in order.
    errors: list[ConfigError]
    #: The settings whose value could not be coerced.
    failed: frozenset[str]


def coerce_each(
    mapping: t.Mapping[str, t.Any], *, source: str, section: str | None = None
) -> Coerced:
    """Coerce every key of ``mapping``, collecting the mistakes instead of raising.

    >>> done = coerce_each({"idle_timeout": "1h", "colour": "red"}, source="m")
    >>> done.values, [str(e) for e in done.errors]  # doctest: +ELLIPSIS
    ({'idle_timeout': 3600}, ["unknown setting 'colour' in m; valid settings are ..."])
    """
    where = _location(source, section)
    unknown = [
        _unknown(key, where)
        for key in mapping
        if not isinstance(key, str) or key not in KINDS
    ]
    bad: list[ConfigError] = []
    values: dict[str, t.Any] = {}
    for key, raw in mapping.items():
        if not isinstance(key, str) or key not in KINDS:
            continue
        if not isinstance(raw, str):
            values[key] = raw
            continue
        try:
            value = _substitute(key, raw, where)
        except ConfigError as exc:
            bad.append(exc)
            continue
        try:
            values[key] = KINDS[key](value)
        except _BadValue as exc:
            bad.append(_bad_value(key, raw, value, where, exc))
    failed = frozenset(t.cast(str, e.key) for e in bad)
    return Coerced(values, unknown + bad, failed)


def resolve_layers(layers: t.Sequence[Coerced], where: str) -> dict[str, t.Any]:
    """Merge coerced layers (later ones win) and validate the result.

    Raises one :class:`~wsgi_session.ConfigError` for every mistake of every
    layer plus those :func:`~wsgi_session.config.validate` finds (each
    followed by ``(in <where>)``); a setting whose effective value could not
    be coerced is not validated again.

    >>> low = coerce_each({"secret_key": "k", "tracking": "url"}, source="m")
    >>> resolve_layers([low, coerce_each({"tracking": "cookie"}, source="m")], "m")
    {'secret_key': 'k', 'tracking': 'cookie'}
    """
    options: dict[str, t.Any] = {}
    errors: list[ConfigError] = []
    skip: set[str] = set()
    for layer in layers:
        errors += layer.errors
        for key in layer.values:
            skip.discard(key)
        options.update(layer.values)
        for key in layer.failed:
            skip.add(key)
            options.pop(key, None)
    errors += [
        ConfigError(f"{exc} (in {where})", key=exc.key)
        for exc in validate(options, skip=skip)[1]
    ]
    if errors:
        raise combine_errors(errors)
    return options


def coerce_mapping(
    mapping: t.Mapping[str, t.Any],
    *,
    source: str,
    section: str | None = None,
    validate: bool = True,
) -> dict[str, t.Any]:
    """Coerce setting names to strings (or already typed values) into settings.

    String values are converted by the kind of their setting (booleans,
    durations, secret key lists, import paths...) after ``${NAME}``
    substitution from the environment (``$$`` is a literal ``$``); other values
    pass through unchanged. ``source`` and ``section`` only serve the error
    messages. Unless ``validate`` is false, the result is checked once with
    :meth:`Settings.build <wsgi_session.Settings.build>`, so that every mistake
    surfaces here; the returned dict holds the coerced values of the given keys
    only, ready for ``SessionMiddleware(app, **result)``. All the mistakes are
    reported in one :class:`~wsgi_session.ConfigError`, one line each.

    >>> coerce_mapping(
    ...     {"secret_key": "k", "cookie_secure": "auto", "cookie_samesite": ""},
    ...     source="mapping",
    ... )
    {'secret_key': 'k', 'cookie_secure': 'auto', 'cookie_samesite': None}
    >>> try:
    ...     coerce_mapping({"secret_key": "k", "rewrite_html": "yep"}, source="m.ini")
    ... except ConfigError as exc:
    ...     print(exc)  # doctest: +ELLIPSIS
    rewrite_html: invalid value 'yep' in m.ini; expected a boolean: true/false, ...
    >>> import os
    >>> os.environ["WSGI_SESSION_DOC_KEY"] = "from-env"
    >>> coerce_mapping({"secret_key": "${WSGI_SESSION_DOC_KEY}"}, source="mapping")
    {'secret_key': 'from-env'}
    >>> del os.environ["WSGI_SESSION_DOC_KEY"]
    """
    done = coerce_each(mapping, source=source, section=section)
    if validate:
        return resolve_layers([done], _location(source, section))
    if done.errors:
        raise combine_errors(done.errors)
    return done.values


#: A section name no ini file uses, so that configparser keeps ``[DEFAULT]``
#: apart instead of merging it into every section.
_NO_DEFAULT_SECTION = "\0 no default section"


def load_config(
    path: str | os.PathLike[str], section: str = "wsgi_session"
) -> dict[str, t.Any]:
    """Read the ``[section]`` of an ini file into settings (see :func:`coerce_mapping`).

    Values are read raw (no ``%`` interpolation: ``%`` in a secret stays as
    written; ``${NAME}`` reads the environment). Keys are case-insensitive, as
    usual in ini files. A ``[DEFAULT]`` section is shared with the other
    sections of the file: its keys that name a setting apply unless the
    section sets them itself, its other keys are ignored.

    >>> import pathlib, tempfile
    >>> ini = pathlib.Path(tempfile.mkdtemp()) / "app.ini"
    >>> _ = ini.write_text("[wsgi_session]\\nsecret_key = k\\nidle_timeout = 8h\\n")
    >>> load_config(ini)
    {'secret_key': 'k', 'idle_timeout': 28800}
    >>> try:
    ...     load_config(ini, "session")
    ... except ConfigError as exc:
    ...     print(exc)  # doctest: +ELLIPSIS
    config file .../app.ini has no [session] section (it has: [wsgi_session])
    """
    source = os.fspath(path)
    parser = configparser.ConfigParser(
        interpolation=None, default_section=_NO_DEFAULT_SECTION
    )
    try:
        with open(source, encoding="utf-8") as file:
            parser.read_file(file, source=source)
    except FileNotFoundError:
        raise ConfigError(f"config file {source} not found") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {source}: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"config file {source} is not UTF-8: {exc}") from exc
    except configparser.Error as exc:
        raise ConfigError(f"cannot parse config file {source}: {exc}") from exc
    if not parser.has_section(section):
        sections = ", ".join(f"[{name}]" for name in parser.sections()) or "none"
        raise ConfigError(
            f"config file {source} has no [{section}] section (it has: {sections})"
        )
    layers = []
    if section != "DEFAULT" and parser.has_section("DEFAULT"):
        shared = {k: v for k, v in parser["DEFAULT"].items() if k in KINDS}
        layers.append(coerce_each(shared, source=source, section="DEFAULT"))
    layers.append(coerce_each(parser[section], source=source, section=section))
    return resolve_layers(layers, _location(source, section))
