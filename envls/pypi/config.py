"""Which package indexes pip would use for an environment file's pip section.

pip's own order, as its `Configuration` class reads it: configuration files (global, then user, then
the file that ``PIP_CONFIG_FILE`` names; ``os.devnull`` there turns files off), the ``[install]``
section over ``[global]``, then ``PIP_*`` environment variables over every file. The pip section's own
options come last, as pip applies the options of a requirements file: ``--index-url`` replaces every
configured index, ``--extra-index-url`` adds one, ``--no-index`` drops them all. Without any of it pip
uses its built-in default, read here from the installed pip at runtime.

The "site" file (``<prefix>/pip.conf`` of the interpreter that runs pip) is not read: conda runs pip
from the environment it is creating, which has no such file yet.
"""

from __future__ import annotations

import configparser
import logging
import os
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from envls.core.environment import Environment
from envls.core.pip.facts import display_url
from envls.core.pip.lines import included_path, parse_pip_line, requirement_file_lines
from envls.core.pip.rules import MAX_INCLUDE_DEPTH

log = logging.getLogger(__name__)

_HTTP = re.compile(r"^https?://", re.IGNORECASE)
_ENV_VAR = re.compile(r"\$\{([A-Z0-9_]+)\}")
_TRUE = {"1", "true", "yes", "on", "y", "t"}


@dataclass(frozen=True)
class PipConfig:
    """What the user's pip configuration says about where packages come from."""

    index_url: str | None = None  # None: pip's built-in default
    extra_index_urls: tuple[str, ...] = ()
    find_links: tuple[str, ...] = ()
    no_index: bool = False
    sources: tuple[str, ...] = ()  # the files read, lowest priority first
    problems: tuple[str, ...] = ()


def default_index_url() -> str | None:
    """pip's built-in index, from the pip that is installed; None without pip."""
    try:
        from pip._internal.models.index import PyPI
    except Exception:  # no pip, or one whose internals moved
        log.info("pip is not importable: its default index is unknown, so only configured indexes are checked")
        return None
    url = getattr(PyPI, "simple_url", None)
    return str(url) if url else None


def config_files(environ: Mapping[str, str], home: Path, platform: str = sys.platform) -> list[Path]:
    """pip's configuration files, lowest priority first (without touching the disk)."""
    name = "pip.ini" if platform == "win32" else "pip.conf"
    chosen = environ.get("PIP_CONFIG_FILE")
    if chosen == os.devnull:
        return []
    if platform == "win32":
        program_data = environ.get("ALLUSERSPROFILE") or environ.get("PROGRAMDATA") or "C:\\ProgramData"
        global_files = [Path(program_data) / "pip" / name]
        user_files = [home / "pip" / name, Path(environ.get("APPDATA") or str(home / "AppData" / "Roaming")) / "pip"
                      / name]
    elif platform == "darwin":
        global_files = [Path("/Library/Application Support/pip") / name]
        support = home / "Library" / "Application Support" / "pip"
        user_files = [home / ".pip" / name, (support if support.is_dir() else home / ".config" / "pip") / name]
    else:
        xdg_dirs = environ.get("XDG_CONFIG_DIRS") or "/etc/xdg"
        global_files = [Path(d) / "pip" / name for d in xdg_dirs.split(os.pathsep) if d] + [Path("/etc") / name]
        xdg_home = environ.get("XDG_CONFIG_HOME") or str(home / ".config")
        user_files = [home / ".pip" / name, Path(xdg_home) / "pip" / name]
    files = list(global_files)
    if not (chosen and Path(chosen).exists()):
        files += user_files  # pip skips the user's files when PIP_CONFIG_FILE names an existing file
    if chosen:
        files.append(Path(chosen))
    return files


def _split(value: str) -> tuple[str, ...]:
    return tuple(value.split())


def load_pip_config(environ: Mapping[str, str] | None = None, home: Path | None = None,
                    files: Sequence[Path] | None = None) -> PipConfig:
    """Read pip's configuration as pip would for `pip install`; file I/O only, never raises."""
    env = dict(os.environ) if environ is None else dict(environ)
    home = home or Path.home()
    paths = list(files) if files is not None else config_files(env, home)
    values: dict[str, dict[str, str]] = {"global": {}, "install": {}}
    sources: list[str] = []
    problems: list[str] = []
    for path in paths:
        if not path.is_file():
            continue
        parser = configparser.RawConfigParser()
        try:
            parser.read(path, encoding="utf-8")
        except (OSError, UnicodeDecodeError, configparser.Error) as err:
            problems.append(f"{path}: {err}")
            continue
        sources.append(str(path))
        for section in ("global", "install"):
            if parser.has_section(section):
                for key, value in parser.items(section):
                    values[section][key.lower().replace("_", "-").lstrip("-")] = value
    merged = {**values["global"], **values["install"]}
    for key, value in env.items():
        if key.startswith("PIP_") and key not in ("PIP_CONFIG_FILE",):
            merged[key[4:].lower().replace("_", "-")] = value
    index_url = merged.get("index-url", "").strip() or None
    no_index = merged.get("no-index", "").strip().lower() in _TRUE
    return PipConfig(index_url, _split(merged.get("extra-index-url", "")), _split(merged.get("find-links", "")),
                     no_index, tuple(sources), tuple(problems))


