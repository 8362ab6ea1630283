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
  configuration, read on every request (see :class:`WSGISession`). A
  permanent session's cookie is refreshed on every request, as Flask does,
  without a store round trip: its value carries a permanent hint
  (``<id>.<signature>.p``, see :class:`FlaskRequestContext`).

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
import datetime as dt
import logging
import operator
import typing as t
from collections.abc import Mapping

import flask
from flask.sessions import SessionInterface, SessionMixin
from werkzeug.local import LocalProxy

from .config import DEFAULTS, Settings
from .errors import ConfigError, StoreUnavailable
from .jinja import install
from .middleware import CONTEXT_KEY, RequestContext, SessionMiddleware
from .response import ResponseEditor
from .session import Session, SessionMeta
from .signing import IdSigner
from .tracking import CookieProfile

if t.TYPE_CHECKING:  # pragma: no cover
    from .middleware import StartResponse, WSGIApp, WSGIEnviron

__all__ = [
    "PERMANENT_HINT",
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
#: Entries kept per profile in each of its caches (signed ids, cookie headers).
_CACHE_SIZE = 4096


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

    # Per-request state as class-level defaults (see Session): most requests
    # never touch their session.
    _assigned = False  # this request assigned or deleted a key
    _wrote = False  # this request wrote the session to the store

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

    def sync_timeout(
        self, lifetime: int, default: int | None, *, permanent: bool | None = None
    ) -> None:
        """Permanent sessions live ``lifetime`` seconds since their last use.

        A session that stops being permanent gets the ``default`` idle
        timeout back; any other session keeps its own. ``permanent`` is
        :attr:`permanent`, when the caller has read it already.
        """
        if self.permanent if permanent is None else permanent:
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
    #: Signed ids issued under this profile (Flask sends a session's cookie
    #: again on every request that modifies it: one HMAC each time otherwise).
    signed: dict[str, str] = dataclasses.field(default_factory=dict, compare=False)

    def sign(self, session_id: str) -> str:
        """``signer.sign(session_id)``, remembered."""
        signed = self.signed.get(session_id)
        if signed is None:
            signed = self.signer.sign(session_id)
            if len(self.signed) >= _CACHE_SIZE:
                self.signed.clear()
            self.signed[session_id] = signed
        return signed


class _SessionCookies(CookieProfile):
    """A cookie profile that remembers its browser-session ``Set-Cookie`` headers.

    Flask sends a session's cookie again on every request that modifies it;
    without a Max-Age (hence no Expires) the header only depends on the value
    and on whether the request is secure.
    """

    def __init__(self, name: str, **attributes: t.Any) -> None:
        super().__init__(name, **attributes)
        self._headers: dict[tuple[str, bool], tuple[str, str]] = {}

    def set_header(self, environ: t.Mapping[str, t.Any], value: str) -> tuple[str, str]:
        """``Set-Cookie`` carrying ``value`` (built once per value and scheme)."""
        if self.max_age is not None:  # Expires moves with the clock
            return super().set_header(environ, value)
        key = (value, self.is_secure(environ))
        header = self._headers.get(key)
        if header is None:
            header = super().set_header(environ, value)
            if len(self._headers) >= _CACHE_SIZE:
                self._headers.clear()
            self._headers[key] = header
        return header


#: The Flask settings a request's profile depends on, read on every request,
#: with the default each one has when the key is missing (as Flask reads them).
_CONFIG = {
    "SECRET_KEY": None,
    "SECRET_KEY_FALLBACKS": None,
    "SESSION_COOKIE_NAME": None,
    "SESSION_COOKIE_DOMAIN": None,
    "SESSION_COOKIE_PATH": None,
    "APPLICATION_ROOT": None,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SECURE": None,
    "SESSION_COOKIE_SAMESITE": None,
    "SESSION_COOKIE_PARTITIONED": None,
    "PERMANENT_SESSION_LIFETIME": None,
    "SESSION_REFRESH_EACH_REQUEST": True,
}
_CONFIG_KEYS = tuple(_CONFIG)
_CONFIG_DEFAULTS = tuple(_CONFIG.values())
_read_config = operator.itemgetter(*_CONFIG_KEYS)
_NO_PROFILE: t.Any = object()

#: Appended to the cookie value of a permanent session (``<id>.<signature>.p``):
#: an untouched request can refresh the cookie without loading the session.
PERMANENT_HINT = ".p"


def _split_hint(value: str) -> tuple[str, bool]:
    """``(signed id, hint present)`` of a session cookie value.

    >>> _split_hint("id.sig.p"), _split_hint("id.sig")
    (('id.sig', True), ('id.sig', False))
    """
    if value.endswith(PERMANENT_HINT):
        return value[: -len(PERMANENT_HINT)], True
    return value, False


def _frozen(values: tuple[t.Any, ...]) -> t.Hashable | None:
    """A hashable stand-in for config values with lists in them, or None."""
    key = tuple((list, tuple(v)) if isinstance(v, list) else v for v in values)
    try:
        hash(key)
    except TypeError:
        return None
    return key


def _lifetime(value: t.Any) -> int:
    """PERMANENT_SESSION_LIFETIME (a timedelta or seconds) in whole seconds >= 1."""
    try:
        if not isinstance(value, dt.timedelta):
            value = dt.timedelta(seconds=value)
        return max(1, int(value.total_seconds()))
    except (TypeError, ValueError, OverflowError) as exc:
        raise ConfigError(
            f"PERMANENT_SESSION_LIFETIME: expected a timedelta or a number of "
            f"seconds, got {value!r}",
            key="PERMANENT_SESSION_LIFETIME",
        ) from exc


class FlaskRequestContext(RequestContext):
    """The request coordinator under Flask: cookie profile and keys per request.

    In replace mode it also applies Flask's cookie policy: a permanent
    session gets a persistent cookie of ``PERMANENT_SESSION_LIFETIME``, sent
    again whenever the session is modified or, with
    ``SESSION_REFRESH_EACH_REQUEST``, on every request.

    A permanent session's cookie value ends in :data:`PERMANENT_HINT`, so a
    request that never touches the session refreshes that cookie (the same
    value, a new Max-Age) without loading the session from the store. The hint
    is not signed and need not be: it only makes the server re-send, with the
    permanent lifetime, a cookie whose signed id verifies, which the client
    could keep as long as it likes anyway; whether the session is permanent is
    decided by its stored data whenever the session is used. Ids in URLs never
    carry the hint.
    """

    middleware: FlaskSessionMiddleware
    #: True when opened outside a WSGI call through the middleware
    #: (``app.test_request_context()``); in replace mode Flask's
    #: ``save_session`` saves it, and (with ``concurrency="lock"``) Flask's
    #: teardown releases its lock.
    detached = False
    _saved = False
    _permanent = False  # the cookie written now is a permanent session's
    _hinted = False  # the presented cookie that verified carried the hint

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

    # -- the cookie value -----------------------------------------------------

    def unsign_cookie(self, value: str) -> str | None:
        """The session id in a cookie value (with or without the permanent hint)."""
        signed, hinted = _split_hint(value)
        session_id = self.signer.unsign(signed)
        if session_id is not None:
            self._hinted = hinted
        return session_id

    def cookie_value(self, session_id: str) -> str:
        """The signed id, plus :data:`PERMANENT_HINT` for a permanent session."""
        signed = self.profile.sign(session_id)
        return signed + PERMANENT_HINT if self._permanent else signed

    # -- saving ---------------------------------------------------------------

    def save(self) -> list[tuple[str, str]]:
        """Save as the middleware does, with Flask's cookie policy in replace mode."""
        if not self.middleware.replace:
            self._keep_foreign_cookie()
            return super().save()
        session: FlaskSession = self.session  # type: ignore[assignment]
        if not session.loaded and not session.modified:
            return self._refresh_untouched(session)
        if self._saved and not session.unsaved:
            return []  # a second call (end of a streamed body) with nothing new
        accessed = session.accessed
        try:
            permanent = bool(session.permanent)  # loads a session only marked modified
        except StoreUnavailable:
            log.debug("wsgi_session: store unavailable; cookie not refreshed")
            return []
        self._saved = True
        self._permanent = permanent
        profile = self.profile
        if permanent:
            self.cookies = profile.permanent_cookies
        session.sync_timeout(
            profile.lifetime, self.settings.idle_timeout, permanent=permanent
        )
        if self.cookie_rejected:
            self._keep_foreign_cookie()  # after the load, which may reject it
        headers = super().save()
        if not headers and self._cookie_due(session, permanent):
            assert session._id is not None
            value = self.cookie_value(session._id)
            headers = [self.cookies.set_header(self.environ, value)]
        # Looking at the session here is not using it; a response that sets
        # or deletes the cookie does vary by it.
        session.accessed = accessed or bool(headers)
        return headers

    def _refresh_untouched(self, session: FlaskSession) -> list[tuple[str, str]]:
        """Re-send a permanent session's cookie without loading the session.

        Only with ``SESSION_REFRESH_EACH_REQUEST``, and only the cookie whose
        signed id verifies, when its value carries the permanent hint.
        """
        if not self.profile.refresh_each_request or self.settings.tracking == "url":
            return []
        value = self._hinted_cookie()
        if value is None:
            return []
        session.accessed = True  # the response varies by the cookie
        return [self.profile.permanent_cookies.set_header(self.environ, value)]

    def _hinted_cookie(self) -> str | None:
        """The presented cookie value, if the first genuine one has the hint."""
        unsign = self.signer.unsign
        for value in self.presented.cookie_values:
            if value.endswith(PERMANENT_HINT):
                if unsign(value[: -len(PERMANENT_HINT)]) is not None:
                    return value
            elif unsign(value) is not None:
                return None
        return None

    def _cookie_due(self, session: FlaskSession, permanent: bool) -> bool:
        """Flask's ``should_set_cookie``, plus dropping a stale permanent hint."""
        if permanent:
            due = self.profile.refresh_each_request or session.modified
        else:
            due = self._hinted or session.modified  # a stale hint goes
        return (
            due
            and session._tracking != "url"
            and session.stored
            and not session.destroyed
        )

    def _keep_foreign_cookie(self) -> None:
        """Like Flask, ignore but keep a cookie signed with a key we do not know.

        A key rotation rolled out to some processes first must not log
        their users out (the cookie verifies again once the key is known).
        """
        if self.cookie_rejected and not self.session.destroyed:
            unsign = self.signer.unsign
            values = self.presented.cookie_values
            if all(unsign(_split_hint(value)[0]) is None for value in values):
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
        self._check_cookie_name(
            self.settings.cookie_name, flask_app.config.get("SESSION_COOKIE_NAME")
        )
        if replace:
            self.session_class = FlaskSession
        # Profiles by the raw values of the Flask settings they come from.
        self._profiles: dict[t.Hashable, _Profile | None] = {}

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

    def _check_cookie_name(self, name: str, flask_name: t.Any) -> None:
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
        The configuration is read on every call; a profile is built once per
        distinct set of values (an invalid value raises ConfigError each time).
        """
        config = self.flask_app.config
        try:
            values = _read_config(config)
        except KeyError:  # a setting deleted from app.config: Flask's default
            values = tuple(map(config.get, _CONFIG_KEYS, _CONFIG_DEFAULTS))
        key: t.Hashable | None = values
        try:
            found: _Profile | None = self._profiles.get(values, _NO_PROFILE)
        except TypeError:  # a list among the values (SECRET_KEY_FALLBACKS)
            key = _frozen(values)
            found = _NO_PROFILE if key is None else self._profiles.get(key, _NO_PROFILE)
        if found is not _NO_PROFILE:
            return found
        found = self._build_profile(dict(zip(_CONFIG_KEYS, values)))
        if key is not None:
            if len(self._profiles) >= _MAX_PROFILES:
                self._profiles.clear()
            self._profiles[key] = found
        return found

    def _build_profile(self, config: dict[str, t.Any]) -> _Profile | None:
        derived = self._derived(config)
        if "secret_key" not in self.explicit and "secret_key" not in derived:
            return None
        lifetime = _lifetime(config["PERMANENT_SESSION_LIFETIME"])
        settings = Settings.build(**{**self.explicit, **derived})
        self._check_cookie_name(settings.cookie_name, config["SESSION_COOKIE_NAME"])
        attributes: dict[str, t.Any] = {
            "path": settings.cookie_path,
            "domain": settings.cookie_domain,
            "secure": settings.cookie_secure,
            "httponly": settings.cookie_httponly,
            "samesite": settings.cookie_samesite,
            "partitioned": bool(config["SESSION_COOKIE_PARTITIONED"]) and self.replace,
        }
        name = settings.cookie_name
        return _Profile(
            signer=IdSigner(settings.secret_key),
            cookies=_SessionCookies(
                name, max_age=settings.cookie_max_age, **attributes
            ),
            permanent_cookies=CookieProfile(name, max_age=lifetime, **attributes),
            lifetime=lifetime,
            refresh_each_request=bool(config["SESSION_REFRESH_EACH_REQUEST"]),
        )

    # -- requests -------------------------------------------------------------

    def __call__(
        self, environ: WSGIEnviron, start_response: StartResponse
    ) -> t.Iterable[bytes]:
        # SessionMiddleware.__call__, with the profile computed once.
        profile = self.profile()
        if profile is None:
            return self.app(environ, start_response)
        if not self._multiprocess_warned and environ.get("wsgi.multiprocess"):
            self._warn_multiprocess()
        request = FlaskRequestContext(self, environ, profile)
        return ResponseEditor(self, request, start_response).run(self.app)

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
        profile = self.profile()
        if profile is None:
            return None
        context = FlaskRequestContext(self, environ, profile)
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
        return self.middleware.open(request.environ)  # type: ignore[return-value]

    def is_null_session(self, obj: object) -> bool:
        """False for our sessions (without the slow ABC ``isinstance``)."""
        if type(obj) is FlaskSession:
            return False
        return super().is_null_session(obj)

    def save_session(
        self, app: flask.Flask, session: SessionMixin, response: flask.Response
    ) -> None:
        """Save a session opened outside the middleware; others are saved by it."""
        context = getattr(session, "_host", None)
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
