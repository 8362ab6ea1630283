"""The one contract every session backend keeps (the Backend docstring).

Each test runs once per store of conftest's ``CONTRACT_STORES`` through the
``open_cache`` fixture: memory, file, Redis, Memcached, a plain
``SimpleCache`` passed in, and a cache that gets the generic backend.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable

import pytest
from cachelib import BaseCache
from conftest import errors_in_threads

from wsgi_session.errors import LockTimeout
from wsgi_session.stores import (
    Backend,
    CountingBackend,
    SaveResult,
    backend_for,
    is_in_memory,
)
from wsgi_session.stores.generic import GenericBackend


def new_key() -> str:
    """A fresh store key shaped like the session layer's (hash tag included)."""
    return f"wss:{{{secrets.token_hex(16)}}}"


@pytest.fixture
def backend(open_cache: Callable[[], BaseCache]) -> Backend:
    """The backend the middleware would use for a fresh cache on the store."""
    return backend_for(open_cache())


def test_a_cache_of_no_known_type_gets_the_generic_backend(
    open_cache: Callable[[], BaseCache], request: pytest.FixtureRequest
) -> None:
    """The ``generic`` store really runs the suite over the generic backend."""
    generic = isinstance(backend_for(open_cache()), GenericBackend)
    assert generic is (request.node.callspec.id == "generic")


def test_load_of_missing_key_returns_none(backend: Backend) -> None:
    """Loading a key that was never written returns None, not an error."""
    assert backend.load(new_key()) is None


def test_created_record_loads_back(backend: Backend) -> None:
    """A created record loads back with its meta and fields."""
    key = new_key()
    assert backend.create(key, b"meta", {"a": b"1", "b": b"2"}, 60) is True
    record = backend.load(key)
    assert record is not None
    assert record.meta == b"meta"
    assert record.fields == {"a": b"1", "b": b"2"}


def test_create_refuses_an_existing_key(backend: Backend) -> None:
    """create() returns False and leaves the stored record alone if the key exists."""
    key = new_key()
    assert backend.create(key, b"m1", {"a": b"1"}, 60)
    assert backend.create(key, b"m2", {"b": b"2"}, 60) is False
    record = backend.load(key)
    assert record is not None and (record.meta, record.fields) == (b"m1", {"a": b"1"})


def test_create_without_fields_is_an_error(backend: Backend) -> None:
    """create() with no fields raises ValueError: an empty session is never stored."""
    with pytest.raises(ValueError):
        backend.create(new_key(), b"m", {}, 60)


def test_merge_sets_and_deletes_fields_and_keeps_the_others(backend: Backend) -> None:
    """merge() applies its sets and deletions, replaces meta, and keeps other fields."""
    key = new_key()
    backend.create(key, b"m1", {"keep": b"k", "drop": b"d", "change": b"c1"}, 60)
    result = backend.merge(key, b"m2", {"change": b"c2", "new": b"n"}, ["drop"], 60)
    assert result is SaveResult.SAVED
    record = backend.load(key)
    assert record is not None
    assert record.meta == b"m2"
    assert record.fields == {"keep": b"k", "change": b"c2", "new": b"n"}


def test_merge_onto_a_newer_version_keeps_its_changes(backend: Backend) -> None:
    """A merge carrying the token of an old load still merges onto the newest data."""
    key = new_key()
    backend.create(key, b"m", {"a": b"1"}, 60)
    stale = backend.load(key)
    assert stale is not None
    assert backend.merge(key, b"m", {"b": b"2"}, [], 60) is SaveResult.SAVED
    result = backend.merge(key, b"m", {"c": b"3"}, [], 60, token=stale.token)
    assert result is SaveResult.SAVED
    record = backend.load(key)
    assert record is not None
    assert record.fields == {"a": b"1", "b": b"2", "c": b"3"}


def test_merge_into_a_vanished_record_is_gone_and_writes_nothing(
    backend: Backend,
) -> None:
    """merge() on a deleted session returns GONE and does not bring it back."""
    key = new_key()
    backend.create(key, b"m", {"a": b"1"}, 60)
    loaded = backend.load(key)
    assert loaded is not None
    backend.delete(key)
    result = backend.merge(key, b"m", {"b": b"2"}, [], 60, token=loaded.token)
    assert result is SaveResult.GONE
    assert backend.load(key) is None


