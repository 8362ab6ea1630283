"""Tests for wsgi_session.rewrite: URL, Location and HTML rewriting in URL mode."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markupsafe import Markup

from wsgi_session.rewrite import (
    HTMLRewriter,
    Origin,
    add_session_param,
    charset_of,
    hidden_input_markup,
    request_origin,
    rewrite_html,
    rewrite_location,
    strip_session_param,
)

GOOD: Origin = ("http", "good.example", 80)
SHOP: Origin = ("https", "shop.example", 443)
TOKEN = "TOK"
INPUT = '<input type="hidden" name="sid" value="TOK">'


def add(url: str, origin: Origin = GOOD) -> str:
    return add_session_param(url, param="sid", token=TOKEN, origin=origin)


def shop_url(url: str) -> str:
    return add_session_param(url, param="sid", token=TOKEN, origin=SHOP)


def rewrite(text: str) -> str:
    return HTMLRewriter(shop_url, INPUT).rewrite(text)


# ------------------------------------------------------------ add_session_param

SAME_ORIGIN = [
    ("x", "x?sid=TOK"),
    ("../x", "../x?sid=TOK"),
    ("/x", "/x?sid=TOK"),
    ("?q", "?q&sid=TOK"),
    ("", "?sid=TOK"),
    ("?", "?sid=TOK"),
    ("./", "./?sid=TOK"),
    ("x?a=1#f", "x?a=1&sid=TOK#f"),
    ("x#", "x?sid=TOK#"),
    ("x#a?b=1", "x?sid=TOK#a?b=1"),
    ("/p?a=1&a=2&flag&b=", "/p?a=1&a=2&flag&b=&sid=TOK"),
    ("/p?q=%E9%zz+%2B&x=%", "/p?q=%E9%zz+%2B&x=%&sid=TOK"),
    ("/p?a=1&", "/p?a=1&sid=TOK"),
    ("/p?a&&b", "/p?a&&b&sid=TOK"),
    ("/p?sid=old", "/p?sid=TOK"),
    ("/p?sid=old&a=1&sid=older#f", "/p?a=1&sid=TOK#f"),
    ("/p?sid", "/p?sid=TOK"),
    ("/p?%73id=old", "/p?sid=TOK"),
    ("/p?SID=keep&sidx=keep", "/p?SID=keep&sidx=keep&sid=TOK"),
    ("http://good.example/x", "http://good.example/x?sid=TOK"),
    ("http://good.example", "http://good.example?sid=TOK"),
    ("http://good.example:80/x", "http://good.example:80/x?sid=TOK"),
    ("http://good.example:080/x", "http://good.example:080/x?sid=TOK"),
    ("http://good.example:/x", "http://good.example:/x?sid=TOK"),
    ("HTTP://GOOD.Example/X", "HTTP://GOOD.Example/X?sid=TOK"),
    ("http://good.example?x=1", "http://good.example?x=1&sid=TOK"),
    ("//good.example/x", "//good.example/x?sid=TOK"),
    ("  /x  ", "/x?sid=TOK"),
    ("/x\n/y", "/x/y?sid=TOK"),
    ("http://go\tod.example/", "http://good.example/?sid=TOK"),
    ("./a:b", "./a:b?sid=TOK"),
    ("/caf\xe9/\u8868", "/caf\xe9/\u8868?sid=TOK"),
    ("x\\y", "x\\y?sid=TOK"),
]

LEFT_ALONE = [
    "#frag",
    "#",
    "//evil.example",
    "//evil.example/x",
    "/\\evil.example",
    "\\\\evil.example",
    "\\/evil.example",
    " //evil.example",
    "\t//evil.example",
    "///evil.example",
    "http:evil.example",
    "https:/evil.example",
    "http:/good.example",
    "http:///evil.example",
    "http:\\\\evil.example",
    "http://good.example@evil.example/",
    "http://user:pw@good.example/",
    "http://evil.example\\@good.example",
    "http://good.example\\@evil.example",
    "http://good.example%40evil.example/",
    "http://evil.example/",
    "http://good.example.evil.example/",
    "http://good.example./",
    "http://good.example:8080/",
    "http://good.example:99999/",
    "http://good.example:80:80/",
    "https://good.example/",
    "ftp://good.example/",
    "ws://good.example/",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    " javascript:alert(1)",
    "\x01\x02 \t\njavascript:alert(1)",
    "java\tscript:alert(1)",
    "java\nscript:alert(1)",
    "jav\ra\tscript:alert(1)",
    "\x00javascript:alert(1)",
    "java\x00script:alert(1)",
    "\u3000javascript:alert(1)",
    "\u200bjavascript:alert(1)",
    "vbscript:msgbox(1)",
    "mailto:someone@good.example",
    "data:text/html,<a href=/x>",
    "tel:+15551234",
    "about:blank",
    "a:b",
    "/x\x00y",
    "http://[::1]/",
]


@pytest.mark.parametrize(("url", "expected"), SAME_ORIGIN)
def test_same_origin_url_gets_the_session_param(url: str, expected: str) -> None:
    """Relative and same-origin absolute URLs get sid=TOK, query and fragment kept."""
    assert add(url) == expected


@pytest.mark.parametrize("url", LEFT_ALONE)
def test_foreign_or_doubtful_url_is_left_alone(url: str) -> None:
    """Other origins, scheme tricks, userinfo and fragment-only URLs stay unchanged."""
    assert add(url) == url


def test_the_table_has_at_least_forty_urls() -> None:
    """The URL table covers at least 40 same-origin and hostile cases."""
    assert len(SAME_ORIGIN) + len(LEFT_ALONE) >= 40


def test_token_and_param_are_percent_encoded() -> None:
    """Characters outside the URL-safe set in the token are percent-encoded."""
    url = add_session_param("/x", param="s id", token="a+b/c=&", origin=GOOD)
    assert url == "/x?s%20id=a%2Bb%2Fc%3D%26"


def test_url_safe_token_is_written_as_is() -> None:
    """A URL-safe base64 token with '.', '-' and '_' needs no encoding."""
    token = "eyJpZCI6MX0.Zx-_Yw.abc_DEF-123"
    assert add_session_param("/x", param="sid", token=token, origin=GOOD) == (
        f"/x?sid={token}"
    )


def test_https_origin_with_explicit_port() -> None:
    """An origin on a non-default port matches only that port."""
    origin: Origin = ("https", "good.example", 8443)
    assert add("https://good.example:8443/a", origin) == (
        "https://good.example:8443/a?sid=TOK"
    )
    assert add("https://good.example/a", origin) == "https://good.example/a"
    assert add("//good.example:8443/a", origin) == "//good.example:8443/a?sid=TOK"


def test_ipv6_origin_matches_bracketed_host() -> None:
    """An IPv6 origin host matches the bracketed literal in URLs."""
    origin: Origin = ("http", "::1", 8080)
    assert add("http://[::1]:8080/a", origin) == "http://[::1]:8080/a?sid=TOK"
    assert add("http://[::2]:8080/a", origin) == "http://[::2]:8080/a"


def test_malformed_origin_still_rewrites_relative_urls_only() -> None:
    """With a malformed Host, relative URLs are rewritten and absolute ones are not."""
    origin: Origin = ("http", "", -1)
    assert add("/a", origin) == "/a?sid=TOK"
    assert add("http:///a", origin) == "http:///a"
    assert add("//", origin) == "//"


@pytest.mark.parametrize("value", [None, 3, b"/x"])
def test_add_session_param_never_raises_on_wrong_types(value: object) -> None:
    """Even a non-str URL is returned unchanged instead of raising."""
    assert add(value) is value  # type: ignore[arg-type]


def test_rewrite_location_follows_the_same_rules() -> None:
    """Location headers: relative and same-origin get the id, others do not."""
    assert rewrite_location("/next?a=1", param="sid", token="T", origin=SHOP) == (
        "/next?a=1&sid=T"
    )
    assert rewrite_location("next", param="sid", token="T", origin=SHOP) == (
        "next?sid=T"
    )
    assert rewrite_location(
        "https://shop.example/done", param="sid", token="T", origin=SHOP
    ) == ("https://shop.example/done?sid=T")
    for foreign in (
        "https://idp.example/login",
        "//idp.example/",
        "http://shop.example/",
    ):
        assert rewrite_location(foreign, param="sid", token="T", origin=SHOP) == foreign


# --------------------------------------------------------------- request_origin


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"wsgi.url_scheme": "http", "HTTP_HOST": "good.example"}, GOOD),
        ({"wsgi.url_scheme": "HTTPS", "HTTP_HOST": "Shop.Example"}, SHOP),
        (
            {"wsgi.url_scheme": "https", "HTTP_HOST": "shop.example:443"},
            SHOP,
        ),
        (
            {"wsgi.url_scheme": "http", "HTTP_HOST": "good.example:8080"},
            ("http", "good.example", 8080),
        ),
        (
            {"wsgi.url_scheme": "http", "HTTP_HOST": "[::1]:8000"},
            ("http", "::1", 8000),
        ),
        (
            {"wsgi.url_scheme": "https", "HTTP_HOST": "[2001:DB8::1]"},
            ("https", "2001:db8::1", 443),
        ),
        (
            {"wsgi.url_scheme": "http", "HTTP_HOST": "10.0.0.1:81"},
            ("http", "10.0.0.1", 81),
        ),
        (
            {"wsgi.url_scheme": "http", "SERVER_NAME": "good.example"},
            GOOD,
        ),
        (
            {
                "wsgi.url_scheme": "http",
                "SERVER_NAME": "Good.Example",
                "SERVER_PORT": "8080",
            },
            ("http", "good.example", 8080),
        ),
        (
            {"wsgi.url_scheme": "https", "SERVER_NAME": "::1", "SERVER_PORT": "443"},
            ("https", "::1", 443),
        ),
        (
            {
                "wsgi.url_scheme": "http",
                "HTTP_HOST": "",
                "SERVER_NAME": "good.example",
                "SERVER_PORT": "80",
            },
            GOOD,
        ),
        ({}, ("http", "", -1)),
    ],
)
def test_request_origin(environ: dict[str, str], expected: Origin) -> None:
    """The origin comes from the scheme and Host (or SERVER_NAME/PORT)."""
    assert request_origin(environ) == expected


@pytest.mark.parametrize(
    "host",
    [
        "good.example@evil.example",
        "evil.example/x",
        "good.example:port",
        "good.example:99999",
        "good.example:80:80",
        "[::1",
        "[::1]x",
        "[good.example]",
        "b\xfccher.example",
        "good example",
        "good.example\\x",
        "\x00",
        ":80",
    ],
)
def test_malformed_host_matches_no_absolute_url(host: str) -> None:
    """A malformed Host never raises and yields an origin nothing matches."""
    origin = request_origin({"wsgi.url_scheme": "http", "HTTP_HOST": host})
    assert origin == ("http", "", -1)
    assert add("http://good.example/", origin) == "http://good.example/"


def test_request_origin_ignores_non_string_values() -> None:
    """Non-str environ values (buggy servers) do not raise."""
    assert request_origin({"wsgi.url_scheme": 1, "HTTP_HOST": 2}) == ("http", "", -1)


# --------------------------------------------------------- strip_session_param


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ("", [])),
        ("a=1&b=2", ("a=1&b=2", [])),
        ("sid=abc", ("", ["abc"])),
        ("a=1&sid=abc&b=2", ("a=1&b=2", ["abc"])),
        ("sid=x&a=1&sid=y", ("a=1", ["x", "y"])),
        ("sid=a%2Eb+c", ("", ["a.b c"])),
        ("%73id=v&s%69d=w", ("", ["v", "w"])),
        ("sid=%zz%2&a=%E9%", ("a=%E9%", ["%zz%2"])),
        ("sidx=1&xsid=2&SID=3", ("sidx=1&xsid=2&SID=3", [])),
        ("sid&a", ("a", [""])),
        ("a&&sid=1&", ("a&&", ["1"])),
        ("a=1;sid=2", ("a=1;sid=2", [])),
        ("q=\xe9\xff&sid=t%E9", ("q=\xe9\xff", ["t\xe9"])),
        ("a=%2&b=%&c=%%41", ("a=%2&b=%&c=%%41", [])),
        ("sid==x=y", ("", ["=x=y"])),
    ],
)
def test_strip_session_param(query: str, expected: tuple[str, list[str]]) -> None:
    """Every sid pair is removed and decoded; other pairs stay byte-for-byte."""
    assert strip_session_param(query, "sid") == expected


def test_strip_session_param_never_raises_on_wrong_types() -> None:
    """A non-str query is returned as is with no values."""
    query: object = None
    result: object = strip_session_param(query, "sid")  # type: ignore[arg-type]
    assert result == (None, [])


# ------------------------------------------------------------ hidden input


def test_hidden_input_markup_escapes_both_values() -> None:
    """The name and the value are HTML-escaped in the hidden input."""
    markup = hidden_input_markup('s"d<', "a&b'>")
    assert isinstance(markup, Markup)
    assert markup == (
        '<input type="hidden" name="s&#34;d&lt;" value="a&amp;b&#39;&gt;">'
    )


def test_hidden_input_markup_plain_token() -> None:
    """A URL-safe token is written unchanged."""
    assert hidden_input_markup("sid", "ab.c-_") == (
        '<input type="hidden" name="sid" value="ab.c-_">'
    )


# ------------------------------------------------------------------ charset_of


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [
        ("text/html", "utf-8"),
        ("", "utf-8"),
        ("text/html; charset=", "utf-8"),
        ("text/html; charset=UTF-8", "utf-8"),
        ("text/html;charset=utf8", "utf-8"),
        ('text/html; charset="windows-1252"', "cp1252"),
        ("text/html; charset=ISO-8859-1", "cp1252"),
        ("text/html; charset=Shift_JIS", "cp932"),
        ("text/html; charset=euc-jp", "euc_jp"),
        ("text/html; charset=koi8-r", "koi8-r"),
        ("text/html; charset=bogus", "latin-1"),
        ("text/html; charset=base64", "latin-1"),
        ("text/html; charset=rot13", "latin-1"),
    ],
)
def test_charset_of(content_type: str, expected: str) -> None:
    """The codec comes from the charset parameter, utf-8 when absent."""
    assert charset_of(content_type) == expected


def test_charset_of_never_raises() -> None:
    """A non-str Content-Type gives the lossless fallback."""
    assert charset_of(None) == "latin-1"  # type: ignore[arg-type]


# --------------------------------------------------------- HTML: whole pages

DJANGO_ADMIN = """\
<!DOCTYPE html>
<html lang="en-us" dir="ltr">
<head>
<title>Select order to change | Django site admin</title>
<link rel="stylesheet" href="/static/admin/css/base.css">
<script src="/static/admin/js/nav_sidebar.js" defer></script>
<script>
  var link = '<a href="/admin/">home</a>';
  if (a < b && b > c) { document.write("<form action='/x'>"); }
