"""The Django drop-in: ``request.session``, auth, messages and the test client.

The views of ``django_urls.py`` under ``/dj/`` are written for Django's own
sessions. They run on the test project of ``django_project.py`` (our
middleware and engine in its settings) without the WSGI wrapper, through
``django.test.Client`` and, for clients without cookies, through werkzeug's
client on the unwrapped ``get_wsgi_application()``; and under the wrapper.
"""

from __future__ import annotations

import re
import subprocess
import sys
import typing as t
from urllib.parse import parse_qs, urlsplit

import django_project
import pytest
from servers import free_port
from werkzeug.test import Client as WerkzeugClient

from wsgi_session import ConfigError, SessionMiddleware

pytest.importorskip("django")

import django
from django.test import Client, override_settings

#: SessionBase's async API (aget, aset, ...) is new in Django 5.1.
needs_async_sessions = pytest.mark.skipif(
    django.VERSION < (5, 1), reason="Django's async session API is new in 5.1"
)

HIDDEN_SID = re.compile(r'<input type="hidden" name="sid" value="([^"]*)">')
CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]*)"')


@pytest.fixture(scope="module")
def django_wsgi() -> t.Any:
    """The project's unwrapped WSGI application, with its tables and a user."""
    django_project.migrate()
    from django.contrib.auth.models import User

    if not User.objects.filter(username="ann").exists():
        User.objects.create_user("ann", password="pw")
    return django_project.wsgi_application()


@pytest.fixture
def client(django_wsgi: t.Any) -> Client:
    """Django's test client (no WSGI wrapper: the middleware opens sessions)."""
    return Client()


def no_cookies(django_wsgi: t.Any) -> WerkzeugClient:
    """A client of the unwrapped application that never sends cookies."""
    return WerkzeugClient(django_wsgi, use_cookies=False)


def sid_of(url: str) -> str:
    """The ``sid`` query parameter of ``url``."""
    return parse_qs(urlsplit(url).query)["sid"][0]


def set_cookies(response: t.Any) -> list[str]:
    """The Set-Cookie headers of a werkzeug or Django test response."""
    if hasattr(response, "cookies") and not hasattr(response, "get_cookie"):
        return [morsel.OutputString() for morsel in response.cookies.values()]
    return response.headers.getlist("Set-Cookie")


# -- one session, two views ----------------------------------------------------


def test_request_session_and_wsgi_session_see_each_others_writes(client):
    """A write through request.session is in request.wsgi_session at once, and back."""
    assert client.get("/dj/both/").content == b"(1, 2)"


def test_django_test_client_keeps_a_session_without_the_wrapper(client):
    """django.test.Client (no wsgi.py) keeps request.session across requests."""
    assert [client.get("/dj/count/").content for _ in range(3)] == [b"1", b"2", b"3"]
    assert client.get("/dj/peek/").content == b"3"


def test_client_session_reads_and_writes_the_same_session(client):
    """client.session is the session the views see; its saved changes reach them."""
    client.get("/dj/count/")
    session = client.session
    assert session["count"] == 1
    session["count"] = 41
    session.save()
    assert client.get("/dj/count/").content == b"42"


@needs_async_sessions
def test_async_view_uses_the_async_api(client):
    """An async view's aget / aset work on the same session."""
    assert client.get("/dj/async/").content == b"1"
    assert client.get("/dj/count/").content == b"2"


@pytest.mark.parametrize(
    "path", ["/dj/count/", pytest.param("/dj/async/", marks=needs_async_sessions)]
)
def test_asgi_requests_use_the_drop_in_too(client, path):
    """Django's AsyncClient (ASGI requests, no WSGI environ) keeps a session,
    in a sync view and in an async one."""
    import asyncio

    from django.test import AsyncClient

    async def visits() -> list[bytes]:
        browser = AsyncClient()
        return [(await browser.get(path)).content for _ in range(3)]

    assert asyncio.run(visits()) == [b"1", b"2", b"3"]


# -- auth ----------------------------------------------------------------------


def test_client_login_reaches_the_view(client):
    """Client.login() stores a session the next request is signed in with."""
    assert client.login(username="ann", password="pw")
    assert client.get("/dj/whoami/").content == b"ann"


