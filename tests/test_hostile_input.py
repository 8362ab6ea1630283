"""Hostile input, property-based (issue 5, item 3; SPEC §4, §11).

For every generated cookie header, query string, URL, HTML document and form
body: the status is never 5xx, no traceback reaches the client, and no id is
adopted (or handed out) that the server did not issue. The budget per
property comes from ``WSGI_SESSION_HYPOTHESIS_EXAMPLES`` (small by default;
``python tests/hostile_run.py`` runs >= 100,000 cases in total).
"""

from __future__ import annotations

import json
import os
import re
import typing as t
from urllib.parse import parse_qsl

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.http import parse_cookie

from tests.hostile import strategies as hs
from tests.hostile.harness import (
    BOUND_UA,
    OTHER_UA,
    PARAM,
    STATS,
    TokenPlaces,
    World,
    browser_origin,
    counting_unclosed_files,
)
from wsgi_session.rewrite import hidden_input_markup

EXAMPLES = int(os.environ.get("WSGI_SESSION_HYPOTHESIS_EXAMPLES", "400"))
HOSTILE = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)

WORLD = World()
POOL = WORLD.pool
MODES = st.sampled_from(["auto", "auto", "url", "cookie"])
AGENTS = st.sampled_from([BOUND_UA, BOUND_UA, OTHER_UA, "", None])
#: Request origins for the Host headers of hs.hosts() (None: malformed).
ORIGINS: dict[str, tuple[str, str, int] | None] = {
    "localhost": ("http", "localhost", 80),
    "LOCALHOST": ("http", "localhost", 80),
    "localhost:80": ("http", "localhost", 80),
    "localhost:8080": ("http", "localhost", 8080),
    "[::1]:8080": ("http", "::1", 8080),
    "evil.example": ("http", "evil.example", 80),
    " localhost ": ("http", "localhost", 80),
    "a@b": None,
    "localhost:99999": None,
}


@pytest.fixture(scope="module", autouse=True)
def _report_figures() -> t.Iterator[None]:
    """Write the run's figures where ``tests/hostile_run.py`` asked for them."""
    yield
    path = os.environ.get("WSGI_SESSION_HOSTILE_REPORT")
    if path:
        figures = dict(STATS, cases=dict(STATS["cases"]), examples_setting=EXAMPLES)
        with open(path, "w", encoding="utf-8") as f:
            json.dump(figures, f, indent=2)


def _query_seen_by_app(outcome: t.Any) -> str:
    return str(outcome.report()["query"])


@HOSTILE
@given(header=hs.cookie_headers(POOL), ua=AGENTS, write=st.booleans(), mode=MODES)
def test_cookie_headers_never_fail_or_adopt_foreign_ids(header, ua, write, mode):
    """Any Cookie header: no 5xx, and only a presented, issued, live id is resumed."""
    env = WORLD.environ(cookie=header, ua=ua, extra={"hostile.write": write})
    outcome = WORLD.run("cookie_headers", mode, env)
    WORLD.check(outcome, presented=header)


@HOSTILE
@given(query=hs.query_strings(POOL), ua=AGENTS, write=st.booleans(), mode=MODES)
def test_query_strings_never_fail_or_adopt_foreign_ids(query, ua, write, mode):
    """Any query string: no 5xx, no foreign id, and the app never sees a raw sid."""
    env = WORLD.environ(query=query, ua=ua, extra={"hostile.write": write})
    outcome = WORLD.run("query_strings", mode, env)
    WORLD.check(outcome, presented=query)
    if mode != "cookie":
        names = [
            pair.partition("=")[0] for pair in _query_seen_by_app(outcome).split("&")
        ]
        assert PARAM not in names


URL_TOKENS = st.sampled_from(
    [WORLD.bound_token, WORLD.bound_token, WORLD.other_token, WORLD.cookie_token, *POOL]
)


