"""Hypothesis strategies for hostile HTTP input (issue 5, item 3).

Each strategy generates what an attacker or a broken client can put on the
wire: ``Cookie`` headers, query strings, URLs for ``rewrite_url``, HTML
documents for ``rewrite_html``, urlencoded and multipart bodies with lying
``Content-Length`` values. Strategies that may carry session ids take a
``pool`` of candidate values (ids the server issued, forged, expired,
tampered...) so that the properties mix real ids with junk.

WSGI environ strings are latin-1: text strategies stay within U+0000-U+00FF
unless they produce bytes.
"""

from __future__ import annotations

import dataclasses
import typing as t
from urllib.parse import quote

from hypothesis import strategies as st

__all__ = [
    "HtmlDoc",
    "content_lengths",
    "cookie_headers",
    "encode_value",
    "hosts",
    "html_documents",
    "id_values",
    "latin1_text",
    "multipart_bodies",
    "plain_urls",
    "query_strings",
    "urlencoded_bodies",
    "urlencoded_requests",
    "urls",
]

LATIN1 = st.characters(max_codepoint=0xFF)
URL_SAFE = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

#: Little pieces that break parsers: separators, quotes, escapes, controls.
JUNK = [
    "",
    ";",
    ",",
    "=",
    "==",
    '"',
    "'",
    "\\",
    "%",
    "%zz",
    "%00",
    "%0d%0a",
    "%2e",
    "+",
    "&",
    "&amp;",
    "\x00",
    "\r\n",
    "\n",
    "\t",
    " ",
    "\x7f",
    "\xff",
    "\xe9",
    "\x85",
    "\xa0",
    ".",
    "..",
    "$",
    "\\054",
]


def latin1_text(max_size: int = 40) -> st.SearchStrategy[str]:
    """Any text a WSGI environ value can hold (latin-1 code points)."""
    return st.text(LATIN1, max_size=max_size)


def _junk() -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(JUNK), latin1_text(6))


def _mutate(value: str, index: int, replacement: str) -> str:
    if not value:
        return replacement
    index %= len(value) + 1
    return value[:index] + replacement + value[index + 1 :]


def id_values(pool: t.Sequence[str]) -> st.SearchStrategy[str]:
    """Session id candidates: pool values as they are, mutated, or random."""
    pooled = st.sampled_from(list(pool))
    shaped = st.builds(
        "{}.{}".format,
        st.text(URL_SAFE, min_size=43, max_size=43),
        st.text(URL_SAFE, min_size=0, max_size=50),
    )
    mutated = st.builds(_mutate, pooled, st.integers(0, 200), _junk())
    return st.one_of(
        pooled,
        pooled,
        pooled,
        pooled,
        mutated,
        pooled.map(lambda v: v.partition(".")[0]),  # the bare id
        pooled.map(str.swapcase),
        st.builds("{}{}".format, pooled, _junk()),
        st.builds("{}{}".format, _junk(), pooled),
        shaped,
        latin1_text(60),
        st.integers(150, 5000).map(lambda n: "A" * n),
    )


def encode_value(value: str, how: str) -> str:
    """Spell a value the ways a query string or body can."""
    if how == "quote":
        return quote(value, safe="", encoding="latin-1")
    if how == "quote_all":
        return "".join(f"%{b:02X}" for b in value.encode("latin-1"))
    if how == "plus":
        return quote(value, safe="", encoding="latin-1").replace("%20", "+")
    return value


ENCODINGS = st.sampled_from(["raw", "raw", "quote", "quote_all", "plus"])