def test_force_login_reaches_the_view(client):
    """Client.force_login() works with the drop-in engine."""
    from django.contrib.auth.models import User

    client.force_login(User.objects.get(username="ann"))
    assert client.get("/dj/whoami/").content == b"ann"


def test_login_view_cycles_the_key_and_logout_ends_the_session(client):
    """auth.login() gives a new session key; the old one and, after
    auth.logout(), the signed-in one open nothing."""
    from wsgi_session.django.engine import SessionStore

    client.get("/dj/count/")
    anonymous = client.cookies["sessionid"].value
    response = client.post("/dj/login/", {"username": "ann", "password": "pw"})
    assert response.status_code == 302 and response["Location"] == "/dj/whoami/"
    signed_in = client.cookies["sessionid"].value
    assert signed_in != anonymous
    assert not SessionStore().exists(anonymous)
    assert client.get("/dj/whoami/").content == b"ann"
    client.get("/dj/logout/")
    assert client.get("/dj/whoami/").content == b"anonymous"
    assert not SessionStore().exists(signed_in)


def test_auth_login_binds_the_session_to_its_user(client):
    """user_key defaults to "_auth_user_id": auth.login() lists the session
    under the user, end_sessions_of() signs every device out (§13.1)."""
    from django.contrib.auth.models import User

    from wsgi_session.django.dropin import drop_in_middleware

    pk = User.objects.get(username="ann").pk
    middleware = drop_in_middleware()
    assert middleware.settings.user_key == "_auth_user_id"
    middleware.end_sessions_of(pk)
    other = Client()
    for device in (client, other):
        device.post("/dj/login/", {"username": "ann", "password": "pw"})
        assert device.get("/dj/whoami/").content == b"ann"
    assert len(middleware.sessions_of(pk)) == 2
    assert middleware.end_sessions_of(pk) == 2
    assert client.get("/dj/whoami/").content == b"anonymous"
    assert other.get("/dj/whoami/").content == b"anonymous"


def test_password_change_keeps_this_session_and_ends_the_others(django_wsgi, client):
    """update_session_auth_hash keeps the changing session signed in; another
    session of the same user is signed out by Django's hash check."""
    from django.contrib.auth.models import User

    User.objects.create_user("bob", password="old")
    other = Client()
    try:
        assert client.login(username="bob", password="old")
        assert other.login(username="bob", password="old")
        assert client.post("/dj/password/", {"password": "new"}).content == b"changed"
        assert client.get("/dj/whoami/").content == b"bob"
        assert other.get("/dj/whoami/").content == b"anonymous"
    finally:
        User.objects.filter(username="bob").delete()


def test_admin_login_and_index_work(client):
    """The admin's own login view signs a staff user in; its index follows."""
    from django.contrib.auth.models import User

    if not User.objects.filter(username="root").exists():
        User.objects.create_superuser("root", password="pw")
    response = client.post(
        "/admin/login/?next=/admin/",
        {"username": "root", "password": "pw", "next": "/admin/"},
    )
    # the first response cannot know yet that this client keeps cookies (§4)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/?sid=")
    index = client.get("/admin/")
    assert index.status_code == 200 and b"Site administration" in index.content


def test_admin_works_for_a_client_without_cookies(django_wsgi):
    """With rewrite_html, a client without cookies logs into the admin (CSRF
    in the session) and follows its links."""
    from django.contrib.auth.models import User

    if not User.objects.filter(username="root").exists():
        User.objects.create_superuser("root", password="pw")
    browser = no_cookies(django_wsgi)
    settings = {"WSGI_SESSION": {"tracking": "url", "rewrite_html": True}}
    with override_settings(CSRF_USE_SESSIONS=True, **settings):
        page = browser.get("/admin/login/?next=/admin/").text
        fields = {
            "csrfmiddlewaretoken": CSRF_INPUT.search(page).group(1),
            "sid": HIDDEN_SID.search(page).group(1),
            "username": "root",
            "password": "pw",
            "next": "/admin/",
        }
        response = browser.post("/admin/login/?next=/admin/", data=fields)
        assert response.status_code == 302
        index = browser.get(response.headers["Location"])
        assert index.status_code == 200 and "Site administration" in index.text
        assert "/admin/auth/user/?sid=" in index.text


# -- messages ------------------------------------------------------------------


