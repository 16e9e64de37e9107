"""Conda's configuration and channel names, as conda reads them.

This module owns the `.condarc` search path, reading and merging those files into one `CondaConfig`
the way conda's `Configuration` does (file I/O, never network), and turning the channels an
environment file names into the URLs conda would fetch from.
"""

from __future__ import annotations

import os
import re
import stat
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from envls.host.readfile import read_bytes

DEFAULTS = "defaults"

# conda's own system-wide folders; read only when describing the real machine (see `load_config`).
SYSTEM_CONFIG_DIRS: tuple[Path, ...] = (
    (Path("C:/ProgramData/conda"),) if sys.platform == "win32" else (Path("/etc/conda"), Path("/var/lib/conda"))
)

_YAML_SUFFIXES = (".yml", ".yaml")
_CONDARC_NAMES = (".condarc", "condarc")
URL_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_VARIABLE = re.compile(r"\$(\w+)|\$\{([^}]*)\}")


def _empty_map() -> Mapping[str, Any]:
    return MappingProxyType({})


@dataclass(frozen=True)
class CondaConfig:
    """The merged configuration; the field defaults are what conda uses when nothing is configured."""

    channel_alias: str | None = None
    default_channels: tuple[str, ...] | None = None
    custom_channels: Mapping[str, str] = field(default_factory=_empty_map, hash=False)
    custom_multichannels: Mapping[str, tuple[str, ...]] = field(default_factory=_empty_map, hash=False)
    channels: tuple[str, ...] = (DEFAULTS,)
    # Only the configured folders: conda appends its fixed ones (`<root>/envs`, `~/.conda/envs`, ...) itself.
    envs_dirs: tuple[str, ...] = ()
    pkgs_dirs: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()


def condarc_paths(
    environ: Mapping[str, str],
    home: Path,
    conda_root: Path | None = None,
    system_dirs: Sequence[Path] = (),
) -> list[Path]:
    """conda's search path, lowest priority first, without touching the disk.

    Entries named `condarc.d` are folders whose `*.yml` / `*.yaml` files are read in name order;
    `load_config` tells files from folders and skips what does not exist.
    """
    root = conda_root if conda_root is not None else conda_root_from(environ)
    xdg = environ.get("XDG_CONFIG_HOME") or str(home / ".config")
    folders: list[Path] = [*system_dirs]
    if root is not None:
        folders.append(root)
    folders += [Path(xdg) / "conda", home / ".config" / "conda"]
    paths = [path for folder in folders for path in _three(folder)]
    paths += [home / ".conda" / ".condarc", home / ".conda" / "condarc", home / ".conda" / "condarc.d"]
    paths.append(home / ".condarc")
    if environ.get("CONDA_PREFIX"):
        paths += _three(Path(environ["CONDA_PREFIX"]))
    condarc = _condarc_variable(environ, home)
    if condarc is not None:
        paths.append(condarc)
    # XDG_CONFIG_HOME usually is ~/.config, which conda lists twice; a file is read once, at its first place.
    return list(dict.fromkeys(paths))


def _three(folder: Path) -> list[Path]:
    return [folder / ".condarc", folder / "condarc", folder / "condarc.d"]


def conda_root_from(environ: Mapping[str, str]) -> Path | None:
    """The base installation: `CONDA_EXE` is `<root>/bin/conda` (`<root>\\Scripts\\conda.exe` on Windows)."""
    if environ.get("CONDA_EXE"):
        return Path(environ["CONDA_EXE"]).parent.parent
    if environ.get("MAMBA_ROOT_PREFIX"):
        return Path(environ["MAMBA_ROOT_PREFIX"])
    return None


def load_config(
    environ: Mapping[str, str] | None = None,
    home: Path | None = None,
    conda_root: Path | None = None,
    system_dirs: Sequence[Path] | None = None,
) -> CondaConfig:
    """Read and merge every configuration file on the search path, then conda's `CONDA_*` variables.

    Never raises for a bad file: it is named in `problems` and skipped. `system_dirs=None` reads
    `SYSTEM_CONFIG_DIRS` only when `environ` is None too, so a test that passes its own environment
    never picks up the machine's `/etc/conda`.
    """
    if system_dirs is None:
        system_dirs = SYSTEM_CONFIG_DIRS if environ is None else ()
    env: Mapping[str, str] = os.environ if environ is None else environ
    home = home if home is not None else Path(os.path.expanduser("~"))
    layers: list[dict[str, Any]] = []
    sources: list[str] = []
    problems: list[str] = []
    for candidate in condarc_paths(env, home, conda_root, system_dirs):
        for path in _files_at(candidate, is_condarc_variable=candidate == _condarc_variable(env, home), problems=problems):
            layer = _read_layer(path, problems)
            if layer is not None:
                layers.append(layer)
                sources.append(str(path))
    layers.append(_environment_layer(env))
    return _merge(layers, env, home, tuple(sources), tuple(problems))


