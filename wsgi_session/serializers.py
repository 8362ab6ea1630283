"""Turn session data into bytes for the store and back: tagged JSON, opt-in pickle.

The default, :data:`default_serializer`, is a :class:`JSONSerializer`: compact
UTF-8 JSON in which the Python types JSON lacks are wrapped in one-key "tag"
objects, so that everything round-trips exactly, types included::

    >>> from datetime import date
    >>> data = {"cart": (1, 2), "since": date(2024, 5, 1)}
    >>> default_serializer.dumps(data)
    b'{"cart":{" t":[1,2]},"since":{" d":"2024-05-01"}}'
    >>> default_serializer.loads(default_serializer.dumps(data)) == data
    True

:class:`PickleSerializer` exists only to migrate legacy data out of a trusted
store; :func:`check_serializer` validates the ``serializer=`` setting.
"""

from __future__ import annotations

import base64
import json
import math
import pickle
import re
import uuid
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import (
    Any,
    Callable,
    Dict,
    FrozenSet,
    Iterable,
    List,
    Protocol,
    Set,
    Tuple,
    TypeVar,
    cast,
)

from markupsafe import Markup

from .errors import ConfigError, SerializationError

__all__ = [
    "JSONSerializer",
    "PickleSerializer",
    "Serializer",
    "check_serializer",
    "default_serializer",
]


class Serializer(Protocol):
    """What ``serializer=`` accepts: any object with these two methods.

    ``dumps`` raises :class:`~wsgi_session.errors.SerializationError` for a
    value it cannot store; ``loads`` raises :class:`ValueError` for data it
    cannot read (the session then starts fresh and logs a warning).

    >>> class Latin1Strings:
    ...     def dumps(self, obj: Any) -> bytes:
    ...         return obj.encode("latin-1")
    ...     def loads(self, data: bytes) -> Any:
    ...         return data.decode("latin-1")
    >>> check_serializer(Latin1Strings()).loads(b"caf\\xe9")
    'café'
    """

    def dumps(self, obj: Any) -> bytes:
        """Return ``obj`` as bytes."""

    def loads(self, data: bytes) -> Any:
        """Return the object that ``data`` was made from."""


# --------------------------------------------------------------------------
# Tagged JSON.
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
# --------------------------------------------------------------------------

_Json = Any  # a JSON-ready value: dict / list / str / int / float / bool / None

_BIG_INT = 10**4000  # below CPython's default 4300-digit int/str conversion limit
_FAST_DEPTH = 64  # deeper (or cyclic) data takes the slow path


def _fixed_offset(value: datetime | time) -> bool:
    return value.tzinfo is None or value.utcoffset() is not None


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


class _Tagger:
    """The slow path: return a JSON-ready copy of a value, tagged, or raise
    :class:`SerializationError` with the path of the first bad value."""

    def __init__(self) -> None:
        self.active: Set[int] = set()  # ids of the containers being walked

    def tag(self, obj: Any) -> _Json:
        kind = type(obj)
        if kind is str or kind is bool or obj is None:
            return obj
        if kind is int:
            if -_BIG_INT < obj < _BIG_INT:
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
            if kind is str or (kind is int and -_BIG_INT < value < _BIG_INT):
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
            if kind is str or (kind is int and -_BIG_INT < value < _BIG_INT):
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
            keyed.append((_ASCII_ENCODER.encode(tagged), tagged))
        keyed.sort(key=lambda pair: pair[0])
        return [tagged for _, tagged in keyed]


# The fast path. ``json`` writes these types itself, exactly:
_PLAIN_SCALARS: FrozenSet[type] = frozenset({str, int, float, bool, type(None)})
# ... and calls ``default`` for these, whose tags hold no container json would
# write wrongly (a set's members are tagged by ``_Tagger`` inside the hook):
_HOOKED: FrozenSet[type] = frozenset(_LEAF_TAGS.keys() - {Markup}) | {set, frozenset}
_FAST_LEAVES = _PLAIN_SCALARS | _HOOKED
_FAST_TYPES = _FAST_LEAVES | {dict, list}
_STR_ONLY: FrozenSet[type] = frozenset({str})
# Not fast: tuple (json writes a list), Markup and other subclasses of str, int,
# float, dict or list (json writes the base type), non-str keys (json converts
# them), one-key dicts whose key starts with a space (they need escaping), NaN,
# infinities and huge ints (json raises ValueError), unknown types.


