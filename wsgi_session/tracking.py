"""Where the session id comes from and where it goes: cookie, URL, form body.

Pure functions over the WSGI environ and strings: reading what a request
presents (:func:`read_presented`), choosing the tracking mode
(:func:`choose_mode`) and building ``Set-Cookie`` headers
(:class:`CookieProfile`). Nothing here knows about stores or session data.

>>> env = {"HTTP_COOKIE": "session=abc.def; other=1", "QUERY_STRING": ""}
>>> p = read_presented(env, cookie_name="session", url_param="sid", read_urls=False)
>>> p.cookie_values, p.probe, p.url_value
(('abc.def',), False, None)
"""

from __future__ import annotations

import hashlib
import io
import re
import typing as t
from urllib.parse import parse_qsl

from werkzeug.formparser import parse_form_data
from werkzeug.http import dump_cookie, parse_cookie

from .memo import Memo
from .rewrite import strip_session_param

__all__ = [
    "CookieProfile",
    "Presented",
    "choose_mode",
    "form_field",
    "read_presented",
    "user_agent_binding",
]

#: Cookie values Werkzeug writes as they are (signed ids, the probe's "1").
_PLAIN_VALUE = re.compile(r"[A-Za-z0-9._-]+")
#: Longest Cookie header we parse; anything longer is treated as no cookies.
MAX_COOKIE_HEADER = 16 * 1024
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class Presented(t.NamedTuple):
    """What one request brought back: our cookies and a URL id, if any.

    ``cookie_seen`` is True when a cookie with our session cookie's name was
    sent at all, even empty or unreadable: any cookie of ours proves that the
    client keeps cookies, so a URL id next to it is never accepted.
    ``has_our_cookie`` is ``cookie_seen or probe`` (kept as a field: it is
    read on every request); build instances with :meth:`of`.

    >>> Presented.of(("abc.def",), probe=False, cookie_seen=True).has_our_cookie
    True
    """

    cookie_values: tuple[str, ...]
    probe: bool
    url_value: str | None = None
    cookie_seen: bool = False
    #: True when the request carries the probe or a session cookie.
    has_our_cookie: bool = False

    @classmethod
    def of(
        cls, cookie_values: tuple[str, ...], *, probe: bool, cookie_seen: bool
    ) -> Presented:
        """What a request's cookies say (no URL id yet)."""
        return cls(cookie_values, probe, None, cookie_seen, cookie_seen or probe)


def probe_name(cookie_name: str) -> str:
    """The name of the test cookie that proves the client keeps cookies.

    >>> probe_name("session"), probe_name("__Host-sid")
    ('session_probe', '__Host-sid_probe')
    """
    return f"{cookie_name}_probe"


_NOTHING = Presented.of((), probe=False, cookie_seen=False)
#: Recently parsed Cookie headers (a browser sends the same one again and
#: again). The key is the whole header and our cookie name, which decide the
#: result; a Presented is an immutable named tuple of strings, so sharing it
#: between requests is safe. Only short headers are kept.
_parsed: Memo[tuple[str, str], Presented] = Memo(4096)
_CACHED_HEADER_MAX = 1024


def _read_cookies(header: object, name: str) -> Presented:
    """Our session cookie values and whether any cookie of ours is present,
    for a header not found in :data:`_parsed` (remembered there if short)."""
    if not header or not isinstance(header, str) or name not in header:
        return _NOTHING
    presented = _parse_cookies(header, name)
    if len(header) <= _CACHED_HEADER_MAX:
        _parsed.put((header, name), presented)
    return presented


def _parse_cookies(header: str, name: str) -> Presented:
    if len(header) > MAX_COOKIE_HEADER:  # unreadable, but ours may be in it
        return Presented.of((), probe=False, cookie_seen=True)
    probe_key = probe_name(name)
    if '"' not in header and "\\" not in header:  # the common case: no quoting
        values: list[str] = []
        seen = probe = False
        for part in header.split(";"):
            key, _, value = part.partition("=")
            key = key.strip()
            if key == name:
                seen = True
                value = value.strip()
                if value:
                    values.append(value)
            elif key == probe_key:
                probe = True
        return Presented.of(tuple(values), probe=probe, cookie_seen=seen)
    try:
        cookies = parse_cookie(header)
        return Presented.of(
            tuple(v for v in cookies.getlist(name) if v),
            probe=probe_key in cookies,
            cookie_seen=name in cookies,
        )
    except Exception:  # malformed input never raises; assume ours is present
        return Presented.of((), probe=False, cookie_seen=True)