@HOSTILE
@given(
    header=hs.cookie_headers(POOL),
    token=URL_TOKENS,
    how=hs.ENCODINGS,
    rest=hs.query_strings(POOL),
    ua=AGENTS,
    mode=MODES,
)
def test_cookie_and_url_conflicts_never_adopt_foreign_ids(
    header, token, how, rest, ua, mode
):
    """Cookie and URL ids together: a URL id is never used next to a cookie of ours."""
    query = f"{PARAM}={hs.encode_value(token, how)}&{rest}"
    env = WORLD.environ(cookie=header, query=query, ua=ua)
    outcome = WORLD.run("cookie_and_url", mode, env)
    WORLD.check(outcome, presented=header + "\n" + query)
    if _carries_our_cookie(header):
        for sid in outcome.resumed:
            assert sid in header, "a URL id was adopted next to a cookie of ours"


def _carries_our_cookie(header: str) -> bool:
    """Whether a browser-style reading finds our session or probe cookie, with a
    value, in a header of ordinary size (empty values and oversized headers are
    covered by named tests in test_adversarial.py)."""
    if len(header) > 16 * 1024:
        return False
    try:
        cookies = parse_cookie(header)
    except Exception:
        return False
    return bool(cookies.get("session") or cookies.get("session_probe"))


def _rewritten(url: str, host: str, mode: str) -> t.Any:
    env = WORLD.environ(
        query=f"{PARAM}={WORLD.bound_token}",
        host=host,
        extra={"hostile.url": url},
    )
    return WORLD.run("rewrite_url", mode, env)


@HOSTILE
@given(url=hs.urls(), host=hs.hosts(), mode=st.sampled_from(["auto", "url"]))
def test_rewrite_url_never_sends_the_id_to_another_origin(url, host, mode):
    """rewrite_url adds the id only to URLs a browser sends to the request's origin."""
    outcome = _rewritten(url, host, mode)
    WORLD.check(outcome, presented=WORLD.bound_token)
    report = outcome.report()
    result = report["rewritten"]
    if result == url:
        return
    base = ORIGINS[host] or ("http", "\x00malformed host", -1)
    assert browser_origin(url, base) == base, (url, result)
    assert not re.search("[\x00-\x1f\x7f]", result)
    pairs = [p for p in result.partition("#")[0].partition("?")[2].split("&")]
    assert pairs.count(f"{PARAM}={WORLD.bound_token}") == 1


@HOSTILE
@given(
    path=st.sampled_from(
        ["/p", "/a/b", "rel", "/x?a=1", "?q", "/p#f", "//localhost/x"]
    ),
    mode=st.sampled_from(["auto", "url"]),
)
def test_rewrite_url_does_rewrite_plain_same_origin_urls(path, mode):
    """Plain same-origin URLs do get the id (URL mode works at all)."""
    outcome = _rewritten(path, "localhost", mode)
    WORLD.check(outcome, presented=WORLD.bound_token)
    assert f"{PARAM}={WORLD.bound_token}" in outcome.report()["rewritten"]


#: The URL id an HTML request carries: the bound session's, a foreign one, none.
CARRIED = {"bound": WORLD.bound_token, "other": WORLD.other_token, "none": None}
CHARSETS = st.sampled_from(
    ["utf-8", "utf-8", "latin-1", "cp1252", "shift_jis", "utf-16", "bogus", None]
)


def _encode_doc(text: str, charset: str | None) -> bytes:
    codec = charset if charset not in (None, "bogus") else "utf-8"
    return text.encode(codec, "xmlcharrefreplace")


