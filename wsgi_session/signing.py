"""Session ids and their signatures; the only module that imports itsdangerous.

An id is 256 random bits from :mod:`secrets`; the browser receives
``<id>.<signature>``, signed with HMAC-SHA256 under a salt of our own. Several
secret keys may be given (newest last): all verify, the newest signs, so keys
can be rotated without logging everybody out.

>>> signer = IdSigner(["old-key", "new-key"])
>>> sid = new_session_id()
>>> len(sid)
43
>>> signer.unsign(signer.sign(sid)) == sid
True
>>> signer.unsign("forged." + "A" * 43) is None
True
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Sequence

from itsdangerous import Signer
from itsdangerous.encoding import base64_encode

from .memo import Memo

__all__ = ["ID_BYTES", "IdSigner", "is_valid_id", "new_session_id", "short_hash"]

#: Random bytes in a session id (256 bits).
ID_BYTES = 32
#: Salt of the id signature: a key used elsewhere with itsdangerous cannot
#: forge session cookies, and vice versa.
SALT = b"wsgi_session.id"
#: How many verified signed values are remembered (per signer).
VERIFIED_CACHE_SIZE = 10_000
_ID_RE = re.compile(r"\A[A-Za-z0-9_-]{43}\Z")
#: A signed value never legitimately exceeds this length; longer input is not
#: even handed to the HMAC.
MAX_SIGNED_LENGTH = 200


def new_session_id() -> str:
    """Return a fresh random session id (URL-safe base64, 43 characters).

    >>> new_session_id() != new_session_id()
    True
    """
    return secrets.token_urlsafe(ID_BYTES)


def is_valid_id(value: str) -> bool:
    """Tell whether ``value`` has the shape of an id this library issues.

    >>> is_valid_id(new_session_id()), is_valid_id("../../etc/passwd")
    (True, False)
    """
    return bool(_ID_RE.match(value))


def short_hash(session_id: str) -> str:
    """A short, non-reversible tag of an id, for log lines (never log the id).

    >>> len(short_hash("x" * 43))
    12
    """
    return hashlib.sha256(session_id.encode("ascii", "replace")).hexdigest()[:12]


class IdSigner:
    """Signs and verifies session ids with one or more secret keys.

    ``secret_keys`` is ordered oldest first: the last key signs, every key
    verifies. Signatures are itsdangerous ``Signer`` signatures (HMAC-SHA256,
    our salt, key derivation done once here rather than per request), so
    :class:`itsdangerous.Signer` with the same settings verifies them too.

    >>> old, new = IdSigner(["k1"]), IdSigner(["k1", "k2"])
    >>> value = old.sign("A" * 43)
    >>> new.unsign(value)  # the old key still verifies
    'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'
    >>> IdSigner(["k2"]).unsign(value) is None  # a retired key does not
    True
    """

    def __init__(self, secret_keys: Sequence[str | bytes]) -> None:
        keys = [k.encode("utf-8") if isinstance(k, str) else k for k in secret_keys]
        self.signer = Signer(keys, salt=SALT, digest_method=hashlib.sha256, sep=".")
        derived = [self.signer.derive_key(k) for k in keys]
        self._signing_key = derived[-1]
        self._verify_keys = tuple(reversed(derived))  # newest first
        # Signed values verified recently: a returning cookie costs a dict
        # lookup instead of an HMAC. The key is the whole signed value and
        # only genuine ones are ever remembered, so a hit is a value that
        # verified under one of this signer's keys (which never change).
        self._verified: Memo[str, str] = Memo(VERIFIED_CACHE_SIZE)
        # Ids signed recently (a new session's id is signed for its cookie
        # and again for its URLs; a URL-tracked session on every page): the
        # signature is a function of the id and this signer's fixed key.
        self._signed: Memo[str, str] = Memo(VERIFIED_CACHE_SIZE)

    @staticmethod
    def _signature(key: bytes, session_id: str) -> str:
        digest = hmac.new(key, session_id.encode("ascii"), hashlib.sha256).digest()
        return base64_encode(digest).decode("ascii")

    def sign(self, session_id: str) -> str:
        """Return ``<id>.<signature>``.

        >>> IdSigner(["k"]).sign("A" * 43).startswith("A" * 43 + ".")
        True
        """
        signed = self._signed.get(session_id)
        if signed is None:
            signature = self._signature(self._signing_key, session_id)
            signed = f"{session_id}.{signature}"
            self._signed.put(session_id, signed)
        return signed

    def unsign(self, value: str) -> str | None:
        """Return the id inside a signed value, or None if it is not genuine.

        Never raises, whatever the input.

        >>> IdSigner(["k"]).unsign("\\x00garbage\\u20ac") is None
        True
        """
        cached = self._verified.get(value)
        if cached is not None:
            return cached
        if not value or len(value) > MAX_SIGNED_LENGTH or not value.isascii():
            return None
        session_id, dot, signature = value.rpartition(".")
        if not dot or not _ID_RE.match(session_id):
            return None
        for key in self._verify_keys:
            if hmac.compare_digest(self._signature(key, session_id), signature):
                self._verified.put(value, session_id)
                return session_id
        return None
