"""The world the hostile-input properties run in, and the checks they share.

:class:`World` wraps one legacy app in three middlewares (tracking ``auto``,
``url`` and ``cookie``) over one shared memory store, issues a few real
sessions (cookie and URL tracked, some then destroyed or regenerated away)
and builds a pool of id candidates from them: genuine, dead, tampered, bare,
signed with a retired key, signed with the right key but never issued.

:meth:`World.check` verifies what must hold for EVERY input: no 5xx, no
traceback, and no id adopted that the server did not issue (events recorded
with a ``SessionEvents`` subclass). :data:`STATS` counts cases per property,
server errors and foreign adoptions for ``tests/hostile_run.py``.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import io
import json
import re
import sys
import typing as t
import warnings
from html.parser import HTMLParser
from urllib.parse import parse_qsl, unquote, unquote_plus

from werkzeug.test import EnvironBuilder

from wsgi_session import (
    RejectReason,
    SessionEvents,
    SessionMiddleware,
    get_session,
    hidden_input,
    open_store,
    rewrite_url,
)
from wsgi_session.signing import IdSigner, new_session_id

__all__ = ["STATS", "TokenPlaces", "World", "browser_origin", "counting_unclosed_files"]

SECRET = "hostile-input-secret"
RETIRED = "hostile-input-retired-secret"
BOUND_UA = "Mozilla/5.0 (HostileTest) Bound/1.0"
OTHER_UA = "curl/8.0"
PARAM = "sid"

#: Figures of the run: cases per property, server errors, foreign adoptions.
STATS: dict[str, t.Any] = {
    "cases": collections.Counter(),
    "server_errors": 0,
    "tracebacks": 0,
    "foreign_adoptions": 0,
    "unclosed_files": 0,
    "resumed": 0,
    "rejected": 0,
    "created": 0,
    "html_rewritten": 0,
}


@contextlib.contextmanager
def counting_unclosed_files() -> t.Iterator[None]:
    """Count (in STATS) files left open and collected inside the block.

    A ResourceWarning raised in a finalizer cannot fail the request; it is
    counted for ``tests/hostile_run.py`` and asserted by a named test in
    ``test_adversarial.py``. Other unraisable errors go to the usual hook.
    """
    previous = sys.unraisablehook

    def hook(unraisable: t.Any) -> None:
        if isinstance(unraisable.exc_value, ResourceWarning):
            STATS["unclosed_files"] += 1
        else:
            previous(unraisable)

    sys.unraisablehook = hook
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", ResourceWarning)
            yield
    finally:
        sys.unraisablehook = previous


class EventLog(SessionEvents):
    """Records the ids each request created, resumed and rejected."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.created_ids: list[str] = []
        self.resumed_ids: list[str] = []
        self.rejections: list[RejectReason] = []

    def created(self, session: t.Any, environ: t.Any) -> None:
        self.created_ids.append(session.id)

    def resumed(self, session: t.Any, environ: t.Any) -> None:
        self.resumed_ids.append(session.id)

    def rejected(self, environ: t.Any, reason: RejectReason) -> None:
        self.rejections.append(reason)


def _read_length(environ: dict[str, t.Any]) -> int:
    value = str(environ.get("CONTENT_LENGTH") or "")
    return int(value) if re.fullmatch(r"[0-9]{1,9}", value) else 0


