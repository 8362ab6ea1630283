"""The request pipeline the drop-in runs itself: :func:`drop_in_middleware`.

Without the WSGI wrapper in front (``runserver``, ``django.test.Client``, a
server pointed at ``WSGI_APPLICATION``) and outside any request
(``SessionStore(key)``, ``Client.login()``, ``clearsessions``), sessions are
opened and saved through a :class:`DropInMiddleware`: a
:class:`~wsgi_session.SessionMiddleware` built from Django's settings
(:func:`~wsgi_session.django.settings.options_from_django`) that is never
called as a WSGI application; the Django middleware and the engine drive its
pipeline (``request_context()``, then ``finish_headers``) instead, so the
behaviour is the wrapper's, step for step.

:func:`drop_in_middleware` reads the settings on every call and builds one
middleware per distinct set of values, so ``override_settings`` in tests
takes effect at once; the store built from a store URL is shared by all of
them (a test that changes a cookie setting keeps its sessions). No Django
import: the settings object is passed in, or ``django.conf.settings``.

>>> from types import SimpleNamespace
>>> conf = SimpleNamespace(SECRET_KEY="k", SESSION_COOKIE_AGE=600)
>>> mw = drop_in_middleware(conf)
>>> mw is drop_in_middleware(conf), mw.settings.cookie_name, mw.settings.idle_timeout
(True, 'sessionid', 600)
"""

from __future__ import annotations

import threading
import typing as t

from ..context import RequestContext
from ..errors import StoreUnavailable
from ..memo import Memo
from ..meta import now_ms
from ..middleware import SessionMiddleware
from ..repository import SessionRepository, store_key
from ..state import SessionState
from ..stores import open_store
from ..tracking import Presented
from .cookies import DjangoCookiePolicy
from .settings import DJANGO_DEFAULTS, SETTING, USER_KEY_PRESET, options_from_django

if t.TYPE_CHECKING:  # pragma: no cover
    from ..middleware import StartResponse, WSGIEnviron

__all__ = [
    "KEPT_FIELD",
    "DjangoRepository",
    "DropInMiddleware",
    "drop_in_middleware",
    "with_user_key_preset",
]

#: The record field of a session Django's ``save()`` stored while empty (a
#: record needs a field; the session layer reads only data and flash fields).
KEPT_FIELD = "k"
_KEPT = {KEPT_FIELD: b"1"}


class DjangoRepository(SessionRepository):
    """The stored sessions, plus Django's explicit save of an empty session.

    >>> middleware = DropInMiddleware(secret_key="k")
    >>> state = middleware.detached_context(None).session.load()
    >>> middleware.repository.create_empty(state); state.stored, state.has_data
    (True, False)
    """

    __slots__ = ()

    def create_empty(self, state: SessionState) -> None:
        """Store a new session that has no data yet (``SessionStore().save()``,
        which ``client.session`` relies on); raises StoreUnavailable."""
        state.ensure_id()
        meta = state.meta.written_at(now_ms())
        for _attempt in range(3):
            assert state.id is not None
            if self.backend.create(
                store_key(state.id), meta.encode(), dict(_KEPT), self.ttl(meta)
            ):
                state.saved(meta)
                return
            state.renew_id()  # an id collision: practically impossible
        raise StoreUnavailable("could not store a new session")


def _never_called(environ: WSGIEnviron, start_response: StartResponse) -> t.NoReturn:
    raise RuntimeError(
        "the drop-in's middleware is driven by wsgi_session.django.SessionMiddleware; "
        "to wrap an application use wsgi_session.SessionMiddleware"
    )


class DropInMiddleware(SessionMiddleware):
    """The pipeline of sessions opened by the drop-in itself (no WSGI wrapper).

    Its steps: Django's cookie rule (:class:`~.cookies.DjangoCookiePolicy`)
    and :class:`DjangoRepository`. ``save_every_request`` is
    ``SESSION_SAVE_EVERY_REQUEST``.

    >>> middleware = DropInMiddleware(secret_key="k")
    >>> context = middleware.detached_context(None); context.session["n"] = 1
    >>> context.save()  # the headers a response would carry
    [('Set-Cookie', 'session=...; HttpOnly; Path=/; SameSite=Lax')]
    >>> key = middleware.cookie_policy.cookie_value(context.session.id)
    >>> middleware.detached_context(key).session["n"]  # as SessionStore(key) does
    1
    """

    def __init__(self, *, save_every_request: bool = False, **options: t.Any) -> None:
        super().__init__(_never_called, **options)
        settings = self.settings
        self.save_every_request = save_every_request
        self.repository = DjangoRepository(
            self.backend,
            concurrency=settings.concurrency,
            lock_timeout=settings.lock_timeout,
            absolute_timeout=settings.absolute_timeout,
        )
        self.cookie_policy = DjangoCookiePolicy(
            self.cookies, self.signer, browser_close=settings.cookie_max_age is None
        )

    def detached_context(self, session_key: str | None) -> RequestContext:
        """The pipeline of a session opened outside any request, by its
        cookie value ``session_key`` (``SessionStore(session_key)``)."""
        context = self.request_context({})
        if session_key:
            context.presented = Presented.of(
                (session_key,), probe=False, cookie_seen=True
            )
        return context


