"""Tests of wsgi_session.paste: the middleware as a PasteDeploy filter."""

from __future__ import annotations

import importlib.metadata
import pathlib
import typing as t

import pytest
from paste.deploy import loadapp
from werkzeug.test import Client

from wsgi_session import SessionMiddleware
from wsgi_session.errors import ConfigError
from wsgi_session.paste import filter_app_factory, filter_factory

TESTS = pathlib.Path(__file__).parent
DATA = TESTS / "data"
GLOBAL_CONF = {"here": "/srv/app", "__file__": "/srv/app/app.ini", "debug": "true"}


@pytest.fixture(autouse=True)
def _paste_app_importable(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let ``use = call:paste_app:make_app`` import tests/paste_app.py."""
    monkeypatch.syspath_prepend(str(TESTS))


def load(path: pathlib.Path, **global_conf: str) -> t.Any:
    """Load the main app of a PasteDeploy file."""
    return loadapp(f"config:{path}", global_conf=global_conf or None)


def write_ini(tmp_path: pathlib.Path, text: str) -> pathlib.Path:
    """Write a PasteDeploy file whose filter wraps the test app."""
    path = tmp_path / "deploy.ini"
    path.write_text(
        "[app:main]\nuse = call:paste_app:make_app\nfilter-with = session\n\n"
        "[filter:session]\nuse = egg:wsgi_session#session\n" + text,
        encoding="utf-8",
    )
    return path


def plain_app(environ: dict[str, t.Any], start_response: t.Any) -> list[bytes]:
    """A WSGI app that does not use the session."""
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


# -- entry points ----------------------------------------------------------------------


def test_entry_points_are_registered() -> None:
    """Both PasteDeploy protocols name the 'session' and 'beaker' entry points."""
    from wsgi_session.beaker import middleware as beaker

    eps = importlib.metadata.distribution("wsgi_session").entry_points
    found = {
        (ep.group, ep.name): ep.load() for ep in eps if ep.group.startswith("paste")
    }
    assert found == {
        ("paste.filter_factory", "session"): filter_factory,
        ("paste.filter_app_factory", "session"): filter_app_factory,
        ("paste.filter_factory", "beaker"): beaker.filter_factory,
        ("paste.filter_app_factory", "beaker"): beaker.filter_app_factory,
    }


# -- loadapp ---------------------------------------------------------------------------


def test_filter_with_wraps_the_app_and_serves_a_session() -> None:
    """filter-with = session wraps the app; its session survives between requests."""
    app = load(DATA / "paste_filter_with.ini")
    assert isinstance(app, SessionMiddleware)
    client = Client(app)
    response = client.get("/set?value=red")
    assert response.text == "hello red"
    assert response.headers["Set-Cookie"].startswith("paste_session=")
    assert "SameSite=Strict" in response.headers["Set-Cookie"]
    assert client.get("/").text == "hello red"


def test_prefixed_default_keys_are_settings_and_section_keys_win() -> None:
    """wsgi_session.* keys of [DEFAULT] apply; the filter section overrides them."""
    settings = load(DATA / "paste_filter_with.ini").settings
    assert settings.secret_key == ("shared-secret",)
    assert settings.idle_timeout == 7200
    assert settings.cookie_name == "paste_session"


def test_pipeline_applies_the_filter(monkeypatch: pytest.MonkeyPatch) -> None:
    """A [pipeline:main] with the session filter serves a session."""
    monkeypatch.setenv("WSGI_SESSION_TEST_SECRET", "from-env")
    app = load(DATA / "paste_pipeline.ini")
    assert isinstance(app, SessionMiddleware)
    client = Client(app)
    assert client.get("/set?value=teal").text == "hi teal"
    assert client.get("/").text == "hi teal"


def test_pipeline_settings_are_coerced(monkeypatch: pytest.MonkeyPatch) -> None:
    """Filter values are coerced; ${NAME} reads the environment; %% is PasteDeploy's."""
    monkeypatch.setenv("WSGI_SESSION_TEST_SECRET", "from-env")
    settings = load(DATA / "paste_pipeline.ini").settings
    assert settings.secret_key == ("from-env", "per%cent")
    assert settings.idle_timeout == 900
    assert settings.rewrite_html is True


def test_pipeline_missing_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    """A missing variable in a filter section names it, the key and the file."""
    monkeypatch.delenv("WSGI_SESSION_TEST_SECRET", raising=False)
    path = DATA / "paste_pipeline.ini"
    with pytest.raises(ConfigError) as info:
        load(path)
    assert info.value.key == "secret_key"
    assert "'WSGI_SESSION_TEST_SECRET' is not set" in str(info.value)
    assert f"PasteDeploy config {path}" in str(info.value)


def test_loadapp_global_conf_supplies_prefixed_settings(tmp_path: pathlib.Path) -> None:
    """global_conf passed to loadapp is read like [DEFAULT]."""
    path = write_ini(tmp_path, "tracking = cookie\n")
    app = load(path, **{"wsgi_session.secret_key": "given", "unrelated": "x"})
    assert app.settings.secret_key == ("given",)


def test_unprefixed_default_keys_are_ignored(tmp_path: pathlib.Path) -> None:
    """A [DEFAULT] key without the prefix is not a setting, even if named like one."""
    path = write_ini(tmp_path, "secret_key = own\n")
    text = "[DEFAULT]\nidle_timeout = 5\nlog_level = debug\n\n" + path.read_text()
    path.write_text(text, encoding="utf-8")
    assert load(path).settings.idle_timeout == 1800


def test_unknown_filter_key_names_the_file(tmp_path: pathlib.Path) -> None:
    """An unknown key in the filter section names the file and suggests a setting."""
    path = write_ini(tmp_path, "secret_key = k\nidle_timout = 15m\n")
    with pytest.raises(ConfigError) as info:
        load(path)
    assert info.value.key == "idle_timout"
    assert str(info.value) == (
        f"unknown setting 'idle_timout' in PasteDeploy config {path}; "
        "did you mean 'idle_timeout'?"
    )


def test_unknown_prefixed_default_key_names_default(tmp_path: pathlib.Path) -> None:
    """A wsgi_session.* key of [DEFAULT] that is no setting is an error."""
    path = write_ini(tmp_path, "secret_key = k\n")
    text = "[DEFAULT]\nwsgi_session.cookie_nam = x\n" + path.read_text()
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load(path)
    assert str(info.value) == (
        f"unknown setting 'cookie_nam' in [DEFAULT] of PasteDeploy config {path}; "
        "did you mean 'cookie_name'?"
    )


def test_bad_filter_value_names_key_value_and_file(tmp_path: pathlib.Path) -> None:
    """A bad value in the filter section names the key, the value and the file."""
    path = write_ini(tmp_path, "secret_key = k\ncookie_httponly = maybe\n")
    with pytest.raises(ConfigError) as info:
        load(path)
    assert info.value.key == "cookie_httponly"
    assert str(info.value).startswith(
        f"cookie_httponly: invalid value 'maybe' in PasteDeploy config {path}; "
    )


def test_missing_secret_key_fails_at_load(tmp_path: pathlib.Path) -> None:
    """A filter without a secret key fails when the file is loaded, located."""
    path = write_ini(tmp_path, "idle_timeout = 1h\n")
    with pytest.raises(ConfigError) as info:
        load(path)
    assert info.value.key == "secret_key"
    assert "a secret key is required" in str(info.value)
    assert str(info.value).endswith(f"(in PasteDeploy config {path})")


# -- the factories called directly -----------------------------------------------------


def test_filter_factory_returns_a_wrapper() -> None:
    """filter_factory returns a function that wraps an app in the middleware."""
    wrap = filter_factory(GLOBAL_CONF, secret_key="k", idle_timeout="1h")
    wrapped = wrap(plain_app)
    assert isinstance(wrapped, SessionMiddleware)
    assert wrapped.app is plain_app
    assert wrapped.settings.idle_timeout == 3600
    assert Client(wrapped).get("/").text == "ok"


def test_filter_factory_validates_before_any_app() -> None:
    """filter_factory checks the settings when called, not when wrapping."""
    with pytest.raises(ConfigError, match=r"tracking: .*\(in PasteDeploy config "):
        filter_factory(GLOBAL_CONF, secret_key="k", tracking="sometimes")


def test_filter_app_factory_wraps_the_app() -> None:
    """filter_app_factory wraps the given app at once."""
    wrapped = filter_app_factory(plain_app, GLOBAL_CONF, secret_key="k", tracking="url")
    assert isinstance(wrapped, SessionMiddleware)
    assert wrapped.app is plain_app
    assert wrapped.settings.tracking == "url"


def test_filter_app_factory_locates_validation_errors() -> None:
    """A value that fails validation names the file the config came from."""
    with pytest.raises(ConfigError) as info:
        filter_app_factory(plain_app, GLOBAL_CONF, secret_key="k", idle_timeout="0")
    assert info.value.key == "idle_timeout"
    assert str(info.value).endswith("(in PasteDeploy config /srv/app/app.ini)")


def test_use_key_is_tolerated() -> None:
    """The 'use' key, PasteDeploy's own, is not taken for a setting."""
    wrapped = filter_app_factory(
        plain_app, {}, use="egg:wsgi_session#session", secret_key="k"
    )
    assert wrapped.settings.secret_key == ("k",)


def test_global_conf_without_file_is_named_generically() -> None:
    """Without __file__ in global_conf, errors name 'PasteDeploy config'."""
    with pytest.raises(ConfigError, match=r"^unknown setting 'colour' in PasteDeploy"):
        filter_factory({}, secret_key="k", colour="blue")


def test_global_conf_rest_is_ignored() -> None:
    """here, __file__ and unrelated app settings of global_conf are ignored."""
    conf = {**GLOBAL_CONF, "secret_key": "not ours", "wsgi_session.secret_key": "ours"}
    wrapped = filter_app_factory(plain_app, conf)
    assert wrapped.settings.secret_key == ("ours",)


def test_local_conf_overrides_global_conf() -> None:
    """A filter's own key wins over the prefixed global one."""
    conf = {"wsgi_session.secret_key": "global", "wsgi_session.tracking": "url"}
    wrapped = filter_app_factory(plain_app, conf, secret_key="local")
    assert wrapped.settings.secret_key == ("local",)
    assert wrapped.settings.tracking == "url"


def test_three_mistakes_of_a_filter_come_in_one_error(tmp_path: pathlib.Path) -> None:
    """An unknown key, a bad value and an invalid one: one error, three lines."""
    path = write_ini(
        tmp_path,
        "secret_key = k\nidle_timout = 15m\ncookie_httponly = maybe\n"
        "tracking = sometimes\n",
    )
    with pytest.raises(ConfigError) as info:
        load(path)
    lines = str(info.value).splitlines()
    assert lines[0] == (
        f"unknown setting 'idle_timout' in PasteDeploy config {path}; "
        "did you mean 'idle_timeout'?"
    )
    assert lines[1].startswith(
        f"cookie_httponly: invalid value 'maybe' in PasteDeploy config {path}; "
    )
    assert lines[2] == (
        "tracking: expected one of 'auto', 'cookie', 'url', got 'sometimes' "
        f"(in PasteDeploy config {path})"
    )
    assert len(lines) == 3 and info.value.key == "idle_timout"
