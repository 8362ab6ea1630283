"""Adversarial suite: one named attack per test (SPEC §4, §5, §11; OWASP sessions).

Every test plays an attacker against the real middleware (memory store unless
the attack needs a real Redis, Memcached or file store) and states the
defence in its docstring. Events are counted with a ``SessionEvents``
subclass; nothing is mocked.
"""

from __future__ import annotations

import base64
import gc
import json
import logging
import os
import pickle
import re
import secrets
import struct
import sys
import typing as t
import warnings
from pathlib import Path
from urllib.parse import parse_qsl, quote, unquote, urlencode

import pytest
from servers import send
from werkzeug.test import Client, EnvironBuilder
from werkzeug.wrappers import Request

from tests.apps import SECRET, session_app, set_cookies
from tests.test_middleware import Recorder
from wsgi_session import (
    EndReason,
    RejectReason,
    SessionMiddleware,
    get_session,
    hidden_input,
    rewrite_url,
)
from wsgi_session.middleware import store_key
from wsgi_session.session import SessionMeta
from wsgi_session.signing import new_session_id

VICTIM_UA = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Victim/1.0"}
TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{20,}")


# ------------------------------------------------------------------ the app


def portal_app(environ: dict[str, t.Any], start_response: t.Callable[..., t.Any]):
    """A legacy portal: ``/seed`` starts an anonymous session, ``/login``
    regenerates then logs in (form field or ``?user=``), ``/logout`` destroys,
    ``/redirect?next=`` redirects, ``/page`` serves HTML from
    ``environ["portal.html"]``; anything else reports the session as JSON."""
    request = Request(environ)
    s = get_session(environ)
    path = request.path
    if path == "/seed":
        s["cart"] = ["planted"]
    elif path == "/login":
        if environ.get("portal.regenerate", True):
            s.regenerate()
        s["user"] = request.form.get("user") or request.args.get("user", "victim")
    elif path == "/logout":
        s.destroy()
    elif path == "/redirect":
        s.get("user")
        start_response("302 Found", [("Location", request.args.get("next", "/"))])
        return [b""]
    elif path == "/page":
        s.get("user")
        html = environ["portal.html"].encode()
        start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
        return [html]
    body = {
        "data": s.all(),
        "id": s.id,
        "tracking": s.tracking,
        "link": rewrite_url(environ, "/next"),
        "input": str(hidden_input(environ)),
        "query": environ.get("QUERY_STRING", ""),
        "form": request.form.to_dict(),
    }
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(body).encode()]


def portal(**options: t.Any) -> SessionMiddleware:
    options.setdefault("secret_key", SECRET)
    return SessionMiddleware(portal_app, **options)


def report(response: t.Any) -> dict[str, t.Any]:
    assert response.status_code == 200, response.get_data(as_text=True)
    return t.cast(t.Dict[str, t.Any], json.loads(response.get_data(as_text=True)))


def no_cookies(app: t.Any) -> Client:
    return Client(app, use_cookies=False)


def url_token(response: t.Any) -> str:
    """The signed id a URL-mode response put into its rewritten link."""
    return dict(parse_qsl(report(response)["link"].partition("?")[2]))["sid"]


def cookie_token(response: t.Any, name: str = "session") -> str:
    """The signed id of the session cookie a response set."""
    for header in set_cookies(response):
        cookie_name, _, rest = header.partition("=")
        value = rest.split(";")[0]
        if cookie_name == name and value:
            return value
    raise AssertionError(f"no {name} cookie in {set_cookies(response)}")


def url_session(app: t.Any, headers: t.Mapping[str, str] = VICTIM_UA) -> str:
    """Create a URL-tracked session (a cookieless client) and return its token."""
    return url_token(no_cookies(app).get("/seed", headers=headers))


def cookie_session(app: t.Any) -> tuple[Client, str]:
    """A browser with cookies (probe first), its stored session and signed id."""
    c = Client(app)
    c.get("/")
    r = c.get("/seed")
    return c, cookie_token(r)


def with_cookie(app: t.Any, value: str, path: str = "/", **kw: t.Any) -> t.Any:
    """One cookieless request presenting ``session=value``."""
    headers = {"Cookie": f"session={value}", **kw.pop("headers", {})}
    return no_cookies(app).get(path, headers=headers, **kw)


def rejected(events: Recorder) -> list[RejectReason]:
    return [reason for name, reason in events.calls if name == "rejected"]


def age(mw: SessionMiddleware, token: str, seconds: float) -> None:
    """Move a stored session's creation and last write ``seconds`` into the past."""
    sid = mw.signer.unsign(token)
    assert sid is not None
    key = store_key(sid)
    record = mw.backend.load(key)
    assert record is not None
    meta = SessionMeta.decode(record.meta)
    old = meta._replace(created=meta.created - seconds, written=meta.written - seconds)
    assert mw.backend.touch(key, old.encode(), 3600)


def flip(text: str, index: int) -> str:
    """``text`` with one character replaced by another URL-safe one."""
    char = "A" if text[index] != "A" else "B"
    return text[:index] + char + text[index + 1 :]


# ------------------------------------------- tampered, unsigned, retired ids