def test_session_message_storage_survives_the_redirect(client):
    """contrib.messages' session storage shows a message after a redirect, once."""
    response = client.get("/dj/message/", {"text": "saved"}, follow=True)
    assert response.content == b"[saved]"
    assert client.get("/dj/messages/").content == b""


@override_settings(
    MESSAGE_STORAGE="django.contrib.messages.storage.fallback.FallbackStorage"
)
def test_fallback_message_storage_puts_long_messages_in_the_session(client):
    """The default fallback storage keeps a message too big for its cookie in
    the session."""
    text = "x" * 5000
    response = client.get("/dj/message/", {"text": text}, follow=True)
    assert response.content == f"[{text}]".encode()
    assert client.get("/dj/messages/").content == b""


# -- URL tracking without cookies ----------------------------------------------


def test_url_mode_redirect_carries_the_id_and_the_session_goes_on(django_wsgi):
    """Without cookies, a view's redirect Location gets the id, and the session
    continues on the page it points to."""
    browser = no_cookies(django_wsgi)
    with override_settings(WSGI_SESSION={"tracking": "url"}):
        response = browser.get("/dj/redirect/")
        assert response.status_code == 302
        assert not set_cookies(response)
        location = response.headers["Location"]
        assert location.startswith("/dj/count/?sid=")
        assert browser.get(location).text == "1"
        assert browser.get(location).text == "2"


def test_auth_login_and_messages_work_without_cookies(django_wsgi):
    """Unchanged auth and messages views serve a client without cookies
    (tracking="auto"): login, a message, logout, all through URL ids."""
    browser = no_cookies(django_wsgi)
    with override_settings(WSGI_SESSION={"tracking": "auto"}):
        response = browser.post(
            "/dj/login/", data={"username": "ann", "password": "pw"}
        )
        location = response.headers["Location"]
        assert location.startswith("/dj/whoami/?sid=")
        assert browser.get(location).text == "ann"
        sid = sid_of(location)
        shown = browser.get(f"/dj/message/?sid={sid}&text=hi")
        assert browser.get(shown.headers["Location"]).text == "[hi]"
        out = browser.get(f"/dj/logout/?sid={sid}")
        assert out.status_code == 302
        assert browser.get(f"/dj/whoami/?sid={sid}").text == "anonymous"


def test_rewrite_html_puts_the_id_in_unchanged_templates(django_wsgi):
    """With rewrite_html, a template without wsgi_session tags gets the id in
    its links and forms; the textarea's text stays as written."""
    browser = no_cookies(django_wsgi)
    with override_settings(WSGI_SESSION={"tracking": "url", "rewrite_html": True}):
        page = browser.get("/dj/links/").text
    found = re.search(r'id="next" href="([^"]*)"', page)
    assert found is not None and "sid=" in found.group(1)
    assert HIDDEN_SID.search(page)
    assert "<textarea>/dj/count/</textarea>" in page


def test_csrf_use_sessions_protects_forms_without_cookies(django_wsgi):
    """CSRF_USE_SESSIONS keeps the CSRF secret in our session: a cookie-less
    client posts the form back and is accepted; a forged post is refused."""
    browser = no_cookies(django_wsgi)
    settings = {"WSGI_SESSION": {"tracking": "url", "rewrite_html": True}}
    with override_settings(CSRF_USE_SESSIONS=True, **settings):
        page = browser.get("/dj/csrf/").text
        token = CSRF_INPUT.search(page)
        sid = HIDDEN_SID.search(page)
        assert token is not None and sid is not None
        accepted = browser.post(
            "/dj/csrf/",
            data={"csrfmiddlewaretoken": token.group(1), "sid": sid.group(1)},
        )
        assert accepted.text == "accepted"
        forged = browser.post("/dj/csrf/", data={"sid": sid.group(1)})
        assert forged.status_code == 403


def test_auto_mode_probes_then_tracks_by_cookie_alone(client):
    """tracking="auto": the first response sets the probe and rewrites the
    redirect; once the cookie comes back, redirects are left alone."""
    with override_settings(WSGI_SESSION={"tracking": "auto"}):
        first = client.get("/dj/redirect/")
        assert "sid=" in first["Location"]
        assert "sessionid_probe" in first.cookies
        second = client.get("/dj/redirect/")
        assert second["Location"] == "/dj/count/"


