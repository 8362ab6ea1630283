"""Keep session ids out of log lines: mask the value of the URL id parameter.

SPEC §3.5: no log line ever contains a session id. In URL mode the signed id
travels as the :setting:`url_param` query parameter, so a server's access log
(request lines, ``Referer`` headers) would print it. :func:`redact_session_ids`
replaces its value by :data:`REDACTED`; :class:`RedactSessionIds` is a
:mod:`logging` filter that does so to every record it sees, for servers that
log through :mod:`logging` (gunicorn; the demo's wsgiref handler uses the
function directly).

>>> redact_session_ids('"GET /cart?page=2&sid=AbC.dEf HTTP/1.1" 200 17')
'"GET /cart?page=2&sid=<redacted> HTTP/1.1" 200 17'
"""

from __future__ import annotations

import logging
import re
from urllib.parse import unquote

__all__ = ["REDACTED", "RedactSessionIds", "redact_session_ids"]

#: What a session id is replaced by.
REDACTED = "<redacted>"

# A name=value pair that starts a query string (after "?", at the start of the
# text or of a word, as in a bare QUERY_STRING) or follows "&" or ";". The
# value ends where a query value ends in a log line.
_PAIR_RE = re.compile(r"(?:^|(?<=[?&;\s\"'(\[]))([^=&?#;\s\"'<>]+)=([^&#;\s\"'<>]*)")


def redact_session_ids(text: str, param: str = "sid") -> str:
    """``text`` with the value of every ``param=`` query pair masked.

    The name is matched as the middleware reads it, percent-decoded, so an
    id sent as ``s%69d=...`` is masked too; other pairs are left as written.

    >>> redact_session_ids("sid=AbC.dEf&q=wsgi")
    'sid=<redacted>&q=wsgi'
    >>> redact_session_ids("/x?s%69d=AbC.dEf", "sid")
    '/x?s%69d=<redacted>'
    >>> redact_session_ids("/x?token=1&sidebar=2", "sid")
    '/x?token=1&sidebar=2'
    """
    if "=" not in text:
        return text

    def replace(match: re.Match[str]) -> str:
        name = match[1]
        if name == param or ("%" in name and unquote(name, "latin-1") == param):
            return f"{name}={REDACTED}"
        return match[0]

    return _PAIR_RE.sub(replace, text)


class RedactSessionIds(logging.Filter):
    """A logging filter that masks session ids in each record's message.

    ``param`` is the middleware's :setting:`url_param`. The record's message
    is formatted and, when it held an id, replaced by its redacted text (the
    record then has no ``args``). Attach it to the handlers of the loggers
    that write URLs, e.g. in a :func:`logging.config.dictConfig` mapping:
    ``{"()": "wsgi_session.redact.RedactSessionIds", "param": "sid"}``.

    >>> record = logging.LogRecord(
    ...     "access", logging.INFO, __file__, 1, '"%s" %s', ("GET /?sid=x.y", 200), None
    ... )
    >>> RedactSessionIds().filter(record), record.getMessage()
    (True, '"GET /?sid=<redacted>" 200')
    """

    def __init__(self, param: str = "sid", name: str = "") -> None:
        super().__init__(name)
        self.param = param

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact the message of ``record``; never drop the record."""
        message = record.getMessage()
        redacted = redact_session_ids(message, self.param)
        if redacted != message:
            record.msg = redacted
            record.args = None
        return True
