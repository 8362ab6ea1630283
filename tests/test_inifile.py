"""Tests of wsgi_session.inifile: strings from ini files and mappings to settings."""

from __future__ import annotations

import datetime as dt
import pathlib
import re
import typing as t

import pytest

from wsgi_session.config import DEFAULTS, Settings
from wsgi_session.errors import ConfigError
from wsgi_session.events import SessionEvents
from wsgi_session.inifile import KINDS, coerce_mapping, load_config
from wsgi_session.serializers import JSONSerializer, default_serializer

DATA = pathlib.Path(__file__).parent / "data"
SOURCE = "/etc/app.ini"
SECTION = "wsgi_session"
WHERE = f"[{SECTION}] of {SOURCE}"


def coerce(**options: t.Any) -> dict[str, t.Any]:
    """Coerce options, adding a secret key unless one is given."""
    options.setdefault("secret_key", "k")
    return coerce_mapping(options, source=SOURCE, section=SECTION)


def coerce_error(**options: t.Any) -> ConfigError:
    """The ConfigError raised by coercing options."""
    with pytest.raises(ConfigError) as info:
        coerce(**options)
    return info.value


def write_ini(tmp_path: pathlib.Path, text: str) -> pathlib.Path:
    """Write an ini file and return its path."""
    path = tmp_path / "app.ini"
    path.write_text(text, encoding="utf-8")
    return path


# -- the table of kinds ----------------------------------------------------------------


def test_every_setting_has_a_coercion() -> None:
    """Each setting is in KINDS unless its default (bool, str) tells its kind."""
    for key, default in DEFAULTS.items():
        assert key in KINDS or isinstance(default, (bool, str)), key


def test_kinds_name_only_real_settings() -> None:
    """KINDS has no entry for a setting that does not exist."""
    assert set(KINDS) <= set(DEFAULTS)


def test_result_holds_only_the_given_keys() -> None:
    """Settings not in the mapping are left out of the result (not defaulted)."""
    assert coerce_mapping({"secret_key": "k"}, source="m") == {"secret_key": "k"}


# -- booleans --------------------------------------------------------------------------

TRUE_SPELLINGS = ["true", "yes", "on", "1", "True", "YES", "On", " true "]
FALSE_SPELLINGS = ["false", "no", "off", "0", "False", "NO", "OFF", " off "]


@pytest.mark.parametrize("key", ["cookie_httponly", "rewrite_html"])
@pytest.mark.parametrize("spelling", TRUE_SPELLINGS)
def test_boolean_true_spellings(key: str, spelling: str) -> None:
    """true/yes/on/1 in any case are True."""
    assert coerce(**{key: spelling})[key] is True


@pytest.mark.parametrize("key", ["cookie_httponly", "rewrite_html"])
@pytest.mark.parametrize("spelling", FALSE_SPELLINGS)
def test_boolean_false_spellings(key: str, spelling: str) -> None:
    """false/no/off/0 in any case are False."""
    assert coerce(**{key: spelling})[key] is False


@pytest.mark.parametrize("key", ["cookie_httponly", "rewrite_html"])
@pytest.mark.parametrize("spelling", ["", "maybe", "2", "y", "enabled", "None"])
def test_boolean_other_words_are_errors(key: str, spelling: str) -> None:
    """Anything else is a ConfigError, never silently False."""
    error = coerce_error(**{key: spelling})
    assert error.key == key
    assert str(error).startswith(f"{key}: invalid value {spelling!r} in {WHERE}")
    assert "true/false, yes/no, on/off or 1/0" in str(error)


@pytest.mark.parametrize(
    ("spelling", "expected"),
    [("auto", "auto"), ("AUTO", "auto"), ("yes", True), ("off", False)],
)
def test_cookie_secure_takes_auto_or_a_boolean(spelling: str, expected: t.Any) -> None:
    """cookie_secure is 'auto' or a boolean."""
    assert coerce(cookie_secure=spelling)["cookie_secure"] == expected


def test_cookie_secure_rejects_other_words() -> None:
    """cookie_secure names 'auto' and the boolean spellings when it is wrong."""
    error = coerce_error(cookie_secure="sometimes")
    assert error.key == "cookie_secure"
    assert "expected 'auto' or a boolean" in str(error)


# -- durations and sizes ---------------------------------------------------------------