# -- Django's meanings ---------------------------------------------------------


def test_flush_ends_the_session_and_continues_with_an_empty_one(client):
    """flush() deletes the stored session, expires its cookie, leaves no key."""
    from wsgi_session.django.engine import SessionStore

    client.get("/dj/count/")
    key = client.cookies["sessionid"].value
    response = client.get("/dj/flush/")
    assert response.content == b"None"
    assert response.cookies["sessionid"]["max-age"] == 0
    assert not SessionStore().exists(key)
    assert client.get("/dj/count/").content == b"1"


def test_cycle_key_keeps_the_data_under_a_new_key(client):
    """cycle_key() is regenerate: same data, new key, the old key is dead."""
    from wsgi_session.django.engine import SessionStore

    client.get("/dj/count/")
    old = client.cookies["sessionid"].value
    new = client.get("/dj/cycle/").content.decode()
    assert new != old and client.cookies["sessionid"].value == new
    assert not SessionStore().exists(old)
    assert client.get("/dj/count/").content == b"2"


def test_set_expiry_sets_the_cookie_max_age_and_the_idle_timeout(client):
    """set_expiry(60): Max-Age 60 and a 60 s idle timeout; set_expiry(0): a
    browser-session cookie."""
    from wsgi_session.django.engine import SessionStore

    response = client.get("/dj/expiry/60/")
    assert response.content == b"60"
    assert response.cookies["sessionid"]["max-age"] == 60
    stored = SessionStore(client.cookies["sessionid"].value)
    assert stored.wsgi_session.timeout == 60 and stored.get_expiry_age() == 60
    response = client.get("/dj/expiry/0/")
    assert response.cookies["sessionid"]["max-age"] == ""
    assert stored.get_session_cookie_age() == 1209600


def test_save_every_request_resends_the_cookie_of_a_read_only_request(client):
    """SESSION_SAVE_EVERY_REQUEST: a request that only reads still saves and
    sends the cookie again."""
    client.get("/dj/count/")
    assert "sessionid" not in client.get("/dj/peek/").cookies
    with override_settings(SESSION_SAVE_EVERY_REQUEST=True):
        assert "sessionid" in client.get("/dj/peek/").cookies


def test_override_settings_applies_to_the_next_request(client):
    """Django's settings are read per request: a new cookie name and age apply."""
    with override_settings(SESSION_COOKIE_NAME="other", SESSION_COOKIE_AGE=90):
        response = client.get("/dj/count/")
    assert response.cookies["other"]["max-age"] == 90
    assert "sessionid" not in response.cookies


def test_store_outage_is_a_503(client):
    """A store that cannot be reached answers 503 Service Unavailable, no 500."""
    store = f"redis://127.0.0.1:{free_port()}/0"
    with override_settings(WSGI_SESSION={"store": store}):
        response = client.get("/dj/count/")
    assert response.status_code == 503
    assert response["Retry-After"] == "5"


def test_change_to_a_session_deleted_meanwhile_is_interrupted(client):
    """A save that finds the session deleted by another request raises Django's
    SessionInterrupted (a 400) and does not bring the session back."""
    from wsgi_session.django.engine import SessionStore

    client.get("/dj/count/")
    key = client.cookies["sessionid"].value
    assert client.get("/dj/interrupt/").status_code == 400
    assert not SessionStore().exists(key)
    assert client.get("/dj/count/").content == b"1"


# -- bad input -----------------------------------------------------------------


def test_tampered_cookie_gets_a_new_session_and_its_cookie_expired(client):
    """A forged session cookie is never a 500: a new session, the cookie replaced."""
    client.cookies["sessionid"] = "forged.value"
    response = client.get("/dj/count/")
    assert response.status_code == 200 and response.content == b"1"
    assert client.cookies["sessionid"].value != "forged.value"


def test_url_id_is_refused_when_a_cookie_of_ours_came(client, django_wsgi):
    """A shared link's id does not move a cookie client into that session."""
    browser = no_cookies(django_wsgi)
    with override_settings(WSGI_SESSION={"tracking": "auto"}):
        victim = browser.get("/dj/redirect/").headers["Location"]
        client.get("/dj/count/")
        client.get("/dj/count/")
        assert client.get(victim).content == b"3"


