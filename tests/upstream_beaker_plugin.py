"""A pytest plugin for Beaker's own test suite: its SessionMiddleware is ours.

Loaded by :mod:`upstream` into the pytest run of Beaker's unpacked source
release, it patches in memory, at run time, and only there:

* ``beaker.middleware.SessionMiddleware`` becomes a subclass of
  :class:`wsgi_session.beaker.SessionMiddleware` that counts, by test, the
  middlewares built and the requests they served (so the report shows the
  tests ran on ours); Beaker's tests import the name when they are
  collected, after this plugin is configured;
* the Redis URL of Beaker's store tests (``redis://localhost:6379/13`` in
  their ``CACHE_ARGS``) is pointed at the test Redis named by
  ``$WSGI_SESSION_UPSTREAM_REDIS``, when it is set.

Importing this module patches nothing.

>>> sorted(upstream_report())
['middlewares', 'requests', 'wsgi_session_file']
"""

from __future__ import annotations

import collections
import os
import typing as t

import beaker.middleware
import pytest

import wsgi_session
from wsgi_session.beaker import SessionMiddleware

#: The environment variable naming the Redis URL Beaker's tests get.
REDIS_ENV = "WSGI_SESSION_UPSTREAM_REDIS"
_BEAKER_REDIS = "redis://localhost:6379/"

_current: list[str] = [""]  # node id of the running test
_built: collections.Counter[str] = collections.Counter()
_served: collections.Counter[str] = collections.Counter()


def upstream_report() -> dict[str, t.Any]:
    """The counts of this run, by test node id, for the runner's report.

    >>> upstream_report()["middlewares"]
    {}
    """
    return {
        "middlewares": dict(_built),
        "requests": dict(_served),
        "wsgi_session_file": wsgi_session.__file__,
    }


class CountingMiddleware(SessionMiddleware):
    """Our drop-in, counting what it does for the running test."""

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        _built[_current[0]] += 1

    def __call__(self, environ: t.Any, start_response: t.Any) -> t.Any:
        _served[_current[0]] += 1
        return super().__call__(environ, start_response)


def pytest_configure(config: pytest.Config) -> None:
    """Replace Beaker's session middleware by ours for the whole run."""
    original = beaker.middleware.SessionMiddleware
    config.add_cleanup(
        lambda: setattr(beaker.middleware, "SessionMiddleware", original)
    )
    beaker.middleware.SessionMiddleware = CountingMiddleware  # type: ignore[misc]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Point the Redis tests' CACHE_ARGS at the test Redis."""
    url = os.environ.get(REDIS_ENV)
    if not url:
        return
    for item in items:
        cls = getattr(item, "cls", None)
        args = getattr(cls, "CACHE_ARGS", None)
        if isinstance(args, dict) and str(args.get("url", "")).startswith(
            _BEAKER_REDIS
        ):
            cls.CACHE_ARGS = {**args, "url": url}  # type: ignore[union-attr]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> t.Generator[None, object, object]:
    """Remember which test is running, for the counts."""
    _current[0] = item.nodeid
    try:
        return (yield)
    finally:
        _current[0] = ""


def pytest_report_header() -> str:
    """Say in the run's header that Beaker's middleware is ours."""
    return f"wsgi_session {wsgi_session.__file__}: beaker.middleware.SessionMiddleware"