def test_tampered_cookie_signature_is_rejected():
    """A cookie whose signature was altered gets a fresh session (BAD_SIGNATURE)."""
    events = Recorder()
    mw = portal(events=events)
    _, token = cookie_session(mw)
    body = report(with_cookie(mw, flip(token, len(token) - 5)))
    assert body["data"] == {} and body["id"] is None
    assert rejected(events) == [RejectReason.BAD_SIGNATURE]


def test_tampered_cookie_id_part_is_rejected():
    """Changing the id in front of a valid signature never opens another session."""
    events = Recorder()
    mw = portal(events=events)
    _, token = cookie_session(mw)
    body = report(with_cookie(mw, flip(token, 3)))
    assert body["data"] == {} and rejected(events) == [RejectReason.BAD_SIGNATURE]


def test_tampered_url_id_is_rejected():
    """A URL id with an altered signature gets a fresh session (BAD_SIGNATURE)."""
    events = Recorder()
    mw = portal(events=events)
    token = url_session(mw)
    r = no_cookies(mw).get(f"/?sid={flip(token, len(token) - 1)}", headers=VICTIM_UA)
    assert report(r)["data"] == {}
    assert rejected(events) == [RejectReason.BAD_SIGNATURE]


def test_unsigned_bare_id_in_cookie_is_rejected():
    """The bare id without its signature is refused, even though it is in the store."""
    events = Recorder()
    mw = portal(events=events)
    _, token = cookie_session(mw)
    bare = token.partition(".")[0]
    assert report(with_cookie(mw, bare))["data"] == {}
    assert rejected(events) == [RejectReason.BAD_SIGNATURE]


def test_unsigned_bare_id_in_url_is_rejected():
    """A bare id in the URL is refused (BAD_SIGNATURE), never looked up."""
    events = Recorder()
    mw = portal(events=events)
    bare = url_session(mw).partition(".")[0]
    r = no_cookies(mw).get(f"/?sid={bare}", headers=VICTIM_UA)
    assert report(r)["data"] == {}
    assert rejected(events) == [RejectReason.BAD_SIGNATURE]


def test_retired_key_cookie_is_rejected():
    """A cookie signed with a key no longer configured is refused."""
    events = Recorder()
    old = portal(secret_key="retired-key")
    _, token = cookie_session(old)
    rotated = portal(secret_key="current-key", store=old.store, events=events)
    assert report(with_cookie(rotated, token))["data"] == {}
    assert rejected(events) == [RejectReason.BAD_SIGNATURE]


def test_retired_key_url_id_is_rejected():
    """A URL id signed with a retired key is refused."""
    events = Recorder()
    old = portal(secret_key="retired-key")
    token = url_session(old)
    rotated = portal(secret_key="current-key", store=old.store, events=events)
    r = no_cookies(rotated).get(f"/?sid={token}", headers=VICTIM_UA)
    assert report(r)["data"] == {}
    assert rejected(events) == [RejectReason.BAD_SIGNATURE]


def test_id_signed_with_leaked_key_but_never_issued_is_unknown():
    """A well-signed id the server never issued opens nothing (UNKNOWN_ID)."""
    events = Recorder()
    mw = portal(events=events)
    forged = mw.signer.sign(new_session_id())
    assert report(with_cookie(mw, forged))["data"] == {}
    r = no_cookies(mw).get(f"/?sid={forged}", headers=VICTIM_UA)
    assert report(r)["data"] == {}
    assert rejected(events) == [RejectReason.UNKNOWN_ID, RejectReason.UNKNOWN_ID]


# ------------------------------------------------------- expired, destroyed


def test_idle_expired_session_in_cookie_is_not_served():
    """A cookie of a session idle past idle_timeout gets a fresh one; EXPIRED fires."""
    events = Recorder()
    mw = portal(events=events, idle_timeout=600)
    _, token = cookie_session(mw)
    age(mw, token, 601)
    assert report(with_cookie(mw, token))["data"] == {}
    assert ("ended", EndReason.EXPIRED) in events.calls
    assert mw.backend.load(store_key(mw.signer.unsign(token) or "")) is None


def test_idle_expired_session_in_url_is_not_served():
    """A URL id of an idle-expired session gets a fresh session; EXPIRED fires."""
    events = Recorder()
    mw = portal(events=events, idle_timeout=600)
    token = url_session(mw)
    age(mw, token, 601)
    r = no_cookies(mw).get(f"/?sid={token}", headers=VICTIM_UA)
    assert report(r)["data"] == {} and ("ended", EndReason.EXPIRED) in events.calls


def test_absolute_timeout_ends_even_a_fresh_looking_session():
    """Past absolute_timeout a session is refused however recently it was used."""
    mw = portal(absolute_timeout=3600, idle_timeout=None)
    _, token = cookie_session(mw)
    age(mw, token, 3601)
    assert report(with_cookie(mw, token))["data"] == {}


def test_cookie_replay_after_logout_is_rejected():
    """A cookie captured before logout opens nothing afterwards (UNKNOWN_ID)."""
    events = Recorder()
    mw = portal(events=events)
    c, token = cookie_session(mw)
    c.get("/logout")
    assert report(with_cookie(mw, token))["data"] == {}
    assert RejectReason.UNKNOWN_ID in rejected(events)


def test_url_replay_after_logout_is_rejected():
    """A URL id captured before logout (history, logs) opens nothing afterwards."""
    events = Recorder()
    mw = portal(events=events)
    token = url_session(mw)
    no_cookies(mw).get(f"/logout?sid={token}", headers=VICTIM_UA)
    r = no_cookies(mw).get(f"/?sid={token}", headers=VICTIM_UA)
    assert report(r)["data"] == {} and RejectReason.UNKNOWN_ID in rejected(events)


