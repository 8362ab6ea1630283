"""Every script in ``examples/`` starts and answers (Flask / Django ones: elsewhere)."""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

import pytest
from browser import ROOT, HttpClient, Page, serve_script, submit
from servers import RedisServer, free_port
from werkzeug.test import Client

EXAMPLES = ROOT / "examples"

#: Examples started by this module.
STARTED_HERE = {
    "counter.py",
    "legacy_app.py",
    "paste_app.py",
    "paste.ini",
    "gunicorn_redis.py",
    "gunicorn_conf.py",
}


def test_every_example_is_started_by_some_test():
    """No example file escapes the test suite (framework ones are tested elsewhere)."""
    files = {p.name for p in EXAMPLES.iterdir() if p.suffix in (".py", ".ini")}
    elsewhere = {
        name for name in files if re.search(r"django|flask|pyramid|pylons", name)
    }
    assert files - elsewhere == STARTED_HERE


# -- counter.py -----------------------------------------------------------------------


def test_counter_script_counts_visits(tmp_path: Path):
    """``python examples/counter.py 0`` serves a counter that a cookie keeps."""
    argv = [sys.executable, str(EXAMPLES / "counter.py"), "0"]
    with serve_script(argv, tmp_path) as served:
        client = HttpClient(served.url)
        assert "here 1 time(s)" in client.get("/").text
        assert "here 2 time(s)" in client.get("/").text
        assert client.get("/reset").status == 302
        assert "here 1 time(s)" in client.get("/").text
        # counter.py serves in its main thread, where wsgiref swallows a Ctrl-C
        # that lands while a request is being finished: wait until all are done.
        served.wait_for_access_log(4)
        assert served.interrupt(presses=2) == 0


# -- legacy_app.py --------------------------------------------------------------------


@pytest.fixture
def legacy_app():
    """A fresh instance of the to-do app of examples/legacy_app.py."""
    from examples.legacy_app import make_app

    return make_app("memory://")


def test_legacy_app_script_serves_and_keeps_a_session(tmp_path: Path):
    """``python examples/legacy_app.py 0`` adds an item, shows it after the redirect."""
    argv = [sys.executable, str(EXAMPLES / "legacy_app.py"), "0"]
    with serve_script(argv, tmp_path) as served:
        client = HttpClient(served.url)
        assert "Nothing here." in client.get("/").text
        reply = client.post("/add", {"title": "water the plants"})
        assert (reply.status, reply.headers["Location"]) == (303, "/")
        page = client.get("/").text
        assert "water the plants" in page and "Added “water the plants”." in page
        assert served.interrupt() == 0
    assert "Traceback" not in served.stderr()


def test_legacy_app_with_cookies(legacy_app):
    """Add, validate, toggle in place, filter and clear, with a cookie session."""
    client = Client(legacy_app)
    client.get("/")
    client.post("/add", data={"title": "milk"})
    client.post("/add", data={"title": "<b>bread</b>"})
    page = client.get("/").text
    assert "Added “&lt;b&gt;bread&lt;/b&gt;”." in page and "<b>bread</b>" not in page
    client.post("/add", data={"title": "x" * 81})
    page = client.get("/").text
    assert "Write a title of 1 to 80 characters." in page
    assert 'value="' + "x" * 81 + '"' in page  # the old input is refilled
    client.post("/toggle", data={"index": "0"})  # an in-place change of a list
    assert "☐ milk" not in client.get("/?show=open").text
    assert "✔ milk" in client.get("/?show=done").text
    assert "bread" in client.get("/?q=BREAD").text
    client.post("/clear")
    page = client.get("/").text
    assert "Removed 1 item(s)." in page and "milk" not in page.split("<ul")[1]
    assert "session: cookie" in page


def test_legacy_app_without_cookies(legacy_app):
    """With cookies refused the to-do list lives on through URL rewriting."""
    browser = Client(legacy_app, use_cookies=False)
    page = Page(browser.get("/").text)
    response = submit(browser, page, "add-form", title="call mum")
    location = response.headers["Location"]
    assert location.startswith("/?sid=")
    page = Page(browser.get(location).text)
    assert all("sid=" in href for href in page.hrefs)
    response = browser.get(page.links["done-link"])
    assert "call mum" not in response.text.split('id="todos"')[1]
    page = Page(browser.get(page.links["all-link"]).text)
    toggle = next(f for f in page.forms.values() if f["action"] == "/toggle")
    response = browser.post("/toggle", data=toggle["fields"])
    page_text = browser.get(response.headers["Location"]).text
    assert "✔ call mum" in page_text and "session: url" in page_text
    found = submit(browser, Page(page_text), "filter-form", q="MUM")
    assert "call mum" in found.text
    response = browser.get(Page(found.text).links["reset-link"])
    assert "Everything forgotten." in browser.get(response.headers["Location"]).text


