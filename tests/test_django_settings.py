"""Tests of wsgi_session.django.settings: Django's settings as our options."""

from __future__ import annotations

import pathlib
import typing as t
from types import SimpleNamespace

import pytest

from wsgi_session.config import Settings
from wsgi_session.django.settings import (
    DJANGO_DEFAULTS,
    USER_KEY_PRESET,
    options_from_django,
)
from wsgi_session.errors import ConfigError


def settings(**values: t.Any) -> SimpleNamespace:
    """A settings object with a SECRET_KEY unless one is given."""
    values.setdefault("SECRET_KEY", "django-key")
    return SimpleNamespace(**values)


def options(**values: t.Any) -> dict[str, t.Any]:
    """The options built from settings with these values."""
    return dict(options_from_django(settings(**values)).options)


def error(**values: t.Any) -> str:
    """The message of the ConfigError these settings raise."""
    with pytest.raises(ConfigError) as info:
        options_from_django(settings(**values))
    return str(info.value)


def test_djangos_defaults_apply_when_nothing_is_set() -> None:
    """A plain settings object gets Django's cookie and age defaults."""
    assert options() == {
        "secret_key": ["django-key"],
        "cookie_name": "sessionid",
        "cookie_domain": None,
        "cookie_path": "/",
        "cookie_httponly": True,
        "cookie_secure": "auto",
        "cookie_samesite": "Lax",
        "idle_timeout": 1209600,
        "cookie_max_age": 1209600,
    }


def test_the_defaults_are_djangos_own() -> None:
    """DJANGO_DEFAULTS agree with django.conf.global_settings."""
    global_settings = pytest.importorskip("django.conf.global_settings")
    for name, value in DJANGO_DEFAULTS.items():
        assert getattr(global_settings, name) == value, name


def test_fallback_keys_come_first_and_secret_key_last() -> None:
    """SECRET_KEY_FALLBACKS verify, SECRET_KEY (newest, last) signs."""
    result = options(SECRET_KEY="new", SECRET_KEY_FALLBACKS=["older", "old"])
    assert result["secret_key"] == ["older", "old", "new"]


def test_djangos_cookie_settings_are_read() -> None:
    """SESSION_COOKIE_* settings give the cookie's name and attributes."""
    result = options(
        SESSION_COOKIE_NAME="sid",
        SESSION_COOKIE_DOMAIN=".example.com",
        SESSION_COOKIE_PATH="/app",
        SESSION_COOKIE_SECURE=True,
        SESSION_COOKIE_HTTPONLY=False,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_AGE=3600,
    )
    assert result["cookie_name"] == "sid"
    assert (result["cookie_domain"], result["cookie_path"]) == (".example.com", "/app")
    assert (result["cookie_secure"], result["cookie_httponly"]) == (True, False)
    assert result["cookie_samesite"] == "Strict"
    assert (result["cookie_max_age"], result["idle_timeout"]) == (3600, 3600)


def test_a_false_samesite_omits_the_attribute() -> None:
    """SESSION_COOKIE_SAMESITE = False means no SameSite attribute, as in Django."""
    assert options(SESSION_COOKIE_SAMESITE=False)["cookie_samesite"] is None


def test_expire_at_browser_close_makes_a_browser_session_cookie() -> None:
    """SESSION_EXPIRE_AT_BROWSER_CLOSE drops cookie_max_age, keeps the age limit."""
    result = options(SESSION_EXPIRE_AT_BROWSER_CLOSE=True, SESSION_COOKIE_AGE=600)
    assert (result["cookie_max_age"], result["idle_timeout"]) == (None, 600)


def test_save_every_request_is_carried() -> None:
    """SESSION_SAVE_EVERY_REQUEST is a flag of the result."""
    assert options_from_django(
        settings(SESSION_SAVE_EVERY_REQUEST=True)
    ).save_every_request
    assert not options_from_django(settings()).save_every_request


def test_explicit_wsgi_session_keys_win() -> None:
    """WSGI_SESSION overrides what Django's settings would give."""
    result = options(
        SESSION_COOKIE_NAME="sessionid",
        WSGI_SESSION={"cookie_name": "wsid", "secret_key": "mine", "tracking": "url"},
    )
    assert (result["cookie_name"], result["secret_key"]) == ("wsid", "mine")
    assert result["tracking"] == "url"


def test_wsgi_session_values_are_python_values() -> None:
    """A WSGI_SESSION string is not split or coerced as ini text would be."""
    assert options(WSGI_SESSION={"secret_key": "a,b"})["secret_key"] == "a,b"


def test_wsgi_session_can_name_an_ini_file(tmp_path: pathlib.Path) -> None:
    """{"ini": path, "section": name} reads the options from that section."""
    ini = tmp_path / "session.ini"
    ini.write_text("[sess]\nsecret_key = from-ini\nidle_timeout = 15m\n")
    result = options(WSGI_SESSION={"ini": str(ini), "section": "sess"})
    assert (result["secret_key"], result["idle_timeout"]) == ("from-ini", 900)
    assert result["cookie_name"] == "sessionid"  # unset in the file: Django's


def test_an_ini_with_other_keys_beside_it_is_an_error(tmp_path: pathlib.Path) -> None:
    """Options beside 'ini' belong in the ini file, and the error says so."""
    message = error(WSGI_SESSION={"ini": str(tmp_path / "x.ini"), "store": "x"})
    assert message.startswith("WSGI_SESSION: with 'ini', only 'section' may be given")


def test_an_unknown_wsgi_session_key_suggests_the_closest() -> None:
    """A misspelt WSGI_SESSION key names itself and the closest setting."""
    assert error(WSGI_SESSION={"cookie_nme": "x"}) == (
        "WSGI_SESSION['cookie_nme']: unknown setting; did you mean 'cookie_name'?"
    )


def test_wsgi_session_must_be_a_dict() -> None:
    """A WSGI_SESSION that is no mapping is refused."""
    assert error(WSGI_SESSION="redis://").startswith("WSGI_SESSION: expected a dict")


def test_a_bad_django_value_names_the_django_setting() -> None:
    """A Django setting we cannot use is named in the error."""
    assert error(SESSION_COOKIE_PATH="app").endswith("(from SESSION_COOKIE_PATH)")


def test_no_secret_key_anywhere_is_an_error() -> None:
    """Without SECRET_KEY nor WSGI_SESSION's secret_key the settings are refused."""
    assert error(SECRET_KEY="").startswith("secret_key:")


def test_every_mistake_comes_in_one_error_one_line_each() -> None:
    """Mistakes of WSGI_SESSION and of Django's settings come together."""
    message = error(
        SESSION_COOKIE_SAMESITE="Loose", WSGI_SESSION={"colour": 1, "tracking": "x"}
    )
    assert len(message.splitlines()) == 3


def test_the_result_builds_settings() -> None:
    """The options are keyword arguments Settings.build accepts."""
    built = Settings.build(**options(SECRET_KEY_FALLBACKS=["old"]))
    assert built.secret_key == ("old", "django-key")


def test_djangos_own_settings_object_works() -> None:
    """A django.conf settings holder (attribute access) is read like a namespace."""
    conf = pytest.importorskip("django.conf")
    holder = conf.UserSettingsHolder(conf.global_settings)
    holder.SECRET_KEY = "held"
    holder.SESSION_COOKIE_AGE = 60
    result = options_from_django(holder).options
    assert (result["secret_key"], result["cookie_max_age"]) == (["held"], 60)


def test_the_user_key_preset_is_djangos_auth_key() -> None:
    """The preset names django.contrib.auth's session key."""
    assert USER_KEY_PRESET == "_auth_user_id"
