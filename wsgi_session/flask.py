"""Flask integration: :class:`WSGISession` puts the middleware under a Flask app.

It wraps ``app.wsgi_app`` in a :class:`~wsgi_session.SessionMiddleware`,
exposes :data:`session` (the current request's server-side session) and
registers the Jinja globals ``rewrite_url(url)`` / ``session_input()`` and the
``|rewrite_url`` filter on ``app.jinja_env``. Two styles:

* **side by side** (default): ``flask.session`` stays Flask's signed-cookie
  session; the server-side one is :data:`session`, under its own cookie
  (``wsgi_session`` by default). Only the secret key comes from Flask.
* **replace** (``replace_flask_session=True``): ``flask.session`` *is* the
  server-side session, and every option left unset follows Flask's
  configuration, read on every request (see :class:`WSGISession`).

>>> import flask
>>> app = flask.Flask("doc")
>>> app.secret_key = "change me"
>>> _ = WSGISession(app, replace_flask_session=True)
>>> @app.route("/")
... def index():
...     flask.session["visits"] = flask.session.get("visits", 0) + 1
...     return str(flask.session["visits"])
>>> client = app.test_client()
>>> client.get("/").text, client.get("/").text
('1', '2')
"""

from __future__ import annotations

import dataclasses
import logging
import typing as t
from collections.abc import Mapping

import flask
from flask.sessions import SessionInterface, SessionMixin
from werkzeug.local import LocalProxy

from .config import DEFAULTS, Settings
from .errors import ConfigError, StoreUnavailable
from .jinja import install
from .middleware import CONTEXT_KEY, RequestContext, SessionMiddleware
from .session import Session, SessionHost, SessionMeta
from .signing import IdSigner
from .tracking import CookieProfile

if t.TYPE_CHECKING:  # pragma: no cover
    from .middleware import StartResponse, WSGIApp, WSGIEnviron

__all__ = [
    "FlaskSession",
    "FlaskSessionMiddleware",
    "WSGISession",
    "WSGISessionInterface",
    "session",
]

log = logging.getLogger("wsgi_session")

#: Key of the app's middleware in ``app.extensions``.
EXTENSION_KEY = "wsgi_session"
#: Default cookie name beside Flask's own session cookie.
SIDE_BY_SIDE_COOKIE = "wsgi_session"
_MAX_PROFILES = 16


class FlaskSession(Session, SessionMixin):
    """A :class:`~wsgi_session.Session` that is also a Flask session.

    It has Flask's ``permanent`` (stored under ``"_permanent"``, as Flask
    does), ``new``, ``accessed`` and ``modified``. ``modified`` has Flask's
    meaning: True once the request assigned or deleted a key (even with an
    equal value), and it stays True after the session was saved.

    >>> s = FlaskSession.detached()
    >>> s.permanent, s.modified
    (False, False)
    >>> s["user_id"] = 1
    >>> s.permanent = True
    >>> s.permanent, s.modified, s.new, s["_permanent"]
    (True, True, True, True)
    """

    def __init__(self, host: SessionHost, **options: t.Any) -> None:
        super().__init__(host, **options)
        self._assigned = False
        self._wrote = False

    def __setitem__(self, key: str, value: t.Any) -> None:
        super().__setitem__(key, value)
        self._assigned = True

    def __delitem__(self, key: str) -> None:
        super().__delitem__(key)
        self._assigned = True

    @property
    def new(self) -> bool:  # type: ignore[override]
        """True when this request did not resume a stored session."""
        return self.is_new

    @property
    def modified(self) -> bool:
        """True once this request assigned or deleted a key (settable)."""
        return self._assigned or self._wrote or super().modified

    @modified.setter
    def modified(self, value: bool) -> None:
        if not value:
            self._assigned = self._wrote = False
        Session.modified.fset(self, value)  # type: ignore[attr-defined]

    @property
    def unsaved(self) -> bool:
        """True when changes are waiting to be written to the store."""
        return bool(super().modified)

    def saved(self, meta: SessionMeta) -> None:
        """Record a write; ``modified`` stays True for the rest of the request."""
        super().saved(meta)
        self._wrote = True

    def was_permanent(self) -> bool:
        """True when the stored copy (as loaded) was a permanent session."""
        raw = self._raw.get("_permanent")
        if raw is None:
            return False
        try:
            return bool(self._serializer.loads(raw))
        except Exception:
            return False

    def sync_timeout(self, lifetime: int, default: int | None) -> None:
        """Permanent sessions live ``lifetime`` seconds since their last use.

        A session that stops being permanent gets the ``default`` idle
        timeout back; any other session keeps its own.
        """
        if self.permanent:
            target: int | None = lifetime
        elif self.was_permanent():
            target = default
        else:
            return
        if self.meta.timeout != target:
            self.timeout = target


@dataclasses.dataclass(frozen=True)
class _Profile:
    """What one state of the Flask configuration means for a request."""

    signer: IdSigner
    cookies: CookieProfile  # non-permanent sessions
    permanent_cookies: CookieProfile  # permanent sessions: Max-Age = lifetime
    lifetime: int
    refresh_each_request: bool


