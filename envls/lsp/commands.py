"""Commands (`workspace/executeCommand`): create and update the environment, select its interpreter, list.

Long commands report `$/progress` (cancellable: the client's cancel ends the whole process tree) and
stream their output to the client's log. In an untrusted workspace, commands that run processes refuse.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from lsprotocol import types
from pygls.exceptions import JsonRpcInternalError, JsonRpcInvalidParams, JsonRpcRequestCancelled
from pygls.uris import to_fs_path

from envls.actions.create import create_environment
from envls.actions.embedded import EmbeddedOptions
from envls.actions.request import ActionError, Cancelled, CreateRequest, Result
from envls.core.environment import environment_of
from envls.host.conda_tools import InstalledEnv, envs_dirs, find_environment, list_environments
from envls.lsp import diagnostics
from envls.lsp.state import EnvlsServer

log = logging.getLogger(__name__)

CREATE = "envls.createEnvironment"
UPDATE = "envls.updateEnvironment"
SELECT = "envls.selectInterpreter"
LIST = "envls.listEnvironments"
_BACKENDS = ("auto", "conda", "mamba", "micromamba", "embedded")
T = TypeVar("T")
_TOKEN_NUMBERS = itertools.count(1)


def _arguments(args: tuple[Any, ...]) -> dict[str, Any]:
    first = args[0] if args else {}
    if not isinstance(first, dict):
        raise JsonRpcInvalidParams("expected one argument: an object with `uri`")
    return first


def _optional(arguments: dict[str, Any], key: str, kind: type[T]) -> T | None:
    """An optional argument of type ``kind`` (absent or null: None); InvalidParams for any other type."""
    value = arguments.get(key)
    if value is None or isinstance(value, kind):
        return value
    expected = "true or false" if kind is bool else "a string"
    raise JsonRpcInvalidParams(f"`{key}` must be {expected}, not {type(value).__name__}")


def _env_file(arguments: dict[str, Any]) -> Path:
    uri = arguments.get("uri")
    path = to_fs_path(uri) if isinstance(uri, str) else None
    if not path:
        raise JsonRpcInvalidParams("`uri` must be the file: URI of an environment file")
    return Path(path)


class _ProgressReporter:
    """Reports an action's progress to the client (`$/progress`) and its output to the client's log."""

    def __init__(self, server: EnvlsServer, token: str | None) -> None:
        self.server = server
        self.token = token

    def progress(self, message: str, percent: int | None) -> None:
        if self.token is not None:
            self.server.work_done_progress.report(
                self.token, types.WorkDoneProgressReport(message=message, percentage=percent))

    def log(self, line: str) -> None:
        self.server.window_log_message(types.LogMessageParams(type=types.MessageType.Log, message=line))


async def _begin(server: EnvlsServer, title: str, cancel: asyncio.Event) -> str | None:
    window = server.client_capabilities.window
    if not (window and window.work_done_progress):
        return None
    token = f"envls-{title.split()[0].lower()}-{next(_TOKEN_NUMBERS)}"
    try:
        await server.work_done_progress.create_async(token)
    except Exception as err:  # the client may refuse a progress bar; the command runs anyway
        log.debug("no progress bar: %s", err)
        return None
    server.work_done_progress.begin(token, types.WorkDoneProgressBegin(title=title, cancellable=True))
    future = server.work_done_progress.tokens.get(token)
    if future is not None:
        loop = asyncio.get_running_loop()
        future.add_done_callback(lambda f: loop.call_soon_threadsafe(cancel.set) if f.cancelled() else None)
    return token


def _refuse_unsaved(server: EnvlsServer, env_file: Path) -> None:
    """conda (and the embedded installer) read the saved file: refuse when the editor holds other text."""
    uri = env_file.as_uri()
    if uri not in server.workspace.text_documents:
        return
    try:
        saved = env_file.read_text(encoding="utf-8-sig")
    except OSError:
        raise JsonRpcInvalidParams(f"{env_file.name} is not saved yet: save it first") from None
    if saved.replace("\r\n", "\n") != server.workspace.get_text_document(uri).source.replace("\r\n", "\n"):
        raise JsonRpcInvalidParams(f"{env_file.name} has unsaved changes: save it first (the environment is "
                                   "made from the saved file)")


def _result(result: Result) -> dict[str, Any]:
    return {"prefix": result.prefix, "pythonPath": result.python_path, "backend": result.backend}


async def _create_or_update(server: EnvlsServer, arguments: dict[str, Any], update: bool) -> dict[str, Any]:
    if not server.settings.trusted:
        raise JsonRpcInvalidParams("envls does not run conda in an untrusted workspace; trust it first")
    env_file = _env_file(arguments)
    _refuse_unsaved(server, env_file)
    backend = arguments.get("backend", "auto")
    if backend not in _BACKENDS:
        raise JsonRpcInvalidParams(f"`backend` must be one of {', '.join(_BACKENDS)}")
    request = CreateRequest(
        env_file=env_file, name=_optional(arguments, "name", str), prefix=_optional(arguments, "prefix", str),
        backend=backend, prune=_optional(arguments, "prune", bool) or False,
        force=_optional(arguments, "force", bool) or False, update=update,
    )
    session = server.session
    cancel = asyncio.Event()
    verb = "Updating" if update else "Creating"
    token = await _begin(server, f"{verb} environment", cancel)
    reporter = _ProgressReporter(server, token)
    outcome = "failed"
    try:
        # The checks' configuration and cache: the embedded installer then shares their py-rattler gateway.
        options = EmbeddedOptions(config=session.config,
                                  cache_dir=Path(session.options.cache_dir) if session.options.cache_dir else None)
        result = await create_environment(
            request, tools=session.tools, envs_dirs=_envs_dirs(server),
            reporter=reporter, cancel=cancel, options=options,
        )
        outcome = f"done: {result.prefix}"
    except Cancelled:
        outcome = "cancelled"
        raise JsonRpcRequestCancelled(f"{verb.lower()} the environment was cancelled; nothing was left behind") \
            from None
    except ActionError as err:
        outcome = "failed"
        server.window_show_message(types.ShowMessageParams(type=types.MessageType.Error, message=err.message))
        raise JsonRpcInternalError(err.message) from None
    finally:
        if token is not None:
            server.work_done_progress.end(token, types.WorkDoneProgressEnd(message=outcome))
            server.work_done_progress.tokens.pop(token, None)  # its cancel future (and the command's event)
    _environments_changed(server)
    return _result(result)


def _envs_dirs(server: EnvlsServer) -> list[Path]:
    """Where a named environment goes: conda's envs dirs when there is a conda (so `conda activate NAME`
    finds it), else only the ones configured in .condarc; with none, the embedded installer uses the user's
    data folder."""
    session = server.session
    if session.tools:
        return envs_dirs(session.config, session.tools)
    return [Path(d) for d in session.config.envs_dirs]


def _environments_changed(server: EnvlsServer) -> None:
    """Drift and code lenses depend on installed environments: look again."""
    server.session.environments_changed()
    server.snapshots.clear()
    for uri in list(server.workspace.text_documents):
        diagnostics.schedule(server, uri)
    caps = server.client_capabilities.workspace
    if server.pull_diagnostics and caps and caps.diagnostics and caps.diagnostics.refresh_support:
        server.workspace_diagnostic_refresh(None)  # a pull client is not sent diagnostics: ask it to pull
    if caps and caps.code_lens and caps.code_lens.refresh_support:
        server.workspace_code_lens_refresh(None)


async def create(ls: EnvlsServer, *args: Any) -> dict[str, Any]:
    return await _create_or_update(ls, _arguments(args), update=False)


async def update(ls: EnvlsServer, *args: Any) -> dict[str, Any]:
    return await _create_or_update(ls, _arguments(args), update=True)


def described_environment(server: EnvlsServer, env_file: Path, name: str | None = None,
                          prefix: str | None = None) -> tuple[str | None, InstalledEnv | None]:
    """The name or prefix the file (or the arguments) give, and the installed environment it is, if any."""
    target = prefix or name
    if not target:
        try:
            text = env_file.read_text(encoding="utf-8-sig")
        except OSError:
            text = ""
        uri = env_file.as_uri()
        if uri in server.workspace.text_documents:
            text = server.workspace.get_text_document(uri).source
        from envls.core.document import parse

        env = environment_of(parse(text))
        target = (env.prefix.text if env.prefix else None) or (env.name.text if env.name else None)
    if not target:
        return None, None
    session = server.session
    return target, find_environment(target, session.config, session.tools, base_dir=env_file.parent)


def select_interpreter(ls: EnvlsServer, *args: Any) -> dict[str, Any]:
    arguments = _arguments(args)
    env_file = _env_file(arguments)
    target, found = described_environment(ls, env_file, _optional(arguments, "name", str),
                                          _optional(arguments, "prefix", str))
    if target is None:
        raise JsonRpcInvalidParams("the file has no `name:` or `prefix:`, and none was given")
    if found is None:
        raise JsonRpcInternalError(f"environment `{target}` does not exist yet: create it first")
    if not found.python_path:
        raise JsonRpcInternalError(f"environment `{target}` has no Python interpreter")
    return {"pythonPath": found.python_path, "prefix": found.prefix, "name": found.name}


def list_all(ls: EnvlsServer, *args: Any) -> list[dict[str, Any]]:
    session = ls.session
    return [{"name": e.name, "prefix": e.prefix, "pythonPath": e.python_path, "manager": e.manager}
            for e in list_environments(session.config, session.tools)]


COMMANDS: tuple[tuple[str, Callable[..., Any]], ...] = (
    (CREATE, create), (UPDATE, update), (SELECT, select_interpreter), (LIST, list_all))


# -- Solving (envls/solve/commands.py): the solution per platform, and lock files --------------------------

SHOW_SOLUTION = "envls.showSolution"
EXPORT_LOCK = "envls.exportLock"


def _current_text(server: EnvlsServer, env_file: Path) -> str:
    """The text as the editor has it (unsaved edits included), else as it is on disk."""
    uri = env_file.as_uri()
    if uri in server.workspace.text_documents:
        return server.workspace.get_text_document(uri).source
    try:
        return env_file.read_text(encoding="utf-8-sig")
    except OSError as err:
        raise JsonRpcInvalidParams(f"cannot read {env_file}: {err.strerror or err}") from None


async def show_solution(ls: EnvlsServer, *args: Any) -> dict[str, Any]:
    """`{"uri", "platform"?}` -> the solved packages per target platform; the tables go to the client's log too."""
    from envls.solve.commands import SolveCommandError
    from envls.solve.commands import show_solution as solve_and_show

    arguments = _arguments(args)
    env_file = _env_file(arguments)

    def show(table: str) -> None:
        ls.window_log_message(types.LogMessageParams(type=types.MessageType.Info, message=table))

    try:
        return await solve_and_show(ls.session, env_file, _current_text(ls, env_file),
                                    _optional(arguments, "platform", str), show)
    except SolveCommandError as err:
        raise JsonRpcInternalError(str(err)) from None


