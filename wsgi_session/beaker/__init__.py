"""Beaker drop-in: ``environ["beaker.session"]`` and Beaker's configuration.

:class:`SessionMiddleware` stands in for ``beaker.middleware.SessionMiddleware``
(and ``egg:wsgi_session#beaker`` for ``egg:Beaker#beaker_session``); the
session it gives the app has Beaker's API (:class:`BeakerSession`). Nothing
here imports Beaker: the drop-in replaces it.

>>> from wsgi_session.beaker import translate_beaker_config
>>> translate_beaker_config({"session.data_dir": "/srv/s"}).options["store"]
'file:///srv/s/wsgi_session'
"""

from __future__ import annotations

from .context import BeakerCookiePolicy as BeakerCookiePolicy
from .context import BeakerRequestContext as BeakerRequestContext
from .middleware import SessionMiddleware as SessionMiddleware
from .middleware import filter_app_factory as filter_app_factory
from .middleware import filter_factory as filter_factory
from .options import BeakerOptions as BeakerOptions
from .options import translate_beaker_config as translate_beaker_config
from .session import BeakerSession as BeakerSession

__all__ = [
    "BeakerCookiePolicy",
    "BeakerOptions",
    "BeakerRequestContext",
    "BeakerSession",
    "SessionMiddleware",
    "filter_app_factory",
    "filter_factory",
    "translate_beaker_config",
]
