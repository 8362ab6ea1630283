"""Settings module for Django's own test suite run against the drop-in.

:mod:`upstream` runs ``tests/runtests.py`` of the installed Django's source
release with ``--settings=upstream_django_plugin``. This module imports the
``test_sqlite`` settings module of that release (``from test_sqlite import
*``) and adds:

* ``SESSION_ENGINE = "wsgi_session.django.engine"`` and ``WSGI_SESSION``
  (the store from ``$WSGI_SESSION_UPSTREAM_STORE``, default ``memory://``;
  ``tracking`` from ``$WSGI_SESSION_UPSTREAM_TRACKING``, default ``cookie``);
* in memory, at run time, ``django.contrib.sessions.middleware.SessionMiddleware``
  is replaced by :class:`wsgi_session.django.SessionMiddleware`, so every
  ``MIDDLEWARE`` that names Django's (``runtests.py``'s own list, the tests'
  ``override_settings``) gets ours;
* :func:`load_tests` (unittest's protocol): the label ``upstream_django_plugin``
  runs Django's ``SessionTestsMixin`` (``tests/sessions_tests/tests.py``)
  against our ``SessionStore``, as Django runs it against each of its backends.

* the tests named in ``$WSGI_SESSION_UPSTREAM_EXCLUDE`` (JSON: test id ->
  reason) are marked skipped with their reason when the runner builds its
  suite (``DiscoverRunner.build_suite``, patched), so each exclusion shows in
  the ``-v 2`` listing as ``skipped '<reason>'``.

Nothing of Django's is copied here: its test modules are loaded from the
unpacked release in the child process. This file is imported only there
(it needs Django's ``tests`` directory on ``sys.path``).
"""

from __future__ import annotations

import functools
import json
import os
import typing as t

try:  # Django's own test settings: only in the child, under tests/runtests.py
    from test_sqlite import *  # noqa: F403
except ImportError:  # imported elsewhere (pytest's doctest collection): no patches
    IN_DJANGO_TESTS = False
else:
    IN_DJANGO_TESTS = True

import wsgi_session

SESSION_ENGINE = "wsgi_session.django.engine"
WSGI_SESSION = {
    "store": os.environ.get("WSGI_SESSION_UPSTREAM_STORE", "memory://"),
    # Django's sessions are cookie-only and its tests assert exact redirects
    # and cookies: no probe cookie, no ids in URLs (ours test URL mode).
    "tracking": os.environ.get("WSGI_SESSION_UPSTREAM_TRACKING", "cookie"),
}
#: Where the code under test comes from (checked by the parent).
WSGI_SESSION_FILE = wsgi_session.__file__
#: The environment variable with the tests to leave out, and why.
EXCLUDE_ENV = "WSGI_SESSION_UPSTREAM_EXCLUDE"


def _skipped(reason: str) -> t.Callable[[], None]:
    def excluded() -> None:  # never called: unittest skips it first
        raise AssertionError(reason)

    excluded.__unittest_skip__ = True  # type: ignore[attr-defined]
    excluded.__unittest_skip_why__ = reason  # type: ignore[attr-defined]
    return excluded


def _excluding(build_suite: t.Callable[..., t.Any]) -> t.Callable[..., t.Any]:
    from django.test.utils import iter_test_cases

    @functools.wraps(build_suite)
    def build(self: t.Any, *args: t.Any, **kwargs: t.Any) -> t.Any:
        suite = build_suite(self, *args, **kwargs)
        reasons = json.loads(os.environ.get(EXCLUDE_ENV) or "{}")
        for test in iter_test_cases(suite):
            reason = reasons.get(test.id())
            if reason is not None:
                setattr(test, test._testMethodName, _skipped(reason))
        return suite

    return build


def _patch() -> None:
    """Django's SessionMiddleware becomes ours; the runner skips exclusions."""
    import django.contrib.sessions.middleware as django_middleware
    from django.test.runner import DiscoverRunner

    from wsgi_session.django import SessionMiddleware

    # Every MIDDLEWARE entry that names Django's middleware now builds ours.
    django_middleware.SessionMiddleware = SessionMiddleware  # type: ignore[misc]
    DiscoverRunner.build_suite = _excluding(DiscoverRunner.build_suite)


if IN_DJANGO_TESTS:
    _patch()


def load_tests(loader: t.Any, tests: t.Any, pattern: t.Any) -> t.Any:
    """Django's ``SessionTestsMixin`` against ``wsgi_session.django.engine``."""
    from django.test import SimpleTestCase
    from sessions_tests.tests import SessionTestsMixin

    from wsgi_session.django.engine import SessionStore

    case = type(
        "WsgiSessionStoreTests",
        (SessionTestsMixin, SimpleTestCase),
        {"backend": SessionStore, "__module__": __name__},
    )
    return loader.loadTestsFromTestCase(case)