DURATIONS = [
    ("90", 90),
    ("30s", 30),
    ("15m", 900),
    ("8h", 28800),
    ("7d", 604800),
    ("15M", 900),
    (" 2 h ", 7200),
]
DURATION_KEYS = ["idle_timeout", "absolute_timeout", "cookie_max_age", "lock_timeout"]


@pytest.mark.parametrize("key", DURATION_KEYS)
@pytest.mark.parametrize(("spelling", "seconds"), DURATIONS)
def test_durations_become_int_seconds(key: str, spelling: str, seconds: int) -> None:
    """A number or a number with s/m/h/d is a whole number of seconds."""
    value = coerce(**{key: spelling})[key]
    assert value == seconds
    assert type(value) is int


@pytest.mark.parametrize("key", ["idle_timeout", "absolute_timeout", "cookie_max_age"])
@pytest.mark.parametrize("spelling", ["None", "none", "", "  "])
def test_optional_durations_accept_none_or_empty(key: str, spelling: str) -> None:
    """None or an empty value means no limit where the setting allows None."""
    assert coerce(**{key: spelling})[key] is None


@pytest.mark.parametrize("spelling", ["None", ""])
def test_lock_timeout_is_required(spelling: str) -> None:
    """lock_timeout has no 'not set' value."""
    error = coerce_error(lock_timeout=spelling)
    assert error.key == "lock_timeout"
    assert f"invalid value {spelling!r} in {WHERE}" in str(error)


@pytest.mark.parametrize("key", DURATION_KEYS)
@pytest.mark.parametrize("spelling", ["15 minutes", "1.5h", "-5", "2w", "h", "soon"])
def test_bad_durations_are_errors(key: str, spelling: str) -> None:
    """Other spellings name the key, the value, the file and the section."""
    error = coerce_error(**{key: spelling})
    assert error.key == key
    assert str(error).startswith(f"{key}: invalid value {spelling!r} in {WHERE}; ")
    assert "30s, 15m, 8h or 7d" in str(error)


def test_zero_duration_fails_validation_with_location() -> None:
    """A zero duration parses but fails Settings validation, naming the file."""
    error = coerce_error(idle_timeout="0")
    assert error.key == "idle_timeout"
    assert "must be a positive number of seconds" in str(error)
    assert str(error).endswith(f"(in {WHERE})")


@pytest.mark.parametrize(
    ("spelling", "size"),
    [
        ("1048576", 1048576),
        ("0", 0),
        ("100B", 100),
        ("512KiB", 512 * 1024),
        ("512 kib", 512 * 1024),
        ("1MiB", 1024 * 1024),
        ("2GiB", 2 * 1024**3),
    ],
)
def test_url_body_limit_takes_bytes_and_binary_units(spelling: str, size: int) -> None:
    """url_body_limit is a number of bytes, optionally in KiB, MiB or GiB."""
    assert coerce(url_body_limit=spelling)["url_body_limit"] == size


@pytest.mark.parametrize("spelling", ["1MB", "1M", "lots", "", "1.5MiB"])
def test_url_body_limit_rejects_other_units(spelling: str) -> None:
    """Decimal units and other words are errors naming the accepted units."""
    error = coerce_error(url_body_limit=spelling)
    assert error.key == "url_body_limit"
    assert "KiB, MiB or GiB" in str(error)


# -- secret keys -----------------------------------------------------------------------


def test_single_secret_key_is_a_str() -> None:
    """One key gives a str."""
    assert coerce(secret_key=" s3cret ")["secret_key"] == "s3cret"


def test_comma_separated_secret_keys_are_a_list_newest_last() -> None:
    """Comma-separated keys give a list in the written order (newest last)."""
    assert coerce(secret_key="old, older-than-new,new")["secret_key"] == [
        "old",
        "older-than-new",
        "new",
    ]


def test_secret_keys_one_per_line_may_contain_commas() -> None:
    """On several lines, each line is one key and commas are part of it."""
    value = "\nold-key\n\nnew,key\n"
    assert coerce(secret_key=value)["secret_key"] == ["old-key", "new,key"]


def test_secret_keys_from_multi_line_ini_value(tmp_path: pathlib.Path) -> None:
    """An indented continuation in an ini file lists one key per line."""
    path = write_ini(tmp_path, "[wsgi_session]\nsecret_key =\n  one\n  two\n")
    assert load_config(path)["secret_key"] == ["one", "two"]


