"""One request's session coordinator: loading, saving and id transport.

:class:`RequestContext` is the host of a request's :class:`~wsgi_session.Session`:
it picks the presented id (cookie or URL), resumes or refuses it, saves the
changes at the end (merge, lock or last-writer-wins) and tells the URL helpers
which token to write. The middleware makes one per request.

>>> store_key("A" * 43)
'wss:{0f007385b6f9d4b7eeb2748605afe1a9}'
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import time
import typing as t

from .errors import StoreUnavailable
from .events import EndReason, RejectReason, dispatch
from .memo import Memo
from .session import Session, SessionMeta, now_ms
from .signing import IdSigner, short_hash
from .stores import SaveResult
from .tracking import CookieProfile, choose_mode, read_presented, user_agent_binding

if t.TYPE_CHECKING:  # pragma: no cover
    from .middleware import SessionMiddleware

__all__ = ["CONTEXT_KEY", "RequestContext", "lock_ttl", "store_key"]

log = logging.getLogger("wsgi_session")

#: environ key of the per-request context (used by the URL helpers).
CONTEXT_KEY = "wsgi_session.context"
#: Seconds added to the idle timeout for the store TTL of an entry.
TTL_GRACE = 300

WSGIEnviron = t.Dict[str, t.Any]


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


class RequestContext:
    """One request's view of its session: loading, saving and id transport.

    It is the :class:`~wsgi_session.session.SessionHost` of the request's
    session and what the URL helpers consult (``environ[CONTEXT_KEY]``).
    """

    # Slots: one of these is made per request (subclasses may add a __dict__).
    __slots__ = (
        "_aged",
        "_lock",
        "_token",
        "cookie_rejected",
        "cookies",
        "environ",
        "exposed",
        "loaded_id",
        "middleware",
        "presented",
        "session",
        "settings",
        "signer",
        "source",
    )

    def __init__(
        self,
        middleware: SessionMiddleware,
        environ: WSGIEnviron,
        *,
        signer: IdSigner | None = None,
        cookies: CookieProfile | None = None,
    ) -> None:
        settings = middleware.settings
        self.middleware = middleware
        self.settings = settings
        #: Signs ids and builds Set-Cookie headers for this request (default:
        #: the middleware's).
        self.signer = signer if signer is not None else middleware.signer
        self.cookies = cookies if cookies is not None else middleware.cookies
        self.environ = environ
        self.presented = read_presented(  # positional: the cheaper call
            environ,
            self.cookies.name,
            settings.url_param,
            settings.tracking != "cookie",
            settings.url_body_limit,
        )
        self.session = session = middleware.session_class(  # positional: cheaper
            self, settings.serializer, settings.idle_timeout, settings.absolute_timeout
        )
        #: Where the resumed id came from (``"cookie"``, ``"url"``), the id
        #: this request resumed, the lock it holds: None until then.
        self.source: str | None
        self.loaded_id: str | None
        self._lock: t.ContextManager[None] | None
        self._token: object
        self.source = self.loaded_id = self._lock = self._token = None
        #: Whether the presented session cookie was refused (it gets
        #: expired), the id was written into a URL, flash data was aged.
        self.cookie_rejected = self.exposed = self._aged = False
        environ[settings.environ_key] = session
        environ[CONTEXT_KEY] = self

    @property
    def url_param(self) -> str:
        """The query / form field that carries the id in URL mode."""
        return self.settings.url_param

    # -- SessionHost ----------------------------------------------------------

    def load_session(self, session: Session) -> None:
        """Resume the presented session if it is genuine, alive and ours."""
        candidate = self._candidate()
        if candidate is not None:
            session_id, source = candidate
            if self._resume(session, session_id, source):
                self.source = source
        session.tracking = self.mode()
        if session.new_record:
            session.start(binding=user_agent_binding(self.environ))

    def discard_stored(self, session: Session, *, destroyed: bool) -> None:
        """Delete the stored entry now (regenerate, destroy)."""
        sid = session.current_id
        if sid is None:
            return
        self.middleware.backend.delete(store_key(sid))
        log.debug("wsgi_session: session %s removed from the store", short_hash(sid))
        if destroyed:
            dispatch(self.settings.events, "ended", session, EndReason.DESTROYED)

    def move_stored(self, session: Session, new_id: str) -> None:
        """Copy the session to ``new_id`` (with this request's changes so far),
        then delete the old entry (regenerate). Raises StoreUnavailable with
        the old entry intact when either step fails."""
        backend = self.middleware.backend
        old_id = session.current_id
        assert old_id is not None
        meta = session.meta.written_at(now_ms())
        new_key = store_key(new_id)
        fields = session.all_fields()
        if not fields:  # nothing left to keep: the old entry just goes
            backend.delete(store_key(old_id))
            session.unstored(new_id)
            return
        if not backend.create(new_key, meta.encode(), fields, self.ttl(meta)):
            raise StoreUnavailable("could not store the regenerated session")
        try:
            backend.delete(store_key(old_id))
        except StoreUnavailable as exc:
            with contextlib.suppress(StoreUnavailable):
                backend.delete(new_key)  # else it expires: nobody knows its id
            session.fail(exc)
            raise
        session.assign_id(new_id)
        session.saved(meta)
        self._token = None
        log.debug(
            "wsgi_session: session %s regenerated as %s",
            short_hash(old_id),
            short_hash(new_id),
        )

    # -- loading --------------------------------------------------------------

    def _reject(self, reason: RejectReason) -> None:
        log.debug("wsgi_session: presented id rejected (%s)", reason.value)
        dispatch(self.settings.events, "rejected", self.environ, reason)

    def _candidate(self) -> tuple[str, str] | None:
        signer = self.signer
        presented = self.presented
        cookie_id = None
        for value in presented.cookie_values:
            cookie_id = self.unsign_cookie(value)
            if cookie_id is not None:
                break
        if presented.cookie_values and cookie_id is None:
            self.cookie_rejected = True
            self._reject(RejectReason.BAD_SIGNATURE)
        url_value = presented.url_value
        if url_value is not None:
            url_id = signer.unsign(url_value)
            if presented.has_our_cookie:
                if url_id is None or url_id != cookie_id:
                    self._reject(RejectReason.URL_ID_REFUSED)
            elif url_id is None:
                self._reject(RejectReason.BAD_SIGNATURE)
            else:
                return url_id, "url"
        return (cookie_id, "cookie") if cookie_id is not None else None

    def unsign_cookie(self, value: str) -> str | None:
        """The session id in a session cookie value, or None if not genuine
        (an override point, with :meth:`cookie_value`)."""
        return self.signer.unsign(value)

    def cookie_value(self, session_id: str) -> str:
        """The session cookie value for ``session_id``: the signed id."""
        return self.signer.sign(session_id)

    def _resume(self, session: Session, session_id: str, source: str) -> bool:
        backend = self.middleware.backend
        key = store_key(session_id)
        if self.settings.concurrency == "lock":
            # The lock expires well before a waiter gives up, so a worker that
            # died holding it delays the next request but never fails it.
            timeout = self.settings.lock_timeout
            self._lock = backend.lock(key, timeout=timeout, ttl=lock_ttl(timeout))
            self._lock.__enter__()
        try:
            record = backend.load(key)
        except ValueError:  # not a record we wrote: corrupt or planted
            record = None
            log.warning(
                "wsgi_session: stored session %s is corrupt; starting a fresh one",
                short_hash(session_id),
            )
            backend.delete(key)
        if record is None:
            self._reject(RejectReason.UNKNOWN_ID)
            self.cookie_rejected = source == "cookie"
            return self._give_up()
        try:
            meta = SessionMeta.decode(record.meta)
            # A session whose id has travelled in URLs is bound to its
            # User-Agent, whichever way the id comes back (a leaked URL id
            # replayed as a cookie included).
            bound = source == "url" or meta.exposed
            if bound and meta.binding != user_agent_binding(self.environ):
                self._reject(RejectReason.BINDING_MISMATCH)
                return self._give_up()
            expiry = session.expiry(meta)
            if expiry is not None and expiry <= time.time():
                backend.delete(key)
                log.debug("wsgi_session: session %s expired", short_hash(session_id))
                dispatch(self.settings.events, "ended", session, EndReason.EXPIRED)
                self.cookie_rejected = source == "cookie"
                return self._give_up()
            session.adopt(session_id, meta, record.fields)
            self._token = record.token
            self.loaded_id = session_id
        except ValueError:
            log.warning(
                "wsgi_session: stored session %s is corrupt; starting a fresh one",
                short_hash(session_id),
            )
            backend.delete(key)
            self.cookie_rejected = source == "cookie"
            return self._give_up()
        if self.settings.events is not None:
            dispatch(self.settings.events, "resumed", session, self.environ)
        return True

    def _give_up(self) -> bool:
        self.release()
        return False

    def release(self) -> None:
        """Release the session lock, if this request holds one."""
        lock, self._lock = self._lock, None
        if lock is not None:
            try:
                lock.__exit__(None, None, None)
            except Exception:
                log.warning("wsgi_session: could not release a session lock")

    # -- tracking -------------------------------------------------------------

    def mode(self) -> str:
        """``"cookie"``, ``"url"`` or ``"both"`` for this request."""
        tracking = self.settings.tracking
        if tracking == "auto" and self.presented.has_our_cookie:
            return "cookie"  # the common case, decided without choose_mode()
        return choose_mode(
            self.settings.tracking,
            cookies_proven=self.presented.has_our_cookie,
            from_url=self.source == "url",
        )

    def url_token(self) -> str | None:
        """The signed id to put in URLs, or None when URLs need no rewriting."""
        session = self.session
        if not session.loaded and self.url_id_pending():
            try:  # a URL-tracked client must keep its id across untouched pages
                session.load()
            except StoreUnavailable:
                return None
        if (
            not session.loaded
            or session.current_tracking == "cookie"
            or session.current_id is None
        ):
            return None
        return self.signer.sign(session.current_id)

    def url_id_pending(self) -> bool:
        """True when a URL id came with no cookie of ours: the session must be
        loaded even if the app never touches it, so that rewritten links and
        redirects keep the id."""
        presented = self.presented
        return (
            presented.url_value is not None
            and not presented.has_our_cookie
            and self.settings.tracking != "cookie"
        )

    # -- saving ---------------------------------------------------------------

    def ttl(self, meta: SessionMeta) -> int:
        """Store TTL: idle timeout plus grace, capped by the absolute limit."""
        absolute = self.settings.absolute_timeout
        if absolute is None:
            return 0 if meta.timeout is None else max(1, meta.timeout + TTL_GRACE)
        remaining = int(meta.created + absolute - time.time()) + 1
        if meta.timeout is not None:
            remaining = min(remaining, meta.timeout + TTL_GRACE)
        return max(1, remaining)

    def save(self) -> list[tuple[str, str]]:
        """Persist the session; return the ``Set-Cookie`` headers to send.

        Raises StoreUnavailable (the response becomes a 503) or
        SerializationError; the stored copy is then left as it was.
        """
        session = self.session
        if not session.loaded:
            return []
        if not self._aged:
            self._aged = True
            session.age_flash()
        if self.exposed:
            session.mark_exposed()
        write_cookie = False
        if session.stored:
            result = self._update(session)
            if result is not None:
                if result is not SaveResult.SAVED:
                    return self._gone(session, result)
                write_cookie = self.cookies.max_age is not None
        elif session.has_data:
            self._create(session, now_ms())
            write_cookie = True
        elif session.destroyed or self.cookie_rejected:
            return self._expire_cookie()
        if session.stored and session.current_id != self.loaded_id:
            write_cookie = True  # regenerated: the client needs the new id
        if (
            write_cookie
            and session.current_tracking != "url"
            and session.current_id is not None
        ):
            value = self.cookie_value(session.current_id)
            return [self.cookies.set_header(self.environ, value)]
        return []

    def _update(self, session: Session) -> SaveResult | None:
        """Write this request's changes into the stored entry, or refresh its
        expiry when that is due; None when nothing had to be written."""
        unchanged = session.unchanged
        if unchanged and not self._refresh_due(session.meta, time.time()):
            return None  # the common read-only request
        now = now_ms()
        backend = self.middleware.backend
        assert session.current_id is not None
        key = store_key(session.current_id)
        fields, removed = ({}, set()) if unchanged else session.changes()
        if fields or removed or session.meta_changed:
            meta = session.meta.written_at(now)
            if self.settings.concurrency == "none":
                all_fields = session.all_fields(fields)
                result = backend.replace(key, meta.encode(), all_fields, self.ttl(meta))
            else:
                result = backend.merge(
                    key,
                    meta.encode(),
                    fields,
                    removed,
                    self.ttl(meta),
                    token=self._token,
                )
            if result is SaveResult.SAVED:
                session.saved(meta)
            return result
        if not self._refresh_due(session.meta, now):
            return None
        meta = session.meta.written_at(now)
        if not backend.touch(key, meta.encode(), self.ttl(meta)):
            return SaveResult.GONE
        session.meta = meta
        return SaveResult.SAVED

    def _refresh_due(self, meta: SessionMeta, now: float) -> bool:
        if meta.timeout is None:
            return False
        return now - meta.written >= meta.timeout / 10

    def _create(self, session: Session, now: float) -> None:
        backend = self.middleware.backend
        fields = session.all_fields()
        meta = session.meta.written_at(now)
        brand_new = session.is_new and not session.destroyed
        for _attempt in range(3):
            assert session.current_id is not None
            if backend.create(
                store_key(session.current_id), meta.encode(), fields, self.ttl(meta)
            ):
                break
            session.renew_id()  # an id collision: practically impossible, but safe
        else:
            raise StoreUnavailable("could not store a new session")
        session.saved(meta)
        if brand_new:
            dispatch(self.settings.events, "created", session, self.environ)

    def _gone(self, session: Session, result: SaveResult) -> list[tuple[str, str]]:
        if result is SaveResult.GONE:
            log.debug("wsgi_session: session ended concurrently; not resurrected")
        session.destroyed = True
        return self._expire_cookie()

    def _expire_cookie(self) -> list[tuple[str, str]]:
        if self.session.current_tracking == "url" or not self.presented.cookie_values:
            return []
        return [self.cookies.expire_header(self.environ)]

    def suspended(self) -> None:
        """Fire the ``suspended`` event for a request that used the session."""
        if self.settings.events is not None and self.session.loaded:
            dispatch(self.settings.events, "suspended", self.session, self.environ)
