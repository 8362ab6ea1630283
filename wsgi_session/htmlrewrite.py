"""Rewrite links and forms of an HTML document for URL-mode tracking.

A small tokenizer that follows the HTML5 tokenizer rules browsers use (raw
text in ``script``/``style``/``textarea``/``title``, comment endings, script
escape states) finds the start tags of ``a``, ``area``, ``form``, ``frame`` and
``iframe``; only the one attribute value that changes is rewritten, every
other byte of the document is kept. The standard library's ``html.parser``
is not used: before Python 3.13 it does not treat ``textarea``/``title`` as
raw text, and its script and comment rules changed in 2025 security releases.

    >>> rw = HTMLRewriter(lambda url: url + "?sid=t", "<input type=hidden>")
    >>> rw.rewrite('<a href="/x">x</a><textarea><a href="/y"></textarea>')
    '<a href="/x?sid=t">x</a><textarea><a href="/y"></textarea>'
"""

from __future__ import annotations

import codecs
import functools
import re
from html.entities import html5 as _HTML5_ENTITIES
from typing import Callable, ClassVar, Iterator, Optional

from .rewrite import _C0_AND_SPACE, _SCHEME, _normalize_url

__all__ = ["HTMLRewriter", "charset_of", "rewrite_html"]

#: A function from a URL to the URL to write instead (same string: unchanged).
UrlFn = Callable[[str], str]


# -------------------------------------------------- attribute values (HTML)

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


def _decode_attr(raw: str) -> tuple[str, list[tuple[int, int, int, int]]]:
    """HTML-decode an attribute value as browsers do (the attribute-value rules).

    Returns the text and, for each character reference decoded, its
    ``(raw_start, raw_end, text_start, text_end)``.
    """
    if "&" not in raw:
        return raw, []
    parts: list[str] = []
    refs: list[tuple[int, int, int, int]] = []
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


