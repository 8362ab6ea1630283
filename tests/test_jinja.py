"""wsgi_session.jinja: the URL helpers as Jinja2 globals and filter."""

from __future__ import annotations

import typing as t
from urllib.parse import parse_qs, urlsplit

import pytest

jinja2 = pytest.importorskip("jinja2")

from werkzeug.test import Client  # noqa: E402

from tests.apps import SECRET  # noqa: E402
from wsgi_session import SessionMiddleware, get_session  # noqa: E402
from wsgi_session.jinja import install, use_environ  # noqa: E402

PAGE = (
    '<a href="{{ rewrite_url("/cart?x=1&y=2") }}">cart</a>'
    '<a href="{{ "/shop"|rewrite_url }}">shop</a>'
    '<a href="{{ rewrite_url("https://elsewhere.example/") }}">out</a>'
    '<form method="get" action="/search">{{ session_input() }}</form>'
)


def make_env(**kwargs: t.Any) -> t.Any:
    env = jinja2.Environment(autoescape=True)
    install(env, **kwargs)
    return env


def render_in_request(
    render: t.Callable[[dict[str, t.Any]], str], *, tracking: str = "url"
) -> str:
    """Run ``render(environ)`` inside a request whose session has been written."""

    def app(environ, start_response):
        get_session(environ)["user"] = "ann"
        body = render(environ).encode()
        start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
        return [body]

    wrapped = SessionMiddleware(app, secret_key=SECRET, tracking=tracking)
    return Client(wrapped, use_cookies=False).get("/").get_data(as_text=True)


def sid_of(url: str) -> str:
    return parse_qs(urlsplit(url.replace("&amp;", "&")).query)["sid"][0]


def test_install_registers_two_globals_and_a_filter():
    """install() adds rewrite_url and session_input globals and a rewrite_url filter."""
    env = make_env()
    assert {"rewrite_url", "session_input"} <= set(env.globals)
    assert "rewrite_url" in env.filters


def test_environ_from_template_context_rewrites_urls_in_url_mode():
    """With environ=environ in the context, links and forms get the session id."""
    env = make_env()
    html = render_in_request(lambda e: env.from_string(PAGE).render(environ=e))
    assert 'href="/cart?x=1&amp;y=2&amp;sid=' in html
    assert 'href="/shop?sid=' in html
    assert 'href="https://elsewhere.example/"' in html
    assert '<input type="hidden" name="sid" value="' in html


def test_global_and_filter_add_the_same_id():
    """The global, the filter and the hidden input all carry the same signed id."""
    env = make_env()
    template = env.from_string(
        '{{ rewrite_url("/a") }} {{ "/b"|rewrite_url }} {{ session_input() }}'
    )
    a, b, field = render_in_request(lambda e: template.render(environ=e)).split(" ", 2)
    assert sid_of(a) == sid_of(b) and f'value="{sid_of(a)}"' in field


def test_helpers_are_no_ops_in_cookie_mode():
    """In cookie mode URLs are unchanged and session_input() is empty."""
    env = make_env()
    template = env.from_string(PAGE)
    html = render_in_request(lambda e: template.render(environ=e), tracking="cookie")
    assert 'href="/cart?x=1&amp;y=2"' in html and "sid=" not in html
    assert "<input" not in html


def test_without_any_environ_the_helpers_change_nothing():
    """Rendered outside a request, the helpers return the URL and an empty input."""
    html = make_env().from_string(PAGE).render()
    assert 'href="/shop"' in html and "<input" not in html


def test_environ_getter_is_used_when_the_context_has_no_environ():
    """install(env, environ_getter=...) finds the request without environ=."""
    current: dict[str, t.Any] = {}
    env = make_env(environ_getter=lambda: current.get("environ"))
    template = env.from_string('{{ "/shop"|rewrite_url }}')

    def render(environ: dict[str, t.Any]) -> str:
        current["environ"] = environ
        return template.render()

    assert render_in_request(render).startswith("/shop?sid=")


def test_environ_in_the_context_wins_over_the_getter():
    """An explicit environ= in the context takes precedence over environ_getter."""
    env = make_env(environ_getter=lambda: {})
    template = env.from_string('{{ "/shop"|rewrite_url }}')
    assert render_in_request(lambda e: template.render(environ=e)).startswith(
        "/shop?sid="
    )


def test_a_context_variable_named_environ_that_is_not_a_mapping_is_ignored():
    """A template variable environ that is no mapping does not break rendering."""
    env = make_env()
    assert env.from_string('{{ "/a"|rewrite_url }}').render(environ="x") == "/a"


def test_use_environ_binds_the_environ_for_the_block_only():
    """use_environ(environ) serves templates rendered without environ=."""
    env = make_env()
    template = env.from_string('{{ "/shop"|rewrite_url }}')

    def render(environ: dict[str, t.Any]) -> str:
        with use_environ(environ):
            inside = template.render()
        return inside + " " + template.render()

    inside, outside = render_in_request(render).split(" ")
    assert inside.startswith("/shop?sid=") and outside == "/shop"


def test_macros_imported_without_context_fall_back_to_the_bound_environ():
    """A macro imported without context still finds the request via use_environ."""
    env = jinja2.Environment(
        autoescape=True,
        loader=jinja2.DictLoader(
            {
                "macros.html": '{% macro link(u) %}<a href="{{ u|rewrite_url }}">'
                "{% endmacro %}",
                "page.html": '{% import "macros.html" as m %}{{ m.link("/shop") }}',
            }
        ),
    )
    install(env)

    def render(environ: dict[str, t.Any]) -> str:
        with use_environ(environ):
            return str(env.get_template("page.html").render(environ=environ))

    assert render_in_request(render).startswith('<a href="/shop?sid=')


def test_session_input_is_markup_and_not_escaped_twice():
    """session_input() is Markup: autoescaping leaves the tag intact."""
    env = make_env()
    template = env.from_string("{{ session_input() }}")
    html = render_in_request(lambda e: template.render(environ=e))
    assert html.startswith('<input type="hidden" name="sid" value="')
    assert "&lt;" not in html
