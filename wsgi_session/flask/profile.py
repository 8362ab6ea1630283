"""What the current ``app.config`` means for a request: the :class:`_Profile`.

The Flask settings a profile depends on (:data:`_CONFIG`, read with one
``itemgetter`` call), their coercion (:func:`_lifetime`, :func:`_frozen`),
and the permanent hint of cookie values (:data:`PERMANENT_HINT`). Pure: no Flask
import, no I/O.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import operator
import typing as t

from ..errors import ConfigError
from ..signing import IdSigner

if t.TYPE_CHECKING:  # pragma: no cover
    from .cookies import FlaskCookiePolicy, FlaskIdResolver


@dataclasses.dataclass(frozen=True)
class _Profile:
    """What one state of the Flask configuration means for a request: the
    keys, and the pipeline steps that read and set the cookie with them.

    Signed ids and cookie attributes are remembered by the signer and the
    cookie profiles themselves.
    """

    signer: IdSigner
    resolver: FlaskIdResolver
    cookie_policy: FlaskCookiePolicy
    lifetime: int  # PERMANENT_SESSION_LIFETIME in seconds


#: The Flask settings a request's profile depends on, read on every request,
#: with the default each one has when the key is missing (as Flask reads them).
_CONFIG = {
    "SECRET_KEY": None,
    "SECRET_KEY_FALLBACKS": None,
    "SESSION_COOKIE_NAME": None,
    "SESSION_COOKIE_DOMAIN": None,
    "SESSION_COOKIE_PATH": None,
    "APPLICATION_ROOT": None,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SECURE": None,
    "SESSION_COOKIE_SAMESITE": None,
    "SESSION_COOKIE_PARTITIONED": None,
    "PERMANENT_SESSION_LIFETIME": None,
    "SESSION_REFRESH_EACH_REQUEST": True,
}
_CONFIG_KEYS = tuple(_CONFIG)
_CONFIG_DEFAULTS = tuple(_CONFIG.values())
_read_config = operator.itemgetter(*_CONFIG_KEYS)
_NO_PROFILE: t.Any = object()

#: Appended to the cookie value of a permanent session (``<id>.<signature>.p``):
#: an untouched request can refresh the cookie without loading the session.
PERMANENT_HINT = ".p"


def _split_hint(value: str) -> tuple[str, bool]:
    """``(signed id, hint present)`` of a session cookie value.

    >>> _split_hint("id.sig.p"), _split_hint("id.sig")
    (('id.sig', True), ('id.sig', False))
    """
    if value.endswith(PERMANENT_HINT):
        return value[: -len(PERMANENT_HINT)], True
    return value, False


def _frozen(values: tuple[t.Any, ...]) -> t.Hashable | None:
    """A hashable stand-in for config values with lists in them, or None."""
    key = tuple((list, tuple(v)) if isinstance(v, list) else v for v in values)
    try:
        hash(key)
    except TypeError:
        return None
    return key


def _lifetime(value: t.Any) -> int:
    """PERMANENT_SESSION_LIFETIME (a timedelta or seconds) in whole seconds >= 1."""
    try:
        if not isinstance(value, dt.timedelta):
            value = dt.timedelta(seconds=value)
        return max(1, int(value.total_seconds()))
    except (TypeError, ValueError, OverflowError) as exc:
        raise ConfigError(
            f"PERMANENT_SESSION_LIFETIME: expected a timedelta or a number of "
            f"seconds, got {value!r}",
            key="PERMANENT_SESSION_LIFETIME",
        ) from exc