def test_merge_deleting_the_last_field_empties_the_record(backend: Backend) -> None:
    """merge() that leaves no field returns EMPTIED and the entry is gone."""
    key = new_key()
    backend.create(key, b"m", {"a": b"1"}, 60)
    assert backend.merge(key, b"m", {}, ["a"], 60) is SaveResult.EMPTIED
    assert backend.load(key) is None
    assert backend.merge(key, b"m", {"b": b"2"}, [], 60) is SaveResult.GONE


def test_replace_overwrites_every_field(backend: Backend) -> None:
    """replace() writes exactly the given fields and meta."""
    key = new_key()
    backend.create(key, b"m1", {"a": b"1", "b": b"2"}, 60)
    assert backend.replace(key, b"m2", {"c": b"3"}, 60) is SaveResult.SAVED
    record = backend.load(key)
    assert record is not None and (record.meta, record.fields) == (b"m2", {"c": b"3"})


def test_replace_with_no_fields_deletes_the_record(backend: Backend) -> None:
    """replace() with no fields returns EMPTIED and deletes the entry."""
    key = new_key()
    backend.create(key, b"m", {"a": b"1"}, 60)
    assert backend.replace(key, b"m", {}, 60) is SaveResult.EMPTIED
    assert backend.load(key) is None


def test_replace_does_not_resurrect_a_deleted_record(backend: Backend) -> None:
    """replace() on a deleted session returns GONE and writes nothing."""
    key = new_key()
    backend.create(key, b"m", {"a": b"1"}, 60)
    backend.delete(key)
    assert backend.replace(key, b"m", {"a": b"2"}, 60) is SaveResult.GONE
    assert backend.load(key) is None


def test_touch_replaces_meta_only(backend: Backend) -> None:
    """touch() replaces meta and keeps the fields."""
    key = new_key()
    backend.create(key, b"m1", {"a": b"1"}, 60)
    assert backend.touch(key, b"m2", 60) is True
    record = backend.load(key)
    assert record is not None and (record.meta, record.fields) == (b"m2", {"a": b"1"})


def test_touch_of_a_missing_record_returns_false(backend: Backend) -> None:
    """touch() on a deleted session returns False and does not recreate it."""
    key = new_key()
    backend.create(key, b"m", {"a": b"1"}, 60)
    backend.delete(key)
    assert backend.touch(key, b"m", 60) is False
    assert backend.load(key) is None


def test_delete_of_a_missing_record_is_fine(backend: Backend) -> None:
    """delete() of a key that does not exist is not an error."""
    backend.delete(new_key())


def test_ttls_expire_records_and_writes_refresh_them(backend: Backend) -> None:
    """Records expire after their TTL; touch and merge extend it; 0 never expires."""
    expiring, touched, merged, forever = new_key(), new_key(), new_key(), new_key()
    for key in (expiring, touched, merged):
        backend.create(key, b"m", {"a": b"1"}, 1)
    backend.create(forever, b"m", {"a": b"1"}, 0)
    assert backend.touch(touched, b"m", 60)
    assert backend.merge(merged, b"m", {"b": b"2"}, [], 60) is SaveResult.SAVED
    time.sleep(2.2)
    assert backend.load(expiring) is None
    assert backend.touch(expiring, b"m", 60) is False
    assert backend.load(touched) is not None
    assert backend.load(merged) is not None
    assert backend.load(forever) is not None


def test_two_caches_on_the_same_store_share_records(
    open_cache: Callable[[], BaseCache],
) -> None:
    """Backends over separate cache instances of one server / directory share data."""
    cache = open_cache()
    if is_in_memory(cache):
        pytest.skip("each in-process cache is its own store")
    first = backend_for(cache)
    second = backend_for(open_cache())
    assert first is not second
    key = new_key()
    first.create(key, b"m", {"a": b"1"}, 60)
    assert second.merge(key, b"m", {"b": b"2"}, [], 60) is SaveResult.SAVED
    record = first.load(key)
    assert record is not None and record.fields == {"a": b"1", "b": b"2"}
    second.delete(key)
    assert first.load(key) is None


def test_concurrent_merges_of_distinct_fields_are_all_kept(backend: Backend) -> None:
    """16 threads merging different fields into one record lose none of them."""
    key = new_key()
    backend.create(key, b"m", {"base": b"0"}, 60)
    barrier = threading.Barrier(16)
    results: list[SaveResult] = []

    def worker(n: int) -> None:
        barrier.wait()
        loaded = backend.load(key)
        token = loaded.token if loaded else None
        results.append(
            backend.merge(key, b"m", {f"f{n}": bytes([n])}, [], 60, token=token)
        )

    assert not errors_in_threads(worker, 16)
    assert results == [SaveResult.SAVED] * 16
    record = backend.load(key)
    assert record is not None
    assert record.fields == {"base": b"0", **{f"f{n}": bytes([n]) for n in range(16)}}


