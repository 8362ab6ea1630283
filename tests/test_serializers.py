"""Tests for wsgi_session.serializers: tagged JSON, opt-in pickle, the setting."""

from __future__ import annotations

import copy
import enum
import json
import math
import pickle
import sys
import threading
import uuid
from collections import OrderedDict
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markupsafe import Markup

from wsgi_session.errors import ConfigError, SerializationError
from wsgi_session.jsonserializer import encode_json
from wsgi_session.jsontags import Tagger
from wsgi_session.serializers import (
    JSONSerializer,
    PickleSerializer,
    check_serializer,
    default_serializer,
)

json_s = JSONSerializer()


class Custom:
    """A type the JSON serializer does not know."""


class Level(enum.IntEnum):
    """An int subclass, which would come back as a plain int."""

    LOW = 1


def same(a: Any, b: Any) -> bool:
    """Whether ``a`` and ``b`` are equal with identical types, all the way down."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)
    if isinstance(a, Decimal):
        return a.as_tuple() == b.as_tuple()
    if isinstance(a, (datetime, time)):
        naive_equal = a.replace(tzinfo=None) == b.replace(tzinfo=None)
        return naive_equal and a.utcoffset() == b.utcoffset()
    if isinstance(a, dict):
        if list(a) != list(b) or any(type(k) is not str for k in b):
            return False
        return all(same(a[key], b[key]) for key in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(map(same, a, b))
    if isinstance(a, (set, frozenset)):
        unmatched = list(b)
        for item in a:
            match = next((i for i, o in enumerate(unmatched) if same(item, o)), None)
            if match is None:
                return False
            del unmatched[match]
        return not unmatched
    return bool(a == b)


def round_trip(value: Any) -> Any:
    return json_s.loads(json_s.dumps(value))


IST = timezone(timedelta(hours=5, minutes=30))
ODD = timezone(-timedelta(hours=3, minutes=7, seconds=11, microseconds=5))
SUBSECOND = timezone(timedelta(microseconds=1))  # fromisoformat misreads this

TAGGED_VALUES = [
    pytest.param((), id="empty-tuple"),
    pytest.param((1, "a", None), id="tuple"),
    pytest.param(b"", id="empty-bytes"),
    pytest.param(bytes(range(256)), id="bytes"),
    pytest.param(datetime(2024, 2, 29, 23, 59, 59, 999999), id="naive-datetime"),
    pytest.param(datetime(2024, 5, 1, 12, 0, tzinfo=IST), id="aware-datetime"),
    pytest.param(datetime(1, 1, 1, tzinfo=ODD), id="odd-offset-datetime"),
    pytest.param(datetime(2024, 5, 1, tzinfo=timezone.utc), id="utc-datetime"),
    pytest.param(datetime(2024, 5, 1, tzinfo=SUBSECOND), id="subsecond-offset"),
    pytest.param(
        time(1, tzinfo=timezone(-timedelta(microseconds=7))), id="subsecond-time"
    ),
    pytest.param(date(2024, 5, 1), id="date"),
    pytest.param(date(1, 1, 1), id="date-year-1"),
    pytest.param(time(7, 30, 0, 12), id="naive-time"),
    pytest.param(time(7, 30, tzinfo=IST), id="aware-time"),
    pytest.param(uuid.UUID("12345678-1234-5678-1234-567812345678"), id="uuid"),
    pytest.param(Decimal("1.10"), id="decimal-trailing-zero"),
    pytest.param(Decimal("-0"), id="decimal-negative-zero"),
    pytest.param(Decimal("1E+3"), id="decimal-exponent"),
    pytest.param(Decimal("NaN"), id="decimal-nan"),
    pytest.param(Decimal("sNaN"), id="decimal-snan"),
    pytest.param(Decimal("-Infinity"), id="decimal-infinity"),
    pytest.param(set(), id="empty-set"),
    pytest.param({1, "a", (2, 3)}, id="set"),
    pytest.param(frozenset({b"x", frozenset({1})}), id="frozenset"),
    pytest.param(Markup("<b>bold</b>"), id="markup"),
    pytest.param(float("nan"), id="nan"),
    pytest.param(float("inf"), id="inf"),
    pytest.param(float("-inf"), id="minus-inf"),
]

PLAIN_VALUES = [
    pytest.param(None, id="none"),
    pytest.param(True, id="true"),
    pytest.param(0, id="zero"),
    pytest.param(-(10**100), id="big-int"),
    pytest.param(-0.0, id="negative-zero-float"),
    pytest.param(1.1, id="float"),
    pytest.param("", id="empty-str"),
    pytest.param("naïve ☃ \x00 \n", id="str"),
    pytest.param([], id="empty-list"),
    pytest.param({}, id="empty-dict"),
    pytest.param({"a": [1, 2.5, None, True, {"b": "c"}]}, id="nested"),
]


@pytest.mark.parametrize("value", PLAIN_VALUES + TAGGED_VALUES)
def test_each_supported_type_round_trips_with_its_type(value: Any) -> None:
    """Every supported type comes back equal and of exactly the same type."""
    assert same(round_trip(value), value)


@pytest.mark.parametrize("value", TAGGED_VALUES)
def test_tagged_types_round_trip_nested_in_containers(value: Any) -> None:
    """Tagged values keep their type inside dicts, lists and tuples."""
    nested = {"outer": [{"inner": (value, [value])}], "direct": value}
    assert same(round_trip(nested), nested)


def test_tuple_inside_list_inside_dict_stays_a_tuple() -> None:
    """A tuple nested in a list in a dict comes back as a tuple, not a list."""
    result = round_trip({"pairs": [(1, 2), ((3,), [4])]})
    assert type(result["pairs"][0]) is tuple
    assert type(result["pairs"][1][0]) is tuple
    assert type(result["pairs"][1][1]) is list


def test_aware_datetime_keeps_its_utc_offset() -> None:
    """An aware datetime comes back with the same wall time and UTC offset."""
    value = datetime(2024, 5, 1, 12, 0, tzinfo=ODD)
    result = round_trip(value)
    assert result.utcoffset() == ODD.utcoffset(None)
    assert result.replace(tzinfo=None) == value.replace(tzinfo=None)


def test_zoneinfo_datetime_comes_back_with_its_fixed_offset() -> None:
    """A ZoneInfo datetime returns as the same instant with a fixed offset."""
    zoneinfo = pytest.importorskip("zoneinfo")
    try:
        paris = zoneinfo.ZoneInfo("Europe/Paris")
    except zoneinfo.ZoneInfoNotFoundError:
        pytest.skip("no time zone database")
    value = datetime(2024, 7, 1, 12, 0, tzinfo=paris)
    result = round_trip(value)
    assert result == value
    assert result.utcoffset() == timedelta(hours=2)
    assert result.tzinfo == timezone(timedelta(hours=2))


def test_time_whose_tzinfo_gives_no_offset_is_refused() -> None:
    """A time with a zone-based tzinfo has no offset and cannot round-trip."""
    zoneinfo = pytest.importorskip("zoneinfo")
    try:
        paris = zoneinfo.ZoneInfo("Europe/Paris")
    except zoneinfo.ZoneInfoNotFoundError:
        pytest.skip("no time zone database")
    with pytest.raises(SerializationError) as info:
        json_s.dumps({"opens": time(9, 0, tzinfo=paris)})
    assert (info.value.path, info.value.type_name) == ("opens", "time")


def test_markup_comes_back_as_markup_everywhere() -> None:
    """Markup stays Markup at the root, in dicts, lists and sets."""
    flash = Markup("<em>saved</em>")
    result = round_trip({"flash": [flash], "set": {flash}, "root": flash})
    assert type(result["flash"][0]) is Markup
    assert type(next(iter(result["set"]))) is Markup
    assert type(round_trip(flash)) is Markup
    assert round_trip("<em>plain</em>") == "<em>plain</em>"
    assert type(round_trip("<em>plain</em>")) is str


@pytest.mark.parametrize(
    "value",
    [
        {" t": [1, 2]},
        {" e": [" t", 1]},
        {" s": [1]},
        {" zz": 1},
        {" ": None},
        {"  t": "x"},
        {" t": {" e": {" m": "<b>"}}},
        {" t": 1, " s": 2},
        [{" t": (1,)}],
        ({" b": b"\x00"},),
    ],
)
def test_dict_keys_that_look_like_tags_stay_plain_data(value: Any) -> None:
    """User dicts whose keys look like tags round-trip as those plain dicts."""
    assert same(round_trip(value), value)


def test_output_is_compact_utf8_json() -> None:
    """Output is compact JSON, UTF-8 encoded, without ASCII escapes."""
    data = json_s.dumps({"é": ["ü", 1, None]})
    assert data == '{"é":["ü",1,null]}'.encode()
    assert json.loads(data) == {"é": ["ü", 1, None]}


def test_dict_insertion_order_is_kept() -> None:
    """Dict keys are written and read back in insertion order, not sorted."""
    value = {"b": 1, "a": 2, "c": (3,)}
    assert json_s.dumps(value).startswith(b'{"b":1,"a":2')
    assert list(round_trip(value)) == ["b", "a", "c"]


def test_equal_values_give_identical_bytes() -> None:
    """A value and its deep copy serialize to the same bytes."""
    value = {"cart": {"items": [(1, Decimal("9.99")), {"tags": {"b", "a", "c"}}]}}
    assert json_s.dumps(value) == json_s.dumps(copy.deepcopy(value))


def test_sets_built_in_different_orders_give_identical_bytes() -> None:
    """Set members are sorted, so iteration order does not change the bytes."""
    words = [f"word{i}" for i in range(200)]
    forward, backward = set(words), set(reversed(words))
    forward.update(range(50))
    backward.update(reversed(range(50)))
    assert json_s.dumps(forward) == json_s.dumps(backward)
    assert json_s.dumps(frozenset(forward)) == json_s.dumps(frozenset(backward))


def test_lone_surrogate_round_trips() -> None:
    """A str holding a lone surrogate is escaped rather than failing UTF-8."""
    value = {"bad": "x\ud800y", "ok": "é"}
    data = json_s.dumps(value)
    data.decode("ascii")
    assert same(json_s.loads(data), value)


def test_data_deeper_than_the_fast_path_round_trips() -> None:
    """Nesting beyond the fast path's depth limit still round-trips."""
    value: Any = ("leaf",)
    for _ in range(100):
        value = {"k": [value]}
    result = round_trip(value)
    assert result == value
    for _ in range(100):
        result = result["k"][0]
    assert type(result) is tuple


