"""Commands (`workspace/executeCommand`): create and update the environment, select its interpreter, list.

Long commands report `$/progress` (cancellable: the client's cancel ends the whole process tree) and
stream their output to the client's log. In an untrusted workspace, commands that run processes refuse.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from lsprotocol import types
from pygls.exceptions import JsonRpcInternalError, JsonRpcInvalidParams, JsonRpcRequestCancelled
from pygls.uris import to_fs_path

from envls.actions.create import create_environment
from envls.actions.embedded import EmbeddedOptions
from envls.actions.request import ActionError, Cancelled, CreateRequest, Result
from envls.actions.target import envs_dirs_for_create
from envls.core.environment import environment_of
from envls.core.files import decode
from envls.host.environments import InstalledEnv, list_environments
from envls.host.readfile import DOCUMENT_MAX_BYTES, Refused, check_regular, is_inside, read_bytes, resolve
from envls.lsp.invalidation import invalidate
from envls.lsp.state import EnvlsServer
from envls.session import described_target

log = logging.getLogger(__name__)

CREATE = "envls.createEnvironment"
UPDATE = "envls.updateEnvironment"
SELECT = "envls.selectInterpreter"
LIST = "envls.listEnvironments"
_BACKENDS = ("auto", "conda", "mamba", "micromamba", "embedded")
T = TypeVar("T")
_TOKEN_NUMBERS = itertools.count(1)


def command_arguments(args: tuple[Any, ...]) -> dict[str, Any]:
    first = args[0] if args else {}
    if not isinstance(first, dict):
        raise JsonRpcInvalidParams("expected one argument: an object with `uri`")
    return first


def optional_argument(arguments: dict[str, Any], key: str, kind: type[T]) -> T | None:
    """An optional argument of type ``kind`` (absent or null: None); InvalidParams for any other type."""
    value = arguments.get(key)
    if value is None or isinstance(value, kind):
        return value
    expected = "true or false" if kind is bool else "a string"
    raise JsonRpcInvalidParams(f"`{key}` must be {expected}, not {type(value).__name__}")


def _workspace_roots(server: EnvlsServer) -> list[str]:
    """The workspace folders the client announced (resolved), the root folder included."""
    paths = [to_fs_path(folder.uri) for folder in server.workspace.folders.values()]
    paths.append(server.workspace.root_path)
    roots: list[str] = []
    for path in paths:
        with contextlib.suppress(OSError, ValueError):
            if path and resolve(path) not in roots:
                roots.append(resolve(path))
    return roots


def inside_workspace(server: EnvlsServer, path: str) -> bool:
    """Whether ``path`` (symlinks followed) lies inside a workspace folder; with no folder, nothing does."""
    try:
        real = resolve(path)
    except (OSError, ValueError):
        return False
    return any(is_inside(real, root) for root in _workspace_roots(server))


def env_file_argument(server: EnvlsServer, arguments: dict[str, Any]) -> Path:
    """The `uri` argument's file: a regular file inside a workspace folder (symlinks followed), or one the
    editor has open when the client named no folder. Anything else (a device, a FIFO, a file elsewhere)
    is refused before it is opened."""
    uri = arguments.get("uri")
    path = to_fs_path(uri) if isinstance(uri, str) else None
    if not path:
        raise JsonRpcInvalidParams("`uri` must be the file: URI of an environment file")
    try:
        real = resolve(path)
    except (OSError, ValueError):
        raise JsonRpcInvalidParams(f"{path} is no usable path") from None
    is_open = uri in server.workspace.text_documents
    roots = _workspace_roots(server)
    if roots and not any(is_inside(real, root) for root in roots):
        raise JsonRpcInvalidParams(f"{path} is outside the workspace folders: envls acts only on files inside them")
    if not roots and not is_open:
        raise JsonRpcInvalidParams(f"{path} is neither in a workspace folder nor open in the editor")
    try:
        check_regular(real)
    except FileNotFoundError:
        if not is_open:
            raise JsonRpcInvalidParams(f"{path}: no such file") from None
    except Refused as err:
        raise JsonRpcInvalidParams(err.reason) from None
    except OSError as err:
        raise JsonRpcInvalidParams(f"{path} cannot be read: {err.strerror or err}") from None
    return Path(path)


def prefix_argument(server: EnvlsServer, arguments: dict[str, Any], env_file: Path) -> str | None:
    """The `prefix` argument, when it lies inside a workspace folder or one of the folders environments
    are kept in (conda's envs dirs); a client cannot point envls at any other folder of the machine."""
    prefix = optional_argument(arguments, "prefix", str)
    if prefix is None:
        return None
    try:
        path = Path(os.path.expanduser(prefix.strip()))
        real = resolve(path if path.is_absolute() else env_file.parent / path)
    except (OSError, ValueError):
        raise JsonRpcInvalidParams(f"the prefix {prefix!r} is no usable path") from None
    allowed = _workspace_roots(server)
    with contextlib.suppress(OSError, ValueError):
        allowed += [resolve(d) for d in _envs_dirs(server)]
    if not any(is_inside(real, folder) for folder in allowed):
        raise JsonRpcInvalidParams(f"the prefix {prefix} is outside the workspace folders and conda's environment "
                                   "folders: envls does not create or use environments there")
    return prefix


def _saved_text(env_file: Path) -> str:
    """The saved file's text, read through the guarded reader; InvalidParams when it cannot be read."""
    try:
        return decode(read_bytes(env_file, max_bytes=DOCUMENT_MAX_BYTES))[0]
    except OSError as err:
        reason = err.reason if isinstance(err, Refused) else f"cannot read {env_file}: {err.strerror or err}"
        raise JsonRpcInvalidParams(reason) from None


class ProgressReporter:
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


async def begin_progress(server: EnvlsServer, title: str, cancel: asyncio.Event) -> str | None:
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
    if not env_file.exists():
        raise JsonRpcInvalidParams(f"{env_file.name} is not saved yet: save it first")
    saved = _saved_text(env_file)
    if saved.replace("\r\n", "\n") != server.workspace.get_text_document(uri).source.replace("\r\n", "\n"):
        raise JsonRpcInvalidParams(f"{env_file.name} has unsaved changes: save it first (the environment is "
                                   "made from the saved file)")


def _result(result: Result) -> dict[str, Any]:
    return {"prefix": result.prefix, "pythonPath": result.python_path, "backend": result.backend}


async def _create_or_update(server: EnvlsServer, arguments: dict[str, Any], update: bool) -> dict[str, Any]:
    if not server.settings.trusted:
        raise JsonRpcInvalidParams("envls does not run conda in an untrusted workspace; trust it first")
    env_file = env_file_argument(server, arguments)
    _refuse_unsaved(server, env_file)
    backend = arguments.get("backend", "auto")
    if backend not in _BACKENDS:
        raise JsonRpcInvalidParams(f"`backend` must be one of {', '.join(_BACKENDS)}")
    request = CreateRequest(
        env_file=env_file, name=optional_argument(arguments, "name", str), prefix=prefix_argument(server, arguments, env_file),
        backend=backend, prune=optional_argument(arguments, "prune", bool) or False,
        force=optional_argument(arguments, "force", bool) or False, update=update,
    )
    session = server.session
    cancel = asyncio.Event()
    verb = "Updating" if update else "Creating"
    token = await begin_progress(server, f"{verb} environment", cancel)
    reporter = ProgressReporter(server, token)
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
    environments_changed(server)
    return _result(result)


def _envs_dirs(server: EnvlsServer) -> list[Path]:
    return envs_dirs_for_create(server.session.config, server.session.tools)


def environments_changed(server: EnvlsServer) -> None:
    """Drift and code lenses depend on installed environments: look again."""
    invalidate(server, "environments")


async def create(ls: EnvlsServer, *args: Any) -> dict[str, Any]:
    return await _create_or_update(ls, command_arguments(args), update=False)


async def update(ls: EnvlsServer, *args: Any) -> dict[str, Any]:
    return await _create_or_update(ls, command_arguments(args), update=True)


def described_environment(server: EnvlsServer, env_file: Path, name: str | None = None,
                          prefix: str | None = None) -> tuple[str | None, InstalledEnv | None]:
    """The name or prefix the file (or the arguments) give, and the installed environment it is, if any."""
    target = prefix or name
    if not target:
        uri = env_file.as_uri()
        text = ""
        if uri not in server.workspace.text_documents:
            with contextlib.suppress(JsonRpcInvalidParams):
                text = _saved_text(env_file)
        if uri in server.workspace.text_documents:
            text = server.workspace.get_text_document(uri).source
        from envls.core.document import parse

        target = described_target(environment_of(parse(text)))
    if not target:
        return None, None
    return target, server.session.find_installed(target, env_file.parent)


def select_interpreter(ls: EnvlsServer, *args: Any) -> dict[str, Any]:
    arguments = command_arguments(args)
    env_file = env_file_argument(ls, arguments)
    target, found = described_environment(ls, env_file, optional_argument(arguments, "name", str),
                                          prefix_argument(ls, arguments, env_file))
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


# -- Solving (envls/solve/commands.py): the solution per platform, and lock files --------------------------

SHOW_SOLUTION = "envls.showSolution"
EXPORT_LOCK = "envls.exportLock"


def _current_text(server: EnvlsServer, env_file: Path) -> str:
    """The text as the editor has it (unsaved edits included), else as it is on disk."""
    uri = env_file.as_uri()
    if uri in server.workspace.text_documents:
        return server.workspace.get_text_document(uri).source
    return _saved_text(env_file)


async def show_solution(ls: EnvlsServer, *args: Any) -> dict[str, Any]:
    """`{"uri", "platform"?}` -> the solved packages per target platform; the tables go to the client's log too."""
    from envls.solve.commands import SolveCommandError
    from envls.solve.commands import show_solution as solve_and_show

    arguments = command_arguments(args)
    env_file = env_file_argument(ls, arguments)

    def show(table: str) -> None:
        ls.window_log_message(types.LogMessageParams(type=types.MessageType.Info, message=table))

    try:
        return await solve_and_show(ls.session, env_file, _current_text(ls, env_file),
                                    optional_argument(arguments, "platform", str), show)
    except SolveCommandError as err:
        raise JsonRpcInternalError(str(err)) from None


async def export_lock(ls: EnvlsServer, *args: Any) -> dict[str, Any]:
    """`{"uri", "platforms"?, "rattlerLock"?}` -> writes `<stem>.<platform>.lock.txt` next to the file."""
    from envls.solve.commands import SolveCommandError
    from envls.solve.commands import export_lock as solve_and_export

    arguments = command_arguments(args)
    env_file = env_file_argument(ls, arguments)
    platforms = arguments.get("platforms")
    if platforms is not None and not (isinstance(platforms, list) and all(isinstance(p, str) for p in platforms)):
        raise JsonRpcInvalidParams("`platforms` must be a list of conda subdirs such as linux-64")
    try:
        return await solve_and_export(ls.session, env_file, _current_text(ls, env_file), platforms,
                                      bool(optional_argument(arguments, "rattlerLock", bool)))
    except SolveCommandError as err:
        raise JsonRpcInternalError(str(err)) from None
    except OSError as err:
        raise JsonRpcInternalError(f"cannot write the lock file: {err.strerror or err}") from None


HOST_INFO = "envls.hostInfo"


async def host_info(ls: EnvlsServer, *args: Any) -> dict[str, Any]:
    """What the server knows of the machine it runs on (over Remote-SSH: the remote one): its platform,
    the CUDA target and where it comes from, and the conda tools found. Given `{"uri": ...}` of an open
    environment file, also whether that file has anything to do with CUDA (`usesCuda`)."""
    from envls.channels.facts import host_subdir
    from envls.core.cuda.implied import uses_cuda
    from envls.host.cuda import driver_and_source

    session = ls.session
    detection = session.cuda_detection()
    known = detection is not None or bool(session.options.cuda_version)
    driver, source = driver_and_source(detection, session.options.cuda_version) if known else (None, "none")
    info: dict[str, Any] = {
        "platform": host_subdir(),
        "cuda": {"driver": driver, "source": source, "known": known},
        "condaTools": [{"kind": t.kind, "path": t.path} for t in session.tools],
    }
    uri = optional_argument(args[0], "uri", str) if args and isinstance(args[0], dict) else None
    if uri is not None and uri in ls.workspace.text_documents and ls.is_environment(uri):
        snap = await ls.snapshot_async(uri)  # analysed in the worker, never on the event loop
        if snap is not None:
            info["usesCuda"] = uses_cuda(snap.analysis.environment)
    return info


# Every command the server offers, in one table: name, handler.
COMMANDS: tuple[tuple[str, Callable[..., Any]], ...] = (
    (CREATE, create),
    (UPDATE, update),
    (SELECT, select_interpreter),
    (LIST, list_all),
    (SHOW_SOLUTION, show_solution),
    (EXPORT_LOCK, export_lock),
    (HOST_INFO, host_info),
)
