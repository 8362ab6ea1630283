"""wsgi_session.flask: a tutorial-style Flask app tested with Flask's test client."""

from __future__ import annotations

import datetime as dt
import functools
import hmac
import importlib.util
import re
import subprocess
import sys
import typing as t
import uuid
from pathlib import Path
from urllib.parse import parse_qs, urlsplit
from urllib.request import urlopen

import pytest

flask = pytest.importorskip("flask")

from flask import (  # noqa: E402
    Blueprint,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from itsdangerous import BadSignature  # noqa: E402
from jinja2 import DictLoader  # noqa: E402
from markupsafe import Markup  # noqa: E402

import wsgi_session.flask as ws_flask  # noqa: E402
from wsgi_session import ConfigError, Session  # noqa: E402
from wsgi_session.flask import FlaskSession, WSGISession  # noqa: E402
from wsgi_session.signing import IdSigner  # noqa: E402
from wsgi_session.stores import CountingBackend  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent

# -- the app, written the way Flask's tutorial writes apps ----------------------

USERS = {"ann": {"id": 1, "password": "ann-pw"}, "bob": {"id": 2, "password": "bob-pw"}}
USERS_BY_ID = {user["id"]: name for name, user in USERS.items()}

TEMPLATES = {
    "base.html": """<!doctype html>
<title>{% block title %}{% endblock %} - Flaskr</title>
<nav>
  {% if g.user %}
    <span>{{ g.user }}</span>
    <a href="{{ url_for('auth.logout')|rewrite_url }}">Log Out</a>
  {% else %}
    <a href="{{ rewrite_url(url_for('auth.login')) }}">Log In</a>
  {% endif %}
</nav>
{% for message in get_flashed_messages() %}
  <div class="flash">{{ message }}</div>
{% endfor %}
{% block content %}{% endblock %}
""",
    "auth/login.html": """{% extends "base.html" %}
{% block title %}Log In{% endblock %}
{% block content %}
  <form method="post" action="{{ url_for('auth.login')|rewrite_url }}">
    {{ session_input() }}
    <input name="username"> <input type="password" name="password">
  </form>
{% endblock %}
""",
    "blog/index.html": """{% extends "base.html" %}
{% block title %}Posts{% endblock %}
{% block content %}
  <a class="action" href="{{ rewrite_url(url_for('blog.create')) }}">New</a>
  <form method="get" action="{{ url_for('blog.index') }}">{{ session_input() }}</form>
{% endblock %}
""",
}

auth = Blueprint("auth", __name__, url_prefix="/auth")
blog = Blueprint("blog", __name__)


@auth.before_app_request
def load_logged_in_user() -> None:
    user_id = session.get("user_id")
    g.user = USERS_BY_ID.get(user_id) if user_id is not None else None


def login_required(view: t.Callable[..., t.Any]) -> t.Callable[..., t.Any]:
    @functools.wraps(view)
    def wrapped_view(**kwargs: t.Any) -> t.Any:
        if g.user is None:
            return redirect(url_for("auth.login"))
        return view(**kwargs)

    return wrapped_view


@auth.route("/login", methods=("GET", "POST"))
def login() -> t.Any:
    if request.method == "POST":
        username = request.form["username"]
        password = request.form["password"]
        user = USERS.get(username)
        error = None
        if user is None:
            error = "Incorrect username."
        elif not hmac.compare_digest(str(user["password"]), password):
            error = "Incorrect password."
        if error is None:
            session.clear()
            session.regenerate()  # wsgi_session: a new id at login (fixation)
            session["user_id"] = user["id"]  # type: ignore[index]
            flash(f"Welcome, {username}!")
            return redirect(url_for("index"))
        flash(error)
    return render_template("auth/login.html")


@auth.route("/logout")
def logout() -> t.Any:
    session.clear()
    return redirect(url_for("index"))


@blog.route("/")
def index() -> str:
    return render_template("blog/index.html")


@blog.route("/create")
@login_required
def create() -> str:
    return "create a post"


def create_app(
    test_config: dict[str, t.Any] | None = None, **session_options: t.Any
) -> flask.Flask:
    """The tutorial's app factory, with WSGISession replacing flask.session."""
    app = flask.Flask(__name__)
    app.config.from_mapping(SECRET_KEY="dev", TESTING=True)
    if test_config is not None:
        app.config.update(test_config)
    app.jinja_loader = DictLoader(TEMPLATES)
    session_options.setdefault("replace_flask_session", True)
    WSGISession(**session_options).init_app(app)
    app.register_blueprint(auth)
    app.register_blueprint(blog)
    app.add_url_rule("/", endpoint="index")
    return app


def log_in(client: t.Any, username: str = "ann", password: str = "ann-pw") -> t.Any:
    return client.post("/auth/login", data={"username": username, "password": password})


def cookie_value(client: t.Any, name: str = "session") -> str | None:
    cookie = client.get_cookie(name)
    return None if cookie is None else t.cast(str, cookie.value)


# -- the tutorial flows ---------------------------------------------------------


def test_login_stores_user_id_and_logout_clears_the_session():
    """Logging in remembers the user; logging out empties and expires the session."""
    client = create_app().test_client()
    assert "Log In" in client.get("/").text
    response = log_in(client)
    assert response.status_code == 302 and response.headers["Location"] == "/"
    page = client.get("/").text
    assert "<span>ann</span>" in page and "Welcome, ann!" in page
    response = client.get("/auth/logout")
    assert any(
        c.startswith("session=;") and "Max-Age=0" in c
        for c in response.headers.getlist("Set-Cookie")
    )
    assert cookie_value(client) is None
    assert "Log In" in client.get("/").text


def test_failed_login_flashes_the_error_once():
    """A wrong password flashes an error shown on the page, and only once."""
    client = create_app().test_client()
    assert "Incorrect password." in log_in(client, password="nope").text
    assert "Incorrect password." not in client.get("/auth/login").text
    assert "Incorrect username." in log_in(client, username="eve").text


def test_flash_survives_the_redirect_and_is_shown_once():
    """The welcome message flashed before a redirect shows on the next page only."""
    client = create_app().test_client()
    log_in(client)
    assert "Welcome, ann!" in client.get("/").text
    assert "Welcome, ann!" not in client.get("/").text


def test_login_required_redirects_anonymous_users():
    """A protected view sends anonymous users to the login page."""
    client = create_app().test_client()
    assert client.get("/create").headers["Location"] == "/auth/login"
    log_in(client)
    assert client.get("/create").text == "create a post"


def test_cookie_holds_a_signed_id_not_the_data():
    """In replace mode Flask's cookie carries only <id>.<signature>."""
    app = create_app()
    client = app.test_client()
    log_in(client)
    value = cookie_value(client)
    assert value is not None and re.fullmatch(r"[\w-]{43}\.[\w-]+", value)
    flask_data = flask.sessions.SecureCookieSessionInterface().get_signing_serializer(
        app
    )
    with pytest.raises(BadSignature):  # not Flask's signed session data
        flask_data.loads(value)


def test_login_regenerates_the_session_id():
    """An id planted before login does not become the logged-in session."""
    app = create_app()
    attacker = app.test_client()
    # The same User-Agent as the victim's: the planted id survives the binding
    # check, so this tests regenerate() itself.
    agent = app.test_client().environ_base["HTTP_USER_AGENT"]
    with attacker.session_transaction(headers={"User-Agent": agent}) as planted:
        planted["lang"] = "fr"
    fixed = cookie_value(attacker)
    victim = app.test_client()
    victim.set_cookie("session", fixed)
    log_in(victim)
    assert cookie_value(victim) not in (None, fixed)
    assert "<span>ann</span>" in victim.get("/").text
    assert "<span>ann</span>" not in attacker.get("/").text
    with app.test_request_context(headers={"Cookie": f"session={fixed}"}):
        assert "lang" not in session  # the planted id was deleted from the store


def test_session_transaction_reads_and_writes_the_server_side_session():
    """client.session_transaction() opens and saves the server-side session."""
    client = create_app().test_client()
    with client.session_transaction() as sess:
        assert isinstance(sess, FlaskSession)
        sess["user_id"] = 2
    assert "<span>bob</span>" in client.get("/").text
    with client.session_transaction() as sess:
        assert sess["user_id"] == 2 and not sess.new


def test_test_request_context_loads_the_session_from_the_cookie():
    """Inside test_request_context() flask.session is ours and reads the store."""
    app = create_app()
    client = app.test_client()
    log_in(client)
    cookie = f"session={cookie_value(client)}"
    agent = app.test_client().environ_base["HTTP_USER_AGENT"]
    # the same browser (User-Agent): the id was in a redirect URL at login
    with app.test_request_context(headers={"Cookie": cookie, "User-Agent": agent}):
        assert isinstance(session._get_current_object(), FlaskSession)
        assert session["user_id"] == 1 and ws_flask.session["user_id"] == 1
    with app.test_request_context():
        assert session.get("user_id") is None and session.new


def test_special_types_round_trip_through_the_store():
    """Tuples, Markup, bytes, UUIDs and datetimes come back from the store as such."""
    app = create_app()
    values = {
        "t": (1, 2),
        "m": Markup("<em>hi</em>"),
        "b": b"\xff",
        "u": uuid.uuid4(),
        "d": dt.datetime(2024, 5, 1, 12, tzinfo=dt.timezone.utc),
    }

    @app.route("/put")
    def put() -> str:
        session.update(values)
        return ""

    @app.route("/check")
    def check() -> str:
        assert not session.new
        return "ok" if {k: session[k] for k in values} == values else "changed"

    client = app.test_client()
    client.get("/put")
    assert client.get("/check").text == "ok"
    with app.test_request_context(
        headers={"Cookie": f"session={cookie_value(client)}"}
    ):
        assert type(session["m"]) is Markup and type(session["t"]) is tuple


def test_flashes_with_categories_and_markup_round_trip():
    """flash() with categories and Markup messages works through the store."""
    app = create_app()

    @app.route("/flash")
    def do_flash() -> str:
        flash("plain")
        flash(Markup("<b>bold</b>"), "warning")
        return ""

    @app.route("/show")
    def show() -> t.Any:
        return repr(flask.get_flashed_messages(with_categories=True))

    client = app.test_client()
    client.get("/flash")
    expected = [("message", "plain"), ("warning", Markup("<b>bold</b>"))]
    assert client.get("/show").text == repr(expected)
    assert client.get("/show").text == "[]"


def test_sessions_opened_outside_requests_release_their_lock():
    """With concurrency="lock", test contexts do not leave the session locked."""
    app = create_app(concurrency="lock", lock_timeout=1)

    @app.route("/count")
    def count() -> str:
        session["n"] = session.get("n", 0) + 1
        return str(session["n"])

    client = app.test_client()
    client.get("/count")
    with client.session_transaction() as sess:
        sess["n"] = 10
    assert client.get("/count").text == "11"
    with app.test_request_context(
        headers={"Cookie": f"session={cookie_value(client)}"}
    ):
        assert session["n"] == 11
    assert client.get("/count").text == "12"


def test_change_made_while_streaming_is_saved():
    """A change to a stored session made while streaming is saved after the body."""
    app = create_app()

    @app.route("/stream")
    def stream() -> t.Any:
        def generate() -> t.Iterator[str]:
            yield "a"
            session["streamed"] = True
            yield "b"

        return flask.Response(flask.stream_with_context(generate()))

    @app.route("/streamed")
    def streamed() -> str:
        return str(session.get("streamed"))

    client = app.test_client()
    log_in(client)  # the cookie of a session created mid-stream could not be sent
    assert client.get("/stream").text == "ab"
    assert client.get("/streamed").text == "True"


# -- both wrapping styles --------------------------------------------------------


def create_shop(**options: t.Any) -> flask.Flask:
    """A side-by-side app: Flask's cookie session plus the server-side one."""
    app = flask.Flask(__name__)
    app.config.update(SECRET_KEY="dev", TESTING=True)
    WSGISession(app, store="memory://", **options)

    @app.post("/theme/<name>")
    def theme(name: str) -> str:
        session["theme"] = name  # Flask's own session
        return ""

    @app.post("/cart/<item>")
    def add(item: str) -> str:
        ws_flask.session.setdefault("cart", []).append(item)
        return ""

    @app.get("/")
    def show() -> dict[str, t.Any]:
        return {"theme": session.get("theme"), "cart": ws_flask.session.get("cart")}

    return app


def test_side_by_side_sessions_use_two_cookies():
    """Side by side, Flask keeps its cookie and ours is named wsgi_session."""
    app = create_shop()
    client = app.test_client()
    client.post("/theme/dark")
    client.post("/cart/apple")
    client.post("/cart/pear")
    assert client.get("/").json == {"theme": "dark", "cart": ["apple", "pear"]}
    flask_data = flask.sessions.SecureCookieSessionInterface().get_signing_serializer(
        app
    )
    assert flask_data.loads(cookie_value(client)) == {"theme": "dark"}
    ours = cookie_value(client, "wsgi_session")
    assert ours is not None and IdSigner(["dev"]).unsign(ours) is not None
    with pytest.raises(BadSignature):  # Flask's key, but not Flask's salt
        flask_data.loads(ours)


def test_side_by_side_session_is_a_plain_session():
    """Side by side, wsgi_session.flask.session is a Session, not flask.session."""
    app = create_shop()
    with app.test_request_context():
        assert type(ws_flask.session._get_current_object()) is Session
        assert ws_flask.session._get_current_object() is not session


def test_replace_mode_makes_flask_session_the_server_side_session():
    """With replace_flask_session=True the two names are one object."""
    app = create_app()

    @app.route("/same")
    def same() -> str:
        current = session._get_current_object()
        return str(current is ws_flask.session._get_current_object())

    client = app.test_client()
    assert client.get("/same").text == "True"
    assert isinstance(app.session_interface, ws_flask.WSGISessionInterface)


def test_direct_and_factory_construction_are_equivalent():
    """WSGISession(app) and WSGISession().init_app(app) give the same middleware."""
    direct = create_shop()
    factory = flask.Flask(__name__)
    factory.config["SECRET_KEY"] = "dev"
    WSGISession(store="memory://").init_app(factory)
    for app in (direct, factory):
        assert isinstance(app.wsgi_app, ws_flask.FlaskSessionMiddleware)
        assert app.extensions["wsgi_session"] is app.wsgi_app
        assert {"rewrite_url", "session_input"} <= set(app.jinja_env.globals)
        assert "rewrite_url" in app.jinja_env.filters


def test_init_app_twice_is_an_error():
    """Wrapping the same app twice is refused."""
    app = create_shop()
    with pytest.raises(RuntimeError, match="already"):
        WSGISession(app)


# -- configuration ---------------------------------------------------------------


@pytest.mark.parametrize("flask_name", ["session", "myapp_session"])
def test_side_by_side_cookie_name_equal_to_flasks_is_a_config_error(flask_name):
    """A cookie_name equal to Flask's SESSION_COOKIE_NAME is a ConfigError."""
    app = flask.Flask(__name__)
    app.config.update(SECRET_KEY="dev", SESSION_COOKIE_NAME=flask_name)
    with pytest.raises(ConfigError) as caught:
        WSGISession(app, cookie_name=flask_name)
    assert caught.value.key == "cookie_name"


def test_replace_mode_may_share_flasks_cookie_name():
    """In replace mode the cookie name is Flask's, by default and explicitly."""
    app = create_app(cookie_name="session")
    client = app.test_client()
    log_in(client)
    assert cookie_value(client) is not None


def test_missing_secret_key_is_a_config_error_at_init():
    """No SECRET_KEY and no secret_key: ConfigError when the app is wrapped."""
    app = flask.Flask(__name__)
    with pytest.raises(ConfigError) as caught:
        WSGISession(app)
    assert caught.value.key == "secret_key"


def test_explicit_secret_key_works_without_flasks():
    """secret_key= serves sessions even when Flask has no SECRET_KEY."""
    app = flask.Flask(__name__)
    WSGISession(app, secret_key="own key")

    @app.route("/")
    def count() -> str:
        ws_flask.session["n"] = ws_flask.session.get("n", 0) + 1
        return str(ws_flask.session["n"])

    client = app.test_client()
    assert [client.get("/").text for _ in range(2)] == ["1", "2"]
    assert IdSigner(["own key"]).unsign(cookie_value(client, "wsgi_session") or "")


def test_unknown_option_is_a_config_error():
    """An unknown keyword is refused at once, naming it."""
    with pytest.raises(ConfigError) as caught:
        WSGISession(colour="blue")
    assert caught.value.key == "colour"


def test_cookie_name_is_read_per_request():
    """Changing SESSION_COOKIE_NAME after start-up renames the cookie."""
    app = create_app()
    client = app.test_client()
    log_in(client)
    app.config["SESSION_COOKIE_NAME"] = "renamed"
    assert "Log In" in client.get("/").text  # the old cookie is not ours any more
    log_in(client, "bob", "bob-pw")
    assert cookie_value(client, "renamed") is not None
    assert "<span>bob</span>" in client.get("/").text


def test_permanent_lifetime_is_read_per_request():
    """PERMANENT_SESSION_LIFETIME changes the next cookie's Max-Age and the timeout."""
    app = create_app()

    @app.route("/remember")
    def remember() -> str:
        session["user_id"] = 1
        session.permanent = True
        return ""

    @app.route("/timeout")
    def timeout() -> str:
        return str(session.timeout)

    client = app.test_client()
    days31 = 31 * 24 * 3600
    assert f"Max-Age={days31}" in client.get("/remember").headers["Set-Cookie"]
    assert client.get("/timeout").text == str(days31)
    app.config["PERMANENT_SESSION_LIFETIME"] = dt.timedelta(hours=2)
    assert "Max-Age=7200" in client.get("/remember").headers["Set-Cookie"]
    assert client.get("/timeout").text == "7200"


def test_session_that_stops_being_permanent_gets_the_idle_timeout_back():
    """permanent = False restores idle_timeout and a browser-session cookie."""
    app = create_app(idle_timeout=600)

    @app.route("/permanent/<int:on>")
    def permanent(on: int) -> str:
        session["user_id"] = 1
        session.permanent = bool(on)
        return ""

    @app.route("/timeout")
    def timeout() -> str:
        return str(session.timeout)

    client = app.test_client()
    client.get("/permanent/1")
    assert client.get("/timeout").text == str(31 * 24 * 3600)
    response = client.get("/permanent/0")
    assert "Expires" not in response.headers["Set-Cookie"]
    assert client.get("/timeout").text == "600"


def test_cookie_attributes_follow_flask_config_per_request():
    """SESSION_COOKIE_* changed after start-up apply to the next cookie."""
    app = create_app()
    client = app.test_client()
    app.config.update(
        SESSION_COOKIE_PATH="/app",
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_HTTPONLY=False,
    )
    cookie = log_in(client).headers["Set-Cookie"]
    assert "Path=/app" in cookie and "SameSite=Strict" in cookie
    assert "HttpOnly" not in cookie


def test_secure_cookie_by_default_only_on_https():
    """Flask's default SESSION_COOKIE_SECURE=False still marks https cookies Secure."""
    app = create_app()
    plain = log_in(app.test_client()).headers["Set-Cookie"]
    secure = app.test_client().post(
        "/auth/login",
        data={"username": "ann", "password": "ann-pw"},
        base_url="https://localhost",
    )
    assert "Secure" not in plain and "Secure" in secure.headers["Set-Cookie"]


@pytest.mark.parametrize(("refresh", "reads"), [(False, 0), (True, 0)])
def test_untouched_requests_never_load_the_session(refresh, reads):
    """An untouched request never loads the session (a non-permanent session has
    no cookie to refresh; a permanent one is refreshed from its cookie's hint)."""
    app = flask.Flask(__name__)
    app.config.update(SECRET_KEY="dev", SESSION_REFRESH_EACH_REQUEST=refresh)
    WSGISession(app, replace_flask_session=True)

    @app.route("/login")
    def login() -> str:
        session["user_id"] = 1
        return ""

    @app.route("/static-ish")
    def static_ish() -> str:
        return "x"

    client = app.test_client()
    client.get("/login")
    extension = app.extensions["wsgi_session"]
    backend = extension.backend = CountingBackend(extension.backend)
    before = backend.round_trips
    response = client.get("/static-ish")
    assert backend.round_trips - before == reads
    assert "Set-Cookie" not in response.headers and "Vary" not in response.headers


@pytest.mark.parametrize("path", ["/whoami", "/plain"])
def test_cookie_signed_with_an_unknown_key_is_ignored_not_deleted(path):
    """As in Flask, a cookie the current keys cannot verify is left in place."""
    app = flask.Flask(__name__)
    app.config.update(SECRET_KEY="old key")
    WSGISession(app, replace_flask_session=True)

    @app.route("/login")
    def login() -> str:
        session["user_id"] = 1
        return ""

    @app.route("/whoami")
    def whoami() -> str:
        return str(session.get("user_id"))

    @app.route("/plain")
    def plain() -> str:
        return ""

    client = app.test_client()
    client.get("/login")
    app.secret_key = "new key"
    response = client.get(path)
    assert "Set-Cookie" not in response.headers
    assert client.get("/whoami").text == "None"
    app.config["SECRET_KEY_FALLBACKS"] = ["old key"]
    assert client.get("/whoami").text == "1"


def test_without_a_secret_key_at_request_time_flask_session_is_null():
    """SECRET_KEY unset after start-up: flask.session is Flask's null session."""
    app = create_app()
    app.secret_key = None

    @app.route("/write")
    def write() -> str:
        session["x"] = 1
        return ""

    client = app.test_client()
    assert "Log In" in client.get("/").text
    with pytest.raises(RuntimeError, match="session is unavailable"):
        client.get("/write")


def test_proxy_on_an_app_without_wsgisession_explains():
    """wsgi_session.flask.session on an unwrapped app raises a clear error."""
    app = flask.Flask(__name__)
    with app.test_request_context(), pytest.raises(RuntimeError, match="WSGISession"):
        ws_flask.session.get("x")


# -- templates in URL mode ------------------------------------------------------


def sid_in(url: str) -> str | None:
    values = parse_qs(urlsplit(url.replace("&amp;", "&")).query).get("sid")
    return values[0] if values else None


def test_templates_rewrite_links_for_clients_without_cookies():
    """In URL mode rewrite_url and session_input carry the id; the session follows."""
    app = create_app(tracking="url")
    client = app.test_client(use_cookies=False)
    response = log_in(client)
    location = response.headers["Location"]
    sid = sid_in(location)
    assert sid is not None and "Set-Cookie" not in response.headers
    page = client.get(location).text
    assert "<span>ann</span>" in page and "Welcome, ann!" in page
    links = re.findall(r'href="([^"]+)"', page)
    assert links and all(sid_in(link) == sid for link in links)
    assert f'<input type="hidden" name="sid" value="{sid}">' in page
    create = next(link for link in links if link.startswith("/create"))
    assert client.get(create.replace("&amp;", "&")).text == "create a post"
    assert "Log In" in client.get("/").text  # without the id there is no session


def test_templates_leave_links_alone_in_cookie_mode():
    """With cookies, the helpers change nothing in the rendered page."""
    client = create_app(tracking="cookie").test_client()
    log_in(client)
    page = client.get("/").text
    assert "sid=" not in page and 'type="hidden"' not in page


# -- the example -----------------------------------------------------------------


def load_example() -> t.Any:
    spec = importlib.util.spec_from_file_location(
        "flask_app_example", ROOT / "examples" / "flask_app.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("replace", [True, False])
def test_example_app_works_in_both_styles(replace):
    """examples/flask_app.py: log in, add a note, log out, in either style."""
    app = load_example().create_app(replace=replace)
    app.testing = True
    client = app.test_client()
    client.post("/login", data={"username": "ann"})
    client.post("/add", data={"note": "buy milk"})
    page = client.get("/").text
    assert "signed in as ann" in page and "<li>buy milk</li>" in page
    assert (client.get_cookie("wsgi_session") is None) is replace
    client.get("/logout")
    assert "buy milk" not in client.get("/").text


def test_example_app_works_without_cookies():
    """examples/flask_app.py keeps a cookieless client's session through URLs."""
    app = load_example().create_app(replace=True)
    client = app.test_client(use_cookies=False)
    location = client.post("/login", data={"username": "ann"}).headers["Location"]
    page = client.get(location).text
    assert "signed in as ann" in page and "Welcome, ann!" in page
    action = re.search(r'<form method="post" action="([^"]+)"', page)
    assert action is not None and sid_in(action.group(1))


def test_example_script_serves_on_the_given_port():
    """python examples/flask_app.py PORT serves the app on 127.0.0.1."""
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "examples" / "flask_app.py"), "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=ROOT,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+/", line)
        assert url is not None, line
        with urlopen(url.group(), timeout=10) as response:
            assert b"log in" in response.read()
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()
