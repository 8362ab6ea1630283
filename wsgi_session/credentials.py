"""A session's credentials: its CSRF secret and the user it is bound to.

Both are rare per request and stored as the record's system fields
(:mod:`wsgi_session.recordfields`): the CSRF secret (SPEC §13.2) is made on
first use and rotated on regenerate and login; the user binding (§13.1)
names the signed-in user and the session's handle in that user's index.
:class:`Credentials` keeps them and what changed, and writes their record
form; the :class:`~wsgi_session.state.SessionState` makes one only when a
session has or gets either.

>>> creds = Credentials()
>>> secret = creds.make_secret(); creds.secret == secret, creds.changed
(True, True)
>>> creds.bind("ann", "h1"); fields, removed = {}, set()
>>> creds.write_changes(fields, removed, stored=True); sorted(fields)
['c', 'h', 'u']
>>> creds.saved(); creds.changed
False
"""

from __future__ import annotations

from .csrf import new_secret
from .recordfields import (
    CSRF_FIELD,
    HANDLE_FIELD,
    USER_FIELD,
    SystemFields,
    binding_fields,
)

__all__ = ["Credentials"]


class Credentials:
    """The CSRF secret and user binding of one request's session.

    ``secret``, ``user`` and ``handle`` are public facts (None when absent);
    they change only through the methods, which remember what to save.

    >>> creds = Credentials(secret="old", user="ann", handle="h1")
    >>> creds.rotate_secret(), creds.secret != "old", creds.changed
    (True, True, True)
    >>> creds.unbind(), creds.unbind(), creds.user  # the second finds no user
    (True, False, None)
    """

    __slots__ = ("binding_changed", "handle", "secret", "secret_changed", "user")

    def __init__(
        self,
        secret: str | None = None,
        user: str | None = None,
        handle: str | None = None,
    ) -> None:
        self.secret = secret
        self.user = user
        self.handle = handle
        #: What changed since the session was loaded or last saved.
        self.secret_changed = self.binding_changed = False

    @classmethod
    def stored(cls, system: SystemFields) -> Credentials | None:
        """The credentials of a stored record's system fields, or None."""
        if system.csrf is None and system.user is None:
            return None
        return cls(system.csrf, system.user, system.handle)

    @property
    def changed(self) -> bool:
        """True when there is something to save."""
        return self.secret_changed or self.binding_changed

    @property
    def present(self) -> bool:
        """True when there is a secret or a user (the session is not empty)."""
        return self.secret is not None or self.user is not None

    def make_secret(self) -> str:
        """The CSRF secret, made now if there is none."""
        if self.secret is None:
            self.secret = new_secret()
            self.secret_changed = True
        return self.secret

    def rotate_secret(self) -> bool:
        """Replace an existing secret; False when there is none."""
        if self.secret is None:
            return False
        self.secret = new_secret()
        self.secret_changed = True
        return True

    def bind(self, user: str, handle: str) -> None:
        """The session now belongs to ``user``, listed under ``handle``."""
        self.user, self.handle = user, handle
        self.binding_changed = True

    def unbind(self) -> bool:
        """The session no longer belongs to a user; False if it did not."""
        if self.user is None:
            return False
        self.user = self.handle = None
        self.binding_changed = True
        return True

    def write_changes(
        self, fields: dict[str, bytes], removed: set[str], *, stored: bool
    ) -> None:
        """Add what changed to a save's ``fields`` / ``removed`` (record form);
        ``stored``: the record exists (an unbinding deletes its fields)."""
        if self.secret_changed and self.secret is not None:
            fields[CSRF_FIELD] = self.secret.encode("ascii")
        if self.binding_changed:
            if self.user is not None:
                fields.update(binding_fields(self.user, self.handle))
            elif stored:
                removed.update((USER_FIELD, HANDLE_FIELD))

    def write_all(self, fields: dict[str, bytes]) -> None:
        """Add every credential field of a whole record to ``fields``."""
        if self.secret is not None:
            fields[CSRF_FIELD] = self.secret.encode("ascii")
        if self.user is not None:
            fields.update(binding_fields(self.user, self.handle))

    def saved(self) -> None:
        """The changes are stored."""
        self.secret_changed = self.binding_changed = False
