"""What a response gets from its session: headers, and in URL mode its links.

Sans-IO functions over a request's :class:`~wsgi_session.context.RequestContext`
and a response's status, headers and body, used by the WSGI
:class:`~wsgi_session.response.ResponseEditor` and by adapters that are not a
WSGI middleware (a framework middleware or response callback), so that both
send exactly the same thing:

* :func:`finish_headers` saves the session and returns the headers to send:
  the app's, plus ``Set-Cookie``, ``Vary: Cookie``, the probe cookie and, in
  URL mode, a rewritten ``Location`` and the leak protection headers;
* :func:`wants_html_rewrite` and :func:`rewrite_body` rewrite the links and
  forms of an HTML page in URL mode (``rewrite_html=True``);
* :func:`untouched_headers` are the headers of a request that never used its
  session; :func:`unavailable_response` is the 503 of a store outage and
  :func:`forbidden_response` the 403 of a refused CSRF check.

>>> h = [("Vary", "Accept-Encoding")]; add_vary(h, "Cookie"); h
[('Vary', 'Accept-Encoding, Cookie')]
"""

from __future__ import annotations

import typing as t

from .rewrite import (
    add_session_param,
    charset_of,
    hidden_input_markup,
    request_origin,
    rewrite_html,
)
from .rewrite import rewrite_location as _rewrite_location

if t.TYPE_CHECKING:  # pragma: no cover
    from .context import RequestContext

__all__ = [
    "UNAVAILABLE_BODY",
    "Headers",
    "add_vary",
    "finish_headers",
    "forbidden_response",
    "header_value",
    "rewrite_body",
    "unavailable_response",
    "untouched_headers",
    "wants_html_rewrite",
]

Headers = t.List[t.Tuple[str, str]]
UNAVAILABLE_BODY = b"Service temporarily unavailable. Please try again shortly.\n"


def _has(headers: Headers, name: str) -> bool:
    lname = name.lower()
    return any(k.lower() == lname for k, _ in headers)


def header_value(headers: Headers, name: str) -> str | None:
    """The value of the first header called ``name`` (any case), or None.

    >>> header_value([("content-length", "3")], "Content-Length")
    '3'
    """
    lname = name.lower()
    for k, v in headers:
        if k.lower() == lname:
            return v
    return None


_get = header_value


def add_vary(headers: Headers, value: str) -> None:
    """Add ``value`` to the ``Vary`` header unless it is already listed.

    >>> h = []; add_vary(h, "Cookie"); add_vary(h, "cookie"); h
    [('Vary', 'Cookie')]
    """
    for i, (k, v) in enumerate(headers):
        if len(k) == 4 and k.lower() == "vary":
            items = [p.strip().lower() for p in v.split(",")]
            if value.lower() not in items and "*" not in items:
                headers[i] = (k, f"{v}, {value}")
            return
    headers.append(("Vary", value))


def untouched_headers(request: RequestContext, headers: Headers) -> Headers:
    """The headers of a request that never used its session: the app's,
    plus the probe cookie when it goes out (a new list only then)."""
    probe = request.cookie_policy.probe(request)
    return headers if probe is None else [*headers, probe]


def finish_headers(request: RequestContext, headers: Headers) -> Headers:
    """Save the session; return the headers to send (a new list).

    Raises StoreUnavailable (answer :func:`unavailable_response`) or
    SerializationError; the stored copy is then left as it was.
    """
    headers = list(headers)  # the app may reuse its list
    state = request.state  # None: the session was never used
    if state is None or state.tracking != "cookie" or not state.loaded:
        request.settle()  # a login gives a new id: before any URL gets one
        token = request.url_token()
        if token is not None:  # before saving: it may expose the id
            _url_mode_headers(request, headers, token)
    cookies = request.save()
    if cookies:
        headers.extend(cookies)
    state = request.state  # url_token() may have loaded the session
    # A response that used the session or sets its cookie varies by it.
    if cookies or (state is not None and state.accessed):
        add_vary(headers, "Cookie")
    probe = request.cookie_policy.probe(request)
    if probe is not None:
        headers.append(probe)
    return headers


def _url_mode_headers(request: RequestContext, headers: Headers, token: str) -> None:
    param = request.url_param
    origin = request_origin(request.environ)
    for i, (k, v) in enumerate(headers):
        if k.lower() == "location":
            new = _rewrite_location(v, param=param, token=token, origin=origin)
            if new != v:
                headers[i] = (k, new)
                request.exposed = True
    if not _has(headers, "Referrer-Policy"):
        headers.append(("Referrer-Policy", "same-origin"))
    if not _has(headers, "Cache-Control"):
        headers.append(("Cache-Control", "private"))


def wants_html_rewrite(request: RequestContext, status: str, headers: Headers) -> bool:
    """True when this response's HTML gets the session id in its links:
    ``rewrite_html`` is on, the session travels by URL, and the response
    is an uncompressed HTML page with a body."""
    if not request.settings.rewrite_html:
        return False
    if request.environ.get("REQUEST_METHOD") == "HEAD":
        return False
    if status[:3] in ("304", "204") or _has(headers, "Content-Encoding"):
        return False
    ctype = (_get(headers, "Content-Type") or "").split(";")[0].strip()
    if ctype.lower() not in ("text/html", "application/xhtml+xml"):
        return False
    state = request.state
    if (state is None or not state.loaded) and request.url_id_pending():
        request.url_token()  # loads the session of a URL id the app never used
        state = request.state
    return state is not None and state.loaded and state.tracking != "cookie"


def rewrite_body(
    request: RequestContext, headers: Headers, body: bytes
) -> tuple[Headers, bytes]:
    """The headers and body with the id in the page's links and forms
    (Content-Length corrected); unchanged when there is nothing to add."""
    request.settle()  # a login gives a new id: before the page gets one
    token = request.url_token()
    if token is None:
        return headers, body
    param = request.url_param
    origin = request_origin(request.environ)

    def url_fn(url: str) -> str:
        return add_session_param(url, param=param, token=token, origin=origin)

    ctype = _get(headers, "Content-Type") or "text/html"
    new = rewrite_html(
        body, charset_of(ctype), url_fn, str(hidden_input_markup(param, token))
    )
    if new == body:
        return headers, body
    request.exposed = True
    headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
    headers.append(("Content-Length", str(len(new))))
    return headers, new


FORBIDDEN_BODY = b"Forbidden: the request's CSRF token is missing or not valid.\n"


def forbidden_response() -> tuple[str, Headers, bytes]:
    """The ``403`` answered before the app when ``csrf="check"`` refuses a request.

    >>> forbidden_response()[0]
    '403 Forbidden'
    """
    headers = [
        ("Content-Type", "text/plain; charset=utf-8"),
        ("Content-Length", str(len(FORBIDDEN_BODY))),
        ("Cache-Control", "no-store"),
    ]
    return "403 Forbidden", headers, FORBIDDEN_BODY


def unavailable_response() -> tuple[str, Headers, bytes]:
    """The ``503`` answered when the store is unavailable (no traceback).

    >>> unavailable_response()[0]
    '503 Service Unavailable'
    """
    headers = [
        ("Content-Type", "text/plain; charset=utf-8"),
        ("Content-Length", str(len(UNAVAILABLE_BODY))),
        ("Retry-After", "5"),
        ("Cache-Control", "no-store"),
    ]
    return "503 Service Unavailable", headers, UNAVAILABLE_BODY