@pytest.mark.parametrize("spelling", ["", " , ", "None"])
def test_missing_secret_key_is_an_error_with_location(spelling: str) -> None:
    """An empty secret key is the 'secret key is required' error, located."""
    error = coerce_error(secret_key=spelling)
    assert error.key == "secret_key"
    assert "a secret key is required" in str(error)
    assert str(error).endswith(f"(in {WHERE})")


# -- cookie_samesite, optional strings, plain strings ----------------------------------


@pytest.mark.parametrize(
    ("spelling", "expected"),
    [("None", "None"), ("Strict", "Strict"), ("lax", "lax"), ("", None), (" ", None)],
)
def test_samesite_none_is_a_value_and_empty_omits_it(
    spelling: str, expected: str | None
) -> None:
    """'None' is SameSite=None; an empty value omits the attribute (Python None)."""
    assert coerce(cookie_samesite=spelling)["cookie_samesite"] == expected


def test_samesite_empty_builds_settings_without_attribute() -> None:
    """An empty cookie_samesite validates to settings with no SameSite."""
    options = coerce(cookie_samesite="")
    assert Settings.build(**options).cookie_samesite is None


def test_samesite_bad_value_fails_with_location() -> None:
    """An unknown SameSite value is an error naming the file and section."""
    error = coerce_error(cookie_samesite="Sometimes")
    assert error.key == "cookie_samesite"
    assert "'Strict', 'Lax', 'None'" in str(error)
    assert str(error).endswith(f"(in {WHERE})")


def test_samesite_none_with_insecure_cookie_fails_with_location() -> None:
    """SameSite=None with cookie_secure=false is refused at load, located."""
    error = coerce_error(cookie_samesite="None", cookie_secure="false")
    assert error.key == "cookie_samesite"
    assert str(error).endswith(f"(in {WHERE})")


@pytest.mark.parametrize("key", ["cookie_domain", "store"])
@pytest.mark.parametrize("spelling", ["None", "none", "", " "])
def test_optional_strings_accept_none_or_empty(key: str, spelling: str) -> None:
    """cookie_domain and store are None when None or empty."""
    assert coerce(**{key: spelling})[key] is None


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("cookie_domain", "example.org"),
        ("store", "redis://cache.internal:6379/0"),
        ("store", "memory://?threshold=1000"),
    ],
)
def test_optional_strings_keep_their_value(key: str, value: str) -> None:
    """A set cookie_domain or store URL is kept as written."""
    assert coerce(**{key: f" {value} "})[key] == value


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("tracking", "url"),
        ("concurrency", "lock"),
        ("url_param", "jsessionid"),
        ("environ_key", "beaker.session"),
        ("cookie_name", "__Host-sid"),
        ("cookie_path", "/app"),
    ],
)
def test_string_settings_are_stripped_strings(key: str, value: str) -> None:
    """Plain string settings keep their value, without surrounding blanks."""
    assert coerce(**{key: f"  {value}  "})[key] == value


def test_bad_string_setting_fails_validation_with_location() -> None:
    """A string setting outside its choices fails at load, located."""
    error = coerce_error(tracking="sometimes")
    assert error.key == "tracking"
    assert "'auto', 'cookie', 'url'" in str(error)
    assert str(error).endswith(f"(in {WHERE})")


# -- serializer and events (import paths) ----------------------------------------------


def test_serializer_json_keyword() -> None:
    """serializer = json selects the default serializer."""
    assert coerce(serializer="json")["serializer"] == "json"


@pytest.mark.parametrize(
    "path",
    [
        "wsgi_session.serializers:JSONSerializer",
        "wsgi_session.serializers.JSONSerializer",
    ],
)
def test_serializer_class_path_is_imported_and_instantiated(path: str) -> None:
    """A dotted path (':' or '.' form) to a class gives an instance of it."""
    assert isinstance(coerce(serializer=path)["serializer"], JSONSerializer)


def test_serializer_instance_path_is_used_as_is() -> None:
    """A dotted path to an object gives that object."""
    path = "wsgi_session.serializers:default_serializer"
    assert coerce(serializer=path)["serializer"] is default_serializer


def test_serializer_pickle_keyword_is_refused() -> None:
    """serializer = pickle is refused with the explanation, located."""
    error = coerce_error(serializer="pickle")
    assert error.key == "serializer"
    assert "PickleSerializer" in str(error)
    assert str(error).endswith(f"(in {WHERE})")


