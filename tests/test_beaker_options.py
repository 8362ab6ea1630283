"""Tests of wsgi_session.beaker.options: Beaker's configuration as our options."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import typing as t

import pytest

from wsgi_session.beaker import BeakerOptions, translate_beaker_config
from wsgi_session.beaker.options import BEAKER_COOKIE_NAME, NEVER_EXPIRES_MAX_AGE
from wsgi_session.config import Settings
from wsgi_session.errors import ConfigError
from wsgi_session.serializers import JSONSerializer


def options(*args: t.Any, **kwargs: t.Any) -> dict[str, t.Any]:
    """The §2 options translated from a Beaker configuration."""
    return dict(translate_beaker_config(*args, **kwargs).options)


def error(*args: t.Any, **kwargs: t.Any) -> str:
    """The message of the ConfigError a Beaker configuration raises."""
    with pytest.raises(ConfigError) as info:
        translate_beaker_config(*args, **kwargs)
    return str(info.value)


# -- prefixes and sources -------------------------------------------------------


@pytest.mark.parametrize("prefix", ["beaker.session.", "session.", "session_"])
def test_each_beaker_prefix_marks_a_session_option_in_config(prefix: str) -> None:
    """config keys with any of Beaker's three prefixes are session options."""
    assert options({prefix + "key": "app.sid"})["cookie_name"] == "app.sid"


def test_unprefixed_keys_of_a_whole_app_config_are_ignored() -> None:
    """A whole app config's keys without a session prefix are not read."""
    result = options({"debug": "true", "key": "app.sid", "sqlalchemy.url": "x"})
    assert result["cookie_name"] == BEAKER_COOKIE_NAME


def test_keyword_arguments_are_options_with_or_without_prefix() -> None:
    """Keyword arguments are read unprefixed and prefixed alike."""
    result = options(**{"key": "app.sid", "session.timeout": "60"})
    assert (result["cookie_name"], result["idle_timeout"]) == ("app.sid", 60)


def test_keyword_arguments_win_over_config() -> None:
    """A keyword argument overrides the same option given in config."""
    assert options({"session.key": "a"}, key="b")["cookie_name"] == "b"


def test_beakers_default_cookie_name_is_kept() -> None:
    """Without ``key`` the cookie keeps Beaker's name."""
    assert options()["cookie_name"] == "beaker.session.id"


# -- stores -----------------------------------------------------------------------


def test_no_type_and_no_data_dir_is_the_memory_store() -> None:
    """As in Beaker, the default backend is in-process memory."""
    assert options(type="memory")["store"] == "memory://"
    assert "store" not in options()  # our default store is memory:// too


def test_data_dir_without_type_is_a_file_store_beside_beakers_files() -> None:
    """data_dir alone means file, in a directory of our own under it."""
    assert options(data_dir="/srv/s")["store"] == "file:///srv/s/wsgi_session"


@pytest.mark.parametrize("kind", ["file", "dbm"])
def test_file_and_dbm_become_our_file_store(kind: str) -> None:
    """Beaker's on-disk backends both map onto the file store."""
    assert options(type=kind, data_dir="/srv/s")["store"].startswith("file:///srv/s/")


def test_a_relative_data_dir_is_taken_from_the_current_directory() -> None:
    """A relative data_dir is resolved as Beaker resolves it."""
    expected = os.path.join(os.getcwd(), "data", "wsgi_session")
    assert options(data_dir="data")["store"] == "file://" + expected


def test_a_file_type_without_data_dir_is_an_error() -> None:
    """type = file needs a directory."""
    assert "data_dir: type file needs data_dir" in error(type="file")


def test_ext_redis_keeps_its_url() -> None:
    """ext:redis's url is a redis:// URL our store parses."""
    result = options(type="ext:redis", url="rediss://:pw@cache:6380/2")
    assert result["store"] == "rediss://:pw@cache:6380/2"


def test_ext_redis_with_a_url_we_cannot_open_names_the_option_as_written() -> None:
    """A redis URL our store refuses is an error on 'session.url'."""
    message = error({"session.type": "ext:redis", "session.url": "unix:///tmp/r"})
    assert message.startswith("session.url: type ext:redis takes a redis://")


def test_ext_memcached_servers_become_one_memcached_url() -> None:
    """Beaker's semicolon-separated servers and client module are kept."""
    result = options(
        type="ext:memcached", url="m1:11211;m2:11212", memcache_module="pylibmc"
    )
    assert result["store"] == "memcached://m1:11211,m2:11212?client=pylibmc"


