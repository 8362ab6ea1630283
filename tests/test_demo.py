"""The demo app of `wsgi-session demo`, used like a browser with and without cookies."""

from __future__ import annotations

import re
import subprocess
import sys
import typing as t
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from browser import HttpClient, Page, script_command, serve_script, submit
from werkzeug.test import Client, TestResponse

from wsgi_session import open_store
from wsgi_session.demo import DEMO_PASSWORD, NOTE_LIMIT, make_demo_app


def sid_of(url: str) -> str | None:
    """The ``sid`` query parameter of ``url``, if any."""
    return parse_qs(urlsplit(url).query).get("sid", [None])[0]


def token_of(text: str) -> str:
    """The CSRF token of the first form of a page."""
    match = re.search(r'name="csrf_token" value="([^"]+)"', text)
    assert match is not None, "no CSRF token on the page"
    return match[1]


def login_form(client: Client, **values: str) -> TestResponse:
    """Submit the login form (its hidden fields, CSRF token included)."""
    page = Page(client.get("/login").text)
    return submit(client, page, "login-form", **values)


def login(client: Client, username: str = "ann") -> TestResponse:
    """Open the home page and the login page, then log in."""
    home = Page(client.get("/").text)
    page = Page(client.get(home.links["login-link"]).text)
    return submit(client, page, "login-form", username=username, password=DEMO_PASSWORD)


@pytest.fixture
def client() -> Client:
    """A cookie-keeping browser on a fresh demo app."""
    return Client(make_demo_app())


# -- with cookies ----------------------------------------------------------------------


def test_home_page_links_and_no_session_until_something_is_stored(client: Client):
    """The home page links to every page and says no session exists yet."""
    response = client.get("/")
    assert response.status_code == 200
    page = Page(response.text)
    assert page.links["login-link"] == "/login"
    assert page.links["profile-link"] == "/profile"
    assert page.links["search-link"] == "/profile?q=wsgi"
    assert "No session yet" in response.text
    assert client.get_cookie("session") is None
    assert client.get_cookie("session_probe") is not None


def test_login_regenerates_the_id_and_flashes_a_welcome(client: Client):
    """A failed then successful login changes the session id and welcomes the user."""
    client.get("/")
    login_form(client, username="ann", password="wrong")
    before = client.get_cookie("session")
    assert before is not None
    response = login(client)
    assert response.status_code == 303
    assert response.headers["Location"] == "/profile"
    after = client.get_cookie("session")
    assert after is not None and after.value != before.value
    page = client.get("/profile")
    assert "Welcome ann!" in page.text
    assert Page(page.text).tracking == "cookie"
    assert "travels by cookie" in page.text
    assert "Welcome ann!" not in client.get("/profile").text  # flash shown once


def test_login_errors_show_with_the_old_input_refilled_and_escaped(client: Client):
    """Validation errors come back after the redirect with the user name refilled."""
    client.get("/")
    response = login_form(client, username="<script>x", password="nope")
    assert (response.status_code, response.headers["Location"]) == (303, "/login")
    page = client.get("/login").text
    assert 'id="username-error"' in page and 'id="password-error"' in page
    assert 'value="&lt;script&gt;x"' in page
    assert "<script>x" not in page
    assert "Wrong password" in page
    again = client.get("/login").text
    assert "username-error" not in again and 'value=""' in again


def test_empty_login_form_asks_for_both_fields(client: Client):
    """An empty login form gets one message per missing field."""
    client.get("/")
    login_form(client, username="", password="")
    page = client.get("/login").text
    assert "Enter a user name." in page and "Enter the password." in page


def test_profile_requires_login(client: Client):
    """The profile page redirects visitors to the login page with a message."""
    client.get("/")
    response = client.get("/profile")
    assert (response.status_code, response.headers["Location"]) == (303, "/login")
    assert "Please log in first." in client.get("/login").text


def test_get_search_form_filters_and_keeps_the_query(client: Client):
    """The profile's GET form filters the server list and refills the query."""
    login(client)
    page = Page(client.get("/profile").text)
    response = submit(client, page, "search-form", q="wsgi")
    assert re.findall(r"<li>(.*?)</li>", response.text) == [
        "Apache mod_wsgi",
        "uWSGI",
        "wsgiref",
    ]
    assert 'value="wsgi"' in response.text
    nothing = client.get("/profile", query_string={"q": "<b>"}).text
    assert "No server matches “&lt;b&gt;”." in nothing


