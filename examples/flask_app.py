"""A small Flask app with server-side sessions, in both wrapping styles.

``create_app(replace=True)``: ``flask.session`` *is* the server-side session,
so an existing app keeps its code; the cookie is Flask's ``session`` and
holds only a signed id.

``create_app(replace=False)``: the two live side by side: ``flask.session``
stays Flask's signed-cookie session (here it carries the flash messages),
and ``wsgi_session.flask.session`` is the server-side one, under the
``wsgi_session`` cookie.

Links go through ``rewrite_url`` and forms carry ``session_input()``, so the
app also works in a browser with cookies disabled (URL tracking, chosen
automatically; flash messages need cookies in the side-by-side style, since
they live in Flask's cookie session there).

Run it with ``python examples/flask_app.py [PORT] [--side-by-side]`` and open
http://127.0.0.1:8000/ . ``FLASK_SECRET_KEY`` sets the secret key and
``WSGI_SESSION_STORE`` the store (default: in memory).
"""

from __future__ import annotations

import argparse
import os
import typing as t

import flask
from jinja2 import DictLoader

import wsgi_session.flask

TEMPLATES = {
    "base.html": """<!doctype html>
<title>{% block title %}{% endblock %} - Notes</title>
<nav>
  <a href="{{ url_for('index')|rewrite_url }}">Notes</a>
  {% if user %}
    signed in as {{ user }}
    <a href="{{ rewrite_url(url_for('logout')) }}">log out</a>
  {% else %}
    <a href="{{ rewrite_url(url_for('login')) }}">log in</a>
  {% endif %}
</nav>
{% for category, message in get_flashed_messages(with_categories=true) %}
  <p class="flash {{ category }}">{{ message }}</p>
{% endfor %}
{% block content %}{% endblock %}
""",
    "index.html": """{% extends "base.html" %}
{% block title %}Notes{% endblock %}
{% block content %}
  <ul>{% for note in notes %}<li>{{ note }}</li>{% endfor %}</ul>
  {% if user %}
    <form method="post" action="{{ url_for('add')|rewrite_url }}">
      {{ session_input() }}
      <input name="note" required> <button>Add</button>
    </form>
  {% endif %}
{% endblock %}
""",
    "login.html": """{% extends "base.html" %}
{% block title %}Log in{% endblock %}
{% block content %}
  <form method="post" action="{{ url_for('login')|rewrite_url }}">
    {{ session_input() }}
    <input name="username" placeholder="your name" required>
    <button>Log in</button>
  </form>
{% endblock %}
""",
}


def create_app(replace: bool = True, **session_options: t.Any) -> flask.Flask:
    """The notes app; ``replace`` chooses the wrapping style.

    ``session_options`` go to :class:`~wsgi_session.flask.WSGISession`.
    """
    app = flask.Flask(__name__)
    app.config["SECRET_KEY"] = os.environ.get(
        "FLASK_SECRET_KEY", "flask-example-secret-change-me"
    )
    app.jinja_loader = DictLoader(TEMPLATES)
    session_options.setdefault("store", os.environ.get("WSGI_SESSION_STORE"))
    wsgi_session.flask.WSGISession(
        app, replace_flask_session=replace, **session_options
    )

    def server_session() -> wsgi_session.Session:
        # In replace mode this is the very object flask.session refers to.
        return wsgi_session.flask.session

    @app.context_processor
    def user() -> dict[str, t.Any]:
        return {"user": server_session().get("user")}

    @app.route("/")
    def index() -> str:
        return flask.render_template(
            "index.html", notes=server_session().get("notes", [])
        )

    @app.post("/add")
    def add() -> flask.Response:
        session = server_session()
        if session.get("user"):
            session.setdefault("notes", []).append(flask.request.form["note"])
            flask.flash("Note added.", "success")
        return flask.redirect(flask.url_for("index"))

    @app.route("/login", methods=["GET", "POST"])
    def login() -> str | flask.Response:
        if flask.request.method == "POST":
            session = server_session()
            session.regenerate()  # a new id at login defeats session fixation
            session["user"] = flask.request.form["username"].strip() or "anonymous"
            flask.flash(f"Welcome, {session['user']}!", "success")
            return flask.redirect(flask.url_for("index"))
        return flask.render_template("login.html")

    @app.route("/logout")
    def logout() -> flask.Response:
        server_session().destroy()
        flask.flash("Signed out.", "info")
        return flask.redirect(flask.url_for("index"))

    return app


def main(argv: list[str] | None = None) -> None:
    """Serve the example on 127.0.0.1 (port from the command line, default 8000)."""
    from werkzeug.serving import make_server

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("port", nargs="?", type=int, default=8000)
    parser.add_argument("--side-by-side", action="store_true")
    args = parser.parse_args(argv)
    app = create_app(replace=not args.side_by_side)
    server = make_server("127.0.0.1", args.port, app)
    style = "side by side" if args.side_by_side else "replacing flask.session"
    print(f"Notes ({style}) on http://127.0.0.1:{server.port}/", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