def test_oversized_form_body_without_cookies_is_served(django_wsgi):
    """A form body above the URL-id limit is left to Django, never a 500."""
    browser = no_cookies(django_wsgi)
    with override_settings(WSGI_SESSION={"tracking": "url", "url_body_limit": 16}):
        response = browser.post("/dj/count/", data={"n": "x" * 100, "sid": "a.b"})
    assert response.status_code == 200 and response.text == "1"


# -- under the WSGI wrapper ----------------------------------------------------


def test_under_the_wrapper_request_session_is_the_environ_session(django_wsgi):
    """Wrapped in wsgi.py, request.session is the wrapper's session: its cookie,
    its save; the drop-in sets no cookie of its own."""
    app = SessionMiddleware(
        django_wsgi, secret_key=django_project.SECRET, tracking="cookie"
    )
    browser = WerkzeugClient(app)
    first = browser.get("/dj/count/")
    assert first.text == "1"
    assert [c.split("=")[0] for c in set_cookies(first)] == ["session"]
    assert browser.get("/dj/count/").text == "2"
    assert browser.get("/legacy/visits/").text == "1"  # get_session(environ)


def test_under_the_wrapper_auth_login_and_logout_work(django_wsgi):
    """Wrapped in wsgi.py, Django's auth logs in and out on the wrapper's session."""
    app = SessionMiddleware(
        django_wsgi, secret_key=django_project.SECRET, tracking="cookie"
    )
    browser = WerkzeugClient(app)
    browser.get("/dj/count/")
    before = browser.get_cookie("session")
    response = browser.post("/dj/login/", data={"username": "ann", "password": "pw"})
    assert response.status_code == 302
    after = browser.get_cookie("session")
    assert before is not None and after is not None and after.value != before.value
    assert browser.get("/dj/whoami/").text == "ann"
    browser.get("/dj/logout/")
    assert browser.get("/dj/whoami/").text == "anonymous"


# -- start-up ------------------------------------------------------------------


def test_middleware_satisfies_the_admin_session_check(django_wsgi):
    """Django's admin check admin.E410 accepts the drop-in (a subclass)."""
    from django.contrib.admin.checks import check_dependencies

    assert "admin.E410" not in {error.id for error in check_dependencies()}


def test_wrong_wsgi_session_key_fails_at_start_and_in_manage_py_check(django_wsgi):
    """A misspelt WSGI_SESSION key is a ConfigError when the middleware is
    built and a wsgi_session.E001 error in Django's system checks."""
    from django.core import checks

    from wsgi_session.django import SessionMiddleware as DjangoMiddleware

    with override_settings(WSGI_SESSION={"idle_timout": 60}):
        with pytest.raises(ConfigError, match="did you mean 'idle_timeout'"):
            DjangoMiddleware(lambda request: None)
        errors = [e for e in checks.run_checks() if e.id == "wsgi_session.E001"]
    assert len(errors) == 1 and "idle_timout" in errors[0].msg
    assert not [e for e in checks.run_checks() if e.id.startswith("wsgi_session")]


def test_other_session_engine_is_a_check_warning(django_wsgi):
    """Another SESSION_ENGINE with the drop-in's middleware is wsgi_session.W001."""
    from django.core import checks

    with override_settings(SESSION_ENGINE="django.contrib.sessions.backends.cache"):
        found = {e.id for e in checks.run_checks()}
    assert "wsgi_session.W001" in found


def test_importing_the_settings_module_does_not_import_django():
    """import wsgi_session.django.settings leaves Django unimported."""
    code = "import sys, wsgi_session.django.settings; print('django' in sys.modules)"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "False"


def test_session_csrf_input_tag_renders_a_token_of_the_session(client):
    """{% session_csrf_input %} renders a hidden csrf_token of wsgi_session's
    secret: it verifies against request.wsgi_session (SPEC §13.2)."""
    from wsgi_session.django.dropin import drop_in_middleware

    page = client.get("/page/session_csrf/").content.decode()
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None
    cookie = client.cookies["sessionid"].value
    middleware = drop_in_middleware()
    from wsgi_session.context import RequestContext

    context = RequestContext(middleware, {"HTTP_COOKIE": f"sessionid={cookie}"})
    assert context.session.check_csrf(token[1])