def _condarc_variable(environ: Mapping[str, str], home: Path) -> Path | None:
    """`$CONDARC` as conda reads it: `$VAR`/`${VAR}` and a leading `~` expanded (conda/common/configuration.py
    `Configuration._expand_search_path`, which runs each entry through `custom_expandvars`, then `expanduser`)."""
    raw = environ.get("CONDARC", "").strip()
    return Path(_expand_folder(_expand_variables(raw, environ), home)) if raw else None


def _files_at(candidate: Path, *, is_condarc_variable: bool, problems: list[str]) -> list[Path]:
    """The files one search-path entry stands for: itself, a folder's YAML files, or nothing."""
    try:
        mode = candidate.stat().st_mode
    except OSError:
        # Like conda: whatever cannot be looked at (missing, or behind a folder we may not enter) is not there.
        return []
    if stat.S_ISDIR(mode):
        try:
            return sorted(p for p in candidate.iterdir() if p.suffix in _YAML_SUFFIXES and p.is_file())
        except OSError as error:
            problems.append(f"{candidate}: cannot list the folder: {error.strerror or error}")
            return []
    if not stat.S_ISREG(mode):
        return []
    if is_condarc_variable and candidate.name not in _CONDARC_NAMES and candidate.suffix not in _YAML_SUFFIXES:
        # conda refuses such a CONDARC; saying so beats silently ignoring the user's setting.
        problems.append(f"{candidate}: CONDARC must name a file called .condarc or condarc, or ending in .yml or .yaml")
        return []
    return [candidate]


_CONDARC_MAX = 1024 * 1024  # a configuration file of a megabyte is no configuration file

