"""Beaker drop-in: Beaker's configuration, translated (the middleware comes later).

Nothing here imports Beaker: the drop-in replaces it.

>>> from wsgi_session.beaker import translate_beaker_config
>>> translate_beaker_config({"session.data_dir": "/srv/s"}).options["store"]
'file:///srv/s/wsgi_session'
"""

from __future__ import annotations

from .options import BeakerOptions as BeakerOptions
from .options import translate_beaker_config as translate_beaker_config

__all__ = ["BeakerOptions", "translate_beaker_config"]
