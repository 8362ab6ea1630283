"""The one Django project of the test run: its settings, templates and setup.

Django's settings can be configured once per process, so every Django test
(``test_django.py``, ``test_legacy_frameworks.py``) calls :func:`setup` or
:func:`wsgi_application` from here, and anything a Django test needs goes into
:data:`SETTINGS`. Importing this module configures nothing.
"""

from __future__ import annotations

import typing as t

SECRET = "django-wsgi-session-test-key-0123456789"

#: Templates served by the locmem loader (``render(request, name, ...)``).
TEMPLATES: dict[str, str] = {
    "cart.html": (
        "{% load wsgi_session %}"
        '<p id="cart">{{ cart|join:"," }}</p>'
        '<a id="literal" href="{% rewrite_url "/cart/" %}">cart</a>'
        '<a id="variable" href="{% rewrite_url next_url %}">next</a>'
        '{% rewrite_url "/cart/?a=1&b=2" as saved %}'
        '<a id="as-name" href="{{ saved }}">saved</a>'
        '<form id="post" method="post" action="/cart/add/">'
        '{% session_input %}<input name="item"></form>'
    ),
    "context.html": (
        "user={{ wsgi_session.user_id|default_if_none:'' }};"
        "id={{ wsgi_session.id }};"
        "input={{ session_input }}"
    ),
    "session_csrf.html": "{% load wsgi_session %}{% session_csrf_input %}",
    "plain.html": (
        '{% load wsgi_session %}<a href="{% rewrite_url "/x/" %}">x</a>'
        "[{% session_input %}]"
    ),
    # Written as for Django's own sessions: no wsgi_session tag at all.
    "links.html": (
        '<a id="next" href="/dj/count/">next</a>'
        '<form id="form" method="post" action="/dj/count/"><input name="n"></form>'
        "<textarea>/dj/count/</textarea>"
    ),
    "messages.html": ("{% for message in messages %}[{{ message }}]{% endfor %}"),
    "csrf.html": ('<form method="post" action="/dj/csrf/">{% csrf_token %}</form>'),
}

#: Everything every Django test needs, configured once per process.
SETTINGS: dict[str, t.Any] = {
    "DEBUG": False,
    # exceptions reach the test client instead of becoming a logged 500
    "DEBUG_PROPAGATE_EXCEPTIONS": True,
    "SECRET_KEY": "django-test-key",
    "ROOT_URLCONF": "django_urls",
    "ALLOWED_HOSTS": ["*"],
    "USE_TZ": True,
    "INSTALLED_APPS": [
        "django.contrib.contenttypes",
        "django.contrib.auth",
        "django.contrib.messages",
        "django.contrib.admin",
        "wsgi_session.django",
    ],
    "DATABASES": {
        "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}
    },
    "PASSWORD_HASHERS": ["django.contrib.auth.hashers.MD5PasswordHasher"],
    "DEFAULT_AUTO_FIELD": "django.db.models.AutoField",
    # The drop-in: request.session and the session engine are wsgi_session's.
    # No CsrfViewMiddleware: its token cookie never comes back from cookie-less
    # clients, and URL-mode POST forms are part of what is tested (the views
    # that check tokens use csrf_protect, with CSRF_USE_SESSIONS).
    "MIDDLEWARE": [
        "wsgi_session.django.SessionMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "django.contrib.messages.middleware.MessageMiddleware",
    ],
    "SESSION_ENGINE": "wsgi_session.django.engine",
    "MESSAGE_STORAGE": "django.contrib.messages.storage.session.SessionStorage",
    "TEMPLATES": [
        {
            "BACKEND": "django.template.backends.django.DjangoTemplates",
            "APP_DIRS": False,
            "OPTIONS": {
                "context_processors": [
                    "django.template.context_processors.request",
                    "django.contrib.auth.context_processors.auth",
                    "django.contrib.messages.context_processors.messages",
                    "wsgi_session.django.context_processor",
                ],
                "loaders": [("django.template.loaders.locmem.Loader", TEMPLATES)],
            },
        },
        {  # the admin's own templates
            "NAME": "apps",
            "BACKEND": "django.template.backends.django.DjangoTemplates",
            "APP_DIRS": True,
            "OPTIONS": {
                "context_processors": [
                    "django.template.context_processors.request",
                    "django.contrib.auth.context_processors.auth",
                    "django.contrib.messages.context_processors.messages",
                ]
            },
        },
    ],
}


def setup() -> None:
    """Configure Django with :data:`SETTINGS` unless already done (idempotent)."""
    import django
    from django.conf import settings

    if not settings.configured:
        settings.configure(**SETTINGS)
        django.setup()
    elif SETTINGS["ROOT_URLCONF"] != settings.ROOT_URLCONF:
        raise RuntimeError(
            "Django was configured outside tests/django_project.py; "
            "put every Django test setting in django_project.SETTINGS"
        )


def migrate() -> None:
    """Create the tables of the project's apps (auth's users) in its database."""
    setup()
    from django.core.management import call_command

    call_command("migrate", run_syncdb=True, verbosity=0)


def wsgi_application() -> t.Any:
    """Django's (unwrapped) WSGI application for the test project."""
    setup()
    from django.core.wsgi import get_wsgi_application

    return get_wsgi_application()
