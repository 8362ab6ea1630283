"""Run another project's own tests, from its source release, against our code.

:func:`run_upstream` takes an installed distribution (``flask`` here; the
Django and Beaker drop-ins reuse it), downloads the source release of the
installed version once (:mod:`upstream_sources`; cached outside the
repository), unpacks it into a temporary directory and runs the chosen test
files there, unchanged, in a child process with the project's own rootdir,
configuration and conftest (not ours). Nothing of the other project is
copied into this repository: what we add is a *plugin* module of ours,
loaded into the child, that patches the framework in memory at run time
(for Flask: :mod:`upstream_flask_plugin` wraps every ``app`` fixture in
``WSGISession(replace_flask_session=True)``). The plugin file is copied
into a scratch directory on the child's ``PYTHONPATH`` (with the checkout of
``wsgi_session`` the parent imported), so it must import only installed
packages and ``wsgi_session``.

The child runs pytest by default (:class:`PytestRunner`, outcomes recorded
by :mod:`upstream_pytest_recorder`); a project with a unittest script of its
own (Django's ``tests/runtests.py``) uses :class:`UnittestRunner`, which reads
the ``-v 2`` listing. ``deselect`` maps node ids to the reason each is left
out; :class:`UpstreamResult` has the counts, the failing tests with their
messages, and the plugin's report. Example (not run here: it downloads)::

    result = run_upstream(
        "flask",
        ["tests/test_basic.py"],
        plugin=Path(__file__).with_name("upstream_flask_plugin.py"),
        extra_args=["-k", "session or flash"],
        deselect={"tests/test_basic.py::test_x": "why it cannot hold"},
    )
    assert result.returncode == 0 and result.passed > 0, result.summary()

Django's own session tests run with its unittest script; the plugin module
is importable by name in the child, so it can be the settings module
(checked: 651 tests of ``sessions_tests`` run and are counted)::

    run_upstream(
        "django",
        ["sessions_tests"],
        plugin=Path(__file__).with_name("upstream_django_plugin.py"),
        runner=UnittestRunner("tests/runtests.py"),
        extra_args=["--parallel=1", "-v", "2", "--settings=upstream_django_plugin"],
    )

A test path missing from the release is a :class:`FileNotFoundError`
(Beaker 1.14.1's sdist ships no tests). :class:`SourceUnavailable` is raised
when the release cannot be downloaded; the cache is
``$WSGI_SESSION_UPSTREAM_CACHE`` or ``~/.cache/wsgi_session/upstream``.

>>> UpstreamResult("x", "1", 0, {"a": "passed", "b": "skipped"}).counts()
{'passed': 1, 'skipped': 1}
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import typing as t
from collections import Counter
from collections.abc import Mapping, Sequence
from importlib.util import find_spec
from pathlib import Path

from upstream_pytest_recorder import REPORT_ENV
from upstream_sources import SourceUnavailable, fetch, installed_version, unpack

import wsgi_session

__all__ = [
    "PytestRunner",
    "SourceUnavailable",
    "UnittestRunner",
    "UpstreamResult",
    "run_upstream",
]

RECORDER = Path(__file__).with_name("upstream_pytest_recorder.py")
#: Settings of the parent's environment that must not leak into the child run.
_PARENT_ONLY = ("PYTEST_ADDOPTS", "PYTEST_PLUGINS", "PYTEST_DISABLE_PLUGIN_AUTOLOAD")


@dataclasses.dataclass(frozen=True)
class Job:
    """One child run: where the source is and what to run, for a runner."""

    source: Path
    test_paths: Sequence[str]
    plugin: str | None  # importable module name of our plugin, or None
    extra_args: Sequence[str]
    deselect: Mapping[str, str]
    report: Path  # JSON file the child may write its outcomes to


@dataclasses.dataclass(frozen=True)
class Recorded:
    """What a runner read back: outcomes by test, failure messages, etc."""

    outcomes: dict[str, str]
    messages: dict[str, str] = dataclasses.field(default_factory=dict)
    deselected: tuple[str, ...] = ()
    plugin: dict[str, t.Any] = dataclasses.field(default_factory=dict)


class Runner(t.Protocol):
    """How to start a project's tests and read back what happened."""

    #: Variables added to the child's environment.
    env: Mapping[str, str]

    def command(self, job: Job) -> list[str]:
        """The child's argv, run with the source release as working directory."""

    def recorded(self, job: Job, output: str) -> Recorded:
        """The outcomes of the finished run (``output``: stdout + stderr)."""


