"""The middleware under a Flask app: :class:`FlaskSessionMiddleware`.

A :class:`~wsgi_session.SessionMiddleware` whose settings follow
``app.config``: it resolves the Flask configuration into a profile on every
request (built once per distinct set of values) and opens each request's
:class:`~wsgi_session.flask.FlaskRequestContext` with it.
"""

from __future__ import annotations

import typing as t
from collections.abc import Mapping

from ..config import Settings
from ..errors import ConfigError
from ..memo import Memo
from ..middleware import CONTEXT_KEY, SessionMiddleware
from ..session import Session
from ..signing import IdSigner
from ..tracking import CookieProfile
from .context import FlaskRequestContext
from .cookies import FlaskCookiePolicy, FlaskIdResolver
from .profile import (
    _CONFIG_DEFAULTS,
    _CONFIG_KEYS,
    _NO_PROFILE,
    _frozen,
    _lifetime,
    _Profile,
    _read_config,
)
from .sessions import FlaskSession

if t.TYPE_CHECKING:  # pragma: no cover
    import flask

    from ..middleware import StartResponse, WSGIApp, WSGIEnviron

#: The session key of Flask-Login's user id: replace mode's ``user_key``.
FLASK_LOGIN_USER_KEY = "_user_id"
#: Default cookie name beside Flask's own session cookie.
SIDE_BY_SIDE_COOKIE = "wsgi_session"
_MAX_PROFILES = 16


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
        # The profile built for each distinct set of Flask config values: the
        # key is every value the profile is built from, so it decides it.
        self._profiles: Memo[t.Hashable, _Profile | None] = Memo(_MAX_PROFILES)

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
                # Flask-Login keeps the signed-in user here (SPEC §9, §13.1).
                user_key=FLASK_LOGIN_USER_KEY,
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
            self._profiles.put(key, found)
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
        signer = IdSigner(settings.secret_key)
        cookies = CookieProfile(name, max_age=settings.cookie_max_age, **attributes)
        policy = FlaskCookiePolicy(
            cookies,
            signer,
            permanent_cookies=CookieProfile(name, max_age=lifetime, **attributes),
            refresh_each_request=bool(config["SESSION_REFRESH_EACH_REQUEST"]),
            replace=self.replace,
        )
        return _Profile(
            signer=signer,
            resolver=FlaskIdResolver(signer),
            cookie_policy=policy,
            lifetime=lifetime,
        )

    # -- requests -------------------------------------------------------------

    def __call__(
        self, environ: WSGIEnviron, start_response: StartResponse
    ) -> t.Iterable[bytes]:
        profile = self.profile()  # once per request
        if profile is None:
            return self.app(environ, start_response)
        request = FlaskRequestContext(self, environ, profile)
        return self.serve(request, start_response)

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