def test_ext_memcached_with_an_unsupported_client_is_an_error() -> None:
    """A memcache client module we do not support is named."""
    message = error(type="ext:memcached", url="m1", memcache_module="cmemcache")
    assert "memcache_module: expected auto, memcache or pylibmc" in message


def test_ext_database_keeps_its_sqlalchemy_url_and_ignores_table_name() -> None:
    """ext:database becomes our SQL store; Beaker's table is left alone."""
    result = translate_beaker_config(
        type="ext:database", url="sqlite:////srv/s.db", table_name="beaker_cache"
    )
    assert result.options["store"] == "sqlite:////srv/s.db"
    assert result.ignored == ("table_name",)


def test_ext_database_schema_name_is_refused_with_the_way_out() -> None:
    """schema_name cannot be honoured, and the error says where to put it."""
    message = error(type="ext:database", url="postgresql://h/db", schema_name="s")
    assert message.startswith("schema_name: the SQL store has no schema option")


def test_ext_sqla_uses_its_bound_engine() -> None:
    """ext:sqla's bind (a SQLAlchemy Engine) is the store."""
    sqlalchemy = pytest.importorskip("sqlalchemy")
    engine = sqlalchemy.create_engine("sqlite://")
    try:
        assert options(type="ext:sqla", bind=engine, table=object())["store"] is engine
    finally:
        engine.dispose()


def test_ext_mongodb_keeps_its_url() -> None:
    """ext:mongodb's URI is our mongodb:// store URL."""
    url = "mongodb://db1:27017/app"
    assert options(type="ext:mongodb", url=url)["store"] == url


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("cookie", "client-side cookie sessions keep the data in the browser"),
        ("ext:google", "App Engine db API"),
        ("ext:rediscluster", "redis.cluster.RedisCluster"),
        ("ext:cassandra", "unknown Beaker session type"),
    ],
)
def test_types_without_a_store_are_errors_that_say_why(kind: str, reason: str) -> None:
    """Each Beaker type we do not map is refused with its reason."""
    message = error(type=kind)
    assert message.startswith("type: ") and reason in message


def test_store_options_the_type_does_not_read_are_reported_ignored() -> None:
    """data_dir next to ext:redis, like lock_dir, has no effect and is listed."""
    result = translate_beaker_config(
        {"session.lock_dir": "/l"}, type="ext:redis", url="redis://h", data_dir="/d"
    )
    assert set(result.ignored) == {"session.lock_dir", "data_dir"}


# -- cookie lifetime and timeouts ---------------------------------------------------


@pytest.mark.parametrize(
    ("value", "max_age"),
    [
        (True, None),
        ("true", None),
        (False, NEVER_EXPIRES_MAX_AGE),
        ("false", NEVER_EXPIRES_MAX_AGE),
        ("0", NEVER_EXPIRES_MAX_AGE),  # Beaker reads "0" as a boolean first
        (3600, 3600),
        ("3600", 3600),
        (dt.timedelta(days=2), 172800),
    ],
)
def test_cookie_expires_forms_become_a_max_age(value: t.Any, max_age: int) -> None:
    """True, False, seconds and timedeltas become cookie_max_age."""
    assert options(cookie_expires=value)["cookie_max_age"] == max_age


def test_cookie_expires_as_a_datetime_is_carried_as_a_fixed_date() -> None:
    """A datetime is a fixed expiry date; naive ones are UTC, as Beaker writes them."""
    at = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) + dt.timedelta(days=1)
    result = translate_beaker_config(cookie_expires=at)
    assert result.cookie_expires_at == at.replace(tzinfo=dt.timezone.utc)
    assert 86000 < result.options["cookie_max_age"] <= 86400


@pytest.mark.parametrize(
    "value",
    [0, -5, dt.timedelta(0), dt.datetime(2000, 1, 1), "soon", ""],
)
def test_cookie_expires_that_cannot_give_a_cookie_is_an_error(value: t.Any) -> None:
    """Zero, negative, past and unreadable lifetimes are refused at once."""
    assert error(cookie_expires=value).startswith("cookie_expires: expected ")


def test_timeout_is_the_idle_timeout() -> None:
    """Beaker's sliding timeout is our idle_timeout."""
    assert options({"session.timeout": "600"})["idle_timeout"] == 600


def test_timeout_takes_whole_seconds_only_as_beaker_does() -> None:
    """A duration string Beaker refuses is refused under Beaker's name."""
    message = error({"session.timeout": "15m"})
    assert message.startswith("session.timeout: expected a whole number of seconds")


def test_no_timeout_is_the_cookie_lifetime_or_our_default() -> None:
    """Without timeout the idle limit follows a persistent cookie, else 30 min."""
    assert options(cookie_expires=7200)["idle_timeout"] == 7200
    assert options()["idle_timeout"] == 1800


