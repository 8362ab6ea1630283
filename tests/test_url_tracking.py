"""Clients without cookies: the probe, URL ids, form bodies, rewriting (SPEC §4)."""

from __future__ import annotations

import io
import json
import typing as t
from urllib.parse import parse_qsl, urlsplit

import pytest
from werkzeug.test import Client

from tests.apps import SECRET, set_cookies
from tests.test_middleware import Recorder
from wsgi_session import (
    RejectReason,
    SessionMiddleware,
    get_session,
    hidden_input,
    rewrite_url,
)

UA = {"User-Agent": "TestBrowser/1.0"}


def url_app(environ: dict[str, t.Any], start_response: t.Callable[..., t.Any]):
    """Reports what the app sees; ``/login`` writes, ``/redirect`` redirects."""
    s = get_session(environ)
    path = environ.get("PATH_INFO", "/")
    body_bytes = b""
    if environ.get("REQUEST_METHOD") == "POST":
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body_bytes = environ["wsgi.input"].read(length)
    if path == "/login":
        s["user"] = "ann"
    if path == "/flash":
        s.flash("notice", "saved")
        start_response("302 Found", [("Location", "/shown")])
        return [b""]
    if path == "/redirect":
        start_response("302 Found", [("Location", "/target?a=1")])
        return [b""]
    if path == "/away":
        start_response("302 Found", [("Location", "https://other.example/x")])
        return [b""]
    if path == "/page":
        html = (
            b'<html><head><title><a href="/t"></title></head><body>'
            b'<a href="/one">one</a> <A HREF=/two>two</A> '
            b'<a href="https://other.example/">ext</a>'
            b'<form action="/post" method="post"><input name="x"></form>'
            b"<textarea><a href='/raw'></a></textarea>"
            b"<script>var s = '<a href=\"/js\">';</script></body></html>"
        )
        start_response(
            "200 OK",
            [
                ("Content-Type", "text/html; charset=utf-8"),
                ("Content-Length", str(len(html))),
            ],
        )
        s.get("user")
        return [html]
    report = {
        "data": s.all(),
        "id": s.id,
        "tracking": s.tracking,
        "query": environ.get("QUERY_STRING", ""),
        "request_uri": environ.get("REQUEST_URI"),
        "link": rewrite_url(environ, "/next?x=1#top"),
        "input": str(hidden_input(environ)),
        "body": body_bytes.decode("latin-1"),
    }
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(report).encode()]


def wrap(**options: t.Any) -> SessionMiddleware:
    options.setdefault("secret_key", SECRET)
    return SessionMiddleware(url_app, **options)


def report(response: t.Any) -> dict[str, t.Any]:
    return t.cast(t.Dict[str, t.Any], json.loads(response.get_data(as_text=True)))


def sid_of(url: str) -> str:
    return dict(parse_qsl(urlsplit(url).query))["sid"]


def no_cookies(app: t.Any) -> Client:
    return Client(app, use_cookies=False)


def test_first_response_sets_probe_cookie_only():
    """A request without our cookies gets the probe cookie, no session cookie."""
    r = no_cookies(wrap()).get("/")
    cookies = set_cookies(r)
    assert len(cookies) == 1 and cookies[0].startswith("session_probe=1")
    assert report(r)["tracking"] == "both" and report(r)["link"] == "/next?x=1#top"


def test_new_session_without_proof_is_both_cookie_and_url():
    """A session created before cookies are proven sets the cookie AND rewrites."""
    r = no_cookies(wrap()).get("/login", headers=UA)
    body = report(r)
    names = [c.split("=")[0] for c in set_cookies(r)]
    assert "session" in names and "session_probe" in names
    assert body["tracking"] == "both"
    assert body["link"].startswith("/next?x=1&sid=") and body["link"].endswith("#top")
    assert 'name="sid"' in body["input"]
    assert r.headers["Referrer-Policy"] == "same-origin"
    assert r.headers["Cache-Control"] == "private"


