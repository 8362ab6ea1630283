"""wsgi_session/redact.py, and the gunicorn set-ups of docs/cookieless.rst.

The unit tests hold :func:`redact_session_ids` and :class:`RedactSessionIds`
to their contract; the end-to-end tests take the gunicorn configurations
shown in the "Keeping ids out of access logs" section from the page itself,
start a real gunicorn with each, send requests that carry a real signed id
in the URL and the ``Referer``, and read gunicorn's log.
"""

from __future__ import annotations

import logging
import re
import sys
import textwrap
import time
import typing as t
from pathlib import Path

import pytest
from browser import ROOT, HttpClient, ServedScript, serve_script
from servers import free_port

from wsgi_session.redact import REDACTED, RedactSessionIds, redact_session_ids

COOKIELESS = ROOT / "docs" / "cookieless.rst"
ID = "eyJpZCI6MX0.AbC-dEf_123"


def record(msg: object, args: t.Any = ()) -> logging.LogRecord:
    """A log record of the ``gunicorn.access`` logger with ``msg % args``."""
    return logging.LogRecord(
        "gunicorn.access", logging.INFO, __file__, 1, msg, args, None
    )


# -- redact_session_ids ---------------------------------------------------------------


def test_value_of_the_param_is_replaced():
    """``sid=<id>`` becomes ``sid=<redacted>``; the rest of the text is kept."""
    assert redact_session_ids(f"/cart?sid={ID}") == f"/cart?sid={REDACTED}"


def test_percent_encoded_name_is_masked():
    """A name that percent-decodes to the param (``s%69d``, ``%73%69%64``) is masked."""
    assert redact_session_ids(f"/x?s%69d={ID}") == f"/x?s%69d={REDACTED}"
    assert redact_session_ids(f"/x?%73%69%64={ID}") == f"/x?%73%69%64={REDACTED}"


def test_percent_encoded_other_name_is_kept():
    """A percent-encoded name of another parameter keeps its value."""
    assert redact_session_ids("/x?s%69ze=12") == "/x?s%69ze=12"


def test_every_pair_of_several_is_masked_and_others_kept():
    """Each of several ``sid`` pairs is masked, the pairs between them are kept."""
    text = f"/x?sid={ID}&page=2&sid=other.id;sid={ID}#top"
    assert redact_session_ids(text) == (
        f"/x?sid={REDACTED}&page=2&sid={REDACTED};sid={REDACTED}#top"
    )


def test_longer_or_prefixed_names_are_not_matched():
    """``sidebar=``, ``sid_x=`` and ``mysid=`` are other parameters: kept."""
    text = "/x?sidebar=left&sid_x=1&mysid=2&q=sid"
    assert redact_session_ids(text) == text


def test_param_names_the_parameter_to_mask():
    """With ``param="jsessionid"`` that parameter is masked and ``sid`` is not."""
    text = f"/x?jsessionid={ID}&sid=keep"
    assert redact_session_ids(text, "jsessionid") == (
        f"/x?jsessionid={REDACTED}&sid=keep"
    )


def test_request_line_and_referer_of_a_log_line_are_masked():
    """In a combined-format line both the request line and the Referer are masked."""
    line = (
        f'127.0.0.1 - - [01/Jan/2025:10:00:00 +0000] "GET /cart?page=2&sid={ID} '
        f'HTTP/1.1" 200 17 "http://shop.example/list?sid={ID}" "Mozilla/5.0"'
    )
    redacted = redact_session_ids(line)
    assert ID not in redacted
    assert redacted == line.replace(ID, REDACTED)


def test_bare_query_string_is_masked():
    """A bare ``QUERY_STRING`` (the pair starts the text) is masked."""
    assert redact_session_ids(f"sid={ID}&q=1") == f"sid={REDACTED}&q=1"


def test_text_without_equals_sign_is_returned_unchanged():
    """Text with no ``=`` (the param's name included) is returned as it is."""
    text = "GET /sid/AbC.dEf HTTP/1.1 sid"
    assert redact_session_ids(text) == text


def test_text_without_the_param_is_returned_unchanged():
    """Pairs of other names, quotes and brackets around them: nothing changes."""
    text = "\"GET /?a=1&b=2 HTTP/1.1\" 200 (x=y) [k=v] 'q=wsgi'"
    assert redact_session_ids(text) == text


# -- RedactSessionIds -----------------------------------------------------------------


