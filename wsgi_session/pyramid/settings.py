"""Pyramid's settings (``wsgi_session.*`` keys) as wsgi_session's options.

A Pyramid app's ini file puts the session's settings beside its own, under
the prefix :data:`PREFIX`, with §2's names (SPEC §12.2)::

    [app:main]
    use = egg:myapp
    wsgi_session.secret_key = ${SESSION_SECRET}
    wsgi_session.store = redis://cache:6379/0
    wsgi_session.idle_timeout = 8h

:func:`options_from_settings` reads them, coerced as in ini files (SPEC §8,
:mod:`wsgi_session.inifile`); no Pyramid import.

>>> options_from_settings(
...     {"pyramid.reload_templates": "true", "wsgi_session.secret_key": "k",
...      "wsgi_session.idle_timeout": "8h"}
... )
{'secret_key': 'k', 'idle_timeout': 28800}
"""

from __future__ import annotations

import difflib
import typing as t

from ..config import combine_errors
from ..errors import ConfigError
from ..inifile import KINDS, Coerced, coerce_each, resolve_layers

__all__ = ["PREFIX", "USER_KEY_PRESET", "options_from_settings"]

#: The prefix of the settings this integration reads.
PREFIX = "wsgi_session."

#: The ``user_key`` Pyramid's drop-in presets (SPEC §9, §13.1): the session
#: key of ``pyramid.authentication.SessionAuthenticationHelper``.
USER_KEY_PRESET = "auth.userid"

_SOURCE = "the Pyramid settings"


def _unknown(key: str) -> ConfigError:
    name = key[len(PREFIX) :]
    match = difflib.get_close_matches(name.lower(), list(KINDS), n=1)
    if match:
        hint = f"did you mean {PREFIX + match[0]!r}?"
    else:
        hint = "valid settings are " + ", ".join(PREFIX + name for name in KINDS)
    return ConfigError(f"unknown setting {key!r} in {_SOURCE}; {hint}", key=key)


def options_from_settings(
    settings: t.Mapping[str, t.Any], *, validate: bool = True
) -> dict[str, t.Any]:
    """The §2 options named by the ``wsgi_session.*`` keys of ``settings``.

    Other keys are ignored. String values are coerced as in ini files (SPEC
    §8); values already typed (settings set in code) pass unchanged. Every
    mistake, an unknown ``wsgi_session.`` key included, is reported in one
    :class:`~wsgi_session.ConfigError`, one line each. Unless ``validate`` is
    false the result is checked as :class:`~wsgi_session.SessionMiddleware`
    would check it (a ``secret_key`` is then required).

    >>> try:
    ...     options_from_settings({"wsgi_session.idle_timout": "8h"}, validate=False)
    ... except ConfigError as exc:
    ...     print(exc)  # doctest: +ELLIPSIS
    unknown setting 'wsgi_session.idle_timout' ...; did you mean ...idle_timeout'?
    """
    ours = {
        key[len(PREFIX) :]: value
        for key, value in settings.items()
        if isinstance(key, str) and key.startswith(PREFIX)
    }
    unknown = [_unknown(PREFIX + name) for name in ours if name not in KINDS]
    done = coerce_each(
        {name: value for name, value in ours.items() if name in KINDS}, source=_SOURCE
    )
    layer = Coerced(done.values, unknown + done.errors, done.failed)
    if validate:
        return resolve_layers([layer], _SOURCE)
    if layer.errors:
        raise combine_errors(layer.errors)
    return layer.values