def test_lock_is_exclusive_between_threads(backend: Backend) -> None:
    """Only one thread at a time holds a session's lock."""
    key = new_key()
    inside = 0
    most = 0
    done = 0
    guard = threading.Lock()

    def worker() -> None:
        nonlocal inside, most, done
        with backend.lock(key, timeout=10, ttl=30):
            with guard:
                inside += 1
                most = max(most, inside)
            time.sleep(0.02)
            with guard:
                inside -= 1
                done += 1

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert (done, most) == (8, 1)


def test_lock_times_out_with_lock_timeout(backend: Backend) -> None:
    """Waiting longer than the timeout for a held lock raises LockTimeout."""
    key = new_key()
    with backend.lock(key, timeout=1, ttl=30):
        started = time.monotonic()
        with pytest.raises(LockTimeout), backend.lock(key, timeout=0.3, ttl=30):
            pass  # pragma: no cover
        assert 0.25 <= time.monotonic() - started < 3
    with backend.lock(key, timeout=1, ttl=30):
        pass


def test_lock_of_a_crashed_holder_expires_after_its_ttl(backend: Backend) -> None:
    """A lock never released (its holder died) is free again after its ttl."""
    key = new_key()
    crashed = backend.lock(key, timeout=1, ttl=1)
    crashed.__enter__()
    started = time.monotonic()
    with backend.lock(key, timeout=5, ttl=30):
        waited = time.monotonic() - started
    assert 0.3 < waited < 4


def test_locks_of_different_sessions_are_independent(backend: Backend) -> None:
    """Holding one session's lock does not block another session's."""
    first, second = new_key(), new_key()
    with backend.lock(first, timeout=1, ttl=30), backend.lock(second, 0.5, 30):
        pass


def test_arbitrary_bytes_round_trip(backend: Backend) -> None:
    """Meta, field values and names survive as given: NUL, non-UTF-8, empty, unicode."""
    key = new_key()
    fields = {
        "nul": b"\x00\x00",
        "binary": bytes(range(256)),
        "empty": b"",
        "ключ:m": "значение".encode(),
        "m": b"not the meta",
    }
    meta = b"\xff\xfe\x00meta\x80"
    assert backend.create(key, meta, fields, 60)
    record = backend.load(key)
    assert record is not None and (record.meta, record.fields) == (meta, fields)
    assert backend.merge(key, b"\x00", {"x": b"\xc3\x28"}, ["nul"], 60).value == "saved"
    record = backend.load(key)
    assert record is not None
    assert record.meta == b"\x00"
    assert record.fields["x"] == b"\xc3\x28" and "nul" not in record.fields


# load, merge (with the load's token), touch
EXPECTED_ROUND_TRIPS = {
    "memory": (1, 2, 2),
    "file": (1, 2, 2),
    "redis": (1, 1, 1),
    "memcached": (1, 1, 2),
    "generic": (1, 5, 5),  # + mutex: add, then get and delete to release
    "simplecache": (1, 2, 2),
}


def test_round_trips_per_operation(
    backend: Backend, request: pytest.FixtureRequest
) -> None:
    """load, merge and touch cost the documented number of store round trips."""
    if request.node.callspec.id not in EXPECTED_ROUND_TRIPS:
        pytest.skip("SQL stores count statements: tests/test_sql_store.py")
    expected = EXPECTED_ROUND_TRIPS[request.node.callspec.id]
    backend = CountingBackend(backend)
    key = new_key()
    backend.create(key, b"m", {"a": b"1"}, 60)
    backend.merge(key, b"m", {"b": b"1"}, [], 60)  # warm scripts / connections
    backend.touch(key, b"m", 60)

    counts = []
    before = backend.round_trips
    record = backend.load(key)
    counts.append(backend.round_trips - before)
    assert record is not None
    before = backend.round_trips
    backend.merge(key, b"m", {"c": b"1"}, [], 60, token=record.token)
    counts.append(backend.round_trips - before)
    before = backend.round_trips
    backend.touch(key, b"m", 60)
    counts.append(backend.round_trips - before)
    assert tuple(counts) == expected
