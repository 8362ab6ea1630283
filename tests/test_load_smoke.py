"""Smoke version of the load test (tests/load/run.py): gunicorn, real Redis, a restart.

The full run is ``python tests/load/run.py --store all --faults``. This one
starts its own redis-server because it needs the append-only file on (the
shared ``redis_server`` fixture runs without persistence, so a restart would
empty it); like the fixture, it skips when the binary is missing, or fails
when the ``CI`` environment variable is set.
"""

from __future__ import annotations

import importlib.util
import os
import shutil

import pytest

from tests.load.run import run_scenario

pytestmark = pytest.mark.slow


def _require(found: bool, what: str) -> None:
    if not found:
        if os.environ.get("CI"):
            pytest.fail(f"CI needs {what}")
        pytest.skip(f"{what} is not installed")


@pytest.fixture(scope="module")
def redis_restart_report():
    """One 3-second run: 10 clients, gunicorn 2x4, Redis SIGKILLed at 1 s for 0.5 s.

    No lock-mode clients: a session lock caught by the restart is left to
    expire (up to the 10 s lock timeout), which would stretch the run.
    """
    _require(shutil.which("redis-server") is not None, "redis-server")
    _require(importlib.util.find_spec("gunicorn") is not None, "gunicorn")
    return run_scenario(
        "redis",
        duration=3,
        clients=10,
        faults=True,
        plan=[(1.0, "store-kill", {"down": 0.5})],
        lock_clients=0,
    )


def test_load_smoke_passes_every_assertion(redis_restart_report):
    """The short run with one Redis restart fails none of the load-test assertions."""
    assert redis_restart_report.failures == []


def test_load_smoke_answers_only_503_during_the_outage(redis_restart_report):
    """During the restart requests got 503 (and 200), never a 500 or a reset."""
    (row,) = redis_restart_report.fault_rows
    assert row["answers"].get("503", 0) > 0  # the outage was really hit
    assert set(row["answers"]) <= {"200", "503"}
    status = redis_restart_report.figures["status"]
    assert set(status) <= {"200", "503"}


def test_load_smoke_loses_no_update(redis_restart_report):
    """Every confirmed write is read back after the restart; no id is re-issued."""
    figures = redis_restart_report.figures
    assert figures["writes_confirmed"] > 0
    assert figures["keys_checked"] > 0
    assert figures["lost_updates"] == 0
    assert figures["late_writes"] == 0
    assert figures["reissued"] == 0
    assert figures["lost_sessions"] == 0
