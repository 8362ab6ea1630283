"""The stored sessions: find, create, update, move and delete, with their lifetime.

:class:`SessionRepository` is the request pipeline's only way to the store
(a :class:`~wsgi_session.stores.Backend`). It decides whether a stored
session may be served (found, genuine, bound to this User-Agent where it
must be, not expired: :class:`Refusal` says why not), what a save writes
(a merge of the changes, a full replace, or only a refreshed expiry, per the
rules of :mod:`wsgi_session.lifetime`) and reports what it did as a
:class:`Wrote`. It fires no events and sets no cookies: the pipeline does.

>>> from wsgi_session.stores import backend_for, open_store
>>> from wsgi_session.state import SessionState
>>> repo = SessionRepository(backend_for(open_store("memory://")))
>>> state = SessionState(); state.start(); state.set_value("n", 1)
>>> repo.save(state, token=None)
<Wrote.CREATED: 'created'>
>>> meta, record = repo.find(state.id, agent=lambda: None, from_url=False)
>>> sorted(record.fields)
['dn']
>>> repo.find("B" * 43, agent=lambda: None, from_url=False)
<Refusal.UNKNOWN: 'unknown'>
"""

from __future__ import annotations

import contextlib
import enum
import hashlib
import logging
import time
import typing as t

from .errors import StoreUnavailable
from .lifetime import expired, refresh_due, store_ttl
from .memo import Memo
from .meta import SessionMeta, now_ms
from .recordfields import REVOKED_FIELD
from .signing import short_hash
from .state import SessionState
from .stores import Backend, Record, SaveResult

__all__ = [
    "CREATED",
    "ENDED",
    "NOTHING",
    "REFRESHED",
    "WRITTEN",
    "Found",
    "Refusal",
    "SessionRepository",
    "Wrote",
    "lock_ttl",
    "store_key",
]

log = logging.getLogger("wsgi_session")