class _SlowPath(Exception):
    """Raised by the ``default`` hook to hand a value over to :class:`_Tagger`."""


def _default(obj: Any) -> _Json:
    try:
        return _Tagger().tag(obj)
    except SerializationError:  # re-raised by the slow path, with its path
        raise _SlowPath from None


def _fast_dict(obj: Dict[Any, Any], depth: int) -> bool:
    """Whether ``json`` with :func:`_default` writes ``obj`` exactly."""
    if depth > _FAST_DEPTH or not set(map(type, obj)) <= _STR_ONLY:
        return False
    if len(obj) == 1 and next(iter(obj))[:1] == " ":
        return False
    value_types = set(map(type, obj.values()))
    if value_types <= _FAST_LEAVES:
        return True
    return value_types <= _FAST_TYPES and _fast_children(obj.values(), depth)


def _fast_list(obj: List[Any], depth: int) -> bool:
    """Whether ``json`` with :func:`_default` writes ``obj`` exactly."""
    if depth > _FAST_DEPTH:
        return False
    item_types = set(map(type, obj))
    if item_types <= _FAST_LEAVES:
        return True
    return item_types <= _FAST_TYPES and _fast_children(obj, depth)


def _fast_children(values: Iterable[Any], depth: int) -> bool:
    for value in values:
        kind = type(value)
        if kind is dict:
            if not _fast_dict(value, depth + 1):
                return False
        elif kind is list and not _fast_list(value, depth + 1):
            return False
    return True


_ENCODER = json.JSONEncoder(
    ensure_ascii=False,
    check_circular=False,  # the fast path has bounded depth; _Tagger checks
    allow_nan=False,
    separators=(",", ":"),
    default=_default,
)
# Used only when a string holds a lone surrogate, which UTF-8 cannot encode,
# and to sort set members.
_ASCII_ENCODER = json.JSONEncoder(
    ensure_ascii=True,
    check_circular=False,
    allow_nan=False,
    separators=(",", ":"),
    default=_default,
)


def _encode_text(value: _Json) -> bytes:
    try:
        return _ENCODER.encode(value).encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: let json escape it
        return _ASCII_ENCODER.encode(value).encode("ascii")


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


def _untag(obj: Dict[str, Any]) -> Any:
    """``object_hook``: replace a tag object by the value it stands for."""
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


_PLAIN_DECODER = json.JSONDecoder()
#: JSON texts that decode without the decoder: an int, and an ASCII string
#: without escapes (printable characters but the quote and the backslash).
_PLAIN_INT = re.compile(rb"-?(?:0|[1-9][0-9]*)")
_PLAIN_STR = re.compile(rb'"[ !#-\[\]-~]*"')
_PLAIN_TEXT = re.compile(r"[ !#-\[\]-~]*")
#: Recently decoded small ints and plain strings, by their JSON text.
_small_values: Dict[bytes, Any] = {}
_SMALL_VALUES_MAX = 4096
_UNKNOWN: Any = object()
_TAG_DECODER = json.JSONDecoder(object_hook=_untag)


