"""Decide whether a URL, as a browser reads it, stays on the request's origin.

The one place that knows how browsers parse the start of a URL (WHATWG URL):
leading and trailing C0 controls and spaces are ignored, tabs and newlines
anywhere are removed, a scheme is letters, digits and ``+.-`` before ``:``.
Both the URL rewriter (:mod:`wsgi_session.rewrite`) and the HTML rewriter
(:mod:`wsgi_session.htmlrewrite`) judge URLs with it. Anything that is not
clearly same-origin is treated as foreign. Pure: no I/O, never raises.

    >>> origin = request_origin({"wsgi.url_scheme": "https", "HTTP_HOST": "a.example"})
    >>> origin
    ('https', 'a.example', 443)
    >>> is_same_origin(normalize_url(" /cart\\n?x=1 "), origin)
    True
    >>> is_same_origin(normalize_url("https://a.example.evil/"), origin)
    False
"""

from __future__ import annotations

import re
from typing import Any, Callable, Mapping, Optional

__all__ = [
    "C0_AND_SPACE",
    "DEFAULT_PORTS",
    "Origin",
    "UrlFn",
    "has_scheme",
    "is_same_origin",
    "normalize_url",
    "parse_authority",
    "request_origin",
]

#: ``(scheme, host, port)`` of a request: lowercase scheme and host (IPv6
#: without brackets) and an int port. A malformed ``Host`` gives host ``""``
#: and port ``-1``, which no absolute URL matches.
Origin = tuple[str, str, int]

#: A function from a URL to the URL to write instead (same string: unchanged).
UrlFn = Callable[[str], str]

#: The schemes a session id may travel over, with their default ports.
DEFAULT_PORTS: Mapping[str, int] = {"http": 80, "https": 443}

#: What browsers strip from both ends of a URL: C0 controls and the space.
C0_AND_SPACE = "".join(map(chr, range(0x21)))

# ---------------------------------------------------------------- origins

_REG_NAME = re.compile(r"[a-z0-9_.-]+")
_IPV6 = re.compile(r"[0-9a-f:.]*:[0-9a-f:.]*")
_DIGITS = re.compile(r"[0-9]+")


def parse_authority(authority: str, default_port: int) -> Optional[tuple[str, int]]:
    """``host[:port]`` or ``[v6]:port`` as lowercase ``(host, port)``; None: malformed.

    Without a port, ``default_port`` is used (none is known if it is not
    positive: then the authority counts as malformed).

    >>> parse_authority("Shop.Example:08080", 80), parse_authority("[::1]", 443)
    (('shop.example', 8080), ('::1', 443))
    >>> parse_authority("a@b", 80) is None, parse_authority("host", -1) is None
    (True, True)
    """
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
    default_port = DEFAULT_PORTS.get(scheme, -1)
    host_header = environ.get("HTTP_HOST")
    if isinstance(host_header, str) and host_header.strip(" \t"):
        parsed = parse_authority(host_header.strip(" \t"), default_port)
    else:
        name, port = environ.get("SERVER_NAME"), environ.get("SERVER_PORT")
        parsed = None
        if isinstance(name, str) and name:
            if ":" in name and not name.startswith("["):
                name = f"[{name}]"
            if isinstance(port, str) and port:
                name = f"{name}:{port}"
            parsed = parse_authority(name, default_port)
    if parsed is None:
        return scheme, "", -1
    return scheme, parsed[0], parsed[1]


# ------------------------------------------------------------------- URLs

_TAB_OR_NEWLINE = re.compile("[\t\n\r]")
_CONTROL = re.compile("[\x00-\x1f\x7f]")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")
_AUTHORITY_END = re.compile(r"[/?#]")
_FIRST_SEGMENT_END = re.compile(r"[/\\?#]")


def normalize_url(url: str) -> str:
    """What a browser parses: outer C0/space stripped, tabs and newlines removed.

    >>> normalize_url(" \\x00/a\\tb\\n?c ")
    '/ab?c'
    """
    url = url.strip(C0_AND_SPACE)
    if "\t" in url or "\n" in url or "\r" in url:
        url = _TAB_OR_NEWLINE.sub("", url)
    return url


def has_scheme(url: str) -> bool:
    """Whether the normalized ``url`` starts with a scheme (``name:``).

    >>> has_scheme("HTTPS://x/"), has_scheme("mailto:a@b"), has_scheme("/a:b")
    (True, True, False)
    """
    return _SCHEME.match(url) is not None


def _authority_matches(rest: str, origin: Origin) -> bool:
    """Whether ``rest`` (what follows ``//``) starts with exactly the origin's host."""
    end = _AUTHORITY_END.search(rest)
    authority = rest[: end.start()] if end else rest
    if not authority or "@" in authority or "\\" in authority:
        return False
    parsed = parse_authority(authority, DEFAULT_PORTS[origin[0]])
    return parsed is not None and parsed == (origin[1], origin[2])


def is_same_origin(url: str, origin: Origin) -> bool:
    """Whether the normalized ``url`` surely stays on ``origin`` (doubt: False).

    Relative URLs stay; absolute and scheme-relative ones only with exactly
    the origin's scheme, host and port; fragment-only URLs make no request.

    >>> o = ("http", "good.example", 80)
    >>> [is_same_origin(u, o) for u in ("../x", "http://good.example:80/", "#top")]
    [True, True, False]
    >>> [is_same_origin(u, o) for u in ("//good.example@evil/", "/\\\\evil", "a b:c")]
    [False, False, False]
    """
    if _CONTROL.search(url):
        return False
    scheme = _SCHEME.match(url)
    if scheme is not None:
        name = scheme.group()[:-1].lower()
        rest = url[scheme.end() :]
        return (
            name == origin[0]
            and name in DEFAULT_PORTS
            and rest.startswith("//")
            and _authority_matches(rest[2:], origin)
        )
    if url.startswith("//"):
        return origin[0] in DEFAULT_PORTS and _authority_matches(url[2:], origin)
    if url[:1] in ("/", "\\") and url[1:2] in ("/", "\\"):
        return False  # "/\host" and "\\host" are network paths in browsers
    if url.startswith("#"):
        return False  # fragment-only: no request at all
    first_segment = _FIRST_SEGMENT_END.split(url, 1)[0]
    return ":" not in first_segment  # "a b:c", "java\0script:": in doubt