</script>
</head>
<body class=" app-shop model-order change-list" data-admin-utc-offset="0">
<a href="#content-start" class="skip-to-content-link">Skip to main content</a>
<div id="header">
  <div id="branding"><h1 id="site-name"><a href="/admin/">Django administration</a></h1></div>
  <div id="user-tools">
    Welcome, <strong>admin</strong>.
    <a href="/">View site</a> /
    <a href="/admin/password_change/">Change password</a> /
    <form id="logout-form" method="post" action="/admin/logout/">
      <input type="hidden" name="csrfmiddlewaretoken" value="abc">
      <button type="submit">Log out</button>
    </form>
    <a href="https://docs.djangoproject.com/en/5.0/">Documentation</a>
  </div>
</div>
<!-- breadcrumbs: <a href="/admin/shop/"> -->
<div class="breadcrumbs"><a href="/admin/">Home</a> &rsaquo; <a href="/admin/shop/">Shop</a></div>
<div id="changelist-search"><form id="changelist-search" method="get">
  <input type="text" size="40" name="q" value="" id="searchbar" autofocus>
</form></div>
<form id="changelist-form" method="post" novalidate><input type="hidden" name="csrfmiddlewaretoken" value="abc">
<table id="result_list">
<thead><tr><th scope="col" class="sortable column-id"><a href="?o=1.2">ID</a></th></tr></thead>
<tbody>
<tr><th class="field-id"><a href="/admin/shop/order/1/change/?_changelist_filters=o%3D1&amp;p=2">1</a></th>
<td><img src="/static/admin/img/icon-yes.svg" alt="True"></td>
<td><a href="mailto:buyer@example.com">buyer@example.com</a> <a href="javascript:void(0)" onclick="x()">x</a></td></tr>
</tbody></table>
</form>
<iframe src="/admin/preview/1/" title="preview"></iframe>
</body>
</html>
"""  # noqa: E501

DJANGO_ADMIN_REWRITTEN = """\
<!DOCTYPE html>
<html lang="en-us" dir="ltr">
<head>
<title>Select order to change | Django site admin</title>
<link rel="stylesheet" href="/static/admin/css/base.css">
<script src="/static/admin/js/nav_sidebar.js" defer></script>
<script>
  var link = '<a href="/admin/">home</a>';
  if (a < b && b > c) { document.write("<form action='/x'>"); }
