"""``SESSION_ENGINE = "wsgi_session.django.engine"`` on every store, outside requests.

``SessionStore(key)`` opens the same stored sessions as ``request.session``
(same store, keys, records and serializer), by the session cookie's value.
Each test runs over every store URL kind (``conftest.store_url``), set as
``WSGI_SESSION["store"]`` of the test project.
"""

from __future__ import annotations

import io
import time
import typing as t

import django_project
import pytest

pytest.importorskip("django")

from django.core.management import call_command
from django.test import Client, override_settings

from wsgi_session.django.dropin import drop_in_middleware
from wsgi_session.django.engine import SessionStore


@pytest.fixture
def on_store(store_url: str) -> t.Iterator[str]:
    """The test project with ``store_url`` as its session store."""
    django_project.migrate()
    with override_settings(WSGI_SESSION={"store": store_url}):
        yield store_url


def test_saved_new_session_has_a_key_and_exists(on_store):
    """SessionStore().save() stores even an empty session and gives it a key."""
    store = SessionStore()
    assert store.session_key is None
    store.save()
    key = store.session_key
    assert key is not None and store.exists(key)
    assert SessionStore(key).load() == {}


def test_session_key_is_the_signed_id_of_the_cookie(on_store):
    """session_key is what the session cookie carries: the signed session id."""
    store = SessionStore()
    store["a"] = 1
    store.save()
    signer = drop_in_middleware().signer
    assert signer.unsign(store.session_key) == store.wsgi_session.id


def test_data_round_trips_by_key(on_store):
    """Data saved through one SessionStore is read back by another by key."""
    store = SessionStore()
    store["cart"] = ["apple"]
    store.save()
    again = SessionStore(store.session_key)
    assert again["cart"] == ["apple"]
    again["cart"].append("pear")  # a nested change, saved by save()
    again.save()
    assert SessionStore(store.session_key)["cart"] == ["apple", "pear"]


def test_unknown_and_tampered_keys_open_a_new_empty_session(on_store):
    """A key that is unknown or forged opens nothing: a new session, no record."""
    store = SessionStore()
    store["a"] = 1
    store.save()
    forged = store.session_key[:-2] + ("AA" if store.session_key[-2:] != "AA" else "BB")
    for key in ("unknownkey123", forged):
        session = SessionStore(key)
        assert session.load() == {}
        assert session.session_key is None and not session.exists(key)


def test_cycle_key_and_delete(on_store):
    """cycle_key() moves the data to a new key; delete() removes the record."""
    store = SessionStore()
    store["a"] = 1
    store.save()
    old = store.session_key
    store.cycle_key()
    assert store.session_key != old and not store.exists(old)
    assert SessionStore(store.session_key)["a"] == 1
    store.delete()
    assert not store.exists(store.session_key)


def test_client_login_works_on_every_store(on_store):
    """Client.login() stores the session where the next request finds it."""
    from django.contrib.auth.models import User

    if not User.objects.filter(username="ann").exists():
        User.objects.create_user("ann", password="pw")
    client = Client()
    assert client.login(username="ann", password="pw")
    assert client.get("/dj/whoami/").content == b"ann"


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_clearsessions_sweeps_expired_sessions_of_a_sql_store(store_url):
    """manage.py clearsessions deletes the expired sessions of a SQL store."""
    django_project.setup()
    # An absolute limit of 1 s: the rows' TTL ends 2 s after they are written.
    with override_settings(WSGI_SESSION={"store": store_url, "absolute_timeout": 1}):
        for _ in range(2):
            store = SessionStore()
            store["a"] = 1
            store.save()
        time.sleep(2.1)
        out = io.StringIO()
        call_command("clearsessions", stdout=out)
        assert out.getvalue() == "deleted 2 expired sessions\n"
        assert drop_in_middleware().backend.sweep() == 0  # nothing was left


def test_clearsessions_is_a_no_op_on_stores_with_ttls(on_store):
    """clearsessions succeeds on stores that expire sessions themselves."""
    store = SessionStore()
    store["a"] = 1
    store.save()
    out = io.StringIO()
    call_command("clearsessions", stdout=out)
    if hasattr(drop_in_middleware().backend, "sweep"):  # SQL: nothing expired yet
        assert out.getvalue() == "deleted 0 expired sessions\n"
    else:
        assert out.getvalue().startswith("nothing to sweep")
    assert SessionStore(store.session_key)["a"] == 1