@pytest.mark.parametrize(
    ("path", "detail"),
    [
        ("no_such_module_xyz:Serializer", "ModuleNotFoundError"),
        ("wsgi_session.serializers:NoSuchThing", "AttributeError"),
        ("datetime:date", "date() failed: TypeError"),
    ],
)
def test_serializer_path_that_cannot_be_used_is_an_error(
    path: str, detail: str
) -> None:
    """A path that does not import or instantiate names key, value and cause."""
    error = coerce_error(serializer=path)
    assert error.key == "serializer"
    assert str(error).startswith(f"serializer: invalid value {path!r} in {WHERE}")
    assert detail in str(error)


@pytest.mark.parametrize("spelling", ["", "yaml", "my serializer", "a.b:"])
def test_serializer_must_be_json_or_a_path(spelling: str) -> None:
    """Neither 'json' nor an import path is an error."""
    error = coerce_error(serializer=spelling)
    assert error.key == "serializer"
    assert "expected 'json' or an import path" in str(error)


def test_events_path_is_instantiated() -> None:
    """events names a SessionEvents subclass, instantiated."""
    events = coerce(events="wsgi_session.events:SessionEvents")["events"]
    assert type(events) is SessionEvents


@pytest.mark.parametrize("spelling", ["", "None"])
def test_events_empty_is_none(spelling: str) -> None:
    """An empty events value means no events."""
    assert coerce(events=spelling)["events"] is None


def test_events_of_wrong_class_fails_validation_with_location() -> None:
    """A class that is not a SessionEvents subclass is refused at load."""
    error = coerce_error(events="collections:OrderedDict")
    assert error.key == "events"
    assert "SessionEvents" in str(error)
    assert str(error).endswith(f"(in {WHERE})")


# -- values that are already typed -----------------------------------------------------


def test_typed_values_pass_through() -> None:
    """Non-string values (from code) are not coerced."""
    events = SessionEvents()
    options = {
        "secret_key": [b"old", "new"],
        "idle_timeout": dt.timedelta(minutes=5),
        "cookie_secure": True,
        "url_body_limit": 10,
        "events": events,
        "serializer": default_serializer,
        "absolute_timeout": None,
    }
    assert coerce_mapping(options, source="mapping") == options


def test_typed_value_of_wrong_type_fails_validation() -> None:
    """A typed value of the wrong type is refused by validation, located."""
    with pytest.raises(ConfigError, match=r"cookie_httponly: .* \(in mapping\)$"):
        coerce_mapping({"secret_key": "k", "cookie_httponly": 1}, source="mapping")


# -- ${NAME} substitution --------------------------------------------------------------


def test_environment_variable_is_substituted(monkeypatch: pytest.MonkeyPatch) -> None:
    """${NAME} is replaced by the environment variable NAME."""
    monkeypatch.setenv("APP_SECRET", "from-the-environment")
    assert coerce(secret_key="${APP_SECRET}")["secret_key"] == "from-the-environment"


def test_variables_inside_a_value(monkeypatch: pytest.MonkeyPatch) -> None:
    """Several ${NAME} anywhere in a value are all replaced."""
    monkeypatch.setenv("REDIS_HOST", "cache.internal")
    monkeypatch.setenv("REDIS_DB", "3")
    store = coerce(store="redis://${REDIS_HOST}:6379/${REDIS_DB}")["store"]
    assert store == "redis://cache.internal:6379/3"


def test_substitution_happens_before_coercion(monkeypatch: pytest.MonkeyPatch) -> None:
    """A substituted value is coerced by its setting's type."""
    monkeypatch.setenv("IDLE", "15m")
    monkeypatch.setenv("HTML", "on")
    options = coerce(idle_timeout="${IDLE}", rewrite_html="${HTML}")
    assert (options["idle_timeout"], options["rewrite_html"]) == (900, True)


def test_substituted_list_of_secret_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """Secret keys may mix written and substituted keys."""
    monkeypatch.setenv("NEW_KEY", "new")
    assert coerce(secret_key="old, ${NEW_KEY}")["secret_key"] == ["old", "new"]


def test_dollar_escapes(monkeypatch: pytest.MonkeyPatch) -> None:
    """$$ is a literal '$', a lone '$' stays, and $${NAME} is not substituted."""
    monkeypatch.setenv("NAME", "x")
    assert coerce(secret_key="a$$b$c$${NAME}")["secret_key"] == "a$b$c${NAME}"