def hostile_app(environ: dict[str, t.Any], start_response: t.Callable[..., t.Any]):
    """The legacy app under attack; ``hostile.*`` environ keys drive it."""
    body = b""
    if environ.get("REQUEST_METHOD") == "POST":
        body = environ["wsgi.input"].read(_read_length(environ))
    s = get_session(environ)
    if environ.get("hostile.destroy"):
        s.destroy()
    s.get("user")
    if environ.get("hostile.write"):
        s["hits"] = s.get("hits", 0) + 1
    if environ.get("hostile.regenerate"):
        s.regenerate()
    session_id = s.id
    headers = [
        ("X-Hostile-Session", session_id or ""),
        ("X-Hostile-Tracking", s.tracking),
    ]
    html = environ.get("hostile.html")
    if html is not None:
        ctype = environ.get("hostile.ctype", "text/html; charset=utf-8")
        headers += [("Content-Type", ctype), ("Content-Length", str(len(html)))]
        start_response("200 OK", headers)
        return [html]
    url = environ.get("hostile.url", "/next?x=1")
    report = {
        "id": session_id,
        "tracking": s.tracking,
        "query": environ.get("QUERY_STRING", ""),
        "body": body.decode("latin-1"),
        "url": url,
        "rewritten": rewrite_url(environ, url),
        "input": str(hidden_input(environ)),
    }
    start_response("200 OK", [*headers, ("Content-Type", "application/json")])
    return [json.dumps(report).encode()]


@dataclasses.dataclass
class Outcome:
    """What the server would have sent, plus the events of the request."""

    status: str
    headers: list[tuple[str, str]]
    body: bytes
    created: list[str]
    resumed: list[str]
    rejections: list[RejectReason]
    user_agent: str
    error: BaseException | None = None

    @property
    def code(self) -> int:
        return int(self.status[:3]) if self.status[:3].isdigit() else 500

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    def report(self) -> dict[str, t.Any]:
        return t.cast(t.Dict[str, t.Any], json.loads(self.body))