def _strip_uri(environ: dict[str, t.Any], key: str, param: str) -> None:
    uri = environ.get(key)
    if isinstance(uri, str) and "?" in uri:
        path, _, query = uri.partition("?")
        query, _ = strip_session_param(query, param)
        environ[key] = f"{path}?{query}" if query else path


def _in_memory(*_args: t.Any, **_kwargs: t.Any) -> t.IO[bytes]:
    return io.BytesIO()


def _position(stream: t.Any) -> int | None:
    """Where a seekable stream stands, or None (a server's socket reader)."""
    try:
        return int(stream.tell()) if stream.seekable() else None
    except Exception:
        return None


def _rewound(stream: t.Any, position: int | None) -> bool:
    """Seek ``stream`` back to ``position``; False when that is not possible."""
    if position is None:
        return False
    try:
        stream.seek(position)
    except Exception:
        return False
    return True


def form_field(environ: dict[str, t.Any], param: str, limit: int) -> str | None:
    """The first value of field ``param`` of a small urlencoded or multipart
    body (at most ``limit`` bytes), leaving ``wsgi.input`` readable for the
    app; None for any other body.

    >>> import io
    >>> env = {"CONTENT_TYPE": "application/x-www-form-urlencoded",
    ...        "CONTENT_LENGTH": "7", "wsgi.input": io.BytesIO(b"a=1&b=2")}
    >>> form_field(env, "b", 1024), env["wsgi.input"].read()
    ('2', b'a=1&b=2')
    """
    ctype = str(environ.get("CONTENT_TYPE", "")).split(";")[0].strip().lower()
    if ctype not in _FORM_TYPES:
        return None
    try:
        length = int(environ.get("CONTENT_LENGTH") or "")
    except ValueError:
        return None
    if length <= 0 or length > limit:
        return None
    stream = environ.get("wsgi.input")
    if stream is None:
        return None
    start = _position(stream)
    chunks, remaining = [], length
    while remaining > 0:
        chunk = stream.read(remaining)
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    body = b"".join(chunks)
    if not _rewound(stream, start):
        # The app reads the same bytes from memory. (A seekable stream is
        # rewound instead: whoever made the environ may read it again, as
        # Werkzeug's test client does when it follows a 307 redirect.)
        environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    try:
        if ctype == _FORM_TYPES[0]:
            pairs = parse_qsl(body.decode("latin-1"), keep_blank_values=True)
            values = [v for k, v in pairs if k == param]
        else:
            scratch = dict(environ, **{"wsgi.input": io.BytesIO(body)})
            # Uploads go to memory (the body is at most ``limit`` bytes): no
            # temporary file is ever left open, however broken the body.
            _, form, _ = parse_form_data(
                scratch, stream_factory=_in_memory, silent=True
            )
            values = form.getlist(param)
    except Exception:
        return None
    return values[0] if values else None


def read_presented(
    environ: dict[str, t.Any],
    cookie_name: str,
    url_param: str,
    read_urls: bool,
    body_limit: int = 1024 * 1024,
) -> Presented:
    """Read our cookies and, when ``read_urls``, the URL id (query or form body).

    With ``read_urls`` the id parameter is removed from ``QUERY_STRING``,
    ``REQUEST_URI`` and ``RAW_URI`` so the application never sees it. A
    request body is inspected only without cookies of ours and without a
    query id, only for form content types up to ``body_limit`` bytes.

    >>> env = {"QUERY_STRING": "page=2&sid=abc.def"}
    >>> read_presented(env, cookie_name="s", url_param="sid", read_urls=True).url_value
    'abc.def'
    >>> env["QUERY_STRING"]
    'page=2'
    """
    header = environ.get("HTTP_COOKIE")
    presented = _parsed.get((header, cookie_name)) if type(header) is str else None
    if presented is None:
        presented = _read_cookies(header, cookie_name)
    if not read_urls:
        return presented
    query = environ.get("QUERY_STRING")
    if isinstance(query, str) and query:
        cleaned, found = strip_session_param(query, url_param)
        if found:
            environ["QUERY_STRING"] = cleaned
            _strip_uri(environ, "REQUEST_URI", url_param)
            _strip_uri(environ, "RAW_URI", url_param)
            return presented._replace(url_value=found[0])
    if environ.get("REQUEST_METHOD") == "POST" and not presented.has_our_cookie:
        value = form_field(environ, url_param, body_limit)
        if value is not None:
            return presented._replace(url_value=value)
    return presented


