"""The language server: one readable table of features, and the document lifecycle.

Every handler is thin: it unpacks the request, calls a plain function, and converts.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import sys
import sysconfig
from typing import Any

from lsprotocol import types
from pygls.workspace import Workspace

from envls.compat import pygls as compat_pygls
from envls.lsp import commands, diagnostics, features, lenses, workflow
from envls.lsp.documents import EnvlsWorkspace
from envls.lsp.invalidation import invalidate
from envls.lsp.logs import ClientLogHandler
from envls.lsp.protocol import EnvlsProtocol
from envls.lsp.state import EnvlsServer
from envls.settings import parse_settings

log = logging.getLogger(__name__)


def _on_initialize(server: EnvlsServer, params: types.InitializeParams) -> None:
    if type(server.workspace) is Workspace:
        server.workspace.__class__ = EnvlsWorkspace  # incremental edits in proportion to the change
    server.apply_settings(parse_settings(params.initialization_options, server.settings))
    client = params.client_info.name if params.client_info else "an unnamed client"
    log.info("envls %s serving %s (positions in %s)", server.version, client, server.encoding)


async def _on_initialized(server: EnvlsServer, params: types.InitializedParams) -> None:
    handler = ClientLogHandler(server, asyncio.get_running_loop())
    handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))  # the client shows the time and level
    logging.getLogger("envls").addHandler(handler)
    await _pull_configuration(server)
    _probe_cuda(server)
    server.watcher = asyncio.ensure_future(_watch_environments(server))


def watch_seconds(environ: dict[str, str] | None = None) -> float:
    """Seconds between looks at the installed environments the open files describe: ENVLS_WATCH_SECONDS,
    else 5; a value that is no positive number is logged and the default used."""
    value = (environ if environ is not None else os.environ).get("ENVLS_WATCH_SECONDS", "")
    try:
        seconds = float(value) if value.strip() else 5.0
    except ValueError:
        seconds = -1.0
    if not seconds > 0 or seconds == float("inf"):
        log.warning("ignoring ENVLS_WATCH_SECONDS=%r: not a positive number of seconds", value)
        return 5.0
    return seconds


async def _watch_environments(server: EnvlsServer) -> None:
    """Drift follows the environment: when conda, mamba or pip change it, publish again (no edit needed)."""
    every = watch_seconds()
    while True:
        await asyncio.sleep(every)
        try:
            if server.session.installed_changed():
                invalidate(server, "environments")
        except Exception:
            log.exception("watching installed environments failed")


def _probe_cuda(server: EnvlsServer) -> None:
    """Detect the target's CUDA once, off the event loop; publish again when the answer is in."""
    session = server.session
    if session.options.cuda_version or session.probe_watched:
        return
    session.probe_watched = True
    future = session.cuda_probe.start()
    loop = asyncio.get_running_loop()

    def done(_: object) -> None:
        if server.session is session:
            try:
                loop.call_soon_threadsafe(_refresh_all_after_probe, server)
            except RuntimeError:  # the probe answered after the server's loop closed (it is exiting)
                pass

    future.add_done_callback(done)


def _refresh_all_after_probe(server: EnvlsServer) -> None:
    invalidate(server, "cuda-probe")


async def _pull_configuration(server: EnvlsServer) -> None:
    workspace_caps = server.client_capabilities.workspace
    if not (workspace_caps and workspace_caps.configuration):
        return
    try:
        result = await server.workspace_configuration_async(
            types.ConfigurationParams(items=[types.ConfigurationItem(section="envls")])
        )
    except Exception as err:
        log.warning("could not read the client's envls settings: %s", err)
        return
    raw: Any = result[0] if result else None
    if raw is not None:
        server.apply_settings(parse_settings(raw, server.settings))
        _refresh_all(server)


def _refresh_all(server: EnvlsServer) -> None:
    """After new settings: probe CUDA for a new session, and analyse every document again."""
    _probe_cuda(server)
    invalidate(server, "settings")