def test_cookie_coming_back_switches_to_cookie_and_stops_rewriting():
    """Once the session cookie returns, tracking is 'cookie' and URLs stay clean."""
    c = Client(wrap())
    c.get("/login", headers=UA)
    r = c.get("/", headers=UA)
    body = report(r)
    assert body["tracking"] == "cookie" and body["link"] == "/next?x=1#top"
    assert body["input"] == "" and "Referrer-Policy" not in r.headers
    assert body["data"] == {"user": "ann"}


def test_probe_alone_proves_cookies_before_any_session():
    """A returning probe cookie makes a new session 'cookie' from the start."""
    c = Client(wrap())
    c.get("/")
    r = c.get("/login")
    assert report(r)["tracking"] == "cookie" and report(r)["link"] == "/next?x=1#top"


def test_url_id_without_cookies_is_url_mode_and_sends_no_session_cookie():
    """A client refusing cookies keeps its session through the URL."""
    app = wrap()
    first = report(no_cookies(app).get("/login", headers=UA))
    r = no_cookies(app).get(first["link"], headers=UA)
    body = report(r)
    assert body["data"] == {"user": "ann"} and body["tracking"] == "url"
    assert body["link"].startswith("/next?x=1&sid=")
    assert [c for c in set_cookies(r) if c.startswith("session=")] == []


def test_url_param_is_hidden_from_the_app():
    """QUERY_STRING and REQUEST_URI reach the app without the id parameter."""
    app = wrap()
    link = report(no_cookies(app).get("/login", headers=UA))["link"]
    token = sid_of(link)
    r = no_cookies(app).get(
        f"/?a=1&sid={token}&b=2",
        headers=UA,
        environ_overrides={"REQUEST_URI": f"/?a=1&sid={token}&b=2"},
    )
    body = report(r)
    assert body["query"] == "a=1&b=2" and body["request_uri"] == "/?a=1&b=2"
    assert body["data"] == {"user": "ann"}


def test_url_id_refused_when_our_cookie_is_present():
    """A shared link cannot move a cookie user into someone else's session."""
    events = Recorder()
    app = wrap(events=events)
    victim_link = report(no_cookies(app).get("/login", headers=UA))["link"]
    cookie_user = Client(app)
    cookie_user.get("/", headers=UA)  # gets the probe cookie
    r = cookie_user.get(victim_link, headers=UA)
    assert report(r)["data"] == {} and report(r)["tracking"] == "cookie"
    assert ("rejected", RejectReason.URL_ID_REFUSED) in events.calls


def test_cookie_id_wins_over_url_id():
    """With a valid session cookie, a different URL id is ignored."""
    app = wrap()
    other = report(no_cookies(app).get("/login", headers=UA))["link"]
    c = Client(app)
    c.get("/login", headers=UA)
    mine = report(c.get("/", headers=UA))["id"]
    body = report(c.get(other, headers=UA))
    assert body["id"] == mine


def test_tracking_cookie_never_accepts_url_ids():
    """tracking='cookie' ignores URL ids entirely (Tomcat CVE-2014-0033)."""
    url_app_ = wrap()
    link = report(no_cookies(url_app_).get("/login", headers=UA))["link"]
    cookie_only = wrap(tracking="cookie", store=url_app_.store)
    body = report(no_cookies(cookie_only).get(link, headers=UA))
    assert body["data"] == {} and "sid=" in body["query"]
    assert body["link"] == "/next?x=1#top"


def test_tracking_url_never_sets_session_cookie_or_probe():
    """tracking='url' keeps the id in URLs only."""
    app = wrap(tracking="url")
    r = no_cookies(app).get("/login", headers=UA)
    assert set_cookies(r) == [] and report(r)["tracking"] == "url"
    body = report(no_cookies(app).get(report(r)["link"], headers=UA))
    assert body["data"] == {"user": "ann"}


def test_url_id_with_another_user_agent_gets_fresh_session():
    """A URL-tracked session is bound to the User-Agent that created it."""
    events = Recorder()
    app = wrap(events=events)
    link = report(no_cookies(app).get("/login", headers=UA))["link"]
    body = report(no_cookies(app).get(link, headers={"User-Agent": "Other/2"}))
    assert body["data"] == {}
    assert ("rejected", RejectReason.BINDING_MISMATCH) in events.calls
    again = report(no_cookies(app).get(link, headers=UA))
    assert again["data"] == {"user": "ann"}  # the owner is not logged out


