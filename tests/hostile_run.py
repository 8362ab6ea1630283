"""The dedicated hostile-input run (issue 5, item 3): at least 100,000 cases.

Usage, from the repository root::

    python tests/hostile_run.py            # >= 100,000 generated cases
    python tests/hostile_run.py --total 20000

It sets ``WSGI_SESSION_HYPOTHESIS_EXAMPLES`` so that the properties of
``tests/test_hostile_input.py`` together run at least ``--total`` cases, runs
pytest on that file, and prints the cases per property, the total, the
server errors and the adopted foreign ids (both must be 0). The exit status
is 0 only when pytest passed, the total was reached and both figures are 0.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEST_FILE = "tests/test_hostile_input.py"
#: Properties with a large input space (one more, on plain same-origin URLs,
#: has only a handful of distinct inputs and stops early).
BIG_PROPERTIES = 7


def run(total: int) -> int:
    """Run the properties with a budget reaching ``total``; print the figures."""
    per_property = math.ceil(total * 1.02 / BIG_PROPERTIES)
    with tempfile.TemporaryDirectory() as tmp:
        report_path = Path(tmp) / "hostile.json"
        env = dict(
            os.environ,
            WSGI_SESSION_HYPOTHESIS_EXAMPLES=str(per_property),
            WSGI_SESSION_HOSTILE_REPORT=str(report_path),
        )
        command = [sys.executable, "-m", "pytest", TEST_FILE, "-p", "no:cacheprovider"]
        command += ["-q", "--no-header"]
        print(f"$ WSGI_SESSION_HYPOTHESIS_EXAMPLES={per_property} {' '.join(command)}")
        started = time.monotonic()
        status = subprocess.call(command, cwd=ROOT, env=env)
        duration = time.monotonic() - started
        if not report_path.exists():
            print("no figures were written: the test module did not finish")
            return 1
        figures = json.loads(report_path.read_text(encoding="utf-8"))
    cases: dict[str, int] = figures["cases"]
    done = sum(cases.values())
    print()
    print(f"{'property':<22} {'cases':>9}")
    for name, count in sorted(cases.items(), key=lambda item: -item[1]):
        print(f"{name:<22} {count:>9,}")
    print(f"{'total':<22} {done:>9,}")
    print()
    print(f"examples per property    {per_property:,}")
    print(f"server errors (5xx)      {figures['server_errors']}")
    print(f"tracebacks to client     {figures['tracebacks']}")
    print(f"adopted foreign ids      {figures['foreign_adoptions']}")
    print(f"upload files left open   {figures['unclosed_files']}")
    print(f"issued ids resumed       {figures.get('resumed', 0):,}")
    print(f"presented ids rejected   {figures.get('rejected', 0):,}")
    print(f"sessions created         {figures.get('created', 0):,}")
    print(f"HTML pages with the id   {figures.get('html_rewritten', 0):,}")
    print(f"pytest exit status       {status}")
    print(f"duration                 {duration:,.0f} s")
    ok = (
        status == 0
        and done >= total
        and figures["server_errors"] == 0
        and figures["tracebacks"] == 0
        and figures["foreign_adoptions"] == 0
    )
    print("RESULT", "OK" if ok else "FAILED")
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--total",
        type=int,
        default=100_000,
        help="generated cases to run across all properties (default 100,000)",
    )
    return run(parser.parse_args(argv).total)


if __name__ == "__main__":
    sys.exit(main())
