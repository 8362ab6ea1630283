"""Holding the app's WSGI response until the session is saved.

:class:`ResponseEditor` calls the application with a ``start_response`` of its
own, waits for the first body chunk (PEP 3333 allows this), saves the session,
and only then passes status and headers on: so a failed save can still become
a ``503``. What the headers and an HTML body get is decided in
:mod:`wsgi_session.finish`. The application's iterable is always closed.
"""

from __future__ import annotations

import itertools
import logging
import typing as t
from collections.abc import Iterable, Iterator

from .errors import StoreUnavailable
from .finish import (
    Headers,
    finish_headers,
    rewrite_body,
    unavailable_response,
    untouched_headers,
    wants_html_rewrite,
)
from .finish import add_vary as add_vary

if t.TYPE_CHECKING:  # pragma: no cover
    from .middleware import RequestContext, SessionMiddleware, StartResponse, WSGIApp

__all__ = ["ResponseEditor", "add_vary", "complete_body"]

log = logging.getLogger("wsgi_session")


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


#: What ``next(stream, _END)`` returns at the end of a stream.
_END: t.Any = object()


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
        #: What the app passed to ``start_response``; None until it does.
        self.status: str | None
        self.exc_info: t.Any
        self.headers: Headers = []
        self.app_iter: Iterable[bytes] | None
        self._server_write: t.Callable[[bytes], object] | None
        self.status = self.exc_info = self.app_iter = self._server_write = None
        #: True once status and headers went to the server.
        self.sent = self.closed = False

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
        # complete_body() inlined: a list or tuple body, or a framework's
        # iterator (Flask's), costs no call here.
        kind = type(app_iter)
        if kind is list:
            body: list[bytes] | None = app_iter  # type: ignore[assignment]
        else:
            body = list(app_iter) if kind is tuple else None
        if (
            body is not None
            and self.status is not None
            and not self.sent
            and (request.state is None or not request.state.accessed)
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
                stream = self._first_chunk(body, stream)
            status = self.status
            if (
                self.middleware.settings.rewrite_html  # off by default: skip the call
                and status is not None
                and wants_html_rewrite(self.request, status, self.headers)
            ):
                if stream is not None:
                    body.extend(stream)
                    stream = iter(())
                self.headers, whole = rewrite_body(
                    self.request, self.headers, b"".join(body)
                )
                body = [whole]
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

    def _first_chunk(
        self, body: list[bytes], stream: Iterator[bytes]
    ) -> Iterator[bytes] | None:
        """Pull the first non-empty chunk of ``stream`` into ``body``; return
        the rest of the stream, or None when the body is known complete.

        It is complete when the stream ended, or when the first chunk is as
        long as the response's ``Content-Length`` and the stream then ends
        (one more ``next()``: nothing can follow such a chunk, so no streamed
        response waits for it). Framework responses (Flask's, Django's) are
        iterators over one chunk: complete, they are sent as a list, with no
        wrapper around the server's iteration (issue 16: that wrapper was
        most of the Flask overhead).
        """
        for chunk in stream:
            if chunk:
                body.append(chunk)
                break
        else:
            return None  # the stream ended
        # header_value(headers, "Content-Length") inlined, lower-casing only
        # the names of its length: this runs for every Flask response.
        for name, value in self.headers:
            if len(name) == 14 and name.lower() == "content-length":
                if value.strip() != str(len(body[0])):
                    return stream
                break
        else:
            return stream  # no Content-Length
        following = next(stream, _END)
        return None if following is _END else itertools.chain((following,), stream)

    def _untouched(self, body: list[bytes]) -> list[bytes]:
        """Pass on the response of a request that never used its session (the
        editor is done with then: nothing to save, close or release)."""
        headers = untouched_headers(self.request, self.headers)
        self.start_response(self.status, headers, self.exc_info)
        self.request.end()
        return body

    def _send_headers(self) -> None:
        if self.status is None:
            raise RuntimeError("the application did not call start_response")
        self.headers = headers = finish_headers(self.request, self.headers)
        self._server_write = self.start_response(self.status, headers, self.exc_info)
        self.sent = True

    # -- the end --------------------------------------------------------------

    def after_body(self) -> None:
        """Best-effort save of changes made while the body was streamed."""
        self.request.headers_sent = True  # no new id can reach the client now
        state = self.request.state
        if state is not None and state.modified:
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
            if type(self.app_iter) is not list:  # a list has nothing to close
                _close(self.app_iter)
        finally:
            self.request.release()
            if self.sent:
                self.request.suspended()
            self.request.end()

    def _unavailable(self, exc: StoreUnavailable) -> list[bytes]:
        log.warning("wsgi_session: session store unavailable: %s", exc)
        status, headers, body = unavailable_response()
        self.start_response(status, headers, self.exc_info)
        self.sent = True
        return [body]
