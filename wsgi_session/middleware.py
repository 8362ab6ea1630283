"""``SessionMiddleware``: wires settings, store, tracking and session for one request.

>>> def app(environ, start_response):
...     session = environ["wsgi_session"]
...     session["visits"] = session.get("visits", 0) + 1
...     start_response("200 OK", [("Content-Type", "text/plain")])
...     return [str(session["visits"]).encode()]
>>> wrapped = SessionMiddleware(app, secret_key="change me")
>>> from werkzeug.test import Client
>>> client = Client(wrapped)
>>> client.get("/").text, client.get("/").text
('1', '2')
"""

from __future__ import annotations

import logging
import threading
import typing as t
from collections.abc import Iterable

from .config import Settings
from .context import CONTEXT_KEY, RequestContext, WSGIEnviron
from .cookiepolicy import CookiePolicy
from .csrfcheck import refusal
from .events import RejectReason, dispatch
from .finish import forbidden_response
from .presented import IdResolver
from .repository import SessionRepository, store_key
from .response import ResponseEditor
from .session import Session
from .signing import IdSigner
from .stores import Backend, backend_for, is_in_memory, open_store
from .tracking import CookieProfile
from .users import SessionInfo, UserIndex

__all__ = [
    "CONTEXT_KEY",
    "RequestContext",
    "SessionMiddleware",
    "StartResponse",
    "WSGIApp",
    "WSGIEnviron",
    "get_session",
    "store_key",
]

log = logging.getLogger("wsgi_session")

StartResponse = t.Callable[..., t.Callable[[bytes], object]]
WSGIApp = t.Callable[[WSGIEnviron, StartResponse], Iterable[bytes]]


def get_session(environ: WSGIEnviron) -> Session:
    """Return the session of a request handled by :class:`SessionMiddleware`.

    >>> get_session({})
    Traceback (most recent call last):
    ...
    LookupError: no wsgi_session in this environ: ...
    """
    context = environ.get(CONTEXT_KEY)
    if context is None:
        raise LookupError(
            "no wsgi_session in this environ: is the app wrapped by SessionMiddleware?"
        )
    return t.cast(Session, context.session)


class SessionMiddleware:
    """WSGI middleware that gives ``app`` server-side sessions.

    Every argument is validated here (see the configuration reference); a
    mistake raises :class:`~wsgi_session.ConfigError` naming it.

    >>> SessionMiddleware(lambda e, s: [], secret_key="")
    Traceback (most recent call last):
    ...
    wsgi_session.errors.ConfigError: secret_key: every key must be ...
    """

    #: The session class instantiated per request (an override point).
    session_class: type[Session] = Session

    def __init__(self, app: WSGIApp, **options: t.Any) -> None:
        self.app = app
        self.settings = settings = Settings.build(**options)
        store = settings.store if settings.store is not None else "memory://"
        self.store = open_store(store) if isinstance(store, str) else store
        self.backend: Backend = backend_for(self.store)
        self.signer = IdSigner(settings.secret_key)
        self.cookies = CookieProfile(
            settings.cookie_name,
            path=settings.cookie_path,
            domain=settings.cookie_domain,
            secure=settings.cookie_secure,
            httponly=settings.cookie_httponly,
            samesite=settings.cookie_samesite,
            max_age=settings.cookie_max_age,
        )
        #: The steps of the request pipeline that do not change per request:
        #: which presented id, the stored sessions, the cookie rule.
        self.resolver = IdResolver(self.signer)
        self.repository = SessionRepository(
            self.backend,
            concurrency=settings.concurrency,
            lock_timeout=settings.lock_timeout,
            absolute_timeout=settings.absolute_timeout,
        )
        self.cookie_policy = CookiePolicy(self.cookies, self.signer)
        #: The per-user indexes of bound sessions (§13.1).
        self.users = UserIndex(self.backend, settings.absolute_timeout)
        self._multiprocess_warned = is_in_memory(self.store) is False
        self._own_context = (
            type(self).request_context is SessionMiddleware.request_context
        )
        self._warn_lock = threading.Lock()
        self._csrf_on = settings.csrf != "off"

    @classmethod
    def from_config(
        cls, app: WSGIApp, mapping: t.Mapping[str, t.Any]
    ) -> SessionMiddleware:
        """Build from a mapping of setting names to strings or typed values."""
        from .inifile import coerce_mapping

        return cls(app, **coerce_mapping(mapping, source="mapping"))

    @classmethod
    def from_ini(
        cls, app: WSGIApp, path: str, section: str = "wsgi_session"
    ) -> SessionMiddleware:
        """Build from the ``[section]`` of an ini file (see :func:`load_config`)."""
        from .inifile import load_config

        return cls(app, **load_config(path, section))

    # -- the request ----------------------------------------------------------

    def __call__(
        self, environ: WSGIEnviron, start_response: StartResponse
    ) -> Iterable[bytes]:
        if self._own_context:  # skip the override point's call when unused
            request = RequestContext(self, environ)
        else:
            request = self.request_context(environ)
        return self.serve(request, start_response)

    def serve(
        self, request: RequestContext, start_response: StartResponse
    ) -> Iterable[bytes]:
        """Run the app for one request with its coordinator ``request``."""
        if not self._multiprocess_warned and request.environ.get("wsgi.multiprocess"):
            self._warn_multiprocess()
        app = self._csrf_checked(request) if self._csrf_on else self.app
        return ResponseEditor(self, request, start_response).run(app)

    def _csrf_checked(self, request: RequestContext) -> WSGIApp:
        """The app behind the CSRF check of ``csrf="check"`` (§13.2): a refused
        request gets a 403 and the app never runs. Run by the response
        editor like the app itself, so a store outage is a 503 and a lock is
        released."""

        def checked(
            environ: WSGIEnviron, start_response: StartResponse
        ) -> Iterable[bytes]:
            why = refusal(request)
            if why is None:
                return self.app(environ, start_response)
            log.info("wsgi_session: CSRF check refused a request: %s", why)
            dispatch(
                self.settings.events, "rejected", environ, RejectReason.CSRF_FAILED
            )
            status, headers, body = forbidden_response()
            start_response(status, headers)
            return [body]

        return checked

    # -- users (§13.1) -----------------------------------------------------------

    def sessions_of(self, user_id: t.Any) -> list[SessionInfo]:
        """The live sessions of ``user_id`` (from code outside a request).

        Each :class:`~wsgi_session.SessionInfo` has an opaque ``handle`` for
        :meth:`end_session`; none is ``current``.
        """
        return self.users.sessions(str(user_id))

    def end_sessions_of(self, user_id: t.Any) -> int:
        """End every session of ``user_id`` (password reset, "log out
        everywhere"); return how many were ended. None is served again."""
        return self.users.end_all(str(user_id))

    def end_session(self, handle: str) -> bool:
        """End the session of a listed ``handle``; False if there is none."""
        return self.users.end_one(handle)

    def request_context(self, environ: WSGIEnviron) -> RequestContext:
        """Make the coordinator of one request (an override point).

        Subclasses may pass a per-request ``signer`` or cookie profile, e.g.
        to follow a framework configuration that can change at run time.
        """
        return RequestContext(self, environ)

    def _warn_multiprocess(self) -> None:
        with self._warn_lock:
            if not self._multiprocess_warned:
                self._multiprocess_warned = True
                log.warning(
                    "wsgi_session: the in-memory store is not shared between worker "
                    "processes; use redis://, memcached:// or file:// under a "
                    "multi-process server"
                )
