"""The environments the user's conda tools know, and where new ones go.

Environments are the folders with a `conda-meta` folder in conda's envs directories (in conda's order), the
entries of `~/.conda/environments.txt`, and the root prefixes of the tools themselves (`base`). Nothing is run.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from envls.channels.condarc import CondaConfig
from envls.host.conda_tools import TOOL_PREFERENCE, CondaTool, is_prefix, is_windows

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class InstalledEnv:
    """An existing environment: `name` is None for one outside every envs directory (conda shows no name)."""

    name: str | None
    prefix: str
    python_path: str | None
    manager: str


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
    if is_windows(windows):
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
    win = is_windows(windows)
    dirs = envs_dirs(config, tools, env, home, win)
    roots = root_prefixes(tools, env)
    managers = _managers(tools, env)
    default_manager = min((t.kind for t in tools), key=TOOL_PREFERENCE.__getitem__, default="conda")
    found: list[InstalledEnv] = []
    seen: set[str] = set()

    def add(name: str | None, prefix: Path, where: str) -> None:
        key = _key(prefix)
        if key in seen or not is_prefix(prefix):
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
    for tool in sorted(tools, key=lambda t: TOOL_PREFERENCE[t.kind]):
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
    win = is_windows(windows)
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
        if is_prefix(prefix):
            manager = min((t.kind for t in tools), key=TOOL_PREFERENCE.__getitem__, default="conda")
            return InstalledEnv(None, str(prefix), _python_of(prefix, win), manager)
        return None
    if text == "root":
        text = "base"
    found = next((installed for installed in known if installed.name == text), None)
    if found is None:
        # Made by envls' embedded installer on a machine without conda: its own folder.
        own = envls_envs_dir(env) / text
        if is_prefix(own):
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