def test_forged_and_unknown_url_ids_are_rejected():
    """A badly signed URL id and an unknown one get fresh sessions."""
    events = Recorder()
    app = wrap(events=events)
    link = report(no_cookies(app).get("/login", headers=UA))["link"]
    token = sid_of(link)
    forged = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    assert report(no_cookies(app).get(f"/?sid={forged}", headers=UA))["data"] == {}
    other = wrap(events=events)  # another store: the id is unknown there
    assert report(no_cookies(other).get(link, headers=UA))["data"] == {}
    reasons = [r for n, r in events.calls if n == "rejected"]
    assert RejectReason.BAD_SIGNATURE in reasons and RejectReason.UNKNOWN_ID in reasons


@pytest.mark.parametrize("encoding", ["urlencoded", "multipart"])
def test_id_in_post_body_is_accepted_and_body_stays_readable(encoding):
    """A form POST carrying the id as a field keeps the session; app reads body."""
    app = wrap()
    token = sid_of(report(no_cookies(app).get("/login", headers=UA))["link"])
    c = no_cookies(app)
    if encoding == "urlencoded":
        r = c.post("/", data={"name": "x", "sid": token}, headers=UA)
    else:
        r = c.post(
            "/", data={"file": (io.BytesIO(b"abc"), "a.txt"), "sid": token}, headers=UA
        )
    body = report(r)
    assert body["data"] == {"user": "ann"} and body["tracking"] == "url"
    assert token in body["body"]


def test_large_or_lengthless_bodies_are_not_inspected():
    """Bodies over the limit are passed on untouched and carry no URL id."""
    app = wrap(url_body_limit=100)
    token = sid_of(report(no_cookies(app).get("/login", headers=UA))["link"])
    payload = "sid=" + token + "&pad=" + "x" * 200
    r = no_cookies(app).post(
        "/",
        data=payload,
        content_type="application/x-www-form-urlencoded",
        headers=UA,
    )
    body = report(r)
    assert body["data"] == {} and body["body"] == payload


def test_redirects_are_rewritten_same_origin_only():
    """Location gets the id in url/both mode; external Locations never do."""
    app = wrap()
    c = no_cookies(app)
    token = sid_of(report(c.get("/login", headers=UA))["link"])
    r = c.get(f"/redirect?sid={token}", headers=UA)
    assert "sid=" in r.headers["Location"] and "a=1" in r.headers["Location"]
    r = c.get(f"/away?sid={token}", headers=UA)
    assert r.headers["Location"] == "https://other.example/x"


def test_flash_round_trip_through_redirect_in_url_mode():
    """flash + redirect + show works without cookies."""
    app = wrap()
    c = no_cookies(app)
    token = sid_of(report(c.get("/login", headers=UA))["link"])
    location = c.get(f"/flash?sid={token}", headers=UA).headers["Location"]
    shown = report(c.get(location, headers=UA))
    assert shown["data"]["notice"] == "saved"
    again = report(c.get(shown["link"], headers=UA))
    assert "notice" not in again["data"]


def test_html_rewriting_in_url_mode_only_touches_markup():
    """rewrite_html rewrites links/forms, leaves title/textarea/script alone."""
    app = wrap(rewrite_html=True)
    c = no_cookies(app)
    token = sid_of(report(c.get("/login", headers=UA))["link"])
    r = c.get(f"/page?sid={token}", headers=UA)
    html = r.get_data(as_text=True)
    assert f'href="/one?sid={token}"' in html
    assert f"HREF=/two?sid={token}" in html
    assert 'href="https://other.example/"' in html
    assert html.count('type="hidden"') == 1
    assert '<title><a href="/t"></title>' in html
    assert "<textarea><a href='/raw'></a></textarea>" in html
    assert "'<a href=\"/js\">'" in html
    assert int(r.headers["Content-Length"]) == len(r.get_data())


def test_html_not_rewritten_in_cookie_mode_or_for_head():
    """Cookie-mode and HEAD responses pass through untouched."""
    app = wrap(rewrite_html=True)
    c = Client(app)
    c.get("/login")
    c.get("/")
    html = c.get("/page").get_data(as_text=True)
    assert "sid=" not in html
    r = no_cookies(app).head("/page")
    assert r.get_data() == b"" or b"sid=" not in r.get_data()


