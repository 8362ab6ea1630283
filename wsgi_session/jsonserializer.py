"""Write session data as compact tagged JSON, and read it back, fast.

:class:`JSONSerializer` is the default serializer. What a value becomes is
the tag format of :mod:`wsgi_session.jsontags`; this module decides how the
text is produced quickly: small ints and plain ASCII strings are written and
read without ``json``, data that ``json`` writes exactly by itself skips the
tagging walk, and JSON text without a tag skips the ``object_hook``.

    >>> s = JSONSerializer()
    >>> s.dumps(7), s.dumps("ann"), s.dumps({"cart": (1, 2)})
    (b'7', b'"ann"', b'{"cart":{" t":[1,2]}}')
    >>> s.loads(b'{"cart":{" t":[1,2]}}')
    {'cart': (1, 2)}
"""

from __future__ import annotations

import json
import re
from typing import Any, Dict, FrozenSet, Iterable, List

from markupsafe import Markup

from .errors import SerializationError
from .jsontags import BIG_INT, LEAF_TYPES, Tagger, untag
from .memo import Memo

__all__ = ["JSONSerializer", "encode_json"]

_Json = Any  # a JSON-ready value: dict / list / str / int / float / bool / None

_FAST_DEPTH = 64  # deeper (or cyclic) data takes the slow path

# The fast path. ``json`` writes these types itself, exactly:
_PLAIN_SCALARS: FrozenSet[type] = frozenset({str, int, float, bool, type(None)})
# ... and calls ``default`` for these, whose tags hold no container json would
# write wrongly (a set's members are tagged by ``Tagger`` inside the hook):
_HOOKED: FrozenSet[type] = frozenset(LEAF_TYPES - {Markup}) | {set, frozenset}
_FAST_LEAVES = _PLAIN_SCALARS | _HOOKED
_FAST_TYPES = _FAST_LEAVES | {dict, list}
_STR_ONLY: FrozenSet[type] = frozenset({str})
# Not fast: tuple (json writes a list), Markup and other subclasses of str, int,
# float, dict or list (json writes the base type), non-str keys (json converts
# them), one-key dicts whose key starts with a space (they need escaping), NaN,
# infinities and huge ints (json raises ValueError), unknown types.


class _SlowPath(Exception):
    """Raised by the ``default`` hook to hand a value over to :class:`Tagger`."""


def _default(obj: Any) -> _Json:
    """``default`` hook of the encoders: a type json lacks, tagged."""
    try:
        return Tagger().tag(obj)
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
    """Whether every dict and list among ``values`` is fast (see :func:`_fast_dict`)."""
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
    check_circular=False,  # the fast path has bounded depth; Tagger checks
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


def encode_json(value: _Json) -> bytes:
    """Compact UTF-8 JSON text of ``value`` (ASCII escapes for a lone surrogate).

    Types json lacks go through :class:`~wsgi_session.jsontags.Tagger`.

    >>> encode_json({"a": "é", "c": {1}})
    b'{"a":"\\xc3\\xa9","c":{" s":[1]}}'
    >>> encode_json(["é\\ud800"])
    b'["\\\\u00e9\\\\ud800"]'
    """
    try:
        return _ENCODER.encode(value).encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: let json escape it
        return _ASCII_ENCODER.encode(value).encode("ascii")


_PLAIN_DECODER = json.JSONDecoder()
#: JSON texts that decode without the decoder: an int, and an ASCII string
#: without escapes (printable characters but the quote and the backslash).
_PLAIN_INT = re.compile(rb"-?(?:0|[1-9][0-9]*)")
_PLAIN_STR = re.compile(rb'"[ !#-\[\]-~]*"')
_PLAIN_TEXT = re.compile(r"[ !#-\[\]-~]*")
#: Recently decoded small ints and plain strings, by their JSON text (under
#: 64 bytes). The text determines the value completely, and the values are
#: ints and strs, which are immutable: every caller may get the same object.
_SMALL_VALUES: Memo[bytes, Any] = Memo(4096)
_UNKNOWN: Any = object()
_TAG_DECODER = json.JSONDecoder(object_hook=untag)


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
        if kind is int and -BIG_INT < obj < BIG_INT:
            return b"%d" % obj
        if kind is str and len(obj) < 64 and _PLAIN_TEXT.fullmatch(obj):
            return b'"%s"' % obj.encode("ascii")
        if (
            kind in _FAST_LEAVES
            or (kind is dict and _fast_dict(obj, 0))
            or (kind is list and _fast_list(obj, 0))
        ):
            try:
                return encode_json(obj)
            except (ValueError, _SlowPath):  # NaN, infinity, a huge int, an error
                pass
        try:
            return encode_json(Tagger().tag(obj))
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
            value = _SMALL_VALUES.get(data, _UNKNOWN)
            if value is not _UNKNOWN:
                return value
            if _PLAIN_INT.fullmatch(data):
                value = int(data)
            elif _PLAIN_STR.fullmatch(data):
                value = data[1:-1].decode("ascii")
            if value is not _UNKNOWN:
                _SMALL_VALUES.put(data, value)
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
