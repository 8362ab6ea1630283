"""Draw the key-count sweep: µs per request against keys, log scales.

One panel per store and scenario, one line per contender. ``keys.py
--plot PATH`` calls :func:`plot` after a run; to draw saved numbers again::

    python tests/benchmarks/keys_plot.py SWEEP.json docs/keys.png

Needs matplotlib (in the ``bench`` extra).
"""

from __future__ import annotations

import json
import sys
import typing as t
from pathlib import Path

STYLE = {
    "ws": {"color": "#1f77b4", "marker": "o"},
    "beaker": {"color": "#d62728", "marker": "s"},
    "flask_ws": {"color": "#1f77b4", "marker": "o", "linestyle": "--"},
    "flask_session": {"color": "#2ca02c", "marker": "^", "linestyle": "--"},
}
TITLES = {"read": "one key read", "write": "one key changed"}


def plot(data: dict[str, t.Any], path: str) -> None:
    """Write the PNG of ``data`` (what ``keys.py --json`` writes) to ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    plain = FuncFormatter(lambda value, _: f"{value:,.0f}")

    stores = list(data["stores"])
    keys = data["keys"]
    fig, axes = plt.subplots(
        2, len(stores), figsize=(3.6 * len(stores), 6.4), squeeze=False
    )
    for col, store in enumerate(stores):
        for row, scenario in enumerate(("read", "write")):
            ax = axes[row][col]
            lines = data["stores"][store].get(scenario, {})
            for name, times in lines.items():
                points = [(k, v) for k, v in zip(keys, times) if v is not None]
                if not points:
                    continue
                xs, ys = zip(*points)
                ax.plot(xs, ys, label=data["labels"][name], **STYLE.get(name, {}))
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.xaxis.set_major_formatter(plain)
            ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
            ax.yaxis.set_major_formatter(plain)
            ax.yaxis.set_minor_formatter(NullFormatter())
            ax.set_title(f"{store}: {TITLES[scenario]}", fontsize=10)
            ax.grid(True, which="both", alpha=0.3)
            if row == 1:
                ax.set_xlabel("keys in the session")
            if col == 0:
                ax.set_ylabel("µs per request")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), frameon=False)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: keys_plot.py SWEEP.json OUT.png", file=sys.stderr)
        return 2
    plot(json.loads(Path(argv[0]).read_text("utf-8")), argv[1])
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
