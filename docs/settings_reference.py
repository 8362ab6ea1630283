"""Sphinx extension: the settings reference, generated from wsgi_session's table.

The facts about each setting live once, in :data:`wsgi_session.config.SETTINGS`;
the pages only add prose. This extension provides:

* ``.. setting:: name`` — one setting's entry: its ``:Type:``, ``:Default:``
  and ``:In ini files:`` fields come from the table, followed by the prose
  written under the directive. A name that is not in the table is a warning.
* ``.. settings-table::`` — an overview table of every setting, in table order.
* ``:setting:`name``` — a link to an entry; a link to an undocumented setting
  is a warning, and so is a setting of the table that no page documents.

docs/conf.py builds with ``-W``, so each warning fails the build. The rst the
directives generate is also what tests/test_docs.py checks.
"""

from __future__ import annotations

import typing as t

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.domains.std import GenericObject
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

from wsgi_session.config import SETTINGS, Setting

_log = logging.getLogger(__name__)
_BY_NAME = {setting.name: setting for setting in SETTINGS}
_SOURCE = "wsgi_session.config.SETTINGS"


def field_lines(setting: Setting) -> list[str]:
    """The rst field list that opens the entry of ``setting``."""
    default = f"``{setting.default!r}``"
    if setting.default_doc.startswith("("):
        default += " " + setting.default_doc
    elif setting.default_doc:
        default += " — " + setting.default_doc
    return [
        f":Type: {setting.type_doc}",
        f":Default: {default}",
        f":In ini files: {setting.ini_doc}",
    ]


def table_lines() -> list[str]:
    """The rst of the overview table of every setting."""
    lines = [
        ".. list-table::",
        "   :header-rows: 1",
        "   :widths: 22 22 56",
        "",
        "   * - setting",
        "     - default",
        "     - what it decides",
    ]
    for setting in SETTINGS:
        lines += [
            f"   * - :setting:`{setting.name}`",
            f"     - ``{setting.default!r}``",
            f"     - {setting.summary}",
        ]
    return lines


class SettingDirective(GenericObject):
    """``.. setting:: name``: the table's fields for ``name``, then the prose."""

    indextemplate = "pair: %s; setting"

    def run(self) -> list[nodes.Node]:
        name = self.arguments[0].strip()
        setting = _BY_NAME.get(name)
        if setting is None:
            _log.warning(
                "'.. setting:: %s' names no setting of %s",
                name,
                _SOURCE,
                location=self.get_location(),
            )
        else:
            generated = StringList([*field_lines(setting), ""], source=_SOURCE)
            self.content = generated + self.content
        return super().run()


class SettingsTable(SphinxDirective):
    """``.. settings-table::``: one row per setting, linking to its entry."""

    def run(self) -> list[nodes.Node]:
        holder = nodes.Element()
        self.state.nested_parse(
            StringList(table_lines(), source=_SOURCE), self.content_offset, holder
        )
        return list(holder.children)


def _missing_setting(app: t.Any, env: t.Any, node: t.Any, contnode: t.Any) -> None:
    if node.get("refdomain") == "std" and node.get("reftype") == "setting":
        _log.warning(
            "unknown setting %r (not documented with '.. setting::')",
            node.get("reftarget"),
            location=node,
            type="ref",
        )


def _undocumented_settings(app: t.Any, env: t.Any) -> None:
    # get_domain(): env.domains is a plain dict before Sphinx 8 (Python 3.9).
    std = env.get_domain("std")
    documented = {name for kind, name in std.objects if kind == "setting"}
    for setting in SETTINGS:
        if setting.name not in documented:
            _log.warning(
                "setting %r of %s is documented on no page (add '.. setting:: %s')",
                setting.name,
                _SOURCE,
                setting.name,
            )


def setup(app: t.Any) -> dict[str, t.Any]:
    """Register the ``setting`` object type and the two directives."""
    app.add_object_type("setting", "setting", objname="setting")
    app.add_directive_to_domain("std", "setting", SettingDirective, override=True)
    app.add_directive("settings-table", SettingsTable)
    app.connect("missing-reference", _missing_setting)
    app.connect("env-check-consistency", _undocumented_settings)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