async def _on_change_configuration(server: EnvlsServer, params: types.DidChangeConfigurationParams) -> None:
    if isinstance(params.settings, dict) and params.settings:
        server.apply_settings(parse_settings(params.settings, server.settings))
        _refresh_all(server)
    else:
        await _pull_configuration(server)


def _on_open(server: EnvlsServer, params: types.DidOpenTextDocumentParams) -> None:
    diagnostics.schedule(server, params.text_document.uri, force=True)


def _on_change(server: EnvlsServer, params: types.DidChangeTextDocumentParams) -> None:
    diagnostics.schedule(server, params.text_document.uri)
    compat_pygls.drop_finished_notification_futures(server.protocol)


def _on_save(server: EnvlsServer, params: types.DidSaveTextDocumentParams) -> None:
    diagnostics.schedule(server, params.text_document.uri, force=True)


def _on_close(server: EnvlsServer, params: types.DidCloseTextDocumentParams) -> None:
    diagnostics.clear(server, params.text_document.uri)


def _on_shutdown(server: EnvlsServer, params: None) -> None:
    server.analysis_pool.shutdown(wait=False, cancel_futures=True)
    if server.watcher is not None:
        server.watcher.cancel()
    compat_pygls.cancel_requests_before_shutdown(server.protocol)


# The whole surface of the server, in one table: method, options, handler.
FEATURES: list[tuple[str, Any, Any]] = [
    (types.INITIALIZE, None, _on_initialize),
    (types.INITIALIZED, None, _on_initialized),
    (types.WORKSPACE_DID_CHANGE_CONFIGURATION, None, _on_change_configuration),
    (types.TEXT_DOCUMENT_DID_OPEN, None, _on_open),
    (types.TEXT_DOCUMENT_DID_CHANGE, None, _on_change),
    (types.TEXT_DOCUMENT_DID_SAVE, types.SaveOptions(include_text=False), _on_save),
    (types.TEXT_DOCUMENT_DID_CLOSE, None, _on_close),
    (types.SHUTDOWN, None, _on_shutdown),
    (types.TEXT_DOCUMENT_DIAGNOSTIC,
     types.DiagnosticOptions(identifier="envls", inter_file_dependencies=False, workspace_diagnostics=False),
     diagnostics.pull),
    (types.TEXT_DOCUMENT_COMPLETION,
     types.CompletionOptions(trigger_characters=["-", " ", ":", "="], resolve_provider=False), features.completion),
    (types.TEXT_DOCUMENT_HOVER, None, features.hover),
    (types.TEXT_DOCUMENT_CODE_ACTION,
     types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.QuickFix]), features.code_actions),
    (types.TEXT_DOCUMENT_DOCUMENT_SYMBOL, None, features.document_symbols),
    (types.TEXT_DOCUMENT_CODE_LENS, types.CodeLensOptions(resolve_provider=False), lenses.code_lenses),
]


def create_server() -> EnvlsServer:
    server = EnvlsServer()
    for method, options, handler in FEATURES:
        server.feature(method, options)(handler)
    for name, command in (*commands.COMMANDS, *workflow.COMMANDS):
        server.command(name)(command)
    return server


def serve() -> int:
    """Run the server on stdin/stdout until the client says exit; the exit status (1 without `shutdown`)."""
    server = create_server()
    # sysconfig fills its table on first use, and that is not thread-safe before Python 3.12 (a second
    # thread can read a half-filled table: uv's lookup then saw `EXE` as None). Fill it here, on one thread.
    sysconfig.get_config_vars()
    # Everything imported so far lives as long as the server: keep it out of the collector's
    # full passes, which otherwise cost 20-50 ms on an edit now and then.
    gc.collect()
    gc.freeze()
    # A thread that wants the interpreter gets it within 1 ms (default 5): the event loop and the analysis
    # of a small document are not held up for long by the analysis of a large one in another worker.
    sys.setswitchinterval(0.001)
    server.start_io()
    protocol = server.protocol
    return protocol.exit_code if isinstance(protocol, EnvlsProtocol) else 0