def test_cookie_replay_after_regenerate_is_dead():
    """After login regenerates the id, the pre-login cookie is dead at once."""
    mw = portal()
    c, before = cookie_session(mw)
    after = cookie_token(c.get("/login"))
    assert after != before
    assert report(with_cookie(mw, before))["data"] == {}
    assert report(with_cookie(mw, after))["data"]["user"] == "victim"


def test_url_replay_after_regenerate_is_dead():
    """After login regenerates a URL-tracked id, the old URL id is dead at once."""
    mw = portal()
    before = url_session(mw)
    after = url_token(no_cookies(mw).get(f"/login?sid={before}", headers=VICTIM_UA))
    assert after != before
    old = no_cookies(mw).get(f"/?sid={before}", headers=VICTIM_UA)
    assert report(old)["data"] == {}
    new = no_cookies(mw).get(f"/?sid={after}", headers=VICTIM_UA)
    assert report(new)["data"]["user"] == "victim"


# ---------------------------------------------------------------- fixation


def test_fixation_link_refused_for_victim_with_probe_cookie():
    """A crafted link with the attacker's id cannot move a cookie user (probe)."""
    events = Recorder()
    mw = portal(events=events)
    attacker = url_session(mw)
    victim = Client(mw)
    victim.get("/", headers=VICTIM_UA)  # the victim's browser keeps the probe
    body = report(victim.get(f"/?sid={attacker}", headers=VICTIM_UA))
    assert body["data"] == {} and body["tracking"] == "cookie"
    assert RejectReason.URL_ID_REFUSED in rejected(events)


def test_fixation_link_refused_for_victim_with_session_cookie():
    """A crafted link never replaces a cookie user's own session."""
    mw = portal()
    attacker = url_session(mw)
    victim, _ = cookie_session(mw)
    mine = report(victim.get("/"))["id"]
    body = report(victim.get(f"/?sid={attacker}", headers=VICTIM_UA))
    assert body["id"] == mine and body["data"] == {"cart": ["planted"]}


def test_fixation_form_post_refused_for_victim_with_cookies():
    """An auto-submitted form carrying the attacker's id is ignored for cookie users."""
    events = Recorder()
    mw = portal(events=events)
    attacker = url_session(mw)
    victim = Client(mw)
    victim.get("/", headers=VICTIM_UA)
    r = victim.post("/login", data={"sid": attacker, "user": "ann"}, headers=VICTIM_UA)
    assert cookie_token(r) != attacker
    attacker_view = no_cookies(mw).get(f"/?sid={attacker}", headers=VICTIM_UA)
    assert "user" not in report(attacker_view)["data"]


def test_fixation_link_for_cookieless_victim_dies_at_login():
    """A lured cookieless victim logs in: regenerate kills the attacker's id."""
    events = Recorder()
    mw = portal(events=events)
    attacker = url_session(mw)
    lured = no_cookies(mw).get(f"/?sid={attacker}", headers=VICTIM_UA)
    assert report(lured)["data"] == {"cart": ["planted"]}  # URL mode cannot tell
    login = no_cookies(mw).get(f"/login?sid={attacker}", headers=VICTIM_UA)
    victim = url_token(login)
    assert victim != attacker
    again = no_cookies(mw).get(f"/?sid={attacker}", headers=VICTIM_UA)
    assert report(again)["data"] == {} and RejectReason.UNKNOWN_ID in rejected(events)
    mine = no_cookies(mw).get(f"/?sid={victim}", headers=VICTIM_UA)
    assert report(mine)["data"]["user"] == "victim"


def test_fixation_form_post_for_cookieless_victim_dies_at_login():
    """A login form POST with the attacker's id in its body regenerates the id."""
    mw = portal()
    attacker = url_session(mw)
    r = no_cookies(mw).post(
        "/login", data={"sid": attacker, "user": "ann"}, headers=VICTIM_UA
    )
    victim = url_token(r)
    assert victim != attacker and report(r)["data"]["user"] == "ann"
    again = no_cookies(mw).post("/", data={"sid": attacker}, headers=VICTIM_UA)
    assert report(again)["data"] == {}


def test_fixation_link_with_other_user_agent_gets_fresh_session():
    """A URL id used from another User-Agent is refused (BINDING_MISMATCH)."""
    events = Recorder()
    mw = portal(events=events)
    attacker = url_session(mw, headers={"User-Agent": "curl/8.0"})
    r = no_cookies(mw).get(f"/?sid={attacker}", headers=VICTIM_UA)
    assert report(r)["data"] == {}
    assert rejected(events) == [RejectReason.BINDING_MISMATCH]


def test_fixation_link_with_a_cookie_session_id_keeps_user_agent_binding():
    """An attacker's cookie-mode session id put into a link is refused for a
    cookieless victim with another User-Agent (BINDING_MISMATCH, SPEC §4)."""
    events = Recorder()
    mw = portal(events=events)
    attacker = Client(mw)
    attacker.get("/", headers={"User-Agent": "curl/8.0"})  # cookies proven
    token = cookie_token(attacker.get("/seed", headers={"User-Agent": "curl/8.0"}))
    r = no_cookies(mw).get(f"/?sid={token}", headers=VICTIM_UA)
    assert report(r)["data"] == {}
    assert RejectReason.BINDING_MISMATCH in rejected(events)


