"""Smoke version of the load test (tests/load/run.py): gunicorn, real Redis, a restart.

The full run is ``python tests/load/run.py --store all --faults``. This one
starts its own redis-server because it needs the append-only file on (the
shared ``redis_server`` fixture runs without persistence, so a restart would
empty it); like the fixture, it skips when the binary is missing, or fails
when the ``CI`` environment variable is set.
"""

from __future__ import annotations

import os
import shutil

import pytest

from tests.load.run import run_scenario

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def redis_restart_report():
    """One 3-second run: 10 clients, gunicorn 2x4, Redis SIGKILLed at 1 s for 0.5 s."""
    for binary in ("redis-server",):
        if shutil.which(binary) is None:
            if os.environ.get("CI"):
                pytest.fail(f"CI needs {binary}")
            pytest.skip(f"{binary} is not installed")
    return run_scenario(
        "redis",
        duration=3,
        clients=10,
        faults=True,
        plan=[(1.0, "store-kill", {"down": 0.5})],
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
    """Every confirmed write is read back after recovery: 0 lost updates, no id re-issued."""
    figures = redis_restart_report.figures
    assert figures["writes_confirmed"] > 0
    assert figures["keys_checked"] > 0
    assert figures["lost_updates"] == 0
    assert figures["late_writes"] == 0
    assert figures["reissued"] == 0
    assert figures["lost_sessions"] == 0
