"""The user's conda tools (conda, mamba, micromamba): where they are, and which one a backend runs.

Tools are found in a logged order, as ruff-lsp finds ruff: the setting, `CONDA_EXE` / `MAMBA_EXE`, PATH,
then the usual install folders. Nothing is run: a tool's root prefix is read off where it lives
(`<root>/bin/conda`, `<root>\\Scripts\\conda.exe`, `MAMBA_ROOT_PREFIX` for micromamba).
The environments they know are envls/host/environments.py's.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

log = logging.getLogger(__name__)

ToolKind = Literal["conda", "mamba", "micromamba"]
Which = Callable[[str], str | None]

# The order PATH is searched in: mamba is conda's faster front end, micromamba the standalone one.
PATH_ORDER: tuple[ToolKind, ...] = ("mamba", "micromamba", "conda")
TOOL_PREFERENCE: dict[str, int] = {"mamba": 0, "micromamba": 1, "conda": 2}

# Where each tool sits inside an installation (a root prefix), in the order they are looked for.
_IN_ROOT_POSIX: tuple[tuple[ToolKind, str], ...] = (
    ("mamba", "bin/mamba"), ("mamba", "condabin/mamba"), ("micromamba", "bin/micromamba"),
    ("conda", "bin/conda"), ("conda", "condabin/conda"),
)
_IN_ROOT_WINDOWS: tuple[tuple[ToolKind, str], ...] = (
    ("mamba", "Library/bin/mamba.exe"), ("mamba", "Scripts/mamba.exe"), ("mamba", "condabin/mamba.bat"),
    ("micromamba", "Library/bin/micromamba.exe"),
    ("conda", "Scripts/conda.exe"), ("conda", "condabin/conda.bat"),
)
_INSTALL_NAMES = ("miniforge3", "miniconda3", "anaconda3", "mambaforge", "micromamba", "miniforge", "miniconda",
                  "anaconda")


@dataclass(frozen=True)
class CondaTool:
    """One conda tool: what it is, where, the installation it belongs to, and how it was found."""

    kind: ToolKind
    path: str
    root_prefix: str | None
    source: str  # "setting", "CONDA_EXE", "MAMBA_EXE", "PATH" or "install folder"


def is_windows(windows: bool | None) -> bool:
    return sys.platform == "win32" if windows is None else windows


def _kind_from_name(path: Path, default: ToolKind | None) -> ToolKind | None:
    stem = path.name.lower()
    for suffix in (".exe", ".bat", ".cmd"):
        stem = stem.removesuffix(suffix)
    if stem in ("conda", "mamba", "micromamba"):
        return stem  # type: ignore[return-value]
    return default


def _is_tool_file(path: Path, windows: bool) -> bool:
    try:
        return path.is_file() and (windows or os.access(path, os.X_OK))
    except OSError:
        return False


def is_prefix(path: Path) -> bool:
    try:
        return (path / "conda-meta").is_dir()
    except OSError:
        return False


def micromamba_root(environ: Mapping[str, str], home: Path, windows: bool) -> Path | None:
    """micromamba's root prefix as micromamba picks it: `MAMBA_ROOT_PREFIX`, `~/micromamba` (1.x), the data dir (2.x)."""
    if environ.get("MAMBA_ROOT_PREFIX"):
        return Path(os.path.expanduser(environ["MAMBA_ROOT_PREFIX"]))
    if windows:
        data = Path(environ["APPDATA"]) if environ.get("APPDATA") else home / "AppData" / "Roaming"
    else:
        data = Path(environ["XDG_DATA_HOME"]) if environ.get("XDG_DATA_HOME") else home / ".local" / "share"
    for candidate in (home / "micromamba", data / "mamba"):
        if any((candidate / part).exists() for part in ("conda-meta", "envs", "pkgs")):
            return candidate
    return None


