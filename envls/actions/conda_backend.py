"""Creating and updating an environment with the user's conda, mamba or micromamba.

The argument lists (never a shell line) follow each tool's own command for an environment file:

- conda and mamba 1 (a conda front end): `conda env create -f FILE -n NAME --json` (`-p PREFIX`),
  `conda env update -f FILE -n NAME [--prune] --json`; replacing an environment removes it first
  with `conda remove --all -y --json -n NAME` (the flag for overwriting changed across conda versions).
- micromamba and mamba 2 (micromamba's code): `micromamba create -y -f FILE -n NAME --json`, which
  also replaces an existing environment; `micromamba install -y -f FILE -n NAME --json` to update,
  and `create` again to update with prune (micromamba has no `--prune`). `-r ROOT` is passed when
  the tool's root prefix is known, so that `-n NAME` means the same folder envls listed.

The tool's `--json` output is read by `conda_output.ToolOutput` into progress and a clear error.
"""

from __future__ import annotations

import asyncio
import os
import re
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

from envls.actions.conda_output import ToolOutput
from envls.actions.prefix import default_environments_txt, prefix_lock, remove_prefix
from envls.actions.process import run_process
from envls.actions.request import ActionError, Cancelled, CancelToken, CreateRequest, Reporter, Result, result_for
from envls.actions.target import Target

TOOL_KINDS = ("conda", "mamba", "micromamba")
_VERSION = re.compile(r"(\d+)\.\d+")


class CondaToolLike(Protocol):
    """What this module needs of a discovered tool (envls.host.conda_tools.CondaTool fits)."""

    @property
    def kind(self) -> str: ...

    @property
    def path(self) -> str: ...

    @property
    def root_prefix(self) -> str | None: ...


def _micromamba_like(kind: str, mamba_major: int | None) -> bool:
    return kind == "micromamba" or (kind == "mamba" and mamba_major is not None and mamba_major >= 2)


def _where(name: str | None, prefix: Path | str | None) -> list[str]:
    if name:
        return ["-n", name]
    if prefix is None:
        raise ValueError("a name or a prefix is needed")
    return ["-p", str(prefix)]


def _root(kind: str, mamba_major: int | None, root_prefix: str | None) -> list[str]:
    return ["-r", root_prefix] if root_prefix and _micromamba_like(kind, mamba_major) else []


def create_argv(
    kind: str, executable: str, env_file: Path, *, name: str | None = None, prefix: Path | str | None = None,
    mamba_major: int | None = None, root_prefix: str | None = None,
) -> list[str]:
    """The command that creates the environment of ``env_file``."""
    _check_kind(kind)
    where = _where(name, prefix)
    if _micromamba_like(kind, mamba_major):
        return [executable, "create", "-y", "-f", str(env_file), *where, *_root(kind, mamba_major, root_prefix), "--json"]
    return [executable, "env", "create", "-f", str(env_file), *where, "--json"]


def update_argv(
    kind: str, executable: str, env_file: Path, *, name: str | None = None, prefix: Path | str | None = None,
    prune: bool = False, mamba_major: int | None = None, root_prefix: str | None = None,
) -> list[str]:
    """The command that brings an existing environment in line with ``env_file``."""
    _check_kind(kind)
    where = _where(name, prefix)
    if _micromamba_like(kind, mamba_major):
        # Without --prune in micromamba, pruning means creating the environment anew from the file.
        verb = "create" if prune else "install"
        return [executable, verb, "-y", "-f", str(env_file), *where, *_root(kind, mamba_major, root_prefix), "--json"]
    return [executable, "env", "update", "-f", str(env_file), *where, *(["--prune"] if prune else []), "--json"]


def remove_argv(kind: str, executable: str, *, name: str | None = None, prefix: Path | str | None = None,
                mamba_major: int | None = None, root_prefix: str | None = None) -> list[str]:
    """The command that removes an environment (before replacing it with conda or mamba 1)."""
    _check_kind(kind)
    where = _where(name, prefix)
    if _micromamba_like(kind, mamba_major):
        return [executable, "env", "remove", "-y", *where, *_root(kind, mamba_major, root_prefix), "--json"]
    return [executable, "remove", "--all", "-y", *where, "--json"]


def _check_kind(kind: str) -> None:
    if kind not in TOOL_KINDS:
        raise ValueError(f"unknown tool kind {kind!r}")