# -- paste.ini / paste_app.py ---------------------------------------------------------


@pytest.fixture
def paste_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    """paste.ini reads its secret key from WSGI_SESSION_SECRET."""
    monkeypatch.setenv("WSGI_SESSION_SECRET", "paste-test-secret")


@pytest.mark.usefixtures("paste_secret")
def test_paste_ini_loads_with_pastedeploy():
    """loadapp() builds the pipeline; the filter's session serves the app."""
    loadapp = pytest.importorskip("paste.deploy").loadapp
    from wsgi_session import SessionMiddleware

    app = loadapp(f"config:{EXAMPLES / 'paste.ini'}")
    assert isinstance(app, SessionMiddleware)
    assert app.settings.idle_timeout == 1800 and app.settings.rewrite_html
    client = Client(app)
    client.get("/")
    assert "Hello from PasteDeploy, Ann" in client.get("/?name=Ann").text
    response = client.get("/")
    assert "Ann" in response.text and "Views in this session: 3" in response.text


@pytest.mark.usefixtures("paste_secret")
def test_paste_pipeline_rewrites_html_without_cookies():
    """The filter's rewrite_html setting carries the session in plain HTML links."""
    loadapp = pytest.importorskip("paste.deploy").loadapp
    browser = Client(loadapp(f"config:{EXAMPLES / 'paste.ini'}"), use_cookies=False)
    link = Page(browser.get("/?name=Bo").text).hrefs[0]
    assert link.startswith("/?sid=")
    text = browser.get(link).text
    assert "Hello from PasteDeploy, Bo" in text and "Views in this session: 2" in text


def test_paste_app_script_serves_the_pipeline(tmp_path: Path):
    """``python examples/paste_app.py 0`` serves paste.ini with wsgiref."""
    argv = [sys.executable, str(EXAMPLES / "paste_app.py"), "0"]
    with serve_script(argv, tmp_path) as served:
        client = HttpClient(served.url)
        assert "Hello from PasteDeploy, Cy" in client.get("/?name=Cy").text
        assert "Views in this session: 2" in client.get("/").text
        assert served.interrupt() == 0
    assert "Traceback" not in served.stderr()


# -- gunicorn_redis.py ----------------------------------------------------------------


@pytest.mark.slow
def test_gunicorn_workers_share_one_session_through_redis(
    tmp_path: Path, redis_server: RedisServer, redis_url: str
):
    """Under gunicorn -w 3 one session's counter grows across worker processes."""
    pytest.importorskip("gunicorn")
    port = free_port()
    argv = [
        sys.executable,
        "-m",
        "gunicorn",
        "-c",
        str(EXAMPLES / "gunicorn_conf.py"),
        "-w",
        "3",
        # Workers are replaced every 7 requests: the counter must then grow
        # across processes even if one worker wins every accept() race,
        # which happens on a busy machine.
        "--max-requests",
        "7",
        "-b",
        f"127.0.0.1:{port}",
        "examples.gunicorn_redis:application",
    ]
    env = {"WSGI_SESSION_STORE": redis_url, "WSGI_SESSION_SECRET": "gunicorn-test"}
    url = f"http://127.0.0.1:{port}/"
    with serve_script(argv, tmp_path, env=env, url=url, timeout=30) as served:
        # All three workers must be up, or on a busy machine the first one
        # can take every request before the others have booted.
        deadline = time.monotonic() + 20
        while served.stderr().count("Booting worker") < 3:
            assert time.monotonic() < deadline, served.stderr()
            time.sleep(0.05)
        client = HttpClient(url)
        pids: list[str] = []
        while len(pids) < 300 and (len(pids) < 20 or len(set(pids)) < 3):
            reply = client.get("/")
            assert reply.status == 200, reply.text
            pid = reply.headers["X-Worker-Pid"]
            assert reply.text == f"count={len(pids) + 1} pid={pid}\n"
            pids.append(pid)
        assert len(set(pids)) >= 2, "every request went to the same worker"
        assert served.terminate(timeout=20) == 0
    assert "Traceback" not in served.stderr()
