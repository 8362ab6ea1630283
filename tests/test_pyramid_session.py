"""Pyramid drop-in: ``request.session`` in real Pyramid apps, factory or wrapper.

Each app is built with Pyramid's Configurator and driven through WebTest;
``mode`` runs a test twice: with the session factory alone (it saves from a
response callback) and under the WSGI wrapper (``SessionMiddleware`` in
front; the factory then hands out the environ's session).
"""

from __future__ import annotations

import re
import typing as t
import warnings
from pathlib import Path

import pytest

from wsgi_session import ConfigError, SessionMiddleware

with warnings.catch_warnings():  # WebOb imports cgi, deprecated since Python 3.11
    warnings.simplefilter("ignore", DeprecationWarning)
    from pyramid.authentication import SessionAuthenticationHelper
    from pyramid.config import Configurator
    from pyramid.csrf import (
        LegacySessionCSRFStoragePolicy,
        SessionCSRFStoragePolicy,
        check_csrf_token,
    )
    from pyramid.httpexceptions import HTTPFound
    from pyramid.interfaces import ISession
    from pyramid.response import Response
    from webtest import TestApp
    from zope.interface.verify import verifyObject

from wsgi_session.pyramid import PyramidSession, session_factory

SECRET = "pyramid-test-secret"
Views = t.Dict[str, t.Callable[[t.Any], t.Any]]


def make_app(
    views: Views,
    *,
    mode: str = "factory",
    settings: dict[str, t.Any] | None = None,
    csrf_policy: t.Any = None,
    **options: t.Any,
) -> TestApp:
    """A Pyramid app of ``views`` (path -> view), its session from our drop-in.

    ``mode="factory"``: ``config.include`` with the settings; ``"wrapper"``:
    the same, under a SessionMiddleware with the options (the app's settings
    then have no wsgi_session keys).
    """
    store = options.pop("store", "memory://")
    if mode == "factory":
        settings = {
            "wsgi_session.secret_key": SECRET,
            "wsgi_session.store": store,
            **{f"wsgi_session.{k}": v for k, v in options.items()},
            **(settings or {}),
        }
    with Configurator(settings=settings or {}) as config:
        config.include("wsgi_session.pyramid")
        if csrf_policy is not None:
            config.set_csrf_storage_policy(csrf_policy)
        for path, view in views.items():
            name = path.strip("/") or "root"
            config.add_route(name, path)
            config.add_view(view, route_name=name)
        app = config.make_wsgi_app()
    if mode == "wrapper":
        app = SessionMiddleware(app, secret_key=SECRET, store=store, **options)
    return TestApp(app)


def text(body: str) -> Response:
    return Response(body, content_type="text/plain")


def counter(request: t.Any) -> Response:
    session = request.session
    session["n"] = session.get("n", 0) + 1
    return text(str(session["n"]))


@pytest.fixture(params=["factory", "wrapper"])
def mode(request: pytest.FixtureRequest) -> str:
    """Run the test with the factory alone and under the WSGI wrapper."""
    return str(request.param)


