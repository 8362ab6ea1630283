"""Benchmark: rewrite_html against a bare ``html.parser.HTMLParser().feed()`` pass.

Run with ``python tests/benchmarks/bench_rewrite_html.py``. Builds a ~1 MB page
with 5,000 links and forms, times both in the same process over interleaved
rounds and prints the medians and the ratio (bare time / rewrite time; the
goal is >= 1.0, i.e. rewriting is no slower than merely parsing).
"""

from __future__ import annotations

import statistics
import sys
import time
from html.parser import HTMLParser
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from wsgi_session.rewrite import (
    add_session_param,
    hidden_input_markup,
    rewrite_html,
)

ORIGIN = ("https", "shop.example", 443)
ROUNDS = 15


def build_page(links: int = 5000, target_bytes: int = 1_000_000) -> str:
    """A Django-admin-like page: navigation, tables of links, forms, scripts."""
    head = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        "<title>Select order to change | Site administration</title>"
        '<link rel="stylesheet" href="/static/admin/css/base.css">'
        "<style>td a { color: #447e9b } .x > a { margin: 0 }</style>"
        '<script src="/static/admin/js/core.js"></script>'
        "<script>var tpl = '<a href=\"/x\">' + name + '</a>';"
        ' if (a < b && c > d) { go(); }</script></head>\n<body class="change-list">'
        '<div id="header"><div id="branding"><h1 id="site-name">'
        '<a href="/admin/">Administration</a></h1></div></div>\n'
    )
    rows = []
    for i in range(links):
        if i % 10 == 0:
            rows.append(
                f'<form method="post" action="/admin/orders/{i}/delete/"'
                f' class="inline"><input type="hidden" name="csrfmiddlewaretoken"'
                f' value="{"k" * 32}"><button type="submit">Delete</button></form>\n'
            )
        elif i % 10 == 5:
            rows.append(
                '<form action="https://payments.example/checkout" method="get">'
                f'<input name="order" value="{i}"></form>\n'
            )
        rows.append(
            f'<tr class="row{i % 2}"><th><a href="/admin/orders/order/{i}/change/'
            f'?o=-1&amp;q={i}">Order #{i}</a></th><td class="c">'
            f'<span title="&lt;{i}&gt;">Customer {i}</span></td><td>'
            f"{i * 3 % 997}.{i % 100:02d} &euro;</td></tr>\n"
        )
    body = "".join(rows)
    page = head + '<table id="result_list"><tbody>\n' + body + "</tbody></table>"
    filler = (
        "<p>Lorem ipsum dolor sit amet, <em>consectetur</em> adipiscing elit, "
        "sed do eiusmod tempor incididunt ut labore et dolore magna aliqua.</p>\n"
    )
    while len(page) < target_bytes - 100:
        page += filler
    return (
        page + '<textarea name="notes"><a href="/x">keep</a></textarea></body></html>\n'
    )


def main() -> None:
    """Time both passes and print medians and ratio."""
    page = build_page()
    body = page.encode("utf-8")
    token = "eyJpZCI6IjEyMyJ9.ZxYwVw.abcdefghijklmnopqrstuvwxyz0"
    form_input = str(hidden_input_markup("sid", token))

    def url_fn(url: str) -> str:
        return add_session_param(url, param="sid", token=token, origin=ORIGIN)

    output = rewrite_html(body, "utf-8", url_fn, form_input)
    assert b'<textarea name="notes"><a href="/x">keep</a>' in output
    assert b'https://payments.example/checkout" method="get"><input name' in output
    print(
        f"page: {len(body):,} bytes, {page.count('<a '):,} links,"
        f" {page.count('<form'):,} forms; output {len(output):,} bytes,"
        f" {output.count(b'sid='):,} ids added"
    )
    bare_times, rewrite_times = [], []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        HTMLParser().feed(page)
        bare_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        rewrite_html(body, "utf-8", url_fn, form_input)
        rewrite_times.append(time.perf_counter() - start)
    bare = statistics.median(bare_times)
    rewrite = statistics.median(rewrite_times)
    print(f"bare HTMLParser().feed(): {bare * 1000:8.1f} ms (median of {ROUNDS})")
    print(f"rewrite_html():           {rewrite * 1000:8.1f} ms (median of {ROUNDS})")
    print(f"ratio bare/rewrite: {bare / rewrite:.2f} (goal >= 1.0)")


if __name__ == "__main__":
    main()
