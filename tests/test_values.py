"""SessionValues: lazy decoding, change tracking and the data fields to write."""

from __future__ import annotations

import pytest

from wsgi_session.values import SessionValues


def loaded(**raw: bytes) -> SessionValues:
    values = SessionValues()
    values.begin_values(dict(raw))
    return values


def changes(values: SessionValues) -> tuple[dict[str, bytes], set[str]]:
    fields: dict[str, bytes] = {}
    removed: set[str] = set()
    values.value_changes(fields, removed)
    return fields, removed


def test_reading_a_stored_value_is_not_a_change() -> None:
    """Reading an immutable stored value leaves nothing to write."""
    values = loaded(n=b"1")
    assert values.get_value("n") == 1
    assert values.unchanged
    assert changes(values) == ({}, set())


def test_setting_the_stored_value_again_is_not_a_change() -> None:
    """A value serialized as it is stored is not written again."""
    values = loaded(n=b"1")
    values.set_value("n", 1)
    assert not values.values_pending
    assert changes(values) == ({}, set())


def test_in_place_change_of_a_read_list_is_written() -> None:
    """A list read and then appended to is found by re-serializing it."""
    values = loaded(cart=b"[1]")
    values.get_value("cart").append(2)
    assert not values.unchanged  # a mutable value was read: it is watched
    assert changes(values) == ({"dcart": b"[1,2]"}, set())


def test_deleting_a_stored_key_removes_its_field() -> None:
    """A deleted stored key is reported as a field to delete."""
    values = loaded(a=b"1", b=b"2")
    values.delete_value("a")
    assert changes(values) == ({}, {"da"})
    assert values.kept_value_fields() == {"db": b"2"}


def test_first_write_draws_an_id() -> None:
    """A new session gets its id when the first value is set, not before."""
    values = loaded()
    values.get_value("missing", None)
    assert values.id is None
    values.set_value("a", 1)
    assert values.id is not None


def test_undecodable_value_is_dropped_and_deleted() -> None:
    """A stored value that does not decode reads as missing and is deleted."""
    values = loaded(bad=b"\xff not json")
    assert values.get_value("bad", "default") == "default"
    with pytest.raises(KeyError):
        values.get_value("bad")
    assert changes(values) == ({}, {"dbad"})


def test_saved_changes_become_the_loaded_bytes() -> None:
    """After values_saved() the same value is no longer a change."""
    values = loaded()
    values.set_value("a", [1])
    values.value_changes({}, set())
    values.values_saved()
    values.set_value("a", [1])
    assert not values.values_pending
    assert values.stored_value("a") == [1]