@pytest.mark.parametrize(
    "query",
    [
        "sid=",
        "sid=%ZZ",
        "sid=%00%ff",
        "sid=\u00e9\u20ac",
        "sid=a&sid=b",
        "sid=" + "A" * 5000,
        "&&&sid",
        "sid=..",
        "%73id=x",
    ],
)
def test_malformed_url_ids_never_fail(query):
    """Junk in the id parameter gives a fresh session, never a 500."""
    r = no_cookies(wrap()).get("/", query_string=query.encode().decode("latin-1"))
    assert r.status_code == 200 and report(r)["data"] == {}


@pytest.mark.parametrize(
    "attributes",
    [
        {
            "path": "/",
            "domain": None,
            "secure": "auto",
            "httponly": True,
            "samesite": "Lax",
        },
        {
            "path": "/app",
            "domain": "example.com",
            "secure": True,
            "httponly": False,
            "samesite": "Strict",
        },
        {
            "path": "/",
            "domain": None,
            "secure": False,
            "httponly": True,
            "samesite": None,
            "partitioned": True,
        },
        {
            "path": "/",
            "domain": None,
            "secure": "auto",
            "httponly": True,
            "samesite": "None",
        },
    ],
)
@pytest.mark.parametrize("scheme", ["http", "https"])
def test_set_cookie_headers_match_werkzeugs_dump_cookie(attributes, scheme):
    """The remembered attribute suffix gives exactly Werkzeug's Set-Cookie header."""
    from werkzeug.http import dump_cookie

    from wsgi_session.tracking import CookieProfile

    profile = CookieProfile("session", max_age=None, **attributes)
    environ = {"wsgi.url_scheme": scheme}
    secure = profile.is_secure(environ)
    options = dict(attributes, secure=secure)
    for value in ["A" * 43 + ".sig-_.x", "1", "another.value"]:
        for _ in range(2):  # the second time from the remembered suffix
            expected = dump_cookie("session", value, max_age=None, **options)
            assert profile.set_header(environ, value) == ("Set-Cookie", expected)
    probe = dump_cookie("session_probe", "1", max_age=None, **options)
    assert profile.probe_header(environ) == ("Set-Cookie", probe)
    # a value Werkzeug must quote is never formatted by the shortcut
    assert profile.set_header(environ, "a b;c")[1] == dump_cookie(
        "session", "a b;c", max_age=None, **options
    )


def test_form_body_survives_a_followed_307_redirect_on_a_first_visit():
    """A cookie-less POST that is redirected with 307 re-sends its whole body:
    looking for a URL id in it rewinds the client's stream instead of using it up."""

    def app(environ: dict[str, t.Any], start_response: t.Callable[..., t.Any]):
        if environ["PATH_INFO"] == "/user":
            start_response("307 Temporary Redirect", [("Location", "/user/")])
            return [b""]
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [body]

    client = Client(SessionMiddleware(app, secret_key=SECRET))
    r = client.post("/user", data={"status": "active"}, follow_redirects=True)
    assert r.status_code == 200 and r.get_data() == b"status=active"


def test_an_untouched_html_page_of_a_url_session_is_rewritten():
    """rewrite_html: a page that never uses the session still gets the URL
    id in its links (the session of a presented URL id is loaded first)."""
    from werkzeug.test import Client

    from wsgi_session import SessionMiddleware

    def app(environ, start_response):  # type: ignore[no-untyped-def]
        if environ["PATH_INFO"] == "/start":
            environ["wsgi_session"]["n"] = 1
        start_response("200 OK", [("Content-Type", "text/html")])
        return [b'<a href="/next">next</a>']

    mw = SessionMiddleware(app, secret_key="k", tracking="url", rewrite_html=True)
    client = Client(mw, use_cookies=False)
    first = client.get("/start").text
    href = first.split('href="')[1].split('"')[0]
    assert "sid=" in href
    sid = href.split("sid=")[1]
    again = client.get(f"/plain?sid={sid}").text
    assert f'href="/next?sid={sid}"' in again