def _root_of(kind: ToolKind, path: Path, environ: Mapping[str, str], home: Path, windows: bool) -> str | None:
    """The installation a tool belongs to, read off its path (symlinks followed); None when it cannot be told."""
    if kind == "micromamba":
        root = micromamba_root(environ, home, windows)
        return str(root) if root is not None else None
    real = Path(os.path.realpath(path))
    parent = real.parent
    candidates = [parent.parent]
    if parent.name.lower() == "bin" and parent.parent.name.lower() == "library":
        candidates.insert(0, parent.parent.parent)  # <root>\Library\bin\mamba.exe (mamba 2 on Windows)
    for candidate in candidates:
        if is_prefix(candidate):
            return str(candidate)
    log.debug("conda tools: %s is in no installation (no conda-meta next to %s)", path, parent)
    return None


def _tool(kind: ToolKind, path: Path, source: str, environ: Mapping[str, str], home: Path,
          windows: bool) -> CondaTool:
    root = _root_of(kind, path, environ, home, windows)
    log.debug("conda tools: %s: %s at %s (root prefix %s)", source, kind, path, root)
    return CondaTool(kind, str(path), root, source)


def tools_in_root(root: Path, source: str, environ: Mapping[str, str], home: Path, windows: bool) -> list[CondaTool]:
    """Every tool an installation holds, mamba first."""
    found: list[CondaTool] = []
    seen: set[ToolKind] = set()
    for kind, relative in _IN_ROOT_WINDOWS if windows else _IN_ROOT_POSIX:
        path = root / relative
        if kind not in seen and _is_tool_file(path, windows):
            seen.add(kind)
            found.append(_tool(kind, path, source, environ, home, windows))
    return found


def usual_install_folders(home: Path, environ: Mapping[str, str], windows: bool | None = None) -> list[Path]:
    """The folders installers put conda in by default, for this user first, then for everyone."""
    if is_windows(windows):
        bases = [Path(environ["USERPROFILE"]) if environ.get("USERPROFILE") else home]
        local = Path(environ["LOCALAPPDATA"]) if environ.get("LOCALAPPDATA") else home / "AppData" / "Local"
        bases.append(local)
        folders = [base / name for base in bases for name in _INSTALL_NAMES]
        folders += [local / "Continuum" / "anaconda3", local / "Continuum" / "miniconda3"]
        program_data = Path(environ.get("PROGRAMDATA") or environ.get("ALLUSERSPROFILE") or "C:/ProgramData")
        folders += [program_data / name for name in _INSTALL_NAMES[:4]]
        return list(dict.fromkeys(folders))
    folders = [home / name for name in _INSTALL_NAMES]
    folders += [home / ".local" / "share" / "mamba", home / "opt" / "miniconda3", home / "opt" / "anaconda3"]
    folders += [Path("/opt") / name for name in ("conda", "miniconda3", "miniforge3", "anaconda3", "mambaforge")]
    folders += [Path("/opt/homebrew/Caskroom/miniforge/base"), Path("/usr/local/Caskroom/miniforge/base"),
                Path("/usr/local/miniconda3"), Path("/usr/local/anaconda3")]
    return folders


def usual_micromamba_binaries(home: Path, environ: Mapping[str, str], windows: bool | None = None) -> list[Path]:
    """Where micromamba's installer puts the lone binary (it lives in no installation of its own)."""
    if is_windows(windows):
        local = Path(environ["LOCALAPPDATA"]) if environ.get("LOCALAPPDATA") else home / "AppData" / "Local"
        return [local / "micromamba" / "micromamba.exe"]
    return [home / ".local" / "bin" / "micromamba", home / "bin" / "micromamba",
            Path("/opt/homebrew/bin/micromamba"), Path("/usr/local/bin/micromamba")]