def test_post_note_form_saves_and_flashes_saved(client: Client):
    """Saving the note stores it in the session, redirects and flashes "Saved"."""
    login(client)
    page = Page(client.get("/profile").text)
    response = submit(client, page, "note-form", note="buy <milk> & eggs")
    assert (response.status_code, response.headers["Location"]) == (303, "/profile")
    text = client.get("/profile").text
    assert 'id="flash" role="status">Saved<' in text
    assert ">buy &lt;milk&gt; &amp; eggs</textarea>" in text


def test_too_long_note_is_refused_with_the_input_kept(client: Client):
    """A note over the limit is not stored; the error and the typed text come back."""
    login(client)
    submit(client, Page(client.get("/profile").text), "note-form", note="kept")
    page = Page(client.get("/profile").text)
    submit(client, page, "note-form", note="x" * (NOTE_LIMIT + 1))
    text = client.get("/profile").text
    assert f"Too long: {NOTE_LIMIT + 1} characters" in text
    assert "x" * (NOTE_LIMIT + 1) in text
    assert ">kept</textarea>" in client.get("/profile").text


def test_logout_destroys_the_session_and_says_bye(client: Client):
    """Logging out deletes the session; a fresh one carries the "Bye" message."""
    login(client)
    old = client.get_cookie("session")
    assert old is not None
    page = Page(client.get("/profile").text)
    response = submit(client, page, "logout-form")
    assert (response.status_code, response.headers["Location"]) == (303, "/")
    new = client.get_cookie("session")
    assert new is not None and new.value != old.value
    home = client.get("/").text
    assert "Bye" in home and 'id="login-link"' in home
    thief = Client(client.application)
    thief.set_cookie("session", old.value)
    thief.set_cookie("session_probe", "1")
    assert thief.get("/profile").status_code == 303  # the old id is dead


def test_logout_page_asks_for_a_post(client: Client):
    """GET /logout shows a button; it does not log out by itself."""
    login(client)
    assert 'id="logout-page-form"' in client.get("/logout").text
    assert client.get("/profile").status_code == 200


def test_unknown_pages_and_methods(client: Client):
    """Unknown paths are 404 pages and unsupported methods 405 with Allow."""
    response = client.get("/nowhere")
    assert response.status_code == 404 and "no page here" in response.text
    token = token_of(client.get("/login").text)
    response = client.post("/", data={"csrf_token": token})
    assert response.status_code == 405 and response.headers["Allow"] == "GET, HEAD"
    deleted = client.delete("/login", headers={"X-CSRF-Token": token})
    assert deleted.headers["Allow"] == "GET, HEAD, POST"


def test_head_request_has_headers_but_no_body(client: Client):
    """HEAD answers like GET without a body."""
    response = client.head("/")
    assert response.status_code == 200
    assert response.data == b""
    assert int(response.headers["Content-Length"]) > 0


# -- without cookies -------------------------------------------------------------------


def test_whole_flow_without_cookies_follows_rewritten_urls():
    """With cookies refused, links, forms and redirects carry the session."""
    browser = Client(make_demo_app(), use_cookies=False)
    home = Page(browser.get("/").text)
    assert all(sid_of(href) is None for href in home.hrefs)  # nothing stored yet
    login_page = Page(browser.get(home.links["login-link"]).text)
    response = submit(
        browser, login_page, "login-form", username="bob", password=DEMO_PASSWORD
    )
    location = response.headers["Location"]
    assert location.startswith("/profile?sid=")
    assert response.headers["Referrer-Policy"] == "same-origin"
    first_sid = sid_of(location)

    response = browser.get(location)
    profile = Page(response.text)
    assert "Welcome bob!" in response.text
    assert profile.tracking == "url" and "travels by URL" in response.text
    assert {sid_of(href) for href in profile.hrefs} == {first_sid}
    assert all(form["fields"]["sid"] == first_sid for form in profile.forms.values())

    response = submit(browser, profile, "search-form", q="gun")
    assert "<li>Gunicorn</li>" in response.text and "Signed in as" in response.text

    response = submit(browser, Page(response.text), "note-form", note="no cookies")
    assert sid_of(response.headers["Location"]) == first_sid
    response = browser.get(response.headers["Location"])
    assert "Saved" in response.text and ">no cookies</textarea>" in response.text

    response = submit(browser, Page(response.text), "logout-form")
    bye_location = response.headers["Location"]
    assert bye_location.startswith("/?sid=") and sid_of(bye_location) != first_sid
    response = browser.get(bye_location)
    assert "Bye" in response.text and 'id="login-link"' in response.text
    stale = browser.get(f"/profile?sid={quote(t.cast(str, first_sid))}")
    assert stale.status_code == 303  # the old id no longer logs anyone in