@pytest.mark.skipif(
    not hasattr(sys, "get_int_max_str_digits"), reason="no int digit limit"
)
def test_int_beyond_the_digit_limit_raises_serialization_error() -> None:
    """An int too long to convert to text is a SerializationError with a path."""
    huge = 10 ** (sys.get_int_max_str_digits() + 10)
    with pytest.raises(SerializationError) as info:
        json_s.dumps({"n": [huge]})
    assert (info.value.path, info.value.type_name) == ("n[0]", "int")


@pytest.mark.parametrize(
    ("value", "path", "type_name"),
    [
        (object(), "", "object"),
        ({"items": [1, 2, object()]}, "items[2]", "object"),
        ({"a": {"b": Custom()}}, "a.b", "Custom"),
        ([0, 1, 2, Custom()], "[3]", "Custom"),
        ([{"name": len}], "[0].name", "builtin_function_or_method"),
        ({"f": lambda: None}, "f", "function"),
        ({"t": (1, (2, Custom()))}, "t[1][1]", "Custom"),
        ({"d": {(1, 2): "pair"}}, "d", "tuple"),
        ({1: "int key"}, "", "int"),
        ({"d": {None: 1}}, "d", "NoneType"),
        ({"s": {1, Custom()}}, "s", "Custom"),
        ({"s": frozenset({(1, Custom())})}, "s", "Custom"),
        ({"o": OrderedDict(a=1)}, "o", "OrderedDict"),
        ({"level": Level.LOW}, "level", "Level"),
        ({"buf": bytearray(b"x")}, "buf", "bytearray"),
        ({"err": ValueError("x")}, "err", "ValueError"),
        ({" t": Custom()}, " t", "Custom"),
    ],
)
def test_unserializable_value_raises_error_naming_path_and_type(
    value: Any, path: str, type_name: str
) -> None:
    """The error locates the bad value relative to the root and names its type."""
    with pytest.raises(SerializationError) as info:
        json_s.dumps(value)
    assert (info.value.path, info.value.type_name) == (path, type_name)