@pytest.mark.parametrize("tracking", ["auto", "url"])
def test_leaked_url_id_replayed_as_cookie_keeps_user_agent_binding(tracking):
    """A URL id leaked through logs or Referer, replayed in a Cookie header from
    another User-Agent, does not open the session (the binding still holds)."""
    mw = portal(tracking=tracking)
    leaked = url_session(mw)
    r = with_cookie(mw, leaked, headers={"User-Agent": "curl/8.0"})
    assert report(r)["data"] == {}


# ------------------------------------------------------ cookie/URL conflicts


def test_cookie_wins_over_conflicting_url_id():
    """With a valid session cookie, another id in the URL is refused."""
    events = Recorder()
    mw = portal(events=events)
    other = url_session(mw)
    c, _ = cookie_session(mw)
    mine = report(c.get("/"))["id"]
    body = report(c.get(f"/?sid={other}", headers=VICTIM_UA))
    assert body["id"] == mine and rejected(events) == [RejectReason.URL_ID_REFUSED]


def test_forged_cookie_with_valid_url_id_gets_fresh_session():
    """A forged cookie still proves cookies: the valid URL id next to it is refused."""
    events = Recorder()
    mw = portal(events=events)
    token = url_session(mw)
    r = with_cookie(mw, "forged.value", f"/?sid={token}", headers=VICTIM_UA)
    assert report(r)["data"] == {}
    assert set(rejected(events)) == {
        RejectReason.BAD_SIGNATURE,
        RejectReason.URL_ID_REFUSED,
    }


def test_empty_session_cookie_still_blocks_url_id():
    """A session cookie of ours with an empty value still refuses URL ids (§4)."""
    mw = portal()
    token = url_session(mw)
    for cookie in ("session=", "session_probe="):
        r = no_cookies(mw).get(
            f"/?sid={token}", headers={**VICTIM_UA, "Cookie": cookie}
        )
        assert report(r)["data"] == {}, cookie


def test_url_param_of_a_refused_id_is_hidden_from_the_app():
    """Even a refused URL id is stripped from QUERY_STRING before the app runs."""
    mw = portal()
    token = url_session(mw)
    c, _ = cookie_session(mw)
    body = report(c.get(f"/?a=1&sid={token}&b=2"))
    assert body["query"] == "a=1&b=2"


def test_percent_encoded_url_param_is_never_passed_to_the_app():
    """``%73id=`` (``sid`` percent-encoded) is the url_param too: stripped (§4)."""
    mw = portal()
    token = url_session(mw)
    r = no_cookies(mw).get("/", query_string=f"a=1&%73id={token}", headers=VICTIM_UA)
    names = [unquote(pair.partition("=")[0]) for pair in report(r)["query"].split("&")]
    assert "sid" not in names


UPLOAD = b'--b\r\nContent-Disposition: form-data; name="%s"; filename="x.txt"\r\n\r\n'


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(
            UPLOAD % b"f" + b"1\r\n" + UPLOAD % b"f" + b"2\r\n--b--\r\n",
            id="repeated_file_fields",
        ),
        pytest.param(
            UPLOAD % b"f" + b"1\r\n" + UPLOAD % b"g" + b"2\r\n",
            id="no_closing_boundary",
        ),
    ],
)
def test_multipart_body_leaves_no_upload_file_open(monkeypatch, body):
    """Looking for the id in a multipart body closes every upload it parsed
    (repeated field names, truncated bodies): no file left open per request."""
    unraisable: list[t.Any] = []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)
    mw = SessionMiddleware(session_app, secret_key=SECRET)  # never reads the body
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResourceWarning)
        r = no_cookies(mw).post(
            "/", data=body, content_type="multipart/form-data; boundary=b"
        )
        gc.collect()
    assert r.status_code == 200
    assert [u.exc_value for u in unraisable] == []


# ------------------------------------------------------------- brute force


def test_brute_force_random_cookie_values_are_all_counted():
    """300 random signed-looking cookies: 300 BAD_SIGNATURE events, no session."""
    events = Recorder()
    mw = portal(events=events)
    for _ in range(300):
        value = f"{secrets.token_urlsafe(32)}.{secrets.token_urlsafe(32)}"
        assert report(with_cookie(mw, value))["id"] is None
    assert rejected(events) == [RejectReason.BAD_SIGNATURE] * 300
    assert not {"created", "resumed"} & set(events.names())


def test_brute_force_random_url_ids_are_all_counted():
    """300 random URL ids: 300 BAD_SIGNATURE events, no session adopted."""
    events = Recorder()
    mw = portal(events=events)
    for _ in range(300):
        value = f"{secrets.token_urlsafe(32)}.{secrets.token_urlsafe(32)}"
        r = no_cookies(mw).get(f"/?sid={value}", headers=VICTIM_UA)
        assert report(r)["id"] is None
    assert rejected(events) == [RejectReason.BAD_SIGNATURE] * 300
    assert "resumed" not in events.names()


def test_brute_force_with_leaked_key_finds_no_session():
    """Even with the secret key, 300 guessed ids hit nothing (256-bit ids)."""
    events = Recorder()
    mw = portal(events=events)
    for _ in range(20):
        cookie_session(mw)  # some real sessions to hit
    events.calls.clear()
    for _ in range(300):
        guess = mw.signer.sign(new_session_id())
        assert report(with_cookie(mw, guess))["data"] == {}
    assert rejected(events) == [RejectReason.UNKNOWN_ID] * 300