</script>
</head>
<body class=" app-shop model-order change-list" data-admin-utc-offset="0">
<a href="#content-start" class="skip-to-content-link">Skip to main content</a>
<div id="header">
  <div id="branding"><h1 id="site-name"><a href="/admin/?sid=TOK">Django administration</a></h1></div>
  <div id="user-tools">
    Welcome, <strong>admin</strong>.
    <a href="/?sid=TOK">View site</a> /
    <a href="/admin/password_change/?sid=TOK">Change password</a> /
    <form id="logout-form" method="post" action="/admin/logout/?sid=TOK"><input type="hidden" name="sid" value="TOK">
      <input type="hidden" name="csrfmiddlewaretoken" value="abc">
      <button type="submit">Log out</button>
    </form>
    <a href="https://docs.djangoproject.com/en/5.0/">Documentation</a>
  </div>
</div>
<!-- breadcrumbs: <a href="/admin/shop/"> -->
<div class="breadcrumbs"><a href="/admin/?sid=TOK">Home</a> &rsaquo; <a href="/admin/shop/?sid=TOK">Shop</a></div>
<div id="changelist-search"><form id="changelist-search" method="get"><input type="hidden" name="sid" value="TOK">
  <input type="text" size="40" name="q" value="" id="searchbar" autofocus>
