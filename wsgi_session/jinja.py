"""The URL helpers as Jinja2 globals and a filter: :func:`install` on any Environment.

After ``install(env)``, templates can call ``{{ rewrite_url("/cart") }}``,
``{{ url|rewrite_url }}``, ``{{ session_input() }}``, ``{{ csrf_input() }}``
and ``{{ csrf_token() }}`` (§13.2). These need the WSGI
environ of the request being answered; they look for it, in this order:

1. an ``environ`` variable of the template context (the plain WSGI way:
   ``template.render(environ=environ, ...)``);
2. the ``environ_getter`` given to :func:`install` (the Flask integration
   passes one that returns ``flask.request.environ``);
3. the environ bound with :func:`use_environ` in the current context (for
   code that renders templates without passing ``environ`` along, and for
   macros imported without context).

Without an environ, or in cookie mode, the helpers return the URL unchanged
and an empty string, like :func:`wsgi_session.rewrite_url` and
:func:`wsgi_session.hidden_input` do.

>>> import jinja2
>>> env = jinja2.Environment(autoescape=True)
>>> install(env)
>>> env.from_string('<a href="{{ rewrite_url(\\'/a?x=1\\') }}">').render(environ={})
'<a href="/a?x=1">'
"""

from __future__ import annotations

import contextlib
import contextvars
import typing as t
from collections.abc import Iterator, Mapping

import jinja2
from markupsafe import Markup

from .context import CONTEXT_KEY
from .helpers import csrf_input, hidden_input, rewrite_url

__all__ = ["EnvironGetter", "install", "use_environ"]

#: What ``environ_getter`` returns: the current request's environ, or None.
EnvironGetter = t.Callable[[], t.Optional[Mapping[str, t.Any]]]

_bound: contextvars.ContextVar[Mapping[str, t.Any] | None] = contextvars.ContextVar(
    "wsgi_session.jinja.environ", default=None
)
_EMPTY: Mapping[str, t.Any] = {}


@contextlib.contextmanager
def use_environ(environ: Mapping[str, t.Any]) -> Iterator[None]:
    """Make ``environ`` the one the helpers use while the block runs.

    For apps that render templates without passing ``environ=`` to them.

    >>> import jinja2
    >>> env = jinja2.Environment()
    >>> install(env)
    >>> with use_environ({}):
    ...     env.from_string("{{ '/a'|rewrite_url }}").render()
    '/a'
    """
    token = _bound.set(environ)
    try:
        yield
    finally:
        _bound.reset(token)


def _finder(
    getter: EnvironGetter | None,
) -> t.Callable[[jinja2.runtime.Context], Mapping[str, t.Any]]:
    def find(context: jinja2.runtime.Context) -> Mapping[str, t.Any]:
        environ = context.get("environ")
        if isinstance(environ, Mapping):
            return environ
        if getter is not None:
            found = getter()
            if found is not None:
                return found
        bound = _bound.get()
        return bound if bound is not None else _EMPTY

    return find


def install(
    env: jinja2.Environment, *, environ_getter: EnvironGetter | None = None
) -> None:
    """Register ``rewrite_url(url)``, ``session_input()``, ``|rewrite_url``,
    ``csrf_token()`` and ``csrf_input()``.

    ``environ_getter`` is called (with no arguments) when the template
    context has no ``environ``; it returns the current request's environ, or
    None outside a request.

    >>> import jinja2
    >>> env = jinja2.Environment()
    >>> install(env, environ_getter=lambda: {})
    >>> env.from_string("[{{ session_input() }}]").render()
    '[]'
    """
    find = _finder(environ_getter)

    @jinja2.pass_context
    def rewrite_url_global(context: jinja2.runtime.Context, url: str) -> str:
        """Add the session id to a same-origin ``url`` in URL tracking mode."""
        return rewrite_url(find(context), str(url))

    @jinja2.pass_context
    def session_input(context: jinja2.runtime.Context) -> Markup:
        """A hidden input carrying the session id (empty in cookie mode)."""
        return hidden_input(find(context))

    @jinja2.pass_context
    def csrf_token_global(context: jinja2.runtime.Context) -> str:
        """A fresh CSRF token of the request's session (empty without one)."""
        request = find(context).get(CONTEXT_KEY)
        return "" if request is None else str(request.session.csrf_token())

    @jinja2.pass_context
    def csrf_input_global(context: jinja2.runtime.Context) -> Markup:
        """A hidden ``csrf_token`` input (empty without a session)."""
        environ = find(context)
        return Markup("") if CONTEXT_KEY not in environ else csrf_input(environ)

    env.globals["rewrite_url"] = rewrite_url_global
    env.globals["session_input"] = session_input
    env.globals["csrf_token"] = csrf_token_global
    env.globals["csrf_input"] = csrf_input_global
    env.filters["rewrite_url"] = rewrite_url_global
