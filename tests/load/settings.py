"""The load test's fixed settings, shared by the orchestrator, the faults and the judge.

>>> STORE_TIMEOUT < LOCK_TIMEOUT
True
"""

from __future__ import annotations

import typing as t

HOST = "127.0.0.1"
#: Socket timeout of the store clients (in the store URL); pauses last longer.
STORE_TIMEOUT = 2
#: The app's lock_timeout (the library default).
LOCK_TIMEOUT = 10
STORES = ("redis", "memcached", "file", "postgresql", "sqlite")
#: The middlewares the app can run under (``LOAD_CONTENDER``); the first is ours.
CONTENDERS = ("wsgi_session", "beaker")
#: The stores a peer supports (Beaker: ``ext:redis``).
PEER_STORES = {"beaker": ("redis",)}

#: When (seconds into the load) which fault starts, with its keyword arguments.
Plan = t.List[t.Tuple[float, str, t.Dict[str, t.Any]]]