class World:
    """Three middlewares over one store, real sessions, and a pool of ids."""

    def __init__(self) -> None:
        self.events = EventLog()
        self.store = open_store("memory://?threshold=10000000")
        self.signer = IdSigner([SECRET])
        self.apps = {
            mode: SessionMiddleware(
                hostile_app,
                secret_key=SECRET,
                store=self.store,
                tracking=mode,
                rewrite_html=True,
                events=self.events,
            )
            for mode in ("auto", "url", "cookie")
        }
        #: Ids issued by the server and still alive (resuming them is fine).
        self.alive: set[str] = set()
        self.issued: set[str] = set()
        #: The User-Agent each session whose id went into URLs was created with
        #: (cookie-mode sessions: see the named fixation test in
        #: test_adversarial.py).
        self.agents: dict[str, str] = {}
        cookie = self._issue(cookies=True)
        bound = self._issue(ua=BOUND_UA)
        other = self._issue(ua=OTHER_UA)
        destroyed = self._issue(ua=BOUND_UA)
        self._run(
            "auto",
            self.environ(
                query=f"{PARAM}={destroyed}",
                ua=BOUND_UA,
                extra={"hostile.destroy": True},
            ),
        )
        regenerated = self._issue(ua=BOUND_UA)
        self._run(
            "auto",
            self.environ(
                query=f"{PARAM}={regenerated}",
                ua=BOUND_UA,
                extra={"hostile.regenerate": True},
            ),
        )
        for sid in (self.signer.unsign(destroyed), self.signer.unsign(regenerated)):
            self.alive.discard(t.cast(str, sid))
        self.events.reset()
        self.cookie_token, self.bound_token, self.other_token = cookie, bound, other
        live = [cookie, bound, other]
        dead = [destroyed, regenerated]
        retired = IdSigner([RETIRED])
        forged = [
            retired.sign(self._sid(cookie)),
            retired.sign(self._sid(bound)),
            self.signer.sign(new_session_id()),  # well signed, never issued
            IdSigner(["wrong"]).sign(self._sid(bound)),
            self._sid(cookie),
            self._sid(bound) + ".",
            ".",
            "",
        ]
        #: Candidate id values for the strategies (live ones included).
        self.pool = live + dead + forged
        #: Candidates that must never be written into an HTML page by the app.
        self.stale_pool = dead + forged + [other]

    def _sid(self, token: str) -> str:
        sid = self.signer.unsign(token)
        assert sid is not None
        return sid

    def _issue(self, *, cookies: bool = False, ua: str = BOUND_UA) -> str:
        """Create a session through the auto middleware; return its signed id."""
        extra = {"hostile.write": True, "hostile.url": "/x"}
        if cookies:
            env = self.environ(cookie="session_probe=1", ua=ua, extra=extra)
            out = self._run("auto", env)
            (header,) = [
                v
                for k, v in out.headers
                if k == "Set-Cookie" and v.startswith("session=")
            ]
            token = header.split(";")[0].partition("=")[2]
        else:
            out = self._run("auto", self.environ(ua=ua, extra=extra))
            token = dict(parse_qsl(out.report()["rewritten"].partition("?")[2]))[PARAM]
        sid = self._sid(token)
        self.alive.add(sid)
        self.issued.add(sid)
        if not cookies:
            self.agents[sid] = ua
        return token

    # -- requests -------------------------------------------------------------

    def environ(
        self,
        *,
        method: str = "GET",
        query: str = "",
        cookie: str | None = None,
        ua: str | None = BOUND_UA,
        host: str | None = None,
        body: bytes | None = None,
        content_type: str | None = None,
        content_length: str | None = None,
        extra: t.Mapping[str, t.Any] | None = None,
    ) -> dict[str, t.Any]:
        """A WSGI environ with raw, unvalidated header values."""
        env = EnvironBuilder(path="/", method=method).get_environ()
        env["QUERY_STRING"] = query
        for key, value in (
            ("HTTP_COOKIE", cookie),
            ("HTTP_USER_AGENT", ua),
            ("HTTP_HOST", host),
            ("CONTENT_TYPE", content_type),
            ("CONTENT_LENGTH", content_length),
        ):
            if value is None:
                env.pop(key, None)
            else:
                env[key] = value
        env["wsgi.input"] = io.BytesIO(body or b"")
        env.update(extra or {})
        return env

    def _run(self, mode: str, environ: dict[str, t.Any]) -> Outcome:
        self.events.reset()
        captured: dict[str, t.Any] = {"status": "500 NOT STARTED", "headers": []}

        def start_response(status, headers, exc_info=None):  # type: ignore[no-untyped-def]
            captured["status"], captured["headers"] = status, list(headers)
            return lambda data: None

        error = None
        body = b""
        try:
            app_iter = self.apps[mode](environ, start_response)
            try:
                body = b"".join(app_iter)
            finally:
                close = getattr(app_iter, "close", None)
                if close is not None:
                    close()
        except Exception as exc:  # a server would answer 500
            error = exc
            captured["status"] = "500 Internal Server Error"
        return Outcome(
            captured["status"],
            captured["headers"],
            body,
            list(self.events.created_ids),
            list(self.events.resumed_ids),
            list(self.events.rejections),
            str(environ.get("HTTP_USER_AGENT") or ""),
            error,
        )

    def run(self, prop: str, mode: str, environ: dict[str, t.Any]) -> Outcome:
        """One hostile request, counted under ``prop``."""
        STATS["cases"][prop] += 1
        return self._run(mode, environ)

    # -- the checks every input must pass ----------------------------------

    def check(self, outcome: Outcome, presented: str) -> None:
        """No 5xx, no traceback, no id adopted or handed out that we did not issue.

        ``presented`` is everything the request carried (cookie, query, body).
        A session whose id went into URLs must also come back with the
        User-Agent it was created with, whichever way its id returns.
        """
        if outcome.code >= 500 or outcome.error is not None:
            STATS["server_errors"] += 1
            raise AssertionError(
                f"server error {outcome.status}: {outcome.error!r}"
            ) from outcome.error
        if b"Traceback" in outcome.body:
            STATS["tracebacks"] += 1
            raise AssertionError("traceback in the response body")
        decoded = presented + "\n" + _unquote_all(presented)
        foreign = [
            sid
            for sid in outcome.resumed
            if sid not in self.alive or self.signer.sign(sid) not in decoded
        ]
        foreign += [
            f"{sid} (URL id bound to another User-Agent)"
            for sid in outcome.resumed
            if sid in self.agents and self.agents[sid] != outcome.user_agent
        ]
        clash = [sid for sid in outcome.created if sid in self.issued or sid in decoded]
        ours = set(outcome.resumed) | set(outcome.created)
        handed = [sid for sid in self._ids_handed_out(outcome) if sid not in ours]
        if foreign or clash or handed:
            STATS["foreign_adoptions"] += 1
            raise AssertionError(
                f"foreign id adopted: resumed={foreign} created={clash} sent={handed}"
            )
        STATS["resumed"] += len(outcome.resumed)
        STATS["rejected"] += len(outcome.rejections)
        STATS["created"] += len(outcome.created)
        self.alive.update(outcome.created)
        self.issued.update(outcome.created)
        if outcome.header("X-Hostile-Tracking") != "cookie":
            for sid in outcome.created:
                self.agents[sid] = outcome.user_agent

    def _ids_handed_out(self, outcome: Outcome) -> list[str]:
        """Ids the response gives the client: cookie, header, Location, new links."""
        found = []
        for key, value in outcome.headers:
            if key == "Set-Cookie" and value.startswith("session="):
                token = value.split(";")[0].partition("=")[2]
                if token:
                    found.append(self.signer.unsign(token) or f"<unsigned {token}>")
            if key == "X-Hostile-Session" and value:
                found.append(value)
        added = _tokens(outcome.header("Location") or "")
        if (outcome.header("Content-Type") or "").startswith("application/json"):
            report = outcome.report()
            added += _tokens(report["input"])
            before = _tokens(report["url"])
            added += [tok for tok in _tokens(report["rewritten"]) if tok not in before]
        for token in added:
            found.append(self.signer.unsign(token) or f"<unsigned {token}>")
        return found


