"""What an environment holds, read from its prefix: conda-meta records and site-packages' dist-info.

Fast enough to run while the user types (no process, no full JSON parse): a conda-meta record can be
megabytes, almost all of it the `files` and `paths_data` lists, so only the part before them is read and
the few fields wanted are picked out of it. The file name (`name-version-build.json`, which conda, mamba,
micromamba and pixi all write) fills in what the head does not say, so a truncated or broken record still
counts. `stamp` tells callers cheaply when to read again.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from types import MappingProxyType

from packaging.utils import canonicalize_name

from envls.core.conda.drift import InstalledPackage, InstalledSnapshot
from envls.host.readfile import DEFAULT_TIMEOUT, open_regular

log = logging.getLogger(__name__)

_CHUNK = 16384
_MAX_HEAD = 1 << 20
# The big lists come after the fields we want, in every writer's key order.
_BULK_KEYS = (b'"files"', b'"paths_data"')
_FIELD = re.compile(
    rb'"(name|version|build|build_number|channel|subdir|md5|url|python_site_packages_path)"\s*:\s*'
    rb'(?:"((?:[^"\\]|\\.)*)"|(-?\d+))'
)
_SUBDIR = re.compile(r"^(noarch|[a-z0-9]+-[a-z0-9_]+)$")
_EGG_PYTHON = re.compile(r"-py\d+(\.\d+)*$")

Stamp = tuple[int, ...]


def read_installed(prefix: str | os.PathLike[str], *, read_pip: bool = True) -> InstalledSnapshot:
    """The packages installed in `prefix`; an empty snapshot when it is no environment. Never raises."""
    root = Path(prefix)
    meta = root / "conda-meta"
    try:
        names = sorted(n for n in os.listdir(meta) if n.endswith(".json"))
    except OSError as error:
        log.debug("installed: cannot list %s: %s", meta, error.strerror or error)
        return InstalledSnapshot(str(root), exists=False)
    packages: dict[str, InstalledPackage] = {}
    site_path: str | None = None
    for file_name in names:
        fields = _fields(meta / file_name)
        package = _package(file_name, fields)
        if package is None:
            log.debug("installed: %s names no package; skipped", meta / file_name)
            continue
        packages[package.name.lower()] = package
        if package.name == "python" and fields.get("python_site_packages_path"):
            site_path = str(fields["python_site_packages_path"])
    pip = _distributions(root, packages.get("python"), site_path) if read_pip else None
    return InstalledSnapshot(str(root), MappingProxyType(packages),
                             MappingProxyType(pip) if pip is not None else None, _platform(packages.values()))


def _head(path: Path) -> bytes:
    """The record up to its first bulk list (or all of it, up to 1 MiB)."""
    data = b""
    deadline = time.monotonic() + DEFAULT_TIMEOUT
    try:
        # The guarded reader: a record that is a symlink to /dev/stdin or a FIFO is refused, never waited on.
        with open_regular(path) as handle:
            while len(data) < _MAX_HEAD and time.monotonic() < deadline:
                chunk = handle.read(_CHUNK)
                if not chunk:
                    break
                searched_from = max(0, len(data) - 16)
                data += chunk
                cuts = [at for key in _BULK_KEYS if (at := data.find(key, searched_from)) >= 0]
                if cuts:
                    return data[: min(cuts)]
    except OSError as error:
        log.debug("installed: cannot read %s: %s", path, error.strerror or error)
    return data


def _fields(path: Path) -> dict[str, str | int]:
    fields: dict[str, str | int] = {}
    for match in _FIELD.finditer(_head(path)):
        key = match.group(1).decode()
        if key in fields:
            continue  # the first is the record's own; nothing above the bulk lists nests these keys
        if match.group(3) is not None:
            fields[key] = int(match.group(3))
        else:
            fields[key] = _unescape(match.group(2))
    return fields


def _unescape(raw: bytes) -> str:
    if b"\\" not in raw:
        return raw.decode("utf-8", errors="replace")
    try:
        return str(json.loads(b'"' + raw + b'"'))
    except ValueError:
        return raw.decode("utf-8", errors="replace")


def _package(file_name: str, fields: dict[str, str | int]) -> InstalledPackage | None:
    parts = file_name.removesuffix(".json").rsplit("-", 2)
    from_name = parts if len(parts) == 3 and all(parts) else [None, None, None]

    def text(key: str, fallback: str | None) -> str | None:
        value = fields.get(key)
        return value if isinstance(value, str) and value else fallback

    name, version, build = text("name", from_name[0]), text("version", from_name[1]), text("build", from_name[2])
    if not name or not version or build is None:
        return None
    channel = text("channel", "") or ""
    subdir = text("subdir", None) or _subdir_of(channel) or _subdir_of(text("url", "") or "", file_url=True) or ""
    number = fields.get("build_number")
    return InstalledPackage(name, version, build, channel, number if isinstance(number, int) else 0, subdir,
                            text("md5", "") or "")


def _subdir_of(url: str, file_url: bool = False) -> str | None:
    """The subdir at the end of a channel URL (`.../conda-forge/linux-64`), or before a package file's name."""
    parts = url.rstrip("/").split("/")
    candidate = parts[-2] if file_url and len(parts) >= 2 else parts[-1]
    return candidate if _SUBDIR.match(candidate) else None