def test_an_explicit_none_timeout_means_no_idle_limit() -> None:
    """timeout=None, as Beaker's default, is honoured when written."""
    assert options(timeout=None)["idle_timeout"] is None


def test_timeout_without_saved_access_time_is_an_error_as_in_beaker() -> None:
    """save_accessed_time = false cannot go with a timeout."""
    message = error(timeout=60, save_accessed_time="false")
    assert message == "save_accessed_time: must be true to use timeout (as in Beaker)"


# -- secret, cookie attributes, serializer ------------------------------------------


def test_without_secret_the_ids_are_unsigned() -> None:
    """No secret is no error: the result says the ids go unsigned."""
    result = translate_beaker_config()
    assert result.unsigned_ids and "secret_key" not in result.options


def test_secret_signs_the_ids() -> None:
    """secret is the secret key."""
    result = translate_beaker_config({"session.secret": "s3cret"})
    assert not result.unsigned_ids and result.options["secret_key"] == "s3cret"


def test_cookie_attributes_map_onto_ours() -> None:
    """domain, path, secure, httponly and samesite map by meaning."""
    result = options(
        cookie_domain=".example.com",
        cookie_path="/app",
        secure="true",
        httponly="no",
        samesite="Strict",
    )
    assert result == {
        "cookie_name": BEAKER_COOKIE_NAME,
        "cookie_domain": ".example.com",
        "cookie_path": "/app",
        "cookie_secure": True,
        "cookie_httponly": False,
        "cookie_samesite": "Strict",
        "idle_timeout": 1800,
        "tracking": "cookie",
    }


def test_tracking_defaults_to_cookies_as_in_beaker() -> None:
    """Without tracking, the drop-in tracks by cookie only (no probe, no URL ids)."""
    assert options()["tracking"] == "cookie"
    assert options(tracking="auto")["tracking"] == "auto"


def test_unset_cookie_attributes_keep_our_secure_defaults() -> None:
    """Beaker's insecure defaults are not copied: auto Secure, HttpOnly."""
    settings = Settings.build(secret_key="k", **options())
    assert (settings.cookie_secure, settings.cookie_httponly) == ("auto", True)


def test_an_empty_samesite_omits_the_attribute() -> None:
    """A false samesite omits the attribute, as in Beaker."""
    assert options(samesite="")["cookie_samesite"] is None


def test_json_data_serializer_is_our_json() -> None:
    """data_serializer = json is our tagged JSON."""
    assert options(data_serializer="json")["serializer"] == "json"


def test_pickle_data_serializer_is_refused_with_the_reason() -> None:
    """data_serializer = pickle is refused: stored data is never unpickled."""
    assert "never unpickles stored data" in error(data_serializer="pickle")


def test_a_serializer_object_is_passed_on() -> None:
    """An object with dumps() and loads() becomes the serializer."""
    serializer = JSONSerializer()
    assert options(data_serializer=serializer)["serializer"] is serializer


@pytest.mark.parametrize("key", ["validate_key", "encrypt_key"])
def test_cookie_session_keys_are_refused_with_the_reason(key: str) -> None:
    """validate_key and encrypt_key say they belong to cookie sessions."""
    message = error({f"session.{key}": "x"})
    assert message.startswith(f"session.{key}: not supported: ")
    assert "client-side cookie sessions" in message


def test_cookie_session_keys_left_at_none_are_accepted() -> None:
    """Beaker's own default (None) for those keys is no mistake."""
    assert options(encrypt_key=None, validate_key=None)["cookie_name"]


def test_auto_and_webtest_varname_are_carried() -> None:
    """The Beaker-only options the drop-in needs are in the result."""
    result = translate_beaker_config(auto="on", webtest_varname="session")
    assert (result.auto, result.webtest_varname) == (True, "session")


# -- our own names, mistakes ----------------------------------------------------------


def test_our_own_names_are_accepted_and_coerced_as_in_ini_files() -> None:
    """§2 names under a prefix switch on URL tracking and the rest."""
    result = options(
        {"session.tracking": "url", "session.idle_timeout": "15m"},
        rewrite_html="yes",
    )
    assert result["tracking"] == "url"
    assert (result["idle_timeout"], result["rewrite_html"]) == (900, True)


def test_a_beaker_name_and_ours_for_one_option_conflict() -> None:
    """key and cookie_name together are an error naming both."""
    assert error(key="a", cookie_name="b") == "key and cookie_name both set " + (
        "cookie_name: keep one"
    )


