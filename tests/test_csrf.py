"""CSRF tokens (SPEC §13.2): the session's secret, csrf="check", by-hand checks."""

from __future__ import annotations

import io
import re
import threading
import typing as t

import jinja2
import pytest
from servers import free_port
from werkzeug.test import Client

from wsgi_session import (
    ConfigError,
    CSRFError,
    RejectReason,
    Session,
    SessionEvents,
    SessionMiddleware,
    check_csrf,
    csrf_input,
)
from wsgi_session.csrf import TOKEN_LENGTH
from wsgi_session.inifile import coerce_mapping
from wsgi_session.jinja import install

TOKEN_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


class Recorder(SessionEvents):
    """Records the reasons of ``rejected`` events."""

    def __init__(self) -> None:
        self.reasons: list[RejectReason] = []

    def rejected(self, environ: t.Any, reason: RejectReason) -> None:
        self.reasons.append(reason)


def form_app(calls: list[str]) -> t.Any:
    """A page with a form (GET) that records the form fields it receives (POST)."""

    def app(environ: dict[str, t.Any], start_response: t.Any) -> list[bytes]:
        from werkzeug.wrappers import Request

        request = Request(environ)
        session = environ["wsgi_session"]
        if request.method == "GET":
            if request.args.get("regenerate"):
                session.regenerate()
            body = f'<form method="post" action="/save">{csrf_input(environ)}</form>'
        else:
            calls.append(f"{request.method} {dict(request.form)}")
            session["saved"] = request.form.get("item", "")
            request.close()  # uploaded files
            body = "saved"
        start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
        return [body.encode()]

    return app


def checked(calls: list[str], **options: t.Any) -> SessionMiddleware:
    options.setdefault("secret_key", "k")
    options.setdefault("csrf", "check")
    return SessionMiddleware(form_app(calls), **options)


def token_of(response: t.Any) -> str:
    return TOKEN_RE.search(response.get_data(as_text=True))[1]  # type: ignore[index]


def test_tokens_are_masked_afresh_and_all_verify():
    """Every csrf_token() call gives another string; each verifies."""
    s = Session.detached()
    tokens = {s.csrf_token() for _ in range(20)}
    assert len(tokens) == 20 and all(len(x) == TOKEN_LENGTH for x in tokens)
    assert all(s.check_csrf(x) for x in tokens)


def test_the_secret_makes_a_new_session_non_empty():
    """A page that only renders a token stores the session and sets its cookie."""
    client = Client(checked([]))
    response = client.get("/")
    assert "session=" in response.headers.get("Set-Cookie", "")
    assert (
        client.post("/save", data={"csrf_token": token_of(response)}).status_code == 200
    )


def test_a_post_without_a_token_is_refused_before_the_app_runs():
    """csrf="check": 403, the app is not called, rejected(CSRF_FAILED) fires."""
    calls: list[str] = []
    events = Recorder()
    client = Client(checked(calls, events=events))
    client.get("/")
    response = client.post("/save", data={"item": "x"})
    assert response.status_code == 403 and calls == []
    assert events.reasons == [RejectReason.CSRF_FAILED]
    assert b"CSRF" in response.data


def test_a_form_token_passes_and_the_app_still_reads_the_whole_form():
    """The token field is read without consuming the body the app reads."""
    calls: list[str] = []
    client = Client(checked(calls))
    token = token_of(client.get("/"))
    response = client.post("/save", data={"csrf_token": token, "item": "pear"})
    assert response.status_code == 200
    assert calls == [f"POST {{'csrf_token': '{token}', 'item': 'pear'}}"]


def test_a_multipart_form_token_passes():
    """Multipart bodies (with a file) carry the token as a field too."""
    calls: list[str] = []
    client = Client(checked(calls))
    token = token_of(client.get("/"))
    data = {"csrf_token": token, "item": "x", "upload": (io.BytesIO(b"abc"), "a.txt")}
    response = client.post("/save", data=data, content_type="multipart/form-data")
    assert response.status_code == 200 and calls and "'item': 'x'" in calls[0]


