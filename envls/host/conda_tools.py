"""The user's conda tools (conda, mamba, micromamba) and the environments they know.

Tools are found in a logged order, as ruff-lsp finds ruff: the setting, `CONDA_EXE` / `MAMBA_EXE`, PATH,
then the usual install folders. Nothing is run: a tool's root prefix is read off where it lives
(`<root>/bin/conda`, `<root>\\Scripts\\conda.exe`, `MAMBA_ROOT_PREFIX` for micromamba) and its version,
when wanted, off the root's conda-meta. Environments are the folders with a `conda-meta` folder in conda's
envs directories, the entries of `~/.conda/environments.txt`, and the root prefixes themselves (`base`).
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

from envls.channels.condarc import CondaConfig

log = logging.getLogger(__name__)

ToolKind = Literal["conda", "mamba", "micromamba"]
Which = Callable[[str], str | None]

# The order PATH is searched in: mamba is conda's faster front end, micromamba the standalone one.
PATH_ORDER: tuple[ToolKind, ...] = ("mamba", "micromamba", "conda")
_PREFERENCE: dict[str, int] = {"mamba": 0, "micromamba": 1, "conda": 2}

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


@dataclass(frozen=True)
class InstalledEnv:
    """An existing environment: `name` is None for one outside every envs directory (conda shows no name)."""

    name: str | None
    prefix: str
    python_path: str | None
    manager: str


def _is_windows(windows: bool | None) -> bool:
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


def _is_prefix(path: Path) -> bool:
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
        if _is_prefix(candidate):
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
    if _is_windows(windows):
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
    if _is_windows(windows):
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
    win = _is_windows(windows)
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
    return min(same_root, key=lambda t: _PREFERENCE[t.kind])


# -- Environments ---------------------------------------------------------------------------------


def _root_writable(root: Path) -> bool:
    # conda's test: can `<root>/conda-meta/history` be opened for appending? Asked without opening it.
    history = root / "conda-meta" / "history"
    return history.is_file() and os.access(history, os.W_OK)


def root_prefixes(tools: Sequence[CondaTool], environ: Mapping[str, str]) -> list[Path]:
    """The installations of the tools found, in their order, and `MAMBA_ROOT_PREFIX` even when no tool was found."""
    roots = [Path(t.root_prefix) for t in tools if t.root_prefix]
    if environ.get("MAMBA_ROOT_PREFIX"):
        roots.append(Path(os.path.expanduser(environ["MAMBA_ROOT_PREFIX"])))
    return list(dict.fromkeys(roots))


def envs_dirs(
    config: CondaConfig,
    tools: Sequence[CondaTool],
    environ: Mapping[str, str] | None = None,
    home: Path | None = None,
    windows: bool | None = None,
) -> list[Path]:
    """conda's envs directories, in conda's order.

    The configured ones (`envs_dirs`, `CONDA_ENVS_DIRS`) first; then `<root>/envs` of each writable root,
    `~/.conda/envs`, the read-only roots' `envs` (conda puts a root it cannot write after the user's folder),
    and on Windows `%LOCALAPPDATA%\\conda\\conda\\envs`.
    """
    env: Mapping[str, str] = os.environ if environ is None else environ
    home = home if home is not None else Path(os.path.expanduser("~"))
    roots = root_prefixes(tools, env)
    writable_roots = [root for root in roots if _root_writable(root)]
    dirs = [Path(d) for d in config.envs_dirs]
    dirs += [root / "envs" for root in writable_roots]
    dirs.append(home / ".conda" / "envs")
    dirs += [root / "envs" for root in roots if root not in writable_roots]
    if _is_windows(windows):
        local = Path(env["LOCALAPPDATA"]) if env.get("LOCALAPPDATA") else home / "AppData" / "Local"
        dirs.append(local / "conda" / "conda" / "envs")
    result = list(dict.fromkeys(dirs))
    log.debug("envs directories: %s", ", ".join(map(str, result)))
    return result


def _python_of(prefix: Path, windows: bool) -> str | None:
    python = prefix / "python.exe" if windows else prefix / "bin" / "python"
    return str(python) if python.exists() else None


def _key(path: Path | str) -> str:
    return os.path.normcase(os.path.realpath(path))


def list_environments(
    config: CondaConfig,
    tools: Sequence[CondaTool],
    environ: Mapping[str, str] | None = None,
    home: Path | None = None,
    windows: bool | None = None,
) -> list[InstalledEnv]:
    """Every environment: the roots (`base`), the envs directories in order, then `environments.txt`'s others."""
    env: Mapping[str, str] = os.environ if environ is None else environ
    home = home if home is not None else Path(os.path.expanduser("~"))
    win = _is_windows(windows)
    dirs = envs_dirs(config, tools, env, home, win)
    roots = root_prefixes(tools, env)
    managers = _managers(tools, env)
    default_manager = min((t.kind for t in tools), key=_PREFERENCE.__getitem__, default="conda")
    found: list[InstalledEnv] = []
    seen: set[str] = set()

    def add(name: str | None, prefix: Path, where: str) -> None:
        key = _key(prefix)
        if key in seen or not _is_prefix(prefix):
            return
        seen.add(key)
        root = prefix if _key(prefix) in managers else prefix.parent.parent
        manager = managers.get(_key(root), default_manager)
        found.append(InstalledEnv(name, str(prefix), _python_of(prefix, win), manager))
        log.debug("environments: %s at %s (%s, from %s)", name or "(no name)", prefix, manager, where)

    for root in roots:
        add("base", root, "root prefix")
    root_keys = {_key(root) for root in roots}
    dir_keys = {_key(d) for d in dirs}
    own = envls_envs_dir(env)  # where envls' embedded installer puts environments when there is no conda
    if _key(own) not in dir_keys:
        dirs = [*dirs, own]
        dir_keys.add(_key(own))
    for folder in dirs:
        try:
            children = sorted(os.listdir(folder))
        except OSError:
            log.debug("environments: envs directory %s cannot be listed", folder)
            continue
        for child in children:
            add(child, folder / child, str(folder))
    registry = home / ".conda" / "environments.txt"
    for line in _lines(registry):
        prefix = Path(line)
        name = "base" if _key(prefix) in root_keys else (prefix.name if _key(prefix.parent) in dir_keys else None)
        add(name, prefix, str(registry))
    log.debug("environments: %d found", len(found))
    return found