def parse_major_version(text: str) -> int | None:
    """The major version in `mamba --version` output ("mamba 1.5.8\\nconda 24.1.2" or "2.0.5")."""
    match = _VERSION.search(text)
    return int(match.group(1)) if match else None


async def mamba_major_version(executable: str, environ: Mapping[str, str] | None = None,
                              timeout: float = 20.0) -> int | None:
    try:
        result = await asyncio.wait_for(run_process([executable, "--version"], env=environ), timeout)
    except (OSError, asyncio.TimeoutError):
        return None
    return parse_major_version("\n".join(result.stdout + result.stderr))


async def run_tool(
    tool: CondaToolLike,
    request: CreateRequest,
    target: Target,
    *,
    reporter: Reporter,
    cancel: CancelToken | None = None,
    environ: Mapping[str, str] | None = None,
    environments_txt: Path | None = None,
) -> Result:
    """Create or update ``target`` from ``request.env_file`` with ``tool``; ActionError on failure.

    A prefix that did not exist before is removed again when the tool fails or is cancelled, and
    taken out of environments.txt (``environments_txt``, default ``~/.conda/environments.txt``).
    """
    registry = environments_txt if environments_txt is not None else default_environments_txt()
    env = dict(os.environ if environ is None else environ)
    # conda is Python: unbuffered, its progress arrives as it happens rather than in blocks.
    env["PYTHONUNBUFFERED"] = "1"
    kind = tool.kind
    _check_kind(kind)
    with prefix_lock(target.prefix):
        mamba_major = await mamba_major_version(tool.path, env) if kind == "mamba" else None
        name = target.name
        prefix = None if name else target.prefix
        root = tool.root_prefix
        created_new = not target.exists
        if request.force and target.exists and not request.update and not _micromamba_like(kind, mamba_major):
            reporter.progress(f"Removing the existing environment {target.prefix}", None)
            remove = remove_argv(kind, tool.path, name=name, prefix=prefix, mamba_major=mamba_major, root_prefix=root)
            await _run(kind, remove, request, env, reporter, cancel, target, created_new=False, registry=registry)
            created_new = True
        if request.update:
            argv = update_argv(kind, tool.path, request.env_file, name=name, prefix=prefix, prune=request.prune,
                               mamba_major=mamba_major, root_prefix=root)
        else:
            argv = create_argv(kind, tool.path, request.env_file, name=name, prefix=prefix,
                               mamba_major=mamba_major, root_prefix=root)
        output = await _run(kind, argv, request, env, reporter, cancel, target, created_new=created_new,
                            registry=registry)
    prefix = Path(output.prefix) if output.prefix else target.prefix
    reporter.progress("Done", 100)
    return result_for(prefix, kind)


async def _run(kind: str, argv: list[str], request: CreateRequest, env: dict[str, str], reporter: Reporter,
               cancel: CancelToken | None, target: Target, *, created_new: bool, registry: Path) -> ToolOutput:
    command = shlex.join(argv)  # for showing only: the process gets the list
    reporter.log(f"$ {command}")
    output = ToolOutput(kind)

    def on_line(stream: str, line: str) -> None:
        known = len(output.text)
        for event in output.feed(stream, line):
            reporter.progress(event.message, event.percent)
        if stream == "stderr":
            reporter.log(line)
        else:
            for text in output.text[known:]:
                reporter.log(text)

    try:
        result = await run_process(argv, cwd=request.env_file.parent, env=env, on_line=on_line, cancel=cancel)
    except FileNotFoundError:
        raise ActionError(f"{argv[0]} was not found; is {kind} still installed?") from None
    except PermissionError:
        raise ActionError(f"{argv[0]} cannot be run (permission denied)") from None
    except asyncio.CancelledError:
        if created_new:
            await asyncio.shield(asyncio.to_thread(remove_prefix, target.prefix, registry, keep_folder=target.empty_folder))
        raise
    output.close()
    if result.cancelled:
        if created_new:
            await asyncio.to_thread(remove_prefix, target.prefix, registry, keep_folder=target.empty_folder)
        raise Cancelled(f"cancelled: {kind} was stopped" + ("; the half-made environment was removed" if created_new else ""))
    if result.returncode != 0 or output.success is False or output.error:
        if created_new:
            await asyncio.to_thread(remove_prefix, target.prefix, registry, keep_folder=target.empty_folder)
        raise ActionError(output.failure_message(result.returncode, command))
    return output
