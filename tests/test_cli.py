"""The wsgi-session command line: ``check`` a config and its store, serve the demo."""

from __future__ import annotations

import importlib.metadata
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest
from browser import HttpClient, Page, script_command, serve_script
from servers import free_port

from wsgi_session.cli import main, redact_url
from wsgi_session.stores import open_store


def write_ini(tmp_path: Path, body: str, section: str = "wsgi_session") -> str:
    """Write an ini file with one section and return its path."""
    path = tmp_path / "app.ini"
    path.write_text(f"[{section}]\n{body}", encoding="utf-8")
    return str(path)


def run_check(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run ``wsgi-session check ARGV`` in-process; return (status, stdout, stderr)."""
    status = main(["check", *argv])
    out, err = capsys.readouterr()
    return status, out, err


# -- check: stores that work ----------------------------------------------------------


def test_check_memory_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    """A valid config with the in-memory store passes and warns it is per process."""
    ini = write_ini(tmp_path, "secret_key = k\nstore = memory://\nidle_timeout = 15m\n")
    status, out, err = run_check(capsys, ini)
    assert status == 0, err
    assert f"{ini} [wsgi_session] is valid (3 settings)" in out
    assert "memory:// (type: memory)" in out
    assert "wrote, read back and deleted a test entry: " in out
    assert "not shared between workers" in out
    assert out.rstrip().endswith("OK")
    assert err == ""


def test_check_default_store_is_memory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    """Without a store setting the check uses memory://, as the middleware does."""
    status, out, _ = run_check(capsys, write_ini(tmp_path, "secret_key = k\n"))
    assert status == 0
    assert "(1 setting)" in out and "memory://" in out


def test_check_file_store_leaves_no_probe_behind(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    """The file store passes and the probe entry is deleted again."""
    sessions = tmp_path / "sessions"
    ini = write_ini(
        tmp_path, f"secret_key = k\nstore = file://{quote(str(sessions))}\n"
    )
    status, out, err = run_check(capsys, ini)
    assert status == 0, err
    assert "(type: file)" in out and "OK" in out
    cache = open_store(f"file://{quote(str(sessions))}")
    counter = Path(cache._get_filename(cache._fs_count_file))
    # Only cachelib's item counter, and the stripe file of the merge mutexes.
    left = [p for p in sessions.iterdir() if not p.name.startswith("mutex-")]
    assert left == [counter]


def test_check_real_redis(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], redis_url: str
):
    """A running Redis passes; the probe key is gone afterwards."""
    ini = write_ini(tmp_path, f"secret_key = k\nstore = {redis_url}\n")
    status, out, err = run_check(capsys, ini)
    assert status == 0, err
    assert "(type: redis)" in out and out.rstrip().endswith("OK")
    assert "not shared" not in out
    redis = pytest.importorskip("redis")
    client = redis.Redis.from_url(redis_url.split("?")[0])
    try:
        assert client.dbsize() == 0
    finally:
        client.close()


def test_check_reads_another_section_and_the_environment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
):
    """--section picks the section; ${NAME} values come from the environment."""
    monkeypatch.setenv("CHECK_TEST_SECRET", "from-env")
    ini = write_ini(tmp_path, "secret_key = ${CHECK_TEST_SECRET}\n", section="sessions")
    status, out, _ = run_check(capsys, ini, "--section", "sessions")
    assert status == 0
    assert "[sessions] is valid" in out


# -- check: failures ------------------------------------------------------------------


def test_check_unreachable_store_fails_without_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    """A store nobody listens on: exit 1, a plain message, the password hidden."""
    port = free_port()
    url = f"redis://:hunter2@127.0.0.1:{port}/0?socket_connect_timeout=2"
    ini = write_ini(tmp_path, f"secret_key = k\nstore = {url}\n")
    status, out, err = run_check(capsys, ini)
    assert status == 1
    assert err.startswith("wsgi-session check: cannot reach the store: ")
    assert str(port) in err
    assert "Traceback" not in out + err
    assert "hunter2" not in out + err
    assert f"redis://:***@127.0.0.1:{port}/0" in out