def test_login_errors_without_cookies_keep_the_old_input():
    """Validation errors and the refilled user name survive the redirect in URL mode."""
    browser = Client(make_demo_app(), use_cookies=False)
    page = Page(browser.get("/login").text)
    response = submit(browser, page, "login-form", username="ann!", password="")
    location = response.headers["Location"]
    assert location.startswith("/login?sid=")
    text = browser.get(location).text
    assert 'value="ann!"' in text and "Enter the password." in text
    assert Page(text).tracking == "url"


# -- a URL id opened in another browser ------------------------------------------------

NOTICE = "was issued to another browser or tool"


def url_login(browser: Client) -> str:
    """Log in with cookies refused; return the profile URL (with its ``sid``)."""
    response = login_form(browser, username="ann", password="demo")
    location = response.headers["Location"]
    assert sid_of(location) is not None
    return t.cast(str, location)


def test_url_id_from_another_browser_explains_the_new_session():
    """A URL id refused for its User-Agent lands on a page that says why."""
    app = make_demo_app()
    owner = Client(app, use_cookies=False)
    profile_url = url_login(owner)
    mine = owner.get(profile_url)
    assert "Signed in as" in mine.text and NOTICE not in mine.text
    other = Client(app, use_cookies=False)
    refused = other.get(profile_url, headers={"User-Agent": "OtherBrowser/2.0"})
    assert refused.status_code == 303  # not ann's session: back to the login page
    page = other.get(
        refused.headers["Location"], headers={"User-Agent": "OtherBrowser/2.0"}
    )
    assert 'id="notice"' in page.text and NOTICE in page.text
    assert "Please log in first." in page.text
    assert "Signed in as" not in page.text
    assert NOTICE not in owner.get(profile_url).text  # the owner sees no notice


def test_binding_notice_on_a_page_served_at_once():
    """A refused URL id on a page that does not redirect shows the notice there."""
    app = make_demo_app()
    profile_url = url_login(Client(app, use_cookies=False))
    home = f"/?sid={quote(t.cast(str, sid_of(profile_url)))}"
    other = Client(app, use_cookies=False)
    page = other.get(home, headers={"User-Agent": "OtherBrowser/2.0"})
    assert page.status_code == 200 and NOTICE in page.text


def test_other_refused_ids_show_no_binding_notice():
    """A forged or unknown URL id gets a new session without the User-Agent notice."""
    app = make_demo_app()
    browser = Client(app, use_cookies=False)
    assert NOTICE not in browser.get("/?sid=forged.value").text
    profile_url = url_login(browser)
    submit(browser, Page(browser.get(profile_url).text), "logout-form")
    stale = browser.get(profile_url)
    assert stale.status_code == 303
    assert NOTICE not in browser.get(stale.headers["Location"]).text


# -- the access log of ``wsgi-session demo`` -------------------------------------------


