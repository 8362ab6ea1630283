"""Pyramid drop-in: ``request.session`` is a view of the wsgi_session session.

``config.include("wsgi_session.pyramid")`` reads the ``wsgi_session.*``
settings (§2's names, coerced as in ini files) and sets the session factory;
:func:`session_factory` builds one in code. The session provides Pyramid's
``ISession`` (:class:`PyramidSession`). Importing this package does not
import Pyramid (the session class is loaded on first use).

>>> from wsgi_session.pyramid import options_from_settings
>>> options_from_settings({"wsgi_session.tracking": "url"}, validate=False)
{'tracking': 'url'}
"""

from __future__ import annotations

import typing as t

from .factory import PyramidSessionFactory as PyramidSessionFactory
from .factory import factory_from_settings as factory_from_settings
from .factory import includeme as includeme
from .factory import session_factory as session_factory
from .settings import PREFIX as PREFIX
from .settings import USER_KEY_PRESET as USER_KEY_PRESET
from .settings import options_from_settings as options_from_settings

if t.TYPE_CHECKING:  # pragma: no cover
    from .session import PyramidSession as PyramidSession


def __getattr__(name: str) -> t.Any:
    if name == "PyramidSession":
        from .session import PyramidSession

        return PyramidSession
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "PREFIX",
    "USER_KEY_PRESET",
    "PyramidSession",
    "PyramidSessionFactory",
    "factory_from_settings",
    "includeme",
    "options_from_settings",
    "session_factory",
]