_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{43}")


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


def _unquote_all(text: str) -> str:
    try:
        return unquote_plus(text, encoding="latin-1") + "\n" + unquote(text)
    except Exception:  # pragma: no cover - unquote never raises on str
        return ""


# ----------------------------------------------------- where URLs really go

Origin = t.Tuple[str, str, int]
_C0_SPACE = "".join(map(chr, range(0x21)))
_DEFAULT = {"http": 80, "https": 443}


def _authority(rest: str) -> tuple[str, int | None] | None:
    """Host and port of ``rest`` (after the slashes), the WHATWG way, roughly."""
    end = re.search(r"[/\\?#]", rest)
    authority = rest[: end.start()] if end else rest
    authority = authority.rpartition("@")[2]
    if authority.startswith("["):
        host, _, port_text = authority[1:].partition("]")
        port_text = port_text[1:] if port_text.startswith(":") else port_text
    else:
        host, _, port_text = authority.partition(":")
    if port_text and not port_text.isdigit():
        return None
    return host.lower(), (int(port_text) if port_text else None)


def browser_origin(url: str, base: Origin | None) -> Origin | None:
    """The origin a browser on ``base`` would send ``url`` to (None: not http/s).

    An independent, deliberately simple reading of the WHATWG URL rules, used
    to judge the library: a URL that gets the session id must resolve here to
    the request's own origin.
    """
    url = url.strip(_C0_SPACE)
    url = re.sub("[\t\n\r]", "", url)
    if re.search("[\x00-\x1f\x7f]", url):
        return None
    match = re.match(r"[A-Za-z][A-Za-z0-9+.-]*:", url)
    if match:
        scheme = match.group()[:-1].lower()
        rest = url[match.end() :]
        if scheme not in _DEFAULT:
            return None
        if base is not None and scheme == base[0] and rest[:1] not in ("/", "\\"):
            return base  # "http:path" is relative to an http base
    elif url[:1] in ("/", "\\") and url[1:2] in ("/", "\\"):
        if base is None:
            return None
        scheme, rest = base[0], url
    else:
        return base  # relative
    parsed = _authority(rest.lstrip("/\\"))
    if parsed is None or not parsed[0]:
        return None
    host, port = parsed
    return scheme, host, port if port is not None else _DEFAULT[scheme]


