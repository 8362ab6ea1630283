"""Which store a Beaker ``type`` (with ``url`` / ``data_dir``) becomes.

Beaker names its backends (``memory``, ``file``, ``ext:redis``...); the
drop-in stores sessions in the wsgi_session store of the same kind, given by
a store URL (SPEC §5, §14). :func:`beaker_store` makes that choice; each
Beaker type we do not map says why in its :class:`~wsgi_session.ConfigError`.
Stored data is ours, not Beaker's pickles, so sessions in flight start fresh
at the switch; our records never share Beaker's files, keys or tables.

>>> beaker_store({"type": "ext:redis", "url": "redis://cache:6379/1"}).store
'redis://cache:6379/1'
>>> beaker_store({"type": "file", "data_dir": "/var/lib/app/sessions"}).store
'file:///var/lib/app/sessions/wsgi_session'
>>> beaker_store({}).store
'memory://'
"""

from __future__ import annotations

import os
import typing as t
from urllib.parse import quote

from ..errors import ConfigError
from ..stores.urls import parse_store_url

__all__ = ["FILE_SUBDIRECTORY", "STORE_KEYS", "StoreChoice", "beaker_store"]

#: The directory under Beaker's ``data_dir`` that holds our file store,
#: next to Beaker's own ``container_file`` / ``container_dbm`` directories.
FILE_SUBDIRECTORY = "wsgi_session"

#: The Beaker options that choose and configure the backend.
STORE_KEYS = (
    "type",
    "url",
    "data_dir",
    "memcache_module",
    "table_name",
    "schema_name",
    "bind",
    "table",
    "sa_opts",
)

#: Beaker types that have no wsgi_session store, and why.
_UNSUPPORTED = {
    "cookie": (
        "Beaker's client-side cookie sessions keep the data in the browser; "
        "wsgi_session replaces them with server-side sessions: choose a store "
        "type (memory, file, ext:redis, ext:memcached, ext:database...)"
    ),
    "ext:google": (
        "the Google App Engine datastore backend uses the Python 2 App Engine "
        "db API, which has no wsgi_session store; use ext:redis, ext:memcached "
        "or ext:database"
    ),
    "ext:rediscluster": (
        "store URLs do not name Redis Cluster nodes: pass a cachelib RedisCache "
        "whose client is a redis.cluster.RedisCluster as store= (SPEC §5)"
    ),
}

#: The options each Beaker type reads; the others are accepted and ignored.
_USED = {
    "memory": (),
    "file": ("data_dir",),
    "dbm": ("data_dir",),
    "ext:redis": ("url",),
    "ext:memcached": ("url", "memcache_module"),
    "ext:mongodb": ("url",),
    "ext:database": ("url",),
    "ext:sqla": ("bind",),
}

#: ``memcache_module`` values and the ``client=`` of our memcached store.
_MEMCACHE_CLIENTS = {"auto": None, "memcache": "memcache", "pylibmc": "pylibmc"}


class StoreChoice(t.NamedTuple):
    """What :func:`beaker_store` decided: a store, the ignored keys, mistakes."""

    #: A store URL or a SQLAlchemy Engine (``ext:sqla``'s ``bind``); None on error.
    store: t.Any
    #: Store options given that the chosen type does not read.
    ignored: tuple[str, ...]
    #: One error per mistake.
    errors: list[ConfigError]


def _error(key: str, message: str) -> ConfigError:
    return ConfigError(f"{key}: {message}", key=key)


def _checked_url(value: t.Any, kind: str, schemes: tuple[str, ...]) -> str:
    """A store URL of one of ``schemes``, validated by our parser."""
    if not isinstance(value, str) or not value.strip():
        raise _error("url", f"type {kind} needs a url (a {schemes[0]}:// URL)")
    url = value.strip()
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme.split("+", 1)[0] not in schemes:
        raise _error(
            "url",
            f"type {kind} takes a {' or '.join(s + '://' for s in schemes)} URL"
            + (f", not {scheme}://" if scheme and len(scheme) < 20 else ""),
        )
    try:
        parse_store_url(url)
    except ConfigError as exc:
        raise _error("url", str(exc)) from None
    return url


def _file_url(kind: str, data_dir: t.Any) -> str:
    if not isinstance(data_dir, str) or not data_dir.strip():
        raise _error("data_dir", f"type {kind} needs data_dir, a directory")
    path = os.path.join(os.path.abspath(data_dir.strip()), FILE_SUBDIRECTORY)
    return "file://" + quote(path.replace(os.sep, "/"))


