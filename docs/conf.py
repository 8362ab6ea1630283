"""Sphinx configuration of the wsgi_session documentation.

Build with warnings as errors, as CI does::

    python -m sphinx -W --keep-going -b html docs docs/_build/html

Only extensions that ship with Sphinx are used, plus the local
``settings_reference`` (the settings reference, generated from
``wsgi_session.config.SETTINGS``); nothing is fetched from the network (no
intersphinx).
"""

from __future__ import annotations

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)  # the local extension settings_reference.py

import wsgi_session  # noqa: E402  (after the path is set)

project = "wsgi_session"
author = "The wsgi_session authors"
copyright = "the wsgi_session authors"
release = wsgi_session.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.viewcode",
    "settings_reference",
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

# -- the settings reference ----------------------------------------------------
#
# configuration.rst documents every setting with ``.. setting:: name``, whose
# Type / Default / In-ini-files fields are generated from
# wsgi_session.config.SETTINGS by the local extension settings_reference.py
# (next to this file); other pages link to one with :setting:`name`.