def test_missing_environment_variable_is_an_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A missing variable names the variable, the key, the file and the section."""
    monkeypatch.delenv("NO_SUCH_SECRET", raising=False)
    error = coerce_error(secret_key="${NO_SUCH_SECRET}")
    assert error.key == "secret_key"
    assert str(error) == (
        "secret_key: environment variable 'NO_SUCH_SECRET' is not set "
        f"(referenced as ${{NO_SUCH_SECRET}} in {WHERE})"
    )


@pytest.mark.parametrize("value", ["${1ABC}", "${NAME", "${}", "${A-B}"])
def test_malformed_variable_reference_is_an_error(value: str) -> None:
    """A reference that is not ${NAME} is an error, not left in place."""
    error = coerce_error(store=value)
    assert error.key == "store"
    assert "malformed variable reference" in str(error)
    assert WHERE in str(error)


def test_bad_substituted_value_shows_both_spellings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A bad value from the environment shows the reference and what it gave."""
    monkeypatch.setenv("IDLE", "soon")
    error = coerce_error(idle_timeout="${IDLE}")
    assert "invalid value '${IDLE}' (= 'soon')" in str(error)


# -- unknown keys ----------------------------------------------------------------------


def test_unknown_key_suggests_the_closest_setting() -> None:
    """An unknown key names the key, section and file, and suggests a setting."""
    error = coerce_error(idle_timout="15m")
    assert error.key == "idle_timout"
    assert str(error) == (
        "unknown setting 'idle_timout' in [wsgi_session] of /etc/app.ini; "
        "did you mean 'idle_timeout'?"
    )


def test_unknown_key_in_other_case_suggests_the_setting() -> None:
    """The suggestion ignores case."""
    error = coerce_error(Cookie_Name="sid")
    assert "did you mean 'cookie_name'?" in str(error)


def test_unknown_key_without_close_match_lists_settings() -> None:
    """An unknown key with no close match lists the valid settings."""
    error = coerce_error(colour="blue")
    assert "unknown setting 'colour' in [wsgi_session] of /etc/app.ini" in str(error)
    assert "valid settings are secret_key, store, " in str(error)


def test_location_without_section_is_the_source() -> None:
    """Without a section, messages name the source alone."""
    with pytest.raises(ConfigError, match=r"^unknown setting 'x' in mapping; "):
        coerce_mapping({"x": "1"}, source="mapping")


def test_unknown_key_is_reported_before_bad_values() -> None:
    """A mapping with an unknown key fails on the key, whatever the values."""
    error = coerce_error(idle_timeout="soon", sekret_key="k")
    assert error.key == "sekret_key"


# -- load_config -----------------------------------------------------------------------


def test_load_config_reads_every_setting_of_the_example_file() -> None:
    """The example file gives typed settings for every key."""
    options = load_config(DATA / "app.ini")
    assert options == {
        "secret_key": ["retired-key-2023", "current%key,with-comma"],
        "store": "memory://?threshold=1000",
        "cookie_name": "app_session",
        "cookie_path": "/",
        "cookie_domain": None,
        "cookie_secure": "auto",
        "cookie_httponly": True,
        "cookie_samesite": "Strict",
        "cookie_max_age": None,
        "idle_timeout": 1800,
        "absolute_timeout": 28800,
        "tracking": "cookie",
        "url_param": "sid",
        "environ_key": "wsgi_session",
        "serializer": "json",
        "concurrency": "merge",
        "rewrite_html": False,
        "events": None,
        "user_key": "user_id",
        "csrf": "check",
        "csrf_exempt": ("/api/", "/hooks/"),
        "lock_timeout": 5,
        "url_body_limit": 512 * 1024,
    }
    assert set(options) == set(DEFAULTS)


def test_load_config_accepts_str_path() -> None:
    """The path may be a str as well as a PathLike."""
    assert load_config(str(DATA / "app.ini"))["cookie_name"] == "app_session"


def test_percent_signs_survive(tmp_path: pathlib.Path) -> None:
    """No % interpolation: a '%' in a secret is kept as written."""
    path = write_ini(tmp_path, "[wsgi_session]\nsecret_key = 100%(here)s%%\n")
    assert load_config(path)["secret_key"] == "100%(here)s%%"


