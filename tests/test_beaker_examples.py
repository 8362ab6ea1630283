"""examples/pylons_app.py and pylons.ini: a Pylons-style app on the Beaker drop-in.

The ini wraps the app in ``egg:wsgi_session#beaker``; the tests load it with
PasteDeploy (in cookie and in URL mode) and run the script as a server. The
entry point is found through this checkout's metadata (:mod:`checkout_dist`).
"""

from __future__ import annotations

import os
import re
import sys
import typing as t
from pathlib import Path

import pytest
from browser import ROOT, HttpClient, serve_script
from checkout_dist import write_dist_info
from werkzeug.test import Client

from wsgi_session.beaker import SessionMiddleware

pytest.importorskip("paste.deploy")

EXAMPLES = ROOT / "examples"
SECRET_ENV = {"PYLONS_SESSION_SECRET": "pylons-test-secret"}


@pytest.fixture
def dist_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This checkout's entry points first on sys.path; the example's secret set."""
    write_dist_info(tmp_path / "dist")
    monkeypatch.syspath_prepend(str(tmp_path / "dist"))
    for name, value in SECRET_ENV.items():
        monkeypatch.setenv(name, value)
    return tmp_path / "dist"


def load(tracking: str) -> t.Any:
    from examples.pylons_app import load as load_ini

    return load_ini(tracking=tracking)


def find_middleware(app: t.Any) -> SessionMiddleware:
    """The drop-in in the loaded pipeline (PasteDeploy returns the outermost)."""
    assert isinstance(app, SessionMiddleware)
    return app


@pytest.mark.usefixtures("dist_dir")
def test_ini_builds_the_drop_in_from_beaker_keys() -> None:
    """pylons.ini's beaker.session.* and filter keys configure the drop-in."""
    middleware = find_middleware(load("cookie"))
    settings = middleware.settings
    assert (settings.cookie_name, settings.idle_timeout) == ("pylons_app", 3600)
    assert (settings.tracking, settings.rewrite_html) == ("cookie", True)


@pytest.mark.usefixtures("dist_dir")
def test_guest_book_with_cookies() -> None:
    """Sign, see the flash once, then forget: delete() ends the session."""
    client = Client(load("cookie"))
    reply = client.post("/sign", data={"name": "Ann"})
    assert reply.status_code == 303 and "pylons_app=" in reply.headers["Set-Cookie"]
    page = client.get("/").text
    assert "Thanks for signing, Ann!" in page and "<li>Ann</li>" in page
    page = client.get("/").text
    assert "Thanks" not in page and "<li>Ann</li>" in page
    reply = client.get("/forget")
    assert "Max-Age=0" in reply.headers["Set-Cookie"]
    assert "<li>none</li>" in client.get("/").text


@pytest.mark.usefixtures("dist_dir")
def test_guest_book_in_url_mode_without_cookies() -> None:
    """tracking = url: the id travels in the redirect and in the page's form."""
    client = Client(load("url"), use_cookies=False)
    reply = client.post("/sign", data={"name": "Bob"})
    location = reply.headers["Location"]
    assert "sid=" in location and "Set-Cookie" not in reply.headers
    page = client.get(location).text
    assert "Thanks for signing, Bob!" in page and "<li>Bob</li>" in page
    action = re.search(r'action="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    assert "sid=" in action or 'name="sid"' in page
    token = re.search(r"sid=([^&\"]+)", page).group(1)  # type: ignore[union-attr]
    reply = client.post(f"/sign?sid={token}", data={"name": "Cy"})
    page = client.get(reply.headers["Location"]).text
    assert "<li>Bob</li><li>Cy</li>" in page


def test_script_serves_the_pipeline(dist_dir: Path, tmp_path: Path) -> None:
    """``python examples/pylons_app.py 0`` serves pylons.ini with wsgiref."""
    argv = [sys.executable, str(EXAMPLES / "pylons_app.py"), "0"]
    path = os.pathsep.join([str(dist_dir), str(ROOT), os.environ.get("PYTHONPATH", "")])
    with serve_script(argv, tmp_path, env={**SECRET_ENV, "PYTHONPATH": path}) as served:
        client = HttpClient(served.url)
        assert "<li>none</li>" in client.get("/").text
        reply = client.post("/sign", {"name": "Dee"})
        assert reply.status == 303
        assert "<li>Dee</li>" in client.get("/").text
        assert served.interrupt() == 0
    assert "Traceback" not in served.stderr()
