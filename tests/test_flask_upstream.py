"""Flask's own session and flashing tests pass with ``flask.session`` being ours.

The tests are not in this repository: :mod:`upstream` downloads the source
release of the installed Flask and runs them there, unchanged, with
:mod:`upstream_flask_plugin` wrapping each app of Flask's ``app`` fixture in
``WSGISession(app, replace_flask_session=True, store="memory://")``. Without
network access the test is skipped, or fails when ``CI`` is set.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from upstream import SourceUnavailable, UpstreamResult, run_upstream

pytest.importorskip("flask")

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

#: Flask's test files that use the session or flash messages; ``SELECT``
#: picks their session and flashing tests by name (new ones join by name).
TEST_PATHS = [
    "tests/test_basic.py",
    "tests/test_testing.py",
    "tests/test_signals.py",
    "tests/test_helpers.py",
    "tests/test_templating.py",
]
SELECT = "session or flash or test_standard_context or test_async_view"

#: The selected Flask tests left out, each with why it cannot hold here.
DESELECT = {
    "tests/test_testing.py::test_session_transactions_no_null_sessions": (
        "checks that Flask's SecureCookieSessionInterface opens a null session "
        "for an app built without a secret key outside the app fixture; such an "
        "app never gets our session (WSGISession requires a key; the secret-key "
        "check of ours is test_basic.py::test_missing_session)"
    ),
}

#: Selected tests that rightly open no session: the app has no secret key,
#: or the client has cookies disabled so ``session_transaction`` refuses.
OPENS_NO_SESSION = {
    "tests/test_basic.py::test_missing_session",
    "tests/test_testing.py::test_session_transaction_needs_cookies",
}


@pytest.fixture(scope="module")
def flask_result() -> UpstreamResult:
    """Flask's selected tests, run once for this module."""
    try:
        return run_upstream(
            "flask",
            TEST_PATHS,
            plugin=HERE / "upstream_flask_plugin.py",
            extra_args=["-k", SELECT],
            deselect=DESELECT,
            timeout=120,
        )
    except SourceUnavailable as exc:
        if os.environ.get("CI"):
            pytest.fail(f"CI must download Flask's source release: {exc}")
        pytest.skip(f"no Flask source release: {exc}")


@pytest.mark.slow
def test_flask_session_and_flashing_tests_pass(flask_result: UpstreamResult) -> None:
    """Flask's own session and flashing tests all pass against our session."""
    result = flask_result
    print(result.summary())  # the counts and deselections, shown with -rA / -s
    assert result.returncode == 0, result.summary()
    assert result.failed == 0, result.summary()
    assert result.passed >= 20, result.summary()  # 23 with Flask 3.1.3
    assert not result.unmatched, result.summary()
    assert set(result.deselected) == set(DESELECT), result.summary()


@pytest.mark.slow
def test_flask_tests_ran_on_our_session(flask_result: UpstreamResult) -> None:
    """Each upstream test ran with this checkout's session, never Flask's cookie one."""
    report = flask_result.plugin
    assert Path(report["wsgi_session_file"]).is_relative_to(ROOT), report
    ran = set(flask_result.outcomes)
    assert ran and ran <= set(report["apps_wrapped"]), report
    assert report["flask_cookie_sessions"] == {}, report
    without_ours = ran - set(report["wsgi_sessions"])
    assert without_ours <= OPENS_NO_SESSION, report
