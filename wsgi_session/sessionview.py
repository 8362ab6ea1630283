"""The dict API of a framework's view of a session, delegated to the session.

The Pyramid and Beaker drop-ins present a request's
:class:`~wsgi_session.Session` through their framework's session API; the
mapping part of it is the same for both, and is :class:`SessionView`'s.

>>> from wsgi_session import Session
>>> view = SessionView(Session.detached())
>>> view["n"] = 1; view.session["n"], len(view), "n" in view
(1, 1, True)
"""

from __future__ import annotations

import typing as t
from collections.abc import Iterator, MutableMapping

from .session import Session

__all__ = ["SessionView"]


class SessionView(MutableMapping[str, t.Any]):
    """A ``MutableMapping`` over a :class:`~wsgi_session.Session`.

    Each item read or written is the session's (the same data, seen at once).

    >>> from wsgi_session import Session
    >>> s = Session.detached(); view = SessionView(s)
    >>> s["cart"] = [1]; view.pop("cart"), "cart" in s
    ([1], False)
    """

    __slots__ = ("_session",)

    def __init__(self, session: Session) -> None:
        self._session = session

    @property
    def session(self) -> Session:
        """The wsgi_session session behind this view."""
        return self._session

    def __getitem__(self, key: str) -> t.Any:
        return self._session[key]

    def __setitem__(self, key: str, value: t.Any) -> None:
        self._session[key] = value

    def __delitem__(self, key: str) -> None:
        del self._session[key]

    def __contains__(self, key: object) -> bool:
        return key in self._session

    def __iter__(self) -> Iterator[str]:
        return iter(self._session)

    def __len__(self) -> int:
        return len(self._session)
