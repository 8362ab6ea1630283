"""The tag format of the session JSON: Python types JSON lacks as one-key objects.

:class:`Tagger` turns a value into JSON-ready data in which every ``tuple``,
``bytes``, ``datetime``, ``date``, ``time``, ``UUID``, ``Decimal``, ``set``,
``frozenset``, ``Markup`` and non-finite ``float`` is a tag object, and names
the path of a value it cannot store; :func:`untag`, the decoder's
``object_hook``, turns tag objects back into those values. How the JSON text
is written and read fast is :mod:`wsgi_session.jsonserializer`'s job.

    >>> tagged = Tagger().tag({"cart": (1, 2), "ratio": float("inf")})
    >>> tagged
    {'cart': {' t': [1, 2]}, 'ratio': {' f': 'inf'}}
    >>> json.loads(json.dumps(tagged), object_hook=untag)
    {'cart': (1, 2), 'ratio': inf}
"""

from __future__ import annotations

import base64
import json
import math
import uuid
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import (
    Any,
    Callable,
    Dict,
    FrozenSet,
    List,
    Set,
    Tuple,
    TypeVar,
)

from markupsafe import Markup

from .errors import SerializationError

__all__ = ["BIG_INT", "LEAF_TYPES", "Tagger", "untag"]

# The format.
#
# A tag is a JSON object with exactly one key that starts with a space; the key
# names the type and the value is its JSON payload:
#
#     " t"  tuple       list of items          " u"  UUID      "hhhhhhhh-hhhh-..."
#     " b"  bytes       standard base64        " dc" Decimal   str(value)
#     " dt" datetime    isoformat()            " s"  set       sorted list of items
#     " d"  date        isoformat()            " fs" frozenset sorted list of items
#     " tm" time        isoformat()            " m"  Markup    the string
#     " f"  float       "nan", "inf", "-inf"   " e"  escape    [key, value]
#
# Set members are sorted by their serialized (ASCII-escaped) form, so equal sets
# give equal bytes whatever their iteration order.
#
# A user dict that has exactly one key starting with a space would read as a
# tag, so it is written as the escape tag {" e": [key, value]}. Because the key
# travels inside a list, decoding bottom-up with ``object_hook`` is safe.

_Json = Any  # a JSON-ready value: dict / list / str / int / float / bool / None

#: Ints of this size or more are checked before writing (CPython refuses to
#: turn ints of over 4300 digits into text by default).
BIG_INT = 10**4000


def _fixed_offset(value: datetime | time) -> bool:
    """Whether a naive or aware ``value`` has a fixed UTC offset to store."""
    return value.tzinfo is None or value.utcoffset() is not None


# ----------------------------------------------------------------- encoding

# Tagged leaf types: type -> (tag, payload function).
_LEAF_TAGS: Dict[type, Tuple[str, Callable[[Any], _Json]]] = {
    bytes: (" b", lambda value: base64.b64encode(value).decode("ascii")),
    datetime: (" dt", datetime.isoformat),
    date: (" d", date.isoformat),
    time: (" tm", time.isoformat),
    uuid.UUID: (" u", str),
    Decimal: (" dc", str),
    Markup: (" m", str),
}


class Tagger:
    """Return a JSON-ready copy of a value, tagged, or raise
    :class:`~wsgi_session.errors.SerializationError` with the path of the
    first value that cannot be stored. One instance walks one value.

    >>> Tagger().tag({"n": 1, "when": (date(2024, 5, 1), b"ab")})
    {'n': 1, 'when': {' t': [{' d': '2024-05-01'}, {' b': 'YWI='}]}}
    >>> Tagger().tag([1, {"x": object()}])
    Traceback (most recent call last):
    ...
    wsgi_session.errors.SerializationError: cannot serialize ... at '[1].x'
    """

    def __init__(self) -> None:
        self.active: Set[int] = set()  # ids of the containers being walked

    def tag(self, obj: Any) -> _Json:
        """``obj`` as JSON-ready data: the types JSON lacks become tag objects."""
        kind = type(obj)
        if kind is str or kind is bool or obj is None:
            return obj
        if kind is int:
            if -BIG_INT < obj < BIG_INT:
                return obj
            try:
                str(obj)
            except ValueError as exc:
                raise SerializationError("", "int", str(exc)) from None
            return obj
        if kind is float:
            if math.isfinite(obj):
                return obj
            return {" f": "nan" if obj != obj else ("inf" if obj > 0 else "-inf")}
        if kind is dict or kind is list or kind is tuple:
            if id(obj) in self.active:
                raise SerializationError("", kind.__qualname__, "circular reference")
            self.active.add(id(obj))
            try:
                if kind is dict:
                    return self._dict(obj)
                items = self._items(obj)
                return items if kind is list else {" t": items}
            finally:
                self.active.discard(id(obj))
        if kind is set or kind is frozenset:
            return {" s" if kind is set else " fs": self._sorted(obj)}
        leaf = _LEAF_TAGS.get(kind)
        if leaf is None:
            raise SerializationError("", kind.__qualname__)
        if (kind is datetime or kind is time) and not _fixed_offset(obj):
            detail = "its tzinfo gives no UTC offset"
            raise SerializationError("", kind.__qualname__, detail)
        return {leaf[0]: leaf[1](obj)}

    def _dict(self, obj: Dict[Any, Any]) -> _Json:
        out: Dict[str, _Json] = {}
        for key, value in obj.items():
            if type(key) is not str:
                detail = "dict keys must be str"
                raise SerializationError("", type(key).__qualname__, detail)
            kind = type(value)
            if kind is str or (kind is int and -BIG_INT < value < BIG_INT):
                out[key] = value  # the common cases, inlined
                continue
            try:
                out[key] = self.tag(value)
            except SerializationError as exc:
                raise exc.under(key) from None
        if len(out) == 1:
            key = next(iter(out))
            if key[:1] == " ":
                return {" e": [key, out[key]]}
        return out

    def _items(self, obj: List[Any] | Tuple[Any, ...]) -> List[_Json]:
        out: List[_Json] = []
        for index, value in enumerate(obj):
            kind = type(value)
            if kind is str or (kind is int and -BIG_INT < value < BIG_INT):
                out.append(value)  # the common cases, inlined
                continue
            try:
                out.append(self.tag(value))
            except SerializationError as exc:
                raise exc.under(f"[{index}]") from None
        return out

    def _sorted(self, obj: Set[Any] | FrozenSet[Any]) -> List[_Json]:
        keyed = []
        for value in obj:
            try:
                tagged = self.tag(value)
            except SerializationError as exc:
                # Set members have no stable index: report the set's own path.
                detail = f"inside a {type(obj).__qualname__}"
                raise SerializationError("", exc.type_name, detail) from None
            keyed.append((_SORT_KEY(tagged), tagged))
        keyed.sort(key=lambda pair: pair[0])
        return [tagged for _, tagged in keyed]


