"""CSRF tokens: a per-session secret, masked afresh for every token, and the
request checks that decide whether an unsafe request carries a valid one.

Pure functions over strings and the WSGI environ; the session keeps the
secret (:meth:`~wsgi_session.Session.csrf_token`), the middleware runs
:func:`refusal` before the app when ``csrf="check"``.

A token is ``base64url(mask || secret XOR mask)`` with a fresh random mask,
so no two tokens of one secret look alike (a page that reflects the token
next to attacker-chosen text in a compressed response cannot have it
guessed byte by byte: BREACH). Verifying unmasks and compares in constant
time.

>>> secret = new_secret()
>>> a, b = mask_token(secret), mask_token(secret)
>>> a != b and token_matches(a, secret) and token_matches(b, secret)
True
>>> token_matches(a, new_secret()), token_matches("garbage", secret)
(False, False)
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
import typing as t
from urllib.parse import urlsplit

__all__ = [
    "FIELD_NAME",
    "HEADER_ENVIRON_KEY",
    "SAFE_METHODS",
    "SECRET_BYTES",
    "is_exempt",
    "mask_token",
    "new_secret",
    "origin_of",
    "origin_refusal",
    "token_matches",
]

#: Random bytes in a session's CSRF secret.
SECRET_BYTES = 32
#: Length of a token: base64url of mask + masked secret, without padding.
TOKEN_LENGTH = len(base64.urlsafe_b64encode(bytes(2 * SECRET_BYTES)).rstrip(b"="))
#: The form field a token is read from (urlencoded and multipart bodies).
FIELD_NAME = "csrf_token"
#: The environ key of the ``X-CSRF-Token`` request header.
HEADER_ENVIRON_KEY = "HTTP_X_CSRF_TOKEN"
#: Methods that never change state and so are never checked.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


def new_secret() -> str:
    """A fresh secret: 32 random bytes as URL-safe base64 (stored in the session).

    >>> len(new_secret()), new_secret() != new_secret()
    (43, True)
    """
    return secrets.token_urlsafe(SECRET_BYTES)


def _secret_bytes(secret: str) -> bytes | None:
    try:
        raw = base64.urlsafe_b64decode(secret + "=" * (-len(secret) % 4))
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) == SECRET_BYTES else None


def _xor(a: bytes, b: bytes) -> bytes:
    return bytes(x ^ y for x, y in zip(a, b))


def mask_token(secret: str) -> str:
    """A token for ``secret``, masked with fresh randomness (a new string each call).

    >>> s = new_secret(); len(mask_token(s)) == TOKEN_LENGTH
    True
    """
    raw = _secret_bytes(secret)
    if raw is None:
        raise ValueError("not a CSRF secret made by new_secret()")
    mask = secrets.token_bytes(SECRET_BYTES)
    token = base64.urlsafe_b64encode(mask + _xor(mask, raw))
    return token.rstrip(b"=").decode("ascii")


def token_matches(token: object, secret: str | None) -> bool:
    """True when ``token`` was made by :func:`mask_token` from ``secret``.

    Never raises, whatever ``token`` is; the comparison is constant-time.

    >>> token_matches(None, new_secret()), token_matches("x" * 86, None)
    (False, False)
    """
    if secret is None or not isinstance(token, str) or len(token) != TOKEN_LENGTH:
        return False
    raw = _secret_bytes(secret)
    if raw is None or not token.isascii():
        return False
    try:
        data = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        return False
    if len(data) != 2 * SECRET_BYTES:
        return False
    mask, masked = data[:SECRET_BYTES], data[SECRET_BYTES:]
    return hmac.compare_digest(_xor(mask, masked), raw)


def is_exempt(path: str, prefixes: t.Iterable[str]) -> bool:
    """True when ``path`` starts with one of the ``csrf_exempt`` prefixes.

    >>> is_exempt("/api/hook", ("/api/",)), is_exempt("/apix", ("/api/",))
    (True, False)
    """
    return any(path.startswith(prefix) for prefix in prefixes)


Origin = t.Tuple[str, str, int]


def origin_of(url: str) -> Origin | None:
    """The ``(scheme, host, port)`` of an http(s) URL, or None.

    >>> origin_of("https://Shop.Example/cart"), origin_of("javascript:x")
    (('https', 'shop.example', 443), None)
    """
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    default = 443 if parts.scheme == "https" else 80
    return parts.scheme, parts.hostname.lower(), port or default


def origin_refusal(environ: t.Mapping[str, t.Any], own: Origin) -> str | None:
    """Why an HTTPS request's Origin (or, without it, Referer) is refused, or None.

    ``own`` is the request's own origin (``rewrite.request_origin``). Only
    HTTPS requests are checked, as Django does: there a request with neither
    header is refused, and so is one from another origin (an ``Origin:
    null`` included).

    >>> env = {"wsgi.url_scheme": "https", "HTTP_ORIGIN": "https://evil.example"}
    >>> origin_refusal(env, ("https", "shop.example", 443))
    'Origin https://evil.example is not this site'
    >>> origin_refusal({"wsgi.url_scheme": "http"}, ("http", "shop.example", 80))
    """
    if environ.get("wsgi.url_scheme") != "https":
        return None
    header = environ.get("HTTP_ORIGIN")
    name = "Origin"
    if header is None or header == "":
        header, name = environ.get("HTTP_REFERER"), "Referer"
    if not isinstance(header, str) or not header:
        return "neither Origin nor Referer was sent"
    if origin_of(header) != own:
        return f"{name} {header[:100]} is not this site"
    return None
