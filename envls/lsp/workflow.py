"""Commands for the rest of the environment workflow: export back to the file, activation variables for
terminals, a Jupyter kernel, a Dockerfile; and the "Sync from environment" lens behind the export.

Each takes `{"uri"}` (the environment file, whose `name:`/`prefix:` names the environment) or
`{"name"}`/`{"prefix"}`, and calls the same engine as the command line (`envls/actions/`). Activation
and kernels run the activation scripts in a shell: they report progress and can be cancelled. None of
them runs in an untrusted workspace: they run an environment's scripts, or write files.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcInternalError, JsonRpcInvalidParams, JsonRpcRequestCancelled
from pygls.uris import to_fs_path

from envls.actions.request import ActionError
from envls.core.environment import Environment
from envls.core.text import LineIndex
from envls.host.environments import InstalledEnv, find_environment
from envls.host.installed import Stamp, stamp
from envls.lsp.commands import (
    begin_progress,
    command_arguments,
    described_environment,
    env_file_argument,
    inside_workspace,
    optional_argument,
)
from envls.lsp.convert import to_range
from envls.lsp.state import EnvlsServer

log = logging.getLogger(__name__)

EXPORT = "envls.exportEnvironment"
ACTIVATION = "envls.activationEnvironment"
KERNEL = "envls.registerKernel"
DOCKERFILE = "envls.generateDockerfile"


def _refuse_untrusted(server: EnvlsServer, what: str) -> None:
    if not server.settings.trusted:
        raise JsonRpcInvalidParams(f"envls does not {what} in an untrusted workspace; trust it first")


def _file_of(server: EnvlsServer, arguments: dict[str, Any], key: str = "uri") -> Path | None:
    """The file argument ``key``: the environment file (`uri`) as every command checks it (a regular file inside
    a workspace folder), or a file to write (`output`), which must lie inside a workspace folder."""
    uri = arguments.get(key)
    if uri is None:
        return None
    if key == "uri":
        return env_file_argument(server, arguments)
    path = to_fs_path(uri) if isinstance(uri, str) else None
    if not path:
        raise JsonRpcInvalidParams(f"`{key}` must be a file: URI")
    if not inside_workspace(server, path):
        raise JsonRpcInvalidParams(f"{path} is outside the workspace folders: envls writes only inside them")
    return Path(path)


def _environment(server: EnvlsServer, arguments: dict[str, Any]) -> InstalledEnv:
    """The installed environment the arguments mean; InvalidParams/InternalError with the reason otherwise."""
    name = optional_argument(arguments, "name", str)
    prefix = optional_argument(arguments, "prefix", str)
    env_file = _file_of(server, arguments)
    if env_file is not None:
        target, found = described_environment(server, env_file, name, prefix)
    elif name or prefix:
        target = prefix or name
        session = server.session
        found = find_environment(target or "", session.config, session.tools)
    else:
        raise JsonRpcInvalidParams("give the environment file's `uri`, or `name` or `prefix`")
    if target is None:
        raise JsonRpcInvalidParams("the file has no `name:` or `prefix:`, and none was given")
    if found is None:
        raise JsonRpcInternalError(f"environment `{target}` does not exist yet: create it first")
    return found


async def _with_progress(server: EnvlsServer, title: str, work: Callable[[asyncio.Event], Any]) -> Any:
    cancel = asyncio.Event()
    token = await begin_progress(server, title, cancel)
    outcome = "failed"
    try:
        result = await work(cancel)
        outcome = "done"
        return result
    except ActionError as err:
        if cancel.is_set():
            outcome = "cancelled"
            raise JsonRpcRequestCancelled(f"{title.lower()} was cancelled") from None
        raise JsonRpcInternalError(err.message) from None
    finally:
        if token is not None:
            server.work_done_progress.end(token, types.WorkDoneProgressEnd(message=outcome))
            server.work_done_progress.tokens.pop(token, None)


# -- activation -------------------------------------------------------------------------------------------


async def activation_variables(server: EnvlsServer, found: InstalledEnv,
                               cancel: asyncio.Event | None = None) -> dict[str, str]:
    from envls.actions.activation import activated_environment, changed_variables

    environ = dict(os.environ)
    after = await activated_environment(Path(found.prefix), name=found.name, environ=environ, cancel=cancel)
    return changed_variables(environ, after)


async def activation_environment(ls: EnvlsServer, *args: Any) -> dict[str, Any]:
    """`{uri | name | prefix}` -> `{"prefix", "name", "variables"}`: what activating the environment sets."""
    _refuse_untrusted(ls, "run an environment's activation scripts")
    found = _environment(ls, command_arguments(args))

    async def work(cancel: asyncio.Event) -> dict[str, Any]:
        variables = await activation_variables(ls, found, cancel)
        return {"prefix": found.prefix, "name": found.name, "variables": variables}

    result: dict[str, Any] = await _with_progress(ls, "Activating environment", work)
    return result


# -- Jupyter kernel ---------------------------------------------------------------------------------------


async def register_kernel(ls: EnvlsServer, *args: Any) -> dict[str, Any]:
    """`{uri | name | prefix, displayName?}` -> `{"name", "displayName", "path"}` of the kernelspec written."""
    from envls.actions.kernel import has_ipykernel
    from envls.actions.kernel import register_kernel as write_kernel

    _refuse_untrusted(ls, "register Jupyter kernels")
    arguments = command_arguments(args)
    found = _environment(ls, arguments)
    display = optional_argument(arguments, "displayName", str)
    prefix = Path(found.prefix)

    async def work(cancel: asyncio.Event) -> dict[str, Any]:
        if not has_ipykernel(prefix):
            write_kernel(prefix, found.name, {})  # raises the refusal with its advice
        variables = await activation_variables(ls, found, cancel)
        kernel = write_kernel(prefix, found.name, variables, display_name=display)
        return {"name": kernel.name, "displayName": kernel.display_name, "path": str(kernel.path)}

    result: dict[str, Any] = await _with_progress(ls, "Registering Jupyter kernel", work)
    return result


# -- export -----------------------------------------------------------------------------------------------


def _minimal_edit(server: EnvlsServer, old: str, new: str) -> types.TextEdit:
    """One edit replacing only the region where ``old`` and ``new`` differ (so the cursor and undo stay sane)."""
    start = 0
    limit = min(len(old), len(new))
    while start < limit and old[start] == new[start]:
        start += 1
    end_old, end_new = len(old), len(new)
    while end_old > start and end_new > start and old[end_old - 1] == new[end_new - 1]:
        end_old -= 1
        end_new -= 1
    return types.TextEdit(range=to_range(LineIndex(old), start, end_old, server.encoding), new_text=new[start:end_new])


async def export_environment(ls: EnvlsServer, *args: Any) -> dict[str, Any]:
    """`{uri | name | prefix, fromHistory?, withBuilds?, output?, addOnly?}` -> `{"text", "output"?, "changed"}`.

    Without `output` the exported file's text is answered. With `output` (a file: URI) the export is merged
    onto that file, changing only what differs (`addOnly`: only adding what it lacks): through the editor
    (`workspace/applyEdit`, undoable) when the file is open there, else on disk.
    """
    from envls.actions.export import ExportRequest, channel_urls
    from envls.actions.export import export_environment as read_export
    from envls.core.workflow.export_text import Exported, merge, render

    _refuse_untrusted(ls, "write environment files from environments")
    arguments = command_arguments(args)
    found = _environment(ls, arguments)
    output = _file_of(ls, arguments, "output")
    add_only = bool(optional_argument(arguments, "addOnly", bool))
    request = ExportRequest(Path(found.prefix), found.name, bool(optional_argument(arguments, "fromHistory", bool)),
                            bool(optional_argument(arguments, "withBuilds", bool)))
    session = ls.session
    try:
        exported: Exported = await asyncio.to_thread(read_export, request, session.config)
    except ActionError as err:
        raise JsonRpcInternalError(err.message) from None
    if output is None:
        return {"text": render(exported), "changed": False}
    uri = output.as_uri()
    open_document = uri in ls.workspace.text_documents
    if open_document:
        existing: str | None = ls.workspace.get_text_document(uri).source
    else:
        from envls.workflow_cli import read_existing

        try:
            existing = read_existing(output)
        except ActionError as err:
            raise JsonRpcInternalError(err.message) from None
    if existing is None:
        text = render(exported)
    else:
        text = merge(existing, exported, keep_name=True, add_only=add_only,
                     channel_urls=channel_urls(session.config, output.parent)).text
    if existing == text:
        return {"text": text, "output": uri, "changed": False}
    if open_document and existing is not None:
        edit = types.WorkspaceEdit(changes={uri: [_minimal_edit(ls, existing, text)]})
        response = await ls.workspace_apply_edit_async(types.ApplyWorkspaceEditParams(edit=edit, label="Export environment"))
        if not response.applied:
            raise JsonRpcInternalError(f"the editor did not apply the export to {output.name}: "
                                       f"{response.failure_reason or 'no reason given'}")
    else:
        from envls.workflow_cli import write_atomically

        try:
            await asyncio.to_thread(write_atomically, output, text)
        except ActionError as err:
            raise JsonRpcInternalError(err.message) from None
    return {"text": text, "output": uri, "changed": True}


# -- Dockerfile -------------------------------------------------------------------------------------------


def generate_dockerfile(ls: EnvlsServer, *args: Any) -> dict[str, Any]:
    """`{uri, output?, overwrite?}` -> `{"text", "notes", "output"?}`; with `output` the Dockerfile is written
    there (an existing one only with `overwrite: true`)."""
    from envls.workflow_cli import dockerfile_for, write_atomically

    _refuse_untrusted(ls, "write Dockerfiles")
    arguments = command_arguments(args)
    env_file = _file_of(ls, arguments)
    if env_file is None:
        raise JsonRpcInvalidParams("`uri` must be the file: URI of an environment file")
    output = _file_of(ls, arguments, "output")
    context = output.parent if output is not None else env_file.parent
    try:
        text, notes = dockerfile_for(env_file, context)
        if output is not None:
            if output.exists() and not optional_argument(arguments, "overwrite", bool):
                raise JsonRpcInternalError(f"{output} exists; pass overwrite to replace it")
            write_atomically(output, text)
    except ActionError as err:
        raise JsonRpcInternalError(err.message) from None
    result: dict[str, Any] = {"text": text, "notes": list(notes)}
    if output is not None:
        result["output"] = output.as_uri()
    return result


# -- the "Sync from environment" lens ---------------------------------------------------------------------

_requested: dict[str, tuple[Stamp, str, tuple[list[str], list[str]]]] = {}


def unlisted(server: EnvlsServer, found: InstalledEnv, conda_names: set[str], pip_names: set[str]) -> list[str]:
    """What was installed into the environment on request but is not in the file (cached per environment state)."""
    from envls.actions.export import requested_not_listed

    key = found.prefix
    current = stamp(found.prefix)
    names_key = hashlib.sha1(repr((sorted(conda_names), sorted(pip_names))).encode()).hexdigest()
    cached = _requested.get(key)
    if cached is not None and cached[0] == current and cached[1] == names_key:
        conda, pip = cached[2]
    else:
        conda, pip = requested_not_listed(Path(found.prefix), conda_names, pip_names, server.session.config)
        _requested[key] = (current, names_key, (conda, pip))
    return [*conda, *pip]


def sync_lenses(server: EnvlsServer, uri: str, found: InstalledEnv, env: Environment,
                where: types.Range) -> list[types.CodeLens]:
    """"Sync from environment (2 packages not in the file)" when something was installed by hand."""
    from packaging.utils import canonicalize_name


    if not server.settings.trusted:
        return []
    conda_names = {name for entry in env.conda if (name := entry.parsed.name)}
    pip_names = {str(canonicalize_name(name)) for section in env.pip for entry in section.entries
                 if (name := entry.pip_line.canonical_name)}
    try:
        missing = unlisted(server, found, conda_names, pip_names)
    except Exception:  # a damaged environment must not take the lenses down
        log.exception("sync lens: cannot read %s", found.prefix)
        return []
    if not missing:
        return []
    count = len(missing)
    title = f"Sync from environment ({count} package{'s' if count != 1 else ''} not in the file)"
    argument = {"uri": uri, "output": uri, "fromHistory": True, "addOnly": True}
    return [types.CodeLens(range=where, command=types.Command(title=title, command=EXPORT, arguments=[argument]))]


COMMANDS: tuple[tuple[str, Callable[..., Any]], ...] = (
    (EXPORT, export_environment), (ACTIVATION, activation_environment), (KERNEL, register_kernel),
    (DOCKERFILE, generate_dockerfile))
