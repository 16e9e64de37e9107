"""Export an installed environment back to a portable environment file (`conda env export`, done right).

Read from the prefix, never from a conda process: the conda-meta records (name, version, build, the
channel each came from), `conda-meta/history` for `--from-history` (what was asked for, as conda keeps
it: `# update specs` add or replace a name, `# remove specs` drop it), and site-packages' dist-info
for the `pip:` section (a distribution whose `INSTALLER` is not conda; with `--from-history` only those
pip was asked for, which carry a `REQUESTED` file). The result never has `prefix:`.

Channels are written as names when they are names (under the channel alias or a custom channel), as
`defaults` for the default channels, else as URLs; in priority order: the configured channels' order
first, then by how many packages came from each. When no package came from `defaults`, the file gets
`nodefaults` so that re-creating it searches only where the packages came from.
"""

from __future__ import annotations

import ast
import logging
import os
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from envls.actions.request import ActionError
from envls.channels.condarc import DEFAULTS, CondaConfig
from envls.channels.names import resolve_channel
from envls.core.conda.drift import InstalledPackage
from envls.core.conda.specs import parse_spec
from envls.core.workflow.export_text import Exported
from envls.host.installed import read_installed, site_packages
from envls.host.readfile import read_bytes

log = logging.getLogger(__name__)

_SMALL = 64 * 1024
_HISTORY_MAX = 64 * 1024 * 1024  # conda-meta/history grows with every transaction; 64 MB is decades of them
# conda's built-in `defaults` are these channels under its default channel URL.
_CONDA_DEFAULT_PATHS = ("/pkgs/main", "/pkgs/r", "/pkgs/msys2")


@dataclass(frozen=True)
class ExportRequest:
    prefix: Path
    name: str | None = None  # the name to write; the prefix's folder name when None
    from_history: bool = False
    with_builds: bool = False


def export_environment(request: ExportRequest, config: CondaConfig) -> Exported:
    """What the environment at ``request.prefix`` holds, as a portable file describes it (blocking I/O)."""
    prefix = request.prefix
    if not (prefix / "conda-meta").is_dir():
        raise ActionError(f"{prefix} is no conda environment (it has no conda-meta folder)")
    snapshot = read_installed(prefix, read_pip=False)
    packages = sorted(snapshot.packages.values(), key=lambda p: p.name)
    channels, nodefaults = _channels(packages, config)
    if request.from_history:
        conda = tuple(_history_specs(prefix, config))
        if not conda:
            raise ActionError(f"{prefix} has no conda-meta/history with requested specs; export without "
                              "--from-history")
    elif request.with_builds:
        conda = tuple(f"{p.name}={p.version}={p.build}" for p in packages)
    else:
        conda = tuple(f"{p.name}={p.version}" for p in packages)
    pip = tuple(f"{name}=={version}" for name, version in _pip_distributions(prefix, snapshot.packages.get("python"),
                                                                             requested_only=request.from_history))
    name = request.name or prefix.name
    return Exported(name=name, channels=tuple(channels), conda=conda, pip=pip,
                    subdir=snapshot.platform or "", nodefaults=nodefaults)


def _channel_name(url: str, config: CondaConfig, defaults: set[str]) -> str:
    resolved = resolve_channel(url, config)
    base = resolved.urls[0].rstrip("/") if resolved.urls else url.rstrip("/")
    if base in defaults:
        return DEFAULTS
    if config.default_channels is None and base.endswith(_CONDA_DEFAULT_PATHS):
        return DEFAULTS  # a record conda itself installed from its built-in default channels
    return resolved.name


def _channels(packages: list[InstalledPackage], config: CondaConfig) -> tuple[list[str], bool]:
    defaults = {u.rstrip("/") for u in resolve_channel(DEFAULTS, config).urls}
    counts: Counter[str] = Counter()
    for package in packages:
        if package.channel:
            counts[_channel_name(package.channel, config, defaults)] += 1
    configured = [_channel_name(c, config, defaults) if "://" in c else c for c in config.channels]
    rank = {name: i for i, name in enumerate(configured)}
    ordered = sorted(counts, key=lambda c: (rank.get(c, len(rank)), -counts[c], c))
    return ordered, bool(counts) and DEFAULTS not in counts


