"""A pytest plugin that records an upstream run's outcomes into a JSON file.

:mod:`upstream` loads it (``-p upstream_pytest_recorder``) into the pytest
run of another project's test suite; at the end of the session it writes,
to the file named by ``$WSGI_SESSION_UPSTREAM_REPORT``, each test's outcome
(``passed``, ``failed``, ``error``, ``skipped``, ``xfailed``, ``xpassed``)
by node id, the crash message of each failure, the deselected node ids and
the report of any other loaded plugin module that defines
``upstream_report() -> dict``. Importing it does nothing.

>>> outcome_of("call", "passed", False)
'passed'
>>> outcome_of("setup", "failed", False)
'error'
"""

from __future__ import annotations

import json
import os
import typing as t
from pathlib import Path

import pytest

#: The environment variable naming the JSON file to write.
REPORT_ENV = "WSGI_SESSION_UPSTREAM_REPORT"


def outcome_of(when: str, outcome: str, wasxfail: bool) -> str | None:
    """The test's outcome told by one phase report, or None if it tells nothing.

    >>> outcome_of("teardown", "passed", False) is None
    True
    """
    if outcome == "skipped":
        return "xfailed" if wasxfail else "skipped"
    if outcome == "failed":
        return "failed" if when == "call" else "error"
    if when == "call":
        return "xpassed" if wasxfail else "passed"
    return None


class Recorder:
    """Collects outcomes during the run and writes them at its end.

    >>> Recorder(Path("unused.json")).outcomes
    {}
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.outcomes: dict[str, str] = {}
        self.messages: dict[str, str] = {}
        self.deselected: list[str] = []
        self.config: pytest.Config | None = None

    def pytest_configure(self, config: pytest.Config) -> None:
        """Remember the config, whose plugins are asked for reports at the end."""
        self.config = config

    def pytest_deselected(self, items: t.Sequence[pytest.Item]) -> None:
        """Record tests left out by ``--deselect`` or ``-k``."""
        self.deselected.extend(item.nodeid for item in items)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Record the outcome (the first failure wins) and a failure's message."""
        outcome = outcome_of(report.when, report.outcome, hasattr(report, "wasxfail"))
        if outcome is None or self.outcomes.get(report.nodeid) in ("failed", "error"):
            return
        self.outcomes[report.nodeid] = outcome
        if report.failed:
            crash = getattr(report.longrepr, "reprcrash", None)
            message = getattr(crash, "message", None) or report.longreprtext
            self.messages[report.nodeid] = f"{report.when}: {message}"[-2000:]

    def plugin_reports(self) -> dict[str, t.Any]:
        """What the loaded plugins' ``upstream_report()`` functions return."""
        found: dict[str, t.Any] = {}
        if self.config is not None:
            for plugin in self.config.pluginmanager.get_plugins():
                report = getattr(plugin, "upstream_report", None)
                if callable(report) and not isinstance(plugin, Recorder):
                    found.update(report())
        return found

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """Write everything recorded to the report file."""
        document = {
            "outcomes": self.outcomes,
            "messages": self.messages,
            "deselected": self.deselected,
            "plugin": self.plugin_reports(),
        }
        self.path.write_text(json.dumps(document, indent=1), encoding="utf-8")


def pytest_configure(config: pytest.Config) -> None:
    """Register a :class:`Recorder` when the runner asked for a report."""
    path = os.environ.get(REPORT_ENV)
    if path:
        config.pluginmanager.register(Recorder(Path(path)), "upstream-recorder")
