"""The supported version range of each store client library, in one table.

``setup.cfg`` pins the same ranges (a test compares them); the compat modules
state them and a missing client's error names the install with its range::

    >>> install_hint("redis")
    'pip install "redis>=4.5,<9"'
"""

from __future__ import annotations

__all__ = ["RANGES", "install_hint"]

#: Distribution name -> supported versions (oldest and newest tested in CI).
RANGES = {
    "cachelib": ">=0.13,<0.18",
    "redis": ">=4.5,<9",
    "python-memcached": ">=1.59,<2",
    "pylibmc": ">=1.6,<2",
    "pymongo": ">=4.0,<5",
    "boto3": ">=1.26,<2",
}


def install_hint(distribution: str) -> str:
    """The ``pip install`` command for ``distribution`` in its supported range.

    >>> install_hint("pylibmc")
    'pip install "pylibmc>=1.6,<2"'
    """
    return f'pip install "{distribution}{RANGES[distribution]}"'
