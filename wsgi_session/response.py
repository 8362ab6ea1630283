"""Holding the app's response until the session is saved, then editing its headers.

:class:`ResponseEditor` calls the application with a ``start_response`` of its
own, waits for the first body chunk (PEP 3333 allows this), saves the session,
and only then passes status and headers on: so a failed save can still become
a ``503``. It adds the session's ``Set-Cookie``, ``Vary: Cookie``, the probe
cookie and, in URL mode, rewrites ``Location`` and HTML and adds leak
protection headers. The application's iterable is always closed.
"""

from __future__ import annotations

import logging
import typing as t
from collections.abc import Iterable, Iterator

from .errors import StoreUnavailable
from .rewrite import (
    add_session_param,
    charset_of,
    hidden_input_markup,
    request_origin,
    rewrite_html,
)
from .rewrite import rewrite_location as _rewrite_location

if t.TYPE_CHECKING:  # pragma: no cover
    from .middleware import RequestContext, SessionMiddleware, StartResponse, WSGIApp

__all__ = ["ResponseEditor", "add_vary", "complete_body"]

log = logging.getLogger("wsgi_session")
Headers = t.List[t.Tuple[str, str]]
UNAVAILABLE_BODY = b"Service temporarily unavailable. Please try again shortly.\n"


def _has(headers: Headers, name: str) -> bool:
    lname = name.lower()
    return any(k.lower() == lname for k, _ in headers)


def _get(headers: Headers, name: str) -> str | None:
    lname = name.lower()
    for k, v in headers:
        if k.lower() == lname:
            return v
    return None


def add_vary(headers: Headers, value: str) -> None:
    """Add ``value`` to the ``Vary`` header unless it is already listed.

    >>> h = [("Vary", "Accept-Encoding")]; add_vary(h, "Cookie"); h
    [('Vary', 'Accept-Encoding, Cookie')]
    """
    for i, (k, v) in enumerate(headers):
        if len(k) == 4 and k.lower() == "vary":
            items = [p.strip().lower() for p in v.split(",")]
            if value.lower() not in items and "*" not in items:
                headers[i] = (k, f"{v}, {value}")
            return
    headers.append(("Vary", value))


def complete_body(app_iter: Iterable[bytes]) -> list[bytes] | None:
    """The whole body when the app returned it complete (a list or tuple),
    else None (an iterator: the body is produced while it is sent).

    A complete body has no ``close`` to call and runs no application code
    while the server sends it.

    >>> complete_body([b"a"]), complete_body((b"a", b"b")), complete_body(iter([]))
    ([b'a'], [b'a', b'b'], None)
    """
    kind = type(app_iter)
    if kind is list:
        return app_iter  # type: ignore[return-value]  # a list of bytes, per WSGI
    if kind is tuple:
        return list(app_iter)
    return None


def _close(iterable: object) -> None:
    close = getattr(iterable, "close", None)
    if close is not None:
        close()


class _Body:
    """The WSGI iterable handed to the server: closes everything it holds."""

    def __init__(
        self, editor: ResponseEditor, first: list[bytes], rest: Iterator[bytes]
    ):
        self.editor = editor
        self.first = first
        self.rest = rest

    def __iter__(self) -> Iterator[bytes]:
        yield from self.first
        self.first = []
        yield from self.rest
        self.editor.after_body()

    def close(self) -> None:
        self.editor.close()