def _managers(tools: Sequence[CondaTool], environ: Mapping[str, str]) -> dict[str, str]:
    """Each root prefix's preferred tool kind."""
    managers: dict[str, str] = {}
    for tool in sorted(tools, key=lambda t: _PREFERENCE[t.kind]):
        if tool.root_prefix:
            managers.setdefault(_key(tool.root_prefix), tool.kind)
    if environ.get("MAMBA_ROOT_PREFIX"):
        managers.setdefault(_key(os.path.expanduser(environ["MAMBA_ROOT_PREFIX"])), "micromamba")
    return managers


def _lines(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        log.debug("environments: no %s", path)
        return []
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def _looks_like_path(text: str) -> bool:
    return "/" in text or "\\" in text or text.startswith(("~", ".")) or os.sep in text


def find_environment(
    name_or_prefix: str,
    config: CondaConfig,
    tools: Sequence[CondaTool],
    environ: Mapping[str, str] | None = None,
    home: Path | None = None,
    windows: bool | None = None,
    base_dir: Path | None = None,
) -> InstalledEnv | None:
    """The environment a name or a prefix stands for, as `conda activate` finds it; None when it does not exist.

    A name is looked up in the envs directories in order (`base` and `root` are the first root prefix);
    a path (relative ones count from `base_dir`) needs a `conda-meta` folder.
    """
    env: Mapping[str, str] = os.environ if environ is None else environ
    home = home if home is not None else Path(os.path.expanduser("~"))
    win = _is_windows(windows)
    text = name_or_prefix.strip()
    if not text:
        return None
    known = list_environments(config, tools, env, home, win)
    if _looks_like_path(text):
        prefix = Path(os.path.expanduser(text))
        if not prefix.is_absolute():
            prefix = (base_dir or Path.cwd()) / prefix
        key = _key(prefix)
        for installed in known:
            if _key(installed.prefix) == key:
                return installed
        if _is_prefix(prefix):
            manager = min((t.kind for t in tools), key=_PREFERENCE.__getitem__, default="conda")
            return InstalledEnv(None, str(prefix), _python_of(prefix, win), manager)
        return None
    if text == "root":
        text = "base"
    found = next((installed for installed in known if installed.name == text), None)
    if found is None:
        # Made by envls' embedded installer on a machine without conda: its own folder.
        own = envls_envs_dir(env) / text
        if _is_prefix(own):
            found = InstalledEnv(text, str(own), _python_of(own, win), "envls")
    return found


def envls_envs_dir(environ: Mapping[str, str] | None = None) -> Path:
    """envls' own folder for environments when no conda is found: `$XDG_DATA_HOME/envls/envs`
    (`%LOCALAPPDATA%\\envls\\envs` on Windows)."""
    env = os.environ if environ is None else environ
    if os.name == "nt" and env.get("LOCALAPPDATA"):
        return Path(env["LOCALAPPDATA"]) / "envls" / "envs"
    base = env.get("XDG_DATA_HOME") or str(Path(env.get("HOME") or Path.home()) / ".local" / "share")
    return Path(base) / "envls" / "envs"


def writable(folder: Path) -> bool:
    """Whether `folder` can be written, or created: asked of the nearest folder that exists."""
    current = folder
    while not current.exists():
        if current.parent == current:
            return False
        current = current.parent
    return current.is_dir() and os.access(current, os.W_OK | os.X_OK)
