"""Create or update an environment with the backend the request names, `auto` picking one.

`auto` uses the tool `host.conda_tools.choose_tool` picks (the `condaPath` setting's, else mamba or
micromamba of the first installation found), else the embedded installer.
The file is read and the target checked here, once, before any backend runs: a bad file, a bad
name or an environment that must not be touched fails before anything is written.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from envls.actions.conda_backend import run_tool
from envls.actions.embedded import EmbeddedOptions, host_subdir, run_embedded
from envls.actions.envfile import read_environment_file
from envls.actions.request import BACKENDS, ActionError, CancelToken, CreateRequest, Reporter, Result
from envls.actions.target import resolve_target
from envls.host.conda_tools import CondaTool, choose_tool

log = logging.getLogger(__name__)


def backend_tool(request: CreateRequest, tools: Sequence[CondaTool]) -> CondaTool | None:
    """The tool to run (chosen by `choose_tool`, the one policy), or None for the embedded installer;
    ActionError when the backend is unknown or the named tool is missing."""
    if request.backend not in BACKENDS:
        raise ActionError(f"unknown backend `{request.backend}`; use one of {', '.join(BACKENDS)}")
    if request.backend == "embedded":
        return None
    tool = choose_tool(tools, request.backend)
    if tool is None and request.backend != "auto":
        raise ActionError(f"no {request.backend} was found; install it, or use the embedded installer")
    return tool


async def create_environment(
    request: CreateRequest,
    *,
    tools: Sequence[CondaTool] = (),
    envs_dirs: Sequence[str | Path] = (),
    reporter: Reporter,
    cancel: CancelToken | None = None,
    protected: Sequence[str | Path] = (),
    options: EmbeddedOptions | None = None,
) -> Result:
    """Create (or with ``request.update``, update) the environment of ``request.env_file``.

    ``tools`` are the conda tools found on this machine (kind, path, root_prefix); ``envs_dirs`` the
    user's conda `envs_dirs` in order (a name lands in the first writable one; none: envls' data
    folder). Root prefixes of ``tools`` and ``protected`` are never touched.
    """
    tool = backend_tool(request, tools)
    opts = options or EmbeddedOptions()
    subdir = opts.subdir or host_subdir()
    env_file = read_environment_file(request.env_file, subdir)
    roots = [t.root_prefix for t in tools if t.root_prefix]
    target = resolve_target(request, env_file.name, env_file.prefix, envs_dirs, protected=[*roots, *protected],
                            environ=opts.environ)
    log.info("%s %s with %s", "updating" if request.update else "creating", target.prefix,
             tool.kind if tool is not None else "the embedded installer")
    if tool is None:
        return await run_embedded(request, env_file, target, reporter=reporter, cancel=cancel, options=opts)
    return await run_tool(tool, request, target, reporter=reporter, cancel=cancel, environ=opts.environ,
                          environments_txt=opts.environments_txt)