class JSONSerializer:
    """Tagged JSON: the safe default that round-trips exactly, types included.

    Besides ``dict`` (str keys), ``list``, ``str``, ``int``, ``float`` (NaN and
    infinities too), ``bool`` and ``None`` it stores ``tuple``, ``bytes``,
    ``datetime``, ``date``, ``time``, ``UUID``, ``Decimal``, ``set``,
    ``frozenset`` and ``markupsafe.Markup``, nested anywhere. Types must match
    exactly: a subclass such as an ``IntEnum``, an ``OrderedDict`` or a
    ``bytearray`` is refused rather than coming back as something else.

    An aware ``datetime`` or ``time`` keeps its UTC offset exactly, but its
    tzinfo comes back as a fixed :class:`datetime.timezone`: a
    ``ZoneInfo("Europe/Paris")`` returns as ``UTC+02:00`` (the same instant).
    ``fold`` is not kept. A ``time`` whose tzinfo gives no offset is refused.

    Output is compact UTF-8 and deterministic: the same value always gives the
    same bytes (dicts keep insertion order; set members are sorted by their
    serialized form), so comparing bytes detects in-place changes.

    >>> s = JSONSerializer()
    >>> s.dumps({"tags": {"b", "a"}, " t": 1})
    b'{"tags":{" s":["a","b"]}," t":1}'
    >>> s.loads(s.dumps({" t": 1}))  # a tag-like key stays plain data
    {' t': 1}
    >>> s.dumps({"x": object()})
    Traceback (most recent call last):
    ...
    wsgi_session.errors.SerializationError: cannot serialize value ... at 'x'
    """

    def dumps(self, obj: Any) -> bytes:
        """Return ``obj`` as compact UTF-8 JSON bytes.

        Raises :class:`~wsgi_session.errors.SerializationError` naming the path
        of the first value that cannot be stored, relative to ``obj``
        (``""`` for ``obj`` itself, ``"items[2]"``, ``"[3].name"``).

        >>> JSONSerializer().dumps({"n": 1, "when": None})
        b'{"n":1,"when":null}'
        >>> JSONSerializer().dumps({"items": [1, 2, len]}).decode()
        Traceback (most recent call last):
        ...
        wsgi_session.errors.SerializationError: cannot serialize ... at 'items[2]'
        """
        kind = type(obj)
        if kind is int and -_BIG_INT < obj < _BIG_INT:
            return b"%d" % obj
        if kind is str and len(obj) < 64 and _PLAIN_TEXT.fullmatch(obj):
            return b'"%s"' % obj.encode("ascii")
        if (
            kind in _FAST_LEAVES
            or (kind is dict and _fast_dict(obj, 0))
            or (kind is list and _fast_list(obj, 0))
        ):
            try:
                return _encode_text(obj)
            except (ValueError, _SlowPath):  # NaN, infinity, a huge int, an error
                pass
        try:
            return _encode_text(_Tagger().tag(obj))
        except RecursionError:
            detail = "nested too deeply"
            raise SerializationError("", kind.__qualname__, detail) from None

    def loads(self, data: bytes) -> Any:
        """Return the value that :meth:`dumps` turned into ``data``.

        Raises :class:`ValueError` if ``data`` is not UTF-8, not JSON, or holds
        an unknown or malformed tag.

        >>> JSONSerializer().loads(b'{"when":{" d":"2024-05-01"}}')
        {'when': datetime.date(2024, 5, 1)}
        >>> JSONSerializer().loads(b'{"when":{" zz":1}}')
        Traceback (most recent call last):
        ...
        ValueError: unknown tag ' zz' in session data
        """
        if type(data) is bytes and len(data) < 64:
            # The most common session values, small ints and plain ASCII
            # strings, without the JSON decoder (exactly what dumps writes);
            # recently decoded ones are remembered (they are immutable).
            value = _small_values.get(data, _UNKNOWN)
            if value is not _UNKNOWN:
                return value
            if _PLAIN_INT.fullmatch(data):
                value = int(data)
            elif _PLAIN_STR.fullmatch(data):
                value = data[1:-1].decode("ascii")
            if value is not _UNKNOWN:
                if len(_small_values) >= _SMALL_VALUES_MAX:
                    _small_values.clear()
                _small_values[data] = value
                return value
        try:
            text = str(data, "utf-8")
        except UnicodeDecodeError as exc:
            raise ValueError(f"session data is not valid UTF-8: {exc}") from None
        # Every tag key starts with a space, written '" ' or '"\u0020'; text
        # with neither cannot hold a tag and skips the object_hook.
        tagged = '" ' in text or '"\\u0020' in text
        try:
            return (_TAG_DECODER if tagged else _PLAIN_DECODER).decode(text)
        except RecursionError:
            raise ValueError("session data is nested too deeply") from None


default_serializer = JSONSerializer()
"""The serializer used unless ``serializer=`` says otherwise.

>>> default_serializer.loads(default_serializer.dumps([b"\\x00", 1.5]))
[b'\\x00', 1.5]
"""


