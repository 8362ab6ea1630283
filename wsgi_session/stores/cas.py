"""The merge of the compare-and-set backends (Memcached, Redis).

A merge applies its changes onto the version of the record a load saw (a
:class:`Snapshot`, kept in :attr:`Record.token`) and writes the result back
only if the store still holds that version; otherwise it starts again from
the newer version. Two merges of different keys therefore never lose each
other's change, and a record that is gone is never written again. The
store supplies two steps: ``read`` (the current snapshot, or ``None`` when
the record is gone) and ``swap`` (write the merged fields if the version is
unchanged)::

    >>> stored = {"version": 1, "fields": {"a": b"1"}}
    >>> def read():
    ...     return Snapshot(stored["version"], stored["fields"])
    >>> def swap(snapshot, fields):
    ...     if snapshot.version != stored["version"]:
    ...         return None  # somebody else wrote first: read again
    ...     stored.update(version=snapshot.version + 1, fields=fields)
    ...     return SaveResult.SAVED
    >>> stale = read()
    >>> stored.update(version=2, fields={"a": b"1", "b": b"2"})  # a concurrent write
    >>> merge_by_cas(stale, read, swap, {"c": b"3"}, [], retries=3, store="demo")
    <SaveResult.SAVED: 'saved'>
    >>> stored["fields"]
    {'a': b'1', 'b': b'2', 'c': b'3'}
"""

from __future__ import annotations

import typing as t
from collections.abc import Callable, Iterable, Mapping

from ..errors import StoreUnavailable
from .base import SaveResult, apply_changes

__all__ = ["Snapshot", "merge_by_cas"]


class Snapshot(t.NamedTuple):
    """A version of a stored record and its fields (:attr:`Record.token`).

    ``version`` is whatever the store compares (a memcached CAS id, the
    version counter of a Redis session hash); ``fields`` must not be changed.

    >>> version, fields = Snapshot(7, {"dcart": b"[1]"})  # e.g. a memcached CAS id
    >>> version, sorted(fields)
    (7, ['dcart'])
    """

    version: object
    fields: Mapping[str, bytes]


#: ``swap(snapshot, merged_fields)``: SAVED / EMPTIED / GONE when done, a
#: newer :class:`Snapshot` when the version had changed (the store sent it
#: back), or ``None`` when it had changed and must be read again.
Swap = Callable[[Snapshot, dict[str, bytes]], "SaveResult | Snapshot | None"]


def merge_by_cas(
    snapshot: Snapshot | None,
    read: Callable[[], Snapshot | None],
    swap: Swap,
    set_fields: Mapping[str, bytes],
    del_fields: Iterable[str],
    *,
    retries: int,
    store: str,
) -> SaveResult:
    """Merge deletions, then sets, onto the newest version of a record.

    ``snapshot`` is the version a load saw (``None``: read it first). Raises
    StoreUnavailable after ``retries`` attempts that all lost to another
    writer (``store`` names the store in the message).

    >>> merge_by_cas(None, lambda: None, None, {"a": b"1"}, [], retries=3, store="x")
    <SaveResult.GONE: 'gone'>
    >>> stale = Snapshot(1, {})  # every swap loses: the version keeps changing
    >>> merge_by_cas(stale, lambda: stale, lambda snapshot, fields: None, {}, [],
    ...              retries=2, store="memcached")
    Traceback (most recent call last):
    ...
    wsgi_session.errors.StoreUnavailable: memcached: gave up after 2 compare-and-set ...
    """
    del_fields = list(del_fields)  # applied again on every attempt
    for _ in range(retries):
        if snapshot is None:
            snapshot = read()
            if snapshot is None:
                return SaveResult.GONE
        outcome = swap(snapshot, apply_changes(snapshot.fields, set_fields, del_fields))
        if isinstance(outcome, SaveResult):
            return outcome
        snapshot = outcome
    raise StoreUnavailable(
        f"{store}: gave up after {retries} compare-and-set conflicts"
    )
