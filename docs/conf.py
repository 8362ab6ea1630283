"""Sphinx configuration of the wsgi_session documentation.

Build with warnings as errors, as CI does::

    python -m sphinx -W --keep-going -b html docs docs/_build/html

Only extensions that ship with Sphinx are used, and nothing is fetched from
the network (no intersphinx).
"""

from __future__ import annotations

import os
import sys

from sphinx.util import logging

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import wsgi_session  # noqa: E402  (after the path is set)

project = "wsgi_session"
author = "The wsgi_session authors"
copyright = "the wsgi_session authors"
release = wsgi_session.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.viewcode",
]

root_doc = "index"
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
templates_path: list[str] = []
default_role = "code"
highlight_language = "default"  # python, silently plain text where that fails
pygments_style = "sphinx"

# -- autodoc ------------------------------------------------------------------

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_description_target = "documented_params"
autodoc_default_options: dict[str, object] = {}
autodoc_preserve_defaults = True

# -- HTML -----------------------------------------------------------------------

html_theme = "alabaster"
html_title = f"wsgi_session {release}"
html_short_title = "wsgi_session"
html_static_path = ["_static"]
html_css_files = ["custom.css"]
html_theme_options = {
    "description": "Server-side sessions for legacy WSGI applications, "
    "with or without cookies.",
    "fixed_sidebar": True,
    "show_relbars": True,
}
html_sidebars = {
    "**": ["about.html", "navigation.html", "relations.html", "searchbox.html"]
}

# -- the ``setting`` object type ---------------------------------------------
#
# configuration.rst documents every setting with ``.. setting:: name``; other
# pages link to one with :setting:`name`. A link to a setting that is not
# documented is a warning (so, with -W, a build error), and
# tests/test_docs.py checks that the documented settings are exactly the keys
# of wsgi_session.config.DEFAULTS.

_log = logging.getLogger(__name__)


def _missing_setting(app, env, node, contnode):  # type: ignore[no-untyped-def]
    if node.get("refdomain") == "std" and node.get("reftype") == "setting":
        _log.warning(
            "unknown setting %r (not documented with '.. setting::')",
            node.get("reftarget"),
            location=node,
            type="ref",
        )
    return None


def setup(app):  # type: ignore[no-untyped-def]
    app.add_object_type(
        "setting",
        "setting",
        objname="setting",
        indextemplate="pair: %s; setting",
    )
    app.connect("missing-reference", _missing_setting)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