def cookie_headers(
    pool: t.Sequence[str], cookie_name: str = "session"
) -> st.SearchStrategy[str]:
    """``Cookie`` header values: our cookies, duplicates, quoting, garbage."""
    names = st.one_of(
        st.sampled_from(
            [
                cookie_name,
                cookie_name,
                f"{cookie_name}_probe",
                cookie_name.upper(),
                f" {cookie_name}",
                f"{cookie_name} ",
                f"__Host-{cookie_name}",
                f"{cookie_name}x",
                "sid",
                "other",
                "",
            ]
        ),
        latin1_text(8),
    )
    values = st.one_of(
        id_values(pool),
        id_values(pool).map(lambda v: f'"{v}"'),
        st.sampled_from(["", "1", '""', '"', "deleted"]),
        latin1_text(30),
    )
    pairs = st.builds(
        "{}{}{}".format,
        names,
        st.sampled_from(["=", "=", "=", "= ", " = ", ""]),
        values,
    )
    separators = st.sampled_from(["; ", "; ", ";", ", ", ";;", " ; ", "\t;", "\n"])
    joined = st.builds(
        lambda items, sep: sep.join(items), st.lists(pairs, max_size=8), separators
    )
    huge = st.builds(lambda text, n: (text * n)[:40000], joined, st.integers(50, 4000))
    focused = st.builds(
        lambda before, value, after, sep: sep.join(
            [*before, f"{cookie_name}={value}", *after]
        ),
        st.lists(pairs, max_size=2),
        st.one_of(
            st.sampled_from(list(pool)), st.sampled_from(list(pool)), id_values(pool)
        ),
        st.lists(st.one_of(pairs, st.just(f"{cookie_name}_probe=1")), max_size=2),
        separators,
    )
    return st.one_of(joined, joined, focused, focused, focused, latin1_text(200), huge)


def query_strings(pool: t.Sequence[str], param: str = "sid") -> st.SearchStrategy[str]:
    """``QUERY_STRING`` values with the id parameter spelled every way."""
    names = st.one_of(
        st.sampled_from(
            [
                param,
                param,
                param,
                "%73id",
                "s%69d",
                "%73%69%64",
                param.upper(),
                f"{param} ",
                f"+{param}",
                f"{param}[]",
                f"{param}%00",
                "next",
                "a",
                "",
            ]
        ),
        latin1_text(6),
    )
    pairs = st.builds(
        lambda name, eq, value, how: f"{name}{eq}{encode_value(value, how)}",
        names,
        st.sampled_from(["=", "=", "=", "", "=="]),
        st.one_of(id_values(pool), latin1_text(20)),
        ENCODINGS,
    )
    separators = st.sampled_from(["&", "&", "&", ";", "&&", "&amp;"])
    joined = st.builds(
        lambda items, sep: sep.join(items), st.lists(pairs, max_size=8), separators
    )
    focused = st.builds(
        lambda before, value, how, after: "&".join(
            [*before, f"{param}={encode_value(value, how)}", *after]
        ),
        st.lists(pairs, max_size=2),
        st.one_of(
            st.sampled_from(list(pool)), st.sampled_from(list(pool)), id_values(pool)
        ),
        ENCODINGS,
        st.lists(pairs, max_size=2),
    )
    return st.one_of(joined, joined, focused, focused, focused, latin1_text(100))


# ----------------------------------------------------------------- URLs

SCHEMES = [
    "",
    "",
    "",
    "http:",
    "http:",
    "https:",
    "HTTP:",
    "hTtP:",
    "javascript:",
    "JaVaScRiPt:",
    "java\tscript:",
    "mailto:",
    "data:",
    "tel:",
    "ftp:",
    "x:",
    "vbscript:",
    "file:",
]
SLASHES = ["", "", "/", "//", "//", "///", "/\\", "\\\\", "\\/", "/ /", "\\"]
HOSTS = [
    "",
    "localhost",
    "localhost",
    "LOCALHOST",
    "localhost.",
    "localhost:80",
    "localhost:0080",
    "localhost:8080",
    "localhost:",
    "localhost%2e",
    "127.0.0.1",
    "[::1]",
    "evil.example",
    "localhost.evil.example",
    "evil.example\\@localhost",
    "localhost@evil.example",
    "user:pw@localhost",
    "localhost:80@evil.example",
    "localhost#@evil.example",
    "localhost?@evil.example",
    "%6c%6f%63%61%6c%68%6f%73%74",
]
PATHS = ["", "/", "/x", "x", "../up", "./rel", "/a b", "/%zz", "/\xe9", "/p;sid=x"]
QUERIES = ["", "?", "?a=1", "?sid=stale", "?a=1&sid=x&sid=y", "?%73id=z", "?a&&b&"]
FRAGMENTS = ["", "#", "#f", "#?sid=x", "#a#b"]
LEADING = ["", "", "", " ", "\t", "\n", "\x00", "\x01", "\x1f ", "\r\n"]


