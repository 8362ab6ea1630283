"""Choose the codec an HTML body is decoded with, as browsers would.

The charset of a ``Content-Type`` header is mapped the way the WHATWG
Encoding Standard maps labels (``iso-8859-1`` is decoded as ``cp1252``,
``shift_jis`` as ``cp932``...), a byte-order mark wins over the header, and
:func:`ascii_compatible` tells whether a codec keeps every ASCII byte ASCII
(then markup can be found in bytes it cannot decode).

    >>> charset_of("text/html; charset=latin1")
    'cp1252'
    >>> body_codec(b"\\xef\\xbb\\xbf<p>", "cp1252")
    'utf-8'
    >>> ascii_compatible("cp932"), ascii_compatible("utf-16-le")
    (True, False)
"""

from __future__ import annotations

import codecs
from typing import Optional

from .memo import Memo

__all__ = ["ascii_compatible", "body_codec", "charset_of", "codec_name"]

_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


def body_codec(body: bytes, charset: str) -> Optional[str]:
    """The codec for ``body`` sent with ``charset``: a byte-order mark wins.

    None if there is no BOM and ``charset`` names no text codec.

    >>> body_codec(b"\\xff\\xfe<\\x00", "utf-8"), body_codec(b"<p>", "bogus")
    ('utf-16-le', None)
    """
    for bom, name in _BOMS:
        if body.startswith(bom):
            return name
    return codec_name(charset)


#: Whether a codec is ASCII-compatible, by its canonical name (``codecs.lookup``).
#: The answer depends on the codec alone and is a bool, so it can be shared.
_ASCII_COMPATIBLE: Memo[str, bool] = Memo(64)


def ascii_compatible(codec: str) -> bool:
    """Whether every byte below 0x80 is always that ASCII character in ``codec``.

    Stateful codecs (ISO-2022, HZ, UTF-7) are not: escape sequences make
    ASCII bytes mean other characters.

    >>> ascii_compatible("latin-1"), ascii_compatible("iso-2022-jp")
    (True, False)
    """
    name = codecs.lookup(codec).name
    known = _ASCII_COMPATIBLE.get(name)
    if known is None:
        known = _probe_ascii_compatible(name)
        _ASCII_COMPATIBLE.put(name, known)
    return known


def _probe_ascii_compatible(name: str) -> bool:
    """Decide :func:`ascii_compatible` for a canonical codec name."""
    if "2022" in name or name in ("hz", "utf-7"):
        return False  # stateful: escape sequences make ASCII bytes mean kanji
    ascii_text = "".join(map(chr, range(128)))
    try:
        return bytes(range(128)).decode(name) == ascii_text and ascii_text.encode(
            name
        ) == bytes(range(128))
    except (UnicodeError, LookupError):
        return False


# Labels browsers decode with a superset codec (WHATWG Encoding Standard).
_CHARSET_ALIASES = {
    "ascii": "cp1252",
    "us-ascii": "cp1252",
    "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "iso-8859-9": "cp1254",
    "iso-8859-11": "cp874",
    "tis-620": "cp874",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "sjis": "cp932",
    "x-sjis": "cp932",
    "windows-31j": "cp932",
    "gb2312": "gbk",
    "euc-kr": "cp949",
    "ks_c_5601-1987": "cp949",
    "big5": "big5hkscs",
}


def codec_name(label: str) -> Optional[str]:
    """The Python text codec for a charset label, or None if there is none.

    Labels browsers decode with a superset get that superset.

    >>> codec_name(" 'ISO-8859-1' "), codec_name("utf8"), codec_name("rot13")
    ('cp1252', 'utf-8', None)
    """
    label = label.strip().strip("\"'").strip().lower()
    if not label:
        return None
    label = _CHARSET_ALIASES.get(label, label)
    try:
        name = codecs.lookup(label).name
        "".encode(name)
        b"".decode(name)
    except (LookupError, UnicodeError, ValueError):
        return None
    return name


def charset_of(content_type: str) -> str:
    """The codec to decode a ``text/html`` body with, from its Content-Type.

    No charset means UTF-8; labels browsers treat as a superset get that
    superset (as browsers do); an unknown charset gives ``"latin-1"``, which
    :func:`~wsgi_session.htmlrewrite.rewrite_html` handles losslessly.

    >>> charset_of("text/html; charset=Shift_JIS"), charset_of("text/html")
    ('cp932', 'utf-8')
    >>> charset_of('text/html; charset="bogus"')
    'latin-1'
    """
    try:
        for parameter in content_type.split(";")[1:]:
            key, _, value = parameter.partition("=")
            if key.strip().lower() == "charset" and value.strip(" \t\"'"):
                return codec_name(value) or "latin-1"
    except Exception:
        return "latin-1"
    return "utf-8"
