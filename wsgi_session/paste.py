"""PasteDeploy entry points: the middleware as a ``[filter:session]`` of an ini file.

PasteDeploy finds these through the ``paste.filter_factory`` and
``paste.filter_app_factory`` entry points named ``session``; this module does
not import PasteDeploy. A deployment file::

    [DEFAULT]
    wsgi_session.secret_key = ${APP_SECRET}

    [app:main]
    use = egg:myapp
    filter-with = session

    [filter:session]
    use = egg:wsgi_session#session
    store = redis://localhost:6379/0
    idle_timeout = 30m

The keys of the filter section are the setting names of
:class:`~wsgi_session.SessionMiddleware`, coerced as in
:func:`~wsgi_session.inifile.coerce_mapping`, every mistake reported at once.
From ``global_conf`` (``[DEFAULT]`` and ``set`` lines, shared by every section
of the file) only keys prefixed
``wsgi_session.`` are read, as settings of lower priority than the filter
section's; the rest of ``global_conf`` (``here``, ``__file__``, the app's own
settings) is ignored. The prefix keeps the shared section free of clashes:
PasteDeploy drops a section's key that has the same name as a ``[DEFAULT]`` key.

PasteDeploy itself interpolates ``%(here)s``: write ``%%`` for a literal ``%``
(in a secret, say), or read the value from the environment with ``${NAME}``.
"""

from __future__ import annotations

import typing as t

from .errors import ConfigError
from .inifile import coerce_each, resolve_layers
from .middleware import SessionMiddleware, WSGIApp

__all__ = ["GLOBAL_PREFIX", "filter_app_factory", "filter_factory"]

#: Prefix of the ``global_conf`` keys (``[DEFAULT]``) that are our settings.
GLOBAL_PREFIX = "wsgi_session."
#: Keys of a filter section that belong to PasteDeploy, not to us.
_PASTE_KEYS = frozenset({"use"})


def _options(
    global_conf: t.Mapping[str, t.Any], local_conf: t.Mapping[str, t.Any]
) -> tuple[dict[str, t.Any], str]:
    """The validated settings of one filter, and where they come from.

    Every mistake of the filter section and of ``[DEFAULT]`` is reported in
    one :class:`~wsgi_session.ConfigError`.
    """
    file = global_conf.get("__file__")
    source = f"PasteDeploy config {file}" if file else "PasteDeploy config"
    shared = {
        key[len(GLOBAL_PREFIX) :]: value
        for key, value in global_conf.items()
        if key.startswith(GLOBAL_PREFIX)
    }
    own = {k: v for k, v in local_conf.items() if k not in _PASTE_KEYS}
    layers = [
        coerce_each(shared, source=source, section="DEFAULT"),
        coerce_each(own, source=source),
    ]
    return resolve_layers(layers, source), source


def _located(error: ConfigError, source: str) -> ConfigError:
    return ConfigError(f"{error} (in {source})", key=error.key)


def filter_app_factory(
    app: WSGIApp, global_conf: t.Mapping[str, t.Any], **local_conf: t.Any
) -> SessionMiddleware:
    """Wrap ``app`` (the ``paste.filter_app_factory`` protocol).

    >>> def app(environ, start_response):
    ...     return []
    >>> wrapped = filter_app_factory(
    ...     app, {"wsgi_session.secret_key": "k"}, idle_timeout="15m"
    ... )
    >>> wrapped.settings.idle_timeout
    900
    """
    options, source = _options(global_conf, local_conf)
    try:
        return SessionMiddleware(app, **options)
    except ConfigError as exc:
        raise _located(exc, source) from exc


def filter_factory(
    global_conf: t.Mapping[str, t.Any], **local_conf: t.Any
) -> t.Callable[[WSGIApp], SessionMiddleware]:
    """Return a function that wraps an app (the ``paste.filter_factory`` protocol).

    The settings are checked here, when the config file is loaded.

    >>> make_filter = filter_factory({}, secret_key="k", cookie_httponly="off")
    >>> make_filter(lambda environ, start_response: []).settings.cookie_httponly
    False
    >>> try:
    ...     filter_factory({}, secret_key="k", cookie_httponly="maybe")
    ... except ConfigError as exc:
    ...     print(exc)  # doctest: +ELLIPSIS
    cookie_httponly: invalid value 'maybe' in PasteDeploy config; expected a boolean...
    """
    options, source = _options(global_conf, local_conf)

    def session_filter(app: WSGIApp) -> SessionMiddleware:
        try:
            return SessionMiddleware(app, **options)
        except ConfigError as exc:
            raise _located(exc, source) from exc

    return session_filter