def test_serialization_error_path_extends_under_a_session_key() -> None:
    """A session can prefix its key: items[2] under "cart" is cart.items[2]."""
    with pytest.raises(SerializationError) as info:
        json_s.dumps({"items": ["a", "b", object()]})
    error = info.value.under("cart")
    assert error.path == "cart.items[2]"
    assert str(error) == "cannot serialize value of type 'object' at 'cart.items[2]'"


def test_serialization_error_is_a_type_error() -> None:
    """SerializationError can be caught as TypeError, like json's own error."""
    with pytest.raises(TypeError):
        json_s.dumps({"x": Custom()})


def test_circular_reference_raises_serialization_error() -> None:
    """A container that contains itself is reported at the repeated path."""
    loop: dict[str, Any] = {"items": []}
    loop["items"].append(loop)
    with pytest.raises(SerializationError) as info:
        json_s.dumps(loop)
    assert (info.value.path, info.value.type_name) == ("items[0]", "dict")
    assert info.value.detail == "circular reference"


def test_shared_references_are_not_mistaken_for_cycles() -> None:
    """The same list used twice is serialized twice, not rejected."""
    shared = [1, (2,)]
    assert same(round_trip({"a": shared, "b": shared}), {"a": [1, (2,)], "b": shared})


def test_too_deep_nesting_raises_serialization_error() -> None:
    """Nesting past the recursion limit is a SerializationError, not a crash."""
    value: Any = (1,)
    for _ in range(sys.getrecursionlimit() * 2):
        value = [value]
    with pytest.raises(SerializationError, match="nested too deeply"):
        json_s.dumps(value)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"not json", id="not-json"),
        pytest.param(b'{"a":1', id="truncated"),
        pytest.param(b"\xff\xfe{}", id="bad-utf8"),
        pytest.param('{"a":"é"}'.encode("latin-1"), id="latin-1"),
        pytest.param(b'{" zz":1}', id="unknown-tag"),
        pytest.param(b'{"\\u0020zz":1}', id="unknown-escaped-tag"),
        pytest.param(b'{" t":1}', id="tuple-not-list"),
        pytest.param(b'{" b":"!!!"}', id="bad-base64"),
        pytest.param(b'{" b":["AA=="]}', id="bytes-not-str"),
        pytest.param(b'{" dt":"yesterday"}', id="bad-datetime"),
        pytest.param(b'{" d":"2024-02-30"}', id="bad-date"),
        pytest.param(b'{" tm":"25:00"}', id="bad-time"),
        pytest.param(b'{" u":"not-a-uuid"}', id="bad-uuid"),
        pytest.param(b'{" dc":"abc"}', id="bad-decimal"),
        pytest.param(b'{" s":[[1]]}', id="unhashable-set-member"),
        pytest.param(b'{" fs":"ab"}', id="frozenset-not-list"),
        pytest.param(b'{" m":1}', id="markup-not-str"),
        pytest.param(b'{" f":"1.5"}', id="finite-float-tag"),
        pytest.param(b'{" e":[1,2]}', id="escape-non-str-key"),
        pytest.param(b'{" e":["a"]}', id="escape-short"),
        pytest.param(b"[" * 100_000 + b"]" * 100_000, id="too-deep"),
    ],
)
def test_corrupt_data_raises_value_error(data: bytes) -> None:
    """Undecodable bytes, bad JSON and bad tags all raise ValueError."""
    with pytest.raises(ValueError):
        json_s.loads(data)