def test_filter_masks_a_record_with_tuple_args():
    """A ``%s`` record whose args hold the id is replaced by its redacted text."""
    entry = record('"%s" %s', (f"GET /?sid={ID} HTTP/1.1", 200))
    assert RedactSessionIds().filter(entry) is True
    assert entry.getMessage() == f'"GET /?sid={REDACTED} HTTP/1.1" 200'
    assert entry.args is None


def test_filter_masks_a_record_with_mapping_args():
    """A ``%(r)s`` record with a mapping (as gunicorn logs) is masked."""
    entry = record('"%(r)s" %(s)s', {"r": f"GET /?sid={ID} HTTP/1.1", "s": "200"})
    assert RedactSessionIds().filter(entry) is True
    assert entry.getMessage() == f'"GET /?sid={REDACTED} HTTP/1.1" 200'


def test_filter_leaves_a_record_without_the_id_as_it_was():
    """A record without the param keeps its own ``msg`` and ``args`` objects."""
    args = ("GET /?page=2 HTTP/1.1", 200)
    entry = record('"%s" %s', args)
    assert RedactSessionIds().filter(entry) is True
    assert entry.msg == '"%s" %s' and entry.args is args


def test_filter_masks_a_non_string_message():
    """A message that is an object (an exception) is masked through its ``str``."""
    entry = record(ValueError(f"bad request /?sid={ID}"))
    assert RedactSessionIds().filter(entry) is True
    assert entry.getMessage() == f"bad request /?sid={REDACTED}"


def test_filter_keeps_a_non_string_message_without_the_id():
    """A non-string message without the id is left as the object it was."""
    entry = record(404)
    assert RedactSessionIds().filter(entry) is True
    assert entry.msg == 404


def test_filter_uses_its_param():
    """``RedactSessionIds(param="token")`` masks ``token=`` and not ``sid=``."""
    entry = record(f"/x?token={ID}&sid=kept")
    RedactSessionIds(param="token").filter(entry)
    assert entry.getMessage() == f"/x?token={REDACTED}&sid=kept"


def test_filter_never_drops_a_record():
    """Through a real logger every record reaches the handler, masked or not."""
    seen: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(self.format(record))

    handler = Collect()
    handler.addFilter(RedactSessionIds())
    logger = logging.getLogger("test_redact.never_drops")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    try:
        logger.info("GET /?sid=%s", ID)
        logger.info("no id here")
        logger.info(12345)
        logger.info("")
        logger.warning("%(r)s", {"r": f"/?sid={ID}"})
    finally:
        logger.removeHandler(handler)
    assert seen == [
        f"GET /?sid={REDACTED}",
        "no id here",
        "12345",
        "",
        "/?sid=<redacted>",
    ]


# -- the gunicorn configurations of docs/cookieless.rst -------------------------------


class CodeBlock(t.NamedTuple):
    """One ``.. code-block::`` of an rst page."""

    language: str
    options: dict[str, str]
    code: str


def code_blocks(text: str) -> list[CodeBlock]:
    """The ``code-block`` directives of ``text``: language, options, dedented body."""
    blocks = []
    lines = text.splitlines()
    for number, line in enumerate(lines):
        found = re.match(r"^(\s*)\.\. code-block::\s*(\S*)\s*$", line)
        if not found:
            continue
        indent = len(found[1])
        options: dict[str, str] = {}
        body: list[str] = []
        for following in lines[number + 1 :]:
            if following.strip() and len(following) - len(following.lstrip()) <= indent:
                break  # the directive ends at the first line not indented under it
            option = re.match(r"^\s+:([\w-]+):\s*(.*)$", following)
            if option and not body:
                options[option[1]] = option[2].strip()
            elif body or following.strip():
                body.append(following)
        code = textwrap.dedent("\n".join(body)).strip() + "\n"
        blocks.append(CodeBlock(found[2], options, code))
    return blocks


def section(text: str, title: str) -> str:
    """The part of ``text`` from the heading ``title`` to the next same-level one."""
    found = re.search(rf"^{re.escape(title)}\n(-+)\n", text, re.MULTILINE)
    assert found, f"no section {title!r}"
    rest = text[found.end() :]
    following = re.search(r"^.+\n-+\n", rest, re.MULTILINE)
    return rest[: following.start()] if following else rest


