"""What the current ``app.config`` means for a request: the :class:`_Profile`.

The Flask settings a profile depends on (:data:`_CONFIG`, read with one
``itemgetter`` call), their coercion (:func:`_lifetime`, :func:`_frozen`),
the per-profile caches of signed ids and ``Set-Cookie`` headers, and the
permanent hint of cookie values (:data:`PERMANENT_HINT`). Pure: no Flask
import, no I/O.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import operator
import typing as t

from ..errors import ConfigError
from ..signing import IdSigner
from ..tracking import CookieProfile

#: Entries kept per profile in each of its caches (signed ids, cookie headers).
_CACHE_SIZE = 4096


@dataclasses.dataclass(frozen=True)
class _Profile:
    """What one state of the Flask configuration means for a request."""

    signer: IdSigner
    cookies: CookieProfile  # non-permanent sessions
    permanent_cookies: CookieProfile  # permanent sessions: Max-Age = lifetime
    lifetime: int
    refresh_each_request: bool
    #: Signed ids issued under this profile (Flask sends a session's cookie
    #: again on every request that modifies it: one HMAC each time otherwise).
    signed: dict[str, str] = dataclasses.field(default_factory=dict, compare=False)

    def sign(self, session_id: str) -> str:
        """``signer.sign(session_id)``, remembered."""
        signed = self.signed.get(session_id)
        if signed is None:
            signed = self.signer.sign(session_id)
            if len(self.signed) >= _CACHE_SIZE:
                self.signed.clear()
            self.signed[session_id] = signed
        return signed


class _SessionCookies(CookieProfile):
    """A cookie profile that remembers its browser-session ``Set-Cookie`` headers.

    Flask sends a session's cookie again on every request that modifies it;
    without a Max-Age (hence no Expires) the header only depends on the value
    and on whether the request is secure.
    """

    def __init__(self, name: str, **attributes: t.Any) -> None:
        super().__init__(name, **attributes)
        self._headers: dict[tuple[str, bool], tuple[str, str]] = {}

    def set_header(self, environ: t.Mapping[str, t.Any], value: str) -> tuple[str, str]:
        """``Set-Cookie`` carrying ``value`` (built once per value and scheme)."""
        if self.max_age is not None:  # Expires moves with the clock
            return super().set_header(environ, value)
        key = (value, self.is_secure(environ))
        header = self._headers.get(key)
        if header is None:
            header = super().set_header(environ, value)
            if len(self._headers) >= _CACHE_SIZE:
                self._headers.clear()
            self._headers[key] = header
        return header


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