def _freeze(value: t.Any) -> t.Any:
    return tuple(value) if isinstance(value, list) else value


class FlaskRequestContext(RequestContext):
    """The request coordinator under Flask: cookie profile and keys per request.

    In replace mode it also applies Flask's cookie policy: a permanent
    session gets a persistent cookie of ``PERMANENT_SESSION_LIFETIME``, sent
    again whenever the session is modified or, with
    ``SESSION_REFRESH_EACH_REQUEST``, on every request.
    """

    middleware: FlaskSessionMiddleware

    def __init__(
        self,
        middleware: FlaskSessionMiddleware,
        environ: WSGIEnviron,
        profile: _Profile,
    ) -> None:
        super().__init__(
            middleware, environ, signer=profile.signer, cookies=profile.cookies
        )
        self.profile = profile
        #: True when opened outside a WSGI call through the middleware
        #: (``app.test_request_context()``); in replace mode Flask's
        #: ``save_session`` saves it, and teardown releases its lock.
        self.detached = False
        self._saved = False

    def save(self) -> list[tuple[str, str]]:
        """Save as the middleware does, with Flask's cookie policy in replace mode."""
        if not self.middleware.replace:
            self._keep_foreign_cookie()
            return super().save()
        session = t.cast(FlaskSession, self.session)
        if self._saved and not session.unsaved:
            return []  # a second call (end of a streamed body) with nothing new
        accessed = session.accessed
        if not session.loaded and not self._refresh_wanted():
            return super().save()
        try:
            permanent = session.permanent  # loads an untouched session to know
        except StoreUnavailable:
            log.debug("wsgi_session: store unavailable; cookie not refreshed")
            return []
        self._saved = True
        if permanent:
            self.cookies = self.profile.permanent_cookies
        session.sync_timeout(self.profile.lifetime, self.settings.idle_timeout)
        self._keep_foreign_cookie()  # after the load above, which may reject it
        headers = super().save()
        if not headers and self._cookie_due(session, permanent):
            assert session.id is not None
            headers = [
                self.cookies.set_header(self.environ, self.signer.sign(session.id))
            ]
        # Looking at the session here is not using it; a response that sets
        # or deletes the cookie does vary by it.
        session.accessed = accessed or bool(headers)
        return headers

    def _refresh_wanted(self) -> bool:
        return self.profile.refresh_each_request and bool(self.presented.cookie_values)

    def _cookie_due(self, session: FlaskSession, permanent: bool) -> bool:
        return (
            session.tracking != "url"
            and session.stored
            and not session.destroyed
            and (session.modified or (permanent and self.profile.refresh_each_request))
        )

    def _keep_foreign_cookie(self) -> None:
        """Like Flask, ignore but keep a cookie signed with a key we do not know.

        A key rotation rolled out to some processes first must not log
        their users out (the cookie verifies again once the key is known).
        """
        if self.cookie_rejected and not self.session.destroyed:
            values = self.presented.cookie_values
            if all(self.signer.unsign(value) is None for value in values):
                self.cookie_rejected = False


