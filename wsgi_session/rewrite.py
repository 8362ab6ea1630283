"""Add the session id to same-origin URLs, ``Location`` headers and HTML.

This module is the pure half of URL-mode tracking: it decides which URLs a
browser would send to the request's own origin and adds (or strips) the
``url_param`` query parameter on them. It does no I/O and knows nothing about
sessions; callers pass the parameter name, the token and the request's origin.

    >>> origin = ("https", "shop.example", 443)
    >>> add_session_param("cart?x=1#top", param="sid", token="t0k", origin=origin)
    'cart?x=1&sid=t0k#top'
    >>> add_session_param("//evil.example/", param="sid", token="t0k", origin=origin)
    '//evil.example/'

URLs are judged the way browsers parse them (WHATWG URL): leading and trailing
C0 controls and spaces are ignored, tabs and newlines anywhere are removed, and
anything that is not clearly same-origin is left alone.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Mapping, Optional
from urllib.parse import quote, unquote

from markupsafe import Markup

__all__ = [
    "HTMLRewriter",
    "Origin",
    "add_session_param",
    "charset_of",
    "hidden_input_markup",
    "request_origin",
    "rewrite_html",
    "rewrite_location",
    "strip_session_param",
]  # HTMLRewriter, charset_of and rewrite_html live in .htmlrewrite

#: ``(scheme, host, port)`` of a request: lowercase scheme and host (IPv6
#: without brackets) and an int port. A malformed ``Host`` gives host ``""``
#: and port ``-1``, which no absolute URL matches.
Origin = tuple[str, str, int]

#: A function from a URL to the URL to write instead (same string: unchanged).
UrlFn = Callable[[str], str]

# ---------------------------------------------------------------- origins

_DEFAULT_PORTS = {"http": 80, "https": 443}
_REG_NAME = re.compile(r"[a-z0-9_.-]+")
_IPV6 = re.compile(r"[0-9a-f:.]*:[0-9a-f:.]*")
_DIGITS = re.compile(r"[0-9]+")


def _parse_authority(authority: str, default_port: int) -> Optional[tuple[str, int]]:
    """``host[:port]`` or ``[v6]:port`` to ``(host, port)``; None if malformed."""
    if not authority.isascii():
        return None
    authority = authority.lower()
    if authority.startswith("["):
        host, bracket, rest = authority[1:].partition("]")
        if not bracket or not _IPV6.fullmatch(host) or rest[:1] not in ("", ":"):
            return None
        port = rest[1:] if rest else None
    else:
        host, colon, port_text = authority.partition(":")
        if not _REG_NAME.fullmatch(host) or ":" in port_text:
            return None
        port = port_text if colon else None
    if not port:
        return (host, default_port) if default_port > 0 else None
    digits = port.lstrip("0") or "0"
    if not _DIGITS.fullmatch(digits) or len(digits) > 5 or int(digits) > 65535:
        return None
    return host, int(digits)


def request_origin(environ: Mapping[str, Any]) -> Origin:
    """The ``(scheme, host, port)`` a browser sees for this WSGI request.

    Uses ``wsgi.url_scheme`` and ``HTTP_HOST`` (else ``SERVER_NAME`` and
    ``SERVER_PORT``). Never raises: a malformed host gives ``(scheme, "", -1)``.

    >>> request_origin({"wsgi.url_scheme": "https", "HTTP_HOST": "Shop.Example"})
    ('https', 'shop.example', 443)
    >>> request_origin({"wsgi.url_scheme": "http", "HTTP_HOST": "[::1]:8080"})
    ('http', '::1', 8080)
    >>> request_origin({"wsgi.url_scheme": "http", "HTTP_HOST": "a@b"})
    ('http', '', -1)
    """
    scheme_value = environ.get("wsgi.url_scheme")
    scheme = scheme_value.strip().lower() if isinstance(scheme_value, str) else ""
    scheme = scheme or "http"
    default_port = _DEFAULT_PORTS.get(scheme, -1)
    host_header = environ.get("HTTP_HOST")
    if isinstance(host_header, str) and host_header.strip(" \t"):
        parsed = _parse_authority(host_header.strip(" \t"), default_port)
    else:
        name, port = environ.get("SERVER_NAME"), environ.get("SERVER_PORT")
        parsed = None
        if isinstance(name, str) and name:
            if ":" in name and not name.startswith("["):
                name = f"[{name}]"
            if isinstance(port, str) and port:
                name = f"{name}:{port}"
            parsed = _parse_authority(name, default_port)
    if parsed is None:
        return scheme, "", -1
    return scheme, parsed[0], parsed[1]


# ------------------------------------------------------------------- URLs

_C0_AND_SPACE = "".join(map(chr, range(0x21)))
_TAB_OR_NEWLINE = re.compile("[\t\n\r]")
_CONTROL = re.compile("[\x00-\x1f\x7f]")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")
_AUTHORITY_END = re.compile(r"[/?#]")
_FIRST_SEGMENT_END = re.compile(r"[/\\?#]")


def _normalize_url(url: str) -> str:
    """What a browser parses: outer C0/space stripped, tabs and newlines removed."""
    url = url.strip(_C0_AND_SPACE)
    if "\t" in url or "\n" in url or "\r" in url:
        url = _TAB_OR_NEWLINE.sub("", url)
    return url


def _authority_matches(rest: str, origin: Origin) -> bool:
    """Whether ``rest`` (what follows ``//``) starts with exactly the origin's host."""
    end = _AUTHORITY_END.search(rest)
    authority = rest[: end.start()] if end else rest
    if not authority or "@" in authority or "\\" in authority:
        return False
    parsed = _parse_authority(authority, _DEFAULT_PORTS[origin[0]])
    return parsed is not None and parsed == (origin[1], origin[2])


def _is_same_origin(url: str, origin: Origin) -> bool:
    """Whether the normalized ``url`` surely stays on ``origin`` (doubt: False)."""
    if _CONTROL.search(url):
        return False
    scheme = _SCHEME.match(url)
    if scheme is not None:
        name = scheme.group()[:-1].lower()
        rest = url[scheme.end() :]
        return (
            name == origin[0]
            and name in _DEFAULT_PORTS
            and rest.startswith("//")
            and _authority_matches(rest[2:], origin)
        )
    if url.startswith("//"):
        return origin[0] in _DEFAULT_PORTS and _authority_matches(url[2:], origin)
    if url[:1] in ("/", "\\") and url[1:2] in ("/", "\\"):
        return False  # "/\host" and "\\host" are network paths in browsers
    if url.startswith("#"):
        return False  # fragment-only: no request at all
    first_segment = _FIRST_SEGMENT_END.split(url, 1)[0]
    return ":" not in first_segment  # "a b:c", "java\0script:": in doubt


def _form_unquote(text: str) -> str:
    """Decode one ``application/x-www-form-urlencoded`` component (latin-1)."""
    return unquote(text.replace("+", " "), encoding="latin-1")


def strip_session_param(query: str, param: str) -> tuple[str, list[str]]:
    """Remove every ``param`` pair from a raw query string.

    Returns the query without them (other pairs unchanged, in order) and the
    removed values, percent-decoded (latin-1, as WSGI strings are). Never raises.

    >>> strip_session_param("a=1&sid=x%2Ey&b&sid=z", "sid")
    ('a=1&b', ['x.y', 'z'])
    >>> strip_session_param("a=%zz", "sid")
    ('a=%zz', [])
    """
    try:
        if not query or (param not in query and "%" not in query and "+" not in query):
            return query, []
        kept: list[str] = []
        removed: list[str] = []
        for pair in query.split("&"):
            name, _, value = pair.partition("=")
            if _form_unquote(name) == param:
                removed.append(_form_unquote(value))
            else:
                kept.append(pair)
        if not removed:
            return query, []
        return "&".join(kept), removed
    except Exception:
        return query, []


_URL_SAFE = re.compile(r"[A-Za-z0-9._~-]*")


def _quote(text: str) -> str:
    """Percent-encode everything but unreserved characters (fast for tokens)."""
    return text if _URL_SAFE.fullmatch(text) else quote(text, safe="")


def _with_param(url: str, param: str, token: str) -> str:
    """``url`` with every ``param`` pair replaced by ``param=token`` at the end."""
    rest, hash_mark, fragment = url.partition("#")
    path, question, query = rest.partition("?")
    if question:
        query = strip_session_param(query, param)[0]
    pair = f"{_quote(param)}={_quote(token)}"
    separator = "&" if query and not query.endswith("&") else ""
    return f"{path}?{query}{separator}{pair}{hash_mark}{fragment}"


def add_session_param(url: str, *, param: str, token: str, origin: Origin) -> str:
    """Add or replace ``param=token`` on ``url`` if it is surely same-origin.

    Relative URLs and absolute URLs with exactly the origin's scheme, host and
    port are rewritten (query and fragment kept, stale ``param`` pairs
    dropped); everything else is returned unchanged. Never raises.

    >>> o = ("http", "good.example", 80)
    >>> add_session_param("../x?a=1&sid=old#f", param="sid", token="new", origin=o)
    '../x?a=1&sid=new#f'
    >>> add_session_param("http://good.example:80/", param="sid", token="t", origin=o)
    'http://good.example:80/?sid=t'
    >>> add_session_param(" JaVa\\tScRipt:alert(1)", param="sid", token="t", origin=o)
    ' JaVa\\tScRipt:alert(1)'
    """
    try:
        normalized = _normalize_url(url)
        if not _is_same_origin(normalized, origin):
            return url
        return _with_param(normalized, param, token)
    except Exception:
        return url


def rewrite_location(location: str, *, param: str, token: str, origin: Origin) -> str:
    """Rewrite a ``Location`` header value by the rules of :func:`add_session_param`.

    A relative ``Location`` is resolved against the request, so it is
    same-origin and gets the parameter.

    >>> o = ("https", "good.example", 443)
    >>> rewrite_location("/done", param="sid", token="t", origin=o)
    '/done?sid=t'
    >>> rewrite_location("https://idp.example/login", param="sid", token="t", origin=o)
    'https://idp.example/login'
    """
    return add_session_param(location, param=param, token=token, origin=origin)


def hidden_input_markup(param: str, token: str) -> Markup:
    """A hidden form field carrying the token, both attribute values escaped.

    >>> hidden_input_markup("sid", 'a"b')
    Markup('<input type="hidden" name="sid" value="a&#34;b">')
    """
    return Markup('<input type="hidden" name="{}" value="{}">').format(param, token)


# The HTML half lives in its own module; re-exported here for one import point.
from .htmlrewrite import HTMLRewriter as HTMLRewriter  # noqa: E402
from .htmlrewrite import charset_of as charset_of  # noqa: E402
from .htmlrewrite import rewrite_html as rewrite_html  # noqa: E402