def lock_ttl(lock_timeout: int) -> int:
    """Expiry of a session lock: half the wait, so a dead holder's lock frees
    itself (plus a store's clock slack of about a second) before waiters give up.

    >>> lock_ttl(10), lock_ttl(1)
    (5, 1)
    """
    return max(1, lock_timeout // 2)


#: Store keys of recent ids (every request of a session hashes the same id):
#: the key is the id, and the store key is a pure function of it.
_store_keys: Memo[str, str] = Memo(4096)


def store_key(session_id: str) -> str:
    """The store key of a session id: a prefix and a hash, never the id itself.

    The braces are a Redis Cluster hash tag: all keys of one session share a slot.

    >>> store_key("A" * 43)
    'wss:{0f007385b6f9d4b7eeb2748605afe1a9}'
    """
    key = _store_keys.get(session_id)
    if key is None:
        digest = hashlib.sha256(session_id.encode("ascii")).hexdigest()[:32]
        key = "wss:{" + digest + "}"
        _store_keys.put(session_id, key)
    return key


class Refusal(enum.Enum):
    """Why a presented id does not resume a stored session."""

    #: No entry under that id (never was, deleted, or expired by its TTL).
    UNKNOWN = "unknown"
    #: The entry's metadata or flash field is corrupt (it has been deleted;
    #: an entry that is not a record at all counts as UNKNOWN).
    CORRUPT = "corrupt"
    #: The session is bound to another User-Agent.
    BINDING_MISMATCH = "binding_mismatch"
    #: Idle or absolute timeout passed (the entry has been deleted).
    EXPIRED = "expired"
    #: Ended by "log out everywhere" (its tombstone has been deleted).
    REVOKED = "revoked"


class Wrote(enum.Enum):
    """What a save did to the store."""

    #: Nothing was written (no changes and no refresh due, or nothing to keep).
    NOTHING = "nothing"
    #: A new entry was created.
    CREATED = "created"
    #: The changes were written into the stored entry.
    WRITTEN = "written"
    #: Only the stored entry's expiry was renewed.
    REFRESHED = "refreshed"
    #: The entry was gone (ended concurrently) or emptied: the session ended.
    ENDED = "ended"


#: A stored session that may be served: its decoded metadata and its record
#: (fields and write token). A plain pair: a named tuple costs 0.4 us to make
#: on every request that resumes a session.
Found = t.Tuple[SessionMeta, Record]

# Enum member lookups cost about 150 ns each on Python 3.11 (faster from
# 3.12); the request path compares with these module constants instead.
NOTHING, CREATED, WRITTEN = Wrote.NOTHING, Wrote.CREATED, Wrote.WRITTEN
REFRESHED, ENDED = Wrote.REFRESHED, Wrote.ENDED
_SAVED, _GONE = SaveResult.SAVED, SaveResult.GONE


class SessionRepository:
    """The stored sessions of one store, with their lifetime rules.

    ``concurrency`` is §7's mode, ``lock_timeout`` its lock wait,
    ``absolute_timeout`` the limit since creation (or None).
    """

    __slots__ = ("absolute_timeout", "backend", "concurrency", "lock_timeout", "locks")

    def __init__(
        self,
        backend: Backend,
        *,
        concurrency: str = "merge",
        lock_timeout: int = 10,
        absolute_timeout: int | None = None,
    ) -> None:
        self.backend = backend
        self.concurrency = concurrency
        #: True when a request takes the session lock (``"lock"`` mode).
        self.locks = concurrency == "lock"
        self.lock_timeout = lock_timeout
        self.absolute_timeout = absolute_timeout

    # -- reading ----------------------------------------------------------------

    def lock(self, session_id: str) -> t.ContextManager[None] | None:
        """Take the session lock in ``"lock"`` mode (None otherwise); the
        caller releases it at the end of the request."""
        if not self.locks:
            return None
        # The lock expires well before a waiter gives up, so a worker that
        # died holding it delays the next request but never fails it.
        timeout = self.lock_timeout
        lock = self.backend.lock(
            store_key(session_id), timeout=timeout, ttl=lock_ttl(timeout)
        )
        lock.__enter__()
        return lock

    def find(
        self,
        session_id: str,
        agent: t.Callable[[], str | None],
        from_url: bool,
    ) -> Found | Refusal:
        """The stored session ``session_id`` if it may be served now.

        ``agent()`` is the request's User-Agent binding (asked only when
        needed: it hashes a header); a session whose id came in a URL, or has
        ever been written into one, is served only to the agent that created
        it (a leaked URL id replayed as a cookie included).
        """
        key = store_key(session_id)
        try:
            record = self.backend.load(key)
        except ValueError:  # not a record we wrote: corrupt or planted
            self.drop_corrupt(session_id)
            record = None
        if record is None:
            return Refusal.UNKNOWN
        try:
            meta = SessionMeta.decode(record.meta)
        except ValueError:
            self.drop_corrupt(session_id)
            return Refusal.CORRUPT
        if REVOKED_FIELD in record.fields:
            self.backend.delete(key)
            log.debug("wsgi_session: session %s was ended", short_hash(session_id))
            return Refusal.REVOKED
        if (from_url or meta.exposed) and meta.binding != agent():
            return Refusal.BINDING_MISMATCH
        if expired(meta, self.absolute_timeout, time.time()):
            self.backend.delete(key)
            log.debug("wsgi_session: session %s expired", short_hash(session_id))
            return Refusal.EXPIRED
        return meta, record

    def drop_corrupt(self, session_id: str) -> None:
        """Delete an entry that is not a record we wrote, and say so."""
        log.warning(
            "wsgi_session: stored session %s is corrupt; starting a fresh one",
            short_hash(session_id),
        )
        self.backend.delete(store_key(session_id))

    # -- writing ----------------------------------------------------------------

    def ttl(self, meta: SessionMeta) -> int:
        """The store TTL of an entry written now with ``meta``."""
        return store_ttl(meta, self.absolute_timeout)

    def save(self, state: SessionState, token: object) -> Wrote:
        """Write what this request changed (§2, §7): a stored session gets its
        changes merged in (or its expiry refreshed when due); a new one with
        data is created; an empty new one is never written.

        Raises StoreUnavailable or SerializationError with the stored copy
        left as it was.
        """
        if state.stored:
            return self._update(state, token)
        if state.has_data:
            self._create(state)
            return CREATED
        return NOTHING

    def _update(self, state: SessionState, token: object) -> Wrote:
        unchanged = state.unchanged
        if unchanged and not refresh_due(state.meta, time.time()):
            return NOTHING  # the common read-only request
        now = now_ms()
        assert state.id is not None
        key = store_key(state.id)
        fields, removed = ({}, set()) if unchanged else state.changes()
        if fields or removed or state.meta_changed:
            meta = state.meta.written_at(now)
            if self.concurrency == "none":
                all_fields = state.all_fields(fields)
                result = self.backend.replace(
                    key, meta.encode(), all_fields, self.ttl(meta)
                )
            else:
                result = self.backend.merge(
                    key, meta.encode(), fields, removed, self.ttl(meta), token=token
                )
            if result is not _SAVED:
                if result is _GONE:
                    log.debug(
                        "wsgi_session: session ended concurrently; not resurrected"
                    )
                return ENDED
            state.saved(meta)
            return WRITTEN
        if not refresh_due(state.meta, now):
            return NOTHING
        meta = state.meta.written_at(now)
        if not self.backend.touch(key, meta.encode(), self.ttl(meta)):
            return ENDED
        state.refreshed(meta)
        return REFRESHED

    def _create(self, state: SessionState) -> None:
        fields = state.all_fields()
        meta = state.meta.written_at(now_ms())
        for _attempt in range(3):
            assert state.id is not None
            if self.backend.create(
                store_key(state.id), meta.encode(), fields, self.ttl(meta)
            ):
                break
            state.renew_id()  # an id collision: practically impossible, but safe
        else:
            raise StoreUnavailable("could not store a new session")
        state.saved(meta)

    def move(self, state: SessionState, new_id: str) -> None:
        """Store the session (with this request's changes so far) under
        ``new_id``, then delete the old entry (regenerate). Raises
        StoreUnavailable with the old entry intact when either step fails."""
        backend = self.backend
        old_id = state.id
        assert old_id is not None
        meta = state.meta.written_at(now_ms())
        new_key = store_key(new_id)
        fields = state.all_fields()
        if not fields:  # nothing left to keep: the old entry just goes
            backend.delete(store_key(old_id))
            state.unstored(new_id)
            return
        if not backend.create(new_key, meta.encode(), fields, self.ttl(meta)):
            raise StoreUnavailable("could not store the regenerated session")
        try:
            backend.delete(store_key(old_id))
        except StoreUnavailable as exc:
            with contextlib.suppress(StoreUnavailable):
                backend.delete(new_key)  # else it expires: nobody knows its id
            state.fail(exc)
            raise
        state.assign_id(new_id)
        state.saved(meta)
        log.debug(
            "wsgi_session: session %s regenerated as %s",
            short_hash(old_id),
            short_hash(new_id),
        )

    def delete(self, session_id: str) -> None:
        """Delete the stored entry of ``session_id`` now (destroy)."""
        self.backend.delete(store_key(session_id))
        log.debug(
            "wsgi_session: session %s removed from the store", short_hash(session_id)
        )
