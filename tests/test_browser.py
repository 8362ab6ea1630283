"""Headless Chromium through the demo and the legacy example, cookies on and off."""

from __future__ import annotations

import os
import typing as t
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from browser import chromium, chromium_missing, serve_in_thread

from wsgi_session.demo import DEMO_PASSWORD, make_demo_app

pytestmark = pytest.mark.browser

_PAGE_URLS = """
return {
  links: Array.from(document.querySelectorAll("a[href]"), a => a.href),
  actions: Array.from(document.forms, f => f.action),
  sidInputs: document.querySelectorAll("input[name=sid]").length,
};
"""


@pytest.fixture
def browser_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Skip without Chromium (fail on CI); keep selenium-manager offline."""
    missing = chromium_missing()
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"CI needs the browser tests: {missing}")
        pytest.skip(missing)
    monkeypatch.setenv("SE_OFFLINE", "true")


class Visit:
    """One browser on one site: navigation steps that check what they should."""

    def __init__(self, driver: t.Any, base: str, *, cookies: bool) -> None:
        self.driver = driver
        self.base = base
        self.cookies = cookies
        self.visited: list[str] = []
        self.pages = 0

    def _wait(self, condition: t.Callable[[t.Any], t.Any]) -> None:
        from selenium.common.exceptions import WebDriverException
        from selenium.webdriver.support.ui import WebDriverWait

        # While a page is being replaced, lookups and scripts fail in several
        # ways (stale element, node not in document, no execution context).
        WebDriverWait(
            self.driver,
            10,
            poll_frequency=0.05,
            ignored_exceptions=[WebDriverException],
        ).until(condition)

    def _wait_for_text(self, text: str) -> None:
        self._wait(lambda d: text in d.find_element("tag name", "body").text)

    def _find(self, css: str) -> t.Any:
        return self.driver.find_element("css selector", css)

    def check_page(self) -> None:
        """The session id is in URLs only when cookies are blocked."""
        url = self.driver.current_url
        self.visited.append(url)
        assert urlsplit(url).netloc == urlsplit(self.base).netloc
        urls = self.driver.execute_script(_PAGE_URLS)
        if self.cookies:
            assert "sid=" not in url
            assert not any("sid=" in u for u in urls["links"] + urls["actions"])
            assert urls["sidInputs"] == 0
        else:
            assert self.driver.get_cookies() == []

    def open(self, path: str, expect: str) -> None:
        """Type a URL into the address bar."""
        self.driver.get(self.base.rstrip("/") + path)
        self._wait_for_text(expect)
        self.check_page()

    def click(self, css: str, expect: str) -> None:
        """Click a link or button and wait for the next page to be loaded."""
        self.pages += 1
        self.driver.execute_script("window.visitPage = arguments[0]", self.pages)
        self._find(css).click()
        self._wait(
            lambda d: d.execute_script(
                "return window.visitPage !== arguments[0]"
                " && document.readyState === 'complete'",
                self.pages,
            )
        )
        self._wait_for_text(expect)
        self.check_page()

    def fill(self, form_css: str, **values: str) -> None:
        """Replace the values of fields of a form."""
        for name, value in values.items():
            field = self._find(f"{form_css} [name={name}]")
            field.clear()
            field.send_keys(value)

    def text(self, css: str) -> str:
        """The visible text of an element."""
        return str(self._find(css).text)

    def value(self, css: str) -> str:
        """The current value of a form field."""
        return str(self._find(css).get_attribute("value"))

    def tracking(self) -> str:
        """How the demo says the session travels."""
        return str(self._find("#tracking").get_attribute("data-tracking"))


@pytest.fixture(scope="module")
def demo_url() -> Iterator[str]:
    """The demo app served on a free loopback port for this module."""
    with serve_in_thread(make_demo_app()) as url:
        yield url


@pytest.mark.usefixtures("browser_env")
@pytest.mark.parametrize("cookies", [True, False], ids=["cookies", "no-cookies"])
def test_demo_session_holds_in_chromium(tmp_path: Path, demo_url: str, cookies: bool):
    """Log in, follow links, submit GET and POST forms (with their CSRF tokens),
    list the user's sessions, log out: the session holds."""
    with chromium(tmp_path / "profile", block_cookies=not cookies) as driver:
        visit = Visit(driver, demo_url, cookies=cookies)
        visit.open("/", "Turn cookies off in your browser")
        assert visit.tracking() == "both"  # nothing proven yet: no session either

        visit.click("#login-link", "the password is")
        visit.fill("#login-form", username="ann", password="wrong")
        visit.click("#login-button", "Wrong password")
        assert visit.value("#login-form [name=username]") == "ann"  # old input

        visit.fill("#login-form", password=DEMO_PASSWORD)
        visit.click("#login-button", "Welcome ann!")
        assert urlsplit(driver.current_url).path == "/profile"
        assert visit.text("#flash") == "Welcome ann!"
        if cookies:
            assert visit.tracking() == "cookie"
            session_cookie = driver.get_cookie("session")
            assert session_cookie is not None and session_cookie["httpOnly"]
        else:
            assert visit.tracking() == "url"
            assert "sid=" in driver.current_url

        visit.click("#home-link", "Turn cookies off in your browser")
        assert visit.text("#user") == "Signed in as ann"
        visit.click("#search-link", "mod_wsgi")
        assert visit.text("#results").splitlines() == [
            "Apache mod_wsgi",
            "uWSGI",
            "wsgiref",
        ]
        assert "Welcome ann!" not in visit.text("main")

        visit.fill("#search-form", q="gun")
        visit.click("#search-button", "Gunicorn")
        assert "q=gun" in driver.current_url
        assert visit.text("#results") == "Gunicorn"

        visit.fill("#note-form", note="written in Chromium <3")
        visit.click("#save-button", "Saved")
        assert urlsplit(driver.current_url).path == "/profile"
        assert visit.value("#note-form [name=note]") == "written in Chromium <3"

        visit.click("#sessions-link", "this one")  # "your sessions" (user_key)
        assert visit.text("#sessions").count("(this one)") == 1
        visit.click("#end-others", "Logged out 0 other sessions.")  # a CSRF form
        assert urlsplit(driver.current_url).path == "/sessions"

        visit.click("#logout", "Bye")
        assert urlsplit(driver.current_url).path == "/"
        assert visit.text("#login-link") == "Log in"
        visit.click("#profile-link", "Please log in first.")
        assert urlsplit(driver.current_url).path == "/login"

        if cookies:
            assert all("sid=" not in url for url in visit.visited)
        else:
            assert driver.get_cookies() == []
            assert sum("sid=" in url for url in visit.visited) >= 6


@pytest.mark.usefixtures("browser_env")
def test_legacy_example_works_with_cookies_blocked(tmp_path: Path):
    """examples/legacy_app.py keeps a to-do list for a browser that refuses cookies."""
    from examples.legacy_app import make_app

    with (
        serve_in_thread(make_app("memory://")) as url,
        chromium(tmp_path / "profile", block_cookies=True) as driver,
    ):
        visit = Visit(driver, url, cookies=False)
        visit.open("/", "Nothing here.")
        visit.fill("#add-form", title="buy stamps")
        visit.click("#add-form button", "Added “buy stamps”.")
        assert "sid=" in driver.current_url
        visit.click("#todos button", "✔ buy stamps")
        visit.click("#open-link", "Nothing here.")
        visit.click("#done-link", "✔ buy stamps")
        assert visit.text("#tracking") == "session: url"
