"""examples/pyramid_app.py: flash, a CSRF-protected login, cookie and URL mode."""

from __future__ import annotations

import re
import sys
import typing as t
from pathlib import Path

import pytest
from browser import ROOT, HttpClient, serve_script
from werkzeug.test import Client

pytest.importorskip("pyramid")

EXAMPLES = ROOT / "examples"


def token_of(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


def follow(client: Client, reply: t.Any) -> str:
    assert reply.status_code == 303, reply.text
    text: str = client.get(reply.headers["Location"]).text
    return text


def test_login_flash_and_logout_with_cookies() -> None:
    """Sign in through the CSRF-protected form, see the flash once, sign out."""
    from examples.pyramid_app import make_app

    client = Client(make_app("cookie"))
    first = client.get("/")
    page = first.text
    assert "Not signed in" in page and "session=" in first.headers["Set-Cookie"]
    assert client.post("/login", data={"user": "ann"}).status_code == 400  # no token
    reply = client.post("/login", data={"user": "ann", "csrf_token": token_of(page)})
    page = follow(client, reply)
    assert "Welcome, ann!" in page and "Signed in as ann" in page
    page = client.get("/").text
    assert "Welcome" not in page and "Signed in as ann" in page
    page = follow(client, client.post("/logout", data={"csrf_token": token_of(page)}))
    assert "Signed out." in page and "Not signed in" in page


def test_login_in_url_mode_without_cookies() -> None:
    """tracking=url: forms, links and redirects carry the id; no cookie is used."""
    from examples.pyramid_app import make_app

    client = Client(make_app("url"), use_cookies=False)
    page = client.get("/").text
    action = re.search(r'action="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    assert "sid=" in action or 'name="sid"' in page
    sid = re.search(r'name="sid" value="([^"]+)"', page) or re.search(
        r"sid=([^&\"]+)", page
    )
    assert sid
    reply = client.post(
        f"/login?sid={sid.group(1)}",
        data={"user": "bob", "csrf_token": token_of(page)},
    )
    assert "Set-Cookie" not in reply.headers
    assert "sid=" in reply.headers["Location"]
    page = follow(client, reply)
    assert "Welcome, bob!" in page and "Signed in as bob" in page


def test_script_serves_the_app(tmp_path: Path) -> None:
    """``python examples/pyramid_app.py 0`` serves the app with wsgiref."""
    argv = [sys.executable, str(EXAMPLES / "pyramid_app.py"), "0"]
    with serve_script(argv, tmp_path) as served:
        client = HttpClient(served.url)
        page = client.get("/").text
        assert "Not signed in" in page
        reply = client.post("/login", {"user": "cy", "csrf_token": token_of(page)})
        assert reply.status == 303
        assert "Signed in as cy" in client.get("/").text
        assert served.interrupt() == 0
    assert "Traceback" not in served.stderr()


PIPELINE = """
[pipeline:main]
pipeline = session app

[app:app]
use = call:examples.pyramid_app:paste_app

[filter:session]
use = egg:wsgi_session#session
secret_key = pipeline-secret
tracking = {tracking}
rewrite_html = true
"""


@pytest.mark.parametrize("tracking", ["cookie", "url"])
def test_under_the_paste_filter_request_session_is_the_filters(
    tmp_path: Path, tracking: str
) -> None:
    """Under a PasteDeploy [filter:session], request.session is the filter's."""
    loadapp = pytest.importorskip("paste.deploy").loadapp
    ini = tmp_path / "pyramid.ini"
    ini.write_text(PIPELINE.format(tracking=tracking), encoding="utf-8")
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    client = Client(loadapp(f"config:{ini}"), use_cookies=tracking == "cookie")
    page = client.get("/").text
    extra = ""
    if tracking == "url":
        sid = re.search(r'name="sid" value="([^"]+)"', page)
        assert sid and "sid=" in page
        extra = f"?sid={sid.group(1)}"
    reply = client.post(
        f"/login{extra}", data={"user": "dee", "csrf_token": token_of(page)}
    )
    page = follow(client, reply)
    assert "Welcome, dee!" in page and "Signed in as dee" in page