def _memcached_url(options: t.Mapping[str, t.Any]) -> str:
    servers = options.get("url")
    if not isinstance(servers, str) or not servers.strip():
        raise _error("url", "type ext:memcached needs a url: host1:11211;host2:11211")
    module = options.get("memcache_module", "auto")
    if module not in _MEMCACHE_CLIENTS:
        raise _error(
            "memcache_module",
            f"expected auto, memcache or pylibmc (the clients wsgi_session "
            f"supports), got {module!r}",
        )
    netloc = ",".join(s.strip() for s in servers.split(";") if s.strip())
    url = f"memcached://{netloc}"
    if _MEMCACHE_CLIENTS[module]:
        url += f"?client={_MEMCACHE_CLIENTS[module]}"
    try:
        parse_store_url(url)
    except ConfigError as exc:
        raise _error("url", str(exc)) from None
    return url


def _sqla_bind(bind: t.Any) -> t.Any:
    # An Engine has .connect() and .url; a Connection has no .connect().
    if bind is None:
        raise _error("bind", "type ext:sqla needs bind, a SQLAlchemy Engine")
    if not (hasattr(bind, "connect") and hasattr(bind, "url")):
        raise _error(
            "bind",
            f"expected a SQLAlchemy Engine (the SQL store opens its own "
            f"connections), got {type(bind).__name__}",
        )
    return bind


def _store(kind: str, options: t.Mapping[str, t.Any]) -> t.Any:
    if kind == "memory":
        return "memory://"
    if kind in ("file", "dbm"):
        return _file_url(kind, options.get("data_dir"))
    if kind == "ext:redis":
        return _checked_url(options.get("url"), kind, ("redis", "rediss"))
    if kind == "ext:mongodb":
        return _checked_url(options.get("url"), kind, ("mongodb", "mongodb+srv"))
    if kind == "ext:memcached":
        return _memcached_url(options)
    if kind == "ext:database":
        schemes = ("postgresql", "postgres", "mysql", "mariadb", "sqlite")
        return _checked_url(options.get("url"), kind, schemes)
    return _sqla_bind(options.get("bind"))  # ext:sqla


def _refused(options: t.Mapping[str, t.Any]) -> list[ConfigError]:
    errors = []
    if options.get("sa_opts"):
        errors.append(
            _error(
                "sa_opts",
                "engine options cannot be translated: build the SQLAlchemy "
                "Engine yourself and pass it as store=",
            )
        )
    if options.get("schema_name"):
        errors.append(
            _error(
                "schema_name",
                "the SQL store has no schema option: select the schema in the "
                "database URL (PostgreSQL: ?options=-csearch_path%3Dname) or in "
                "the Engine",
            )
        )
    return errors


def beaker_store(options: t.Mapping[str, t.Any]) -> StoreChoice:
    """Choose the store for Beaker's backend options (already coerced).

    As in Beaker, no ``type`` means ``file`` when ``data_dir`` is set and
    ``memory`` otherwise. ``file`` and ``dbm`` both become our file store in
    a ``wsgi_session`` directory under ``data_dir`` (a relative ``data_dir``
    is taken from the current directory, as Beaker does, once, now);
    ``ext:database`` keeps its SQLAlchemy URL (our tables, named by
    ``table_prefix``, sit beside Beaker's ``table_name``, which is ignored),
    ``ext:sqla`` its ``bind`` Engine (its ``table`` is ignored).

    >>> beaker_store({"type": "ext:memcached", "url": "m1:11211;m2:11211"}).store
    'memcached://m1:11211,m2:11211'
    >>> beaker_store({"type": "cookie"}).errors  # doctest: +ELLIPSIS
    [ConfigError("type: 'cookie' is not supported: Beaker's client-side ...")]
    """
    kind = options.get("type") or ("file" if options.get("data_dir") else "memory")
    errors = _refused(options)
    if kind in _UNSUPPORTED:
        errors.append(
            _error("type", f"{kind!r} is not supported: {_UNSUPPORTED[kind]}")
        )
        return StoreChoice(None, (), errors)
    if kind not in _USED:
        known = ", ".join(list(_USED) + list(_UNSUPPORTED))
        message = f"unknown Beaker session type {kind!r}; Beaker knows {known}"
        errors.append(_error("type", message))
        return StoreChoice(None, (), errors)
    ignored = tuple(
        key
        for key in STORE_KEYS
        if key in options
        and key not in ("type", "sa_opts", "schema_name")
        and key not in _USED[kind]
    )
    try:
        store = _store(kind, options)
    except ConfigError as exc:
        errors.append(exc)
        store = None
    return StoreChoice(store, ignored, errors)
