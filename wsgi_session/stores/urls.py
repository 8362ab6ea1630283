"""Store URLs: parse ``memory://``, ``file://``, ``redis://``… and open the store.

:func:`parse_store_url` only validates and returns the factory arguments
(no import of a client library, no connection); :func:`open_store` builds the
cachelib cache. Every problem is a :class:`~wsgi_session.errors.ConfigError`
with ``key="store"``; messages never repeat the URL (it may hold a password)::

    >>> parse_store_url("memory://?threshold=5000")
    StoreSpec(scheme='memory', options={'threshold': 5000})
    >>> parse_store_url("ftp://host")
    Traceback (most recent call last):
    ...
    wsgi_session.errors.ConfigError: unsupported store URL scheme 'ftp'; use one of: ...
"""

from __future__ import annotations

import os
import re
import typing as t
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from cachelib.base import BaseCache

from ..errors import ConfigError
from .base import DEFAULT_THRESHOLD

__all__ = ["SCHEMES", "StoreSpec", "open_store", "parse_store_url"]

#: The URL schemes :func:`open_store` accepts.
SCHEMES = (
    "memory",
    "file",
    "redis",
    "rediss",
    "memcached",
    "mongodb",
    "mongodb+srv",
    "dynamodb",
    "sqlite",
    "postgresql",
    "mysql",
    "mariadb",
)

#: SQL schemes (optionally ``+driver``); see :mod:`wsgi_session.stores.sql`.
_SQL_SCHEMES = ("sqlite", "postgresql", "postgres", "mysql", "mariadb")
_SQL_OPTIONS = ("table_prefix", "pre_ping", "pool_size")

_Options = dict[str, str]


@dataclass(frozen=True)
class StoreSpec:
    """A parsed store URL: its scheme and the keyword arguments of its factory.

    >>> parse_store_url("file:///tmp/s?mode=0640").options["mode"] == 0o640
    True
    """

    scheme: str
    options: dict[str, t.Any]


def _fail(message: str) -> t.NoReturn:
    raise ConfigError(message, key="store")


def _query(scheme: str, query: str, accepted: t.Iterable[str]) -> _Options:
    accepted = tuple(accepted)
    options: _Options = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        if name not in accepted:
            hint = ", ".join(accepted) if accepted else "no options"
            _fail(f"unknown option {name!r} in {scheme}:// store URL; accepted: {hint}")
        if name in options:
            _fail(f"option {name!r} given twice in {scheme}:// store URL")
        if value == "":
            _fail(f"option {name!r} of {scheme}:// store URL has no value")
        options[name] = value
    return options


def _int(name: str, value: str, minimum: int) -> int:
    try:
        number = int(value, 10)
    except ValueError:
        _fail(f"store URL option {name!r} must be an integer, not {value!r}")
    if number < minimum:
        _fail(f"store URL option {name!r} must be at least {minimum}, not {number}")
    return number


