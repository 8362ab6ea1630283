"""Read an HTML attribute value as browsers do, and write a new one like the old.

:func:`decode_attr` decodes character references by the attribute-value rules
of the HTML tokenizer (``&copy=1`` stays as written, ``&#128;`` is the euro
sign) and records where each reference was; :func:`encode_attr` writes a new
value so that the part shared with the old one keeps its source text and only
the changed middle is escaped, in the original quoting style when it fits.

    >>> raw = "/a?x=1&amp;y=2"
    >>> old, refs = decode_attr(raw)
    >>> old
    '/a?x=1&y=2'
    >>> encode_attr(raw, refs, old, old + "&sid=t", "'")
    ('/a?x=1&amp;y=2&amp;sid=t', "'")
"""

from __future__ import annotations

import re
from html.entities import html5 as _HTML5_ENTITIES

__all__ = ["CharRefs", "decode_attr", "encode_attr"]

#: For each character reference decoded, ``(raw_start, raw_end, text_start,
#: text_end)``: where it was in the source and where its text is in the value.
CharRefs = list[tuple[int, int, int, int]]

_CHARREF = re.compile(r"&(?:#[xX]([0-9A-Fa-f]+);?|#([0-9]+);?|([A-Za-z0-9]+;?))")
_C1_REPLACEMENTS = {
    n: bytes([n]).decode("cp1252")
    for n in range(0x80, 0xA0)
    if n not in (0x81, 0x8D, 0x8F, 0x90, 0x9D)
}
_LONGEST_ENTITY = max(map(len, _HTML5_ENTITIES))
_DANGLING_REF = re.compile(r"&#?[A-Za-z0-9]*")


def _numeric_charref(digits: str, base: int) -> str:
    """The character of ``&#...;`` as browsers decode it."""
    digits = digits.lstrip("0")
    if len(digits) > 8:
        return "\ufffd"
    number = int(digits, base) if digits else 0
    if number == 0 or number > 0x10FFFF or 0xD800 <= number <= 0xDFFF:
        return "\ufffd"
    return _C1_REPLACEMENTS.get(number) or chr(number)


def decode_attr(raw: str) -> tuple[str, CharRefs]:
    """HTML-decode an attribute value as browsers do (the attribute-value rules).

    Returns the text and, for each character reference decoded, its
    ``(raw_start, raw_end, text_start, text_end)`` (see :data:`CharRefs`).

    >>> decode_attr("?a=1&amp;copy=2&copy;&#x41")
    ('?a=1&copy=2©A', [(4, 9, 4, 5), (15, 21, 11, 12), (21, 26, 12, 13)])
    """
    if "&" not in raw:
        return raw, []
    parts: list[str] = []
    refs: CharRefs = []
    last = length = 0
    for match in _CHARREF.finditer(raw):
        hex_digits, dec_digits, name = match.groups()
        if name is None:
            text = _numeric_charref(hex_digits or dec_digits, 16 if hex_digits else 10)
            end = match.end()
        elif name[-1] == ";" and name in _HTML5_ENTITIES:  # the usual "&amp;"
            text = _HTML5_ENTITIES[name]
            end = match.end()
        else:
            for size in range(min(len(name), _LONGEST_ENTITY), 1, -1):
                if name[:size] in _HTML5_ENTITIES:
                    break
            else:
                continue
            end = match.start() + 1 + size
            following = raw[end : end + 1]
            if name[size - 1] != ";" and (
                following == "=" or (following.isascii() and following.isalnum())
            ):
                continue  # "&copy=1" stays as written inside attribute values
            text = _HTML5_ENTITIES[name[:size]]
        literal = raw[last : match.start()]
        parts.append(literal)
        length += len(literal)
        parts.append(text)
        refs.append((match.start(), end, length, length + len(text)))
        length += len(text)
        last = end
    parts.append(raw[last:])
    return "".join(parts), refs