async def export_lock(ls: EnvlsServer, *args: Any) -> dict[str, Any]:
    """`{"uri", "platforms"?, "rattlerLock"?}` -> writes `<stem>.<platform>.lock.txt` next to the file."""
    from envls.solve.commands import SolveCommandError
    from envls.solve.commands import export_lock as solve_and_export

    arguments = _arguments(args)
    env_file = _env_file(arguments)
    platforms = arguments.get("platforms")
    if platforms is not None and not (isinstance(platforms, list) and all(isinstance(p, str) for p in platforms)):
        raise JsonRpcInvalidParams("`platforms` must be a list of conda subdirs such as linux-64")
    try:
        return await solve_and_export(ls.session, env_file, _current_text(ls, env_file), platforms,
                                      bool(_optional(arguments, "rattlerLock", bool)))
    except SolveCommandError as err:
        raise JsonRpcInternalError(str(err)) from None
    except OSError as err:
        raise JsonRpcInternalError(f"cannot write the lock file: {err.strerror or err}") from None


COMMANDS = (*COMMANDS, (SHOW_SOLUTION, show_solution), (EXPORT_LOCK, export_lock))


HOST_INFO = "envls.hostInfo"


def host_info(ls: EnvlsServer, *args: Any) -> dict[str, Any]:
    """What the server knows of the machine it runs on (over Remote-SSH: the remote one): its platform,
    the CUDA target and where it comes from, and the conda tools found."""
    from envls.channels.facts import host_subdir
    from envls.host.cuda import driver_and_source

    session = ls.session
    detection = session.cuda_detection()
    known = detection is not None or bool(session.options.cuda_version)
    driver, source = driver_and_source(detection, session.options.cuda_version) if known else (None, "none")
    return {
        "platform": host_subdir(),
        "cuda": {"driver": driver, "source": source, "known": known},
        "condaTools": [{"kind": t.kind, "path": t.path} for t in session.tools],
    }


COMMANDS = (*COMMANDS, (HOST_INFO, host_info))