def _encode_attr(
    raw: str, refs: list[tuple[int, int, int, int]], old: str, new: str, quote_char: str
) -> tuple[str, str]:
    """The raw text and quote character for ``new``, written like ``raw`` was.

    The parts of ``new`` shared with ``old`` (a common prefix and suffix) keep
    their original source text; only the changed middle is escaped.
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
            not check or _decode_attr(candidate)[0] == new
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


def _snap(refs: list[tuple[int, int, int, int]], pos: int, *, forward: bool) -> int:
    """Move a text position out of any character reference it would split."""
    for _, _, text_start, text_end in refs:
        if text_start < pos < text_end:
            return text_end if forward else text_start
    return pos


def _raw_position(refs: list[tuple[int, int, int, int]], pos: int) -> int:
    """Map a text position that splits no reference back to the raw source."""
    shift = 0
    for _, raw_end, _, text_end in refs:
        if text_end > pos:
            break
        shift = raw_end - text_end
    return pos + shift


# ---------------------------------------------------------- HTML documents
#
# A small tokenizer following the WHATWG HTML tokenizer for what matters here:
# where tags, comments, bogus comments and raw-text elements start and end.
# ``(?=(X))\N`` is an atomic group (no backtracking into X), which keeps every
# pattern linear even on broken input.

_NAME = r"[^\t\n\f\r />][^\t\n\f\r /=>]*"
_VALUE = r"\"[^\"]*\"|'[^']*'|[^\t\n\f\r >\"'][^\t\n\f\r >]*|(?=>)"


def _tag_body(group: int) -> str:
    """A tag after ``<`` or ``</``: name (group ``group``), attributes, ``>``."""
    return (
        rf"(?=([A-Za-z][^\t\n\f\r />]*))\{group}"
        rf"(?:[\t\n\f\r /]|(?=((?=({_NAME}))\{group + 2}"
        rf"(?:[\t\n\f\r ]*=[\t\n\f\r ]*(?:{_VALUE})|(?![\t\n\f\r ]*=))))\{group + 1})*>"
    )


# The next markup: an end tag (name in group 1), a start tag (name in group 4),
# or just "<" before "/", "!", "?" or a letter (a broken tag or a declaration).
_NEXT_MARKUP = re.compile(
    rf"<(?:/(?=[A-Za-z])(?:{_tag_body(1)})?|(?=[A-Za-z])(?:{_tag_body(4)})?|[!/?])"
)
_ATTRIBUTE = re.compile(
    rf"[\t\n\f\r /]*({_NAME})(?:[\t\n\f\r ]*=[\t\n\f\r ]*({_VALUE}))?"
)
_BASE = re.compile(r"<base[\t\n\f\r />]", re.I | re.A)
_COMMENT_END = re.compile(r"--!?>")
_SCRIPT_DATA = re.compile(r"<!--|</script[\t\n\f\r />]", re.I | re.A)
_SCRIPT_ESCAPED = re.compile(r"-->|</?script[\t\n\f\r />]", re.I | re.A)
_SCRIPT_DOUBLE_ESCAPED = re.compile(r"-->|</script[\t\n\f\r />]", re.I | re.A)
_RAW_TEXT_END = {
    name: re.compile(rf"</{name}[\t\n\f\r />]", re.I | re.A)
    for name in ("style", "textarea", "title", "xmp", "iframe", "noembed", "noframes")
}


def _script_end(text: str, pos: int) -> int:
    """Where the ``</script`` ending a script that starts at ``pos`` is (-1: none).

    Follows the script data (escaped, double escaped) states: inside
    ``<!-- <script>`` a ``</script>`` does not end the element.
    """
    state = 0  # 0 data, 1 escaped (after "<!--"), 2 double escaped
    while True:
        if state == 0:
            match = _SCRIPT_DATA.search(text, pos)
            if match is None:
                return -1
            if match.group()[1] == "/":
                return match.start()
            state, pos = 1, match.end() - 2  # "<!-->" already ends the escape
        elif state == 1:
            match = _SCRIPT_ESCAPED.search(text, pos)
            if match is None:
                return -1
            if match.group() == "-->":
                state = 0
            elif match.group()[1] == "/":
                return match.start()
            else:
                state = 2
            pos = match.end()
        else:
            match = _SCRIPT_DOUBLE_ESCAPED.search(text, pos)
            if match is None:
                return -1
            state, pos = (0 if match.group() == "-->" else 1), match.end()


def _raw_text_end(text: str, pos: int, name: str) -> int:
    """Where the raw text of element ``name`` starting at ``pos`` ends (-1: EOF)."""
    if name == "script":
        return _script_end(text, pos)
    pattern = _RAW_TEXT_END.get(name)
    if pattern is None:  # plaintext: the rest of the document
        return -1
    match = pattern.search(text, pos)
    return -1 if match is None else match.start()


def _comment_end(text: str, pos: int) -> int:
    """Where a comment whose ``<!--`` ends at ``pos`` ends (-1: runs to EOF)."""
    if text.startswith(">", pos):
        return pos + 1
    if text.startswith("->", pos):
        return pos + 2
    match = _COMMENT_END.search(text, pos)
    return -1 if match is None else match.end()


def _ascii_compatible(codec: str) -> bool:
    """Whether every byte below 0x80 is always that ASCII character in ``codec``."""
    return _ascii_compatible_cached(codecs.lookup(codec).name)


@functools.lru_cache(maxsize=64)
def _ascii_compatible_cached(name: str) -> bool:
    if "2022" in name or name in ("hz", "utf-7"):
        return False  # stateful: escape sequences make ASCII bytes mean kanji
    ascii_text = "".join(map(chr, range(128)))
    try:
        return bytes(range(128)).decode(name) == ascii_text and ascii_text.encode(
            name
        ) == bytes(range(128))
    except (UnicodeError, LookupError):
        return False


_RAW_TEXT_NAMES = frozenset(_RAW_TEXT_END) | {"script", "plaintext"}


def _case_variants(name: str) -> list[str]:
    """Every ASCII upper/lower case spelling of ``name``."""
    variants = [""]
    for char in name:
        variants = [v + c for v in variants for c in sorted({char, char.upper()})]
    return variants


@functools.lru_cache(maxsize=8)
def _special_tags(url_elements: frozenset[str]) -> dict[str, str]:
    """Tag name as written -> lowercase name, for the tags the rewriter acts on."""
    return {
        variant: name
        for name in url_elements | _RAW_TEXT_NAMES
        for variant in _case_variants(name)
    }


@functools.lru_cache(maxsize=8)
def _candidate_pattern(url_elements: frozenset[str]) -> re.Pattern[str]:
    """Finds ``<name`` for any of ``url_elements``, as a tag could start there."""
    names = "|".join(sorted(map(re.escape, url_elements)))
    return re.compile(rf"<(?:{names})[\t\n\f\r />]", re.I | re.A)


def _starts_with_letter(text: str, pos: int) -> bool:
    """Whether ``text[pos]`` is an ASCII letter."""
    char = text[pos : pos + 1]
    return char.isascii() and char.isalpha()


def _start_tags(
    text: str, wanted: dict[str, str]
) -> Iterator[tuple[str, re.Match[str]]]:
    """Yield ``(lowercase name, match)`` for the start tags named in ``wanted``.

    ``wanted`` maps every spelling of a name to the lowercase name (see
    :func:`_special_tags`). Text that browsers do not parse as markup (comments,
    raw text elements, the rest of the document after a tag left open) is
    skipped; match group 4 is the tag name as written.
    """
    pos = 0
    search = _NEXT_MARKUP.search
    while True:
        markup = search(text, pos)
        if markup is None:
            return
        name = markup.group(4)
        if name is not None:  # a start tag
            pos = markup.end()
            lowered = wanted.get(name)
            if lowered is None:
                continue
            yield lowered, markup
            if lowered in _RAW_TEXT_NAMES:
                pos = _raw_text_end(text, pos, lowered)
                if pos < 0:
                    return
            continue
        if markup.group(1) is not None:  # an end tag
            pos = markup.end()
            continue
        start = markup.start()
        kind = text[start + 1]
        if kind == "!":
            if text.startswith("--", start + 2):
                end = _comment_end(text, start + 4) - 1
            elif text.startswith("[CDATA[", start + 2):
                end = text.find("]]>", start + 9)
                end = end + 2 if end >= 0 else -1
            else:
                end = text.find(">", start + 2)  # doctype, bogus comment
        elif kind == "?":
            end = text.find(">", start + 2)  # bogus comment
        elif kind == "/" and not _starts_with_letter(text, start + 2):
            # "</>" is dropped; "</3>", "</ x>" are bogus comments.
            gt = text.startswith(">", start + 2)
            end = start + 2 if gt else text.find(">", start + 2)
        else:
            return  # EOF inside a tag: the rest of the document is that tag
        if end < 0:
            return  # EOF inside a comment or declaration
        pos = end + 1


def _find_attribute(
    text: str, tag: re.Match[str], attribute: str
) -> Optional[re.Match[str]]:
    """The first ``attribute`` of a start tag matched by ``_NEXT_MARKUP``."""
    pos, tag_end = tag.end(4), tag.end()
    while True:
        match = _ATTRIBUTE.match(text, pos, tag_end)
        if match is None or match.group(1).lower() == attribute:
            return match
        pos = match.end()


_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


class HTMLRewriter:
    """Rewrite the link, frame and form URLs of an HTML document, nothing else.

    ``url_fn`` gets each ``href`` / ``src`` / ``action`` value of the elements in
    :attr:`url_attributes` (HTML-decoded) and returns the URL to write back
    (escaped, in the original quoting style). Each form whose action is
    same-origin (``url_fn`` changed it) or empty gets ``form_input_html`` right
    after its start tag. Comments, ``<script>``, ``<style>``, ``<textarea>``,
    ``<title>`` and every other byte of the document are left as they are.

    >>> rw = HTMLRewriter(lambda url: url + "?sid=1", "<input>")
    >>> rw.rewrite('<A HREF=/a>x</A><!-- <a href="/b"> --><form action=""></form>')
    '<A HREF=/a?sid=1>x</A><!-- <a href="/b"> --><form action=""><input></form>'
    """

    #: The element whose URL attribute is rewritten -> that attribute.
    url_attributes: ClassVar[dict[str, str]] = {
        "a": "href",
        "area": "href",
        "form": "action",
        "frame": "src",
        "iframe": "src",
    }

    def __init__(self, url_fn: UrlFn, form_input_html: str) -> None:
        self.url_fn = url_fn
        self.form_input_html = str(form_input_html)
        self._special_tags = _special_tags(frozenset(self.url_attributes))
        self._candidate = _candidate_pattern(frozenset(self.url_attributes))

    def rewrite(self, text: str) -> str:
        """Return ``text`` (a decoded HTML document) rewritten; never raises.

        >>> HTMLRewriter(str.upper, "").rewrite("<textarea><a href=x></textarea>")
        '<textarea><a href=x></textarea>'
        """
        try:
            return self._rewrite(text, None)
        except Exception:
            return text

    def rewrite_bytes(self, body: bytes, charset: str) -> bytes:
        """Return the encoded document ``body`` rewritten; never raises.

        Decodes with ``charset`` (a byte-order mark wins, as in browsers) and
        encodes back so that every byte not rewritten stays as it was; an
        undecodable body or unknown charset is handled on its ASCII bytes.

        >>> HTMLRewriter(lambda u: u + "?s", "").rewrite_bytes(
        ...     b'<a href="\\xe9">\\xff</a>', "latin-1")
        b'<a href="\\xe9?s">\\xff</a>'
        """
        try:
            return self._rewrite_bytes(body, charset)
        except Exception:
            return body

    def _rewrite_bytes(self, body: bytes, charset: str) -> bytes:
        codec: Optional[str] = None
        for bom, name in _BOMS:
            if body.startswith(bom):
                codec = name
                break
        else:
            codec = _codec_name(charset)
        if codec is not None:
            try:
                text = body.decode(codec, "surrogateescape")
                exact = text.encode(codec, "surrogateescape") == body
            except UnicodeError:
                exact = False
            if exact:
                new = self._rewrite(text, None)
                return body if new == text else new.encode(codec, "surrogateescape")
            if not _ascii_compatible(codec):
                return body
        # Lossless fallback: tokenize the bytes as latin-1 (markup is ASCII) and
        # decode only the attribute values handed to url_fn.
        view = body.decode("latin-1")
        new = self._rewrite(view, codec or "latin-1")
        return body if new == view else new.encode("latin-1")

    def _rewrite(self, text: str, codec: Optional[str]) -> str:
        """Rewrite ``text``; with ``codec``, ``text`` is bytes seen as latin-1."""
        if self._candidate.search(text) is None:
            return text  # no tag that could need rewriting: the fast path
        url_fn = self._document_url_fn(text, codec)
        out: list[str] = []
        last = 0  # text[last:] is not in out yet
        for name, tag in _start_tags(text, self._special_tags):
            attribute = self.url_attributes.get(name)
            if attribute is not None:
                last = self._rewrite_tag(
                    text, tag, name, attribute, url_fn, codec, out, last
                )
        if not out:
            return text
        out.append(text[last:])
        return "".join(out)

    def _document_url_fn(self, text: str, codec: Optional[str]) -> UrlFn:
        """``url_fn``, or a stricter one if a ``<base href>`` points elsewhere.

        Browsers resolve relative URLs against the first ``<base href>``; if
        ``url_fn`` does not rewrite that base (another origin, or unclear),
        only URLs with a scheme of their own may be rewritten.
        """
        url_fn = self.url_fn
        if _BASE.search(text) is None:
            return url_fn
        for _, tag in _start_tags(text, _special_tags(frozenset({"base"}))):
            found = _find_attribute(text, tag, "href")
            if found is None:
                continue
            base = _decode_attr(self._value_of(text, found, codec)[0])[0]
            if url_fn(base) != base:
                return url_fn
            return lambda url: (
                url_fn(url) if _SCHEME.match(_normalize_url(url)) else url
            )
        return url_fn

    @staticmethod
    def _value_of(
        text: str, found: re.Match[str], codec: Optional[str]
    ) -> tuple[str, str, int, int]:
        """``(raw value, quote char, start, end)`` of an attribute match.

        The raw value is decoded from the latin-1 view when ``codec`` is set;
        start and end delimit it in ``text``. A missing value is ``""`` with
        quote char ``'"'``, placed right after the name.
        """
        value = found.group(2)
        if value is None:  # <a href>: an empty value
            quote_char, start, end = '"', found.end(1), found.end(1)
        elif value[:1] in ("'", '"'):
            quote_char, start, end = value[0], found.start(2) + 1, found.end(2) - 1
        else:
            quote_char, start, end = "", found.start(2), found.end(2)
        raw = text[start:end]
        if codec is not None and not raw.isascii():
            raw = raw.encode("latin-1").decode(codec, "surrogateescape")
        return raw, quote_char, start, end

    def _rewrite_tag(
        self,
        text: str,
        tag: re.Match[str],
        name: str,
        attribute: str,
        url_fn: UrlFn,
        codec: Optional[str],
        out: list[str],
        last: int,
    ) -> int:
        """Rewrite one start tag into ``out``; return the new ``last``."""
        tag_end = tag.end()
        found = _find_attribute(text, tag, attribute)
        form_input = ""
        if name == "form" and not self._submits_elsewhere(text, tag_end, url_fn):
            form_input = self._form_input(codec)
        if found is None:
            if not form_input:
                return last
            out.append(text[last:tag_end])  # no action: this very page
            out.append(form_input)
            return tag_end
        raw, quote_char, start, end = self._value_of(text, found, codec)
        old, refs = _decode_attr(raw)
        if form_input and not old.strip(_C0_AND_SPACE):
            out.append(text[last:tag_end])  # an empty action: this very page
            out.append(form_input)
            return tag_end
        new = url_fn(old)
        if new == old:
            return last
        new_raw, new_quote = _encode_attr(raw, refs, old, new, quote_char)
        if codec is not None and not new_raw.isascii():
            new_raw = new_raw.encode(codec, "surrogateescape").decode("latin-1")
        if found.group(2) is None:
            new_raw = f'="{new_raw}"'
        elif new_quote != quote_char:
            start, end = found.span(2)
            new_raw = f"{new_quote}{new_raw}{new_quote}"
        out.append(text[last:start])
        out.append(new_raw)
        if not form_input:
            return end
        out.append(text[end:tag_end])
        out.append(form_input)
        return tag_end

    @staticmethod
    def _submits_elsewhere(text: str, start: int, url_fn: UrlFn) -> bool:
        """True if a ``formaction`` inside the form starting at ``start`` points
        to another origin: the hidden id would travel there, so none is added.
        Conservative: an unreadable value counts as elsewhere.
        """
        end = _FORM_END.search(text, start)
        body = text[start : end.start() if end else len(text)]
        if "formaction" not in body.lower():
            return False
        for found in _FORMACTION.finditer(body):
            value = found.group(1) or found.group(2) or found.group(3) or ""
            value = _decode_attr(value)[0]
            if value.strip(_C0_AND_SPACE) and url_fn(value) == value:
                return True
        return False

    def _form_input(self, codec: Optional[str]) -> str:
        """The form field to insert, in the text's encoding view."""
        html = self.form_input_html
        if codec is not None and not html.isascii():
            html = html.encode(codec, "surrogateescape").decode("latin-1")
        return html