def _escape_attr(text: str, quote_char: str) -> str:
    """Escape ``text`` for an attribute value quoted with ``quote_char`` (or none)."""
    text = text.replace("&", "&amp;")
    if quote_char != "'":
        text = text.replace('"', "&quot;")
    if quote_char != '"':
        text = text.replace("'", "&#39;")
    if not quote_char:
        text = text.replace("<", "&lt;").replace(">", "&gt;").replace("`", "&#96;")
    return text


def _fits(raw: str, quote_char: str) -> bool:
    """Whether ``raw`` reads back as one attribute value with this quoting."""
    if quote_char:
        return quote_char not in raw
    return bool(raw) and raw[0] not in "\"'" and not any(c in raw for c in "\t\n\f\r >")


def encode_attr(
    raw: str, refs: CharRefs, old: str, new: str, quote_char: str
) -> tuple[str, str]:
    """The raw text and quote character for ``new``, written like ``raw`` was.

    The parts of ``new`` shared with ``old`` (a common prefix and suffix) keep
    their original source text; only the changed middle is escaped. If the
    result would not read back as one value in ``quote_char`` quoting, the
    value is double-quoted instead.

    >>> encode_attr("/a", [], "/a", '/a?q="x"', "")
    ('/a?q=&quot;x&quot;', '')
    >>> encode_attr("/a", [], "/a", "/a?q=x y", "")
    ('/a?q=x y', '"')
    """
    prefix = _common_prefix(old, new)
    suffix = _common_suffix(old[prefix:], new[prefix:])
    text_prefix = _snap(refs, prefix, forward=False)
    text_suffix = _snap(refs, len(old) - suffix, forward=True)
    raw_prefix = _raw_position(refs, text_prefix)
    raw_suffix = _raw_position(refs, text_suffix)
    middle = new[text_prefix : len(new) - (len(old) - text_suffix)]
    head = raw[:raw_prefix]
    amp = head.rfind("&")
    # Only an unterminated "&name" / "&#123" right before the new text could
    # read differently now; then check the whole value.
    check = amp >= 0 and _DANGLING_REF.fullmatch(head, amp) is not None
    for quote_char_try in (quote_char, '"'):
        candidate = head + _escape_attr(middle, quote_char_try) + raw[raw_suffix:]
        if _fits(candidate, quote_char_try) and (
            not check or decode_attr(candidate)[0] == new
        ):
            return candidate, quote_char_try
        candidate = _escape_attr(new, quote_char_try)
        if _fits(candidate, quote_char_try):
            return candidate, quote_char_try
    return _escape_attr(new, '"'), '"'  # pragma: no cover - '"' always fits


def _common_prefix(a: str, b: str) -> int:
    """The length of the longest common prefix of ``a`` and ``b``."""
    low, high = 0, min(len(a), len(b))
    if a[:high] == b[:high]:
        return high
    while high - low > 1:  # a[:low] == b[:low] and a[:high] != b[:high]
        middle = (low + high) // 2
        if a[:middle] == b[:middle]:
            low = middle
        else:
            high = middle
    return low


def _common_suffix(a: str, b: str) -> int:
    """The length of the longest common suffix of ``a`` and ``b``."""
    low, high = 0, min(len(a), len(b))
    if a[len(a) - high :] == b[len(b) - high :]:
        return high
    while high - low > 1:
        middle = (low + high) // 2
        if a[len(a) - middle :] == b[len(b) - middle :]:
            low = middle
        else:
            high = middle
    return low


def _snap(refs: CharRefs, pos: int, *, forward: bool) -> int:
    """Move a text position out of any character reference it would split."""
    for _, _, text_start, text_end in refs:
        if text_start < pos < text_end:
            return text_end if forward else text_start
    return pos


def _raw_position(refs: CharRefs, pos: int) -> int:
    """Map a text position that splits no reference back to the raw source."""
    shift = 0
    for _, raw_end, _, text_end in refs:
        if text_end > pos:
            break
        shift = raw_end - text_end
    return pos + shift
