"""wsgi_session: server-side sessions for legacy WSGI applications.

>>> from wsgi_session import SessionMiddleware, Session, ConfigError
"""

from __future__ import annotations

from .config import Settings as Settings
from .errors import ConfigError as ConfigError
from .errors import CSRFError as CSRFError
from .errors import LockTimeout as LockTimeout
from .errors import SerializationError as SerializationError
from .errors import SessionError as SessionError
from .errors import StoreUnavailable as StoreUnavailable
from .events import EndReason as EndReason
from .events import RejectReason as RejectReason
from .events import SessionEvents as SessionEvents
from .helpers import check_csrf as check_csrf
from .helpers import csrf_input as csrf_input
from .helpers import hidden_input as hidden_input
from .helpers import rewrite_url as rewrite_url
from .inifile import load_config as load_config
from .middleware import SessionMiddleware as SessionMiddleware
from .middleware import get_session as get_session
from .session import Session as Session
from .stores import open_store as open_store
from .users import SessionInfo as SessionInfo

__version__ = "0.1.0"

__all__ = [
    "CSRFError",
    "ConfigError",
    "EndReason",
    "LockTimeout",
    "RejectReason",
    "SerializationError",
    "Session",
    "SessionError",
    "SessionEvents",
    "SessionInfo",
    "SessionMiddleware",
    "Settings",
    "StoreUnavailable",
    "check_csrf",
    "csrf_input",
    "get_session",
    "hidden_input",
    "load_config",
    "open_store",
    "rewrite_url",
]