def test_other_section(tmp_path: pathlib.Path) -> None:
    """section= selects the section to read."""
    path = write_ini(tmp_path, "[sessions]\nsecret_key = k\ntracking = url\n")
    assert load_config(path, section="sessions") == {
        "secret_key": "k",
        "tracking": "url",
    }


def test_keys_are_case_insensitive_as_in_ini_files(tmp_path: pathlib.Path) -> None:
    """Ini keys are matched regardless of case."""
    path = write_ini(tmp_path, "[wsgi_session]\nSecret_Key = k\nIDLE_TIMEOUT = 1h\n")
    assert load_config(path) == {"secret_key": "k", "idle_timeout": 3600}


def test_default_section_supplies_settings_and_is_overridden(
    tmp_path: pathlib.Path,
) -> None:
    """[DEFAULT] keys that are settings apply; the section's own keys win."""
    path = write_ini(
        tmp_path,
        "[DEFAULT]\nsecret_key = shared\nidle_timeout = 2h\ndebug = true\n"
        "[wsgi_session]\nidle_timeout = 15m\n",
    )
    assert load_config(path) == {"secret_key": "shared", "idle_timeout": 900}


def test_bad_value_in_default_section_names_it(tmp_path: pathlib.Path) -> None:
    """A bad setting value inherited from [DEFAULT] is located there."""
    path = write_ini(
        tmp_path, "[DEFAULT]\nidle_timeout = soon\n[wsgi_session]\nsecret_key = k\n"
    )
    with pytest.raises(ConfigError, match=r"in \[DEFAULT\] of .*app\.ini; expected"):
        load_config(path)


