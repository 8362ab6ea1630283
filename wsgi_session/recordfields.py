"""How a session is laid out in its stored record: which field holds what.

A session is stored as one *record*: a metadata line (:mod:`wsgi_session.meta`)
plus fields. The serialized value of user key ``k`` is field
``DATA_PREFIX + k``; the other fields are the session's own (the *system
fields*): the flash bookkeeping, the CSRF secret (§13.2), the user the
session is bound to and its handle in that user's index (§13.1), and the
tombstone of a session ended by "log out everywhere".

>>> read_system_fields({"dn": b"1", "c": b"secret", "u": b"ann", "h": b"x"})
SystemFields(flash=None, csrf='secret', user='ann', handle='x')
>>> binding_fields("ann", "x")
{'u': b'ann', 'h': b'x'}
"""

from __future__ import annotations

import typing as t
from collections.abc import Mapping

__all__ = [
    "CSRF_FIELD",
    "DATA_PREFIX",
    "HANDLE_FIELD",
    "REVOKED_FIELD",
    "SYS_FIELD",
    "USER_FIELD",
    "SystemFields",
    "binding_fields",
    "read_system_fields",
]

#: Record field prefix of user data keys; the flash bookkeeping lives in
#: SYS_FIELD, the CSRF secret in CSRF_FIELD.
DATA_PREFIX = "d"
SYS_FIELD = "s"
CSRF_FIELD = "c"
#: The user a session is bound to, its handle in the user's index, and the
#: tombstone an ended session's record carries.
USER_FIELD = "u"
HANDLE_FIELD = "h"
REVOKED_FIELD = "r"


class SystemFields(t.NamedTuple):
    """The system fields of a stored record, decoded (None where absent).

    ``flash`` stays bytes: the flash state decodes it with the serializer.

    >>> fields = read_system_fields({"u": b"ann", "dcart": b"[1]"})
    >>> fields.user, fields.handle  # "dcart" is user data, not a system field
    ('ann', None)
    """

    flash: bytes | None
    csrf: str | None
    user: str | None
    handle: str | None


def _ascii(data: bytes) -> str:
    """A stored ASCII field; ValueError when it is not one (a corrupt record)."""
    try:
        return data.decode("ascii")
    except UnicodeDecodeError:
        raise ValueError("corrupt session field") from None


def read_system_fields(fields: Mapping[str, bytes]) -> SystemFields:
    """The system fields of ``fields``; ValueError when one is corrupt.

    >>> read_system_fields({"c": b"\\xff"})
    Traceback (most recent call last):
    ...
    ValueError: corrupt session field
    """
    csrf = fields.get(CSRF_FIELD)
    user = fields.get(USER_FIELD)
    handle = fields.get(HANDLE_FIELD) if user is not None else None
    return SystemFields(
        fields.get(SYS_FIELD),
        None if csrf is None else _ascii(csrf),
        None if user is None else user.decode("utf-8", "surrogatepass"),
        None if handle is None else _ascii(handle),
    )


def binding_fields(user: str, handle: str | None) -> dict[str, bytes]:
    """The fields that bind a record to ``user`` (and its index ``handle``).

    >>> binding_fields("ann", "ab.cd"), binding_fields("ann", None)
    ({'u': b'ann', 'h': b'ab.cd'}, {'u': b'ann'})
    """
    fields = {USER_FIELD: user.encode("utf-8", "surrogatepass")}
    if handle is not None:
        fields[HANDLE_FIELD] = handle.encode("ascii")
    return fields
