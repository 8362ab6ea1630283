"""Flask integration: :class:`WSGISession` puts the middleware under a Flask app.

It wraps ``app.wsgi_app`` in a :class:`~wsgi_session.SessionMiddleware`,
exposes :data:`session` (the current request's server-side session) and
registers the Jinja globals ``rewrite_url(url)`` / ``session_input()`` and the
``|rewrite_url`` filter on ``app.jinja_env``. Two styles:

* **side by side** (default): ``flask.session`` stays Flask's signed-cookie
  session; the server-side one is :data:`session`, under its own cookie
  (``wsgi_session`` by default). Only the secret key comes from Flask.
* **replace** (``replace_flask_session=True``): ``flask.session`` *is* the
  server-side session, and every option left unset follows Flask's
  configuration, read on every request (see :class:`WSGISession`). A
  permanent session's cookie is refreshed on every request, as Flask does,
  without a store round trip: its value carries a permanent hint
  (``<id>.<signature>.p``, see :class:`FlaskRequestContext`).

>>> import flask
>>> app = flask.Flask("doc")
>>> app.secret_key = "change me"
>>> _ = WSGISession(app, replace_flask_session=True)
>>> @app.route("/")
... def index():
...     flask.session["visits"] = flask.session.get("visits", 0) + 1
...     return str(flask.session["visits"])
>>> client = app.test_client()
>>> client.get("/").text, client.get("/").text
('1', '2')
"""

from __future__ import annotations

from .context import FlaskRequestContext as FlaskRequestContext
from .extension import EXTENSION_KEY as EXTENSION_KEY
from .extension import WSGISession as WSGISession
from .extension import WSGISessionInterface as WSGISessionInterface
from .extension import session as session
from .middleware import SIDE_BY_SIDE_COOKIE as SIDE_BY_SIDE_COOKIE
from .middleware import FlaskSessionMiddleware as FlaskSessionMiddleware
from .profile import PERMANENT_HINT as PERMANENT_HINT
from .sessions import FlaskSession as FlaskSession

__all__ = [
    "EXTENSION_KEY",
    "PERMANENT_HINT",
    "SIDE_BY_SIDE_COOKIE",
    "FlaskRequestContext",
    "FlaskSession",
    "FlaskSessionMiddleware",
    "WSGISession",
    "WSGISessionInterface",
    "session",
]
