"""The URL helpers applications call in templates: ``rewrite_url`` and ``hidden_input``.

Both consult the request context the middleware put in the environ and are
no-ops in cookie mode and before the session's first write.

>>> rewrite_url({}, "/cart?x=1")
'/cart?x=1'
>>> str(hidden_input({}))
''
"""

from __future__ import annotations

import typing as t

from markupsafe import Markup

from .context import CONTEXT_KEY
from .rewrite import add_session_param, hidden_input_markup, request_origin

__all__ = ["hidden_input", "rewrite_url"]


def _token(environ: t.Mapping[str, t.Any]) -> tuple[str, str] | None:
    context = environ.get(CONTEXT_KEY)
    if context is None:
        return None
    token = context.url_token()
    return None if token is None else (context.url_param, token)


def rewrite_url(environ: t.Mapping[str, t.Any], url: str) -> str:
    """Add the session id to a same-origin ``url`` when URL tracking is active.

    Other hosts, ``javascript:``, ``mailto:`` and fragment-only URLs are
    returned unchanged, as is everything in cookie mode.
    """
    found = _token(environ)
    if found is None:
        return url
    param, token = found
    rewritten = add_session_param(
        url, param=param, token=token, origin=request_origin(environ)
    )
    if rewritten != url:
        environ[CONTEXT_KEY].exposed = True
    return rewritten


def hidden_input(environ: t.Mapping[str, t.Any]) -> Markup:
    """A hidden form input carrying the session id, or an empty Markup.

    GET forms need it: browsers drop the query string of a form's action.
    """
    found = _token(environ)
    if found is None:
        return Markup("")
    environ[CONTEXT_KEY].exposed = True
    return hidden_input_markup(*found)
