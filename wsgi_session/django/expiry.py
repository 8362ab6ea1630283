"""What Django's ``set_expiry()`` value means in seconds (SPEC §12.1).

Django keeps a session's own expiry in its data under ``"_session_expiry"``
(:data:`EXPIRY_KEY`): an int of idle seconds, ``0`` for "when the browser
closes", or an ISO 8601 date (``set_expiry(datetime | timedelta)``). The
drop-in keeps that value where Django does, so ``get_expiry_age()`` and the
other getters of ``SessionBase`` work unchanged, and turns it into the
session's idle timeout and its cookie's Max-Age with these pure functions.
No Django import.

>>> import datetime as dt
>>> now = dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc)
>>> remaining_seconds("2030-01-01T00:01:00+00:00", now=now)
60
>>> cookie_max_age(0, default=1209600, browser_close=False) is None
True
"""

from __future__ import annotations

import datetime as dt
import typing as t

__all__ = [
    "EXPIRY_KEY",
    "cookie_max_age",
    "expired",
    "idle_seconds",
    "remaining_seconds",
]

#: Where Django's ``SessionBase.set_expiry()`` keeps the session's own expiry.
EXPIRY_KEY = "_session_expiry"


def _date(value: t.Any) -> dt.datetime | None:
    """The date of an ISO string (or datetime) expiry, or None."""
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, str):
        try:
            return dt.datetime.fromisoformat(value)
        except ValueError:
            return None
    return None


def remaining_seconds(value: t.Any, now: dt.datetime | None = None) -> int | None:
    """Whole seconds until a date expiry (negative once passed); None for
    anything that is not a date.

    ``now`` defaults to the current time, aware (UTC) for an aware date and
    naive local time for a naive one, as Django's ``timezone.now()`` is
    with and without ``USE_TZ``.

    >>> remaining_seconds(60) is None
    True
    """
    date = _date(value)
    if date is None:
        return None
    if now is None:
        now = dt.datetime.now(dt.timezone.utc if date.tzinfo else None)
    delta = date - now
    return delta.days * 86400 + delta.seconds


def expired(value: t.Any, now: dt.datetime | None = None) -> bool:
    """True when a date expiry has passed (an int expiry never "passes": it
    is an idle limit, enforced by the store).

    >>> expired("2000-01-01T00:00:00"), expired(3600), expired(None)
    (True, False, False)
    """
    remaining = remaining_seconds(value, now)
    return remaining is not None and remaining <= 0


def idle_seconds(value: t.Any, default: int | None) -> int | None:
    """The idle timeout a session with this expiry gets: the int itself,
    the time left until a date (at least one second), ``default`` for none
    or ``0`` (a browser-session cookie does not shorten the session).

    >>> idle_seconds(300, 1800), idle_seconds(0, 1800), idle_seconds(None, 1800)
    (300, 1800, 1800)
    >>> idle_seconds("2000-01-01T00:00:00", 1800)
    1
    """
    if value is None or value == 0 or isinstance(value, bool):
        return default
    if isinstance(value, int):
        return max(1, value)
    remaining = remaining_seconds(value)
    if remaining is None:
        return default
    return max(1, remaining)


def cookie_max_age(
    value: t.Any, *, default: int | None, browser_close: bool
) -> int | None:
    """The session cookie's Max-Age as Django's middleware sets it: None
    for a browser-session cookie, else the seconds ``get_expiry_age()`` says.

    ``default`` is the age of a session without its own expiry
    (``SESSION_COOKIE_AGE``), ``browser_close`` is
    ``SESSION_EXPIRE_AT_BROWSER_CLOSE``.

    >>> cookie_max_age(None, default=600, browser_close=True) is None
    True
    >>> cookie_max_age(None, default=600, browser_close=False)
    600
    >>> cookie_max_age(120, default=600, browser_close=True)
    120
    """
    if value is None:
        return None if browser_close else default
    if value == 0 or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    remaining = remaining_seconds(value)
    return default if remaining is None else max(0, remaining)