def test_the_header_token_passes_for_every_checked_method():
    """X-CSRF-Token works for POST, PUT, PATCH and DELETE; each needs it."""
    calls: list[str] = []
    client = Client(checked(calls))
    token = token_of(client.get("/"))
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        assert client.open("/save", method=method).status_code == 403
        ok = client.open("/save", method=method, headers={"X-CSRF-Token": token})
        assert ok.status_code == 200, method
    assert [c.split()[0] for c in calls] == ["POST", "PUT", "PATCH", "DELETE"]


def test_safe_methods_are_not_checked():
    """GET, HEAD and OPTIONS reach the app without a token."""
    client = Client(checked([]))
    for method in ("GET", "HEAD", "OPTIONS"):
        assert client.open("/", method=method).status_code == 200


def test_a_token_of_another_session_is_refused():
    """A token verifies only against the secret of its own session."""
    mw = checked([])
    alice, mallory = Client(mw), Client(mw)
    alice.get("/")
    foreign = token_of(mallory.get("/"))
    assert alice.post("/save", data={"csrf_token": foreign}).status_code == 403


@pytest.mark.parametrize(
    "token",
    ["", "x", "A" * TOKEN_LENGTH, "é" * TOKEN_LENGTH, "=" * TOKEN_LENGTH, "A" * 10_000],
)
def test_forged_tokens_get_403_never_500(token: str):
    """Garbage, truncated, non-ASCII and huge tokens are refused cleanly."""
    client = Client(checked([]))
    real = token_of(client.get("/"))
    assert client.post("/save", data={"csrf_token": token}).status_code == 403
    truncated = real[:-1]
    assert client.post("/save", headers={"X-CSRF-Token": truncated}).status_code == 403


def test_exempt_prefixes_skip_the_check_and_others_do_not():
    """csrf_exempt lists PATH_INFO prefixes that are not checked."""
    calls: list[str] = []
    client = Client(checked(calls, csrf_exempt=("/api/",)))
    assert client.post("/api/hook").status_code == 200
    assert client.post("/apix").status_code == 403
    assert calls == ["POST {}"]


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 403),  # neither Origin nor Referer
        ({"Origin": "https://evil.example"}, 403),
        ({"Origin": "null"}, 403),
        ({"Origin": "http://localhost"}, 403),  # another scheme: another origin
        ({"Origin": "https://localhost"}, 200),
        ({"Referer": "https://localhost/form"}, 200),
        ({"Referer": "https://evil.example/localhost"}, 403),
    ],
)
def test_https_requests_must_come_from_the_sites_own_origin(
    headers: dict[str, str], status: int
):
    """On HTTPS a valid token is not enough: Origin / Referer must be ours."""
    client = Client(checked([]))
    token = token_of(client.get("/", base_url="https://localhost/"))
    response = client.post(
        "/save",
        data={"csrf_token": token},
        headers=headers,
        base_url="https://localhost/",
    )
    assert response.status_code == status


def test_regenerate_rotates_the_secret():
    """Tokens issued before regenerate() (a login) stop verifying after it."""
    client = Client(checked([]))
    old = token_of(client.get("/"))
    new = token_of(client.get("/?regenerate=1"))
    assert client.post("/save", data={"csrf_token": old}).status_code == 403
    assert client.post("/save", data={"csrf_token": new}).status_code == 200