def _platform(packages: Iterable[InstalledPackage]) -> str | None:
    counts = Counter(p.subdir for p in packages if p.subdir and p.subdir != "noarch")
    return counts.most_common(1)[0][0] if counts else None


def site_packages(prefix: Path, python: InstalledPackage | None, recorded: str | None = None) -> Path | None:
    """The environment's site-packages folder: the record's own path, `Lib\\site-packages`, `lib/pythonX.Y/...`."""
    candidates: list[Path] = []
    if recorded:
        candidates.append(prefix / recorded)
    candidates.append(prefix / "Lib" / "site-packages")
    if python is not None:
        major_minor = ".".join(python.version.split(".")[:2])
        candidates += [prefix / "lib" / f"python{major_minor}" / "site-packages",
                       prefix / "lib" / f"python{major_minor}t" / "site-packages"]
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    if python is None:
        return None
    found = sorted((prefix / "lib").glob("python*/site-packages"))
    return found[0] if found else None


def _distributions(prefix: Path, python: InstalledPackage | None, recorded: str | None) -> dict[str, str] | None:
    """Distribution names (PEP 503) and versions, from the names of site-packages' dist-info folders."""
    folder = site_packages(prefix, python, recorded)
    if folder is None:
        return None
    try:
        entries = os.listdir(folder)
    except OSError as error:
        log.debug("installed: cannot list %s: %s", folder, error.strerror or error)
        return None
    found: dict[str, str] = {}
    for entry in entries:
        if entry.endswith(".dist-info"):
            stem = entry[: -len(".dist-info")]
        elif entry.endswith(".egg-info"):
            stem = _EGG_PYTHON.sub("", entry[: -len(".egg-info")])
        else:
            continue
        name, sep, version = stem.rpartition("-")
        if sep and name and version:
            found.setdefault(str(canonicalize_name(name)), version)
    return found


def stamp(prefix: str | os.PathLike[str]) -> Stamp:
    """A cheap fingerprint of the environment: it changes when conda, mamba, micromamba or pip change it.

    The modification times of conda-meta (a package record added or removed), of conda-meta/history (every
    transaction appends to it) and of site-packages (pip adds and removes dist-info folders there).
    """
    root = Path(prefix)
    values: list[int] = []
    for path in (root / "conda-meta", root / "conda-meta" / "history"):
        try:
            status = os.stat(path)
            values += [status.st_mtime_ns, status.st_size]
        except OSError:
            values += [-1, -1]
    folder = next(iter(sorted((root / "lib").glob("python*/site-packages"))), None) or root / "Lib" / "site-packages"
    try:
        values.append(os.stat(folder).st_mtime_ns)
    except OSError:
        values.append(-1)
    return tuple(values)
