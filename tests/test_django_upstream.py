"""Django's own session, auth, messages and test-client tests pass on the drop-in.

The tests are not in this repository: :mod:`upstream` downloads the source
release of the installed Django and runs its ``tests/runtests.py`` there,
unchanged, with :mod:`upstream_django_plugin` as the settings module: our
``SESSION_ENGINE`` and ``WSGI_SESSION``, Django's ``SessionMiddleware``
replaced in memory by ``wsgi_session.django.SessionMiddleware``, and
Django's ``SessionTestsMixin`` run against our ``SessionStore`` (the label
``upstream_django_plugin``). Django's sessions are cookie-only and its tests
assert exact cookies and redirects, so the run uses ``tracking="cookie"``;
URL mode is tested by ``test_django_dropin.py``. Without network access the
test is skipped, or fails when ``CI`` is set.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from upstream import SourceUnavailable, UnittestRunner, UpstreamResult, run_upstream

django = pytest.importorskip("django")

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PLUGIN = HERE / "upstream_django_plugin.py"

#: SessionBase's async API (``aget``, ``aset``, ...) and the tests of it
#: (``SessionBaseTests``, the ``*_async`` tests of ``SessionTestsMixin``)
#: are new in Django 5.1; setup.cfg supports Django 4.2 on.
ASYNC_SESSIONS = django.VERSION >= (5, 1)

#: Test modules newer than the oldest supported Django: label -> first release.
SINCE = {"auth_tests.test_login": (5, 2)}

#: What runs: the SessionTestsMixin label first, then Django's test modules
#: that use sessions through the middleware, the engine or the test client
#: (those the installed version's source release has).
ALL_LABELS = [
    "upstream_django_plugin",
    "sessions_tests.tests.SessionMiddlewareTests",
    "auth_tests.test_views",
    "auth_tests.test_login",
    "auth_tests.test_middleware",
    "auth_tests.test_remote_user",
    "auth_tests.test_basic",
    "auth_tests.test_auth_backends",
    "auth_tests.test_context_processors",
    "messages_tests",
    "test_client",
    "test_client_regress",
]
LABELS = [name for name in ALL_LABELS if SINCE.get(name, (0,)) <= django.VERSION]

_OTHER_ENGINE = (
    "switches SESSION_ENGINE to Django's {} backend and logs in through it; "
    "request.session is the drop-in's whatever the engine, so it cannot see "
    "a session stored by another engine"
)

#: The tests left out, each with why it cannot hold (reported as skipped).
EXCLUDE = {
    "sessions_tests.tests.SessionMiddlewareTests.test_empty_session_saved": (
        "reads the row of Django's database backend (Session.objects.get) and "
        "expects an emptied session to be stored; the drop-in stores in "
        "WSGI_SESSION's store and deletes an emptied session (SPEC §2)"
    ),
    "test_client.tests.ClientTest.test_sessions_app_is_not_installed": (
        _OTHER_ENGINE.format("file")
    ),
    "test_client.tests.ClientTest.test_view_with_login_when_sessions_app_is_not_installed": (  # noqa: E501
        _OTHER_ENGINE.format("file")
    ),
    "test_client.tests.ClientTest.test_logout_cookie_sessions": (
        _OTHER_ENGINE.format("signed_cookies")
    ),
    "test_client_regress.tests.SessionEngineTests.test_login": (
        _OTHER_ENGINE.format("test_client_regress.session")
    ),
}
if django.VERSION >= (6, 0):  # (the test is new in Django 6.0)
    EXCLUDE[
        "auth_tests.test_middleware.TestLoginRequiredMiddleware"
        ".test_protected_view_logged_in_performance"
    ] = (
        "counts the database queries of a signed-in request: 2, the row of "
        "Django's database session backend and the user; the drop-in's session "
        "is in WSGI_SESSION's store, so the request makes only the user's query"
    )


def run_django(store: str = "memory://") -> UpstreamResult:
    """Django's selected tests on the drop-in with ``store``."""
    runner = UnittestRunner("tests/runtests.py")
    runner.env.update(
        WSGI_SESSION_UPSTREAM_EXCLUDE=json.dumps(EXCLUDE),
        WSGI_SESSION_UPSTREAM_STORE=store,
    )
    try:
        return run_upstream(
            "django",
            LABELS,
            plugin=PLUGIN,
            runner=runner,
            extra_args=["--parallel=1", "-v", "2", "--settings=upstream_django_plugin"],
            timeout=600,
        )
    except SourceUnavailable as exc:
        if os.environ.get("CI"):
            pytest.fail(f"CI must download Django's source release: {exc}")
        pytest.skip(f"no Django source release: {exc}")


