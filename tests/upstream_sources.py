"""Source releases of installed distributions: find, download once, unpack.

:func:`source_tree` gives the unpacked source release (sdist) of the version
of a distribution that is installed here, so a test can run that project's
own test suite against our code without a copy of it in this repository.
The archive is fetched from PyPI's JSON API (its SHA-256 checked), or with
``pip download`` when the API is unreachable (pip honours the local index
and proxy configuration), and kept in :func:`cache_dir` so reruns do not
download again. :class:`SourceUnavailable` means it could not be fetched.

>>> cache_dir({"WSGI_SESSION_UPSTREAM_CACHE": "/tmp/up"}).as_posix()
'/tmp/up'
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path

#: Where PyPI describes one release of a project.
PYPI_JSON = "https://pypi.org/pypi/{dist}/{version}/json"
_ARCHIVES = (".tar.gz", ".tgz", ".zip")
_TIMEOUT = 60


class SourceUnavailable(Exception):
    """The source release could not be downloaded (no network, no index).

    >>> str(SourceUnavailable("flask 3.1.3: offline"))
    'flask 3.1.3: offline'
    """


def installed_version(dist: str) -> str:
    """The version of ``dist`` installed in this environment.

    Raises :class:`importlib.metadata.PackageNotFoundError` when it is not.

    >>> installed_version("pytest") == __import__("pytest").__version__
    True
    """
    return metadata.version(dist)


def cache_dir(environ: Mapping[str, str] = os.environ) -> Path:
    """The download cache: ``$WSGI_SESSION_UPSTREAM_CACHE``, else a user cache.

    The default is ``wsgi_session/upstream`` under ``$XDG_CACHE_HOME`` (or
    ``~/.cache``), outside the repository.

    >>> cache_dir({"XDG_CACHE_HOME": "/c"}).as_posix()
    '/c/wsgi_session/upstream'
    """
    explicit = environ.get("WSGI_SESSION_UPSTREAM_CACHE")
    if explicit:
        return Path(explicit)
    base = environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "wsgi_session" / "upstream"


def sha256_of(path: Path) -> str:
    """The hex SHA-256 digest of the file at ``path``.

    >>> import tempfile
    >>> with tempfile.NamedTemporaryFile() as f:
    ...     sha256_of(Path(f.name))[:12]
    'e3b0c44298fc'
    """
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _cached(cache: Path, dist: str, version: str) -> Path | None:
    """The cached archive of this release, if present and intact."""
    record = cache / f"{dist.lower()}-{version}.json"
    try:
        entry = json.loads(record.read_text(encoding="utf-8"))
        archive = cache / entry["filename"]
        if sha256_of(archive) == entry["sha256"]:
            return archive
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None


def _remember(cache: Path, dist: str, version: str, archive: Path) -> Path:
    """Record ``archive`` (already in ``cache``) as this release's source."""
    entry = {"filename": archive.name, "sha256": sha256_of(archive)}
    record = cache / f"{dist.lower()}-{version}.json"
    record.write_text(json.dumps(entry), encoding="utf-8")
    return archive


def _from_pypi(dist: str, version: str, cache: Path) -> Path:
    """Download the sdist named by PyPI's JSON API, checking its digest."""
    url = PYPI_JSON.format(dist=dist, version=version)
    with urllib.request.urlopen(url, timeout=_TIMEOUT) as response:
        release = json.load(response)
    sdists = [u for u in release["urls"] if u.get("packagetype") == "sdist"]
    if not sdists:
        raise SourceUnavailable(f"{dist} {version}: PyPI lists no source release")
    sdist = sdists[0]
    target = cache / Path(sdist["filename"]).name
    partial = target.with_name(target.name + ".part")
    with (
        urllib.request.urlopen(sdist["url"], timeout=_TIMEOUT) as response,
        partial.open("wb") as out,
    ):
        for block in iter(lambda: response.read(1 << 20), b""):
            out.write(block)
    expected = sdist.get("digests", {}).get("sha256")
    if expected and sha256_of(partial) != expected:
        partial.unlink()
        raise SourceUnavailable(f"{sdist['url']}: SHA-256 does not match PyPI's")
    partial.replace(target)
    return target


def _with_pip(dist: str, version: str, cache: Path) -> Path:
    """Download the sdist with ``pip download`` (the configured index)."""
    with tempfile.TemporaryDirectory(dir=cache) as scratch:
        command = [
            *(sys.executable, "-m", "pip", "download", "--no-deps", "--quiet"),
            *("--no-binary", ":all:", "--dest", scratch, f"{dist}=={version}"),
        ]
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=10 * _TIMEOUT
        )
        found = [p for p in Path(scratch).iterdir() if p.name.endswith(_ARCHIVES)]
        if done.returncode or len(found) != 1:
            raise SourceUnavailable(
                f"pip download {dist}=={version} failed: {done.stderr.strip()[-500:]}"
            )
        return found[0].replace(cache / found[0].name)


def fetch(dist: str, version: str, cache: Path | None = None) -> Path:
    """The source archive of ``dist`` ``version``, downloaded once into ``cache``.

    Raises :class:`SourceUnavailable` when neither PyPI's JSON API nor
    ``pip download`` can provide it.
    """
    cache = cache_dir() if cache is None else cache
    cache.mkdir(parents=True, exist_ok=True)
    found = _cached(cache, dist, version)
    if found is not None:
        return found
    errors = []
    for download in (_from_pypi, _with_pip):
        try:
            return _remember(cache, dist, version, download(dist, version, cache))
        except (OSError, ValueError, KeyError, SourceUnavailable) as exc:
            # URLError and timeouts are OSErrors; a bad JSON reply is a ValueError
            errors.append(f"{download.__name__}: {exc}")
        except subprocess.TimeoutExpired as exc:
            errors.append(f"{download.__name__}: {exc}")
    raise SourceUnavailable(f"{dist} {version}: " + "; ".join(errors))


def unpack(archive: Path, into: Path) -> Path:
    """Unpack ``archive`` into ``into`` and return its single top directory.

    Members that would land outside ``into`` (absolute paths, ``..``, links
    out) are refused, as the ``data`` extraction filter of :mod:`tarfile` does.
    """
    into.mkdir(parents=True, exist_ok=True)
    if archive.name.endswith(".zip"):
        with zipfile.ZipFile(archive) as zipped:
            root = into.resolve()
            for name in zipped.namelist():
                if not (into / name).resolve().is_relative_to(root):
                    raise SourceUnavailable(f"{archive.name}: unsafe member {name}")
            zipped.extractall(into)
    else:
        with tarfile.open(archive) as tar:
            tar.extractall(into, filter="data")
    tops = [p for p in into.iterdir() if p.is_dir()]
    if len(tops) != 1:
        raise SourceUnavailable(f"{archive.name}: expected one top directory")
    return tops[0]


def source_tree(dist: str, into: Path, cache: Path | None = None) -> Path:
    """The installed version of ``dist``'s source release, unpacked in ``into``.

    Returns the release's root directory (the one holding its ``tests/``).
    """
    return unpack(fetch(dist, installed_version(dist), cache), into)