def test_check_stopped_redis_fails_clearly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], redis_url: str, redis_server
):
    """A Redis that was running and stopped: exit 1 with 'cannot reach the store'."""
    ini = write_ini(tmp_path, f"secret_key = k\nstore = {redis_url}\n")
    redis_server.stop()
    try:
        status, out, err = run_check(capsys, ini)
    finally:
        redis_server.start()
    assert status == 1
    assert "cannot reach the store" in err and "Connection refused" in err
    assert "Traceback" not in out + err


def test_check_unknown_key_exits_2_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    """A misspelt setting: exit 2, the key named and the right one suggested."""
    ini = write_ini(tmp_path, "secret_key = k\nidle_timout = 15m\n")
    status, out, err = run_check(capsys, ini)
    assert status == 2
    assert "'idle_timout'" in err and "did you mean 'idle_timeout'?" in err
    assert out == ""


def test_check_bad_value_exits_2_naming_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    """An invalid value: exit 2 with the setting's name."""
    ini = write_ini(tmp_path, "secret_key = k\ncookie_secure = maybe\n")
    status, _, err = run_check(capsys, ini)
    assert status == 2 and err.startswith("wsgi-session check: cookie_secure:")


def test_check_missing_secret_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    """A config without secret_key is refused, naming secret_key."""
    status, _, err = run_check(capsys, write_ini(tmp_path, "store = memory://\n"))
    assert status == 2 and "secret_key" in err


def test_check_bad_store_url_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    """An unsupported store URL scheme is a configuration error (exit 2)."""
    ini = write_ini(tmp_path, "secret_key = k\nstore = ftp://host/x\n")
    status, _, err = run_check(capsys, ini)
    assert status == 2 and "unsupported store URL scheme 'ftp'" in err


def test_check_missing_file_or_section_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    """A missing file or section is named in the message (exit 2)."""
    status, _, err = run_check(capsys, str(tmp_path / "nope.ini"))
    assert status == 2 and "not found" in err
    ini = write_ini(tmp_path, "secret_key = k\n")
    status, _, err = run_check(capsys, ini, "--section", "other")
    assert status == 2 and "has no [other] section" in err


def test_ctrl_c_during_check_exits_130_without_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
):
    """Ctrl-C while the store is being probed ends with status 130 and one line."""

    def interrupted(store: object) -> float:
        raise KeyboardInterrupt

    monkeypatch.setattr("wsgi_session.cli._probe", interrupted)
    status, _, err = run_check(capsys, write_ini(tmp_path, "secret_key = k\n"))
    assert (status, err) == (130, "wsgi-session check: interrupted\n")


def test_redact_url_hides_only_the_password():
    """Printed store URLs keep user, host and options but not the password."""
    assert redact_url("redis://user:pw@h:1/0?x=1") == "redis://user:***@h:1/0?x=1"
    assert redact_url("rediss://:p%40ss@h/0") == "rediss://:***@h/0"
    assert redact_url("file:///var/sessions") == "file:///var/sessions"


# -- the parser -----------------------------------------------------------------------


def test_no_command_prints_help_and_exits_2(capsys: pytest.CaptureFixture[str]):
    """Without a command the help is printed and the status is 2."""
    assert main([]) == 2
    out = capsys.readouterr().out
    assert "demo" in out and "check" in out


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]):
    """Unknown commands and bad options are usage errors (status 2), no traceback."""
    assert main(["bogus"]) == 2
    assert main(["demo", "--port", "eighty"]) == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'bogus'" in err and "Traceback" not in err


