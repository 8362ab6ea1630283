"""End-to-end helpers: apps served over real HTTP, a small HTTP client, Chromium.

* :func:`serve_in_thread` serves a WSGI app on a free loopback port in this
  process (threaded wsgiref, request logging off).
* :func:`serve_script` starts a script that serves HTTP and prints its URL,
  waits for that URL, and stops the process however the test ends.
* :class:`HttpClient` sends requests over a fresh connection each time,
  never follows redirects and keeps cookies the simple way (name -> value).
* :class:`Page` parses the links and forms of a page; :func:`submit` sends a
  form through a werkzeug test ``Client``.
* :func:`chromium` starts headless Debian Chromium through the system
  chromedriver, with cookies allowed or blocked; selenium-manager is never
  asked to download anything.
"""

from __future__ import annotations

import http.client
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import typing as t
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from html.parser import HTMLParser
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode, urlsplit
from wsgiref.simple_server import WSGIRequestHandler

from werkzeug.test import Client, TestResponse

from wsgi_session.cli import make_threaded_server

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM_ARGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
URL_RE = re.compile(r"http://[\w.\-\[\]:]+/")
ACCESS_LOG_RE = re.compile(r'"(?:GET|POST|HEAD) [^"]*" \d{3} ')


class QuietHandler(WSGIRequestHandler):
    """wsgiref's request handler without the access log on stderr."""

    def log_message(self, format: str, *args: t.Any) -> None:
        """Drop the log line."""


@contextmanager
def serve_in_thread(app: t.Any) -> Iterator[str]:
    """Serve ``app`` on 127.0.0.1 in a background thread; yield its base URL."""
    server = make_threaded_server("127.0.0.1", 0, app, handler_class=QuietHandler)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


# -- scripts serving HTTP -----------------------------------------------------------


@dataclass
class ServedScript:
    """A running script that serves HTTP, with its output captured in files."""

    process: subprocess.Popen[bytes]
    stdout_path: Path
    stderr_path: Path
    url: str = ""

    def stdout(self) -> str:
        """Everything the script printed so far."""
        return self.stdout_path.read_text(errors="replace")

    def stderr(self) -> str:
        """Everything the script wrote to stderr so far."""
        return self.stderr_path.read_text(errors="replace")

    def wait_for_access_log(self, requests: int, timeout: float = 10) -> None:
        """Wait until wsgiref has logged ``requests`` requests (finished answering)."""
        deadline = time.monotonic() + timeout
        while len(ACCESS_LOG_RE.findall(self.stderr())) < requests:
            if time.monotonic() > deadline:
                raise TimeoutError(f"fewer than {requests} requests logged")
            time.sleep(0.02)

    def interrupt(self, timeout: float = 10, *, presses: int = 1) -> int:
        """Press Ctrl-C (SIGINT) up to ``presses`` times; return the exit status.

        Each further press comes after ``timeout / presses`` seconds without exit.
        """
        for press in range(presses):
            self.process.send_signal(signal.SIGINT)
            try:
                return self.process.wait(timeout / presses)
            except subprocess.TimeoutExpired:
                if press == presses - 1:
                    raise
        raise AssertionError("unreachable")

    def terminate(self, timeout: float = 10) -> int:
        """Send SIGTERM and return the exit status."""
        self.process.terminate()
        return self.process.wait(timeout)


def script_command(name: str) -> list[str]:
    """The console script ``name`` of this environment (``python -m`` if absent)."""
    candidate = Path(sys.executable).parent / name
    found = str(candidate) if candidate.exists() else shutil.which(name)
    if found:
        return [found]
    return [sys.executable, "-m", name.replace("-", "_")]


@contextmanager
def serve_script(
    argv: Sequence[str],
    tmp_path: Path,
    *,
    env: Mapping[str, str] | None = None,
    timeout: float = 20,
    url: str | None = None,
) -> Iterator[ServedScript]:
    """Start ``argv``; wait until it prints its URL (or the given ``url`` answers).

    Whatever happens in the block, the process is stopped (SIGTERM, then
    SIGKILL) and its files closed afterwards.
    """
    name = re.sub(r"\W+", "-", Path(argv[1] if len(argv) > 1 else argv[0]).name)
    out_path = tmp_path / f"{name}.{time.monotonic_ns()}.out"
    err_path = out_path.with_suffix(".err")
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        process = subprocess.Popen(
            list(argv),
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
            cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        )
    served = ServedScript(process, out_path, err_path)
    try:
        deadline = time.monotonic() + timeout
        while not served.url:
            if process.poll() is not None:
                raise RuntimeError(
                    f"{argv} exited with {process.returncode}:\n"
                    f"{served.stdout()}\n{served.stderr()}"
                )
            if url is None:
                found = URL_RE.search(served.stdout())
                served.url = found.group(0) if found else ""
            elif answers(url):
                served.url = url
            if time.monotonic() > deadline:
                raise RuntimeError(f"{argv} did not start:\n{served.stderr()}")
            if not served.url:
                time.sleep(0.05)
        yield served
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)