class PytestRunner:
    """Runs the test paths with pytest, our plugin and the recorder loaded.

    Plugins installed here (hypothesis, pytest-benchmark...) are not
    auto-loaded into the child unless ``autoload=True``: the project's tests
    run with their own configuration only, and start twice as fast.

    >>> job = Job(Path(__file__).parent, ["."], "plugin", [], {"t::a": "why"}, Path())
    >>> PytestRunner().command(job)[3:]
    ['-p', 'upstream_pytest_recorder', '-p', 'plugin', '-p', 'no:cacheprovider', \
'-rfE', '--deselect', 't::a', '.']
    """

    def __init__(self, autoload: bool = False) -> None:
        self.env = {} if autoload else {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}

    def command(self, job: Job) -> list[str]:
        """``python -m pytest`` with the plugins, deselections and paths.

        Raises :class:`FileNotFoundError` when a test path is not in the
        release (some projects, Beaker among them, ship no tests in theirs).
        """
        for path in job.test_paths:
            if not (job.source / path.partition("::")[0]).exists():
                raise FileNotFoundError(f"{job.source.name} has no {path}")
        plugins = ["upstream_pytest_recorder", *([job.plugin] if job.plugin else [])]
        argv = [sys.executable, "-m", "pytest"]
        for name in plugins:
            argv += ["-p", name]
        argv += ["-p", "no:cacheprovider", "-rfE"]
        for node_id in job.deselect:
            argv += ["--deselect", node_id]
        return [*argv, *job.extra_args, *job.test_paths]

    def recorded(self, job: Job, output: str) -> Recorded:
        """The recorder's report (empty when pytest stopped before writing it)."""
        try:
            found = json.loads(job.report.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return Recorded({})
        return Recorded(
            outcomes=found["outcomes"],
            messages=found["messages"],
            deselected=tuple(found["deselected"]),
            plugin=found["plugin"],
        )


_UNITTEST_LINE = re.compile(
    r"^(?P<name>\w+) \((?P<where>[\w.]+?)(?:\.(?P=name))?\)"
    r"(?:\n(?!\w+ \()[^\n]*?)? \.\.\. (?P<status>ok|FAIL|ERROR|skipped\b.*"
    r"|expected failure|unexpected success)$",
    re.MULTILINE,
)
_UNITTEST_FAILURE = re.compile(
    r"^(?:ERROR|FAIL): (?P<name>\w+) \((?P<where>[\w.]+?)(?:\.(?P=name))?\)[^\n]*\n"
    r"(?:[^\n]*\n)??-{70}\n(?P<trace>.*?)(?=^={70}$|^-{70}$)",
    re.MULTILINE | re.DOTALL,
)
_UNITTEST_STATUS = {
    "ok": "passed",
    "FAIL": "failed",
    "ERROR": "error",
    "expected failure": "xfailed",
    "unexpected success": "xpassed",
}


class UnittestRunner:
    """Runs a project's unittest script (``tests/runtests.py``) and reads ``-v 2``.

    Test names are ``module.Class.test``. The script must be run verbosely
    (``-v 2``) and serially, which ``extra_args`` asks of it; deselection and
    loading the plugin are left to the script's own options.

    >>> out = "test_a (m.C.test_a) ... ok\\ntest_b (m.C.test_b) ... skipped 'no'\\n"
    >>> UnittestRunner("runtests.py").recorded(None, out).outcomes
    {'m.C.test_a': 'passed', 'm.C.test_b': 'skipped'}
    """

    def __init__(self, script: str) -> None:
        self.script = script
        self.env: dict[str, str] = {}

    def command(self, job: Job) -> list[str]:
        """``python <script> <extra args> <test paths>``."""
        if job.deselect:
            raise ValueError("UnittestRunner: deselect through the script's options")
        return [sys.executable, self.script, *job.extra_args, *job.test_paths]

    def recorded(self, job: Job | None, output: str) -> Recorded:
        """The outcomes listed in the verbose output."""
        outcomes = {}
        for match in _UNITTEST_LINE.finditer(output):
            status = match["status"]
            outcome = "skipped" if status.startswith("skipped") else status
            name = f"{match['where']}.{match['name']}"
            outcomes[name] = _UNITTEST_STATUS.get(outcome, outcome)
        messages = {}
        for match in _UNITTEST_FAILURE.finditer(output):
            lines = match["trace"].strip().splitlines() or [""]
            messages[f"{match['where']}.{match['name']}"] = lines[-1][-2000:]
        return Recorded(outcomes, messages)


@dataclasses.dataclass(frozen=True)
class UpstreamResult:
    """The outcome of one :func:`run_upstream` call.

    ``outcomes`` maps each test that ran to ``passed``, ``failed``,
    ``error``, ``skipped``, ``xfailed`` or ``xpassed``; ``deselected`` maps
    the tests of the ``deselect`` table that were left out to their reason,
    and ``unmatched`` lists the table's entries that named no test.

    >>> r = UpstreamResult("x", "1", 1, {"a": "failed"}, messages={"a": "boom"})
    >>> r.failures
    ['a: boom']
    """

    dist: str
    version: str
    returncode: int
    outcomes: Mapping[str, str]
    messages: Mapping[str, str] = dataclasses.field(default_factory=dict)
    deselected: Mapping[str, str] = dataclasses.field(default_factory=dict)
    unmatched: tuple[str, ...] = ()
    plugin: Mapping[str, t.Any] = dataclasses.field(default_factory=dict)
    output: str = ""
    seconds: float = 0.0

    def counts(self) -> dict[str, int]:
        """How many tests had each outcome."""
        return dict(Counter(self.outcomes.values()))

    def _count(self, *outcomes: str) -> int:
        return sum(1 for o in self.outcomes.values() if o in outcomes)

    @property
    def passed(self) -> int:
        """Tests that passed."""
        return self._count("passed")

    @property
    def failed(self) -> int:
        """Tests that failed, errored in setup or teardown, or passed unexpectedly."""
        return self._count("failed", "error", "xpassed")

    @property
    def skipped(self) -> int:
        """Tests skipped (or failing as expected) by the project's own marks."""
        return self._count("skipped", "xfailed")

    @property
    def failures(self) -> list[str]:
        """Each failing test with its message."""
        return [
            f"{name}: {self.messages.get(name, outcome)}"
            for name, outcome in self.outcomes.items()
            if outcome in ("failed", "error", "xpassed")
        ]

    def summary(self) -> str:
        """A report for an assertion message: counts, failures, output tail."""
        lines = [
            f"{self.dist} {self.version}: exit code {self.returncode}, "
            f"{self.counts()}, {len(self.deselected)} deselected, "
            f"{self.seconds:.1f} s",
            *(f"FAILED {line}" for line in self.failures),
            *(f"deselected {name}: {why}" for name, why in self.deselected.items()),
            *(f"deselect names no test: {name}" for name in self.unmatched),
        ]
        if self.returncode and not self.failures:
            lines.append(self.output[-3000:])
        return "\n".join(lines)


def _plugin_file(plugin: str | Path) -> Path:
    """The source file of ``plugin`` (a path, or a module name found here)."""
    if isinstance(plugin, Path):
        return plugin
    spec = find_spec(plugin)
    if spec is None or spec.origin is None:
        raise ValueError(f"plugin {plugin!r}: no such module")
    return Path(spec.origin)


def _child_env(
    paths: Sequence[Path], report: Path, extra: Mapping[str, str]
) -> dict[str, str]:
    """The parent's environment with our paths first and the report file set."""
    env = {k: v for k, v in os.environ.items() if k not in _PARENT_ONLY}
    env.update(extra)
    inherited = [env["PYTHONPATH"]] if env.get("PYTHONPATH") else []
    env["PYTHONPATH"] = os.pathsep.join([*map(str, paths), *inherited])
    env[REPORT_ENV] = str(report)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def run_upstream(
    dist: str,
    test_paths: Sequence[str],
    plugin: str | Path | None = None,
    extra_args: Sequence[str] = (),
    deselect: Mapping[str, str] | None = None,
    *,
    runner: Runner | None = None,
    cache: Path | None = None,
    timeout: float = 300,
) -> UpstreamResult:
    """Run ``test_paths`` of ``dist``'s installed version's source release.

    ``plugin`` is our module loaded into the child (a file path, or a module
    name importable here); ``extra_args`` go to the runner before the paths;
    ``deselect`` maps test ids to the reason each is left out. Raises
    :class:`SourceUnavailable` when the release cannot be downloaded and
    :class:`subprocess.TimeoutExpired` after ``timeout`` seconds.
    """
    runner = PytestRunner() if runner is None else runner
    deselect = dict(deselect or {})
    version = installed_version(dist)
    archive = fetch(dist, version, cache)
    package_root = Path(wsgi_session.__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory(prefix=f"upstream-{dist}-") as scratch:
        work = Path(scratch)
        source = unpack(archive, work / "source")
        plugins = work / "plugins"
        plugins.mkdir()
        shutil.copy(RECORDER, plugins / RECORDER.name)
        name = None
        if plugin is not None:
            origin = _plugin_file(plugin)
            shutil.copy(origin, plugins / origin.name)
            name = origin.stem
        job = Job(source, test_paths, name, extra_args, deselect, work / "report.json")
        started = time.monotonic()
        done = subprocess.run(
            runner.command(job),
            cwd=source,
            env=_child_env([plugins, package_root], job.report, runner.env),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        seconds = time.monotonic() - started
        output = done.stdout + done.stderr
        recorded = runner.recorded(job, output)
    left_out = set(recorded.deselected)
    return UpstreamResult(
        dist=dist,
        version=version,
        returncode=done.returncode,
        outcomes=recorded.outcomes,
        messages=recorded.messages,
        deselected={k: v for k, v in deselect.items() if k in left_out},
        unmatched=tuple(k for k in deselect if k not in left_out),
        plugin=recorded.plugin,
        output=output,
        seconds=seconds,
    )
