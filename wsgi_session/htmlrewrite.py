"""Rewrite the links and forms of an HTML document for URL-mode tracking.

The rewriting policy: which elements and attributes carry URLs (``href`` of
``a`` and ``area``, ``action`` of ``form``, ``src`` of ``frame`` and
``iframe``), what a ``<base href>`` elsewhere changes, which forms get the
hidden id field, and how the bytes of a body are kept exactly. Only the one
attribute value that changes is rewritten, every other byte of the document
is kept. Where tags are is found by :mod:`wsgi_session.htmlscan`, attribute
values are read and written by :mod:`wsgi_session.htmlattrs`, the codec is
chosen by :mod:`wsgi_session.htmlcharset`.

    >>> rw = HTMLRewriter(lambda url: url + "?sid=t", "<input type=hidden>")
    >>> rw.rewrite('<a href="/x">x</a><textarea><a href="/y"></textarea>')
    '<a href="/x?sid=t">x</a><textarea><a href="/y"></textarea>'
"""

from __future__ import annotations

import re
from typing import ClassVar, Optional

from .htmlattrs import decode_attr, encode_attr
from .htmlcharset import ascii_compatible, body_codec
from .htmlcharset import charset_of as charset_of
from .htmlscan import StartTagFinder, find_attribute
from .urlparts import C0_AND_SPACE, UrlFn, has_scheme, normalize_url

__all__ = ["HTMLRewriter", "charset_of", "rewrite_html"]  # charset_of: a re-export

#: Finds ``<base>`` start tags (the base URL of relative links).
_BASE_TAGS = StartTagFinder(frozenset({"base"}))


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
        self._tags = StartTagFinder.for_names(frozenset(self.url_attributes))

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
        codec = body_codec(body, charset)
        if codec is not None:
            try:
                text = body.decode(codec, "surrogateescape")
                exact = text.encode(codec, "surrogateescape") == body
            except UnicodeError:
                exact = False
            if exact:
                new = self._rewrite(text, None)
                return body if new == text else new.encode(codec, "surrogateescape")
            if not ascii_compatible(codec):
                return body
        # Lossless fallback: tokenize the bytes as latin-1 (markup is ASCII) and
        # decode only the attribute values handed to url_fn.
        view = body.decode("latin-1")
        new = self._rewrite(view, codec or "latin-1")
        return body if new == view else new.encode("latin-1")

    def _rewrite(self, text: str, codec: Optional[str]) -> str:
        """Rewrite ``text``; with ``codec``, ``text`` is bytes seen as latin-1."""
        if not self._tags.may_contain(text):
            return text  # no tag that could need rewriting: the fast path
        url_fn = self._document_url_fn(text, codec)
        out: list[str] = []
        last = 0  # text[last:] is not in out yet
        for name, tag in self._tags.start_tags(text):
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
        if not _BASE_TAGS.may_contain(text):
            return url_fn
        for name, tag in _BASE_TAGS.start_tags(text):
            if name != "base":  # the finder also reports the raw-text elements
                continue
            found = find_attribute(text, tag, "href")
            if found is None:
                continue
            base = decode_attr(self._value_of(text, found, codec)[0])[0]
            if url_fn(base) != base:
                return url_fn
            return lambda url: url_fn(url) if has_scheme(normalize_url(url)) else url
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
        found = find_attribute(text, tag, attribute)
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
        old, refs = decode_attr(raw)
        if form_input and not old.strip(C0_AND_SPACE):
            out.append(text[last:tag_end])  # an empty action: this very page
            out.append(form_input)
            return tag_end
        new = url_fn(old)
        if new == old:
            return last
        new_raw, new_quote = encode_attr(raw, refs, old, new, quote_char)
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
            value = decode_attr(value)[0]
            if value.strip(C0_AND_SPACE) and url_fn(value) == value:
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