def answers(url: str) -> bool:
    """True if an HTTP server answers at ``url`` (any status)."""
    try:
        HttpClient(url).request("HEAD", urlsplit(url).path or "/")
    except OSError:
        return False
    return True


# -- HTML pages -----------------------------------------------------------------------


class Page(HTMLParser):
    """The links, forms and markers of one HTML page."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.links: dict[str, str] = {}
        self.hrefs: list[str] = []
        self.forms: dict[str, dict[str, t.Any]] = {}
        self.tracking: str | None = None
        self._form: dict[str, t.Any] | None = None
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "a":
            self.hrefs.append(a["href"])
            if "id" in a:
                self.links[a["id"]] = a["href"]
        elif tag == "form":
            self._form = {"action": a["action"], "method": a["method"], "fields": {}}
            self.forms[a.get("id", f"form{len(self.forms)}")] = self._form
        elif tag in ("input", "textarea") and self._form is not None and "name" in a:
            self._form["fields"][a["name"]] = a.get("value", "")
        elif a.get("id") == "tracking":
            self.tracking = a.get("data-tracking")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None


def submit(client: Client, page: Page, form_id: str, **values: str) -> TestResponse:
    """Submit a form of ``page`` with a werkzeug test Client, as a browser would.

    The form's fields (hidden ones included) are sent with ``values`` on top.
    """
    form = page.forms[form_id]
    data = {**form["fields"], **values}
    if form["method"] == "get":
        return client.get(form["action"], query_string=data)
    return client.post(form["action"], data=data)


# -- a small HTTP client --------------------------------------------------------------


@dataclass
class Reply:
    """One HTTP response."""

    status: int
    headers: http.client.HTTPMessage
    body: bytes

    @property
    def text(self) -> str:
        """The body decoded as UTF-8."""
        return self.body.decode("utf-8", "replace")


@dataclass
class HttpClient:
    """Requests to one server; a new connection each time; cookies by name."""

    base: str
    cookies: dict[str, str] = field(default_factory=dict)
    use_cookies: bool = True

    def request(
        self,
        method: str,
        path: str,
        data: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        """Send one request (``data`` as a urlencoded form) and read the reply."""
        parts = urlsplit(self.base)
        send = {"User-Agent": "wsgi-session-tests", **(headers or {})}
        if self.cookies and self.use_cookies:
            send["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if data is not None:
            body = urlencode(data).encode()
            send["Content-Type"] = "application/x-www-form-urlencoded"
        connection = http.client.HTTPConnection(
            t.cast(str, parts.hostname), parts.port, timeout=10
        )
        try:
            connection.request(method, path, body=body, headers=send)
            response = connection.getresponse()
            reply = Reply(response.status, response.headers, response.read())
        finally:
            connection.close()
        if self.use_cookies:
            for header in reply.headers.get_all("Set-Cookie") or []:
                for name, morsel in SimpleCookie(header).items():
                    if morsel["max-age"] == "0" or morsel["expires"].startswith(
                        "Thu, 01 Jan 1970"
                    ):
                        self.cookies.pop(name, None)
                    else:
                        self.cookies[name] = morsel.value
        return reply

    def get(self, path: str, headers: Mapping[str, str] | None = None) -> Reply:
        """``GET path``."""
        return self.request("GET", path, headers=headers)

    def post(self, path: str, data: Mapping[str, str]) -> Reply:
        """``POST path`` with a urlencoded form."""
        return self.request("POST", path, data=data)


# -- Chromium -------------------------------------------------------------------------


def chromium_missing() -> str | None:
    """Why the browser tests cannot run here, or None if they can."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if not os.access(path, os.X_OK):
            return f"{path} is not installed"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed"
    return None


@contextmanager
def chromium(profile_dir: Path, *, block_cookies: bool) -> Iterator[t.Any]:
    """A headless Chromium WebDriver with a fresh profile; quit afterwards.

    With ``block_cookies`` the profile refuses every cookie (content setting 2).
    The caller sets ``SE_OFFLINE=true``; the driver path is explicit anyway,
    so selenium-manager has nothing to look for.
    """
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in CHROMIUM_ARGS:
        options.add_argument(arg)
    options.add_argument(f"--user-data-dir={profile_dir}")
    if block_cookies:
        options.add_experimental_option(
            "prefs", {"profile.default_content_setting_values.cookies": 2}
        )
    service = Service(CHROMEDRIVER, log_output=subprocess.DEVNULL)
    driver = webdriver.Chrome(options=options, service=service)
    try:
        driver.set_page_load_timeout(20)
        yield driver
    finally:
        driver.quit()