def test_an_unknown_option_under_a_prefix_suggests_the_closest() -> None:
    """A misspelt option is named as written, with the closest valid name."""
    message = error({"beaker.session.cookie_expire": "true"})
    assert message == (
        "beaker.session.cookie_expire: unknown Beaker session option; "
        "did you mean 'beaker.session.cookie_expires'?"
    )


def test_an_unknown_keyword_argument_is_an_error() -> None:
    """Keyword arguments are all session options: unknown ones are refused."""
    assert error(colour="blue").startswith("colour: unknown Beaker session option")


def test_every_mistake_comes_in_one_error_one_line_each() -> None:
    """Several mistakes are reported together."""
    message = error(
        {"session.tyep": "file", "session.secure": "maybe"},
        encrypt_key="k",
        tracking="sometimes",
    )
    lines = message.splitlines()
    assert len(lines) == 4
    assert [line.split(":")[0] for line in lines] == [
        "session.tyep",
        "session.secure",
        "encrypt_key",
        "tracking",
    ]


def test_a_value_our_settings_refuse_names_the_beaker_option() -> None:
    """Our validation of a translated value points at the option written."""
    message = error({"session.key": "a b"})
    assert message.endswith("(from session.key)")


def test_the_result_is_frozen() -> None:
    """Neither the result nor its options can be changed."""
    result = translate_beaker_config(secret="k")
    assert isinstance(result, BeakerOptions)
    with pytest.raises(AttributeError):
        result.auto = True  # type: ignore[misc]
    with pytest.raises(TypeError):
        result.options["secret_key"] = "x"  # type: ignore[index]


def test_the_translated_options_build_settings() -> None:
    """What comes out is accepted by Settings.build as it is."""
    result = translate_beaker_config(
        {"session.type": "ext:redis", "session.url": "redis://h:6379/0"},
        secret="k",
        cookie_expires="86400",
        samesite="None",
    )
    settings = Settings.build(**result.options)
    assert (settings.cookie_max_age, settings.cookie_samesite) == (86400, "None")


def test_the_package_works_without_beaker_installed() -> None:
    """wsgi_session.beaker never imports beaker."""
    code = (
        "import sys; sys.modules['beaker'] = None\n"
        "from wsgi_session.beaker import translate_beaker_config\n"
        "print(translate_beaker_config({'session.type': 'file', "
        "'session.data_dir': '/d'}).options['store'])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "file:///d/wsgi_session"


# -- against Beaker's own coercion ---------------------------------------------------

_CASES = [
    ("secure", "true"),
    ("secure", "Y"),
    ("secure", "off"),
    ("secure", "0"),
    ("secure", "maybe"),
    ("secure", ""),
    ("httponly", "t"),
    ("httponly", "No"),
    ("auto", "yes"),
    ("auto", "f"),
    ("timeout", "300"),
    ("timeout", "15m"),
    ("timeout", "-5"),
    ("timeout", ""),
    ("cookie_expires", "true"),
    ("cookie_expires", "false"),
    ("cookie_expires", "0"),
    ("cookie_expires", "1"),
    ("cookie_expires", "86400"),
    ("cookie_expires", "soon"),
    ("key", "app.sid"),
    ("key", ""),
    ("cookie_domain", ".example.com"),
    ("cookie_domain", "  "),
    ("secret", "s3cret"),
]


def _expected(name: str, beaker_value: t.Any) -> tuple[str, t.Any]:
    """Our option and value for a value Beaker coerced."""
    if name == "cookie_expires":
        if beaker_value is True:
            return "cookie_max_age", None
        if beaker_value is False:
            return "cookie_max_age", NEVER_EXPIRES_MAX_AGE
        return "cookie_max_age", int(beaker_value.total_seconds())
    target = {
        "secure": "cookie_secure",
        "httponly": "cookie_httponly",
        "timeout": "idle_timeout",
        "key": "cookie_name",
        "secret": "secret_key",
    }.get(name, name)
    return target, beaker_value


@pytest.mark.parametrize(("name", "raw"), _CASES)
def test_strings_are_coerced_as_beakers_coerce_session_params(
    name: str, raw: str
) -> None:
    """Each string Beaker accepts means the same here; each it refuses is refused."""
    beaker_util = pytest.importorskip("beaker.util")
    try:
        coerced = beaker_util.coerce_session_params({name: raw})[name]
    except Exception:  # Beaker raises bare Exceptions
        with pytest.raises(ConfigError):
            translate_beaker_config({f"session.{name}": raw})
        return
    result = translate_beaker_config({f"session.{name}": raw})
    if name == "auto":
        assert result.auto is coerced
        return
    target, value = _expected(name, coerced)
    assert result.options[target] == value