</form></div>
<form id="changelist-form" method="post" novalidate><input type="hidden" name="sid" value="TOK"><input type="hidden" name="csrfmiddlewaretoken" value="abc">
<table id="result_list">
<thead><tr><th scope="col" class="sortable column-id"><a href="?o=1.2&amp;sid=TOK">ID</a></th></tr></thead>
<tbody>
<tr><th class="field-id"><a href="/admin/shop/order/1/change/?_changelist_filters=o%3D1&amp;p=2&amp;sid=TOK">1</a></th>
<td><img src="/static/admin/img/icon-yes.svg" alt="True"></td>
<td><a href="mailto:buyer@example.com">buyer@example.com</a> <a href="javascript:void(0)" onclick="x()">x</a></td></tr>
</tbody></table>
</form>
<iframe src="/admin/preview/1/?sid=TOK" title="preview"></iframe>
</body>
</html>
"""  # noqa: E501


def test_django_admin_like_page() -> None:
    """Links, same-origin and action-less forms, iframes are rewritten; the rest not."""
    assert rewrite(DJANGO_ADMIN) == DJANGO_ADMIN_REWRITTEN


HTML_EDITOR = """\
<html><head><title>Edit page <a href="/in-title"></title>
<script src="/static/tinymce/tinymce.min.js"></script>
<script>tinymce.init({selector: '#body', link_list: [{title: 'Home', value: '/'}],
  templates: '<a href="/tpl">template</a>'});</script>
<style>a[href="/x"] { color: red } /* <a href="/y"> */</style>
</head><body>
<form method="post" action="/pages/7/save">
<textarea id="body" name="body"><p>See <a href="/products/1">our product</a></p>
&lt;a href=&quot;/escaped&quot;&gt;</TEXTAREA >
<textarea name="other"></textareax><a href="/still-text"></textarea>
<a href="/after">after</a>
</form>
</body></html>
"""

HTML_EDITOR_REWRITTEN = """\
<html><head><title>Edit page <a href="/in-title"></title>
<script src="/static/tinymce/tinymce.min.js"></script>
<script>tinymce.init({selector: '#body', link_list: [{title: 'Home', value: '/'}],
  templates: '<a href="/tpl">template</a>'});</script>