def test_bad_value_in_file_names_key_value_file_and_section(
    tmp_path: pathlib.Path,
) -> None:
    """A bad value read from a file names the key, the value, the file and section."""
    path = write_ini(tmp_path, "[wsgi_session]\nsecret_key = k\nrewrite_html = maybe\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.key == "rewrite_html"
    assert str(info.value).startswith(
        f"rewrite_html: invalid value 'maybe' in [wsgi_session] of {path}; expected"
    )


def test_unknown_key_in_file_names_file_and_section(tmp_path: pathlib.Path) -> None:
    """An unknown key read from a file names the file and the section."""
    path = write_ini(tmp_path, "[wsgi_session]\nsecret_key = k\ncookie_nmae = s\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == (
        f"unknown setting 'cookie_nmae' in [wsgi_session] of {path}; "
        "did you mean 'cookie_name'?"
    )


def test_missing_file_is_an_error(tmp_path: pathlib.Path) -> None:
    """A missing file is a ConfigError naming it."""
    path = tmp_path / "nowhere.ini"
    with pytest.raises(
        ConfigError, match=f"^config file {re.escape(str(path))} not found$"
    ):
        load_config(path)


def test_unreadable_path_is_an_error(tmp_path: pathlib.Path) -> None:
    """A path that cannot be read (a directory) is a ConfigError naming it."""
    with pytest.raises(ConfigError, match=r"^cannot read config file "):
        load_config(tmp_path)


def test_missing_section_lists_the_sections(tmp_path: pathlib.Path) -> None:
    """A missing section is a ConfigError that lists the file's sections."""
    path = write_ini(tmp_path, "[app]\ndebug = 1\n[server]\nport = 80\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == (
        f"config file {path} has no [wsgi_session] section (it has: [app], [server])"
    )


def test_file_that_is_not_ini_is_an_error(tmp_path: pathlib.Path) -> None:
    """A file that configparser cannot parse is a ConfigError naming it."""
    path = write_ini(tmp_path, "secret_key = k\n")
    with pytest.raises(
        ConfigError, match=f"^cannot parse config file {re.escape(str(path))}: "
    ):
        load_config(path)


def test_duplicate_key_is_an_error(tmp_path: pathlib.Path) -> None:
    """A key given twice in a section is a ConfigError, not last-wins."""
    path = write_ini(tmp_path, "[wsgi_session]\nsecret_key = a\nsecret_key = b\n")
    with pytest.raises(ConfigError, match="cannot parse config file"):
        load_config(path)


def test_file_that_is_not_utf8_is_an_error(tmp_path: pathlib.Path) -> None:
    """A file that is not UTF-8 is a ConfigError naming it."""
    path = tmp_path / "app.ini"
    path.write_bytes(b"[wsgi_session]\nsecret_key = caf\xe9\n")
    with pytest.raises(
        ConfigError, match=f"^config file {re.escape(str(path))} is not UTF-8"
    ):
        load_config(path)


# -- end to end: SessionMiddleware.from_ini / from_config ------------------------------


def session_app(environ: dict[str, t.Any], start_response: t.Any) -> list[bytes]:
    """Store ?value= in the session on /set; answer the stored value."""
    from urllib.parse import parse_qs

    session = environ["wsgi_session"]
    if environ["PATH_INFO"] == "/set":
        session["value"] = parse_qs(environ["QUERY_STRING"])["value"][0]
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [session.get("value", "-").encode()]


def test_from_ini_serves_a_session() -> None:
    """An ini file configures a middleware whose session survives between requests."""
    from werkzeug.test import Client

    from wsgi_session import SessionMiddleware

    app = SessionMiddleware.from_ini(session_app, str(DATA / "app.ini"), "wsgi_session")
    assert app.settings.idle_timeout == 1800
    assert app.settings.secret_key == ("retired-key-2023", "current%key,with-comma")
    client = Client(app)
    response = client.get("/set?value=blue")
    assert response.text == "blue"
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("app_session=")
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    assert client.get("/").text == "blue"


def test_from_config_coerces_strings() -> None:
    """from_config takes a mapping of strings and serves a session."""
    from werkzeug.test import Client

    from wsgi_session import SessionMiddleware

    app = SessionMiddleware.from_config(
        session_app,
        {"secret_key": "a, b", "idle_timeout": "1h", "cookie_httponly": "no"},
    )
    assert app.settings.secret_key == ("a", "b")
    assert app.settings.idle_timeout == 3600
    client = Client(app)
    response = client.get("/set?value=green")
    assert "HttpOnly" not in response.headers["Set-Cookie"]
    assert client.get("/").text == "green"


def test_from_config_reports_unknown_keys() -> None:
    """from_config rejects unknown keys, naming the mapping as the source."""
    from wsgi_session import SessionMiddleware

    with pytest.raises(ConfigError, match=r"^unknown setting 'idle' in mapping; "):
        SessionMiddleware.from_config(session_app, {"secret_key": "k", "idle": "1"})


# -- every mistake at once -------------------------------------------------------------

#: Three mistakes of three sorts: an unknown key, a value of the wrong form and
#: a value that fails validation.
THREE_MISTAKES = ("idle_timout = 15m", "cookie_secure = maybe", "tracking = sometimes")


def single_mistake_message(tmp_path: pathlib.Path, line: str) -> str:
    """The message load_config gives for a file whose only mistake is ``line``."""
    path = write_ini(tmp_path, f"[wsgi_session]\nsecret_key = k\n{line}\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return str(info.value)


def test_file_with_three_mistakes_reports_all_in_one_error(
    tmp_path: pathlib.Path,
) -> None:
    """Three mistakes of a section: one ConfigError, one line each, as if alone."""
    alone = [single_mistake_message(tmp_path, line) for line in THREE_MISTAKES]
    assert all("\n" not in message for message in alone)
    path = write_ini(
        tmp_path, "[wsgi_session]\nsecret_key = k\n" + "\n".join(THREE_MISTAKES) + "\n"
    )
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value).splitlines() == alone
    assert alone[0] == (
        f"unknown setting 'idle_timout' in [wsgi_session] of {path}; "
        "did you mean 'idle_timeout'?"
    )
    assert info.value.key == "idle_timout"


def test_from_ini_reports_every_mistake(tmp_path: pathlib.Path) -> None:
    """from_ini raises one ConfigError naming each of the three mistakes."""
    from wsgi_session import SessionMiddleware

    path = write_ini(tmp_path, "[wsgi_session]\n" + "\n".join(THREE_MISTAKES) + "\n")
    with pytest.raises(ConfigError) as info:
        SessionMiddleware.from_ini(session_app, str(path))
    lines = str(info.value).splitlines()
    assert [line.split(" ")[0:3] for line in lines[:2]] == [
        ["unknown", "setting", "'idle_timout'"],
        ["cookie_secure:", "invalid", "value"],
    ]
    assert lines[2].startswith("secret_key: a secret key is required")
    assert lines[3].startswith("tracking: expected one of 'auto', 'cookie', 'url'")
    assert all(line.endswith(f"(in [wsgi_session] of {path})") for line in lines[2:])
    assert len(lines) == 4


def test_from_config_reports_every_mistake() -> None:
    """from_config names every bad key and value of the mapping, in one error."""
    from wsgi_session import SessionMiddleware

    mapping = {"secret_key": "k", "idle": "1", "rewrite_html": "yep", "url_param": "?"}
    with pytest.raises(ConfigError) as info:
        SessionMiddleware.from_config(session_app, mapping)
    lines = str(info.value).splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("unknown setting 'idle' in mapping; ")
    assert lines[1].startswith("rewrite_html: invalid value 'yep' in mapping; ")
    assert lines[2].startswith("url_param: expected a non-empty name of letters")
    assert lines[2].endswith("(in mapping)")


def test_settings_build_reports_every_mistake() -> None:
    """Settings.build lists unknown names first, then each bad value, one per line."""
    with pytest.raises(ConfigError) as info:
        Settings.build(colour="blue", idle_timeout="15m", cookie_path="x")
    assert str(info.value).splitlines() == [
        "colour: unknown setting",
        "secret_key: a secret key is required (a str, bytes, or a list of them, "
        "newest last); generate one with "
        "python -c 'import secrets; print(secrets.token_hex(32))'",
        "cookie_path: expected a path starting with '/', got 'x'",
        "idle_timeout: expected a number of seconds, a timedelta or None, got '15m'",
    ]
    assert info.value.key == "colour"


def test_one_mistake_keeps_its_key_and_message() -> None:
    """A single mistake is the same error as before: its message and its key."""
    with pytest.raises(ConfigError) as info:
        Settings.build(secret_key="k", lock_timeout=None)
    assert str(info.value) == (
        "lock_timeout: expected a number of seconds, a timedelta, got None"
    )
    assert info.value.key == "lock_timeout"


def test_value_that_cannot_be_coerced_is_reported_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A secret from a missing variable is one line, not also "key required"."""
    monkeypatch.delenv("NO_SUCH_SECRET", raising=False)
    error = coerce_error(secret_key="${NO_SUCH_SECRET}", cookie_path="x")
    lines = str(error).splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("secret_key: environment variable 'NO_SUCH_SECRET'")
    assert lines[1].startswith("cookie_path: expected a path starting with '/'")


def test_mistakes_of_default_section_and_own_section_come_together(
    tmp_path: pathlib.Path,
) -> None:
    """A bad [DEFAULT] value and a bad section value are both reported."""
    path = write_ini(
        tmp_path,
        "[DEFAULT]\nidle_timeout = soon\n\n"
        "[wsgi_session]\nsecret_key = k\ncookie_httponly = maybe\n",
    )
    with pytest.raises(ConfigError) as info:
        load_config(path)
    lines = str(info.value).splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(
        f"idle_timeout: invalid value 'soon' in [DEFAULT] of {path}; "
    )
    assert lines[1].startswith(
        f"cookie_httponly: invalid value 'maybe' in [wsgi_session] of {path}; "
    )


def test_section_value_overrides_a_bad_default_but_the_mistake_is_shown(
    tmp_path: pathlib.Path,
) -> None:
    """A bad [DEFAULT] value stays an error even when the section sets the key."""
    bad = write_ini(
        tmp_path,
        "[DEFAULT]\nidle_timeout = soon\n\n[wsgi_session]\nsecret_key = k\n"
        "idle_timeout = 1h\n",
    )
    with pytest.raises(ConfigError, match=r"^idle_timeout: invalid value 'soon' in "):
        load_config(bad)


# -- the table of settings -------------------------------------------------------------


def test_defaults_kinds_and_settings_fields_all_come_from_the_table() -> None:
    """DEFAULTS, KINDS and the Settings fields list the table's names, in order."""
    import dataclasses

    from wsgi_session.config import SETTINGS
    from wsgi_session.inifile import COERCERS

    names = [s.name for s in SETTINGS]
    assert list(DEFAULTS) == names
    assert list(KINDS) == names
    assert [f.name for f in dataclasses.fields(Settings)] == names
    assert all(KINDS[s.name] is COERCERS[s.kind] for s in SETTINGS)
    assert {s.name: s.default for s in SETTINGS} == DEFAULTS


def test_every_default_passes_its_own_validator() -> None:
    """Each setting's default is accepted by its validator (secret_key aside)."""
    from wsgi_session.config import SETTINGS

    for setting in SETTINGS:
        if setting.name != "secret_key":
            setting.check(setting.name, setting.default)
