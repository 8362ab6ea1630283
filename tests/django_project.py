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
    "plain.html": (
        '{% load wsgi_session %}<a href="{% rewrite_url "/x/" %}">x</a>'
        "[{% session_input %}]"
    ),
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
    "INSTALLED_APPS": ["wsgi_session.django"],
    # no CsrfViewMiddleware: its token cookie never comes back from cookie-less
    # clients, and URL-mode POST forms are part of what is tested
    "MIDDLEWARE": ["wsgi_session.django.SessionMiddleware"],
    "TEMPLATES": [
        {
            "BACKEND": "django.template.backends.django.DjangoTemplates",
            "APP_DIRS": False,
            "OPTIONS": {
                "context_processors": ["wsgi_session.django.context_processor"],
                "loaders": [("django.template.loaders.locmem.Loader", TEMPLATES)],
            },
        }
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


def wsgi_application() -> t.Any:
    """Django's (unwrapped) WSGI application for the test project."""
    setup()
    from django.core.wsgi import get_wsgi_application

    return get_wsgi_application()
