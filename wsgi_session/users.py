"""A user's sessions: the per-user index, listing them, ending them (SPEC §13.1).

A session *bound* to a user (see :setting:`user_key`) has an entry in that
user's index, one record in the same store as the sessions (so it works on
every store through the :class:`~wsgi_session.stores.Backend` contract, each
change an atomic ``merge``): field ``e<handle>`` per session, and field ``w``,
the *watermark*, the time of the user's last "end all sessions".

* Ending a session writes a **tombstone** into its record (field ``r``): the
  next request of that session finds it, gets a new empty session, and
  ``ended(session, EndReason.REVOKED)`` fires (once: the tombstone is then
  deleted). A read-only request of a bound session never reads the index.
* **Login racing "end all".** A login first stores its session, then adds
  its entry, then reads the watermark; "end all" first sets the watermark,
  then lists the entries and tombstones them. Either the entry was listed
  (and its session ended), or the login reads a watermark later than its
  own start and ends its own session: no session that existed when the
  call began survives it.
* **Bounded.** Entries whose sessions are gone (expired, ended, logged out)
  are pruned whenever the index is read: at every login and every listing.
  Each entry records when its session would expire if left alone, so a
  login only checks the sessions that may have gone.

>>> handle = new_handle("ann")
>>> handle.startswith(user_hash("ann") + ".") and len(handle) > 40
True
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import secrets
import time
import typing as t

from .errors import StoreUnavailable
from .lifetime import expired, expires_at, store_ttl
from .meta import SessionMeta
from .recordfields import REVOKED_FIELD, USER_FIELD
from .stores import Backend, Record, SaveResult

__all__ = [
    "SessionInfo",
    "UserIndex",
    "index_key",
    "new_handle",
    "user_hash",
]

_UTC = dt.timezone.utc
#: Index record fields: an entry per session (``e`` + handle), the watermark.
_ENTRY = "e"
_WATERMARK = "w"
#: The index record's metadata (it has no session metadata of its own).
_INDEX_META = b"index"
#: Longest User-Agent kept in an entry.
AGENT_LIMIT = 256


@dataclasses.dataclass(frozen=True)
class SessionInfo:
    """One live session of a user, as listed (SPEC §13.1).

    ``handle`` is an opaque reference for :meth:`end_session`: it is not the
    session id and cannot open the session.

    >>> now = dt.datetime.now(dt.timezone.utc)
    >>> info = SessionInfo("ab.cd", now, now, None, "Firefox", "url")
    >>> info.current, info.expires is None  # not the asking request's; no end set
    (False, True)
    """

    handle: str
    created: dt.datetime
    last_accessed: dt.datetime
    expires: dt.datetime | None
    user_agent: str
    tracking: str
    current: bool = False


def user_hash(user_id: str) -> str:
    """The hash that names a user's index (never the user id itself).

    >>> len(user_hash("ann")), user_hash("ann") == user_hash("ann")
    (32, True)
    """
    return hashlib.sha256(user_id.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def index_key(hashed: str) -> str:
    """The store key of a user's index; the braces are a Redis Cluster hash tag.

    >>> index_key("ab")
    'wsu:{ab}'
    """
    return "wsu:{" + hashed + "}"


def new_handle(user_id: str) -> str:
    """A fresh handle for a session of ``user_id``: ``<user hash>.<random>``.

    The hash part finds the user's index; the random part tells the user's
    sessions apart.

    >>> a, b = new_handle("ann"), new_handle("ann")
    >>> a != b and a.split(".")[0] == b.split(".")[0] == user_hash("ann")
    True
    """
    return user_hash(user_id) + "." + secrets.token_urlsafe(16)


def _split(handle: object) -> tuple[str, str] | None:
    if not isinstance(handle, str) or len(handle) > 100 or handle.count(".") != 1:
        return None
    hashed, tag = handle.split(".")
    if len(hashed) != 32 or not tag or not (hashed + tag).isascii():
        return None
    return hashed, tag


def _utc(ts: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, _UTC)


class UserIndex:
    """The per-user indexes of one store, and the tombstones of ended sessions.

    ``absolute_timeout`` is the middleware's (a session past it is not live).

    >>> from wsgi_session.meta import SessionMeta, now_ms
    >>> from wsgi_session.recordfields import binding_fields
    >>> from wsgi_session.stores import backend_for, open_store
    >>> users = UserIndex(backend_for(open_store("memory://")))
    >>> meta, handle = SessionMeta(now_ms(), now_ms(), 1800, None), new_handle("ann")
    >>> fields = binding_fields("ann", handle)  # a session bound to ann, stored:
    >>> users.backend.create("wss:{s1}", meta.encode(), fields, 1800)
    True
    >>> users.add("ann", handle, session_key="wss:{s1}", meta=meta,
    ...           user_agent="curl", tracking="cookie")  # None: no "end all" yet
    >>> [s.user_agent for s in users.sessions("ann")], users.end_all("ann")
    (['curl'], 1)
    >>> users.sessions("ann")
    []
    """

    __slots__ = ("absolute_timeout", "backend")

    def __init__(self, backend: Backend, absolute_timeout: int | None = None) -> None:
        self.backend = backend
        self.absolute_timeout = absolute_timeout

    # -- changing the index -------------------------------------------------------

    def add(
        self,
        user_id: str,
        handle: str,
        *,
        session_key: str,
        meta: SessionMeta,
        user_agent: str,
        tracking: str,
    ) -> float | None:
        """Add the entry of a bound session; return the user's watermark (the
        time of their last "end all"), read after the entry was added."""
        tag = handle.split(".", 1)[1]
        entry = {
            "k": session_key,
            "c": meta.created,
            "a": user_agent[:AGENT_LIMIT],
            "t": tracking,
            "x": expires_at(meta, self.absolute_timeout),
        }
        key = index_key(user_hash(user_id))
        fields = {_ENTRY + tag: json.dumps(entry).encode("ascii")}
        self._merge_or_create(key, fields, ())
        record = self.backend.load(key)
        self._prune(user_id, record, keep=tag)
        if record is None:
            return None
        return _watermark(record)

    def remove(self, user_id: str, handle: str | None) -> None:
        """Remove the entry of a session that is no longer bound to the user."""
        if handle is None or "." not in handle:
            return
        key = index_key(user_hash(user_id))
        self.backend.merge(key, _INDEX_META, {}, (_ENTRY + handle.split(".", 1)[1],), 0)

    def _merge_or_create(
        self, key: str, fields: dict[str, bytes], removed: t.Iterable[str]
    ) -> None:
        removed = tuple(removed)
        for _attempt in range(5):
            result = self.backend.merge(key, _INDEX_META, fields, removed, 0)
            if result is not SaveResult.GONE:
                return
            if self.backend.create(key, _INDEX_META, dict(fields), 0):
                return
        # Five rounds of "gone" then "exists": another writer keeps deleting
        # and recreating the index; answer as a busy store does (a 503).
        raise StoreUnavailable("the user index kept changing under this write")

    # -- reading the index ----------------------------------------------------------

    def _entries(self, record: Record | None) -> dict[str, dict[str, t.Any]]:
        entries = {}
        for name, value in (record.fields if record is not None else {}).items():
            if name[:1] != _ENTRY:
                continue
            try:
                entry = json.loads(value)
                entries[name[1:]] = entry if isinstance(entry, dict) else {}
            except ValueError:
                entries[name[1:]] = {}  # unreadable: pruned
        return entries

    def _session_of(
        self, user_id: str, entry: dict[str, t.Any]
    ) -> tuple[SessionMeta, Record] | None:
        """The live, bound-to-this-user session record of an entry, or None."""
        key = entry.get("k")
        if not isinstance(key, str):
            return None
        try:
            record = self.backend.load(key)
            if record is None or REVOKED_FIELD in record.fields:
                return None
            meta = SessionMeta.decode(record.meta)
        except ValueError:
            return None
        if record.fields.get(USER_FIELD) != user_id.encode("utf-8", "surrogatepass"):
            return None
        if expired(meta, self.absolute_timeout, time.time()):
            return None
        return meta, record

    def _prune(self, user_id: str, record: Record | None, keep: str) -> None:
        """Remove entries whose sessions may have gone and have (a login's work)."""
        now = time.time()
        dead = []
        for tag, entry in self._entries(record).items():
            if tag == keep:
                continue
            expected = entry.get("x")
            if isinstance(expected, (int, float)) and expected > now:
                continue  # cannot have expired yet (it may have been ended:
                # listing and "end all" check every entry)
            if self._session_of(user_id, entry) is None:
                dead.append(_ENTRY + tag)
        if dead:
            self.backend.merge(index_key(user_hash(user_id)), _INDEX_META, {}, dead, 0)

    def sessions(self, user_id: str, current: str | None = None) -> list[SessionInfo]:
        """The live sessions of ``user_id``, oldest first; entries of sessions
        that are gone are pruned. ``current`` is the handle flagged current."""
        key = index_key(user_hash(user_id))
        infos, dead = [], []
        for tag, entry in self._entries(self.backend.load(key)).items():
            found = self._session_of(user_id, entry)
            if found is None:
                dead.append(_ENTRY + tag)
                continue
            meta, _record = found
            end = expires_at(meta, self.absolute_timeout)
            handle = user_hash(user_id) + "." + tag
            infos.append(
                SessionInfo(
                    handle=handle,
                    created=_utc(meta.created),
                    last_accessed=_utc(meta.written),
                    expires=None if end is None else _utc(end),
                    user_agent=str(entry.get("a", "")),
                    tracking=str(entry.get("t", "cookie")),
                    current=handle == current,
                )
            )
        if dead:
            self.backend.merge(key, _INDEX_META, {}, dead, 0)
        infos.sort(key=lambda info: info.created)
        return infos

    # -- ending sessions -----------------------------------------------------------

    def end_all(self, user_id: str, keep: str | None = None) -> int:
        """End every session of ``user_id`` (but ``keep``, a handle); return how
        many were ended. Sessions logging in meanwhile end themselves."""
        key = index_key(user_hash(user_id))
        watermark = {_WATERMARK: repr(time.time()).encode("ascii")}
        self._merge_or_create(key, watermark, ())
        kept = None if keep is None else keep.split(".", 1)[-1]
        ended, gone = 0, []
        for tag, entry in self._entries(self.backend.load(key)).items():
            if tag == kept:
                continue
            if self._tombstone(user_id, entry):
                ended += 1
            gone.append(_ENTRY + tag)
        if gone:
            self.backend.merge(key, _INDEX_META, {}, gone, 0)
        return ended

    def end_one(self, handle: object) -> bool:
        """End the session of ``handle``; False when there is no such session."""
        parts = _split(handle)
        if parts is None:
            return False
        hashed, tag = parts
        key = index_key(hashed)
        record = self.backend.load(key)
        entry = self._entries(record).get(tag)
        if entry is None:
            return False
        user = self._user_of(entry)
        ended = user is not None and self._tombstone(user, entry)
        self.backend.merge(key, _INDEX_META, {}, (_ENTRY + tag,), 0)
        return ended

    def _user_of(self, entry: dict[str, t.Any]) -> str | None:
        key = entry.get("k")
        if not isinstance(key, str):
            return None
        try:
            record = self.backend.load(key)
        except ValueError:
            return None
        raw = None if record is None else record.fields.get(USER_FIELD)
        return None if raw is None else raw.decode("utf-8", "surrogatepass")

    def _tombstone(self, user_id: str, entry: dict[str, t.Any]) -> bool:
        """Mark the session of ``entry`` ended (merged into the newest version,
        so a concurrent save cannot undo it); False when it was gone."""
        found = self._session_of(user_id, entry)
        if found is None:
            return False
        meta, record = found
        result = self.backend.merge(
            entry["k"],
            record.meta,
            {REVOKED_FIELD: b"1"},
            (),
            store_ttl(meta, self.absolute_timeout),
        )
        return result is SaveResult.SAVED


def _watermark(record: Record) -> float | None:
    raw = record.fields.get(_WATERMARK)
    try:
        return None if raw is None else float(raw)
    except ValueError:
        return None