def test_unicode_escaped_tag_keys_are_recognised() -> None:
    """A tag key written with a \\u0020 escape is still a tag."""
    assert json_s.loads(b'{"\\u0020t":[1,2]}') == (1, 2)


def test_strings_with_leading_spaces_are_plain_data() -> None:
    """String values that start with a space or contain '" ' are not tags."""
    value = {"a": " t", "b": ['" s', " "], "c": {"x": ' "'}}
    assert same(round_trip(value), value)


def test_loads_accepts_bytes_like_input() -> None:
    """loads reads bytearray and memoryview as well as bytes."""
    data = json_s.dumps({"a": (1,)})
    assert json_s.loads(bytearray(data)) == {"a": (1,)}
    assert json_s.loads(memoryview(data)) == {"a": (1,)}


def test_default_serializer_is_a_json_serializer() -> None:
    """The module-level default is tagged JSON."""
    assert isinstance(default_serializer, JSONSerializer)


def test_pickle_serializer_round_trips_arbitrary_objects() -> None:
    """PickleSerializer keeps types JSON cannot, such as custom classes."""
    serializer = PickleSerializer()
    value = {"level": Level.LOW, "o": OrderedDict(a=(1, 2)), "when": date.today()}
    assert serializer.loads(serializer.dumps(value)) == value