#: Characters Python's ``\\s`` matches but HTML does not treat as spaces:
#: controls become another control, the rest an ordinary character.
_NOT_HTML_SPACE = {
    code: ("\x01" if code < 0x20 else "~")
    for code in range(0x110000)
    if chr(code).isspace() and chr(code) not in " \t\n\r\f"
}


class TokenPlaces(HTMLParser):
    """Finds where a token occurs in an HTML document and whether that is allowed.

    Allowed: the URL attribute of a, area, form, frame, iframe when the URL
    goes to ``origin`` (resolved against a ``<base href>``), and the hidden
    input right after the start tag of a form that submits to ``origin``.
    """

    #: Elements whose content browsers read as text, not markup.
    CDATA_CONTENT_ELEMENTS = (
        "script",
        "style",
        "textarea",
        "title",
        "xmp",
        "iframe",
        "noembed",
        "noframes",
        "plaintext",
    )
    URL_ATTRIBUTES: t.ClassVar[dict[str, str]] = {
        "a": "href",
        "area": "href",
        "form": "action",
        "frame": "src",
        "iframe": "src",
    }

    def __init__(self, token: str, origin: Origin, hidden: str) -> None:
        super().__init__(convert_charrefs=True)
        self.token = token
        self.origin = origin
        self.hidden = hidden
        self.base: Origin | None = origin
        self.base_seen = False
        self.last_form_ok: bool | None = None
        self.leaks: list[str] = []
        self.allowed = 0

    def _resolve(self, url: str) -> Origin | None:
        return browser_origin(url, self.base)

    def feed(self, data: str) -> None:
        """Parse ``data``; Python's parser splits unquoted attribute values at
        any Unicode space, browsers only at ASCII ones: neutralize the others."""
        super().feed(data.translate(_NOT_HTML_SPACE))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        form_ok, self.last_form_ok = self.last_form_ok, None
        values: dict[str, str | None] = {}
        for name, value in attrs:
            values.setdefault(name, value)  # browsers use the first of duplicates
        if tag == "base" and not self.base_seen and values.get("href") is not None:
            self.base_seen = True
            self.base = self._resolve(t.cast(str, values["href"]))
        if tag == "input" and self.token in (values.get("value") or ""):
            if form_ok and self.get_starttag_text() == self.hidden:
                self.allowed += 1
                return
            self.leaks.append(f"hidden input {self.get_starttag_text()!r}")
            return
        wanted = self.URL_ATTRIBUTES.get(tag)
        first: dict[str, int] = {}
        for index, (name, _) in enumerate(attrs):
            first.setdefault(name, index)
        for index, (name, value) in enumerate(attrs):
            if value is None or self.token not in value:
                continue
            if (
                name == wanted
                and first[name] == index
                and self._resolve(value) == self.origin
            ):
                self.allowed += 1
                continue
            self.leaks.append(f"<{tag} {name}={value!r}>")
        if tag == "form":
            action = attrs[first["action"]][1] if "action" in first else None
            if action is None or not action.strip(_C0_SPACE):
                self.last_form_ok = True
            else:
                self.last_form_ok = self._resolve(action) == self.origin

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def _text(self, kind: str, data: str) -> None:
        if self.token in data:
            self.leaks.append(f"{kind} {data[:80]!r}")

    def handle_data(self, data: str) -> None:
        self._text("text", data)

    def handle_comment(self, data: str) -> None:
        self._text("comment", data)

    def handle_decl(self, decl: str) -> None:
        self._text("declaration", decl)

    def unknown_decl(self, data: str) -> None:
        self._text("declaration", data)

    def handle_pi(self, data: str) -> None:
        self._text("processing instruction", data)