def _history_specs(prefix: Path, config: CondaConfig) -> list[str]:
    """The specs asked for, as conda's `History.get_requested_specs_map` keeps them (newest wins)."""
    try:  # the prefix may be one a document names: read as any file a document names (no FIFO, bounded)
        text = read_bytes(prefix / "conda-meta" / "history", max_bytes=_HISTORY_MAX).decode("utf-8", "replace")
    except OSError:
        return []
    requested: dict[str, str] = {}
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped.startswith("#"):
            continue
        body = stripped[1:].strip()
        for kind in ("update specs:", "install specs:", "create specs:", "remove specs:", "neutered specs:"):
            if not body.startswith(kind):
                continue
            try:
                value = ast.literal_eval(body[len(kind):].strip())
            except (ValueError, SyntaxError):
                break
            if not isinstance(value, list):
                break
            for item in value:
                spec = _portable_spec(str(item), config)
                name = parse_spec(spec).name
                if not name:
                    continue
                if kind == "remove specs:":
                    requested.pop(name, None)
                else:
                    requested[name] = spec
            break
    return [requested[name] for name in sorted(requested)]


def _portable_spec(spec: str, config: CondaConfig) -> str:
    """`https://conda.anaconda.org/conda-forge::numpy` as `conda-forge::numpy`; other specs unchanged."""
    channel, sep, rest = spec.partition("::")
    if not sep or "://" not in channel:
        return spec.strip()
    defaults = {u.rstrip("/") for u in resolve_channel(DEFAULTS, config).urls}
    return f"{_channel_name(channel, config, defaults)}::{rest.strip()}"


def _small(path: Path) -> str | None:
    """A short metadata file's text; None for anything that is not a small regular file."""
    try:
        return read_bytes(path, max_bytes=_SMALL).decode("utf-8", "replace")
    except OSError:  # missing, or Refused: a FIFO, a device, too large
        return None


def _pip_distributions(prefix: Path, python: InstalledPackage | None, *,
                       requested_only: bool) -> list[tuple[str, str]]:
    folder = site_packages(prefix, python)
    if folder is None:
        return []
    try:
        entries = sorted(os.listdir(folder))
    except OSError:
        return []
    found: dict[str, tuple[str, str]] = {}
    for entry in entries:
        if not entry.endswith(".dist-info"):
            continue
        info = folder / entry
        installer = (_small(info / "INSTALLER") or "").strip()
        if not installer or installer.lower() == "conda":
            continue
        if requested_only and not (info / "REQUESTED").exists():
            continue
        name, version = _name_version(info, entry)
        if name and version:
            found.setdefault(name.lower(), (name, version))
    return sorted(found.values(), key=lambda item: item[0].lower())


def _name_version(info: Path, entry: str) -> tuple[str | None, str | None]:
    name = version = None
    metadata = _small(info / "METADATA") or ""
    for line in metadata.splitlines():
        if not line.strip():
            break
        key, _, value = line.partition(":")
        if key == "Name" and name is None:
            name = value.strip()
        elif key == "Version" and version is None:
            version = value.strip()
    if not name or not version:
        stem, _, tail = entry[: -len(".dist-info")].rpartition("-")
        name, version = name or stem or None, version or tail or None
    return name, version


def requested_not_listed(prefix: Path, conda_names: set[str], pip_names: set[str],
                         config: CondaConfig) -> tuple[list[str], list[str]]:
    """What was asked for in the environment (conda-meta/history; pip's REQUESTED) that the file does not
    list: the conda specs and the `name==version` pip lines (the other direction of drift)."""
    from packaging.utils import canonicalize_name

    conda = [spec for spec in _history_specs(prefix, config) if parse_spec(spec).name not in conda_names]
    snapshot = read_installed(prefix, read_pip=False)
    pip = [f"{name}=={version}" for name, version in
           _pip_distributions(prefix, snapshot.packages.get("python"), requested_only=True)
           if str(canonicalize_name(name)) not in pip_names]
    return conda, pip


def channel_urls(config: CondaConfig, root: Path) -> Callable[[str], Sequence[str]]:
    """What a channel written in a file at ``root`` stands for, as conda resolves it (for merging channels)."""
    def urls(channel: str) -> Sequence[str]:
        try:
            return resolve_channel(channel, config, root).urls
        except Exception:  # an unreadable channel text stands for itself
            return (channel,)
    return urls
