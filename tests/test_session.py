"""The Session object on its own: mapping, verbs, dirty tracking, flash aging."""

from __future__ import annotations

import datetime as dt

import pytest
from werkzeug.datastructures import MultiDict

from wsgi_session import SerializationError, Session
from wsgi_session.serializers import default_serializer as codec
from wsgi_session.session import DATA_PREFIX, SYS_FIELD, DetachedHost, SessionMeta


def new() -> Session:
    return Session.detached()


class StoredHost(DetachedHost):
    """A host that hands its session a stored record (as a store would)."""

    def __init__(self, fields: dict[str, bytes]) -> None:
        self.fields = fields

    def load_session(self, session: Session) -> None:
        meta = SessionMeta(1000.0, 2000.0, 1800, None)
        session.state.adopt("A" * 43, meta, self.fields)


def stored(_raw: dict[str, bytes] | None = None, **data: object) -> Session:
    """A session that looks as if it had been loaded from a store; ``_raw``
    adds fields of raw (possibly undecodable) bytes."""
    fields = {DATA_PREFIX + k: codec.dumps(v) for k, v in data.items()}
    fields.update({DATA_PREFIX + k: v for k, v in (_raw or {}).items()})
    return Session(StoredHost(fields))


def test_mapping_protocol_works_like_a_dict():
    """Items can be set, read, tested, counted, iterated and deleted."""
    s = new()
    s["a"] = 1
    s.update(b=2)
    assert s["a"] == 1 and "b" in s and len(s) == 2
    assert sorted(s) == ["a", "b"] and dict(s.items()) == {"a": 1, "b": 2}
    assert s.setdefault("c", 3) == 3 and s.pop("c") == 3
    del s["a"]
    assert s.all() == {"b": 2}
    with pytest.raises(KeyError):
        s["missing"]


def test_seed_verbs_put_has_all_forget_pull_flush():
    """put/has/all/forget/pull/flush behave as in the seed frameworks."""
    s = new()
    s.put("a", 1)
    s.put({"b": 2, "c": 3})
    assert s.has("a") and not s.has("z")
    s.forget("z")
    s.forget("a")
    assert s.pull("b") == 2 and s.pull("b", "gone") == "gone"
    copy = s.all()
    copy["x"] = 1
    assert "x" not in s
    sid = s.id
    s.flush()
    assert len(s) == 0 and s.id == sid


def test_id_is_created_by_the_first_write_only():
    """A new session has no id until something is stored in it."""
    s = new()
    assert s.get("x") is None and s.id is None
    s["x"] = 1
    assert s.id is not None and len(s.id) == 43


def test_non_str_keys_are_refused():
    """Keys must be strings (the store and URL forms rely on it)."""
    with pytest.raises(TypeError):
        new()[1] = "x"  # type: ignore[index]


def test_unserializable_value_raises_at_assignment_naming_the_path():
    """Assigning an unserializable value fails at once with the key path."""
    s = new()
    with pytest.raises(SerializationError) as info:
        s["cart"] = {"items": [1, 2, object()]}
    assert info.value.path == "cart.items[2]" and info.value.type_name == "object"
    assert "cart" not in s


def test_unserializable_in_place_change_raises_at_save_and_keeps_stored_copy():
    """A nested change that cannot be serialized fails at save, naming the path."""
    s = stored(cart={"items": [1]})
    s["cart"]["items"].append(object())
    with pytest.raises(SerializationError) as info:
        s.state.changes()
    assert info.value.path == "cart.items[1]"
    kept = s.state.all_fields({})[DATA_PREFIX + "cart"]
    assert kept == codec.dumps({"items": [1]})


def test_reading_does_not_modify():
    """Loading and reading values is not a modification."""
    s = stored(a=1, b=[1, 2])
    assert s["a"] == 1 and s["b"] == [1, 2]
    assert not s.modified and s.state.changes() == ({}, set())


def test_setting_the_same_value_is_not_a_change():
    """Assigning a value equal to the stored one does not mark the session."""
    s = stored(a=1, name="ann")
    s["a"] = 1
    s["name"] = "ann"
    assert not s.modified


def test_in_place_change_of_a_nested_value_is_detected():
    """Mutating a list read from the session is saved ('nested change' bug)."""
    s = stored(cart=["apple"], prefs={"a": {"b": 1}})
    s["cart"].append("pear")
    s["prefs"]["a"]["b"] = 2
    fields, removed = s.state.changes()
    assert set(fields) == {DATA_PREFIX + "cart", DATA_PREFIX + "prefs"}
    assert removed == set()


def test_changes_contain_only_touched_keys():
    """A save carries only the keys set or deleted by this request."""
    s = stored(a=1, b=2, c=3)
    s["a"] = 10
    del s["b"]
    fields, removed = s.state.changes()
    assert list(fields) == [DATA_PREFIX + "a"] and removed == {DATA_PREFIX + "b"}


def test_modified_can_be_forced():
    """Setting modified = True forces a save."""
    s = stored(a=1)
    s.modified = True
    assert s.modified


