"""Pyramid's session factory: ``request.session`` as a view of our session.

:func:`session_factory` builds the ``ISessionFactory`` that
``config.set_session_factory()`` takes; ``config.include("wsgi_session.pyramid")``
builds one from the app's ``wsgi_session.*`` settings (:func:`includeme`).

* Under the WSGI wrapper (``[filter:session]`` with
  ``use = egg:wsgi_session#session`` in the pipeline, or any
  :class:`~wsgi_session.SessionMiddleware` in front), ``request.session`` is
  the environ's session, URL tracking included; the wrapper saves it.
* Without it the factory opens the session from ``request.environ`` through
  a middleware of its own (its :meth:`~wsgi_session.SessionMiddleware.request_context`)
  and saves it from a response callback with
  :func:`~wsgi_session.finish.finish_headers` (and, in URL mode,
  :func:`~wsgi_session.finish.rewrite_body`): the headers the WSGI wrapper
  would send. A store outage becomes the wrapper's 503.

``user_key`` defaults to ``"auth.userid"``, the key Pyramid's
``SessionAuthenticationHelper`` stores (SPEC §9, §13.1), once the core has
that setting (:data:`~wsgi_session.config.DEFAULTS` lists it).

>>> factory = session_factory(secret_key="k", idle_timeout=600)
>>> factory.middleware.settings.idle_timeout
600
"""

from __future__ import annotations

import functools
import logging
import typing as t
from collections.abc import Iterable, Mapping

from ..config import DEFAULTS
from ..context import CONTEXT_KEY, RequestContext
from ..errors import ConfigError, StoreUnavailable
from ..finish import (
    finish_headers,
    rewrite_body,
    unavailable_response,
    wants_html_rewrite,
)
from ..middleware import SessionMiddleware, StartResponse, WSGIEnviron
from .settings import PREFIX, USER_KEY_PRESET, options_from_settings

if t.TYPE_CHECKING:  # pragma: no cover
    from .session import PyramidSession

__all__ = [
    "REGISTRY_KEY",
    "FactoryMiddleware",
    "PyramidRequestContext",
    "PyramidSessionFactory",
    "factory_from_settings",
    "includeme",
    "session_factory",
    "session_tween_factory",
    "store_unavailable_view",
]

#: Where ``includeme`` keeps the factory in the registry (for the tween).
REGISTRY_KEY = "wsgi_session.pyramid.factory"

log = logging.getLogger("wsgi_session")


def _no_app(environ: WSGIEnviron, start_response: StartResponse) -> Iterable[bytes]:
    """The factory's middleware wraps no app: it only opens and saves sessions."""
    raise RuntimeError("the session factory's middleware serves no requests")


class PyramidRequestContext(RequestContext):
    """A request's pipeline opened by the factory (no WSGI wrapper in front).

    ``finishing`` is True once its response callbacks are registered.

    >>> from types import SimpleNamespace
    >>> factory = session_factory(secret_key="k")
    >>> request = SimpleNamespace(environ={}, add_response_callback=lambda f: None,
    ...                           add_finished_callback=lambda f: None)
    >>> context = factory.context_of(request); context.finishing
    True
    >>> factory.context_of(request) is context  # one pipeline per request
    True
    """

    __slots__ = ("finishing",)

    def __init__(self, middleware: SessionMiddleware, environ: WSGIEnviron) -> None:
        super().__init__(middleware, environ)
        self.finishing = False


class FactoryMiddleware(SessionMiddleware):
    """The middleware behind a factory: it wraps no app.

    It opens :class:`PyramidRequestContext` pipelines for Pyramid's requests.

    >>> middleware = session_factory(secret_key="k").middleware
    >>> type(middleware.request_context({})).__name__
    'PyramidRequestContext'
    """

    def request_context(self, environ: WSGIEnviron) -> PyramidRequestContext:
        """The pipeline of one Pyramid request."""
        return PyramidRequestContext(self, environ)


class PyramidSessionFactory:
    """An ``ISessionFactory``: called with a request, returns its session.

    ``middleware`` opens sessions when no WSGI wrapper is in front; None
    means the wrapper is required (a request without it is a ConfigError).

    >>> from types import SimpleNamespace
    >>> PyramidSessionFactory(None)(SimpleNamespace(environ={}))
    Traceback (most recent call last):
    ...
    wsgi_session.errors.ConfigError: no wsgi_session middleware in front of ...
    """

    def __init__(self, middleware: FactoryMiddleware | None) -> None:
        from .session import PyramidSession  # Pyramid, imported when used

        self.middleware = middleware
        #: The ``ISession`` class of ``request.session``.
        self.session_class: type[PyramidSession] = PyramidSession

    def __call__(self, request: t.Any) -> PyramidSession:
        return self.session_class(self.context_of(request).session)

    def context_of(self, request: t.Any) -> RequestContext:
        """The request's pipeline: the WSGI wrapper's, or one this factory
        opens (and finishes from a response callback)."""
        environ: WSGIEnviron = request.environ
        context = environ.get(CONTEXT_KEY)
        if not isinstance(context, RequestContext):
            middleware = self.middleware
            if middleware is None:
                raise ConfigError(
                    "no wsgi_session middleware in front of this Pyramid app and "
                    f"no {PREFIX}secret_key setting: put the session filter in "
                    f"the pipeline or set {PREFIX}secret_key",
                    key=f"{PREFIX}secret_key",
                )
            context = middleware.request_context(environ)
        if isinstance(context, PyramidRequestContext) and not context.finishing:
            context.finishing = True
            request.add_response_callback(functools.partial(_finish, context))
            request.add_finished_callback(functools.partial(_end, context))
        return context

    def open_untouched(self, request: t.Any) -> None:
        """Open the pipeline of a request before its views run (the tween),
        and finish it even if they never touch the session when its response
        needs us: the probe cookie goes out, or a URL id must stay in links."""
        middleware = self.middleware
        if middleware is None or CONTEXT_KEY in request.environ:
            return
        context = middleware.request_context(request.environ)
        if (
            context.presented.url_value is not None
            or context.cookie_policy.probe(context) is not None
        ):
            self.context_of(request)


