"""Pyramid drop-in: the ``wsgi_session.*`` settings (the session factory comes later).

Importing this package does not import Pyramid.

>>> from wsgi_session.pyramid import options_from_settings
>>> options_from_settings({"wsgi_session.tracking": "url"}, validate=False)
{'tracking': 'url'}
"""

from __future__ import annotations

from .settings import PREFIX as PREFIX
from .settings import USER_KEY_PRESET as USER_KEY_PRESET
from .settings import options_from_settings as options_from_settings

__all__ = ["PREFIX", "USER_KEY_PRESET", "options_from_settings"]
