"""Tests of wsgi_session.pyramid.settings: Pyramid settings as our options."""

from __future__ import annotations

import subprocess
import sys

import pytest

from wsgi_session.config import Settings
from wsgi_session.errors import ConfigError
from wsgi_session.pyramid import PREFIX, USER_KEY_PRESET, options_from_settings


def test_only_wsgi_session_keys_are_read() -> None:
    """Pyramid's and the app's own settings are ignored."""
    settings = {
        "pyramid.reload_templates": "true",
        "sqlalchemy.url": "sqlite://",
        "wsgi_session": "not a prefixed key",
        "wsgi_session.secret_key": "k",
    }
    assert options_from_settings(settings) == {"secret_key": "k"}


def test_string_values_are_coerced_as_in_ini_files() -> None:
    """Booleans, durations and key lists are coerced as SPEC §8 says."""
    result = options_from_settings(
        {
            "wsgi_session.secret_key": "old, new",
            "wsgi_session.idle_timeout": "8h",
            "wsgi_session.rewrite_html": "on",
            "wsgi_session.cookie_samesite": "",
        }
    )
    assert result == {
        "secret_key": ["old", "new"],
        "idle_timeout": 28800,
        "rewrite_html": True,
        "cookie_samesite": None,
    }


def test_values_set_in_code_pass_unchanged() -> None:
    """Typed values (settings built in Python) are not coerced again."""
    result = options_from_settings({"wsgi_session.secret_key": "k,with,commas"})
    assert result["secret_key"] == ["k", "with", "commas"]  # a string: coerced
    typed = options_from_settings(
        {"wsgi_session.secret_key": ["k,1"], "wsgi_session.idle_timeout": 60}
    )
    assert typed == {"secret_key": ["k,1"], "idle_timeout": 60}


def test_an_unknown_key_names_it_and_the_closest_valid_one() -> None:
    """A misspelt wsgi_session. key is a ConfigError with a suggestion."""
    with pytest.raises(ConfigError) as info:
        options_from_settings({"wsgi_session.cookie_nme": "sid"}, validate=False)
    assert str(info.value) == (
        "unknown setting 'wsgi_session.cookie_nme' in the Pyramid settings; "
        "did you mean 'wsgi_session.cookie_name'?"
    )
    assert info.value.key == "wsgi_session.cookie_nme"


def test_every_mistake_comes_in_one_error_one_line_each() -> None:
    """Unknown keys, bad values and a missing secret are reported together."""
    with pytest.raises(ConfigError) as info:
        options_from_settings(
            {"wsgi_session.colour": "red", "wsgi_session.tracking": "sometimes"}
        )
    lines = str(info.value).splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("unknown setting 'wsgi_session.colour'")
    assert any(line.startswith("secret_key:") for line in lines)
    assert any(line.startswith("tracking:") for line in lines)


def test_without_validation_no_secret_is_required() -> None:
    """validate=False coerces only (a secret may come from code)."""
    assert options_from_settings({"wsgi_session.tracking": "url"}, validate=False) == {
        "tracking": "url"
    }


def test_the_result_builds_settings() -> None:
    """The options are keyword arguments Settings.build accepts."""
    result = options_from_settings(
        {"wsgi_session.secret_key": "k", "wsgi_session.cookie_secure": "auto"}
    )
    assert Settings.build(**result).cookie_secure == "auto"


def test_the_prefix_and_user_key_preset() -> None:
    """The prefix is wsgi_session. and the preset is Pyramid's auth.userid."""
    assert (PREFIX, USER_KEY_PRESET) == ("wsgi_session.", "auth.userid")


def test_the_module_does_not_import_pyramid() -> None:
    """wsgi_session.pyramid.settings works where Pyramid is not installed."""
    code = (
        "import sys; sys.modules['pyramid'] = None\n"
        "from wsgi_session.pyramid.settings import options_from_settings\n"
        "print(options_from_settings({'wsgi_session.tracking': 'url'}, "
        "validate=False))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "{'tracking': 'url'}"