@HOSTILE
@given(
    doc=hs.html_documents(st.one_of(hs.urls(), hs.plain_urls())),
    charset=CHARSETS,
    carry=st.sampled_from(["bound", "bound", "bound", "none", "other"]),
    write=st.booleans(),
    mode=st.sampled_from(["auto", "auto", "url", "url", "cookie"]),
    junk_bytes=st.one_of(*[st.none()] * 5, st.binary(max_size=300)),
)
def test_rewrite_html_never_fails_or_leaks_the_id(
    doc, charset, carry, write, mode, junk_bytes
):
    """HTML rewriting: no 5xx, right Content-Length, the id only in same-origin
    links and forms, raw text and comments untouched."""
    body = junk_bytes if junk_bytes is not None else _encode_doc(doc.text, charset)
    ctype = "text/html" + (f"; charset={charset}" if charset else "")
    token = CARRIED[carry]
    query = f"{PARAM}={token}" if token else ""
    env = WORLD.environ(
        query=query,
        extra={"hostile.html": body, "hostile.ctype": ctype, "hostile.write": write},
    )
    outcome = WORLD.run("rewrite_html", mode, env)
    WORLD.check(outcome, presented=query)
    length = outcome.header("Content-Length")
    assert length is not None and int(length) == len(outcome.body)
    session_id = outcome.header("X-Hostile-Session")
    if not session_id:
        assert outcome.body == body
        return
    current = WORLD.signer.sign(session_id)
    codec = charset if charset not in (None, "bogus") else "latin-1"
    text = outcome.body.decode(codec, "replace")
    if mode == "cookie" or current not in text:
        assert current not in text
        return
    STATS["html_rewritten"] += 1
    places = TokenPlaces(
        current, ("http", "localhost", 80), str(hidden_input_markup(PARAM, current))
    )
    places.feed(text)
    places.close()
    assert places.leaks == [], places.leaks
    if junk_bytes is None and doc.well_formed:
        for section in doc.raw_sections:
            assert section in text


def _body_request(ctype: str, body: bytes, length: str, cookie: str | None) -> t.Any:
    return WORLD.environ(
        method="POST",
        cookie=cookie,
        body=body,
        content_type=ctype,
        content_length=length,
        extra={"hostile.write": True},
    )


def _check_body_kept(outcome: t.Any, body: bytes, length: str) -> None:
    """The app reads exactly the bytes Content-Length promises (the body was
    inspected without being consumed)."""
    if re.fullmatch(r"[0-9]{1,9}", length):
        seen = outcome.report()["body"].encode("latin-1")
        assert seen == body[: int(length)]


COOKIES = st.one_of(
    st.none(), st.none(), st.just("session_probe=1"), hs.cookie_headers(POOL)
)


@HOSTILE
@given(
    form=hs.urlencoded_requests(POOL),
    data=st.data(),
    cookie=COOKIES,
    mode=MODES,
)
def test_urlencoded_bodies_never_fail_and_stay_readable(form, data, cookie, mode):
    """Urlencoded bodies with lying lengths: no 5xx, no foreign id, body intact."""
    ctype, body = form
    length = data.draw(hs.content_lengths(len(body)), label="content_length")
    with counting_unclosed_files():
        env = _body_request(ctype, body, length, cookie)
        outcome = WORLD.run("urlencoded_bodies", mode, env)
    WORLD.check(outcome, presented=body.decode("latin-1") + "\n" + (cookie or ""))
    _check_body_kept(outcome, body, length)


@HOSTILE
@given(form=hs.multipart_bodies(POOL), data=st.data(), cookie=COOKIES, mode=MODES)
def test_multipart_bodies_never_fail_and_stay_readable(form, data, cookie, mode):
    """Multipart bodies, broken boundaries, lying lengths: no 5xx, body intact."""
    ctype, body = form
    length = data.draw(hs.content_lengths(len(body)), label="content_length")
    with counting_unclosed_files():
        env = _body_request(ctype, body, length, cookie)
        outcome = WORLD.run("multipart_bodies", mode, env)
    WORLD.check(outcome, presented=body.decode("latin-1") + "\n" + (cookie or ""))
    _check_body_kept(outcome, body, length)


def test_issued_ids_in_bodies_are_adopted_for_cookieless_clients():
    """The harness is live: the bound URL session's id in a form body is resumed."""
    body = f"a=1&{PARAM}={WORLD.bound_token}".encode()
    env = _body_request("application/x-www-form-urlencoded", body, str(len(body)), None)
    outcome = WORLD.run("sanity", "auto", env)
    WORLD.check(outcome, presented=body.decode())
    assert outcome.resumed == [WORLD._sid(WORLD.bound_token)]
    assert dict(parse_qsl(outcome.report()["body"]))[PARAM] == WORLD.bound_token
