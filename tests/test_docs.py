"""The documentation under docs/: complete, in step with the code, and building.

configuration.rst documents every setting with a ``.. setting:: name``
directive (docs/settings_reference.py, a local Sphinx extension), which opens
the entry with ``:Type:``, ``:Default:`` and ``:In ini files:`` fields
generated from :data:`wsgi_session.config.SETTINGS`; these tests hold the
entries, as Sphinx sees them, to that table and to
:data:`wsgi_session.config.DEFAULTS`. Other pages link to settings with
``:setting:`name```. Every ``>>>`` example in the pages runs here, and
the Sphinx build runs with warnings as errors.
"""

from __future__ import annotations

import ast
import doctest
import importlib.util
import re
import subprocess
import sys
import typing as t
from pathlib import Path

import pytest

from wsgi_session.config import DEFAULTS, SETTINGS

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
CONFIGURATION = DOCS / "configuration.rst"
PAGES = sorted(DOCS.glob("*.rst"))

SETTING_RE = re.compile(r"^\.\. setting:: *(\S+) *$", re.MULTILINE)
SETTING_ROLE_RE = re.compile(r":setting:`(?:[^`<]*<)?([^`>]+)>?`")
TEST_NAME_RE = re.compile(r"``(test_[A-Za-z0-9_]+)``")
DOCTEST_FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def _load_extension() -> t.Any:
    """docs/settings_reference.py, loaded from its file (docs/ is no package)."""
    spec = importlib.util.spec_from_file_location(
        "settings_reference", DOCS / "settings_reference.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


EXTENSION = _load_extension()


def setting_names() -> list[str]:
    """The ``.. setting::`` names of configuration.rst, in page order."""
    return SETTING_RE.findall(CONFIGURATION.read_text(encoding="utf-8"))


def setting_blocks() -> dict[str, str]:
    """Each ``.. setting::`` entry of configuration.rst as Sphinx reads it.

    That is the fields the directive generates from the table, then the text
    written under the directive.
    """
    by_name = {setting.name: setting for setting in SETTINGS}
    text = CONFIGURATION.read_text(encoding="utf-8")
    matches = list(SETTING_RE.finditer(text))
    blocks: dict[str, str] = {}
    for match, following in zip(matches, [*matches[1:], None]):
        end = following.start() if following else len(text)
        name = match[1]
        assert name not in blocks, f"setting {name!r} is documented twice"
        generated = ""
        if name in by_name:
            lines = EXTENSION.field_lines(by_name[name])
            generated = "\n" + "".join(f"   {line}\n" for line in lines)
        blocks[name] = generated + text[match.end() : end]
    return blocks


def field(block: str, name: str) -> str | None:
    """The text of the ``:name:`` field of a setting block, or None."""
    match = re.search(rf"^ +:{re.escape(name)}: *(.+)$", block, re.MULTILINE)
    return match[1] if match else None


def test_every_setting_is_documented_in_configuration() -> None:
    """Each key of DEFAULTS has a ``.. setting::`` entry in configuration.rst."""
    missing = sorted(set(DEFAULTS) - set(setting_blocks()))
    assert not missing, f"settings missing from docs/configuration.rst: {missing}"


def test_configuration_documents_no_unknown_setting() -> None:
    """Every ``.. setting::`` entry names a key of DEFAULTS."""
    unknown = sorted(set(setting_blocks()) - set(DEFAULTS))
    assert not unknown, f"docs/configuration.rst documents unknown settings: {unknown}"


def test_every_setting_entry_gives_type_default_and_ini_form() -> None:
    """Each setting entry has ``:Type:``, ``:Default:`` and ``:In ini files:``."""
    incomplete = {
        name: [f for f in ("Type", "Default", "In ini files") if not field(block, f)]
        for name, block in setting_blocks().items()
    }
    assert not {k: v for k, v in incomplete.items() if v}


def test_documented_defaults_are_the_real_defaults() -> None:
    """The first literal of each ``:Default:`` field is repr(DEFAULTS[name])."""
    wrong = {}
    for name, block in setting_blocks().items():
        text = field(block, "Default") or ""
        literal = re.match(r"``(.+?)``", text)
        shown = literal[1] if literal else text
        if name in DEFAULTS and shown != repr(DEFAULTS[name]):
            wrong[name] = (shown, repr(DEFAULTS[name]))
    assert not wrong, f"documented default != DEFAULTS (doc, code): {wrong}"


def test_configuration_lists_exactly_the_settings_of_the_table() -> None:
    """The page has one ``.. setting::`` entry per entry of SETTINGS, no other."""
    names = setting_names()
    assert len(names) == len(set(names)), "a setting is documented twice"
    assert sorted(names) == sorted(s.name for s in SETTINGS)


def test_configuration_does_not_repeat_the_generated_fields() -> None:
    """Type, default and ini form are written only in the table, not on the page."""
    text = CONFIGURATION.read_text(encoding="utf-8")
    repeated = re.findall(r"^ +:(Type|Default|In ini files):", text, re.MULTILINE)
    assert not repeated, f"configuration.rst repeats generated fields: {repeated}"
    assert ".. settings-table::" in text


def test_overview_table_has_one_row_per_setting() -> None:
    """The generated overview table links every setting of SETTINGS, in order."""
    rows = SETTING_ROLE_RE.findall("\n".join(EXTENSION.table_lines()))
    assert rows == [s.name for s in SETTINGS]


def test_setting_links_name_real_settings() -> None:
    """Every ``:setting:`` link on any page names a key of DEFAULTS."""
    unknown = {
        (page.name, name)
        for page in PAGES
        for name in SETTING_ROLE_RE.findall(page.read_text(encoding="utf-8"))
        if name not in DEFAULTS
    }
    assert not unknown, f"links to unknown settings: {sorted(unknown)}"


def existing_test_names() -> set[str]:
    """The names of every test function under tests/."""
    names = set()
    for path in (ROOT / "tests").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names.update(
            node.name
            for node in ast.walk(tree)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and node.name.startswith("test_")
        )
    return names


def test_security_page_cites_only_existing_tests() -> None:
    """Every test the security page names as proof exists under tests/."""
    cited = set(TEST_NAME_RE.findall((DOCS / "security.rst").read_text("utf-8")))
    assert cited, "security.rst cites no tests"
    invented = sorted(cited - existing_test_names())
    assert not invented, f"security.rst cites tests that do not exist: {invented}"


@pytest.mark.parametrize(
    "page",
    [p for p in PAGES if ">>>" in p.read_text(encoding="utf-8")],
    ids=lambda p: p.name,
)
def test_examples_in_the_page_run(page: Path) -> None:
    """The ``>>>`` examples of the page give the output it shows."""
    text = page.read_text(encoding="utf-8")
    parser = doctest.DocTestParser()
    test = parser.get_doctest(text, {"__name__": page.stem}, page.name, str(page), 0)
    runner = doctest.DocTestRunner(optionflags=DOCTEST_FLAGS)
    report: list[str] = []
    try:
        runner.run(test, out=report.append)
    finally:
        test.globs.clear()
    assert runner.failures == 0, "".join(report)


@pytest.mark.slow
def test_sphinx_build_has_no_warnings(tmp_path: Path) -> None:
    """``sphinx -W --keep-going -b html docs`` succeeds: no warning at all."""
    command = [
        sys.executable,
        "-m",
        "sphinx",
        "-W",
        "--keep-going",
        "-q",
        "-b",
        "html",
        "-d",
        str(tmp_path / "doctrees"),
        str(DOCS),
        str(tmp_path / "html"),
    ]
    done = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "html" / "configuration.html").exists()