class ResponseEditor:
    """Runs the app for one request and coordinates save and headers."""

    __slots__ = (
        "_server_write",
        "app_iter",
        "closed",
        "environ",
        "exc_info",
        "headers",
        "middleware",
        "request",
        "sent",
        "start_response",
        "status",
    )

    def __init__(
        self,
        middleware: SessionMiddleware,
        request: RequestContext,
        start_response: StartResponse,
    ) -> None:
        self.middleware = middleware
        self.request = request
        self.environ = request.environ
        self.start_response = start_response
        self.status: str | None = None
        self.headers: Headers = []
        self.exc_info: t.Any = None
        #: True once status and headers went to the server.
        self.sent = self.closed = False
        self.app_iter: Iterable[bytes] | None = None
        self._server_write: t.Callable[[bytes], object] | None = None

    # -- the app's start_response and write ---------------------------------

    def _capture(
        self, status: str, headers: Headers, exc_info: t.Any = None
    ) -> t.Callable[[bytes], object]:
        if exc_info is not None and self.sent:
            raise exc_info[1].with_traceback(exc_info[2])
        # Kept as given: copied before any change (the app may reuse its list).
        self.status, self.headers, self.exc_info = status, headers, exc_info
        return self._write

    def _write(self, data: bytes) -> None:
        if not self.sent:
            self._send_headers()
        assert self._server_write is not None
        self._server_write(data)

    # -- the flow -------------------------------------------------------------

    def run(self, app: WSGIApp) -> Iterable[bytes]:
        """Call the app; return the iterable to give the server."""
        try:
            self.app_iter = app_iter = app(self.environ, self._capture)
        except StoreUnavailable as exc:
            self.close()
            return self._unavailable(exc)
        except BaseException:
            self.close()
            raise
        request = self.request
        body = complete_body(app_iter)
        if (
            body is not None
            and self.status is not None
            and not self.sent
            and not request.session.state.accessed
            and (request.presented.url_value is None or not request.url_id_pending())
        ):
            # The common untouched request: the body is complete, so no app
            # code runs while it is sent and the session cannot be used any
            # more; nothing to save, nothing to close.
            return self._untouched(body)
        if self.sent:  # the app used write(): headers are out already
            return _Body(self, [], iter(app_iter))
        if body is not None:
            return self._respond(body, None)
        return self._respond([], iter(app_iter))

    def _respond(
        self, body: list[bytes], stream: Iterator[bytes] | None
    ) -> Iterable[bytes]:
        """Save, send the headers, then hand the server the body.

        ``body`` is the whole body when the app produced a list or tuple
        (``stream`` is None); otherwise the headers wait for the first
        non-empty chunk of ``stream``, pulled here, and the rest is streamed.
        """
        try:
            if stream is not None:
                for chunk in stream:
                    if chunk:
                        body.append(chunk)
                        break
            if self.middleware.settings.rewrite_html and self._wants_html_rewrite():
                if stream is not None:
                    body.extend(stream)
                    stream = iter(())
                body = [self._rewrite_body(b"".join(body))]
            self._send_headers()
        except StoreUnavailable as exc:
            self.close()
            return self._unavailable(exc)
        except BaseException:
            self.close()
            raise
        if stream is not None:
            return _Body(self, body, stream)
        # The body is complete: end the request now (release the session lock,
        # fire ``suspended``) rather than when the server closes the body.
        self.close()
        return body

    def _untouched(self, body: list[bytes]) -> list[bytes]:
        """Pass on the response of a request that never used its session (the
        editor is done with then: nothing to save, close or release)."""
        headers = self.headers
        probe = self.request.cookie_policy.probe(self.request)
        if probe is not None:
            headers = [*headers, probe]
        self.start_response(self.status, headers, self.exc_info)
        return body

    def _send_headers(self) -> None:
        if self.status is None:
            raise RuntimeError("the application did not call start_response")
        self.headers = list(self.headers)  # ours to change from here on
        request = self.request
        state = request.session.state
        if state.tracking != "cookie" or not state.loaded:
            token = request.url_token()
            if token is not None:
                self._url_mode_headers(token)  # before saving: it may expose the id
        cookies = request.save()
        headers = self.headers
        if cookies:
            headers.extend(cookies)
        if state.accessed or cookies:  # a response that sets the cookie varies by it
            add_vary(headers, "Cookie")
        probe = request.cookie_policy.probe(request)
        if probe is not None:
            headers.append(probe)
        self._server_write = self.start_response(self.status, headers, self.exc_info)
        self.sent = True

    def _url_mode_headers(self, token: str) -> None:
        headers = self.headers
        param = self.middleware.settings.url_param
        origin = request_origin(self.environ)
        for i, (k, v) in enumerate(headers):
            if k.lower() == "location":
                new = _rewrite_location(v, param=param, token=token, origin=origin)
                if new != v:
                    headers[i] = (k, new)
                    self.request.exposed = True
        if not _has(headers, "Referrer-Policy"):
            headers.append(("Referrer-Policy", "same-origin"))
        if not _has(headers, "Cache-Control"):
            headers.append(("Cache-Control", "private"))

    # -- HTML rewriting -------------------------------------------------------

    def _wants_html_rewrite(self) -> bool:
        if not self.middleware.settings.rewrite_html or self.status is None:
            return False
        if self.environ.get("REQUEST_METHOD") == "HEAD":
            return False
        if self.status[:3] in ("304", "204") or _has(self.headers, "Content-Encoding"):
            return False
        ctype = (_get(self.headers, "Content-Type") or "").split(";")[0].strip()
        if ctype.lower() not in ("text/html", "application/xhtml+xml"):
            return False
        state = self.request.session.state
        return state.loaded and state.tracking != "cookie"

    def _rewrite_body(self, body: bytes) -> bytes:
        token = self.request.url_token()
        if token is None:
            return body
        param = self.middleware.settings.url_param
        origin = request_origin(self.environ)

        def url_fn(url: str) -> str:
            return add_session_param(url, param=param, token=token, origin=origin)

        ctype = _get(self.headers, "Content-Type") or "text/html"
        new = rewrite_html(
            body, charset_of(ctype), url_fn, str(hidden_input_markup(param, token))
        )
        if new != body:
            self.request.exposed = True
            self.headers = [
                (k, v) for k, v in self.headers if k.lower() != "content-length"
            ]
            self.headers.append(("Content-Length", str(len(new))))
        return new

    # -- the end --------------------------------------------------------------

    def after_body(self) -> None:
        """Best-effort save of changes made while the body was streamed."""
        if self.request.session.state.modified:
            try:
                self.request.save()
            except Exception:
                log.warning(
                    "wsgi_session: could not save changes made during streaming"
                )

    def close(self) -> None:
        """Close the app's iterable, release locks, fire ``suspended``; idempotent."""
        if self.closed:
            return
        self.closed = True
        try:
            _close(self.app_iter)
        finally:
            self.request.release()
            if self.sent:
                self.request.suspended()

    def _unavailable(self, exc: StoreUnavailable) -> list[bytes]:
        log.warning("wsgi_session: session store unavailable: %s", exc)
        headers = [
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Length", str(len(UNAVAILABLE_BODY))),
            ("Retry-After", "5"),
            ("Cache-Control", "no-store"),
        ]
        self.start_response("503 Service Unavailable", headers, self.exc_info)
        self.sent = True
        return [UNAVAILABLE_BODY]