def test_python_m_wsgi_session_help():
    """``python -m wsgi_session --help`` lists both commands and exits 0."""
    result = subprocess.run(
        [sys.executable, "-m", "wsgi_session", "--help"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: wsgi-session")
    assert "demo" in result.stdout and "check" in result.stdout


def test_console_script_is_declared():
    """The distribution declares ``wsgi-session = wsgi_session.cli:main``."""
    scripts = {
        ep.name: ep.value
        for ep in importlib.metadata.distribution("wsgi_session").entry_points
        if ep.group == "console_scripts"
    }
    assert scripts["wsgi-session"] == "wsgi_session.cli:main"


# -- demo -----------------------------------------------------------------------------


def test_demo_serves_on_a_free_port_and_stops_on_ctrl_c(tmp_path: Path):
    """``wsgi-session demo --port 0`` prints its URL, serves it, exits 0 on SIGINT."""
    argv = [*script_command("wsgi-session"), "demo", "--port", "0"]
    with serve_script(argv, tmp_path) as served:
        assert served.url != "http://127.0.0.1:0/"
        first_line = served.stdout().splitlines()[0]
        assert first_line == (
            f"Serving the wsgi_session demo on {served.url} (Ctrl-C to stop)"
        )
        client = HttpClient(served.url)
        home = client.get("/")
        assert home.status == 200 and "wsgi_session demo" in home.text
        form = Page(client.get("/login").text).forms["login-form"]
        fields = {**form["fields"], "username": "ann", "password": "demo"}
        reply = client.post(form["action"], fields)  # with its CSRF token
        assert reply.status == 303
        assert "Welcome ann!" in client.get("/profile").text
        status = served.interrupt()
        stderr = served.stderr()
    assert status == 0
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr


def test_demo_with_a_bad_store_exits_2(capsys: pytest.CaptureFixture[str]):
    """An invalid --store URL is reported without serving anything."""
    assert main(["demo", "--store", "ftp://x", "--port", "0"]) == 2
    assert "unsupported store URL scheme" in capsys.readouterr().err


def test_demo_on_a_busy_port_exits_1(capsys: pytest.CaptureFixture[str]):
    """A port already in use is reported in words, not as a traceback."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["demo", "--port", str(port)]) == 1
    err = capsys.readouterr().err
    assert f"cannot listen on 127.0.0.1:{port}" in err


def test_check_reports_three_mistakes_in_one_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    """A file with three mistakes: exit 2 and one line per mistake, in one run."""
    ini = write_ini(
        tmp_path,
        "secret_key = k\nidle_timout = 15m\ncookie_secure = maybe\n"
        "tracking = sometimes\n",
    )
    status, out, err = run_check(capsys, ini)
    assert status == 2 and out == ""
    lines = err.splitlines()
    assert len(lines) == 3, err
    assert lines[0] == (
        f"wsgi-session check: unknown setting 'idle_timout' in [wsgi_session] of "
        f"{ini}; did you mean 'idle_timeout'?"
    )
    assert lines[1].startswith(
        f"cookie_secure: invalid value 'maybe' in [wsgi_session] of {ini}; "
    )
    assert lines[2] == (
        "tracking: expected one of 'auto', 'cookie', 'url', got 'sometimes' "
        f"(in [wsgi_session] of {ini})"
    )


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run ``wsgi-session ARGV`` in-process; return (status, stdout, stderr)."""
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_sessions_lists_a_users_sessions_and_ends_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    """`sessions CONFIG --user ID` lists handles; `--end` ends them all."""
    from werkzeug.test import Client

    from wsgi_session import SessionMiddleware

    store = "file://" + quote(str(tmp_path / "sessions"))
    path = write_ini(tmp_path, f"secret_key = k\nstore = {store}\nuser_key = user\n")

    def app(environ, start_response):  # type: ignore[no-untyped-def]
        environ["wsgi_session"]["user"] = "ann"
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"in"]

    mw = SessionMiddleware.from_ini(app, path)
    for agent in ("phone", "laptop"):
        Client(mw).get("/", headers={"User-Agent": agent})
    status, out, _ = run_cli(capsys, "sessions", path, "--user", "ann")
    assert status == 0 and out.count(" cookie") + out.count(" both") == 2
    assert "phone" in out and "laptop" in out and "expires" in out
    status, out, _ = run_cli(capsys, "sessions", path, "--user", "ann", "--end")
    assert (status, out.strip()) == (0, "ended 2 sessions of 'ann'")
    status, out, _ = run_cli(capsys, "sessions", path, "--user", "ann")
    assert (status, out.strip()) == (0, "no live sessions of 'ann'")


def test_sessions_of_an_unknown_user_and_bad_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    """An unknown user lists nothing; a config mistake exits 2."""
    path = write_ini(tmp_path, "secret_key = k\n")
    assert run_cli(capsys, "sessions", path, "--user", "nobody")[0] == 0
    bad = write_ini(tmp_path, "secret_key = k\nuser_kee = x\n")
    assert run_cli(capsys, "sessions", bad, "--user", "x")[0] == 2