<style>a[href="/x"] { color: red } /* <a href="/y"> */</style>
</head><body>
<form method="post" action="/pages/7/save?sid=TOK"><input type="hidden" name="sid" value="TOK">
<textarea id="body" name="body"><p>See <a href="/products/1">our product</a></p>
&lt;a href=&quot;/escaped&quot;&gt;</TEXTAREA >
<textarea name="other"></textareax><a href="/still-text"></textarea>
<a href="/after?sid=TOK">after</a>
</form>
</body></html>
"""  # noqa: E501


def test_html_editor_in_textarea_is_untouched() -> None:
    """Nothing inside textarea, title, script or style gets a session id."""
    assert rewrite(HTML_EDITOR) == HTML_EDITOR_REWRITTEN


def test_inline_scripts_with_link_strings() -> None:
    """Script contents, including escaped and double-escaped states, stay as is."""
    page = (
        '<script>document.write("<a href=\\"/x\\">x</a>");</script>'
        "<SCRIPT type=text/javascript>var s = '</scripty><a href=/y>';</SCRIPT>"
        '<script><!-- document.write("<script>x</script><a href=/in>") --></script>'
        "<script><!--<script></script><a href=/in2></script>--></script>"
        "<script><!--></script><a href=/out1>"
        "<script><!--x--></script><a href=/out2>"
        "<a href=/end>"
    )
    expected = (
        '<script>document.write("<a href=\\"/x\\">x</a>");</script>'
        "<SCRIPT type=text/javascript>var s = '</scripty><a href=/y>';</SCRIPT>"
        '<script><!-- document.write("<script>x</script><a href=/in>") --></script>'
        "<script><!--<script></script><a href=/in2></script>--></script>"
        "<script><!--></script><a href=/out1?sid=TOK>"
        "<script><!--x--></script><a href=/out2?sid=TOK>"
        "<a href=/end?sid=TOK>"
    )
    assert rewrite(page) == expected


@pytest.mark.parametrize(
    ("page", "expected"),
    [
        ("<!-- <a href=/x> --><a href=/y>", "<!-- <a href=/x> --><a href=/y?sid=TOK>"),
        ("<!--><a href=/y>", "<!--><a href=/y?sid=TOK>"),
        ("<!---><a href=/y>", "<!---><a href=/y?sid=TOK>"),
        ("<!----><a href=/y>", "<!----><a href=/y?sid=TOK>"),
        ("<!--!><a href=/x>--><a href=/y>", "<!--!><a href=/x>--><a href=/y?sid=TOK>"),
        ("<!-- x --!><a href=/y>", "<!-- x --!><a href=/y?sid=TOK>"),
        ("<!-- -- ><a href=/x> -->", "<!-- -- ><a href=/x> -->"),
        (
            "<!--[if IE]><a href=/ie><![endif]--><a href=/y>",
            "<!--[if IE]><a href=/ie><![endif]--><a href=/y?sid=TOK>",
        ),
        ("<!-- unclosed <a href=/x>", "<!-- unclosed <a href=/x>"),
        ("<!doctype html><a href=/y>", "<!doctype html><a href=/y?sid=TOK>"),
        ("<!bogus <a href=/x><a href=/y>", "<!bogus <a href=/x><a href=/y?sid=TOK>"),
        (
            "<?php echo '<a href=/x'; ?><a href=/y>",
            "<?php echo '<a href=/x'; ?><a href=/y?sid=TOK>",
        ),
        ("</ <a href=/x><a href=/y>", "</ <a href=/x><a href=/y?sid=TOK>"),
        ("</><a href=/y>", "</><a href=/y?sid=TOK>"),
        (
            "</p title='<a href=/x>'><a href=/y>",
            "</p title='<a href=/x>'><a href=/y?sid=TOK>",
        ),
        (
            "<svg><![CDATA[<a href=/x>]]></svg><a href=/y>",
            "<svg><![CDATA[<a href=/x>]]></svg><a href=/y?sid=TOK>",
        ),
        ("<![CDATA[ <a href=/x> unclosed", "<![CDATA[ <a href=/x> unclosed"),
    ],
)
def test_comments_and_declarations_are_untouched(page: str, expected: str) -> None:
    """Comments (all their odd endings), doctype, CDATA and PIs are not markup."""
    assert rewrite(page) == expected


@pytest.mark.parametrize(
    ("page", "expected"),
    [
        (
            "<A HREF=/Page?X=1 TARGET=_blank>",
            "<A HREF=/Page?X=1&amp;sid=TOK TARGET=_blank>",
        ),
        ("<a href=/x/>", "<a href=/x/?sid=TOK>"),
        ("<a href='/x'>", "<a href='/x?sid=TOK'>"),
        ("<a href=\"/x\" href='/y'>", "<a href=\"/x?sid=TOK\" href='/y'>"),
        ('<a class=x href = "/x" >', '<a class=x href = "/x?sid=TOK" >'),
        ("<a\nhref\n=\n/x\n>", "<a\nhref\n=\n/x?sid=TOK\n>"),
        ("<a href>", '<a href="?sid=TOK">'),
        ('<a href="">', '<a href="?sid=TOK">'),
        ("<a href=>", "<a href=?sid=TOK>"),
        ("<a download href=/f.pdf>", "<a download href=/f.pdf?sid=TOK>"),
        ("<a title='<a href=/x>' href=/y>", "<a title='<a href=/x>' href=/y?sid=TOK>"),
        ('<p title="<a href=/x>">', '<p title="<a href=/x>">'),
        ("<a data-href=/x>", "<a data-href=/x>"),
        ("<a/href=/x>", "<a/href=/x?sid=TOK>"),
        ("<a href=/x<a href=/y>", "<a href=/x<a?sid=TOK href=/y>"),
        ('<a href="/x"title="t">', '<a href="/x?sid=TOK"title="t">'),
        ("<area shape=rect href=/map>", "<area shape=rect href=/map?sid=TOK>"),
        ("<frame src=/nav>", "<frame src=/nav?sid=TOK>"),
        (
            "<iframe src=/f><a href=/x></iframe>",
            "<iframe src=/f?sid=TOK><a href=/x></iframe>",
        ),
        (
            "<abbr href=/x><b href=/x><img src=/x>",
            "<abbr href=/x><b href=/x><img src=/x>",
        ),
        (
            "<link href=/x><script src=/x></script>",
            "<link href=/x><script src=/x></script>",
        ),
        ('<a href="/x', '<a href="/x'),
        ("<a href=/x", "<a href=/x"),
        ("a < b <a href=/x> c > d", "a < b <a href=/x?sid=TOK> c > d"),
        ("<a href=/x>&amp;<a href=/y", "<a href=/x?sid=TOK>&amp;<a href=/y"),
        ("<\u0430 href=/x>", "<\u0430 href=/x>"),
    ],
)
def test_tags_are_tokenized_like_browsers(page: str, expected: str) -> None:
    """Odd quoting, case, unquoted values and broken tags are handled as browsers do."""
    assert rewrite(page) == expected


@pytest.mark.parametrize(
    ("page", "expected"),
    [
        ('<a href="/x?a=1&amp;b=2">', '<a href="/x?a=1&amp;b=2&amp;sid=TOK">'),
        ("<a href='/x?a=1&b=2'>", "<a href='/x?a=1&b=2&amp;sid=TOK'>"),
        ("<a href=/x?a=1&copy=2>", "<a href=/x?a=1&copy=2&amp;sid=TOK>"),
        ('<a href="/x?a=&lt;&#x3E;#f">', '<a href="/x?a=&lt;&#x3E;&amp;sid=TOK#f">'),
        ('<a href="/x#&quot;">', '<a href="/x?sid=TOK#&quot;">'),
        ('<a href="/x?sid=old&amp;a=1">', '<a href="/x?a=1&amp;sid=TOK">'),
        ('<a href="&#47;x">', '<a href="&#47;x?sid=TOK">'),
        (
            '<a href="&#x2F;&#x2F;evil.example/">',
            '<a href="&#x2F;&#x2F;evil.example/">',
        ),
        (
            '<a href="java&#x09;script:alert(1)">',
            '<a href="java&#x09;script:alert(1)">',
        ),
        ('<a href="&#106;avascript:x">', '<a href="&#106;avascript:x">'),
        ('<a href=" /x ">', '<a href="/x?sid=TOK">'),
        (
            '<a href="https://shop.example/">',
            '<a href="https://shop.example/?sid=TOK">',
        ),
        (
            '<a href="https://shop.example.evil/">',
            '<a href="https://shop.example.evil/">',
        ),
    ],
)
def test_attribute_values_are_decoded_and_reescaped(page: str, expected: str) -> None:
    """url_fn sees the decoded value; unchanged parts keep their source text."""
    assert rewrite(page) == expected


def test_unquoted_value_that_needs_quotes_becomes_double_quoted() -> None:
    """A new value that cannot be unquoted is written in double quotes."""
    rewriter = HTMLRewriter(lambda url: url + " x'y", "")
    assert rewriter.rewrite("<a href=/x>") == '<a href="/x x\'y">'
    assert rewriter.rewrite("<a href='/x'>") == "<a href='/x x&#39;y'>"
    assert rewriter.rewrite('<a href="/x">') == '<a href="/x x\'y">'


def test_url_fn_gets_the_decoded_value() -> None:
    """url_fn is called with the HTML-decoded attribute value."""
    seen: list[str] = []

    def url_fn(url: str) -> str:
        seen.append(url)
        return url

    HTMLRewriter(url_fn, "").rewrite(
        "<a href='/a?x=1&amp;y=&lt;&copy=3&copy;'><form action=/f&#x3f;q>"
    )
    assert seen == ["/a?x=1&y=<&copy=3\xa9", "/f?q"]


FORMS = """\
<form action="https://www.paypal.com/cgi-bin/webscr" method="post"><input name=cmd></form>
<form action="//evil.example/collect"><input name=q></form>
<form action="javascript:go()"></form>
<FORM ACTION=/Search METHOD=GET><input name=q></FORM>
<form method="get" action="/search?lang=en"><input name=q></form>
<form action=""></form>
<form action="  "></form>
<form action></form>
<form></form>
<form action="https://shop.example/checkout" method=post></form>
<form action="http://shop.example/insecure"></form>
"""  # noqa: E501

FORMS_REWRITTEN = """\
<form action="https://www.paypal.com/cgi-bin/webscr" method="post"><input name=cmd></form>
<form action="//evil.example/collect"><input name=q></form>
<form action="javascript:go()"></form>
<FORM ACTION=/Search?sid=TOK METHOD=GET><input type="hidden" name="sid" value="TOK"><input name=q></FORM>
<form method="get" action="/search?lang=en&amp;sid=TOK"><input type="hidden" name="sid" value="TOK"><input name=q></form>
<form action=""><input type="hidden" name="sid" value="TOK"></form>
<form action="  "><input type="hidden" name="sid" value="TOK"></form>
<form action><input type="hidden" name="sid" value="TOK"></form>
<form><input type="hidden" name="sid" value="TOK"></form>
<form action="https://shop.example/checkout?sid=TOK" method=post><input type="hidden" name="sid" value="TOK"></form>
<form action="http://shop.example/insecure"></form>
"""  # noqa: E501


def test_forms_get_a_hidden_input_only_when_same_origin() -> None:
    """External forms get nothing; same-origin, GET and action-less forms get the id."""
    assert rewrite(FORMS) == FORMS_REWRITTEN


def test_base_href_to_another_origin_stops_relative_rewriting() -> None:
    """With a foreign <base href>, only absolute same-origin URLs are rewritten."""
    page = (
        '<head><base href="https://cdn.example/"></head>'
        '<a href="/x">x</a><a href="y">y</a>'
        '<a href="https://shop.example/z">z</a>'
        '<form action="/f"></form><form></form>'
    )
    expected = (
        '<head><base href="https://cdn.example/"></head>'
        '<a href="/x">x</a><a href="y">y</a>'
        '<a href="https://shop.example/z?sid=TOK">z</a>'
        f'<form action="/f"></form><form>{INPUT}</form>'
    )
    assert rewrite(page) == expected


def test_an_href_on_another_element_is_not_taken_for_the_base() -> None:
    """A raw-text element's href before a foreign <base> is not the base URL
    (found by hypothesis: the iframe's href let the id leak to http:/)."""
    page = (
        '<iframe HREF=/first src=""></iframe><a href=""><base href="http:/"><a href="">'
    )
    assert rewrite(page) == page


def test_same_origin_base_href_keeps_rewriting() -> None:
    """A same-origin <base href> (or one inside a comment) changes nothing."""
    page = '<!-- <base href="//evil.example/"> --><base href="/app/"><a href="x">'
    assert rewrite(page) == (
        '<!-- <base href="//evil.example/"> --><base href="/app/"><a href="x?sid=TOK">'
    )


def test_rest_of_document_after_unclosed_tag_is_untouched() -> None:
    """A tag left open at EOF swallows the rest, as in browsers."""
    page = '<a href=/x><p class="oops><a href=/y>\n<a href=/z>'
    assert rewrite(page) == '<a href=/x?sid=TOK><p class="oops><a href=/y>\n<a href=/z>'


def test_plaintext_and_other_raw_text_elements() -> None:
    """xmp, noembed, noframes, iframe and plaintext contents are raw text."""
    page = (
        "<xmp><a href=/1></xmp><noembed><a href=/2></noembed>"
        "<noframes><a href=/3></noframes><a href=/4><plaintext><a href=/5>"
    )
    assert rewrite(page) == page.replace("/4>", "/4?sid=TOK>")


def test_page_with_nothing_to_rewrite_is_returned_unchanged() -> None:
    """Input without same-origin links is returned exactly."""
    page = (
        "<!DOCTYPE html><html><head><title>x</title></head><body>"
        '<a href="https://elsewhere.example/">e</a><a href="#top">t</a>'
        '<img src="/logo.png"><p class=x>text &amp; <b>bold</b></p></body></html>'
    )
    assert rewrite(page) == page
    body = page.encode()
    assert rewrite_html(body, "utf-8", shop_url, INPUT) == body


def test_url_fn_failure_returns_the_body_unchanged() -> None:
    """If url_fn raises, the document comes back untouched."""

    def broken(url: str) -> str:
        raise RuntimeError("boom")

    body = b'<a href="/x">x</a>'
    assert rewrite_html(body, "utf-8", broken, INPUT) == body
    assert HTMLRewriter(broken, INPUT).rewrite("<a href=/x>") == "<a href=/x>"


# ---------------------------------------------------------- HTML: charsets


def test_windows_1252_page_round_trips() -> None:
    """A windows-1252 page keeps its bytes; only the links change."""
    body = (
        b"<html><head><meta charset=windows-1252><title>Caf\xe9 \x93menu\x94</title>"
        b"</head><body><p>Prix: 5 \x80 \x85 \x81\x8d\x8f\x90\x9d</p>"
        b'<a href="/caf\xe9?q=cr\xe8me">Caf\xe9</a>'
        b'<form action="/r\xe9server"></form></body></html>'
    )
    expected = (
        b"<html><head><meta charset=windows-1252><title>Caf\xe9 \x93menu\x94</title>"
        b"</head><body><p>Prix: 5 \x80 \x85 \x81\x8d\x8f\x90\x9d</p>"
        b'<a href="/caf\xe9?q=cr\xe8me&amp;sid=TOK">Caf\xe9</a>'
        b'<form action="/r\xe9server?sid=TOK">'
        + INPUT.encode()
        + b"</form></body></html>"
    )
    charset = charset_of("text/html; charset=windows-1252")
    assert rewrite_html(body, charset, shop_url, INPUT) == expected


def test_shift_jis_page_round_trips() -> None:
    """A shift_jis page (0x5C trail bytes included) keeps its bytes."""
    text = (
        "<html><head><title>\u8868\u793a \u30c6\u30b9\u30c8</title></head><body>"
        "<p>\u80fd\u529b\u8868\u301c\u30bd</p>"
        '<a href="/\u691c\u7d22?q=\u8868">\u691c\u7d22</a>'
        '<a href="http://\u4f8b.jp/">\u5916\u90e8</a></body></html>'
    )
    body = text.encode("shift_jis")
    assert b"\x95\x5c" in body  # the trail byte of U+8868 is a backslash
    expected = text.replace("q=\u8868", "q=\u8868&amp;sid=TOK").encode("shift_jis")
    charset = charset_of("text/html; charset=Shift_JIS")
    assert rewrite_html(body, charset, shop_url, INPUT) == expected


@pytest.mark.parametrize(
    "charset", ["utf-8", "cp1252", "latin-1", "shift_jis", "cp932", "euc_jp", "bogus"]
)
def test_undecodable_bytes_survive(charset: str) -> None:
    """Bytes invalid in the charset come back byte-for-byte around a rewrite."""
    body = b'\x81\xff\xfe<p>\x80\xa0\xe0</p><a href="/x">\xfd\x5c\x81</a>\xc3('
    expected = body.replace(b'"/x"', b'"/x?sid=TOK"')
    assert rewrite_html(body, charset, shop_url, INPUT) == expected


def test_utf8_page_with_bom_and_non_ascii_url() -> None:
    """A UTF-8 BOM is kept and a non-ASCII URL is re-encoded as UTF-8."""
    body = '\ufeff<a href="/\u00fcber">\u00fc</a>'.encode()
    expected = '\ufeff<a href="/\u00fcber?sid=TOK">\u00fc</a>'.encode()
    assert rewrite_html(body, "latin-1", shop_url, INPUT) == expected


def test_utf16_page_is_rewritten_by_its_bom() -> None:
    """A UTF-16 body with a BOM is decoded as UTF-16 whatever the header says."""
    body = '\ufeff<a href="/x">x</a>'.encode("utf-16-be")
    expected = '\ufeff<a href="/x?sid=TOK">x</a>'.encode("utf-16-be")
    assert rewrite_html(body, "utf-8", shop_url, INPUT) == expected


def test_non_ascii_compatible_body_that_does_not_round_trip_is_unchanged() -> None:
    """A charset whose bytes cannot be reproduced leaves the body alone."""
    body = b"<\x00a\x00 \x00h\x00r\x00e\x00f\x00=\x00/\x00x\x00>\x00"
    assert rewrite_html(body, "utf-16", shop_url, INPUT) == body


def test_non_ascii_form_input_is_encoded_with_the_page_charset() -> None:
    """The inserted form input is encoded like the page."""
    body = "<form>\u00e9</form>".encode("cp1252")
    result = rewrite_html(body, "cp1252", shop_url, '<input value="\u00e9">')
    assert result == '<form><input value="\u00e9">\u00e9</form>'.encode("cp1252")


# --------------------------------------------------------------- properties

ORIGIN_HOST = "good.example"
URL_PIECES = st.sampled_from(
    [
        "http:",
        "HTTP:",
        "https:",
        "javascript:",
        "//",
        "/",
        "\\",
        ":",
        "@",
        "?",
        "#",
        "&",
        "=",
        "sid=",
        "good.example",
        "evil.example",
        ":80",
        ":443",
        ":8080",
        "[::1]",
        "%40",
        ".",
        "..",
        " ",
        "\t",
        "\n",
        "\x00",
        "\x1f",
        "x",
    ]
)
URLS = st.one_of(st.text(), st.lists(URL_PIECES, max_size=12).map("".join))


def _browser_view(url: str) -> tuple[str, str, int | None]:
    """Scheme, host and port a WHATWG-like parser sees (relative: scheme "")."""
    url = url.strip("".join(map(chr, range(0x21))))
    url = re.sub("[\t\n\r]", "", url)
    if re.match(r"[A-Za-z][A-Za-z0-9+.-]*:", url) is None and url[:2] != "//":
        return "", "", None
    parts = urlsplit(url.replace("\\", "/"))
    return parts.scheme.lower(), (parts.hostname or ""), parts.port


@settings(max_examples=300, database=None, deadline=None)
@given(url=URLS, token=st.text(), param=st.text(min_size=1))
def test_add_session_param_never_raises(url: str, token: str, param: str) -> None:
    """Any text as URL, token or param name gives a str back."""
    assert isinstance(
        add_session_param(url, param=param, token=token, origin=GOOD), str
    )


@settings(max_examples=300, database=None, deadline=None)
@given(url=URLS)
def test_changed_urls_stay_on_the_origin(url: str) -> None:
    """A URL is only changed if a browser would send it to the request's origin."""
    result = add(url)
    if result == url:
        return
    try:
        scheme, host, port = _browser_view(url)
    except ValueError:
        pytest.fail(f"rewrote an unparsable URL {url!r}")
    assert scheme in ("", "http")
    if scheme or host:
        assert (host, port or 80) == (ORIGIN_HOST, 80)


HOSTILE = st.builds(
    "{}{}{}{}{}".format,
    st.sampled_from(["", " ", "\t", "\x01", "\n ", "\x00\x1f"]),
    st.sampled_from(["http", "HTTP", "https", "hTtP", "ftp", "javascript", ""]),
    st.sampled_from(
        ["://", ":", ":/", ":///", ":\\\\", "://user@", "://good.example@"]
    ),
    st.sampled_from(
        ["evil.example", "good.example.evil", "evil.example\\@good.example", "[::1]"]
    ),
    st.sampled_from(["", "/", "/x?a=1", ":80/", "#f"]),
)


@settings(max_examples=300, database=None, deadline=None)
@given(url=HOSTILE)
def test_urls_to_other_hosts_are_never_changed(url: str) -> None:
    """Any scheme/slash/userinfo spelling of another host is left alone."""
    assert add(url) == url


HTML_PIECES = st.sampled_from(
    [
        "<",
        ">",
        "</",
        "/>",
        "<!--",
        "-->",
        "--!>",
        "<!",
        "<?",
        "<![CDATA[",
        "]]>",
        "<a",
        "<A ",
        "<form",
        "<iframe ",
        "<area ",
        "<frame ",
        "<script>",
        "</script>",
        "<style>",
        "</style>",
        "<textarea>",
        "</textarea>",
        "<title>",
        "</title>",
        "<base ",
        " href=",
        " HREF",
        " action=",
        " src=",
        "=",
        '"',
        "'",
        "/x",
        "?a=1",
        "&amp;",
        "&",
        "#",
        " ",
        "\n",
        "\t",
        "javascript:",
        "//evil.example",
        "\xe9",
        "\u8868",
        "\udc80",
    ]
)
HTML_TEXT = st.one_of(
    st.text(),
    st.lists(st.one_of(HTML_PIECES, st.text(max_size=3)), max_size=40).map("".join),
)


@settings(max_examples=300, database=None, deadline=None)
@given(text=HTML_TEXT)
def test_identity_rewrite_returns_any_text_unchanged(text: str) -> None:
    """With an identity url_fn and no form input, any document is unchanged."""
    assert HTMLRewriter(lambda url: url, "").rewrite(text) == text
    body = text.encode("utf-8", "surrogateescape")
    assert rewrite_html(body, "utf-8", lambda url: url, "") == body


@settings(max_examples=300, database=None, deadline=None)
@given(
    body=st.one_of(
        st.binary(),
        HTML_TEXT.map(lambda text: text.encode("utf-8", "surrogateescape")),
    ),
    charset=st.sampled_from(
        ["utf-8", "cp1252", "shift_jis", "utf-16", "iso2022_jp", "bogus", ""]
    ),
)
def test_rewrite_html_never_raises(body: bytes, charset: str) -> None:
    """Arbitrary bytes in any charset give bytes back, unchanged if no link."""
    result = rewrite_html(body, charset, shop_url, INPUT)
    assert isinstance(result, bytes)
    identity = rewrite_html(body, charset, lambda url: url, "")
    assert identity == body


@settings(max_examples=300, database=None, deadline=None)
@given(text=HTML_TEXT)
def test_rewriting_changes_nothing_but_url_values(text: str) -> None:
    """Appending to URLs only inserts text: removing it gives the input back."""
    if "Z" in text or "&" in text:
        return
    rewriter = HTMLRewriter(lambda url: url + "Z" if url else url, "")
    assert rewriter.rewrite(text).replace("Z", "") == text


ATTR_TEXT = st.lists(
    st.sampled_from(
        [
            "&amp;",
            "&",
            "&copy",
            "&copy;",
            "&copy=",
            "&#",
            "&#x41",
            "&#65;",
            "&lt",
            "amp",
            ";",
            "=",
            "x",
            "1",
            "/",
            "?",
            "#",
            '"',
            "'",
            " ",
            "<",
            ">",
            "`",
            "\xe9",
        ]
    ),
    max_size=10,
).map("".join)


def _values_seen(page: str) -> list[str]:
    """The URL values the rewriter reads from ``page``."""
    seen: list[str] = []

    def record(url: str) -> str:
        seen.append(url)
        return url

    HTMLRewriter(record, "").rewrite(page)
    return seen


@settings(max_examples=300, database=None, deadline=None)
@given(
    value=ATTR_TEXT,
    insert=ATTR_TEXT,
    at=st.integers(0, 40),
    quote_char=st.sampled_from(['"', "'", ""]),
)
def test_written_value_reads_back_as_the_url_fn_result(
    value: str, insert: str, at: int, quote_char: str
) -> None:
    """Whatever url_fn returns is exactly what the tokenizer reads back."""
    if quote_char:
        value = value.replace(quote_char, "")
    else:
        value = re.sub("[ >]", "", value).lstrip("\"'") or "v"
    page = f"<p><a title=t href={quote_char}{value}{quote_char} id=i>x</a>"
    first = HTMLRewriter(lambda url: url[:at] + insert + url[at:], "").rewrite(page)
    seen = _values_seen(first)
    original = _values_seen(page)
    assert seen == [original[0][:at] + insert + original[0][at:]]
    assert first.startswith("<p><a title=t href=")
    assert first.endswith(" id=i>x</a>")