class PickleSerializer:
    """Pickle, for migrating legacy session data out of a TRUSTED store only.

    Unsafe otherwise: ``pickle.loads`` runs whatever code the data tells it to,
    so anyone who can write to the store -- a shared or compromised Redis or
    Memcached, a writable session directory, a neighbouring app on the same
    server -- gets code execution in your application. It is therefore never
    the default and not available as ``serializer="pickle"``: pass an instance
    explicitly, and switch back to JSON once old sessions have expired.

    ``protocol`` (keyword-only, default :attr:`protocol`) is the pickle
    protocol written; any protocol is read.

    >>> s = PickleSerializer()
    >>> s.loads(s.dumps({"user": ("ann", 7)}))
    {'user': ('ann', 7)}
    """

    #: Pickle protocol used by :meth:`dumps`; override to suit older readers.
    protocol: int = pickle.DEFAULT_PROTOCOL

    def __init__(self, *, protocol: int | None = None) -> None:
        if protocol is not None:
            self.protocol = protocol

    def dumps(self, obj: Any) -> bytes:
        """Return ``obj`` pickled; :class:`SerializationError` if it cannot be.

        >>> PickleSerializer().dumps(lambda: 1)
        Traceback (most recent call last):
        ...
        wsgi_session.errors.SerializationError: cannot serialize ... 'function': ...
        """
        try:
            return pickle.dumps(obj, protocol=self.protocol)
        except Exception as exc:  # any __reduce__ can raise anything
            raise SerializationError("", type(obj).__qualname__, str(exc)) from exc

    def loads(self, data: bytes) -> Any:
        """Return the unpickled value; :class:`ValueError` for corrupt data.

        >>> PickleSerializer().loads(b"not a pickle")
        Traceback (most recent call last):
        ...
        ValueError: session data is not a valid pickle: ...
        """
        try:
            return pickle.loads(data)  # noqa: S301 -- opt-in, trusted store only
        except Exception as exc:  # corrupt pickles raise many exception types
            message = f"session data is not a valid pickle: {exc!r}"
            raise ValueError(message) from exc


_USAGE = (
    "serializer must be 'json' or an object with dumps(obj) -> bytes and "
    "loads(bytes) -> obj methods, such as wsgi_session.serializers.JSONSerializer()"
)


def check_serializer(obj: Any) -> Serializer:
    """Validate the ``serializer=`` setting and return the serializer to use.

    ``"json"`` means :data:`default_serializer`; otherwise ``obj`` must be an
    instance with callable ``dumps`` and ``loads``. Raises
    :class:`~wsgi_session.errors.ConfigError` (``key="serializer"``) for
    anything else, including ``"pickle"``: pickle is opt-in only, by passing a
    :class:`PickleSerializer` instance.

    >>> check_serializer("json") is default_serializer
    True
    >>> check_serializer("pickle")
    Traceback (most recent call last):
    ...
    wsgi_session.errors.ConfigError: serializer='pickle' is not accepted: ...
    """
    if isinstance(obj, str):
        if obj == "json":
            return default_serializer
        if obj == "pickle":
            raise ConfigError(
                "serializer='pickle' is not accepted: unpickling runs arbitrary "
                "code for anyone who can write to the store. To read legacy data "
                "from a trusted store, pass "
                "wsgi_session.serializers.PickleSerializer() explicitly",
                key="serializer",
            )
        raise ConfigError(f"{_USAGE}; got {obj!r}", key="serializer")
    if obj is json or obj is pickle:
        hint = "use serializer='json'" if obj is json else "pass PickleSerializer()"
        message = f"{_USAGE}; got the {obj.__name__} module ({hint})"
        raise ConfigError(message, key="serializer")
    if isinstance(obj, type):
        message = f"{_USAGE}; got the class {obj.__qualname__} (pass an instance)"
        raise ConfigError(message, key="serializer")
    if not (
        callable(getattr(obj, "dumps", None)) and callable(getattr(obj, "loads", None))
    ):
        message = f"{_USAGE}; got {type(obj).__qualname__}"
        raise ConfigError(message, key="serializer")
    return cast(Serializer, obj)