# ------------------------------------------------- oversized, duplicated


def test_oversized_cookie_header_gives_fresh_session_not_500():
    """A 20 KiB Cookie header is ignored: 200, a fresh session, never a 500."""
    mw = portal()
    _, token = cookie_session(mw)
    header = f"pad={'x' * 20000}; session={token}"
    r = no_cookies(mw).get("/", headers={"Cookie": header})
    assert r.status_code == 200 and report(r)["data"] == {}


def test_oversized_cookie_header_does_not_open_url_fixation():
    """Cookie bombing past the size limit never makes a __Host- user take URL ids."""
    mw = portal(cookie_name="__Host-sid")
    https = {"base_url": "https://shop.example"}
    attacker = url_token(no_cookies(mw).get("/seed", headers=VICTIM_UA, **https))
    victim = Client(mw)
    victim.get("/login", headers=VICTIM_UA, **https)
    own = victim.get_cookie("__Host-sid", domain="shop.example")
    assert own is not None
    bomb = "; ".join(f"b{i}={'x' * 4000}" for i in range(5))
    header = f"__Host-sid={own.value}; {bomb}"
    r = no_cookies(mw).get(
        f"/?sid={attacker}", headers={**VICTIM_UA, "Cookie": header}, **https
    )
    assert report(r)["data"] == {}  # not the attacker's cart


def test_oversized_cookie_value_is_rejected_cheaply():
    """A 10 KB session cookie value is a BAD_SIGNATURE, not a 500."""
    events = Recorder()
    mw = portal(events=events)
    assert report(with_cookie(mw, "A" * 10000))["data"] == {}
    assert rejected(events) == [RejectReason.BAD_SIGNATURE]


def test_duplicated_cookies_forged_first_then_genuine():
    """With a forged and a genuine session cookie, only the genuine one is used."""
    mw = portal()
    _, token = cookie_session(mw)
    header = f"session={flip(token, 0)}; session={token}"
    r = no_cookies(mw).get("/", headers={"Cookie": header})
    assert report(r)["data"] == {"cart": ["planted"]}


def test_a_thousand_duplicated_forged_cookies_are_one_rejection():
    """1,000 forged session cookies in one header: one rejection, fresh session."""
    events = Recorder()
    mw = portal(events=events)
    header = "; ".join(f"session=f{i}.x" for i in range(1000))
    r = no_cookies(mw).get("/", headers={"Cookie": header})
    assert report(r)["data"] == {} and rejected(events) == [RejectReason.BAD_SIGNATURE]


# ---------------------------------------------------- hostile URLs, Location

HOSTILE_URLS = [
    "//evil.example/",
    "/\\evil.example/",
    "\\\\evil.example/",
    "http:evil.example",
    "///evil.example/",
    "http://localhost@evil.example/",
    "http://localhost:80@evil.example/",
    "http://evil.example\\@localhost/",
    "http://localhost.evil.example/",
    "http://localhost:8080/",
    "https://localhost/",
    "javascript:alert(document.cookie)",
    "JaVaScRiPt:alert(1)",
    "  javascript:alert(1)",
    "\x01javascript:alert(1)",
    "java\tscript:alert(1)",
    "mailto:a@evil.example",
    "data:text/html,<script>alert(1)</script>",
    "tel:+123",
    "#top",
    "ftp://localhost/",
]


@pytest.mark.parametrize("url", HOSTILE_URLS)
def test_rewrite_url_leaves_hostile_and_external_urls_alone(url):
    """External hosts, scheme tricks, userinfo and pseudo-schemes never get the id."""
    seen: dict[str, str] = {}

    def app(environ, start_response):
        get_session(environ)["x"] = 1
        seen["url"] = rewrite_url(environ, url)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b""]

    mw = SessionMiddleware(app, secret_key=SECRET)
    no_cookies(mw).get("/", headers=VICTIM_UA)
    assert seen["url"] == url


def test_rewrite_url_replaces_an_attackers_stale_id():
    """A same-origin link carrying someone else's id gets ours instead, once."""
    mw = portal()
    attacker = url_session(mw)
    seen: dict[str, str] = {}

    def app(environ, start_response):
        get_session(environ)["x"] = 1
        seen["url"] = rewrite_url(environ, f"/next?sid={attacker}&a=1&sid=x")
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b""]

    no_cookies(SessionMiddleware(app, secret_key=SECRET)).get("/", headers=VICTIM_UA)
    assert attacker not in seen["url"] and seen["url"].count("sid=") == 1


def _raw_response(mw: t.Any, path: str, query: str) -> tuple[str, list[tuple]]:
    """Call the middleware like a server would; return status and raw headers."""
    env = EnvironBuilder(path=path, headers=VICTIM_UA).get_environ()
    env["QUERY_STRING"] = query
    captured: dict[str, t.Any] = {}

    def start_response(status, headers, exc_info=None):
        captured["status"], captured["headers"] = status, headers
        return lambda data: None

    body = mw(env, start_response)
    b"".join(body)
    getattr(body, "close", lambda: None)()
    return captured["status"], captured["headers"]


