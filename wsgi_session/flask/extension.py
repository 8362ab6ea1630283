"""The Flask extension: :class:`WSGISession`, its session interface and proxy.

:class:`WSGISession` installs :class:`~wsgi_session.flask.FlaskSessionMiddleware`
on ``app.wsgi_app``, the Jinja helpers and, in replace mode,
:class:`WSGISessionInterface` (``flask.session``); :data:`session` is the
current request's server-side session.
"""

from __future__ import annotations

import typing as t
from collections.abc import Mapping

import flask
from flask.sessions import SessionInterface, SessionMixin
from werkzeug.local import LocalProxy

from ..config import DEFAULTS
from ..errors import ConfigError
from ..jinja import install
from ..middleware import CONTEXT_KEY
from ..session import Session
from .context import FlaskRequestContext
from .middleware import FlaskSessionMiddleware
from .sessions import FlaskSession

#: Key of the app's middleware in ``app.extensions``.
EXTENSION_KEY = "wsgi_session"


class WSGISessionInterface(SessionInterface):
    """Makes ``flask.session`` the wsgi_session session (replace mode).

    The middleware saves the session after the response is produced; only a
    session opened outside a WSGI call (``test_request_context``,
    ``client.session_transaction()``) is saved here, onto the response.
    """

    def __init__(self, middleware: FlaskSessionMiddleware) -> None:
        self.middleware = middleware

    def open_session(
        self, app: flask.Flask, request: flask.Request
    ) -> SessionMixin | None:
        """The request's :class:`FlaskSession`, or None without a secret key."""
        environ = request.environ
        # The common case, the session the middleware made for this WSGI
        # call, without the call of FlaskSessionMiddleware.open().
        context = environ.get(CONTEXT_KEY)
        if (
            type(context) is FlaskRequestContext
            and context.middleware is self.middleware
        ):
            return context.session  # type: ignore[return-value]
        return self.middleware.open(environ)  # type: ignore[return-value]

    def is_null_session(self, obj: object) -> bool:
        """False for our sessions (without the slow ABC ``isinstance``)."""
        if type(obj) is FlaskSession:
            return False
        return super().is_null_session(obj)

    def save_session(
        self, app: flask.Flask, session: SessionMixin, response: flask.Response
    ) -> None:
        """Save a session opened outside the middleware; others are saved by it."""
        context = getattr(session, "host", None)
        if not isinstance(context, FlaskRequestContext) or not context.detached:
            return
        if context.session is not session:
            return
        headers = context.save()
        for name, value in headers:
            response.headers.add(name, value)
        if session.accessed or headers:
            response.vary.add("Cookie")


class WSGISession:
    """Server-side sessions for a Flask app: ``WSGISession(app, **config)``.

    ``config`` takes the :class:`~wsgi_session.SessionMiddleware` arguments.
    ``secret_key`` defaults to Flask's ``SECRET_KEY_FALLBACKS`` +
    ``SECRET_KEY`` (newest last; the id signature uses a salt of its own, so
    it can never be mistaken for a Flask cookie signature).

    Side by side (the default) the cookie is ``wsgi_session``; a
    ``cookie_name`` equal to Flask's ``SESSION_COOKIE_NAME`` is a
    :class:`~wsgi_session.ConfigError`.

    With ``replace_flask_session=True``, ``flask.session`` is the
    server-side session, and unset options follow Flask's configuration,
    read per request: the cookie name from ``SESSION_COOKIE_NAME``, the
    attributes from ``SESSION_COOKIE_DOMAIN``, ``_PATH`` (or
    ``APPLICATION_ROOT``), ``_HTTPONLY``, ``_SECURE`` (False means Secure on
    https only), ``_SAMESITE`` and ``_PARTITIONED``. A permanent session
    (``session.permanent = True``) gets a cookie and an idle timeout of
    ``PERMANENT_SESSION_LIFETIME``, re-sent on every request when
    ``SESSION_REFRESH_EACH_REQUEST`` is true. That costs no store round trip:
    the cookie value of a permanent session ends in ``.p``, so a request that
    never touches the session refreshes the cookie without loading it (the
    stored session's idle timeout is renewed by the requests that use it).
    Other sessions get a browser-session cookie and ``idle_timeout``. A Flask
    setting changed to an invalid value is a :class:`~wsgi_session.ConfigError`
    (a ``ValueError``) on the next request, as Flask's own session would fail.

    >>> import flask
    >>> ext = WSGISession(store="memory://")  # app factory style
    >>> app = flask.Flask("doc")
    >>> app.config["SECRET_KEY"] = "change me"
    >>> ext.init_app(app)
    >>> @app.route("/")
    ... def index():
    ...     session["n"] = session.get("n", 0) + 1
    ...     return str(session["n"])
    >>> client = app.test_client()
    >>> client.get("/").text, client.get("/").text
    ('1', '2')
    >>> client.get_cookie("wsgi_session") is not None
    True
    """

    def __init__(
        self,
        app: flask.Flask | None = None,
        *,
        replace_flask_session: bool = False,
        **config: t.Any,
    ) -> None:
        for key in config:
            if key not in DEFAULTS:
                raise ConfigError(f"{key}: unknown setting", key=key)
        self.replace_flask_session = replace_flask_session
        self.config = config
        if app is not None:
            self.init_app(app)

    def init_app(self, app: flask.Flask) -> None:
        """Wrap ``app.wsgi_app`` and register the session interface and helpers."""
        if EXTENSION_KEY in app.extensions:
            raise RuntimeError("WSGISession is already set up on this app")
        middleware = FlaskSessionMiddleware(
            app.wsgi_app,
            flask_app=app,
            replace=self.replace_flask_session,
            **self.config,
        )
        app.wsgi_app = middleware  # type: ignore[method-assign]
        app.extensions[EXTENSION_KEY] = middleware
        if self.replace_flask_session:
            app.session_interface = WSGISessionInterface(middleware)
        if middleware.settings.concurrency == "lock":
            # Only a lock needs releasing; other apps skip the teardown call.
            app.teardown_request(_release_detached)
        install(app.jinja_env, environ_getter=_request_environ)


def _request_environ() -> Mapping[str, t.Any] | None:
    return flask.request.environ if flask.has_request_context() else None


def _release_detached(exc: BaseException | None) -> None:
    """Release the lock of a session opened outside a WSGI call (teardown)."""
    context = flask.request.environ.get(CONTEXT_KEY)
    if isinstance(context, FlaskRequestContext) and context.detached:
        context.release()


def _current_session() -> Session:
    environ = flask.request.environ  # RuntimeError outside a request
    middleware = flask.current_app.extensions.get(EXTENSION_KEY)
    if not isinstance(middleware, FlaskSessionMiddleware):
        raise RuntimeError(
            "wsgi_session: this app has no WSGISession: call WSGISession(app) "
            "or init_app(app)"
        )
    found = middleware.open(environ)
    if found is None:
        raise ConfigError(
            "secret_key: no secret key: set SECRET_KEY on the Flask app or pass "
            "secret_key= to WSGISession",
            key="secret_key",
        )
    return found


#: The current request's server-side session (a proxy; in replace mode it is
#: the same object as ``flask.session``).
session: Session = t.cast(Session, LocalProxy(_current_session))
