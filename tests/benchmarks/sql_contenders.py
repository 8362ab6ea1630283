"""The SQL contenders of the benchmark (issue 14): SQLite and PostgreSQL.

On one database per store, in the same run:

* ``ws``: SessionMiddleware on ``sqlite:///…`` / ``postgresql://…``;
* ``floor``: the plain app keeping a JSON blob in one row, through
  SQLAlchemy Core with the same driver in autocommit mode, on one
  connection held for the whole run (no pool checkout): a read is one
  ``SELECT``, a write that ``SELECT`` and one ``UPDATE`` (a minimal
  hand-written session, no signing, expiry or merge); on SQLite with the
  store's journal settings (WAL, ``synchronous=NORMAL``);
* ``django``: ``django.contrib.sessions.backends.db.SessionStore`` driven by
  a small WSGI wrapper (``load()`` on first access, ``save()`` when modified);
* ``flask_session``: Flask-Session's SQLAlchemy backend, against the bare
  Flask app.
"""

from __future__ import annotations

import secrets
import typing as t

from contenders import (
    SECRET,
    Contender,
    StoreEnv,
    _guard,
    flask_app,
    floor_app,
    plain_app,
)

__all__ = ["SQL_ORDER", "SQL_STORES", "build_sql_contenders", "sql_url"]

SQL_STORES = ("sqlite", "postgresql")


def sql_url(env: StoreEnv) -> str:
    """The database every contender of ``env`` uses (driver spelled out)."""
    if env.store == "sqlite":
        return "sqlite:///" + str(env.tmp / "bench.db")
    return env.sql_url.replace("postgresql://", "postgresql+psycopg://", 1)


def _bare(env: StoreEnv) -> Contender:
    return Contender("bare", "bare app", "plain", plain_app(None), stateful=False)


def _floor(env: StoreEnv) -> Contender:
    import sqlalchemy as sa

    engine = sa.create_engine(sql_url(env), isolation_level="AUTOCOMMIT")
    env.closers.append(engine.dispose)
    if env.store == "sqlite":
        # Like with like: the journal and durability the store runs with
        # (WAL, synchronous=NORMAL). SQLite's default (FULL) syncs the WAL
        # on every commit, which made the floor's write ~1.5 x slower
        # than the store's merge.
        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: t.Any, record: t.Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

    table = sa.Table(
        "floor_sessions",
        sa.MetaData(),
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("data", sa.Text, nullable=False),
    )
    table.create(engine, checkfirst=True)
    select = sa.select(table.c.data).where(table.c.id == sa.bindparam("k"))
    update = table.update().where(table.c.id == sa.bindparam("k"))
    insert = table.insert()
    conn = engine.connect()  # one connection, as a pool checkout would give
    env.closers.append(conn.close)

    def get(key: str) -> bytes | None:
        raw = conn.execute(select, {"k": key}).scalar()
        return None if raw is None else raw.encode()

    def put(key: str, value: bytes) -> None:
        text = value.decode()
        if conn.execute(update, {"k": key, "data": text}).rowcount == 0:
            conn.execute(insert, {"id": key, "data": text})

    return Contender(
        "floor",
        "store floor",
        "plain",
        floor_app(get, put),
        note="SQLAlchemy Core, autocommit, one held connection: SELECT (read);"
        " SELECT + UPDATE (write)"
        + ("; WAL, synchronous=NORMAL as the store" if env.store == "sqlite" else ""),
    )


def _wsgi_session(env: StoreEnv) -> Contender:
    from wsgi_session import SessionMiddleware

    middleware = SessionMiddleware(
        plain_app(lambda environ: environ["wsgi_session"]),
        secret_key=SECRET,
        store=sql_url(env),
    )
    return Contender(
        "ws",
        "wsgi_session",
        "plain",
        middleware,
        note="defaults: tracking=auto, concurrency=merge, JSON",
        middleware=middleware,
    )


class _Router:
    """Sends Django's session model to the alias of the store being measured."""

    alias = "default"

    def db_for_read(self, model: t.Any, **hints: t.Any) -> str:
        return self.alias

    db_for_write = db_for_read


_ROUTER = _Router()