def test_pickle_serializer_uses_the_configured_protocol() -> None:
    """The protocol keyword chooses the pickle protocol written."""
    assert PickleSerializer(protocol=2).dumps(1)[:2] == b"\x80\x02"
    assert PickleSerializer().protocol == pickle.DEFAULT_PROTOCOL


@pytest.mark.parametrize(
    "value", [lambda: None, threading.Lock(), {"nested": threading.Lock()}]
)
def test_pickle_serializer_raises_serialization_error_on_unpicklable(
    value: Any,
) -> None:
    """Unpicklable values raise SerializationError, never return None."""
    with pytest.raises(SerializationError) as info:
        PickleSerializer().dumps(value)
    assert info.value.path == ""
    assert info.value.type_name == type(value).__qualname__


@pytest.mark.parametrize(
    "data",
    [b"", b"garbage", pickle.dumps({"a": 1})[:-3], b"cnosuchmodule\nthing\n."],
)
def test_pickle_serializer_raises_value_error_on_corrupt_data(data: bytes) -> None:
    """Corrupt or unloadable pickles raise ValueError."""
    with pytest.raises(ValueError, match="not a valid pickle"):
        PickleSerializer().loads(data)


def test_pickle_serializer_docstring_explains_the_danger() -> None:
    """The docstring says why pickle is unsafe outside a trusted store."""
    doc = PickleSerializer.__doc__ or ""
    assert "TRUSTED" in doc
    assert "code execution" in doc


def test_check_serializer_maps_json_to_the_default() -> None:
    """The string 'json' selects the default tagged-JSON serializer."""
    assert check_serializer("json") is default_serializer


@pytest.mark.parametrize(
    "serializer",
    [JSONSerializer(), PickleSerializer(), default_serializer],
)
def test_check_serializer_accepts_serializer_instances(serializer: Any) -> None:
    """Objects with callable dumps and loads are returned unchanged."""
    assert check_serializer(serializer) is serializer


