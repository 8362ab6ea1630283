"""One request's session pipeline: which id, load, save, which cookie.

:class:`RequestContext` is the host of a request's :class:`~wsgi_session.Session`
and runs its steps, each owned by an object of its own so that an integration
overrides one step instead of patching results:

1. **which id** — :class:`~wsgi_session.presented.IdResolver` turns what the
   request presented into one :class:`~wsgi_session.presented.Resolution`;
2. **the stored session** — :class:`~wsgi_session.repository.SessionRepository`
   finds it (or refuses it: unknown, corrupt, other agent, expired), and
   at the end creates, updates, refreshes, moves or deletes it;
3. **how the id travels** — :func:`~wsgi_session.tracking.choose_mode`
   (cookie, URL or both) and the signed id for URLs (:meth:`url_token`);
4. **what to write** — :meth:`RequestContext.prepare_save` (flash aging,
   URL exposure; Flask adds its permanent lifetime) and whether to write at
   all, :meth:`RequestContext.save_wanted`;
5. **which cookie** — :class:`~wsgi_session.cookiepolicy.CookiePolicy`.

The middleware makes one context per request; the response editor
(:mod:`wsgi_session.response`) calls :meth:`~RequestContext.save` through
:func:`~wsgi_session.finish.finish_headers` before it sends the headers (an
adapter that is not a WSGI middleware calls that function itself). Events
(§3.5) are fired here, from what the steps report.

>>> from wsgi_session import SessionMiddleware
>>> mw = SessionMiddleware(lambda e, s: [], secret_key="k")
>>> context = RequestContext(mw, {"HTTP_COOKIE": "session=forged.value"})
>>> context.session.get("n") is None, context.cookie_rejected
(True, True)
"""

from __future__ import annotations

import logging
import time
import typing as t
import weakref

from .cookiepolicy import CookiePolicy, Headers
from .errors import StoreUnavailable
from .events import EndReason, RejectReason, dispatch
from .host import SessionHost
from .presented import NOTHING_PRESENTED, IdResolver, Resolution
from .repository import (
    CREATED,
    ENDED,
    NOTHING,
    Refusal,
    SessionRepository,
    lock_ttl,
    store_key,
)
from .session import Session
from .signing import IdSigner
from .state import SessionState
from .tracking import CookieProfile, choose_mode, read_presented, user_agent_binding
from .users import SessionInfo, new_handle

if t.TYPE_CHECKING:  # pragma: no cover
    from .middleware import SessionMiddleware

__all__ = ["CONTEXT_KEY", "RequestContext", "WSGIEnviron", "lock_ttl", "store_key"]

log = logging.getLogger("wsgi_session")

#: environ key of the per-request context (used by the URL helpers).
CONTEXT_KEY = "wsgi_session.context"

WSGIEnviron = t.Dict[str, t.Any]

#: What a refused stored session is reported as (``rejected`` events).
_REFUSAL_REASONS = {
    Refusal.UNKNOWN: RejectReason.UNKNOWN_ID,
    Refusal.BINDING_MISMATCH: RejectReason.BINDING_MISMATCH,
}