@pytest.mark.parametrize(
    "target",
    [
        "/next\r\nSet-Cookie: evil=1",
        "/next\nLocation: https://evil.example/",
        "/\r\n\r\n<script>alert(1)</script>",
        "/next?x=%0d%0aSet-Cookie:%20evil=1",
    ],
)
def test_crlf_in_redirect_target_never_splits_the_rewritten_location(target):
    """A CR/LF-laden same-origin redirect is rewritten with no CR/LF left in it."""
    mw = portal()
    token = url_session(mw)
    query = urlencode({"next": target, "sid": token})
    status, headers = _raw_response(mw, "/redirect", query)
    assert status.startswith("302")
    (location,) = [v for k, v in headers if k == "Location"]
    assert "\r" not in location and "\n" not in location and "sid=" in location
    assert not any("evil" in k.lower() for k, _ in headers)
    assert [k for k, _ in headers].count("Set-Cookie") <= 1  # only the probe


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/callback",
        "//evil.example/x",
        "/\\evil.example/x",
        "http://localhost@evil.example/",
        "https://evil.example/\r\nX-Injected: 1",
    ],
)
def test_external_location_never_gets_the_id(target):
    """A redirect to another host keeps its Location exactly: no id, nothing added."""
    mw = portal()
    token = url_session(mw)
    _, headers = _raw_response(
        mw, "/redirect", urlencode({"next": target, "sid": token})
    )
    (location,) = [v for k, v in headers if k == "Location"]
    assert location == target and token not in location


def test_crlf_in_presented_id_is_never_reflected_into_headers():
    """A URL id carrying CR/LF and a header never comes back in any header."""
    mw = portal()
    evil = "x\r\nSet-Cookie: evil=1"
    _, headers = _raw_response(mw, "/redirect", urlencode({"sid": evil}))
    assert all("\r" not in v and "\n" not in v for _, v in headers)
    assert not any("evil" in v for _, v in headers)


def test_formaction_to_external_host_does_not_receive_the_hidden_id():
    """A form whose submit button posts elsewhere (formaction) gets no hidden id."""
    mw = portal(rewrite_html=True)
    token = url_session(mw)
    page = (
        '<form action="/checkout" method="post"><input name="card">'
        '<button formaction="https://evil.example/collect">Pay elsewhere</button>'
        "</form>"
    )
    r = no_cookies(mw).get(
        f"/page?sid={token}", headers=VICTIM_UA, environ_overrides={"portal.html": page}
    )
    assert 'type="hidden"' not in r.get_data(as_text=True)


# ------------------------------------------------- store probing and pickle


def _all_sessions_flow(mw: SessionMiddleware) -> list[str]:
    """Create, regenerate and use sessions; return every signed id seen."""
    tokens = []
    c, token = cookie_session(mw)
    tokens.append(token)
    tokens.append(cookie_token(c.get("/login")))
    _, token = cookie_session(mw)
    tokens.append(token)
    tokens.append(url_session(mw))
    return tokens


def _leaks(text: str, tokens: list[str]) -> list[str]:
    """The ids, signatures or signed values of ``tokens`` found in ``text``."""
    found = []
    for token in tokens:
        sid, _, sig = token.partition(".")
        found += [part for part in (token, sid, sig) if part in text]
    return found


def test_redis_keys_and_values_do_not_reveal_session_ids(redis_url):
    """Listing a real Redis (KEYS *, HGETALL) yields no usable session id."""
    mw = portal(store=redis_url, concurrency="lock")
    tokens = _all_sessions_flow(mw)
    client = mw.store._write_client
    keys = client.keys("*")
    assert keys
    dump = []
    for key in keys:
        dump.append(key.decode("latin-1"))
        for name, value in client.hgetall(key).items():
            dump += [name.decode("latin-1"), value.decode("latin-1")]
    assert _leaks("\n".join(dump), tokens) == []


def test_file_store_names_and_contents_do_not_reveal_session_ids(tmp_path):
    """Listing a file store directory (names and bytes) yields no usable session id."""
    root = tmp_path / "sessions"
    mw = portal(store="file://" + quote(str(root)))
    tokens = _all_sessions_flow(mw)
    files = [p for p in root.rglob("*") if p.is_file()]
    assert files
    dump = [str(p.relative_to(root)) for p in files]
    dump += [p.read_bytes().decode("latin-1") for p in files]
    assert _leaks("\n".join(dump), tokens) == []


def test_memcached_keys_do_not_reveal_session_ids(memcached_server, memcached_url):
    """memcached's key dump (lru_crawler metadump) yields no usable session id."""
    mw = portal(store=memcached_url)
    tokens = _all_sessions_flow(mw)
    dump = send(memcached_server.port, b"lru_crawler metadump all\r\n", b"END\r\n")
    keys = [unquote(k) for k in re.findall(r"key=(\S+)", dump.decode("latin-1"))]
    assert keys
    assert _leaks("\n".join(keys), tokens) == []


class _Plant:
    """A pickle that creates a marker directory when (and only when) unpickled."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self) -> tuple[t.Any, ...]:
        return (os.mkdir, (self.path,))


def _payload(tmp_path: Path) -> tuple[bytes, Path]:
    """A live pickle payload (proven live on a control path) and its marker."""
    control = tmp_path / "control-marker"
    pickle.loads(pickle.dumps(_Plant(control)))  # the payload really executes
    assert control.is_dir()
    marker = tmp_path / "marker"
    return pickle.dumps(_Plant(marker)), marker


def _victim_request(mw: SessionMiddleware, token: str) -> dict[str, t.Any]:
    """The victim's next request (a 500 fails the test inside ``report``)."""
    return report(with_cookie(mw, token))


