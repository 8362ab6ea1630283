"""How long a session lives: idle and absolute expiry, store TTLs, the refresh rule.

Pure functions of a session's :class:`~wsgi_session.meta.SessionMeta`, the
``absolute_timeout`` setting and the time (SPEC §2, §3.3):

* a session expires ``timeout`` seconds after its last write or refresh, and
  at the latest ``absolute_timeout`` seconds after its creation;
* its store entry carries a TTL of the idle timeout plus :data:`TTL_GRACE`,
  capped by the absolute limit, so an abandoned session leaves the store by
  itself;
* a read-only request renews the expiry at most once per ``timeout / 10``.

>>> from wsgi_session.meta import SessionMeta
>>> meta = SessionMeta(created=1000.0, written=1000.0, timeout=600, binding=None)
>>> expires_at(meta, None), expires_at(meta, 300)
(1600.0, 1300.0)
>>> store_ttl(meta, None, now=1000.0), refresh_due(meta, now=1059.0)
(900, False)
"""

from __future__ import annotations

import time

from .meta import SessionMeta

__all__ = ["TTL_GRACE", "expired", "expires_at", "refresh_due", "store_ttl"]

#: Seconds added to the idle timeout for the store TTL of an entry.
TTL_GRACE = 300


def expires_at(meta: SessionMeta, absolute_timeout: int | None) -> float | None:
    """The POSIX time at which a session with ``meta`` expires, or None.

    >>> expires_at(SessionMeta(0.0, 10.0, None, None), None) is None
    True
    """
    end = None if meta.timeout is None else meta.written + meta.timeout
    if absolute_timeout is not None:
        hard = meta.created + absolute_timeout
        end = hard if end is None else min(end, hard)
    return end


def expired(meta: SessionMeta, absolute_timeout: int | None, now: float) -> bool:
    """True when a session with ``meta`` must not be served at ``now``.

    >>> expired(SessionMeta(0.0, 0.0, 60, None), None, now=60.0)
    True
    """
    if absolute_timeout is None:  # the common case, without expires_at's call
        timeout = meta.timeout
        return timeout is not None and meta.written + timeout <= now
    end = expires_at(meta, absolute_timeout)
    return end is not None and end <= now


def store_ttl(
    meta: SessionMeta, absolute_timeout: int | None, now: float | None = None
) -> int:
    """The store TTL in seconds of an entry written with ``meta`` (0: none).

    >>> store_ttl(SessionMeta(0.0, 0.0, None, None), None)
    0
    >>> store_ttl(SessionMeta(1000.0, 1000.0, 600, None), 60, now=1000.0)
    61
    """
    if absolute_timeout is None:
        return 0 if meta.timeout is None else max(1, meta.timeout + TTL_GRACE)
    if now is None:
        now = time.time()
    remaining = int(meta.created + absolute_timeout - now) + 1
    if meta.timeout is not None:
        remaining = min(remaining, meta.timeout + TTL_GRACE)
    return max(1, remaining)


def refresh_due(meta: SessionMeta, now: float) -> bool:
    """True when a read-only request should renew the expiry (at most once
    per ``timeout / 10``, so a burst of reads costs one write).

    >>> refresh_due(SessionMeta(0.0, 0.0, 600, None), now=60.0)
    True
    """
    if meta.timeout is None:
        return False
    return now - meta.written >= meta.timeout / 10