def _seconds(name: str, value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        _fail(f"store URL option {name!r} must be a number of seconds, not {value!r}")
    if not 0 < number < float("inf"):
        _fail(f"store URL option {name!r} must be a positive number, not {value!r}")
    return number


def _threshold(options: _Options) -> int:
    if "threshold" not in options:
        return DEFAULT_THRESHOLD
    return _int("threshold", options["threshold"], 1)


def _memory(parts: t.Any) -> dict[str, t.Any]:
    if parts.netloc or parts.path not in ("", "/"):
        _fail("memory:// store URL takes no host or path (memory://?threshold=N)")
    options = _query("memory", parts.query, ["threshold"])
    return {"threshold": _threshold(options)}


def _file(parts: t.Any) -> dict[str, t.Any]:
    if parts.netloc not in ("", "localhost"):
        _fail("file:// store URL needs an absolute path: file:///var/lib/app/sessions")
    path = unquote(parts.path)
    if os.name == "nt" and re.match(r"^/[A-Za-z]:", path):
        path = path[1:]
    if not path or not os.path.isabs(path):
        _fail("file:// store URL needs an absolute path: file:///var/lib/app/sessions")
    options = _query("file", parts.query, ["threshold", "mode"])
    result: dict[str, t.Any] = {
        "cache_dir": path,
        "threshold": _threshold(options),
    }
    if "mode" in options:
        try:
            result["mode"] = int(options["mode"], 8)
        except ValueError:
            _fail("store URL option 'mode' must be an octal file mode like 0600")
        if not 0 < result["mode"] <= 0o777:
            _fail("store URL option 'mode' must be an octal file mode like 0600")
    return result


_SSL_OPTIONS = ("ssl_cert_reqs", "ssl_ca_certs", "ssl_certfile", "ssl_keyfile")


def _redis(parts: t.Any) -> dict[str, t.Any]:
    tls = parts.scheme == "rediss"
    accepted = [
        "key_prefix",
        "db",
        "socket_timeout",
        "socket_connect_timeout",
        "health_check_interval",
        "max_connections",
    ]
    options = _query(
        parts.scheme, parts.query, accepted + list(_SSL_OPTIONS if tls else ())
    )
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        _fail(f"{parts.scheme}:// store URL has an invalid port")
    result: dict[str, t.Any] = {"host": host or "localhost", "port": port or 6379}
    if tls:
        result["ssl"] = True
    if parts.username:
        result["username"] = unquote(parts.username)
    if parts.password is not None:
        result["password"] = unquote(parts.password)
    db = parts.path.strip("/")
    if db and "db" in options:
        _fail(f"{parts.scheme}:// store URL gives the database twice (path and ?db=)")
    db = db or options.pop("db", "0")
    if not db.isdigit():
        _fail(f"{parts.scheme}:// store URL database must be a number, like /0")
    result["db"] = int(db)
    for name in ("socket_timeout", "socket_connect_timeout"):
        if name in options:
            result[name] = _seconds(name, options[name])
    if "health_check_interval" in options:
        result["health_check_interval"] = _int(
            "health_check_interval", options["health_check_interval"], 0
        )
    if "max_connections" in options:
        result["max_connections"] = _int(
            "max_connections", options["max_connections"], 1
        )
    if "key_prefix" in options:
        result["key_prefix"] = options["key_prefix"]
    if "ssl_cert_reqs" in options:
        if options["ssl_cert_reqs"] not in ("none", "optional", "required"):
            _fail("store URL option 'ssl_cert_reqs' must be none, optional or required")
        result["ssl_cert_reqs"] = options["ssl_cert_reqs"]
    for name in _SSL_OPTIONS[1:]:
        if name in options:
            result[name] = options[name]
    return result


_HOST_PORT = re.compile(
    r"^(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<host>[^:\[\]/@]+))(?::(?P<port>\d+))?$"
)


def _memcached(parts: t.Any) -> dict[str, t.Any]:
    if "@" in parts.netloc:
        _fail("memcached:// store URL takes no user or password")
    if parts.path not in ("", "/"):
        _fail(
            "memcached:// store URL takes no path: memcached://host1:11211,host2:11211"
        )
    servers = []
    for item in parts.netloc.split(",") if parts.netloc else ["127.0.0.1"]:
        match = _HOST_PORT.match(item)
        if not match:
            _fail(f"memcached:// store URL has an invalid server {item!r}")
        port = int(match["port"] or 11211)
        if not 0 < port < 65536:
            _fail(f"memcached:// store URL has an invalid port {port}")
        host = match["host"] or f"inet6:[{match['v6']}]"
        servers.append(f"{host}:{port}")
    options = _query(
        "memcached",
        parts.query,
        ["key_prefix", "client", "socket_timeout", "dead_retry", "max_value_length"],
    )
    result: dict[str, t.Any] = {"servers": servers}
    if "key_prefix" in options:
        result["key_prefix"] = options["key_prefix"]
    if "client" in options:
        if options["client"] not in ("memcache", "pylibmc"):
            _fail("store URL option 'client' must be memcache or pylibmc")
        result["client"] = options["client"]
    if "socket_timeout" in options:
        result["socket_timeout"] = _seconds("socket_timeout", options["socket_timeout"])
    if "dead_retry" in options:
        result["dead_retry"] = _seconds("dead_retry", options["dead_retry"])
    if "max_value_length" in options:
        result["max_value_length"] = _int(
            "max_value_length", options["max_value_length"], 1
        )
    return result


def _mongodb(parts: t.Any) -> dict[str, t.Any]:
    ours = ("collection", "key_prefix")
    query = parse_qsl(parts.query, keep_blank_values=True)
    options = {name: value for name, value in query if name in ours}
    rest = [(name, value) for name, value in query if name not in ours]
    db = unquote(parts.path.strip("/")) or "wsgi_session"
    uri = urlunsplit((parts.scheme, parts.netloc, "/" + db, urlencode(rest), ""))
    return {
        "uri": uri,
        "db": db,
        "collection": options.get("collection", "sessions"),
        "key_prefix": options.get("key_prefix"),
    }


_TABLE = re.compile(r"^[A-Za-z0-9_.-]{3,255}$")


def _dynamodb(parts: t.Any) -> dict[str, t.Any]:
    table = unquote(parts.netloc)
    if not _TABLE.match(table) or parts.path not in ("", "/"):
        _fail("dynamodb:// store URL needs a table name: dynamodb://table?region=…")
    options = _query("dynamodb", parts.query, ["region", "endpoint_url", "key_prefix"])
    return {
        "table": table,
        "region": options.get("region"),
        "endpoint_url": options.get("endpoint_url"),
        "key_prefix": options.get("key_prefix"),
    }


def _sql(url: str) -> dict[str, t.Any]:
    """Our options (table_prefix, pre_ping, pool_size); the rest of the query
    goes to SQLAlchemy and the driver."""
    base, _, query_string = url.partition("?")
    scheme = base.split("://", 1)[0]
    query = parse_qsl(query_string, keep_blank_values=True)
    ours = dict(
        _query(
            scheme,
            urlencode([(name, value) for name, value in query if name in _SQL_OPTIONS]),
            _SQL_OPTIONS,
        )
    )
    rest = [(name, value) for name, value in query if name not in _SQL_OPTIONS]
    result: dict[str, t.Any] = {"url": base + ("?" + urlencode(rest) if rest else "")}
    if "table_prefix" in ours:
        result["table_prefix"] = ours["table_prefix"]
    if "pre_ping" in ours:
        flag = ours["pre_ping"].lower()
        if flag not in ("true", "false", "1", "0", "yes", "no"):
            _fail("store URL option 'pre_ping' must be true or false")
        result["pre_ping"] = flag in ("true", "1", "yes")
    if "pool_size" in ours:
        result["pool_size"] = _int("pool_size", ours["pool_size"], 1)
    return result


_PARSERS: dict[str, t.Callable[[t.Any], dict[str, t.Any]]] = {
    "memory": _memory,
    "file": _file,
    "redis": _redis,
    "rediss": _redis,
    "memcached": _memcached,
    "mongodb": _mongodb,
    "mongodb+srv": _mongodb,
    "dynamodb": _dynamodb,
}


def parse_store_url(url: str) -> StoreSpec:
    """Validate a store URL and return what :func:`open_store` would build.

    >>> spec = parse_store_url("redis://:s3cret@cache:6380/2?key_prefix=app:")
    >>> spec.options["host"], spec.options["port"], spec.options["db"]
    ('cache', 6380, 2)
    >>> spec.options["password"], spec.options["key_prefix"]
    ('s3cret', 'app:')
    """
    if not isinstance(url, str):
        _fail(f"store must be a cache or a URL string, not {type(url).__name__}")
    url = url.strip()
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme.split("+", 1)[0] in _SQL_SCHEMES:
        if "#" in url:
            _fail(f"{scheme}:// store URL must not have a #fragment")
        return StoreSpec("sql", _sql(url))
    if scheme not in _PARSERS:
        accepted = ", ".join(f"{name}://" for name in SCHEMES)
        shown = f" {scheme!r}" if scheme and len(scheme) < 20 else ""
        _fail(f"unsupported store URL scheme{shown}; use one of: {accepted}")
    if "#" in url:
        _fail(f"{scheme}:// store URL must not have a #fragment")
    parts = urlsplit(url)
    return StoreSpec(scheme, _PARSERS[scheme](parts))


def open_store(url: t.Any) -> BaseCache:
    """Open the cachelib store a URL names, ready for sessions (no pickle).

    Client libraries are imported here, not before; a missing one is a
    ConfigError naming the ``pip install`` to run. Nothing connects yet
    (except ``mongodb://`` and ``dynamodb://``, whose caches do at once).

    >>> cache = open_store("memory://?threshold=10000")
    >>> type(cache).__name__, cache._threshold
    ('MemoryCache', 10000)
    """
    from .sql_ref import is_sql_engine

    if is_sql_engine(url):  # a SQLAlchemy Engine
        from .sql import wrap_engine

        return wrap_engine(url)
    spec = parse_store_url(url)
    options = spec.options
    if spec.scheme == "sql":
        from .sql import open_sql_store

        return open_sql_store(**options)
    if spec.scheme == "memory":
        from .memory import MemoryCache

        return MemoryCache(**options)
    if spec.scheme == "file":
        from .file import FileCache

        try:
            return FileCache(**options)
        except OSError as exc:
            _fail(f"cannot use the file:// store directory: {exc}")
    if spec.scheme in ("redis", "rediss"):
        from .redis import open_redis_cache

        return open_redis_cache(**options)
    if spec.scheme == "memcached":
        from .memcached import open_memcached_cache

        return open_memcached_cache(**options)
    if spec.scheme in ("mongodb", "mongodb+srv"):
        from .generic import open_mongodb_cache

        return open_mongodb_cache(**options)
    from .generic import open_dynamodb_cache

    return open_dynamodb_cache(**options)