@pytest.mark.parametrize("where", ["meta", "data_field", "whole_value"])
def test_pickle_planted_in_redis_is_never_executed(redis_url, tmp_path, where):
    """A pickle planted under a real session's Redis key (meta, a data field, or
    the whole value) is never unpickled, and its data is never served."""
    payload, marker = _payload(tmp_path)
    mw = portal(store=redis_url)
    _, token = cookie_session(mw)
    key = mw.store.key_prefix + store_key(mw.signer.unsign(token) or "")
    client = mw.store._write_client
    assert client.exists(key)
    if where == "meta":
        client.hset(key, "m", payload)
    elif where == "data_field":
        client.hset(key, "f:dcart", payload)
    else:
        client.delete(key)
        client.set(key, payload)
    body = _victim_request(mw, token)
    assert not marker.exists()
    assert body["data"] == {}


@pytest.mark.parametrize("flags", [0, 1])
def test_pickle_planted_in_memcached_is_never_executed(
    memcached_server, memcached_url, tmp_path, flags
):
    """A pickle under a session's memcached key, flagged as pickled (1) or not
    (0), is never unpickled, and its data is never served."""
    payload, marker = _payload(tmp_path)
    mw = portal(store=memcached_url)
    _, token = cookie_session(mw)
    key = mw.store._normalize_key(store_key(mw.signer.unsign(token) or ""))
    port = memcached_server.port
    assert b"VALUE " in send(port, f"get {key}\r\n".encode(), b"END\r\n")
    command = f"set {key} {flags} 0 {len(payload)}\r\n".encode() + payload + b"\r\n"
    assert b"STORED" in send(port, command, b"\r\n")
    body = _victim_request(mw, token)
    assert not marker.exists()
    assert body["data"] == {}


def test_pickle_planted_in_session_file_is_never_executed(tmp_path):
    """A cachelib-format pickle file written over a session's file never runs."""
    payload, marker = _payload(tmp_path)
    mw = portal(store="file://" + quote(str(tmp_path / "sessions")))
    _, token = cookie_session(mw)
    path = Path(mw.store._get_filename(store_key(mw.signer.unsign(token) or "")))
    assert path.is_file()
    path.write_bytes(struct.pack("I", 0) + payload)  # cachelib's own file format
    body = _victim_request(mw, token)
    assert not marker.exists()
    assert body["data"] == {}


def test_corrupt_store_record_gives_fresh_session_not_500(store_url):
    """Garbage stored under a real session's key: a fresh session, never a 500."""
    mw = portal(store=store_url)
    _, token = cookie_session(mw)
    mw.store.set(store_key(mw.signer.unsign(token) or ""), b"\x80garbage", timeout=60)
    r = with_cookie(mw, token)
    assert r.status_code == 200 and report(r)["data"] == {}


def test_undecodable_stored_value_gives_fresh_session_not_500():
    """A stored value that is not valid JSON never turns s.all() into a 500."""
    mw = portal()
    _, token = cookie_session(mw)
    key = store_key(mw.signer.unsign(token) or "")
    record = mw.backend.load(key)
    assert record is not None
    mw.backend.replace(key, record.meta, {"dcart": b"\x80not json"}, 3600)
    r = with_cookie(mw, token)
    assert r.status_code == 200 and report(r)["data"] == {}


# ------------------------------------------------------------------- logs


def test_debug_logs_never_contain_session_ids(caplog):
    """Through login, regenerate, logout, rejections, expiry and corruption at DEBUG,
    no log line carries an id, a signature or a signed value."""
    caplog.set_level(logging.DEBUG)
    events = Recorder()
    mw = portal(events=events, idle_timeout=600)
    tokens = []
    c, token = cookie_session(mw)
    tokens.append(token)
    tokens.append(cookie_token(c.get("/login")))
    c.get("/logout")
    tokens.append(url_session(mw))
    r = no_cookies(mw).get(f"/login?sid={tokens[-1]}", headers=VICTIM_UA)
    tokens.append(url_token(r))
    no_cookies(mw).get(f"/?sid={tokens[-1]}", headers={"User-Agent": "Other"})
    for replay in tokens:
        with_cookie(mw, replay)
        with_cookie(mw, flip(replay, 2))
    _, expiring = cookie_session(mw)
    age(mw, expiring, 601)
    with_cookie(mw, expiring)
    _, corrupt = cookie_session(mw)
    key = store_key(mw.signer.unsign(corrupt) or "")
    mw.backend.touch(key, b"not json", 60)
    with_cookie(mw, corrupt)
    tokens += [expiring, corrupt]
    assert {"ended", "rejected"} <= set(events.names())
    assert len(caplog.records) >= 10
    text = caplog.text + "\n".join(
        f"{r.getMessage()} {r.args!r} {r.exc_text}" for r in caplog.records
    )
    assert _leaks(text, tokens) == []


# -------------------------------------------------------- ids and cookies