# -- the indexes for one file ---------------------------------------------------------------


@dataclass(frozen=True)
class PlannedIndex:
    url: str  # as pip would use it, credentials included; never shown
    from_file: bool

    @property
    def display(self) -> str:
        return display_url(self.url)


@dataclass(frozen=True)
class IndexPlan:
    """The indexes to ask for one file, in pip's order, and what keeps conclusions from being drawn."""

    indexes: tuple[PlannedIndex, ...]
    other_sources: bool = False  # `--find-links`, `--no-index`, or an index that is no http(s) URL
    skipped: tuple[str, ...] = ()  # index URLs the file names, not contacted in an untrusted workspace
    pre: bool = False

    @property
    def key(self) -> tuple[object, ...]:
        return (tuple(i.url for i in self.indexes), self.other_sources, self.skipped)


@dataclass
class _FileOptions:
    index_url: str | None = None
    extra_index_urls: list[str] | None = None
    find_links: list[str] | None = None
    no_index: bool = False
    pre: bool = False


def _expand(text: str, environ: Mapping[str, str]) -> str:
    return _ENV_VAR.sub(lambda m: environ.get(m.group(1), m.group(0)), text)


def _collect(lines: Sequence[str], including: str | None, files: Mapping[str, str | None], into: _FileOptions,
             chain: tuple[str, ...]) -> None:
    for text in lines:
        line = parse_pip_line(text)
        option, argument = line.long_option, (line.argument or "").strip()
        if line.kind != "option":
            continue
        if option == "--index-url":
            into.index_url = argument
        elif option == "--extra-index-url":
            into.extra_index_urls = [*(into.extra_index_urls or []), argument]
        elif option == "--find-links":
            into.find_links = [*(into.find_links or []), argument]
        elif option == "--no-index":
            into.no_index = True
        elif option == "--pre":
            into.pre = True
        elif option in ("--requirement", "--constraint"):
            key = included_path(including, argument)
            content = files.get(key) if key is not None else None
            if key is None or content is None or key in chain or len(chain) >= MAX_INCLUDE_DEPTH:
                continue
            _collect([t for _, t in requirement_file_lines(content)], key, files, into, (*chain, key))


def plan_indexes(env: Environment, config: PipConfig, files: Mapping[str, str | None] | None = None,
                 trusted: bool = True, environ: Mapping[str, str] | None = None,
                 default: str | None = None, expand: bool = False) -> IndexPlan:
    """The indexes pip would ask for ``env``'s pip section (and the `-r` files in ``files``).

    pip fills `${VAR}` in a requirements file from its environment; envls does so only when ``expand``
    (the `expandEnvironmentVariables` setting) and the workspace is trusted: otherwise merely opening a
    file would send the server's secrets (a token in `${PIP_TOKEN}`) to a URL the file names. An index
    left with `${VAR}` in it is not contacted."""
    expand = expand and trusted
    environ = (dict(os.environ) if environ is None else environ) if expand else {}
    options = _FileOptions()
    _collect([e.text for s in env.pip for e in s.entries], None, files or {}, options, ())
    base = config.index_url or (default if default is not None else default_index_url())
    planned: list[PlannedIndex] = [PlannedIndex(base, False)] if base else []
    planned += [PlannedIndex(u, False) for u in config.extra_index_urls]
    skipped: list[str] = []
    other = bool(config.find_links or options.find_links) or config.no_index or options.no_index
    if options.index_url is not None:
        planned = [PlannedIndex(_expand(options.index_url, environ), True)]
    if config.no_index or options.no_index:
        planned = []
    planned += [PlannedIndex(_expand(u, environ), True) for u in options.extra_index_urls or ()]
    kept: list[PlannedIndex] = []
    for index in planned:
        if index.from_file and not trusted:
            skipped.append(index.display)
        elif not _HTTP.match(index.url) or "${" in index.url:
            other = True  # a file:// index, a path, a placeholder: nothing is concluded without it
        elif index.url not in [k.url for k in kept]:
            kept.append(index)
    if skipped:
        other = True
    return IndexPlan(tuple(kept), other, tuple(skipped), options.pre)