def _django_database(env: StoreEnv) -> str:
    """Configure Django once per process; add ``env``'s database as an alias."""
    from django.conf import settings

    if not settings.configured:
        import django

        settings.configure(
            SECRET_KEY=SECRET,
            INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.sessions"],
            DATABASES={"default": {"ENGINE": "django.db.backends.dummy"}},
            DATABASE_ROUTERS=[_ROUTER],
            USE_TZ=True,
        )
        django.setup()
    from django.db import connections

    url = sql_url(env)
    if env.store == "sqlite":
        config = {"ENGINE": "django.db.backends.sqlite3", "NAME": url[10:]}
    else:
        from sqlalchemy.engine import make_url

        parsed = make_url(url)
        config = {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": parsed.database,
            "USER": parsed.username,
            "HOST": parsed.host,
            "PORT": str(parsed.port),
            "CONN_MAX_AGE": None,  # keep the connection, like a pool
        }
    alias = env.store
    filled = connections.configure_settings({"default": config})["default"]
    connections.settings[alias] = filled
    return alias


def _django(env: StoreEnv) -> Contender:
    alias = _django_database(env)
    _ROUTER.alias = alias
    from django.contrib.sessions.backends.db import SessionStore
    from django.contrib.sessions.models import Session
    from django.db import connections

    with connections[alias].schema_editor() as editor:
        editor.create_model(Session)
    env.closers.append(connections[alias].close)
    inner = plain_app(lambda environ: environ["django.session"])

    def app(environ: dict[str, t.Any], start_response: t.Callable[..., t.Any]):
        cookie = environ.get("HTTP_COOKIE", "")
        key = cookie[10:] if cookie.startswith("sessionid=") else None
        session = SessionStore(key)
        environ["django.session"] = session
        answer: list[t.Any] = []
        body = inner(environ, lambda status, headers: answer.extend((status, headers)))
        status, headers = answer
        if session.modified:
            session.save()
            if session.session_key != key:
                headers.append(
                    ("Set-Cookie", f"sessionid={session.session_key}; Path=/")
                )
        start_response(status, headers)
        return body

    return Contender(
        "django",
        "Django db",
        "plain",
        app,
        note="SessionStore(key): load() on first access, save() when modified"
        " (defaults: JSONSerializer, SESSION_SAVE_EVERY_REQUEST=False)",
    )


def _flask_bare(env: StoreEnv) -> Contender:
    return Contender(
        "flask",
        "bare Flask",
        "flask",
        flask_app("bare", uses_session=False),
        stateful=False,
        note="no SECRET_KEY, routes never touch the session",
    )


def _flask_session(env: StoreEnv) -> Contender:
    from flask_session import Session as FlaskSessionExtension
    from flask_sqlalchemy import SQLAlchemy

    app = flask_app("flask_session_sql_" + secrets.token_hex(4))
    app.config.update(
        SECRET_KEY=SECRET,
        SQLALCHEMY_DATABASE_URI=sql_url(env),
        SESSION_TYPE="sqlalchemy",
    )
    db = SQLAlchemy(app)
    app.config["SESSION_SQLALCHEMY"] = db
    FlaskSessionExtension(app)

    def dispose() -> None:
        with app.app_context():
            db.engine.dispose()

    env.closers.append(dispose)
    return Contender(
        "flask_session",
        "Flask-Session",
        "flask",
        app,
        note="SESSION_TYPE=sqlalchemy (Flask-SQLAlchemy); defaults"
        " (SESSION_REFRESH_EACH_REQUEST=True)",
    )


_BUILDERS: list[tuple[str, str, str, t.Callable[[StoreEnv], Contender]]] = [
    ("bare", "bare app", "plain", _bare),
    ("floor", "store floor", "plain", _floor),
    ("ws", "wsgi_session", "plain", _wsgi_session),
    ("django", "Django db", "plain", _django),
    ("flask", "bare Flask", "flask", _flask_bare),
    ("flask_session", "Flask-Session", "flask", _flask_session),
]

#: Contender keys in table order.
SQL_ORDER = [key for key, *_ in _BUILDERS]


def build_sql_contenders(env: StoreEnv) -> list[Contender]:
    """Every contender on ``env``'s SQL database; broken ones carry ``unavailable``."""
    return [
        _guard(key, label, family, lambda b=build: b(env))  # type: ignore[misc]
        for key, label, family, build in _BUILDERS
    ]
