"""Find start tags in an HTML document the way browsers tokenize it.

A small tokenizer following the WHATWG HTML tokenizer for what the rewriter
needs: where tags, comments, bogus comments, declarations and raw-text
elements (``script``, with its escape states, ``style``, ``textarea``,
``title``...) start and end. It finds start tags and their attributes as
written and decides nothing about them. The standard library's
``html.parser`` is not used: before Python 3.13 it does not treat
``textarea``/``title`` as raw text, and its script and comment rules changed in
2025 security releases.

    >>> text = '<a href=/x><textarea><a href=/y></textarea><!-- <a> -->'
    >>> tags = StartTagFinder.for_names(frozenset({"a"})).start_tags(text)
    >>> [(name, find_attribute(text, tag, "href").group(2)) for name, tag in tags
    ...  if name == "a"]
    [('a', '/x')]
"""

from __future__ import annotations

import re
from typing import Iterator, Optional

from .memo import Memo

__all__ = ["RAW_TEXT_NAMES", "StartTagFinder", "find_attribute"]

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


#: Elements whose content is text, not markup, up to their end tag (the
#: content of ``plaintext`` runs to the end of the document).
RAW_TEXT_NAMES = frozenset(_RAW_TEXT_END) | {"script", "plaintext"}


def _case_variants(name: str) -> list[str]:
    """Every ASCII upper/lower case spelling of ``name``."""
    variants = [""]
    for char in name:
        variants = [v + c for v in variants for c in sorted({char, char.upper()})]
    return variants


class StartTagFinder:
    """Finds the start tags of some elements, skipping what is not markup.

    ``names`` are lowercase element names. :meth:`start_tags` yields
    ``(lowercase name, match)`` for each start tag of those elements and of the
    raw-text elements (``script``, ``style``, ``textarea``, ``title``...), whose
    content it skips, as it skips comments and declarations; match group 4 is
    the tag name as written and the match ends after the tag's ``>``. Never
    mutated after it is built, so one finder serves every document and thread.

    >>> finder = StartTagFinder.for_names(frozenset({"a"}))
    >>> page = '<A href=/x><!-- <a href=/y> --><title><a></title><a>'
    >>> [(name, tag.group()) for name, tag in finder.start_tags(page)]
    [('a', '<A href=/x>'), ('title', '<title>'), ('a', '<a>')]
    >>> finder.may_contain("<p>no links</p>")
    False
    """

    __slots__ = ("_candidate", "_spellings")

    def __init__(self, names: frozenset[str]) -> None:
        #: Tag name as written -> lowercase name; read only once built.
        self._spellings = {
            variant: name
            for name in names | RAW_TEXT_NAMES
            for variant in _case_variants(name)
        }
        alternatives = "|".join(sorted(map(re.escape, names)))
        self._candidate = re.compile(rf"<(?:{alternatives})[\t\n\f\r />]", re.I | re.A)

    @classmethod
    def for_names(cls, names: frozenset[str]) -> StartTagFinder:
        """The finder for ``names``, built once and then shared.

        >>> StartTagFinder.for_names(frozenset({"a"})) is StartTagFinder.for_names(
        ...     frozenset({"a"}))
        True
        """
        finder = _FINDERS.get(names)
        if finder is None:
            finder = cls(names)
            _FINDERS.put(names, finder)
        return finder

    def may_contain(self, text: str) -> bool:
        """Whether ``<name`` of one of the names occurs (a tag could start there).

        False means :meth:`start_tags` yields none of the names for ``text``.

        >>> StartTagFinder.for_names(frozenset({"form"})).may_contain("<FORM\\n>")
        True
        """
        return self._candidate.search(text) is not None

    def start_tags(self, text: str) -> Iterator[tuple[str, re.Match[str]]]:
        """Yield ``(lowercase name, match)`` for the start tags browsers see.

        >>> finder = StartTagFinder.for_names(frozenset({"form"}))
        >>> [name for name, _ in finder.start_tags("<script><form></script><form>")]
        ['script', 'form']
        """
        return _start_tags(text, self._spellings)


#: The finders built, by their frozenset of lowercase element names. A finder
#: is determined by its names alone and is never changed once built, so the
#: same one may serve every caller.
_FINDERS: Memo[frozenset[str], StartTagFinder] = Memo(8)


def _starts_with_letter(text: str, pos: int) -> bool:
    """Whether ``text[pos]`` is an ASCII letter."""
    char = text[pos : pos + 1]
    return char.isascii() and char.isalpha()


def _start_tags(
    text: str, wanted: dict[str, str]
) -> Iterator[tuple[str, re.Match[str]]]:
    """Yield ``(lowercase name, match)`` for the start tags named in ``wanted``.

    ``wanted`` maps every spelling of a name to the lowercase name (see
    :class:`StartTagFinder`). Text that browsers do not parse as markup (comments,
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
            if lowered in RAW_TEXT_NAMES:
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


def find_attribute(
    text: str, tag: re.Match[str], attribute: str
) -> Optional[re.Match[str]]:
    """The first ``attribute`` (lowercase name) of a tag from :class:`StartTagFinder`.

    Group 1 of the match is the name as written, group 2 the value as written
    (with its quotes; None for an attribute without a value).

    >>> text = "<a id=1 HREF='/x'>"
    >>> tag = next(StartTagFinder.for_names(frozenset({"a"})).start_tags(text))[1]
    >>> find_attribute(text, tag, "href").group(1, 2)
    ('HREF', "'/x'")
    >>> find_attribute(text, tag, "title") is None
    True
    """
    pos, tag_end = tag.end(4), tag.end()
    while True:
        match = _ATTRIBUTE.match(text, pos, tag_end)
        if match is None or match.group(1).lower() == attribute:
            return match
        pos = match.end()
