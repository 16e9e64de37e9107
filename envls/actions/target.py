"""Which prefix a request means, and what an action may never touch.

The name comes from the request, else from the file's `name:`; a prefix from the request (or the
file's `prefix:`) wins over both. A name lands in the first writable folder of the user's conda
`envs_dirs` (so `conda activate NAME` finds it), else in envls' own data folder. Refused before
anything is written: the names conda refuses (`base`, `root`, `/`, a space, `:`, `#`) and names a
shell would misread (quotes, `;`, `$`, ...); a base installation or the Python envls runs in; a
prefix inside another environment; an existing folder that is no environment; an existing
environment unless the request updates it or says to replace it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from envls.actions.prefix import busy_message, is_locked
from envls.actions.request import ActionError, CreateRequest
from envls.channels.condarc import CondaConfig
from envls.host.conda_tools import CondaTool
from envls.host.environments import envls_envs_dir, envs_dirs, writable

RESERVED_NAMES = ("base", "root")
# conda refuses the first four; the rest would be misread by a shell in `conda activate NAME`.
_NAME_CHARACTERS = {
    " ": "a space", "/": "`/`", ":": "`:`", "#": "`#`", "\\": "`\\`", "'": "a quote", '"': "a quote",
    "`": "a backquote", ";": "`;`", "$": "`$`", "&": "`&`", "|": "`|`", "<": "`<`", ">": "`>`",
    "(": "`(`", ")": "`)`", "*": "`*`", "?": "`?`", "!": "`!`", "{": "`{`", "}": "`}`", "[": "`[`",
    "]": "`]`", "~": "`~`", "=": "`=`", ",": "`,`",
}


@dataclass(frozen=True)
class Target:
    prefix: Path
    name: str | None  # set when the environment is addressed by name (conda's `-n NAME`)
    exists: bool
    empty_folder: bool = False  # the prefix is an empty folder already: a failure empties it, never removes it


def validate_name(name: str) -> None:
    """Raise ActionError when ``name`` cannot be an environment name."""
    if not name.strip():
        raise ActionError("the environment name is empty")
    if name in RESERVED_NAMES:
        raise ActionError(f"`{name}` is the base environment's name: envls never creates, replaces or updates it")
    for ch in name:
        if ch.isspace() and ch != " ":
            raise ActionError(f"the environment name {name!r} contains white space; choose a name without it")
        if ord(ch) < 32:
            raise ActionError(f"the environment name {name!r} contains a control character")
        if ch in _NAME_CHARACTERS:
            raise ActionError(
                f"`{name}` is no valid environment name: it contains {_NAME_CHARACTERS[ch]}; "
                "use letters, digits, `.`, `_`, `-` and `+`"
            )
    if name.startswith("-"):
        raise ActionError(f"`{name}` is no valid environment name: it starts with `-`")
    if name in (".", ".."):
        raise ActionError(f"`{name}` is no valid environment name")


def default_envs_dir(environ: Mapping[str, str] | None = None) -> Path:
    """envls' own folder for environments when no conda is found: `$XDG_DATA_HOME/envls/envs`."""
    return envls_envs_dir(environ)


def is_environment(path: Path) -> bool:
    return (path / "conda-meta").is_dir()


def is_root_prefix(path: Path) -> bool:
    """A base installation (conda, miniforge, micromamba's root): it has `condabin/` or `envs/`."""
    return (path / "condabin").is_dir() or ((path / "envs").is_dir() and (is_environment(path) or (path / "pkgs").is_dir()))


def _same(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return os.path.normcase(os.path.abspath(a)) == os.path.normcase(os.path.abspath(b))


def _prefix_from_text(text: str, base: Path) -> Path:
    if "\0" in text or "\n" in text or "\r" in text:
        raise ActionError(f"the prefix {text!r} contains a line break or NUL character")
    if os.name != "nt" and os.pathsep in text:
        # As conda: PATH uses the separator, so activating such an environment would break PATH.
        raise ActionError(f"the prefix `{text}` contains `{os.pathsep}`, which cannot be in a folder on PATH")
    path = Path(os.path.expanduser(text.strip()))
    if not path.is_absolute():
        path = base / path
    return Path(os.path.abspath(path))


def envs_dirs_for_create(config: CondaConfig, tools: Sequence[CondaTool]) -> list[Path]:
    """Where a named environment goes: conda's envs dirs when there is a conda (so `conda activate NAME`
    finds it), else only the ones configured in .condarc; with none, the embedded installer uses envls'
    own data folder."""
    if tools:
        return envs_dirs(config, tools)
    return [Path(d) for d in config.envs_dirs]


def protected_prefixes(extra: Sequence[str | Path] = ()) -> list[Path]:
    """Folders never created over, replaced or updated: base installations, envls' own Python, home, /."""
    paths = [Path(sys.prefix), Path(sys.base_prefix), Path.home(), Path(Path.home().anchor or "/")]
    return [*paths, *(Path(p) for p in extra)]


def resolve_target(
    request: CreateRequest,
    file_name: str | None,
    file_prefix: str | None,
    envs_dirs: Sequence[str | Path],
    *,
    protected: Sequence[str | Path] = (),
    environ: Mapping[str, str] | None = None,
) -> Target:
    """The prefix the request means, after every check; raises ActionError with the reason otherwise."""
    base = request.env_file.parent
    name: str | None = None
    if request.prefix:
        prefix = _prefix_from_text(request.prefix, base)
    elif request.name or file_name:
        name = (request.name or file_name or "").strip()
        validate_name(name)
        folders = [Path(os.path.expanduser(str(d))) for d in envs_dirs] or [default_envs_dir(environ)]
        existing = next((d / name for d in folders if is_environment(d / name)), None)
        first_writable = next((d for d in folders if writable(d)), folders[0])
        prefix = existing if existing is not None else first_writable / name
    elif file_prefix:
        prefix = _prefix_from_text(file_prefix, base)
    else:
        raise ActionError(f"{request.env_file}: the file has no `name:`; give the environment a name or a prefix")
    _check_prefix(prefix, protected_prefixes(protected))
    if is_locked(prefix):
        raise ActionError(busy_message(prefix))
    exists = is_environment(prefix)
    label = f"`{name}`" if name else f"at {prefix}"
    if exists and not request.update and not request.force:
        raise ActionError(
            f"the environment {label} already exists ({prefix}); update it instead, or ask to replace it"
        )
    if request.update and not exists:
        raise ActionError(f"there is no environment {label} to update ({prefix}); create it first")
    return Target(prefix, name, exists, empty_folder=not exists and prefix.is_dir() and not prefix.is_symlink())


def _check_prefix(prefix: Path, protected: Sequence[Path]) -> None:
    for path in protected:
        if _same(prefix, path):
            raise ActionError(f"{prefix} is a base installation or envls' own Python: envls never touches it")
    if is_root_prefix(prefix):
        raise ActionError(f"{prefix} is a base installation (it has `condabin` or `envs`): envls never touches it")
    if prefix.exists() and not prefix.is_dir():
        raise ActionError(f"{prefix} exists and is a file, not an environment folder")
    if prefix.is_dir() and not is_environment(prefix) and any(prefix.iterdir()):
        raise ActionError(f"{prefix} exists and is no conda environment (it has no conda-meta); choose another prefix")
    for parent in prefix.parents:
        if is_environment(parent) and prefix.parent != parent / "envs":
            raise ActionError(f"{prefix} is inside the environment {parent}; choose a prefix outside it")
