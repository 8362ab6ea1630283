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

Which URLs are same-origin is decided by :mod:`wsgi_session.urlparts` (the
way browsers parse them; anything in doubt is left alone). The HTML half is
:mod:`wsgi_session.htmlrewrite`; this module re-exports its public names, so
``wsgi_session.rewrite`` is the one import point for URL-mode rewriting.
"""

from __future__ import annotations

import re
from urllib.parse import quote, unquote

from markupsafe import Markup

from .htmlrewrite import HTMLRewriter as HTMLRewriter
from .htmlrewrite import charset_of as charset_of
from .htmlrewrite import rewrite_html as rewrite_html
from .urlparts import Origin as Origin
from .urlparts import is_same_origin, normalize_url
from .urlparts import request_origin as request_origin

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
]  # HTMLRewriter, charset_of, rewrite_html, Origin, request_origin: re-exports


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
        normalized = normalize_url(url)
        if not is_same_origin(normalized, origin):
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