def find_conda_tools(
    setting: str | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    home: Path | None = None,
    which: Which | None = None,
    windows: bool | None = None,
    install_folders: Sequence[Path] | None = None,
    micromamba_binaries: Sequence[Path] | None = None,
) -> list[CondaTool]:
    """Every conda tool found, in the order found, each path once.

    The order: `setting` (a tool, or an installation folder), `CONDA_EXE`, `MAMBA_EXE`, PATH (mamba,
    micromamba, conda), then the usual install folders. Never runs a tool. `which` defaults to
    `shutil.which` on `environ`'s PATH; the folder lists default to the usual ones.
    """
    env: Mapping[str, str] = os.environ if environ is None else environ
    home = home if home is not None else Path(os.path.expanduser("~"))
    win = is_windows(windows)
    path_variable = env.get("PATH")

    def on_path(name: str) -> str | None:
        return which(name) if which is not None else shutil.which(name, path=path_variable)

    tools: list[CondaTool] = []
    seen: set[str] = set()

    def add(found: Iterable[CondaTool]) -> None:
        for tool in found:
            key = os.path.normcase(os.path.realpath(tool.path))
            if key in seen:
                log.debug("conda tools: %s (%s) was found already", tool.path, tool.source)
                continue
            seen.add(key)
            tools.append(tool)

    add(_from_setting(setting, env, home, win))
    variables: tuple[tuple[str, ToolKind], ...] = (("CONDA_EXE", "conda"), ("MAMBA_EXE", "micromamba"))
    for variable, default in variables:
        value = env.get(variable)
        if not value:
            log.debug("conda tools: %s is not set", variable)
            continue
        path = Path(os.path.expanduser(value))
        kind = _kind_from_name(path, default)
        if kind is None or not _is_tool_file(path, win):
            log.info("conda tools: %s=%s is no executable file; ignored", variable, value)
            continue
        add([_tool(kind, path, variable, env, home, win)])
    for name in PATH_ORDER:
        found = on_path(name)
        if not found:
            log.debug("conda tools: %s is not on PATH", name)
            continue
        add([_tool(name, Path(found), "PATH", env, home, win)])
    for folder in install_folders if install_folders is not None else usual_install_folders(home, env, win):
        if not folder.is_dir():
            log.debug("conda tools: install folder %s: not there", folder)
            continue
        in_root = tools_in_root(folder, "install folder", env, home, win)
        log.debug("conda tools: install folder %s: %s", folder, ", ".join(t.kind for t in in_root) or "no tools")
        add(in_root)
    for binary in micromamba_binaries if micromamba_binaries is not None else usual_micromamba_binaries(home, env, win):
        if _is_tool_file(binary, win):
            add([_tool("micromamba", binary, "install folder", env, home, win)])
        else:
            log.debug("conda tools: %s: not there", binary)
    log.debug("conda tools: %s", "; ".join(f"{t.kind} {t.path} ({t.source})" for t in tools) or "none found")
    return tools


def _from_setting(setting: str | None, environ: Mapping[str, str], home: Path, windows: bool) -> list[CondaTool]:
    if not setting or not setting.strip():
        log.debug("conda tools: no tool set in the settings")
        return []
    path = Path(os.path.expanduser(setting.strip()))
    if path.is_dir():
        found = tools_in_root(path, "setting", environ, home, windows)
        if not found:
            log.warning("conda tools: the folder %s from the settings holds no conda, mamba or micromamba", path)
        return found
    if not _is_tool_file(path, windows):
        log.warning("conda tools: %s from the settings is no executable file; ignored", path)
        return []
    kind = _kind_from_name(path, None)
    if kind is None:
        log.info("conda tools: cannot tell from its name what %s is; taking it for conda", path)
        kind = "conda"
    tool = _tool(kind, path, "setting", environ, home, windows)
    # The other tools of that installation come next: a named backend (`mamba`) then runs the one beside it.
    beside = tools_in_root(Path(tool.root_prefix), "beside setting", environ, home, windows) if tool.root_prefix else []
    return [tool, *beside]


def choose_tool(tools: Sequence[CondaTool], backend: str = "auto") -> CondaTool | None:
    """The one policy for which tool a backend runs (``tools`` in the order found: the `condaPath`
    setting's first).

    "auto": the setting's tool as it is; else the first tool found, swapped for mamba (then micromamba)
    of the same installation, so that environments land where the user's own tool looks for them and
    another installation's mamba on PATH is never picked. A named kind: that kind from the first tool's
    installation, else the first of that kind. None when there is none (for "auto": the embedded installer)."""
    if not tools:
        return None
    first = tools[0]
    if backend != "auto":
        of_kind = [t for t in tools if t.kind == backend]
        beside = [t for t in of_kind if first.root_prefix is not None and t.root_prefix == first.root_prefix]
        return next(iter(beside or of_kind), None)
    if first.source == "setting" or first.root_prefix is None:
        return first
    same_root = [t for t in tools if t.root_prefix == first.root_prefix]
    return min(same_root, key=lambda t: TOOL_PREFERENCE[t.kind])