def gunicorn_configurations() -> dict[str, str]:
    """The two gunicorn set-ups the access-log section shows, by name."""
    page = section(
        COOKIELESS.read_text(encoding="utf-8"), "Keeping ids out of access logs"
    )
    blocks = [block for block in code_blocks(page) if block.language == "python"]
    captioned = [
        b.code for b in blocks if b.options.get("caption") == "gunicorn.conf.py"
    ]
    formats = [
        b.code for b in blocks if re.search("^access_log_format =", b.code, re.M)
    ]
    assert len(captioned) == 1 and len(formats) == 1, blocks
    return {"logging-filter": captioned[0], "access-log-format": formats[0]}


def test_docs_show_a_gunicorn_conf_with_the_filter():
    """The captioned block is a Python config whose handlers all use the filter."""
    namespace: dict[str, t.Any] = {}
    exec(gunicorn_configurations()["logging-filter"], namespace)
    config = namespace["logconfig_dict"]
    assert config["filters"]["no_session_ids"]["()"] == (
        "wsgi_session.redact.RedactSessionIds"
    )
    for handler in config["handlers"].values():
        assert handler["filters"] == ["no_session_ids"]


APP = '''
"""A counter in URL mode, with static files served in front of the middleware.

/start redirects to /next with the id in the URL. /static/ is answered
before the middleware (as a static-file mount often is), so nothing takes
the id out of the URI that gunicorn logs.
"""

from wsgi_session import SessionMiddleware


def counter(environ, start_response):
    session = environ["wsgi_session"]
    session["hits"] = session.get("hits", 0) + 1
    if environ["PATH_INFO"] == "/start":
        start_response("302 Found", [("Location", "/next"), ("Content-Length", "0")])
        return [b""]
    body = b"hits=%d" % session["hits"]
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body]


sessions = SessionMiddleware(counter, secret_key="redact-test", tracking="url")


def app(environ, start_response):
    if environ["PATH_INFO"].startswith("/static/"):
        start_response("200 OK", [("Content-Type", "text/css")])
        return [b"body {}"]
    return sessions(environ, start_response)
'''


def wait_for_log(served: ServedScript, needle: str, timeout: float = 10) -> str:
    """Everything gunicorn logged, once ``needle`` has appeared in its stdout."""
    deadline = time.monotonic() + timeout
    while needle not in served.stdout():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{needle!r} never logged:\n{served.stdout()}")
        time.sleep(0.05)
    return served.stdout() + served.stderr()


@pytest.mark.slow
@pytest.mark.parametrize("name", ["logging-filter", "access-log-format"])
def test_gunicorn_access_log_of_the_docs_holds_no_session_id(tmp_path: Path, name: str):
    """gunicorn with a set-up of the docs logs the requests but never the id."""
    pytest.importorskip("gunicorn")
    conf = tmp_path / "gunicorn.conf.py"
    conf.write_text(gunicorn_configurations()[name])
    (tmp_path / "redact_app.py").write_text(APP)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    argv = [
        sys.executable,
        "-m",
        "gunicorn",
        "-c",
        str(conf),
        "--pythonpath",
        str(tmp_path),
        "-b",
        f"127.0.0.1:{port}",
        "redact_app:app",
    ]
    with serve_script(argv, tmp_path, url=f"{base}/") as served:
        client = HttpClient(f"{base}/", use_cookies=False)
        first = client.get("/start")
        assert first.status == 302
        location = first.headers["Location"]
        found = re.search(r"[?&]sid=([^&#]+)", location)
        assert found, location
        session_id = found[1]
        referer = f"{base}{location}"
        reply = client.get(f"/cart?page=2&sid={session_id}", {"Referer": referer})
        assert reply.text == "hits=2"  # the id is a real one: the session went on
        static = client.get(f"/static/site.css?sid={session_id}", {"Referer": referer})
        assert static.status == 200
        log = wait_for_log(served, "/static/site.css")
        assert served.terminate(timeout=20) == 0
    assert session_id not in log
    (cart,) = [line for line in log.splitlines() if "/cart" in line]
    (css,) = [line for line in log.splitlines() if "/static/site.css" in line]
    if name == "logging-filter":
        # The middleware took the id out of the URI before gunicorn logged it;
        # the Referer still held it, and the static file's request line too.
        assert '"GET /cart?page=2 HTTP/1.1" 200' in cart
        assert f'"GET /static/site.css?sid={REDACTED} HTTP/1.1" 200' in css
        for line in cart, css:
            assert f'"{base}/next?sid={REDACTED}"' in line
    else:
        assert '"GET /cart HTTP/1.1" 200' in cart
        assert '"GET /static/site.css HTTP/1.1" 200' in css
        for line in cart, css:
            assert "sid=" not in line and "/next" not in line