def test_url_tracked_clients_are_protected_and_tokens_never_enter_urls():
    """Without cookies: the form carries the id and the token; links carry the
    id only, and a POST without the token is refused."""
    calls: list[str] = []
    mw = checked(calls, tracking="url", rewrite_html=True)
    client = Client(mw, use_cookies=False)
    page = client.get("/").get_data(as_text=True)
    sid = re.search(r'name="sid" value="([^"]+)"', page)[1]  # type: ignore[index]
    token = TOKEN_RE.search(page)[1]  # type: ignore[index]
    assert 'action="/save?sid=' in page and token not in page.split("action=")[1][:200]
    assert client.post("/save", data={"sid": sid}).status_code == 403
    ok = client.post("/save", data={"sid": sid, "csrf_token": token, "item": "a"})
    assert ok.status_code == 200 and calls == [
        f"POST {{'sid': '{sid}', 'csrf_token': '{token}', 'item': 'a'}}"
    ]


def test_check_csrf_by_hand_raises_csrf_error():
    """check_csrf(environ) works with csrf="off": CSRFError names the problem."""
    seen: list[str] = []

    def app(environ: dict[str, t.Any], start_response: t.Any) -> list[bytes]:
        if environ["REQUEST_METHOD"] == "POST":
            try:
                check_csrf(environ)
                seen.append("ok")
            except CSRFError as exc:
                seen.append(exc.reason)
        body = str(csrf_input(environ)).encode()
        start_response("200 OK", [("Content-Type", "text/html")])
        return [body]

    client = Client(SessionMiddleware(app, secret_key="k"))
    token = token_of(client.get("/"))
    client.post("/", data={"csrf_token": "forged"})
    client.post("/", data={"csrf_token": token})
    client.post("/")
    assert seen == [
        "the CSRF token does not belong to this session",
        "ok",
        "no CSRF token",
    ]


def test_a_store_outage_during_the_check_is_a_503():
    """The check loads the session: an unreachable store answers 503, not 500."""
    calls: list[str] = []
    mw = checked(calls, store=f"redis://127.0.0.1:{free_port()}/0")
    client = Client(mw)
    client.set_cookie("session", mw.signer.sign("A" * 43))
    response = client.post("/save", data={"csrf_token": "x"})
    assert response.status_code == 503 and calls == []


def test_a_refused_request_releases_the_session_lock():
    """concurrency="lock": the 403 ends the request, so the next one is served."""
    client = Client(checked([], concurrency="lock", lock_timeout=2))
    token = token_of(client.get("/"))
    assert client.post("/save").status_code == 403
    done = threading.Event()

    def follow_up() -> None:
        client.post("/save", data={"csrf_token": token})
        done.set()

    thread = threading.Thread(target=follow_up)
    thread.start()
    thread.join(5)
    assert done.is_set()


def test_settings_are_validated_and_coerced_from_ini_strings():
    """csrf takes off/check; csrf_exempt takes prefixes starting with '/'."""
    with pytest.raises(ConfigError, match="csrf"):
        SessionMiddleware(lambda e, s: [], secret_key="k", csrf="maybe")
    with pytest.raises(ConfigError, match="csrf_exempt"):
        SessionMiddleware(lambda e, s: [], secret_key="k", csrf_exempt=["api/"])
    options = coerce_mapping(
        {"secret_key": "k", "csrf": "check", "csrf_exempt": "/api/\n/hooks/"},
        source="test.ini",
    )
    assert options["csrf_exempt"] == ("/api/", "/hooks/")


def test_jinja_globals_render_a_token_and_an_input():
    """csrf_input() and csrf_token() are Jinja globals after install()."""
    env = jinja2.Environment(autoescape=True)
    install(env)
    template = env.from_string("{{ csrf_input() }}|{{ csrf_token() }}")

    def app(environ: dict[str, t.Any], start_response: t.Any) -> list[bytes]:
        body = template.render(environ=environ).encode()
        start_response("200 OK", [("Content-Type", "text/html")])
        return [body]

    client = Client(SessionMiddleware(app, secret_key="k"))
    field, token = client.get("/").get_data(as_text=True).split("|")
    session = Session.detached()
    assert 'name="csrf_token"' in field and len(token) == TOKEN_LENGTH
    assert not session.check_csrf(token)  # a token of that request's session only
    assert env.from_string("[{{ csrf_input() }}]").render(environ={}) == "[]"
