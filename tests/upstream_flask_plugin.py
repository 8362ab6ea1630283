"""A pytest plugin for Flask's own test suite: its apps get our session.

Loaded by :mod:`upstream` into the pytest run of Flask's unpacked source
release, it patches in memory, at run time, and only there: every app that
Flask's ``app`` fixture builds (``tests/conftest.py``: ``TESTING``, a
``SECRET_KEY``) is wrapped by
``WSGISession(app, replace_flask_session=True, **OPTIONS)`` before the test
sees it, so in Flask's tests ``flask.session`` is the wsgi_session session.
The secret key is left to Flask's configuration, so the tests that change
``SECRET_KEY`` or its fallbacks exercise ours.

To show the tests did run on our session, it counts per test the sessions
our interface opened and any opened by Flask's own
``SecureCookieSessionInterface``; :func:`upstream_report` hands the counts
to the recorder. Importing this module patches nothing.

>>> sorted(upstream_report())
['apps_wrapped', 'flask_cookie_sessions', 'wsgi_session_file', 'wsgi_sessions']
"""

from __future__ import annotations

import collections
import functools
import typing as t

import flask
import pytest
from flask.sessions import SecureCookieSessionInterface

import wsgi_session
from wsgi_session.flask import FlaskSession, WSGISession

#: The WSGISession options every wrapped app gets (besides replace mode).
OPTIONS: dict[str, t.Any] = {"store": "memory://"}

_current: list[str] = [""]  # node id of the running test
_ours: collections.Counter[str] = collections.Counter()
_flask_own: collections.Counter[str] = collections.Counter()
_wrapped: list[str] = []


def upstream_report() -> dict[str, t.Any]:
    """The counts of this run, by test node id, for the runner's report.

    >>> upstream_report()["wsgi_sessions"], upstream_report()["apps_wrapped"]
    ({}, [])
    """
    return {
        "apps_wrapped": sorted(set(_wrapped)),
        "wsgi_sessions": dict(_ours),
        "flask_cookie_sessions": dict(_flask_own),
        "wsgi_session_file": wsgi_session.__file__,
    }


def _counting(
    open_session: t.Callable[..., t.Any], counter: t.Any, kind: type = object
) -> t.Any:
    """``open_session`` that also counts, by test, the ``kind`` sessions it opens."""

    @functools.wraps(open_session)
    def counted(*args: t.Any) -> t.Any:
        session = open_session(*args)
        if session is not None and isinstance(session, kind):
            counter[_current[0]] += 1
        return session

    return counted


def pytest_configure(config: pytest.Config) -> None:
    """Count the sessions Flask's own cookie interface opens (none expected)."""
    _pytest_compat()
    cls = SecureCookieSessionInterface
    original = cls.open_session
    config.add_cleanup(functools.partial(setattr, cls, "open_session", original))
    cls.open_session = _counting(cls.open_session, _flask_own)  # type: ignore[method-assign]


def _pytest_compat() -> None:
    """Let Flask's test suite run on the pytest installed here.

    Flask 3.1's ``tests/conftest.py`` uses ``_pytest.monkeypatch.notset``,
    which pytest 9.2 renamed ``NOTSET``; the old name is given back, in this
    run of Flask's tests only (the plugin is loaded there alone).
    """
    from _pytest import monkeypatch

    if not hasattr(monkeypatch, "notset") and hasattr(monkeypatch, "NOTSET"):
        monkeypatch.notset = monkeypatch.NOTSET  # type: ignore[attr-defined]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> t.Generator[None, object, object]:
    """Remember which test is running, for the counts."""
    _current[0] = item.nodeid
    try:
        return (yield)
    finally:
        _current[0] = ""


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(
    fixturedef: pytest.FixtureDef[t.Any], request: pytest.FixtureRequest
) -> t.Generator[None, object, object]:
    """Wrap the app of Flask's ``app`` fixture in WSGISession (replace mode)."""
    app = yield
    if fixturedef.argname == "app" and isinstance(app, flask.Flask):
        WSGISession(app, replace_flask_session=True, **OPTIONS)
        interface = app.session_interface
        # Delegates unchanged; only counts that our interface opened a session.
        interface.open_session = _counting(interface.open_session, _ours, FlaskSession)  # type: ignore[method-assign]
        _wrapped.append(request.node.nodeid)
    return app


def pytest_report_header() -> str:
    """Say in the run's header that the apps get the wsgi_session session."""
    return f"wsgi_session {wsgi_session.__file__}: WSGISession(replace) on app fixtures"