def test_timeout_is_per_session_and_settable():
    """s.timeout defaults to idle_timeout and can be changed per session."""
    s = Session.detached(idle_timeout=600)
    assert s.timeout == 600
    s.timeout = dt.timedelta(minutes=1)
    assert s.timeout == 60 and s.state.meta_changed
    with pytest.raises(ValueError):
        s.timeout = -5


def test_times_are_aware_utc_datetimes():
    """created, last_accessed and expires are timezone-aware UTC datetimes."""
    s = stored(a=1)
    assert s.created.tzinfo is dt.timezone.utc
    assert s.last_accessed == dt.datetime.fromtimestamp(2000, dt.timezone.utc)
    assert s.expires == dt.datetime.fromtimestamp(3800, dt.timezone.utc)


def test_new_session_was_last_accessed_when_it_was_created():
    """A new session's last_accessed is its creation time, never None (§3.2)."""
    s = Session.detached()
    assert s.last_accessed == s.created
    assert s.last_accessed.tzinfo is dt.timezone.utc


def test_destroyed_session_restarts_last_accessed_at_its_new_creation():
    """After destroy() the fresh session reports its own creation time."""
    s = stored(a=1)
    s.destroy()
    assert s.last_accessed == s.created
    assert s.last_accessed != dt.datetime.fromtimestamp(2000, dt.timezone.utc)


def test_absolute_timeout_caps_expiry():
    """expires is the earlier of the idle and absolute limits."""
    s = Session.detached(idle_timeout=1800, absolute_timeout=60)
    s["x"] = 1
    assert s.expires is not None and s.expires <= s.created + dt.timedelta(seconds=60)


def test_regenerate_keeps_data_and_changes_id():
    """regenerate() issues a new id and rewrites all data under it."""
    s = stored(a=1, b=[2])
    old = s.id
    s.regenerate()
    assert s.id != old and s.all() == {"a": 1, "b": [2]}
    assert set(s.state.all_fields()) == {DATA_PREFIX + "a", DATA_PREFIX + "b"}


def test_destroy_forgets_everything_and_next_write_gets_fresh_id():
    """After destroy() the session is empty and a write starts a new id."""
    s = stored(a=1)
    old = s.id
    s.destroy()
    assert len(s) == 0 and s.id is None and s.destroyed
    s["b"] = 2
    assert s.id not in (None, old)


def test_flash_is_readable_next_request_then_gone():
    """flash() values survive exactly one more request."""
    s = new()
    s.flash("notice", "Saved")
    s.state.age_flash()  # end of request 1
    assert s["notice"] == "Saved"
    s.state.age_flash()  # end of request 2
    assert "notice" not in s


def test_now_is_readable_this_request_only():
    """now() values disappear at the end of the current request."""
    s = new()
    s.now("hint", "x")
    assert s["hint"] == "x"
    s.state.age_flash()
    assert "hint" not in s


def test_reflash_and_keep_extend_flash_data():
    """reflash keeps all flash data another request; keep keeps some."""
    s = new()
    s.flash("a", 1)
    s.flash("b", 2)
    s.state.age_flash()
    s.keep("a")
    s.state.age_flash()
    assert "a" in s and "b" not in s
    s.reflash()
    s.state.age_flash()
    assert "a" in s
    s.state.age_flash()
    assert "a" not in s


def test_flash_state_is_stored_in_its_own_field():
    """Flash bookkeeping is saved beside the data, not as a user key."""
    s = new()
    s.flash("m", "hi")
    fields, _ = s.state.changes()
    assert SYS_FIELD in fields and list(s) == ["m"]


def test_flash_input_with_only_exclude_and_multidict():
    """flash_input keeps chosen fields; multi-values become lists; files skipped."""

    class Upload:
        stream = None

    form = MultiDict(
        [("name", "Ann"), ("tag", "a"), ("tag", "b"), ("pw", "x"), ("f", Upload())]
    )
    s = new()
    s.flash_input(form, exclude=["pw"])
    assert s.old("name") == "Ann" and s.old("tag") == ["a", "b"]
    assert s.old("pw") is None and s.old("f") is None
    s.flash_input({"a": "1", "b": "2"}, only=["a"])
    assert s.old("a") == "1" and s.old("b", "none") == "none"


def test_old_input_lives_one_more_request_and_reads_dotted_names():
    """old() works in the next request, reaches into dicts, then is gone."""
    s = new()
    s.flash_input({"profile": {"name": "Ann", "tags": ["x"]}, "a.b": "flat"})
    s.state.age_flash()
    assert s.old("profile.name") == "Ann" and s.old("profile.tags.0") == "x"
    assert s.old("a.b") == "flat"
    s.state.age_flash()
    assert s.old("profile.name") is None


def test_undecodable_value_is_dropped_not_raised():
    """A corrupt stored value reads as missing and is deleted at save."""
    s = stored(a=1, _raw={"bad": b"\xff not json"})
    assert s.get("bad") is None
    assert DATA_PREFIX + "bad" in s.state.changes()[1]


def test_undecodable_values_are_skipped_by_iteration_and_items():
    """items(), all() and len() skip a corrupt value instead of failing."""
    s = stored(a=1, _raw={"b": b"\xff not json"})
    assert s.all() == {"a": 1} and len(s) == 1 and dict(s.items()) == {"a": 1}
