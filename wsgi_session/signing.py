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
import re
import secrets
from collections.abc import Sequence

from itsdangerous import BadSignature, Signer

__all__ = ["ID_BYTES", "IdSigner", "is_valid_id", "new_session_id", "short_hash"]

#: Random bytes in a session id (256 bits).
ID_BYTES = 32
#: Salt of the id signature: a key used elsewhere with itsdangerous cannot
#: forge session cookies, and vice versa.
SALT = b"wsgi_session.id"
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
    verifies.

    >>> old, new = IdSigner(["k1"]), IdSigner(["k1", "k2"])
    >>> value = old.sign("A" * 43)
    >>> new.unsign(value)  # the old key still verifies
    'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'
    >>> IdSigner(["k2"]).unsign(value) is None  # a retired key does not
    True
    """

    def __init__(self, secret_keys: Sequence[str | bytes]) -> None:
        keys = [k.encode("utf-8") if isinstance(k, str) else k for k in secret_keys]
        self._signer = Signer(keys, salt=SALT, digest_method=hashlib.sha256, sep=".")

    def sign(self, session_id: str) -> str:
        """Return ``<id>.<signature>``.

        >>> IdSigner(["k"]).sign("A" * 43).startswith("A" * 43 + ".")
        True
        """
        return self._signer.sign(session_id).decode("ascii")

    def unsign(self, value: str) -> str | None:
        """Return the id inside a signed value, or None if it is not genuine.

        Never raises, whatever the input.

        >>> IdSigner(["k"]).unsign("\\x00garbage\\u20ac") is None
        True
        """
        if not value or len(value) > MAX_SIGNED_LENGTH or not value.isascii():
            return None
        try:
            session_id = self._signer.unsign(value).decode("ascii")
        except (BadSignature, UnicodeDecodeError, ValueError):
            return None
        return session_id if is_valid_id(session_id) else None
