"""Django integration: ``request.wsgi_session``, a context processor, template tags.

Setup, in three places of a Django project:

* ``wsgi.py`` wraps Django's WSGI application, which is what creates sessions::

      from django.core.wsgi import get_wsgi_application
      from wsgi_session import SessionMiddleware

      application = SessionMiddleware(get_wsgi_application(), secret_key="...")

* ``settings.py``::

      INSTALLED_APPS = [..., "wsgi_session.django"]  # {% load wsgi_session %}
      MIDDLEWARE = [
          ...,
          "wsgi_session.django.SessionMiddleware",  # request.wsgi_session
      ]
      TEMPLATES = [{
          "BACKEND": "django.template.backends.django.DjangoTemplates",
          "OPTIONS": {"context_processors": [
              ...,
              "wsgi_session.django.context_processor",  # {{ wsgi_session }}
          ]},
          ...
      }]

* templates::

      {% load wsgi_session %}
      <a href="{% rewrite_url "/cart/" %}">cart</a>
      <form method="post" action="{% rewrite_url "/buy/" %}">{% session_input %}...

Requests must come through the wrapped application: ``django.test.Client``
calls Django's handler directly, so test with ``werkzeug.test.Client(application)``.
Django's ``CsrfViewMiddleware`` keeps its token in a cookie, which clients with
cookies disabled never return: views that must serve them are ``csrf_exempt``.

>>> from wsgi_session.django import SessionMiddleware, context_processor
"""

from __future__ import annotations

from .context_processors import context_processor as context_processor
from .middleware import SessionMiddleware as SessionMiddleware
from .middleware import request_session as request_session

__all__ = ["SessionMiddleware", "context_processor", "request_session"]