def _read_layer(path: Path, problems: list[str]) -> dict[str, Any] | None:
    """One file's recognised keys, type-checked; None when the file cannot be used at all."""
    try:  # a FIFO or a device named by CONDARC must not hang the server: read as every file is read
        text = read_bytes(path, max_bytes=_CONDARC_MAX).decode("utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        problems.append(f"{path}: cannot read: {reason}")
        return None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        problems.append(f"{path}: invalid YAML: {_yaml_reason(error)}")
        return None
    if data is None:
        return {}
    if not isinstance(data, dict):
        problems.append(f"{path}: the top level is not a mapping")
        return None
    return _layer_from(data, f"{path}", problems)


def _yaml_reason(error: yaml.YAMLError) -> str:
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    return f"{problem} (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else str(problem)


def _layer_from(data: Mapping[Any, Any], source: str, problems: list[str]) -> dict[str, Any]:
    """Pick the keys envls uses, under conda's names and aliases, dropping values of the wrong type."""
    layer: dict[str, Any] = {}

    def bad(key: str, expected: str) -> None:
        problems.append(f"{source}: '{key}' should be {expected}; ignored")

    for key, aliases in (("channels", ("channels", "channel")), ("default_channels", ("default_channels",)),
                         ("envs_dirs", ("envs_dirs", "envs_path")), ("pkgs_dirs", ("pkgs_dirs",))):
        for alias in aliases:
            if alias in data:
                items = _strings(data[alias])
                if items is None:
                    bad(alias, "a list of strings")
                else:
                    layer[key] = items
                break
    if data.get("channel_alias") is not None:
        value = data["channel_alias"]
        if not isinstance(value, str) or not URL_SCHEME.match(value.strip()):
            bad("channel_alias", "a URL with a scheme, like http://host/path")
        else:
            layer["channel_alias"] = value.strip()
    if data.get("custom_channels") is not None:
        raw = data["custom_channels"]
        if not isinstance(raw, dict) or not all(isinstance(v, str) for v in raw.values()):
            bad("custom_channels", "a mapping of channel names to URLs")
        else:
            layer["custom_channels"] = {str(k).strip("/"): v.strip() for k, v in raw.items()}
    if data.get("custom_multichannels") is not None:
        raw = data["custom_multichannels"]
        members = {str(k): _strings(v) for k, v in raw.items()} if isinstance(raw, dict) else None
        if members is None or any(v is None for v in members.values()):
            bad("custom_multichannels", "a mapping of names to lists of channels")
        else:
            layer["custom_multichannels"] = members
    return layer


def _strings(value: Any) -> list[str] | None:
    """A YAML list as strings (conda accepts numbers here), or None when it is not a list."""
    if value is None:
        return []
    if not isinstance(value, list) or any(isinstance(item, (dict, list)) for item in value):
        return None
    return [str(item).strip() for item in value if item is not None and str(item).strip()]


def _environment_layer(environ: Mapping[str, str]) -> dict[str, Any]:
    """conda's `CONDA_<KEY>` variables, which rank above every file."""
    layer: dict[str, Any] = {}

    def split(name: str, delimiter: str) -> list[str] | None:
        raw = environ.get(name)
        return None if not raw else [part.strip() for part in raw.split(delimiter) if part.strip()]

    for key, name, delimiter in (("channels", "CONDA_CHANNELS", ","), ("default_channels", "CONDA_DEFAULT_CHANNELS", ","),
                                 ("envs_dirs", "CONDA_ENVS_DIRS", os.pathsep), ("envs_dirs", "CONDA_ENVS_PATH", os.pathsep),
                                 ("pkgs_dirs", "CONDA_PKGS_DIRS", ",")):
        items = split(name, delimiter)
        if items is not None and key not in layer:
            layer[key] = items
    alias = environ.get("CONDA_CHANNEL_ALIAS", "").strip()
    if URL_SCHEME.match(alias):
        layer["channel_alias"] = alias
    return layer


def _merge(layers: list[dict[str, Any]], environ: Mapping[str, str], home: Path,
           sources: tuple[str, ...], problems: tuple[str, ...]) -> CondaConfig:
    """conda's rules: a scalar from the last layer wins; lists concatenate, the last layer's items first."""

    def expand(text: str) -> str:
        return _expand_variables(text, environ)

    def merged_list(key: str) -> tuple[str, ...] | None:
        found = [layer[key] for layer in layers if key in layer]
        return None if not found else _merge_lists(found)

    alias = next((layer["channel_alias"] for layer in reversed(layers) if "channel_alias" in layer), None)
    default_channels = merged_list("default_channels")
    channels = merged_list("channels")
    custom_channels: dict[str, str] = {}
    multi_parts: dict[str, list[list[str]]] = {}
    for layer in layers:
        custom_channels.update(layer.get("custom_channels", {}))
        for name, members in layer.get("custom_multichannels", {}).items():
            multi_parts.setdefault(name, []).append(members)
    return CondaConfig(
        channel_alias=expand(alias) if alias is not None else None,
        default_channels=tuple(map(expand, default_channels)) if default_channels is not None else None,
        custom_channels=MappingProxyType({name: expand(url) for name, url in custom_channels.items()}),
        custom_multichannels=MappingProxyType(
            {name: tuple(map(expand, _merge_lists(parts))) for name, parts in multi_parts.items()}),
        # An explicit `channels: []` is a setting too: conda then has no channels of its own to add.
        channels=tuple(map(expand, channels)) if channels is not None else (DEFAULTS,),
        envs_dirs=tuple(_expand_folder(expand(d), home) for d in merged_list("envs_dirs") or ()),
        pkgs_dirs=tuple(_expand_folder(expand(d), home) for d in merged_list("pkgs_dirs") or ()),
        sources=sources,
        problems=problems,
    )


def _merge_lists(lists: Sequence[Sequence[str]]) -> tuple[str, ...]:
    # conda walks the sources from the highest priority down and keeps each item's first appearance,
    # so `channels: [conda-forge]` in ~/.condarc lands before the installation's `channels: [defaults]`.
    return tuple(dict.fromkeys(item for items in reversed(lists) for item in items))


def _expand_variables(text: str, environ: Mapping[str, str]) -> str:
    """`$NAME` and `${NAME}` from `environ`, unknown ones left as written (as `os.path.expandvars` does)."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        return environ.get(name, match.group(0))

    return _VARIABLE.sub(value, text)


def _expand_folder(text: str, home: Path) -> str:
    if text == "~" or text.startswith(("~/", "~\\")):
        return str(home / text[2:]) if len(text) > 1 else str(home)
    return text