def _interleave(url: str, positions: list[int], chars: list[str]) -> str:
    for pos, char in zip(positions, chars):
        pos %= len(url) + 1
        url = url[:pos] + char + url[pos:]
    return url


def urls() -> st.SearchStrategy[str]:
    """URLs an app may pass to ``rewrite_url``: relative, absolute, hostile."""
    composed = st.builds(
        lambda lead, scheme, slashes, host, path, query, frag: (
            lead + scheme + slashes + host + path + query + frag
        ),
        st.sampled_from(LEADING),
        st.sampled_from(SCHEMES),
        st.sampled_from(SLASHES),
        st.sampled_from(HOSTS),
        st.sampled_from(PATHS),
        st.sampled_from(QUERIES),
        st.sampled_from(FRAGMENTS),
    )
    sprinkled = st.builds(
        _interleave,
        composed,
        st.lists(st.integers(0, 60), max_size=3),
        st.lists(st.sampled_from(["\t", "\n", "\r", "\x00", " ", "\\"]), max_size=3),
    )
    return st.one_of(composed, composed, sprinkled, latin1_text(40), st.text())


def plain_urls() -> st.SearchStrategy[str]:
    """Ordinary same-origin URLs (relative, or absolute to http://localhost)."""
    return st.sampled_from(
        [
            *["/a", "b/c", "../d", "?q=1", "/e?f=1#g", "", "http://localhost/h"],
            *["//localhost/i", "HTTP://LOCALHOST:80/j", "/k?sid=stale"],
        ]
    )


def hosts() -> st.SearchStrategy[str]:
    """``Host`` headers, valid and not."""
    return st.sampled_from(
        [
            *["localhost", "localhost", "LOCALHOST", "localhost:80", "localhost:8080"],
            *["[::1]:8080", "a@b", "evil.example", "localhost:99999", " localhost "],
        ]
    )


# ----------------------------------------------------------------- HTML


@dataclasses.dataclass
class HtmlDoc:
    """A generated document and what the checks need to know about it."""

    text: str
    #: Contents of comments and raw text elements, exactly as generated.
    raw_sections: list[str]
    #: True when built only from well-formed pieces (strong checks apply).
    well_formed: bool


URL_TAGS = {
    "a": "href",
    "area": "href",
    "form": "action",
    "frame": "src",
    "iframe": "src",
    "base": "href",
    "img": "src",
    "link": "href",
    "script": "src",
}
RAW_INNER = [
    '<a href="/raw">x</a>',
    "<a href=/raw2>",
    "<form action='/f'>",
    "<iframe src=/i></iframe>",
    "<area href=/area>",
    "&amp; &lt;a href=/x&gt;",
    "'\"",
    "text",
    "",
    "<base href=//evil.example/>",
]


def _attr_value(url: str, quote_char: str, entities: bool) -> str:
    if entities:
        url = url.replace("&", "&amp;").replace("/", "&#x2F;")
    if quote_char == '"':
        return '"' + url.replace('"', "&quot;") + '"'
    if quote_char == "'":
        return "'" + url.replace("'", "&#39;") + "'"
    safe = "".join(c for c in url if c not in " \t\n\r\f>\"'=<`")
    return safe or '""'


