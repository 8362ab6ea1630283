"""Hostile input through the Django drop-in (SPEC §4, §11; issue 11 "Bad input").

The generated cookie headers, query strings and form bodies of
``tests/hostile/strategies.py`` are sent to the unwrapped Django application
of the test project, whose views use ``request.session``: the status is never
5xx, and a session the server did not issue is never resumed (the counter
view starts again at 1 unless the id is one the pool got from the server).
"""

from __future__ import annotations

import io
import typing as t

import django_project
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.hostile import strategies as hs

pytest.importorskip("django")

from django.test import override_settings

HOSTILE = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
MODES = st.sampled_from(["auto", "url", "cookie"])


@pytest.fixture(scope="module")
def world() -> tuple[t.Any, list[str]]:
    """The unwrapped application and a pool of genuine session keys."""
    django_project.migrate()
    from wsgi_session.django.engine import SessionStore

    pool = []
    for _ in range(3):
        store = SessionStore()
        store["count"] = 100
        store.save()
        pool.append(store.session_key)
    return django_project.wsgi_application(), pool


def serve(app: t.Any, environ: dict[str, t.Any]) -> tuple[str, bytes]:
    """One request; its status line and body."""
    seen: list[str] = []

    def start_response(status: str, headers: t.Any, exc_info: t.Any = None) -> t.Any:
        seen[:] = [status]
        return lambda data: None

    body = b"".join(app(environ, start_response))
    return seen[0], body


def base_environ(method: str = "GET") -> dict[str, t.Any]:
    """A minimal WSGI environ for /dj/count/."""
    return {
        "REQUEST_METHOD": method,
        "PATH_INFO": "/dj/count/",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "HTTP_HOST": "testserver",
        "HTTP_USER_AGENT": "hostile/1.0",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(),
        "wsgi.errors": io.StringIO(),
    }


def assert_sane(status: str, body: bytes) -> None:
    """Never 5xx; a resumed counter (> 1) only from a genuine pooled session."""
    assert not status.startswith("5"), (status, body[:300])
    if status.startswith("200"):
        count = int(body)
        assert count == 1 or count > 100, count


def pool_of(world: tuple[t.Any, list[str]]) -> list[str]:
    """Genuine keys plus values that look like them."""
    return [*world[1], "A" * 43 + ".forged"]


@pytest.mark.slow
def test_cookie_headers_and_query_strings_never_fail(world):
    """Generated Cookie headers and query strings never cause a 5xx."""
    app = world[0]
    pool = pool_of(world)

    @HOSTILE
    @given(
        cookie=st.one_of(st.none(), hs.cookie_headers(pool, cookie_name="sessionid")),
        query=hs.query_strings(pool),
        mode=MODES,
    )
    def check(cookie: str | None, query: str, mode: str) -> None:
        environ = base_environ()
        environ["QUERY_STRING"] = query
        if cookie is not None:
            environ["HTTP_COOKIE"] = cookie
        with override_settings(WSGI_SESSION={"tracking": mode}):
            assert_sane(*serve(app, environ))

    check()


@pytest.mark.slow
def test_form_bodies_never_fail(world):
    """Generated urlencoded bodies (some mislabelled, some lying about their
    length) never cause a 5xx and never lose Django its POST data."""
    app = world[0]
    pool = pool_of(world)

    @HOSTILE
    @given(
        request=hs.urlencoded_requests(pool),
        length=st.sampled_from(["exact", "short", "long", "junk"]),
        mode=MODES,
    )
    def check(request: tuple[str, bytes], length: str, mode: str) -> None:
        ctype, body = request
        environ = base_environ("POST")
        environ["CONTENT_TYPE"] = ctype
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = {
            "exact": str(len(body)),
            "short": str(max(0, len(body) - 3)),
            "long": str(len(body) + 50),
            "junk": "12x",
        }[length]
        with override_settings(WSGI_SESSION={"tracking": mode}):
            status, answer = serve(app, environ)
        assert_sane(status, answer)

    check()