class FlaskSessionMiddleware(SessionMiddleware):
    """The middleware :class:`WSGISession` installs: it follows ``app.config``.

    The settings that come from Flask's configuration (see
    :class:`WSGISession`) are resolved on every request, so apps and tests
    may change them after start-up; explicit keyword options always win.
    While Flask has no secret key (and none was passed), requests are served
    without a session, as Flask does.
    """

    def __init__(
        self,
        app: WSGIApp,
        *,
        flask_app: flask.Flask,
        replace: bool = False,
        **options: t.Any,
    ) -> None:
        self.flask_app = flask_app
        self.replace = replace
        self.explicit = dict(options)
        if not replace:
            self.explicit.setdefault("cookie_name", SIDE_BY_SIDE_COOKIE)
        derived = self._derived(flask_app.config)
        if "secret_key" not in self.explicit and "secret_key" not in derived:
            raise ConfigError(
                "secret_key: a secret key is required: set SECRET_KEY on the Flask "
                "app or pass secret_key= to WSGISession",
                key="secret_key",
            )
        super().__init__(app, **{**self.explicit, **derived})
        self._check_cookie_name(self.settings.cookie_name)
        if replace:
            self.session_class = FlaskSession
        self._profiles: dict[t.Hashable, _Profile] = {}

    # -- Flask configuration ---------------------------------------------------

    def _derived(self, config: Mapping[str, t.Any]) -> dict[str, t.Any]:
        """The options that come from Flask's config now (unless explicit)."""
        options: dict[str, t.Any] = {}
        current = config.get("SECRET_KEY")
        if current:
            fallbacks = [k for k in config.get("SECRET_KEY_FALLBACKS") or () if k]
            options["secret_key"] = [*fallbacks, current]  # newest last
        if self.replace:
            options.update(
                cookie_name=config.get("SESSION_COOKIE_NAME") or "session",
                cookie_domain=config.get("SESSION_COOKIE_DOMAIN") or None,
                cookie_path=config.get("SESSION_COOKIE_PATH")
                or config.get("APPLICATION_ROOT")
                or "/",
                cookie_httponly=bool(config.get("SESSION_COOKIE_HTTPONLY", True)),
                # Flask's False means "not forced": Secure on https requests.
                cookie_secure=True if config.get("SESSION_COOKIE_SECURE") else "auto",
                cookie_samesite=config.get("SESSION_COOKIE_SAMESITE"),
            )
        return {k: v for k, v in options.items() if k not in self.explicit}

    def _check_cookie_name(self, name: str) -> None:
        flask_name = self.flask_app.config.get("SESSION_COOKIE_NAME")
        if not self.replace and name == flask_name:
            raise ConfigError(
                f"cookie_name: {name!r} is also Flask's SESSION_COOKIE_NAME; the two "
                "sessions would overwrite each other's cookie: choose another name, "
                "or pass replace_flask_session=True",
                key="cookie_name",
            )

    def profile(self) -> _Profile | None:
        """The cookie profile and keys for the current Flask configuration.

        None while there is no secret key (Flask has no session then either).
        """
        config = self.flask_app.config
        derived = self._derived(config)
        if "secret_key" not in self.explicit and "secret_key" not in derived:
            return None
        lifetime = max(
            1, int(self.flask_app.permanent_session_lifetime.total_seconds())
        )
        key = (
            tuple(sorted((k, _freeze(v)) for k, v in derived.items())),
            bool(config.get("SESSION_COOKIE_PARTITIONED")),
            lifetime,
            bool(config.get("SESSION_REFRESH_EACH_REQUEST", True)),
            config.get("SESSION_COOKIE_NAME"),
        )
        found = self._profiles.get(key)
        if found is None:
            found = self._build_profile(derived, key[1], lifetime, key[3])
            if len(self._profiles) >= _MAX_PROFILES:
                self._profiles.clear()
            self._profiles[key] = found
        return found

    def _build_profile(
        self, derived: dict[str, t.Any], partitioned: bool, lifetime: int, refresh: bool
    ) -> _Profile:
        settings = Settings.build(**{**self.explicit, **derived})
        self._check_cookie_name(settings.cookie_name)
        attributes: dict[str, t.Any] = {
            "path": settings.cookie_path,
            "domain": settings.cookie_domain,
            "secure": settings.cookie_secure,
            "httponly": settings.cookie_httponly,
            "samesite": settings.cookie_samesite,
            "partitioned": partitioned and self.replace,
        }
        name = settings.cookie_name
        return _Profile(
            signer=IdSigner(settings.secret_key),
            cookies=CookieProfile(name, max_age=settings.cookie_max_age, **attributes),
            permanent_cookies=CookieProfile(name, max_age=lifetime, **attributes),
            lifetime=lifetime,
            refresh_each_request=refresh,
        )

    # -- requests -------------------------------------------------------------

    def __call__(
        self, environ: WSGIEnviron, start_response: StartResponse
    ) -> t.Iterable[bytes]:
        if self.profile() is None:
            return self.app(environ, start_response)
        return super().__call__(environ, start_response)

    def request_context(self, environ: WSGIEnviron) -> FlaskRequestContext:
        """The coordinator of one request, with the current Flask profile."""
        profile = self.profile()
        if profile is None:
            raise ConfigError(
                "secret_key: Flask's SECRET_KEY was unset during the request",
                key="secret_key",
            )
        return FlaskRequestContext(self, environ, profile)

    def open(self, environ: WSGIEnviron) -> Session | None:
        """The session of the request with this environ, or None without a key.

        Inside a WSGI call it is the one the middleware made; elsewhere
        (``app.test_request_context()``) a session is opened on the spot: it
        loads lazily from the store like any other and, in replace mode,
        Flask's ``save_session`` saves it (``client.session_transaction()``
        and ``app.process_response()`` do call it).
        """
        context = environ.get(CONTEXT_KEY)
        if isinstance(context, FlaskRequestContext) and context.middleware is self:
            return context.session
        if self.profile() is None:
            return None
        context = self.request_context(environ)
        context.detached = True
        return context.session


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
        return t.cast(t.Optional[FlaskSession], self.middleware.open(request.environ))

    def save_session(
        self, app: flask.Flask, session: SessionMixin, response: flask.Response
    ) -> None:
        """Save a session opened outside the middleware; others are saved by it."""
        context = flask.request.environ.get(CONTEXT_KEY)
        if not isinstance(context, FlaskRequestContext) or not context.detached:
            return
        if context.session is not session:
            return
        for name, value in context.save():
            response.headers.add(name, value)
        if session.accessed:
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
    ``PERMANENT_SESSION_LIFETIME``, renewed on every request when
    ``SESSION_REFRESH_EACH_REQUEST`` is true (which costs a store read per
    request that brings the cookie; set it to False to avoid that); other
    sessions get a browser-session cookie and ``idle_timeout``. A Flask
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
        app.teardown_request(_release_detached)
        install(app.jinja_env, environ_getter=_request_environ)


def _request_environ() -> Mapping[str, t.Any] | None:
    return flask.request.environ if flask.has_request_context() else None


def _release_detached(exc: BaseException | None) -> None:
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
