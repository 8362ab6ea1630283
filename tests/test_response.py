"""The response editor: which bodies count as complete, and what streams."""

from __future__ import annotations

import typing as t

from wsgi_session import SessionMiddleware, open_store


def start_response_recorder() -> tuple[list[t.Any], t.Any]:
    seen: list[t.Any] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc: t.Any = None):
        seen.append((status, headers))
        return lambda data: None

    return seen, start_response


class ClosingBody:
    """An iterator over chunks with a close(), as framework responses are."""

    def __init__(self, chunks: list[bytes], events: list[str]) -> None:
        self.chunks = iter(chunks)
        self.events = events

    def __iter__(self) -> t.Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        chunk = next(self.chunks)
        self.events.append(f"chunk {chunk!r}")
        return chunk

    def close(self) -> None:
        self.events.append("close")


def app_with(chunks: list[bytes], length: int | None, events: list[str]) -> t.Any:
    def app(environ: dict[str, t.Any], start_response: t.Any) -> t.Any:
        environ["wsgi_session"]["n"] = 1
        headers = [("Content-Type", "text/plain")]
        if length is not None:
            headers.append(("Content-Length", str(length)))
        start_response("200 OK", headers)
        return ClosingBody(chunks, events)

    return app


def test_an_iterator_whose_content_length_is_met_is_sent_as_a_list():
    """One chunk of Content-Length bytes, then the end: a complete body, closed
    (and the session saved) before the server gets it."""
    events: list[str] = []
    mw = SessionMiddleware(app_with([b"hello"], 5, events), secret_key="k")
    seen, start_response = start_response_recorder()
    body = mw({"REQUEST_METHOD": "GET"}, start_response)
    assert body == [b"hello"] and events == ["chunk b'hello'", "close"]
    assert any(name == "Set-Cookie" for name, _ in seen[0][1])


def test_a_stream_without_content_length_is_streamed_after_the_first_chunk():
    """Without Content-Length the headers go out after the first chunk and the
    rest is pulled only by the server."""
    events: list[str] = []
    mw = SessionMiddleware(app_with([b"a", b"b"], None, events), secret_key="k")
    seen, start_response = start_response_recorder()
    body = mw({"REQUEST_METHOD": "GET"}, start_response)
    assert seen and events == ["chunk b'a'"]  # headers sent, 'b' not pulled yet
    assert list(body) == [b"a", b"b"]
    body.close()  # type: ignore[attr-defined]
    assert events == ["chunk b'a'", "chunk b'b'", "close"]


def test_a_body_longer_than_its_first_chunk_keeps_streaming():
    """A first chunk shorter than Content-Length: the rest streams as before."""
    events: list[str] = []
    mw = SessionMiddleware(app_with([b"ab", b"cd"], 4, events), secret_key="k")
    _seen, start_response = start_response_recorder()
    body = mw({"REQUEST_METHOD": "GET"}, start_response)
    assert events == ["chunk b'ab'"]
    assert list(body) == [b"ab", b"cd"]
    body.close()  # type: ignore[attr-defined]
    assert events[-1] == "close"


def test_a_lying_content_length_loses_no_chunk():
    """A chunk follows one that met Content-Length: it is still sent."""
    events: list[str] = []
    mw = SessionMiddleware(app_with([b"ab", b"cd"], 2, events), secret_key="k")
    _seen, start_response = start_response_recorder()
    body = mw({"REQUEST_METHOD": "GET"}, start_response)
    assert list(body) == [b"ab", b"cd"]
    body.close()  # type: ignore[attr-defined]
    assert events[-1] == "close"


def test_a_generator_runs_its_code_after_the_last_chunk_before_the_save():
    """Pulling to the end runs what a generator does after its last yield (here:
    a session change), and that change is saved with the response."""

    def app(environ: dict[str, t.Any], start_response: t.Any) -> t.Any:
        session = environ["wsgi_session"]
        start_response("200 OK", [("Content-Length", "2")])

        def produce() -> t.Iterator[bytes]:
            yield b"ok"
            session["after"] = True

        return produce()

    mw = SessionMiddleware(app, secret_key="k")
    seen, start_response = start_response_recorder()
    assert mw({"REQUEST_METHOD": "GET"}, start_response) == [b"ok"]
    assert any(name == "Set-Cookie" for name, _ in seen[0][1])  # the session is new


def _environ(cookie: str | None = None) -> dict[str, t.Any]:
    environ: dict[str, t.Any] = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/",
        "HTTP_USER_AGENT": "test-agent",
    }
    if cookie is not None:
        environ["HTTP_COOKIE"] = cookie
    return environ


def _session_cookie(seen: list[t.Any]) -> str:
    for name, value in seen[-1][1]:
        if name == "Set-Cookie" and value.startswith("session="):
            return value.split(";", 1)[0]
    raise AssertionError("no session cookie")


def _counting_app(touch: bool) -> t.Any:
    def app(environ: dict[str, t.Any], start_response: t.Any) -> t.Any:
        if touch:
            session = environ["wsgi_session"]
            session["n"] = session.get("n", 0) + 1
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    return app


def test_request_objects_are_freed_without_the_garbage_collector():
    """Once the server drops the environ and the body, the session, its
    state and the request's pipeline are gone by reference counting alone
    (no reference cycle is left for the garbage collector)."""
    import gc
    import weakref

    for touch in (True, False):
        mw = SessionMiddleware(_counting_app(touch), secret_key="k")
        _seen, start_response = start_response_recorder()
        environ = _environ()
        gc.disable()
        try:
            body = mw(environ, start_response)
            assert b"".join(body) == b"ok"
            gc.collect()
            context = weakref.ref(environ["wsgi_session.context"])
            del environ, body
            assert context() is None, touch
            assert gc.collect() == 0, touch  # nothing was left in a cycle
        finally:
            gc.enable()


def test_an_outer_middleware_uses_the_session_after_the_response():
    """After the response is complete the session still reads, and a
    session the app never touched still loads, while the environ lives."""
    store = open_store("memory://")
    mw = SessionMiddleware(_counting_app(True), secret_key="k", store=store)
    seen, start_response = start_response_recorder()
    mw(_environ(), start_response)
    cookie = _session_cookie(seen)
    environ = _environ(cookie)
    assert mw(environ, start_response) == [b"ok"]
    assert environ["wsgi_session"]["n"] == 2  # read after the response

    untouched = SessionMiddleware(_counting_app(False), secret_key="k", store=store)
    environ = _environ(cookie)
    assert untouched(environ, start_response) == [b"ok"]
    assert environ["wsgi_session"].get("n") == 2  # first used after it


def test_a_session_kept_beyond_its_environ_says_its_request_ended():
    """A session kept after the server dropped its environ cannot reach
    its request any more: store operations raise ReferenceError."""
    import pytest

    mw = SessionMiddleware(_counting_app(True), secret_key="k")
    _seen, start_response = start_response_recorder()
    environ = _environ()
    mw(environ, start_response)
    session = environ["wsgi_session"]
    del environ
    assert session["n"] == 1  # its data stays readable
    with pytest.raises(ReferenceError):
        session.destroy()