@pytest.fixture(scope="module")
def django_result() -> UpstreamResult:
    """Django's selected tests, run once for this module."""
    return run_django()


@pytest.mark.slow
def test_django_session_auth_messages_client_tests_pass(
    django_result: UpstreamResult,
) -> None:
    """Django's own session-using tests all pass on the drop-in."""
    result = django_result
    print(result.summary())  # the counts, shown with -rA / -s
    assert result.returncode == 0, result.summary()
    assert result.failed == 0, result.summary()
    # 775 with Django 5.2.19, 605 with Django 4.2.30 (fewer test modules)
    assert result.passed >= (700 if ASYNC_SESSIONS else 580), result.summary()


@pytest.mark.slow
def test_session_tests_mixin_ran_against_our_store(
    django_result: UpstreamResult,
) -> None:
    """Django's SessionTestsMixin ran, sync and (Django 5.1 on) async, against
    our SessionStore."""
    ours = {
        name: outcome
        for name, outcome in django_result.outcomes.items()
        if name.startswith("upstream_django_plugin.WsgiSessionStoreTests.")
    }
    # 66 with Django 5.2.19, 37 with Django 4.2.30 (no async tests)
    assert len(ours) >= (60 if ASYNC_SESSIONS else 34), django_result.summary()
    assert set(ours.values()) == {"passed"}, ours
    if ASYNC_SESSIONS:
        assert any(name.endswith("_async") for name in ours)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["redis"])  # SQL: test_django_engine.py
def test_session_tests_mixin_passes_on_real_stores(
    kind: str, request: pytest.FixtureRequest
) -> None:
    """Django's SessionTestsMixin and SessionMiddlewareTests pass with our
    engine and middleware on a Redis server too."""
    store = request.getfixturevalue(f"{kind}_url")
    runner = UnittestRunner("tests/runtests.py")
    runner.env.update(
        WSGI_SESSION_UPSTREAM_EXCLUDE=json.dumps(EXCLUDE),
        WSGI_SESSION_UPSTREAM_STORE=store,
    )
    try:
        result = run_upstream(
            "django",
            # (the second label also installs the sessions_tests app, whose
            # models the plugin's import of SessionTestsMixin needs)
            ["upstream_django_plugin", "sessions_tests.tests.SessionMiddlewareTests"],
            plugin=PLUGIN,
            runner=runner,
            extra_args=["--parallel=1", "-v", "2", "--settings=upstream_django_plugin"],
            timeout=300,
        )
    except SourceUnavailable as exc:
        pytest.skip(f"no Django source release: {exc}")
    assert result.returncode == 0 and result.failed == 0, result.summary()
    # 76 with Django 5.2.19, 47 with Django 4.2.30
    assert result.passed >= (70 if ASYNC_SESSIONS else 44), result.summary()


@pytest.mark.slow
def test_exclusions_are_exactly_the_listed_ones(django_result: UpstreamResult) -> None:
    """Every exclusion names a test that exists, and nothing else was skipped
    except by Django's own marks."""
    outcomes = django_result.outcomes
    for name in EXCLUDE:
        assert outcomes.get(name) == "skipped", name
    output = django_result.output
    for reason in set(EXCLUDE.values()):
        assert f"skipped {reason!r}" in output
