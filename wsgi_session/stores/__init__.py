"""Session stores: store URLs, the pickle-free adapter, atomic backends.

The only part of wsgi_session that imports cachelib and store clients
(redis, python-memcached, pylibmc, pymongo, boto3; the latter lazily). Their
private APIs are used in ``*_compat`` modules only (one per library, each
stating its supported version range, see :mod:`.requirements`)::

    >>> from wsgi_session.stores import backend_for, open_store
    >>> backend = backend_for(open_store("memory://"))
    >>> backend.create("wss:{id}", b"meta", {"user": b'"ann"'}, ttl=60)
    True
    >>> backend.load("wss:{id}").fields
    {'user': b'"ann"'}
"""

from .base import Backend as Backend
from .base import MissingClient as MissingClient
from .base import Record as Record
from .base import SaveResult as SaveResult
from .base import decode_record as decode_record
from .base import encode_record as encode_record
from .cachelib_compat import close as close_store
from .dispatch import backend_for as backend_for
from .dispatch import is_in_memory as is_in_memory
from .instrument import CountingBackend as CountingBackend
from .serializer import RawSerializer as RawSerializer
from .serializer import prepare_store as prepare_store
from .urls import SCHEMES as SCHEMES
from .urls import StoreSpec as StoreSpec
from .urls import open_store as open_store
from .urls import parse_store_url as parse_store_url

__all__ = [
    "SCHEMES",
    "Backend",
    "CountingBackend",
    "MissingClient",
    "RawSerializer",
    "Record",
    "SaveResult",
    "StoreSpec",
    "backend_for",
    "close_store",
    "decode_record",
    "encode_record",
    "is_in_memory",
    "open_store",
    "parse_store_url",
    "prepare_store",
]