@pytest.fixture(params=["memory", "file", "redis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """One store URL per backend: memory, file, a real Redis."""
    if request.param == "memory":
        return "memory://"
    if request.param == "file":
        return f"file://{tmp_path / 'sessions'}"
    url: str = request.getfixturevalue("redis_url")
    return url


# -- the session -------------------------------------------------------------------


def test_request_session_provides_isession(mode: str) -> None:
    """request.session passes zope's verifyObject(ISession, ...)."""
    seen: list[bool] = []

    def view(request: t.Any) -> Response:
        seen.append(verifyObject(ISession, request.session))
        return text("ok")

    make_app({"/": view}, mode=mode).get("/")
    assert seen == [True]


def test_values_persist_across_requests(mode: str, store: str) -> None:
    """What a view stores comes back on the next request (memory, file, Redis)."""
    app = make_app({"/": counter}, mode=mode, store=store)
    assert [app.get("/").text for _ in range(3)] == ["1", "2", "3"]


def test_new_and_created(mode: str) -> None:
    """new is True only on the first request; created is stable POSIX seconds."""
    seen: list[tuple[bool, float]] = []

    def view(request: t.Any) -> Response:
        session = request.session
        seen.append((session.new, session.created))
        session["x"] = 1
        return text("ok")

    app = make_app({"/": view}, mode=mode)
    app.get("/")
    app.get("/")
    (new1, created1), (new2, created2) = seen
    assert (new1, new2) == (True, False)
    assert isinstance(created1, float) and created1 == created2


def test_both_views_share_one_session() -> None:
    """Under the wrapper, request.session and environ['wsgi_session'] are one."""

    def view(request: t.Any) -> Response:
        request.session["a"] = 1
        ours = request.environ["wsgi_session"]
        ours["b"] = 2
        return text(f"{ours['a']} {request.session['b']}")

    assert make_app({"/": view}, mode="wrapper").get("/").text == "1 2"


def test_invalidate_ends_the_session(mode: str) -> None:
    """invalidate() drops the data and expires the cookie; a new write gets a new id."""

    def logout(request: t.Any) -> Response:
        request.session.invalidate()
        return text("out")

    def again(request: t.Any) -> Response:
        request.session.invalidate()
        request.session["fresh"] = True
        return text(str(sorted(request.session)))

    app = make_app({"/": counter, "/logout": logout, "/again": again}, mode=mode)
    app.get("/")
    old = app.cookies["session"]
    res = app.get("/logout")
    assert "Max-Age=0" in res.headers["Set-Cookie"]
    assert app.get("/").text == "1"
    res = app.get("/again")
    assert res.text == "['fresh']" and app.cookies["session"] != old


def test_changed_forces_a_save(mode: str) -> None:
    """changed() after an in-place change stores it (it is found anyway)."""

    def view(request: t.Any) -> Response:
        items = request.session.setdefault("items", [])
        items.append(len(items))
        request.session.changed()
        return text(str(items))

    app = make_app({"/": view}, mode=mode)
    app.get("/")
    assert app.get("/").text == "[0, 1]"


def test_flash_queues_persist_until_popped(mode: str) -> None:
    """flash() queues messages by name; peek leaves them, pop takes them."""

    def add(request: t.Any) -> Response:
        request.session.flash("saved")
        request.session.flash("saved", allow_duplicate=False)
        request.session.flash("careful", queue="warn")
        return text("ok")

    def peek(request: t.Any) -> Response:
        return text(repr(request.session.peek_flash()))

    def pop(request: t.Any) -> Response:
        session = request.session
        return text(repr((session.pop_flash(), session.pop_flash("warn"))))

    app = make_app({"/add": add, "/peek": peek, "/pop": pop}, mode=mode)
    app.get("/add")
    assert app.get("/peek").text == "['saved']"
    assert app.get("/peek").text == "['saved']"
    assert app.get("/pop").text == "(['saved'], ['careful'])"
    assert app.get("/pop").text == "([], [])"


# -- CSRF ------------------------------------------------------------------------------


def csrf_views() -> Views:
    def form(request: t.Any) -> Response:
        return text(request.session.get_csrf_token())

    def post(request: t.Any) -> Response:
        return text(str(check_csrf_token(request, raises=False)))

    def rotate(request: t.Any) -> Response:
        return text(request.session.new_csrf_token())

    return {"/form": form, "/post": post, "/rotate": rotate}


@pytest.mark.parametrize(
    "policy", [LegacySessionCSRFStoragePolicy, SessionCSRFStoragePolicy]
)
def test_check_csrf_token_with_both_session_policies(mode: str, policy: t.Any) -> None:
    """check_csrf_token accepts the session's token and refuses others."""
    app = make_app(csrf_views(), mode=mode, csrf_policy=policy())
    token = app.get("/form").text
    assert app.get("/form").text == token
    assert app.post("/post", {"csrf_token": token}).text == "True"
    assert app.post("/post", {"csrf_token": "forged"}).text == "False"
    assert app.post("/post", headers={"X-CSRF-Token": token}).text == "True"
    new = app.get("/rotate").text
    assert new != token
    assert app.post("/post", {"csrf_token": token}).text == "False"


def test_require_csrf_refuses_a_post_without_the_token(mode: str) -> None:
    """config.set_default_csrf_options(require_csrf=True) works with our session."""
    with Configurator(
        settings={"wsgi_session.secret_key": SECRET} if mode == "factory" else {}
    ) as config:
        config.include("wsgi_session.pyramid")
        config.set_default_csrf_options(require_csrf=True)
        for path, view in csrf_views().items():
            config.add_route(path, path)
            config.add_view(view, route_name=path)
        wsgi = config.make_wsgi_app()
    app = TestApp(
        SessionMiddleware(wsgi, secret_key=SECRET) if mode != "factory" else wsgi
    )
    token = app.get("/form").text
    app.post("/post", {"x": "1"}, status=400)
    assert app.post("/post", {"csrf_token": token}).text == "True"


# -- login with SessionAuthenticationHelper --------------------------------------------


def test_session_authentication_helper_remembers_and_forgets(mode: str) -> None:
    """Pyramid's SessionAuthenticationHelper keeps the user id in our session."""
    helper = SessionAuthenticationHelper()

    def login(request: t.Any) -> Response:
        helper.remember(request, "ann")
        return text("in")

    def whoami(request: t.Any) -> Response:
        return text(str(helper.authenticated_userid(request)))

    def logout(request: t.Any) -> Response:
        helper.forget(request)
        return text("out")

    app = make_app({"/login": login, "/me": whoami, "/logout": logout}, mode=mode)
    assert app.get("/me").text == "None"
    app.get("/login")
    assert app.get("/me").text == "ann"
    app.get("/logout")
    assert app.get("/me").text == "None"


# -- URL tracking, errors -------------------------------------------------------------


def test_url_tracking_keeps_the_session_in_redirects(mode: str) -> None:
    """tracking=url: the id travels in the Location of a redirect, no cookie."""

    def go(request: t.Any) -> t.Any:
        counter(request)
        return HTTPFound(location="/show")

    app = make_app({"/go": go, "/show": counter}, mode=mode, tracking="url")
    res = app.get("/go")
    assert "Set-Cookie" not in res.headers
    location = res.headers["Location"]
    assert re.search(r"[?&]sid=", location)
    assert app.get(location).text == "2"


def test_url_mode_rewrites_html_links(mode: str) -> None:
    """rewrite_html: in URL mode the page's links carry the id."""

    def page(request: t.Any) -> Response:
        request.session["seen"] = True
        return Response('<a href="/next">next</a>', content_type="text/html")

    app = make_app({"/": page}, mode=mode, tracking="url", rewrite_html=True)
    assert re.search(r'href="/next\?sid=[^"]+"', app.get("/").text)


@pytest.mark.parametrize("mode", ["factory", "wrapper"])
def test_untouched_pages_keep_the_url_id(mode: str) -> None:
    """A page that never uses request.session still gets the id in its links."""

    def start(request: t.Any) -> Response:
        request.session["n"] = 1
        return Response('<a href="/plain">on</a>', content_type="text/html")

    def plain(request: t.Any) -> Response:
        return Response('<a href="/back">back</a>', content_type="text/html")

    app = make_app(
        {"/": start, "/plain": plain}, mode=mode, tracking="url", rewrite_html=True
    )
    link = re.search(r'href="([^"]+)"', app.get("/").text).group(1)  # type: ignore[union-attr]
    assert "sid=" in link
    assert re.search(r'href="/back\?sid=[^"]+"', app.get(link).text)


def test_untouched_pages_get_the_probe_cookie_in_auto_mode(mode: str) -> None:
    """tracking=auto: the probe cookie goes out even if no view uses the session."""

    def plain(request: t.Any) -> Response:
        return text("plain")

    res = make_app({"/": plain}, mode=mode, tracking="auto").get("/")
    assert "session_probe=1" in res.headers.get("Set-Cookie", "")


@pytest.mark.parametrize(
    "cookie", ["", "%%%", "\u20ac", "x" * 5000, "A" * 43 + ".sig", "a=b; c"]
)
def test_bad_cookies_get_a_fresh_session(mode: str, cookie: str) -> None:
    """Malformed or forged session cookies never produce an error."""
    app = make_app({"/": counter}, mode=mode)
    assert app.get("/", headers={"Cookie": f"session={cookie}"}).text == "1"


def test_store_outage_is_a_503(mode: str) -> None:
    """An unreachable store answers 503, not a traceback."""
    app = make_app(
        {"/": counter}, mode=mode, store="redis://127.0.0.1:9/0?socket_timeout=0.2"
    )
    res = app.get("/", status=503)
    assert "temporarily unavailable" in res.text


def test_typo_in_settings_is_a_config_error_naming_it() -> None:
    """An unknown wsgi_session.* setting fails config.include with the closest name."""
    settings = {"wsgi_session.secret_key": SECRET, "wsgi_session.idle_timout": "8h"}
    with (
        pytest.raises(ConfigError, match="idle_timeout"),
        Configurator(settings=settings) as config,
    ):
        config.include("wsgi_session.pyramid")


def test_without_wrapper_and_secret_the_session_says_what_is_missing() -> None:
    """No wsgi_session keys and no wrapper: using the session is a ConfigError."""

    def view(request: t.Any) -> Response:
        try:
            request.session.get("x")
        except ConfigError as exc:
            return text(str(exc))
        return text("no error")

    res = make_app({"/": view}, mode="none").get("/")
    assert "secret_key" in res.text and "filter" in res.text


def test_session_factory_in_code() -> None:
    """session_factory(**options) builds the factory for config.set_session_factory."""
    with Configurator() as config:
        config.set_session_factory(session_factory(secret_key=SECRET))
        config.add_route("root", "/")
        config.add_view(counter, route_name="root")
        app = TestApp(config.make_wsgi_app())
    assert [app.get("/").text for _ in range(2)] == ["1", "2"]
    with pytest.raises(ConfigError, match="tracking"):
        session_factory(secret_key=SECRET, tracking="sometimes")
    assert PyramidSession.__name__ == "PyramidSession"
