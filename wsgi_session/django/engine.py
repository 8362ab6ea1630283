"""``SESSION_ENGINE = "wsgi_session.django.engine"``: Django's sessions on wsgi_session.

Its :class:`SessionStore` is a ``SessionBase`` over the same stored sessions
as ``request.session`` (same store, keys, records and serializer, from
``WSGI_SESSION`` and Django's ``SESSION_*`` settings), usable outside a
request: ``django.test.Client.login()`` / ``force_login()`` /
``client.session``, ``manage.py clearsessions`` (a sweep on SQL stores,
nothing to do on stores with TTLs) and code that builds
``SessionStore(session_key)`` itself. ``session_key`` is the value of the
session cookie (the signed id).

>>> SessionStore.__mro__[1].__name__
'DjangoSession'
"""

from __future__ import annotations

from .session import DjangoSession

__all__ = ["SessionStore"]


class SessionStore(DjangoSession):
    """A session opened by its cookie value, outside any request.

    ``SessionStore()`` is a new session; ``save()`` stores it (empty or not)
    and gives it its ``session_key``; ``SessionStore(key)`` opens the stored
    session of that cookie value lazily, or a new one when the key is unknown,
    tampered or expired.
    """