def _tag(
    name: str, attr: str, url: str, quote_char: str, entities: bool, extra: str
) -> str:
    value = _attr_value(url, quote_char, entities)
    tag = f"<{name}{extra} {attr}={value}>"
    if name.lower() in ("iframe", "script"):  # raw text up to the end tag
        tag += f"</{name}>"
    return tag


def _raw(kind: str, inner: str) -> tuple[str, str]:
    if kind == "comment":
        return f"<!--{inner}-->", inner
    return f"<{kind}>{inner}</{kind}>", inner


def html_documents(url_strategy: st.SearchStrategy[str]) -> st.SearchStrategy[HtmlDoc]:
    """HTML documents mixing link/form tags, raw text, comments, text and junk."""
    names = st.sampled_from([*URL_TAGS, "A", "FORM", "Iframe", "button"])
    tags = st.builds(
        lambda name, url, quote_char, entities, extra: (
            _tag(
                name,
                URL_TAGS.get(name.lower(), "href"),
                url,
                quote_char,
                entities,
                extra,
            ),
            None,
        ),
        names,
        url_strategy,
        st.sampled_from(['"', '"', "'", ""]),
        st.booleans(),
        st.sampled_from(
            ["", ' class="c"', " data-x=1", " method=post", " HREF=/first"]
        ),
    )
    raws = st.builds(
        _raw,
        st.sampled_from(["script", "style", "textarea", "title", "comment"]),
        st.lists(st.sampled_from(RAW_INNER), max_size=3).map("".join),
    )
    texts = st.builds(
        lambda s: (s.replace("<", " ").replace("&", " "), None),
        st.text(max_size=30),
    )
    closers = st.sampled_from(["</a>", "</form>", "</iframe>", "<br>", "<p>", "</p>"])
    good = st.one_of(tags, tags, tags, raws, texts, closers.map(lambda c: (c, None)))
    junk = st.one_of(
        st.sampled_from(
            [
                *["<", "</", "<!", "<?", "<!--", "-->", "--!>", "<![CDATA[", "]]>"],
                *['"', "'", "<a", "<form ", "<base href=", "<script>", "<textarea>"],
                *["=", "&"],
            ]
        ),
        st.text(max_size=12),
    ).map(lambda j: (j, "junk"))
    pieces = st.lists(st.one_of(good, good, good, junk), min_size=1, max_size=14)

    def build(items: list[tuple[str, str | None]]) -> HtmlDoc:
        raw_sections = [
            inner for _, inner in items if inner is not None and inner != "junk"
        ]
        well_formed = all(inner != "junk" for _, inner in items)
        return HtmlDoc("".join(text for text, _ in items), raw_sections, well_formed)

    return pieces.map(build)


# ----------------------------------------------------------------- bodies


def urlencoded_bodies(
    pool: t.Sequence[str], param: str = "sid"
) -> st.SearchStrategy[bytes]:
    """``application/x-www-form-urlencoded`` bodies, with and without the id."""
    text = query_strings(pool, param).map(lambda q: q.encode("latin-1"))
    return st.one_of(text, text, text, st.binary(max_size=200))


BOUNDARIES = [
    "b",
    "----WebKitFormBoundary7MA4YWxkTrZu0gW",
    "x" * 70,
    "x" * 200,
    "a b",
    "--",
    "=",
    "\xe9",
    "",
]


def _part(
    name: str, value: bytes, filename: str | None, ctype: str | None, nl: str
) -> bytes:
    disposition = f'Content-Disposition: form-data; name="{name}"'
    if filename is not None:
        disposition += f'; filename="{filename}"'
    lines = [disposition]
    if ctype is not None:
        lines.append(f"Content-Type: {ctype}")
    head = nl.join(lines) + nl + nl
    return head.encode("latin-1") + value