def test_demo_server_log_never_shows_a_session_id(tmp_path: Path):
    """Request lines of ids in URLs (even percent-encoded names) log ``<redacted>``."""
    argv = [*script_command("wsgi-session"), "demo", "--port", "0"]
    with serve_script(argv, tmp_path) as served:
        browser = HttpClient(served.url, use_cookies=False)
        form = Page(browser.get("/login").text).forms["login-form"]
        fields = {**form["fields"], "username": "ann", "password": DEMO_PASSWORD}
        reply = browser.post(form["action"], fields)
        location = reply.headers["Location"]
        signed = t.cast(str, sid_of(location))
        page = browser.get(location)
        assert "Signed in as" in page.text
        encoded = location.replace("sid=", "s%69d=")
        assert "Signed in as" in browser.get(encoded).text  # read as the id
        browser.get(f"/?q=1&sid={quote(signed)}&x=2")
        served.wait_for_access_log(5)  # GET /login, POST, 3 GETs
        log = served.stderr()
        assert served.interrupt() == 0
    assert signed not in log and quote(signed) not in log
    assert signed.split(".")[0] not in log  # not even the unsigned id
    assert '"GET /profile?sid=<redacted> HTTP/1.1" 200' in log
    assert '"GET /profile?s%69d=<redacted> HTTP/1.1" 200' in log
    assert '"GET /?q=1&sid=<redacted>&x=2 HTTP/1.1"' in log


# -- the factory -----------------------------------------------------------------------


def test_demo_apps_of_one_process_share_their_random_secret():
    """Without secret_key the apps of one process sign with the same random key."""
    store = open_store("memory://")
    first = Client(make_demo_app(store))
    login(first)
    cookie = first.get_cookie("session")
    assert cookie is not None
    other = Client(make_demo_app(store))
    other.set_cookie("session", cookie.value)
    other.set_cookie("session_probe", "1")
    assert "Signed in as" in other.get("/profile").text
    stranger = Client(make_demo_app(store, secret_key="another key"))
    stranger.set_cookie("session", cookie.value)
    stranger.set_cookie("session_probe", "1")
    assert stranger.get("/profile").status_code == 303


def test_each_process_makes_its_own_demo_secret():
    """Two processes running the demo do not share a secret key."""
    code = (
        "from wsgi_session.demo import make_demo_app; "
        "print(make_demo_app().settings.secret_key)"
    )
    keys = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        ).stdout
        for _ in range(2)
    }
    assert len(keys) == 2


def test_demo_app_uses_the_given_store_and_secret(tmp_path: Path):
    """make_demo_app passes store and secret to the middleware."""
    app = make_demo_app(store="file://" + quote(str(tmp_path)), secret_key="fixed")
    client = Client(app)
    login(client)
    assert any(tmp_path.iterdir())
    cookie = client.get_cookie("session")
    assert cookie is not None
    again = Client(
        make_demo_app(store="file://" + quote(str(tmp_path)), secret_key="fixed")
    )
    again.set_cookie("session", cookie.value)
    again.set_cookie("session_probe", "1")
    assert "Signed in as" in again.get("/profile").text


# -- your sessions (user_key) and CSRF (csrf="check") ---------------------------------


@pytest.mark.parametrize("cookies", [True, False])
def test_sessions_page_lists_devices_and_logs_out_the_others(cookies: bool):
    """Two browsers of one user are listed; "log out other devices" ends the
    other one, with cookies on and off."""
    app = make_demo_app()
    phone = Client(app, use_cookies=cookies)
    laptop = Client(app, use_cookies=cookies)
    phone_home = login_form(phone, username="ann", password=DEMO_PASSWORD).headers[
        "Location"
    ]
    laptop_home = login_form(laptop, username="ann", password=DEMO_PASSWORD).headers[
        "Location"
    ]
    sessions_url = Page(laptop.get(laptop_home).text).links["sessions-link"]
    page = laptop.get(sessions_url).text
    assert page.count("<tr class=") == 2 and "(this one)" in page
    response = submit(laptop, Page(page), "end-others-form")
    assert response.status_code == 303
    after = laptop.get(response.headers["Location"]).text
    assert "Logged out 1 other session." in after and after.count("<tr class=") == 1
    assert phone.get(phone_home).status_code == 303  # the phone is signed out
    assert laptop.get(laptop_home).status_code == 200


def test_every_post_form_carries_a_csrf_token_and_a_post_without_one_is_refused(
    client: Client,
):
    """csrf="check": the demo's forms work, a forged POST gets 403."""
    login(client)
    page = Page(client.get("/profile").text)
    posting = [f for f in page.forms.values() if f["method"] == "post"]
    assert posting and all("csrf_token" in form["fields"] for form in posting)
    response = client.post("/profile", data={"note": "forged"})
    assert response.status_code == 403
    assert ">forged</textarea>" not in client.get("/profile").text
