"""The ``{% load wsgi_session %}`` tags: ``{% rewrite_url %}``, ``{% session_input %}``.

::

    {% load wsgi_session %}
    <a href="{% rewrite_url "/cart/" %}">cart</a>
    <a href="{% rewrite_url item.url %}">{{ item }}</a>
    {% rewrite_url "/next/" as next_url %}
    <form method="get" action="/search/">{% session_input %}<input name="q"></form>

Both tags are :func:`wsgi_session.rewrite_url` / :func:`wsgi_session.hidden_input`
over the request's WSGI environ: in URL mode they add the signed session id,
in cookie mode (and before the session's first write) they change nothing.
The tags find the request on the ``RequestContext`` that ``render(request, ...)``,
``TemplateResponse`` and class-based views render with, so no context processor
is needed; a plain ``Context`` works if it has a ``request`` variable. Without a
request (an e-mail body, say) they render the URL unchanged and no input.

>>> from types import SimpleNamespace
>>> rewrite_url_tag({"request": SimpleNamespace(environ={})}, "/cart/")
'/cart/'
"""

from __future__ import annotations

import typing as t

from django import template
from markupsafe import Markup

from ... import helpers
from ...context import CONTEXT_KEY

__all__ = ["register", "rewrite_url_tag", "session_csrf_input_tag", "session_input_tag"]

register = template.Library()


def request_environ(context: t.Any) -> t.Mapping[str, t.Any]:
    """The WSGI environ of the request a template is rendered for, or ``{}``.

    >>> from types import SimpleNamespace
    >>> request_environ({"request": SimpleNamespace(environ={"a": 1})})
    {'a': 1}
    >>> request_environ({})
    {}
    """
    request = getattr(context, "request", None)
    if request is None:
        request = context.get("request")
    environ = getattr(request, "environ", None)
    return environ if environ is not None else {}


def rewrite_url_tag(context: t.Any, url: t.Any) -> str:
    """``{% rewrite_url url [as name] %}``: the URL with the session id in URL mode.

    ``url`` is a literal or a variable (lazy strings such as ``reverse_lazy``
    work); the result is escaped like any other output (``&`` becomes ``&amp;``).

    >>> rewrite_url_tag({}, "/a?b=1&c=2")
    '/a?b=1&c=2'
    """
    return helpers.rewrite_url(request_environ(context), str(url))


def session_input_tag(context: t.Any) -> Markup:
    """``{% session_input %}``: the hidden form input carrying the session id.

    Empty in cookie mode; not escaped (it is ``Markup``).

    >>> session_input_tag({})
    Markup('')
    """
    return helpers.hidden_input(request_environ(context))


def session_csrf_input_tag(context: t.Any) -> Markup:
    """``{% session_csrf_input %}``: a hidden ``csrf_token`` input with a fresh
    token of the request's wsgi_session session (SPEC §13.2), for
    ``csrf="check"``; empty without a session (a template rendered outside a
    request).

    >>> from types import SimpleNamespace
    >>> session_csrf_input_tag({"request": SimpleNamespace(environ={})})
    Markup('')
    """
    environ = request_environ(context)
    if CONTEXT_KEY not in environ:
        return Markup("")
    return helpers.csrf_input(environ)


register.simple_tag(rewrite_url_tag, takes_context=True, name="rewrite_url")
register.simple_tag(
    session_csrf_input_tag, takes_context=True, name="session_csrf_input"
)
register.simple_tag(session_input_tag, takes_context=True, name="session_input")