def multipart_bodies(
    pool: t.Sequence[str], param: str = "sid"
) -> st.SearchStrategy[tuple[str, bytes]]:
    """``(Content-Type, body)`` of multipart forms, sound and broken."""
    boundary = st.one_of(st.sampled_from(BOUNDARIES), latin1_text(20))
    field_names = st.one_of(
        st.sampled_from([param, param, "name", "file", f"{param}[]", "", '"', "\xe9"]),
        latin1_text(8),
    )
    values = st.one_of(
        id_values(pool).map(lambda v: v.encode("latin-1")),
        st.binary(max_size=100),
        st.just(b"x" * 5000),
    )
    newline = st.sampled_from(["\r\n", "\r\n", "\n", "\r"])
    parts = st.lists(
        st.tuples(
            field_names,
            values,
            st.one_of(st.none(), st.sampled_from(["a.txt", "", "../../etc/passwd"])),
            st.one_of(st.none(), st.sampled_from(["text/plain", "application/x-evil"])),
        ),
        max_size=5,
    )

    def build(
        boundary: str,
        body_boundary_changed: bool,
        parts: list[tuple[str, bytes, str | None, str | None]],
        nl: str,
        ending: str,
        preamble: bytes,
        cut: int | None,
        header_form: str,
    ) -> tuple[str, bytes]:
        inner = boundary + "X" if body_boundary_changed else boundary
        delim = ("--" + inner).encode("latin-1")
        eol = nl.encode()
        chunks = [preamble]
        for name, value, filename, ctype in parts:
            chunks.append(delim + eol + _part(name, value, filename, ctype, nl) + eol)
        if ending == "closed":
            chunks.append(delim + b"--" + eol)
        elif ending == "epilogue":
            chunks.append(delim + b"--" + eol + b"epilogue junk")
        body = b"".join(chunks)
        if cut is not None:
            body = body[: cut % (len(body) + 1)]
        header = header_form.format(boundary=boundary)
        return header, body

    return st.builds(
        build,
        boundary,
        st.booleans(),
        parts,
        newline,
        st.sampled_from(["closed", "closed", "open", "epilogue"]),
        st.sampled_from([b"", b"preamble\r\n", b"\r\n\r\n"]),
        st.one_of(st.none(), st.none(), st.integers(0, 10000)),
        st.sampled_from(
            [
                "multipart/form-data; boundary={boundary}",
                "multipart/form-data; boundary={boundary}",
                'multipart/form-data; boundary="{boundary}"',
                "MULTIPART/FORM-DATA;boundary={boundary}",
                "multipart/form-data",
                "multipart/form-data; boundary=",
                "multipart/form-data; charset=utf-8; boundary={boundary}; x=y",
                "multipart/mixed; boundary={boundary}",
            ]
        ),
    )


def content_lengths(length: int) -> st.SearchStrategy[str]:
    """``CONTENT_LENGTH`` values for a body of ``length`` bytes: honest or not."""
    return st.one_of(
        st.just(str(length)),
        st.just(str(length)),
        st.integers(0, max(length, 0)).map(str),  # shorter than the body
        st.integers(length + 1, length + 5000).map(str),  # longer: a lying client
        st.integers(-(10**6), -1).map(str),
        st.integers(2**20, 10**30).map(str),  # huge
        st.sampled_from(
            ["", " ", "abc", "1e3", "0x10", " 12 ", "+5", "1_0", "\x00", "-0"]
        ),
        latin1_text(6),
    )


def urlencoded_requests(
    pool: t.Sequence[str], param: str = "sid"
) -> st.SearchStrategy[tuple[str, bytes]]:
    """``(CONTENT_TYPE, body)`` of urlencoded forms, some mislabelled."""
    return st.builds(
        lambda ctype, body: (ctype, body),
        st.sampled_from(
            [
                "application/x-www-form-urlencoded",
                "application/x-www-form-urlencoded; charset=utf-8",
                "APPLICATION/X-WWW-FORM-URLENCODED",
                "text/plain",
                "",
                "application/json",
            ]
        ),
        urlencoded_bodies(pool, param),
    )
