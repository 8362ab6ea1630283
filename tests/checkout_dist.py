"""This checkout's distribution metadata, for tests of ``egg:wsgi_session#...``.

PasteDeploy finds ``egg:wsgi_session#beaker`` through the entry points of the
*installed* ``wsgi_session`` distribution, which may come from another
checkout (an editable install) and lag behind ``setup.cfg`` here.
:func:`write_dist_info` writes a minimal ``wsgi_session-<version>.dist-info``
with this checkout's entry points into a directory; put that directory first
on ``sys.path`` (or ``PYTHONPATH``) and ``importlib.metadata`` finds it first.

>>> import tempfile
>>> with tempfile.TemporaryDirectory() as d:
...     info = write_dist_info(Path(d))
...     "beaker = wsgi_session.beaker" in (info / "entry_points.txt").read_text()
True
"""

from __future__ import annotations

import configparser
from pathlib import Path

import wsgi_session

SETUP_CFG = Path(__file__).resolve().parent.parent / "setup.cfg"


def write_dist_info(into: Path) -> Path:
    """Write the dist-info of this checkout into ``into``; return its path."""
    setup = configparser.ConfigParser(interpolation=None)
    setup.read(SETUP_CFG, encoding="utf-8")
    points = configparser.ConfigParser(interpolation=None)
    for group, text in setup["options.entry_points"].items():
        points[group] = dict(
            (part.strip() for part in line.split("=", 1))  # type: ignore[misc]
            for line in text.strip().splitlines()
        )
    info = into / f"wsgi_session-{wsgi_session.__version__}.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: wsgi_session\n"
        f"Version: {wsgi_session.__version__}\n",
        encoding="utf-8",
    )
    with open(info / "entry_points.txt", "w", encoding="utf-8") as out:
        points.write(out)
    return info
