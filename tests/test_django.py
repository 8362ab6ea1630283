"""The Django integration under the WSGI wrapper: ``request.wsgi_session``, tags.

A small Django project (``django_project.py``, ``django_urls.py``) is served by
``SessionMiddleware(get_wsgi_application(), ...)`` through werkzeug's test client
(the drop-in without the wrapper: ``test_django_dropin.py``).
"""

from __future__ import annotations

import html
import http.cookiejar
import os
import re
import subprocess
import sys
import threading
import typing as t
import urllib.parse
import urllib.request
from pathlib import Path

import django_project
import pytest
from werkzeug.test import Client

from wsgi_session import SessionMiddleware

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "django_app.py"
HIDDEN_SID = re.compile(r'<input type="hidden" name="sid" value="([^"]*)">')


@pytest.fixture(scope="module")
def django_wsgi() -> t.Any:
    """Django's WSGI application of the test project, not wrapped."""
    pytest.importorskip("django")
    return django_project.wsgi_application()


def wrapped(django_wsgi: t.Any, tracking: str) -> SessionMiddleware:
    """The test project wrapped as SPEC §9 says, with the given tracking mode."""
    return SessionMiddleware(
        django_wsgi, secret_key=django_project.SECRET, tracking=tracking
    )


@pytest.fixture
def cookie_client(django_wsgi: t.Any) -> Client:
    """A cookie-keeping client of the project in cookie mode."""
    return Client(wrapped(django_wsgi, "cookie"))


@pytest.fixture
def url_client(django_wsgi: t.Any) -> Client:
    """A client without cookies of the project in URL mode."""
    return Client(wrapped(django_wsgi, "url"), use_cookies=False)


def link(page: str, element_id: str) -> str:
    """The (unescaped) href of the element with ``element_id`` in ``page``."""
    found = re.search(rf'id="{element_id}" href="([^"]*)"', page)
    assert found is not None, page
    return html.unescape(found.group(1))


# -- request.wsgi_session ------------------------------------------------------


def test_login_view_keeps_user_id_across_requests(cookie_client):
    """A user id stored by a view through request.wsgi_session is there next time."""
    assert cookie_client.get("/whoami/").text == "anonymous"
    assert cookie_client.post("/login/", data={"user_id": "42"}).text == "logged in"
    assert cookie_client.get("/whoami/").text == "42"


def test_login_regenerate_replaces_the_session_id(django_wsgi, cookie_client):
    """regenerate() in the login view issues a new id and the old one stops working."""
    cookie_client.get("/cart/add/apple/")
    before = cookie_client.get_cookie("session")
    assert before is not None
    cookie_client.post("/login/", data={"user_id": "7"})
    after = cookie_client.get_cookie("session")
    assert after is not None and after.value != before.value
    attacker = Client(wrapped(django_wsgi, "cookie"))
    attacker.set_cookie("session", before.value)
    assert attacker.get("/whoami/").text == "anonymous"


def test_unwrapped_application_serves_sessions_itself(django_wsgi):
    """Served unwrapped, the Django middleware opens and saves the session itself."""
    client = Client(django_wsgi)
    client.post("/login/", data={"user_id": "9"})
    assert client.get("/whoami/").text == "9"
    assert client.get_cookie("sessionid") is not None


def test_app_config_has_label_wsgi_session(django_wsgi):
    """INSTALLED_APPS' "wsgi_session.django" registers under the label wsgi_session."""
    from django.apps import apps

    assert apps.get_app_config("wsgi_session").name == "wsgi_session.django"


# -- template tags -------------------------------------------------------------


def test_url_mode_tags_render_sid_links_that_keep_the_session(url_client):
    """In URL mode {% rewrite_url %} adds sid= and following the link keeps the cart."""
    page = url_client.get("/cart/add/apple/")
    assert page.headers.get("Set-Cookie") is None
    href = link(page.text, "literal")
    assert href.startswith("/cart/?sid=")
    assert '<p id="cart"></p>' in url_client.get("/cart/").text
    assert '<p id="cart">apple</p>' in url_client.get(href).text


def test_url_mode_rewrite_url_takes_variables_and_as_name(url_client):
    """{% rewrite_url var %} and {% rewrite_url "..." as name %} keep query, add sid."""
    page = url_client.get("/cart/add/apple/").text
    sid = link(page, "literal").split("sid=", 1)[1]
    assert link(page, "variable") == f"/cart/?page=2&sid={sid}"
    assert link(page, "as-name") == f"/cart/?a=1&b=2&sid={sid}"
    assert f'href="/cart/?page=2&amp;sid={sid}"' in page


def test_url_mode_post_form_carries_hidden_input(url_client):
    """A POST form with {% session_input %} continues the session without a cookie."""
    page = url_client.get("/cart/add/apple/").text
    hidden = HIDDEN_SID.search(page)
    assert hidden is not None
    sid = html.unescape(hidden.group(1))
    posted = url_client.post("/cart/add/", data={"sid": sid, "item": "pear"})
    assert '<p id="cart">apple,pear</p>' in posted.text