def test_session_ids_have_256_bits_and_are_unique_over_10000_draws():
    """Ids are 43 URL-safe characters (32 random bytes); 10,000 draws never repeat."""
    ids = [new_session_id() for _ in range(10_000)]
    assert len(set(ids)) == 10_000
    for sid in ids[:1000]:
        assert re.fullmatch(r"[A-Za-z0-9_-]{43}", sid)
        assert len(base64.urlsafe_b64decode(sid + "=")) == 32
    issued = {cookie_token(Client(portal()).get("/seed")) for _ in range(200)}
    assert len(issued) == 200 and all(TOKEN_RE.fullmatch(v) for v in issued)


def test_session_cookie_attributes_on_http():
    """Over http: HttpOnly, SameSite=Lax, Path=/, no Secure, no persistent expiry."""
    r = Client(portal()).get("/seed")
    (cookie,) = [h for h in set_cookies(r) if h.startswith("session=")]
    attrs = {a.strip().split("=")[0] for a in cookie.split(";")[1:]}
    assert {"HttpOnly", "SameSite", "Path"} <= attrs
    assert "SameSite=Lax" in cookie and "Secure" not in attrs
    assert not {"Expires", "Max-Age", "Domain"} & attrs


def test_session_cookie_is_secure_on_https_and_strict_when_configured():
    """Over https the cookie is Secure; cookie_samesite="Strict" is honoured."""
    r = Client(portal(cookie_samesite="Strict")).get(
        "/seed", base_url="https://shop.example"
    )
    for cookie in set_cookies(r):  # the session and the probe cookie
        assert "; Secure" in cookie and "SameSite=Strict" in cookie
        assert "HttpOnly" in cookie


def test_host_prefixed_cookie_is_secure_root_path_without_domain():
    """A __Host- cookie is Secure, Path=/ and carries no Domain (even over http)."""
    for base in ("https://shop.example", "http://shop.example"):
        r = Client(portal(cookie_name="__Host-sid")).get("/seed", base_url=base)
        (cookie,) = [h for h in set_cookies(r) if h.startswith("__Host-sid=")]
        assert "; Secure" in cookie and "Path=/" in cookie and "Domain" not in cookie


def test_logout_cookie_deletion_matches_the_cookie_scope():
    """The expiring Set-Cookie of logout has the same Path/Domain, so it deletes."""
    mw = portal(cookie_domain="shop.example", cookie_path="/app")
    c = Client(mw)
    r = c.get("/seed", base_url="http://shop.example/app/")
    (cookie,) = [h for h in set_cookies(r) if h.startswith("session=")]
    r = c.get("/logout", base_url="http://shop.example/app/")
    (gone,) = [h for h in set_cookies(r) if h.startswith("session=")]
    assert "Max-Age=0" in gone and gone.startswith("session=;")
    for attr in ("Domain=shop.example", "Path=/app"):
        assert attr in cookie and attr in gone


# ---------------------------------------------------------------- URL mode


def test_url_ids_are_not_even_read_when_tracking_is_cookie():
    """tracking="cookie" ignores URL and form ids and leaves them to the app."""
    events = Recorder()
    auto = portal()
    token = url_session(auto)
    strict = portal(tracking="cookie", store=auto.store, events=events)
    body = report(no_cookies(strict).get(f"/?sid={token}", headers=VICTIM_UA))
    assert body["data"] == {} and f"sid={token}" in body["query"]
    body = report(no_cookies(strict).post("/", data={"sid": token}, headers=VICTIM_UA))
    assert body["data"] == {} and body["form"] == {"sid": token}
    assert rejected(events) == []  # never read, so never "refused"


def test_url_mode_responses_carry_referrer_policy_and_cache_control():
    """URL mode adds Referrer-Policy: same-origin and Cache-Control: private."""
    mw = portal()
    token = url_session(mw)
    r = no_cookies(mw).get(f"/?sid={token}", headers=VICTIM_UA)
    assert r.headers["Referrer-Policy"] == "same-origin"
    assert r.headers["Cache-Control"] == "private"
    assert "Cookie" in r.headers["Vary"]
    c, _ = cookie_session(mw)
    r = c.get("/")
    assert "Referrer-Policy" not in r.headers and "Cache-Control" not in r.headers


# ------------------------------------------------------------------ outage


def test_redis_outage_answers_503_without_traceback_or_new_cookie(
    redis_server, redis_url
):
    """Redis down: every session request is a bare 503, no id is issued; back up:
    the cookie and URL sessions are intact."""
    mw = portal(store=redis_url)
    c, token = cookie_session(mw)
    url = url_session(mw)
    mw.store._write_client.save()  # survive the restart
    redis_server.stop()
    try:
        responses = [
            c.get("/login"),
            c.get("/"),
            no_cookies(mw).get("/seed", headers=VICTIM_UA),
            no_cookies(mw).post("/login", data={"user": "x"}, headers=VICTIM_UA),
            no_cookies(mw).get(f"/?sid={url}", headers=VICTIM_UA),
        ]
        for r in responses:
            body = r.get_data(as_text=True)
            assert r.status_code == 503 and set_cookies(r) == []
            assert "Traceback" not in body and "redis" not in body.lower()
            assert r.headers["Retry-After"]
    finally:
        redis_server.start()
    assert report(c.get("/"))["data"] == {"cart": ["planted"]}
    assert c.get_cookie("session").value == token
    again = no_cookies(mw).get(f"/?sid={url}", headers=VICTIM_UA)
    assert report(again)["data"] == {"cart": ["planted"]}