def test_check_serializer_accepts_duck_typed_objects() -> None:
    """Any object with callable dumps and loads is a serializer."""

    class Reversing:
        def dumps(self, obj: Any) -> bytes:
            return str(obj).encode()[::-1]

        def loads(self, data: bytes) -> Any:
            return data[::-1].decode()

    serializer = Reversing()
    assert check_serializer(serializer) is serializer


def test_check_serializer_refuses_the_pickle_string() -> None:
    """'pickle' is refused and the error points at PickleSerializer()."""
    with pytest.raises(ConfigError, match=r"PickleSerializer\(\)") as info:
        check_serializer("pickle")
    assert info.value.key == "serializer"


class _OnlyDumps:
    def dumps(self, obj: Any) -> bytes:
        return b""


class _NotCallable:
    dumps = b"x"
    loads = b"y"


@pytest.mark.parametrize(
    "setting",
    [
        pytest.param("yaml", id="unknown-name"),
        pytest.param("JSON", id="wrong-case"),
        pytest.param(None, id="none"),
        pytest.param(42, id="int"),
        pytest.param(_OnlyDumps(), id="only-dumps"),
        pytest.param(_NotCallable(), id="non-callable-attributes"),
        pytest.param(JSONSerializer, id="class-not-instance"),
        pytest.param(json, id="json-module"),
        pytest.param(pickle, id="pickle-module"),
    ],
)
def test_check_serializer_rejects_anything_else(setting: Any) -> None:
    """Other settings raise ConfigError keyed to 'serializer'."""
    with pytest.raises(ConfigError, match="serializer must be 'json'") as info:
        check_serializer(setting)
    assert info.value.key == "serializer"
    assert isinstance(info.value, ValueError)


# --------------------------------------------------------------------------
# Property tests.
# --------------------------------------------------------------------------

_offsets = st.timedeltas(
    min_value=-timedelta(hours=23, minutes=59, seconds=59),
    max_value=timedelta(hours=23, minutes=59, seconds=59),
)
_tzinfos = st.none() | st.just(timezone.utc) | st.builds(timezone, _offsets)

_hashable_leaves = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text()
    | st.text().map(Markup)
    | st.binary()
    | st.datetimes(timezones=_tzinfos)
    | st.dates()
    | st.times(timezones=_tzinfos)
    | st.uuids()
    | st.decimals(allow_nan=False)
)
_hashables = st.recursive(
    _hashable_leaves,
    lambda inner: (
        st.lists(inner, max_size=3).map(tuple) | st.frozensets(inner, max_size=3)
    ),
    max_leaves=6,
)
_keys = st.text() | st.sampled_from([" t", " e", " s", " m", " zz", " ", "  t"])
_values = st.recursive(
    _hashable_leaves | st.decimals(),  # NaN and sNaN allowed outside sets
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.lists(inner, max_size=4).map(tuple)
        | st.dictionaries(_keys, inner, max_size=4)
        | st.sets(_hashables, max_size=4)
        | st.frozensets(_hashables, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=200, database=None, deadline=None)
@given(_values)
def test_supported_values_round_trip_exactly(value: Any) -> None:
    """Any nesting of supported types comes back equal with identical types."""
    assert same(round_trip(value), value)


@settings(max_examples=200, database=None, deadline=None)
@given(_values)
def test_reserializing_a_loaded_value_gives_the_same_bytes(value: Any) -> None:
    """dumps is deterministic: loading and dumping again is byte-identical."""
    data = json_s.dumps(value)
    assert json_s.dumps(json_s.loads(data)) == data
    assert json_s.dumps(copy.deepcopy(value)) == data


@settings(max_examples=200, database=None, deadline=None)
@given(_values)
def test_fast_path_writes_the_same_bytes_as_the_slow_path(value: Any) -> None:
    """The json fast path is a pure optimisation of the full tagging walk."""
    tagged = Tagger().tag(value)
    assert encode_json(tagged) == json_s.dumps(value)