def choose_mode(tracking: str, *, cookies_proven: bool, from_url: bool) -> str:
    """Decide how this request's session id travels: cookie, url or both.

    >>> choose_mode("auto", cookies_proven=False, from_url=False)
    'both'
    >>> choose_mode("auto", cookies_proven=False, from_url=True)
    'url'
    >>> choose_mode("auto", cookies_proven=True, from_url=False)
    'cookie'
    """
    if tracking != "auto":
        return tracking
    if cookies_proven:
        return "cookie"
    return "url" if from_url else "both"


def user_agent_binding(environ: t.Mapping[str, t.Any]) -> str:
    """A short hash of the User-Agent a URL-tracked session is bound to.

    >>> user_agent_binding({"HTTP_USER_AGENT": "A"}) == user_agent_binding({})
    False
    """
    agent = str(environ.get("HTTP_USER_AGENT", ""))
    return hashlib.sha256(agent.encode("utf-8", "surrogateescape")).hexdigest()[:16]


class CookieProfile:
    """Builds the ``Set-Cookie`` headers of the session and probe cookies.

    >>> cp = CookieProfile("session", path="/", domain=None, secure="auto",
    ...                    httponly=True, samesite="Lax", max_age=None)
    >>> cp.set_header({"wsgi.url_scheme": "https"}, "abc")[1]
    'session=abc; Secure; HttpOnly; Path=/; SameSite=Lax'
    """

    def __init__(
        self,
        name: str,
        *,
        path: str,
        domain: str | None,
        secure: bool | str,
        httponly: bool,
        samesite: str | None,
        max_age: int | None,
        partitioned: bool = False,
    ) -> None:
        self.name = name
        self.probe_name = probe_name(name)
        self.path = path
        self.domain = domain
        self.secure = secure
        self.httponly = httponly
        self.samesite = samesite
        self.max_age = max_age
        #: The CHIPS ``Partitioned`` attribute (Werkzeug >= 3 only).
        self.partitioned = partitioned
        # The attributes of a browser-session cookie, by (name, Secure): all
        # but the value, which is the only part that changes per request.
        self._suffixes: dict[tuple[str, bool], str] = {}

    def is_secure(self, environ: t.Mapping[str, t.Any]) -> bool:
        """Whether cookies of this request get the Secure attribute."""
        if self.secure == "auto":
            return environ.get("wsgi.url_scheme") == "https"
        return bool(self.secure)

    def _header(
        self, environ: t.Mapping[str, t.Any], name: str, value: str, max_age: int | None
    ) -> tuple[str, str]:
        secure = self.is_secure(environ)
        if max_age is None and _PLAIN_VALUE.fullmatch(value):
            # Without Max-Age (and Expires) only the value changes: Werkzeug
            # formats the attributes once per name and Secure flag.
            suffix = self._suffixes.get((name, secure))
            if suffix is None:
                suffix = self._suffix(name, secure)
            if suffix is not None:
                return ("Set-Cookie", f"{name}={value}{suffix}")
        return ("Set-Cookie", self._dump(name, value, max_age, secure))

    def _dump(self, name: str, value: str, max_age: int | None, secure: bool) -> str:
        extra = {"partitioned": True} if self.partitioned else {}
        return dump_cookie(
            name,
            value,
            max_age=max_age,
            path=self.path,
            domain=self.domain,
            secure=secure,
            httponly=self.httponly,
            samesite=self.samesite,
            **extra,
        )

    def _suffix(self, name: str, secure: bool) -> str | None:
        """What follows ``name=value`` in a browser-session cookie's header."""
        head = f"{name}=x"
        full = self._dump(name, "x", None, secure)
        if not full.startswith(head):  # Werkzeug quoted the name: no shortcut
            return None
        self._suffixes[(name, secure)] = suffix = full[len(head) :]
        return suffix

    def set_header(self, environ: t.Mapping[str, t.Any], value: str) -> tuple[str, str]:
        """``Set-Cookie`` carrying the signed session id."""
        return self._header(environ, self.name, value, self.max_age)

    def expire_header(self, environ: t.Mapping[str, t.Any]) -> tuple[str, str]:
        """``Set-Cookie`` that deletes the session cookie."""
        return self._header(environ, self.name, "", 0)

    def probe_header(self, environ: t.Mapping[str, t.Any]) -> tuple[str, str]:
        """``Set-Cookie`` of the test cookie (a browser-session cookie)."""
        return self._header(environ, self.probe_name, "1", None)