_FORM_END = re.compile(r"</form[\t\n\f\r />]", re.I | re.A)
_FORMACTION = re.compile(
    r"[\t\n\f\r /]formaction[\t\n\f\r ]*=[\t\n\f\r ]*"
    r"(?:\"([^\"]*)\"|'([^']*)'|([^\t\n\f\r >]+))",
    re.I | re.A,
)


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


def _codec_name(label: str) -> Optional[str]:
    """The Python text codec for a charset label, or None if there is none."""
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
    :func:`rewrite_html` handles losslessly.

    >>> charset_of("text/html; charset=Shift_JIS"), charset_of("text/html")
    ('cp932', 'utf-8')
    >>> charset_of('text/html; charset="bogus"')
    'latin-1'
    """
    try:
        for parameter in content_type.split(";")[1:]:
            key, _, value = parameter.partition("=")
            if key.strip().lower() == "charset" and value.strip(" \t\"'"):
                return _codec_name(value) or "latin-1"
    except Exception:
        return "latin-1"
    return "utf-8"


def rewrite_html(
    body: bytes, charset: str, url_fn: UrlFn, form_input_html: str
) -> bytes:
    """Rewrite an encoded HTML document with :class:`HTMLRewriter`; never raises.

    Bytes that are not rewritten come back exactly as they were, whatever the
    charset; on any failure ``body`` itself is returned.

    >>> rewrite_html(b"<a href='/x'>\\x93hi\\x94</a><form action=//evil.example>",
    ...              "cp1252", lambda u: u + "?sid=1" if u == "/x" else u, "<input>")
    b"<a href='/x?sid=1'>\\x93hi\\x94</a><form action=//evil.example>"
    """
    try:
        return HTMLRewriter(url_fn, form_input_html).rewrite_bytes(body, charset)
    except Exception:
        return body