def _finish(context: RequestContext, request: t.Any, response: t.Any) -> None:
    """The response callback: save, then give the response our headers."""
    try:
        headers = finish_headers(context, list(response.headerlist))
        body = None
        if wants_html_rewrite(context, response.status, headers):
            headers, body = rewrite_body(context, headers, response.body)
    except StoreUnavailable as exc:
        log.warning("wsgi_session: session store unavailable: %s", exc)
        status, headers, body = unavailable_response()
        response.status = status
    response.headerlist = headers
    if body is not None:
        response.body = body


def _end(context: RequestContext, request: t.Any) -> None:
    """The finished callback: release the lock, fire ``suspended``."""
    context.release()
    context.suspended()


def store_unavailable_view(exc: StoreUnavailable, request: t.Any) -> t.Any:
    """The exception view of a store outage during a view.

    It answers with the 503 of the WSGI wrapper (no traceback), on the
    request's own response object.

    >>> from types import SimpleNamespace
    >>> request = SimpleNamespace(response=SimpleNamespace())
    >>> response = store_unavailable_view(StoreUnavailable("redis down"), request)
    >>> response.status, dict(response.headerlist)["Retry-After"]
    ('503 Service Unavailable', '5')
    """
    log.warning("wsgi_session: session store unavailable: %s", exc)
    status, headers, body = unavailable_response()
    response = request.response
    response.status = status
    response.headerlist = headers
    response.body = body
    return response


def session_factory(**options: t.Any) -> PyramidSessionFactory:
    """A session factory with §2's options (``user_key`` defaults to
    ``"auth.userid"``); every option is checked here.

    >>> session_factory(secret_key="k", tracking="sometimes")
    Traceback (most recent call last):
    ...
    wsgi_session.errors.ConfigError: tracking: ...
    """
    if "user_key" in DEFAULTS:  # §13's setting, where the core has it
        options.setdefault("user_key", USER_KEY_PRESET)
    return PyramidSessionFactory(FactoryMiddleware(_no_app, **options))


def factory_from_settings(settings: Mapping[str, t.Any]) -> PyramidSessionFactory:
    """The factory the ``wsgi_session.*`` keys of ``settings`` describe.

    No such key at all: the factory serves the WSGI wrapper's sessions only.
    Otherwise the keys are coerced as in ini files and checked, a
    ``secret_key`` included; a typo is a ConfigError naming the key.

    >>> factory_from_settings({"pyramid.includes": ""}).middleware is None
    True
    >>> factory_from_settings({"wsgi_session.secret_key": "k",
    ...                        "wsgi_session.idle_timeout": "8h"}
    ...                       ).middleware.settings.idle_timeout
    28800
    """
    if not any(isinstance(k, str) and k.startswith(PREFIX) for k in settings):
        return PyramidSessionFactory(None)
    return session_factory(**options_from_settings(settings))


def session_tween_factory(handler: t.Any, registry: t.Any) -> t.Any:
    """A tween that opens the pipeline of every request, where that is needed.

    It is needed when the factory works without the WSGI wrapper and tracking
    is ``"auto"`` or ``"url"``: pages which never touch ``request.session``
    still get the probe cookie and keep a URL id in their links, as under the
    wrapper (:meth:`PyramidSessionFactory.open_untouched`). Opening costs no
    store round trip: the session loads when it is used. Otherwise the
    ``handler`` itself is returned.

    >>> handler = lambda request: "response"
    >>> cookie_only = {REGISTRY_KEY: session_factory(secret_key="k", tracking="cookie")}
    >>> session_tween_factory(handler, cookie_only) is handler  # nothing to open
    True
    >>> session_tween_factory(handler, {REGISTRY_KEY: session_factory(secret_key="k")})
    <function session_tween_factory.<locals>.session_tween at 0x...>
    """
    factory = registry.get(REGISTRY_KEY)
    if not isinstance(factory, PyramidSessionFactory) or factory.middleware is None:
        return handler
    if factory.middleware.settings.tracking == "cookie":
        return handler

    def session_tween(request: t.Any) -> t.Any:
        factory.open_untouched(request)
        return handler(request)

    return session_tween


def includeme(config: t.Any) -> None:
    """``config.include("wsgi_session.pyramid")``: sessions from the app's settings.

    It sets the session factory the ``wsgi_session.*`` settings describe
    (:func:`factory_from_settings`), opens sessions for untouched pages where
    the tracking mode needs it (:func:`session_tween_factory`), and answers a
    store outage with a 503 (:func:`store_unavailable_view`).

    Example::

        from pyramid.config import Configurator

        settings = {"wsgi_session.secret_key": "change me",
                    "wsgi_session.store": "redis://localhost:6379/0"}
        with Configurator(settings=settings) as config:
            config.include("wsgi_session.pyramid")
            config.scan()
        app = config.make_wsgi_app()
    """
    factory = factory_from_settings(config.get_settings())
    config.set_session_factory(factory)
    config.registry[REGISTRY_KEY] = factory
    config.add_tween("wsgi_session.pyramid.factory.session_tween_factory")
    config.add_exception_view(store_unavailable_view, context=StoreUnavailable)