def with_user_key_preset(options: dict[str, t.Any]) -> dict[str, t.Any]:
    """Preset ``user_key`` to ``"_auth_user_id"`` (SPEC §12.1, §13.1).

    The drop-in binds sessions to Django's signed-in user (``auth.login()``
    binds, ``auth.logout()`` unbinds) unless ``WSGI_SESSION`` sets
    ``user_key``.

    >>> with_user_key_preset({"secret_key": "k"})["user_key"]
    '_auth_user_id'
    >>> with_user_key_preset({"user_key": None})["user_key"] is None
    True
    """
    options.setdefault("user_key", USER_KEY_PRESET)
    return options


# -- one middleware per state of the settings ------------------------------------

_SETTINGS_READ = (*DJANGO_DEFAULTS, SETTING)
_MISSING: t.Any = object()
#: Drop-in middlewares by the frozen values of the settings they are built
#: from (every value :func:`options_from_django` reads): the key decides them.
_middlewares: Memo[t.Hashable, DropInMiddleware] = Memo(16)
#: Stores by URL: a store URL names one store for the whole process.
_stores: Memo[str, t.Any] = Memo(16)
#: Held while building: two threads must not open two memory stores.
_building = threading.Lock()


def _frozen(value: t.Any) -> t.Hashable:
    """A hashable stand-in for a settings value (lists and dicts included)."""
    if isinstance(value, (list, tuple)):
        return (list, tuple(_frozen(v) for v in value))
    if isinstance(value, dict):
        return (dict, tuple(sorted((str(k), _frozen(v)) for k, v in value.items())))
    hash(value)  # TypeError for anything else unhashable
    return t.cast(t.Hashable, value)


def _settings_key(settings: t.Any) -> t.Hashable | None:
    values = tuple(getattr(settings, name, _MISSING) for name in _SETTINGS_READ)
    try:
        return _frozen(values)
    except TypeError:
        return None


def _build(settings: t.Any) -> DropInMiddleware:
    conf = options_from_django(settings)
    options = with_user_key_preset(dict(conf.options))
    store = options.get("store")
    if store is None or isinstance(store, str):
        url = store or "memory://"
        shared = _stores.get(url)
        if shared is None:
            shared = open_store(url)
            _stores.put(url, shared)
        options["store"] = shared
    return DropInMiddleware(save_every_request=conf.save_every_request, **options)


#: The middleware of ``django.conf.settings`` as they are now, or None: the
#: one value of ``setting_changed``-aware cache (Django sends that signal
#: whenever ``override_settings`` / ``modify_settings`` change a setting).
_current: list[DropInMiddleware | None] = [None]
_watching: list[bool] = [False]


def _settings_changed(*, setting: str, **kwargs: t.Any) -> None:
    if setting in _SETTINGS_READ:
        _current[0] = None


def _watch_settings() -> None:
    if not _watching[0]:
        from django.core.signals import setting_changed

        setting_changed.connect(_settings_changed, dispatch_uid=__name__)
        _watching[0] = True


def drop_in_middleware(settings: t.Any = None) -> DropInMiddleware:
    """The drop-in's middleware for the current values of Django's settings.

    ``settings`` defaults to ``django.conf.settings``, whose middleware is
    kept until Django signals a change of a setting it reads
    (``setting_changed``: ``override_settings`` in tests); any other
    settings object is read on every call. A mistake in them is a
    :class:`~wsgi_session.ConfigError` naming the setting.

    >>> from types import SimpleNamespace
    >>> a = drop_in_middleware(SimpleNamespace(SECRET_KEY="k"))
    >>> conf = SimpleNamespace(SECRET_KEY="k", SESSION_COOKIE_NAME="sid")
    >>> b = drop_in_middleware(conf)
    >>> a is not b, a.store is b.store, b.settings.cookie_name  # one memory store
    (True, True, 'sid')
    """
    if settings is None:
        found = _current[0]
        if found is None:
            from django.conf import settings as django_settings

            _watch_settings()
            found = _current[0] = _lookup(django_settings)
        return found
    return _lookup(settings)


def _lookup(settings: t.Any) -> DropInMiddleware:
    """The middleware for the values ``settings`` has now (memoised by them)."""
    key = _settings_key(settings)
    found = None if key is None else _middlewares.get(key)
    if found is None:
        with _building:
            found = None if key is None else _middlewares.get(key)
            if found is None:
                found = _build(settings)
                if key is not None:
                    _middlewares.put(key, found)
    return found