class RequestContext:
    """One request's view of its session: the pipeline that loads and saves it.

    It is the :class:`~wsgi_session.session.SessionHost` of the request's
    session and what the URL helpers consult (``environ[CONTEXT_KEY]``).
    ``resolver`` and ``cookie_policy`` default to the middleware's.
    """

    # Slots: one of these is made per request (subclasses may add a
    # __dict__; this class has none: see SessionState's slots).
    __slots__ = (
        "__weakref__",  # the session's host once the response is complete
        "_aged",
        "_lock",
        "_token",
        "cookie_policy",
        "cookie_rejected",
        "environ",
        "exposed",
        "headers_sent",
        "loaded_id",
        "middleware",
        "presented",
        "resolution",
        "resolver",
        "session",
        "settings",
        "started",
        "state",
    )

    def __init__(
        self,
        middleware: SessionMiddleware,
        environ: WSGIEnviron,
        *,
        resolver: IdResolver | None = None,
        cookie_policy: CookiePolicy | None = None,
    ) -> None:
        settings = middleware.settings
        self.middleware = middleware
        self.settings = settings
        self.resolver = middleware.resolver if resolver is None else resolver
        self.cookie_policy = policy = (
            middleware.cookie_policy if cookie_policy is None else cookie_policy
        )
        self.environ = environ
        self.presented = read_presented(  # positional: the cheaper call
            environ,
            policy.cookies.name,
            settings.url_param,
            settings.tracking != "cookie",
            settings.url_body_limit,
        )
        self.session = session = middleware.session_class(self)
        #: The session's state once the session is used (see :meth:`new_state`).
        self.state: SessionState | None = None
        #: Which presented id this request resumes (set when the session loads).
        self.resolution: Resolution = NOTHING_PRESENTED
        #: The id this request resumed and its write token, the session lock
        #: it holds (``concurrency="lock"``), when its login began (see
        #: :meth:`bind_user`): None until then.
        self.loaded_id: str | None
        self._token: object
        self._lock: t.ContextManager[None] | None
        self.started: float | None
        self.loaded_id = self._token = self._lock = self.started = None
        #: The presented session cookie was refused (it gets expired); the id
        #: was written into a URL; the response's headers are out (a
        #: streamed body is being sent).
        self.cookie_rejected = self.exposed = self.headers_sent = False
        #: Flash data was aged (once per request: a request may save twice).
        self._aged = False
        environ[settings.environ_key] = session
        environ[CONTEXT_KEY] = self

    @property
    def repository(self) -> SessionRepository:
        """The stored sessions (the middleware's)."""
        return self.middleware.repository

    @property
    def signer(self) -> IdSigner:
        """Signs ids for URLs (the resolver's keys)."""
        return self.resolver.signer

    @property
    def cookies(self) -> CookieProfile:
        """Builds the session and probe cookie headers (the cookie policy's)."""
        return self.cookie_policy.cookies

    @property
    def url_param(self) -> str:
        """The query / form field that carries the id in URL mode."""
        return self.settings.url_param

    def agent(self) -> str | None:
        """This request's User-Agent binding (a hash of the header)."""
        return user_agent_binding(self.environ)

    @property
    def source(self) -> str | None:
        """Where the resumed id came from (``"cookie"``, ``"url"``), or None."""
        return self.resolution.source if self.loaded_id is not None else None

    # -- SessionHost: loading -------------------------------------------------

    def new_state(self) -> SessionState:
        """Make the session's state, at its first use (a request that never
        touches its session makes none; :attr:`state` stays None)."""
        settings = self.settings
        self.state = state = SessionState(  # positional: the cheaper call
            settings.serializer,
            settings.idle_timeout,
            settings.absolute_timeout,
            settings.user_key,
        )
        return state

    def load_session(self, session: Session) -> None:
        """Resume the presented session if it is genuine, alive and ours."""
        if self.settings.user_key is not None:
            # When a login began: one that began before a concurrent "end
            # all sessions" of its user does not survive it (§13.1).
            self.started = time.time()
        resolution = self.resolver.resolve(self.presented)
        if resolution.rejections or resolution.cookie_rejected:
            self._refused(resolution)
        state = self.state
        assert state is not None  # made by Session.load() before it called here
        session_id = resolution.session_id
        if session_id is not None:
            self.resolution = resolution
            self._resume(session, session_id, resolution.source == "url")
        state.tracking = self.mode()
        if not state.started:
            state.start(binding=self.agent())

    def _refused(self, resolution: Resolution) -> None:
        for reason in resolution.rejections:
            self._reject(reason)
        if resolution.cookie_rejected:
            self.cookie_rejected = True

    def _resume(self, session: Session, session_id: str, from_url: bool) -> None:
        state = self.state
        assert state is not None  # made by Session.load()
        repository = self.middleware.repository
        if repository.locks:  # asked first: most sites never lock
            self._lock = repository.lock(session_id)
        found = repository.find(session_id, self.agent, from_url)
        if isinstance(found, tuple):
            meta, record = found
            try:
                state.adopt(session_id, meta, record.fields)
            except ValueError:  # a corrupt flash field
                repository.drop_corrupt(session_id)
                found = Refusal.CORRUPT
            else:
                self._token = record.token
                self.loaded_id = session_id
                if self.settings.events is not None:
                    dispatch(self.settings.events, "resumed", session, self.environ)
                return
        reason = _REFUSAL_REASONS.get(found)
        if reason is not None:
            self._reject(reason)
        if found is Refusal.EXPIRED:
            dispatch(self.settings.events, "ended", session, EndReason.EXPIRED)
        elif found is Refusal.REVOKED:
            dispatch(self.settings.events, "ended", session, EndReason.REVOKED)
        if found is not Refusal.BINDING_MISMATCH:
            self.cookie_rejected = not from_url
        self.release()

    def _reject(self, reason: RejectReason) -> None:
        log.debug("wsgi_session: presented id rejected (%s)", reason.value)
        dispatch(self.settings.events, "rejected", self.environ, reason)

    def release(self) -> None:
        """Release the session lock, if this request holds one."""
        lock = self._lock
        if lock is not None:
            self._lock = None
            try:
                lock.__exit__(None, None, None)
            except Exception:
                log.warning("wsgi_session: could not release a session lock")

    # -- SessionHost: regenerate and destroy -----------------------------------

    def discard_stored(self, session: Session, *, destroyed: bool) -> None:
        """Delete the stored entry now (destroy); it leaves its user's index."""
        state = session.state
        session_id = state.id
        if session_id is None:
            return
        self.repository.delete(session_id)
        if state.bound_user is not None:
            self.middleware.users.remove(state.bound_user, state.handle)
        if destroyed:
            dispatch(self.settings.events, "ended", session, EndReason.DESTROYED)

    def move_stored(self, session: Session, new_id: str) -> None:
        """Copy the session to ``new_id``, then delete the old entry (regenerate)."""
        self.repository.move(session.state, new_id)
        self._token = None  # the write token belonged to the old entry

    # -- how the id travels ----------------------------------------------------

    def mode(self) -> str:
        """``"cookie"``, ``"url"`` or ``"both"`` for this request."""
        tracking = self.settings.tracking
        if tracking == "auto" and self.presented.has_our_cookie:
            return "cookie"  # the common case, decided without choose_mode()
        return choose_mode(
            tracking,
            cookies_proven=self.presented.has_our_cookie,
            from_url=self.source == "url",
        )

    def url_token(self) -> str | None:
        """The signed id to put in URLs, or None when URLs need no rewriting."""
        state = self.state
        if (state is None or not state.loaded) and self.url_id_pending():
            try:  # a URL-tracked client must keep its id across untouched pages
                self.session.load()
            except StoreUnavailable:
                return None
            state = self.state
        if (
            state is None
            or not state.loaded
            or state.tracking == "cookie"
            or state.id is None
        ):
            return None
        return self.signer.sign(state.id)

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

    # -- saving -----------------------------------------------------------------

    def save(self) -> Headers:
        """Persist the session; return the ``Set-Cookie`` headers to send.

        Raises StoreUnavailable (the response becomes a 503) or
        SerializationError; the stored copy is then left as it was.
        """
        session = self.session
        state = self.state
        if state is None or not state.loaded:
            if state is None or not state.forced:
                return self.cookie_policy.untouched(self)
            session.load()  # ``modified = True`` forces a save: of a loaded session
        self.prepare_save()
        if self.save_wanted():
            wrote = self.middleware.repository.save(state, self._token)
        else:
            wrote = NOTHING
        if wrote is ENDED:
            state.ended()  # by a concurrent request: not resurrected
        elif wrote is CREATED and state.is_new and not state.destroyed:
            dispatch(self.settings.events, "created", session, self.environ)
        return self.cookie_policy.headers(self, wrote)

    def prepare_save(self) -> None:
        """Bring the session to what should be stored (an override point):
        age the flash data (once per request), follow the ``user_key``
        (bind or unbind the session, §13.1), and bind an id written into
        URLs."""
        state = self.state
        assert state is not None  # save() calls this for a loaded session
        if not self._aged:
            self._aged = True
            state.age_flash()
        if self.settings.user_key is not None:  # settle()'s first test, saving
            self.settle()  # its call on every save of a site without users
        if self.exposed:
            state.mark_exposed()

    def settle(self) -> None:
        """Give the session the identity it will be stored with, before any
        URL or cookie gets its id: follow the ``user_key`` (bind or unbind,
        §13.1; binding gives a new id). Called by :meth:`save`, and before
        that when the app's response is in, before its URLs are rewritten."""
        user_key = self.settings.user_key
        state = self.state
        if user_key is None or state is None or not state.loaded:
            return
        value = state.get_value(user_key, None)
        user = None if value is None else str(value)
        if user != state.bound_user:
            if user is None:
                self.unbind_user(self.session)
            elif self.headers_sent:
                # Binding gives a new id, and the client can no longer get it:
                # the session stays as it is (bound at its next request).
                log.warning(
                    "wsgi_session: user_key set while a body was streamed; "
                    "the session is bound at its next request"
                )
            else:
                self.bind_user(self.session, user)

    # -- the user (§13.1) ---------------------------------------------------------

    def bind_user(self, session: Session, user_id: str) -> None:
        """Bind the session to ``user_id`` now: a new id (fixation), a new CSRF
        secret, the session stored with its binding, an entry in the user's
        index. A login that began before a concurrent "end all sessions" of
        the user ends at once (its session is revoked)."""
        state = session.state
        if state.bound_user == user_id:
            return
        users = self.middleware.users
        if state.bound_user is not None:
            users.remove(state.bound_user, state.handle)
        session.regenerate()  # rotates the CSRF secret too
        state.bind(user_id, new_handle(user_id))
        wrote = self.repository.save(state, self._token)
        if wrote is ENDED or state.id is None:
            state.ended()
            return
        if wrote is CREATED:
            dispatch(self.settings.events, "created", session, self.environ)
        watermark = users.add(
            user_id,
            t.cast(str, state.handle),
            session_key=store_key(state.id),
            meta=state.meta,
            user_agent=str(self.environ.get("HTTP_USER_AGENT", "")),
            tracking=state.tracking,
        )
        began = self.started if self.started is not None else time.time()
        if watermark is not None and watermark >= began:
            log.debug("wsgi_session: a login raced 'end all sessions'; ended")
            users.remove(user_id, state.handle)
            self.repository.delete(state.id)
            state.reset()
            dispatch(self.settings.events, "ended", session, EndReason.REVOKED)

    def unbind_user(self, session: Session) -> None:
        """The session no longer belongs to its user (logout)."""
        state = session.state
        if state.bound_user is not None:
            self.middleware.users.remove(state.bound_user, state.handle)
            state.unbind()

    def user_sessions(self, session: Session) -> list[SessionInfo]:
        """The live sessions of the session's user, this one flagged current."""
        state = session.state
        if state.bound_user is None:
            return []
        return self.middleware.users.sessions(state.bound_user, current=state.handle)

    def end_other_sessions(self, session: Session) -> int:
        """End every other session of the session's user; return how many."""
        state = session.state
        if state.bound_user is None:
            return 0
        return self.middleware.users.end_all(state.bound_user, keep=state.handle)

    def end(self) -> None:
        """The response is complete: let this request's objects go as soon
        as the server drops the environ.

        The context holds its session and its environ, and the environ
        holds both: with the session's strong link back to its host, every
        request's objects would be a reference cycle that only the garbage
        collector frees (measured with callgrind on the benchmark's
        read-only request: collections cost about 6,800 machine
        instructions per request, 8 % of its cost). So the session's host
        becomes a weak proxy of this context, and the context keeps only
        the User-Agent of the environ. While the environ lives, so does the
        context (the environ holds it) and the session works as before: an
        outer middleware may read it, or first use it, after the response
        (the events of such a use get that small environ). A session kept
        beyond its environ raises ReferenceError when it needs its request.
        """
        environ = self.environ
        if CONTEXT_KEY not in environ:
            return  # ended already
        agent = environ.get("HTTP_USER_AGENT")
        self.environ = {} if agent is None else {"HTTP_USER_AGENT": agent}
        self.session.host = t.cast(SessionHost, weakref.proxy(self))

    def save_wanted(self) -> bool:
        """True when this request's changes go to the store (an override
        point: Beaker's drop-in stores only after ``save()`` unless ``auto``)."""
        return True

    def suspended(self) -> None:
        """Fire the ``suspended`` event for a request that used the session."""
        state = self.state
        if self.settings.events is not None and state is not None and state.loaded:
            dispatch(self.settings.events, "suspended", self.session, self.environ)
