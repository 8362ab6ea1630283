"""``wsgi_session.beaker.SessionMiddleware``: Beaker's middleware, replaced.

It takes what ``beaker.middleware.SessionMiddleware`` takes (a Beaker
configuration, translated by :func:`~wsgi_session.beaker.translate_beaker_config`)
and is a :class:`wsgi_session.SessionMiddleware`: the session is ours (JSON,
server-side, URL tracking when switched on), presented to the app as
``environ["beaker.session"]`` with Beaker's API
(:class:`~wsgi_session.beaker.session.BeakerSession`) and as
``environ["wsgi_session"]``. ``environ["beaker.get_session"]`` makes a new
session outside the request, as Beaker's does. The PasteDeploy entry points
``egg:wsgi_session#beaker`` (:func:`filter_factory`,
:func:`filter_app_factory`) stand in for ``egg:Beaker#beaker_session``.

>>> from werkzeug.test import Client
>>> def app(environ, start_response):
...     session = environ["beaker.session"]
...     session["n"] = session.get("n", 0) + 1
...     if environ["PATH_INFO"] != "/nosave":
...         session.save()
...     start_response("200 OK", [("Content-Type", "text/plain")])
...     return [str(session["n"]).encode()]
>>> client = Client(SessionMiddleware(app, {"session.secret": "s3cret"}))
>>> [client.get(path).text for path in ("/", "/", "/nosave", "/")]
['1', '2', '3', '3']
"""

from __future__ import annotations

import logging
import secrets
import typing as t
from collections.abc import Iterable, Mapping

from ..errors import ConfigError
from ..middleware import SessionMiddleware as _CoreMiddleware
from ..middleware import StartResponse, WSGIApp, WSGIEnviron
from ..presented import IdResolver
from ..signing import is_valid_id
from .context import BeakerCookiePolicy, BeakerRequestContext, UnsignedIds
from .options import BeakerOptions, translate_beaker_config
from .session import BeakerSession

__all__ = [
    "GET_SESSION_KEY",
    "SessionMiddleware",
    "filter_app_factory",
    "filter_factory",
]

log = logging.getLogger("wsgi_session")

#: The environ key of Beaker's ``get_session`` callable.
GET_SESSION_KEY = "beaker.get_session"
#: PasteDeploy's own keys of a filter section.
_PASTE_KEYS = frozenset({"use"})


class SessionMiddleware(_CoreMiddleware):
    """A drop-in for ``beaker.middleware.SessionMiddleware`` (SPEC §12.3).

    ``config`` may be a whole application configuration (only its keys under
    a session prefix are read); keyword arguments are session options with
    or without a prefix, and win. Without ``secret`` the middleware logs a
    warning and sends its ids unsigned (they are still never adopted).

    >>> SessionMiddleware(lambda e, s: [], {"session.type": "cookie"})
    Traceback (most recent call last):
    ...
    wsgi_session.errors.ConfigError: session.type: 'cookie' is not supported: ...
    """

    def __init__(
        self,
        app: WSGIApp,
        config: Mapping[str, t.Any] | None = None,
        environ_key: str = "beaker.session",
        **kwargs: t.Any,
    ) -> None:
        translated = translate_beaker_config(config, **kwargs)
        options = dict(translated.options)
        if translated.unsigned_ids:
            options["secret_key"] = secrets.token_urlsafe(32)  # never signs a sent id
        super().__init__(app, **options)
        if environ_key == self.settings.environ_key:
            raise ConfigError(
                f"environ_key: {environ_key!r} is also the wsgi_session environ "
                "key; the Beaker view and our session need two keys",
                key="environ_key",
            )
        #: The translated Beaker configuration.
        self.beaker_options: BeakerOptions = translated
        #: Where the Beaker view of the session goes in the environ.
        self.environ_key = environ_key
        if translated.unsigned_ids:
            log.warning(
                "wsgi_session.beaker: no session secret configured; session ids "
                "are sent unsigned (set session.secret to sign them)"
            )
            self.signer = UnsignedIds()
            self.resolver = IdResolver(self.signer)
        self.cookie_policy = BeakerCookiePolicy(
            self.cookies, self.signer, translated.cookie_expires_at
        )

    def request_context(self, environ: WSGIEnviron) -> BeakerRequestContext:
        """The coordinator of one request; it puts the Beaker view into the
        environ (and, for WebTest, into ``paste.testing_variables``)."""
        context = BeakerRequestContext(
            self,
            environ,
            auto=self.beaker_options.auto,
            beaker_key=self.environ_key,
        )
        varname = self.beaker_options.webtest_varname
        testing = environ.get("paste.testing_variables")
        if varname is not None and isinstance(testing, dict):
            testing[varname] = context.beaker
        return context

    def __call__(
        self, environ: WSGIEnviron, start_response: StartResponse
    ) -> Iterable[bytes]:
        environ[GET_SESSION_KEY] = self.new_session
        return self.serve(self.request_context(environ), start_response)

    # -- sessions outside a request --------------------------------------------

    def new_session(self) -> BeakerSession:
        """A new session outside any request (``environ["beaker.get_session"]()``):
        ``save()`` stores it at once; its ``id`` names it."""
        return self._standalone(None).beaker

    def get_by_id(self, session_id: str) -> BeakerSession | None:
        """The stored session ``session_id`` (an application call), or None.

        Only an id of the shape we issue is looked up; an unknown, expired or
        corrupt one gives None. The session holds no lock (``concurrency =
        lock``); ``save()`` on it writes at once.

        >>> SessionMiddleware(lambda e, s: [], secret="k").get_by_id("../x") is None
        True
        """
        if not isinstance(session_id, str) or not is_valid_id(session_id):
            return None
        from .context import FixedIdResolver

        context = self._standalone(FixedIdResolver(self.signer, session_id))
        session = context.session
        session.load()
        context.release()
        if session.is_new:
            return None
        return context.beaker

    def _standalone(self, resolver: IdResolver | None) -> BeakerRequestContext:
        return BeakerRequestContext(
            self,
            {},
            auto=False,
            beaker_key=None,
            resolver=resolver,
            standalone=True,
        )


def _local(local_conf: Mapping[str, t.Any]) -> dict[str, t.Any]:
    return {k: v for k, v in local_conf.items() if k not in _PASTE_KEYS}


def filter_app_factory(
    app: WSGIApp, global_conf: Mapping[str, t.Any], **local_conf: t.Any
) -> SessionMiddleware:
    """``egg:wsgi_session#beaker`` (``paste.filter_app_factory``), as Beaker's:
    ``global_conf`` is the configuration, the section's keys the options.

    >>> mw = filter_app_factory(lambda e, s: [], {"here": "/srv"}, secret="k")
    >>> mw.settings.cookie_name
    'beaker.session.id'
    """
    return SessionMiddleware(app, global_conf, **_local(local_conf))


def filter_factory(
    global_conf: Mapping[str, t.Any], **local_conf: t.Any
) -> t.Callable[[WSGIApp], SessionMiddleware]:
    """``egg:wsgi_session#beaker`` (``paste.filter_factory``); the options are
    checked when the file is loaded.

    >>> make = filter_factory({}, **{"session.secret": "k", "session.timeout": "60"})
    >>> make(lambda e, s: []).settings.idle_timeout
    60
    """
    local = _local(local_conf)
    translate_beaker_config(global_conf, **local)  # errors at load time

    def beaker_filter(app: WSGIApp) -> SessionMiddleware:
        return SessionMiddleware(app, global_conf, **local)

    return beaker_filter