#: The types written as a tag holding a string (the leaves of the format).
LEAF_TYPES: FrozenSet[type] = frozenset(_LEAF_TAGS)

#: Sort key of a tagged set member: its JSON text, ASCII-escaped.
_SORT_KEY = json.JSONEncoder(
    ensure_ascii=True, check_circular=False, allow_nan=False, separators=(",", ":")
).encode


# ----------------------------------------------------------------- decoding


def _expect(payload: Any, kind: type) -> Any:
    if type(payload) is not kind:
        raise ValueError(f"expected a {kind.__qualname__} payload")
    return payload


def _untag_datetime(payload: Any) -> datetime:
    return _fix_offset(datetime.fromisoformat(_expect(payload, str)), payload)


def _untag_time(payload: Any) -> time:
    return _fix_offset(time.fromisoformat(_expect(payload, str)), payload)


_D = TypeVar("_D", datetime, time)


def _fix_offset(value: _D, text: str) -> _D:
    # fromisoformat reads an offset under one second ("+00:00:00.000001") as
    # UTC; a CPython bug up to at least 3.13.
    if text[-16:-7] in ("+00:00:00", "-00:00:00") and text[-7:-6] == ".":
        micros = int(text[-6:]) * (-1 if text[-16] == "-" else 1)
        value = value.replace(tzinfo=timezone(timedelta(microseconds=micros)))
    return value


def _untag_float(payload: Any) -> float:
    if payload not in ("nan", "inf", "-inf"):
        raise ValueError(f"not a non-finite float: {payload!r}")
    return float(payload)


def _untag_escape(payload: Any) -> Dict[str, Any]:
    if type(payload) is not list or len(payload) != 2 or type(payload[0]) is not str:
        raise ValueError("expected a [key, value] payload")
    return {payload[0]: payload[1]}


_TAG_DECODERS: Dict[str, Callable[[Any], Any]] = {
    " t": lambda p: tuple(_expect(p, list)),
    " b": lambda p: base64.b64decode(_expect(p, str).encode("ascii"), validate=True),
    " dt": _untag_datetime,
    " d": lambda p: date.fromisoformat(_expect(p, str)),
    " tm": _untag_time,
    " u": lambda p: uuid.UUID(_expect(p, str)),
    " dc": lambda p: Decimal(_expect(p, str)),
    " s": lambda p: set(_expect(p, list)),
    " fs": lambda p: frozenset(_expect(p, list)),
    # Only strings that were Markup when stored carry this tag.
    " m": lambda p: Markup(_expect(p, str)),  # noqa: S704
    " f": _untag_float,
    " e": _untag_escape,
}


def untag(obj: Dict[str, Any]) -> Any:
    """``object_hook``: replace a tag object by the value it stands for.

    Any other object is returned as it is; an unknown tag or a payload of the
    wrong shape raises :class:`ValueError`.

    >>> untag({" s": [1, 2]}), untag({"a": 1})
    ({1, 2}, {'a': 1})
    >>> untag({" d": 7})
    Traceback (most recent call last):
    ...
    ValueError: malformed ' d' tag in session data: expected a str payload
    """
    if len(obj) != 1:
        return obj
    ((key, payload),) = obj.items()
    if key[:1] != " ":
        return obj
    decode = _TAG_DECODERS.get(key)
    if decode is None:
        raise ValueError(f"unknown tag {key!r} in session data")
    try:
        return decode(payload)
    except (ValueError, TypeError, ArithmeticError) as exc:
        raise ValueError(f"malformed {key!r} tag in session data: {exc}") from exc
