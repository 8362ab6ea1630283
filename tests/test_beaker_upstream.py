"""Beaker's own session tests pass with its SessionMiddleware replaced by ours.

The tests are not in this repository: :mod:`upstream` downloads Beaker's
source release and runs them there, unchanged, with
:mod:`upstream_beaker_plugin` putting :class:`wsgi_session.beaker.SessionMiddleware`
in the place of ``beaker.middleware.SessionMiddleware`` and pointing the
Redis tests at our test Redis.

The installed Beaker is 1.14.1, whose sdist on PyPI ships no tests (nor do
1.8 to 1.11); 1.12.1 and 1.13.0 do. :data:`TESTS_RELEASE` is the newest
release with tests: its test files are run (against the installed Beaker,
whose middleware is replaced anyway). Without network access the test is
skipped, or fails when ``CI`` is set.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import upstream
from servers import RedisServer
from upstream import SourceUnavailable, UpstreamResult, run_upstream
from upstream_beaker_plugin import REDIS_ENV

pytest.importorskip("beaker")

HERE = Path(__file__).resolve().parent

#: The newest Beaker source release on PyPI that ships its tests.
TESTS_RELEASE = "1.13.0"

#: Beaker's middleware and session-store tests (memory, file, Redis).
TEST_PATHS = [
    "tests/test_increment.py",
    "tests/test_domain_setting.py",
    "tests/test_cookie_domain_only.py",
    "tests/test_managers/test_ext_redis.py",
]
#: In the store tests, only the session tests (the rest test Beaker's cache).
SELECT = "not test_managers or test_session"

#: The selected tests left out, each with why it cannot hold here.
DESELECT = {
    "tests/test_increment.py::test_revert": (
        "expects the first request's session to be stored while empty, so that "
        "its cookie goes out before any data: a new session that stays empty is "
        "never written and sets no cookie (SPEC §2); revert() itself is checked "
        "by test_beaker_middleware.py::test_revert_drops_the_changes_of_the_request"
    ),
    "tests/test_cookie_domain_only.py::test_increment": (
        "a client-side cookie session (session.type = cookie, validate_key), "
        "which the drop-in refuses with a ConfigError (SPEC §12.3)"
    ),
    "tests/test_managers/test_ext_redis.py::TestRedis::test_session_timeout": (
        "reads Beaker internals: the middleware's private _get_session() and "
        "the session's namespace object (its Redis TTL); our TTLs are checked "
        "by the store contract suite"
    ),
}


@pytest.fixture(scope="module")
def beaker_result(redis_server: RedisServer) -> UpstreamResult:
    """Beaker's selected tests, run once for this module."""
    redis_server.ensure_up()
    redis_server.flush()
    patch = pytest.MonkeyPatch()
    # run_upstream takes the installed version's release, which has no tests.
    patch.setattr(upstream, "installed_version", lambda dist: TESTS_RELEASE)
    patch.setenv(REDIS_ENV, redis_server.url)
    try:
        return run_upstream(
            "beaker",
            TEST_PATHS,
            plugin=HERE / "upstream_beaker_plugin.py",
            extra_args=["-k", SELECT],
            deselect=DESELECT,
            timeout=120,
        )
    except SourceUnavailable as exc:
        if os.environ.get("CI"):
            pytest.fail(f"CI must download Beaker's source release: {exc}")
        pytest.skip(f"no Beaker source release: {exc}")
    finally:
        patch.undo()


@pytest.mark.slow
def test_beaker_session_tests_pass(beaker_result: UpstreamResult) -> None:
    """Beaker's own middleware and session-store tests pass against our middleware."""
    result = beaker_result
    print(result.summary())
    assert result.returncode == 0, result.summary()
    assert result.failed == 0, result.summary()
    assert result.passed >= 12, result.summary()
    assert not result.unmatched, result.summary()
    assert set(result.deselected) == set(DESELECT), result.summary()


@pytest.mark.slow
def test_every_selected_test_ran_on_our_middleware(
    beaker_result: UpstreamResult,
) -> None:
    """Each passing Beaker test built our middleware and sent it requests."""
    plugin = beaker_result.plugin
    ours = Path(plugin["wsgi_session_file"]).resolve()
    assert ours.parent.parent == HERE.parent
    passed = [name for name, o in beaker_result.outcomes.items() if o == "passed"]
    assert passed
    for name in passed:
        assert plugin["middlewares"].get(name, 0) >= 1, name
        assert plugin["requests"].get(name, 0) >= 1, name
