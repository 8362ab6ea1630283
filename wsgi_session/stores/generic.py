"""Any other cachelib store (MongoDB, DynamoDB, your own): get/set/add/delete only.

The record is one framed value; a merge runs under a lock made of the
store's ``add`` with an expiry, so it is as atomic as that ``add`` is
(MongoDB and DynamoDB: atomic; a cache whose ``add`` checks then writes: not).
Stores that swallow errors and answer ``None`` to ``get`` cannot be told
apart from a missing session; failed writes (``set`` answering ``False`` /
``None``) do raise StoreUnavailable::

    >>> from cachelib import SimpleCache
    >>> backend = GenericBackend(SimpleCache())
    >>> backend.create("wss:{a}", b"m", {"x": b"1"}, 60)
    True
"""

from __future__ import annotations

import typing as t

from cachelib.base import BaseCache

from ..errors import StoreUnavailable
from .base import MissingClient
from .framed import FramedBackend
from .requirements import install_hint
from .serializer import prepare_store

__all__ = ["GenericBackend", "open_dynamodb_cache", "open_mongodb_cache"]


class GenericBackend(FramedBackend):
    """The Backend protocol over any cachelib BaseCache.

    Store accesses (cache calls): load 1; create 1; merge, touch and delete
    4 or more (lock add, get, set, unlock get + delete).

    >>> from cachelib import SimpleCache
    >>> GenericBackend(SimpleCache()).load("wss:{missing}") is None
    True
    """

    def __init__(self, cache: BaseCache) -> None:
        super().__init__()
        self.cache = prepare_store(cache)

    def _call(self, what: str, fn: t.Callable[..., t.Any], *args: t.Any) -> t.Any:
        self._on_access()
        try:
            return fn(*args)
        except Exception as exc:  # any store error, whatever the client library
            raise StoreUnavailable(
                f"{type(self.cache).__name__}.{what} failed: {exc}", original=exc
            ) from exc

    def _read(self, key: str) -> tuple[bytes | None, object]:
        return self._call("get", self.cache.get, key), None

    def _write(self, key: str, value: bytes, ttl: int) -> None:
        if not self._call("set", self.cache.set, key, value, ttl):
            raise StoreUnavailable(f"{type(self.cache).__name__} refused the write")

    def _add(self, key: str, value: bytes, ttl: int) -> bool:
        return bool(self._call("add", self.cache.add, key, value, ttl))

    def _remove(self, key: str) -> bool:
        return bool(self._call("delete", self.cache.delete, key))


def open_mongodb_cache(
    uri: str, *, db: str, collection: str, key_prefix: str | None = None
) -> BaseCache:
    """Build cachelib's MongoDbCache (needs pymongo; connects to create an index).

    ``mongodb://`` store URLs open their cache with it. An unreachable server
    is StoreUnavailable; no pymongo is MissingClient.

    Example::

        cache = open_mongodb_cache(
            "mongodb://mongo1,mongo2/myapp?replicaSet=rs0",
            db="myapp",
            collection="sessions",
        )
        app = SessionMiddleware(app, secret_key=SECRET_KEY, store=cache)
    """
    try:
        import pymongo
        from cachelib.mongodb import MongoDbCache
    except ImportError as exc:
        hint = install_hint("pymongo")
        raise MissingClient(f"mongodb:// needs pymongo ({hint})") from exc
    try:
        client = pymongo.MongoClient(uri)
        cache = MongoDbCache(
            client, db=db, collection=collection, key_prefix=key_prefix
        )
    except pymongo.errors.PyMongoError as exc:
        raise StoreUnavailable(f"mongodb: {exc}", original=exc) from exc
    return prepare_store(cache)


def open_dynamodb_cache(
    table: str,
    *,
    region: str | None = None,
    endpoint_url: str | None = None,
    key_prefix: str | None = None,
) -> BaseCache:
    """Build cachelib's DynamoDbCache (needs boto3; it contacts AWS at once).

    ``dynamodb://`` store URLs open their cache with it; credentials come
    from boto3's usual sources. No boto3 is MissingClient.

    Example::

        cache = open_dynamodb_cache("sessions", region="eu-west-1")
        local = open_dynamodb_cache("sessions", endpoint_url="http://localhost:8000")
        app = SessionMiddleware(app, secret_key=SECRET_KEY, store=cache)
    """
    try:
        import boto3  # noqa: F401
        from cachelib.dynamodb import DynamoDbCache
    except ImportError as exc:
        hint = install_hint("boto3")
        raise MissingClient(f"dynamodb:// needs boto3 ({hint})") from exc
    kwargs: dict[str, t.Any] = {}
    if region:
        kwargs["region_name"] = region
    if endpoint_url:
        kwargs["endpoint_url"] = endpoint_url
    cache = DynamoDbCache(table_name=table, key_prefix=key_prefix, **kwargs)
    return prepare_store(cache)