def test_cookie_mode_tags_render_nothing_extra(cookie_client):
    """In cookie mode the tags leave URLs as written and render no hidden input."""
    page = cookie_client.get("/cart/add/apple/").text
    assert link(page, "literal") == "/cart/"
    assert link(page, "variable") == "/cart/?page=2"
    assert link(page, "as-name") == "/cart/?a=1&b=2"
    assert "sid" not in page
    form = '<form id="post" method="post" action="/cart/add/"><input name="item">'
    assert form in page


def test_tags_without_a_request_render_urls_unchanged(django_wsgi):
    """Rendered without a request (an e-mail), the tags change nothing."""
    from django.template import engines

    template = engines["django"].get_template("plain.html")
    assert template.render({}) == '<a href="/x/">x</a>[]'


# -- context processor ---------------------------------------------------------


def test_context_processor_adds_session_and_unescaped_input(url_client):
    """{{ wsgi_session }} is the session and {{ session_input }} is not escaped."""
    page = url_client.get("/cart/add/apple/").text
    sid = link(page, "literal").split("sid=", 1)[1]
    text = url_client.get(f"/page/context/?sid={sid}").text
    session_id = sid.split(".")[0]
    assert text == (
        f'user=;id={session_id};input=<input type="hidden" name="sid" value="{sid}">'
    )


def test_context_processor_in_cookie_mode_has_empty_input(cookie_client):
    """In cookie mode the context shows the session data and an empty session_input."""
    cookie_client.post("/login/", data={"user_id": "5"})
    text = cookie_client.get("/page/context/").text
    assert text.startswith("user=5;id=")
    assert text.endswith(";input=")


def test_context_processor_raises_improperly_configured_when_unwrapped(django_wsgi):
    """The context processor on a request that bypassed the wrapper names the fix."""
    from django.core.exceptions import ImproperlyConfigured
    from django.test import RequestFactory

    from wsgi_session.django import context_processor

    with pytest.raises(
        ImproperlyConfigured, match=r"wsgi_session\.django\.SessionMiddleware"
    ):
        context_processor(RequestFactory().get("/"))


# -- the example ---------------------------------------------------------------


def _follow(opener: urllib.request.OpenerDirector, url: str, data=None) -> str:
    """GET (or POST ``data``) ``url``, following redirects; the page's text."""
    body = None if data is None else urllib.parse.urlencode(data).encode()
    with opener.open(url, data=body, timeout=10) as response:
        assert response.status == 200
        return t.cast(str, response.read().decode())


def _form_fields(page: str) -> dict[str, str]:
    """The hidden fields of the page's login form (CSRF token, session id)."""
    return {
        html.unescape(name): html.unescape(value)
        for name, value in re.findall(
            r'<input type="hidden" name="([^"]*)" value="([^"]*)"', page
        )
    }


@pytest.mark.parametrize("tracking", ["cookie", "url"])
def test_example_django_app_logs_in_with_auth_and_messages(tracking):
    """examples/django_app.py: request.session, auth login, a message, CSRF and
    logout work with cookies (cookie mode) and without them (URL mode)."""
    pytest.importorskip("django")
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": path, "WSGI_SESSION_TRACKING": tracking}
    with subprocess.Popen(
        [sys.executable, str(EXAMPLE), "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    ) as proc:
        watchdog = threading.Timer(60, proc.kill)
        watchdog.start()
        try:
            assert proc.stdout is not None
            output = []
            for line in proc.stdout:
                output.append(line)
                found = re.search(r"http://127\.0\.0\.1:\d+/", line)
                if found:
                    break
            else:
                pytest.fail("the example did not start:\n" + "".join(output))
            base = found.group(0)
            jar = http.cookiejar.CookieJar()
            handlers = [urllib.request.HTTPCookieProcessor(jar)]
            opener = urllib.request.build_opener(
                *handlers if tracking == "cookie" else ()
            )
            page = _follow(opener, base)
            fields = _form_fields(page)
            assert "csrfmiddlewaretoken" in fields
            assert ("sid" in fields) is (tracking == "url")
            action = re.search(r'<form method="post" action="([^"]*)"', page)
            assert action is not None
            fields.update(username="demo", password="demo")
            page = _follow(
                opener, urllib.parse.urljoin(base, html.unescape(action[1])), fields
            )
            assert "Welcome, demo." in page and "Hello demo!" in page
            assert "seen this page 2 time(s)" in page
            logout = re.search(r'<a href="([^"]*)">log out</a>', page)
            assert logout is not None
            page = _follow(opener, urllib.parse.urljoin(base, html.unescape(logout[1])))
            assert "Not logged" in page and "seen this page 1 time(s)" in page
        finally:
            watchdog.cancel()
            proc.terminate()
            proc.communicate(timeout=10)
    cookies = {cookie.name for cookie in jar}
    assert cookies == ({"sessionid"} if tracking == "cookie" else set())
