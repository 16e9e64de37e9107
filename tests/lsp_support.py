"""Shared pieces of the end-to-end tests: a client that records every publication, and text edits done locally.

The tests drive the real server (`python -m envls serve`) through pytest-lsp. The client
here keeps *every* `textDocument/publishDiagnostics` in arrival order (pytest-lsp keeps
only the latest per URI), so a test can ask which publication came last and for which
version. Positions are converted with LSP's line breaks (``\\n``, ``\\r\\n``, ``\\r``) and
UTF-16 code units, as VS Code counts them.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from lsprotocol import types
from pygls.protocol import default_converter
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities
from pytest_lsp.client import DEFAULT_CLIENT_FEATURES, register_lsp_features

DATA = Path(__file__).parent / "data" / "lsp"
SERVER_COMMAND = [sys.executable, "-m", "envls", "serve"]

VSCODE = "visual-studio-code"
NEOVIM = "neovim@v0.7.0"
PULL = "visual-studio-code+pull"  # VS Code's capabilities, plus textDocument.diagnostic
PROFILES = [VSCODE, NEOVIM]

T = TypeVar("T")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
ANY_VERSION = object()


def capabilities(profile: str) -> types.ClientCapabilities:
    """Recorded client capabilities; ``PULL`` is VS Code's with pull diagnostics (and their refresh) announced."""
    if profile != PULL:
        return client_capabilities(profile)
    caps = client_capabilities(VSCODE)
    assert caps.text_document is not None
    caps.text_document.diagnostic = types.DiagnosticClientCapabilities(
        dynamic_registration=False, related_document_support=False
    )
    assert caps.workspace is not None  # and, as vscode-languageclient, workspace/diagnostic/refresh
    caps.workspace.diagnostics = types.DiagnosticWorkspaceClientCapabilities(refresh_support=True)
    return caps


class EnvClient(LanguageClient):
    """pytest-lsp's client, keeping every publication and the version of each open document."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.published: list[types.PublishDiagnosticsParams] = []
        self.versions: dict[str, int] = {}
        self.initialize_result: types.InitializeResult | None = None

    # Document lifecycle -------------------------------------------------------------

    def open(self, uri: str, text: str, version: int = 1) -> None:
        self.versions[uri] = version
        self.text_document_did_open(types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri, language_id="yaml", version=version, text=text)))

    def change(self, uri: str, *changes: types.TextDocumentContentChangeEvent) -> int:
        """Send one didChange with ``changes``; returns the new version."""
        version = self.versions[uri] = self.versions[uri] + 1
        self.text_document_did_change(types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=list(changes)))
        return version

    def replace_all(self, uri: str, text: str) -> int:
        return self.change(uri, types.TextDocumentContentChangeWholeDocument(text=text))

    def save(self, uri: str) -> None:
        self.text_document_did_save(types.DidSaveTextDocumentParams(
            text_document=types.TextDocumentIdentifier(uri=uri)))

    def close(self, uri: str) -> None:
        self.text_document_did_close(types.DidCloseTextDocumentParams(
            text_document=types.TextDocumentIdentifier(uri=uri)))

    # Publications --------------------------------------------------------------------

    def publications(self, uri: str) -> list[types.PublishDiagnosticsParams]:
        return [p for p in self.published if p.uri == uri]

    async def wait_for_publish(
        self,
        uri: str,
        version: Any = ANY_VERSION,
        *,
        after: int = 0,
        predicate: Callable[[types.PublishDiagnosticsParams], bool] | None = None,
        timeout: float = 10.0,
    ) -> types.PublishDiagnosticsParams:
        """The first publication for ``uri`` at index >= ``after`` that has ``version`` and passes ``predicate``."""
        deadline = time.monotonic() + timeout
        while True:
            for params in self.published[after:]:
                if params.uri != uri or (version is not ANY_VERSION and params.version != version):
                    continue
                if predicate is None or predicate(params):
                    return params
            if time.monotonic() > deadline:
                seen = [(p.version, sorted(codes(p.diagnostics))) for p in self.publications(uri)]
                raise AssertionError(
                    f"no publishDiagnostics for {uri} (version {version}) within {timeout} s; got {seen}")
            await asyncio.sleep(0.01)

    async def ask(self, request: Awaitable[T], timeout: float = 5.0) -> T:
        """A request's result, or a failure if the server does not answer within ``timeout`` seconds."""
        return await asyncio.wait_for(request, timeout)

    def server_alive(self) -> bool:
        process = self._server
        return process is not None and process.returncode is None


def _record_publication(client: EnvClient, params: types.PublishDiagnosticsParams) -> None:
    client.published.append(params)
    client.diagnostics[params.uri] = params.diagnostics


def _lens_refresh(client: EnvClient, params: None) -> None:
    """VS Code's recorded capabilities announce `workspace/codeLens/refresh`: answer it as VS Code does."""


def make_client() -> EnvClient:
    client = EnvClient(converter_factory=default_converter)
    register_lsp_features(client, {**DEFAULT_CLIENT_FEATURES,
                                   types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS: _record_publication,
                                   types.WORKSPACE_CODE_LENS_REFRESH: _lens_refresh})
    return client


def _server_env() -> dict[str, str]:
    """The test's environment, with channel checks off: these tests are about the fast stages, offline."""
    env = {key: value for key, value in os.environ.items() if key != "CONDARC"}
    env["ENVLS_CHANNEL_CHECKS"] = "0"
    return env


CONFIG = ClientServerConfig(server_command=SERVER_COMMAND, client_factory=make_client, server_env=_server_env())


def initialize_params(profile: str, root: Path, initialization_options: Any = None) -> types.InitializeParams:
    return types.InitializeParams(
        capabilities=capabilities(profile),
        client_info=types.ClientInfo(name=f"pytest-lsp as {profile}"),
        root_uri=root.as_uri(),
        workspace_folders=[types.WorkspaceFolder(uri=root.as_uri(), name=root.name)],
        initialization_options=initialization_options,
    )


async def start(client: EnvClient, profile: str, root: Path, initialization_options: Any = None) -> None:
    """Initialize the session as the client ``profile`` would."""
    client.initialize_result = await client.initialize_session(
        initialize_params(profile, root, initialization_options))


async def shutdown(client: EnvClient) -> None:
    """Shut the server down politely; kill it if it does not go (so that ``stop()`` cannot hang)."""
    try:
        await asyncio.wait_for(client.shutdown_session(), 15)
    except Exception:
        if client.server_alive() and client._server is not None:
            client._server.kill()
        raise


@contextlib.asynccontextmanager
async def session(profile: str, root: Path, *, initialization_options: Any = None,
                  configuration: dict[str, Any] | None = None,
                  config: ClientServerConfig = CONFIG) -> AsyncIterator[EnvClient]:
    """A server and an initialized client, for tests that need their own settings (or server environment)."""
    client = await config.start()
    assert isinstance(client, EnvClient)
    try:
        for section, value in (configuration or {}).items():
            client.set_configuration(value, section=section)
        await start(client, profile, root, initialization_options)
        yield client
    finally:
        try:
            await shutdown(client)
        finally:
            await client.stop()


def loopback_config(tmp_path: Path, base_url: str, extra_env: dict[str, str] | None = None,
                    client_factory: Callable[[], EnvClient] = make_client) -> ClientServerConfig:
    """A server whose conda configuration points at a loopback channel server, with its own HOME and cache.

    ENVLS_CHANNEL_CHECKS stays 0 (conftest): the tests turn the checks on with initializationOptions."""
    from channel_server import condarc

    env = {k: v for k, v in os.environ.items() if not k.startswith("CONDA_") and k != "XDG_CONFIG_HOME"}
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env.update(HOME=str(home), CONDARC=str(condarc(tmp_path, base_url)), ENVLS_CACHE_DIR=str(tmp_path / "cache"),
               **(extra_env or {}))
    return ClientServerConfig(server_command=SERVER_COMMAND, client_factory=client_factory, server_env=env)


# Diagnostics in short --------------------------------------------------------------------

def codes(diagnostics: Sequence[types.Diagnostic]) -> list[str]:
    return [str(d.code) for d in diagnostics]


def by_code(diagnostics: Sequence[types.Diagnostic], code: str) -> types.Diagnostic:
    found = [d for d in diagnostics if d.code == code]
    assert len(found) == 1, f"expected one {code}, got {[(d.code, d.range, d.message) for d in diagnostics]}"
    return found[0]


def span(line: int, start: int, end: int, end_line: int | None = None) -> types.Range:
    return types.Range(start=types.Position(line=line, character=start),
                       end=types.Position(line=line if end_line is None else end_line, character=end))


# Text and positions ----------------------------------------------------------------------

def line_starts(text: str) -> list[int]:
    return [0, *(m.end() for m in _LINE_BREAK.finditer(text))]


def _units(segment: str, encoding: str) -> int:
    if encoding == "utf-8":
        return len(segment.encode("utf-8", "surrogatepass"))
    if encoding == "utf-16":
        return len(segment.encode("utf-16-le", "surrogatepass")) // 2
    return len(segment)


def to_offset(text: str, position: types.Position, encoding: str = "utf-16") -> int:
    starts = line_starts(text)
    if position.line >= len(starts):
        return len(text)
    start = starts[position.line]
    end = starts[position.line + 1] if position.line + 1 < len(starts) else len(text)
    line = text[start:end].rstrip("\r\n")
    units = 0
    for i, ch in enumerate(line):
        if units >= position.character:
            return start + i
        units += _units(ch, encoding)
    return start + len(line)


def to_position(text: str, offset: int, encoding: str = "utf-16") -> types.Position:
    starts = line_starts(text)
    line = max(i for i, s in enumerate(starts) if s <= offset)
    return types.Position(line=line, character=_units(text[starts[line]:offset], encoding))


def range_of(text: str, needle: str, occurrence: int = 0) -> types.Range:
    """The range of the ``occurrence``-th ``needle`` in ``text``."""
    start = -1
    for _ in range(occurrence + 1):
        start = text.index(needle, start + 1)
    return types.Range(start=to_position(text, start), end=to_position(text, start + len(needle)))


def text_at(text: str, range_: types.Range) -> str:
    return text[to_offset(text, range_.start):to_offset(text, range_.end)]


def apply_edits(text: str, edits: Sequence[types.TextEdit]) -> str:
    """``text`` with non-overlapping ``edits`` applied, as a client does."""
    resolved = sorted(((to_offset(text, e.range.start), to_offset(text, e.range.end), e.new_text) for e in edits),
                      key=lambda item: (item[0], item[1]), reverse=True)
    for start, end, new_text in resolved:
        text = text[:start] + new_text + text[end:]
    return text


def edits_of(edit: types.WorkspaceEdit | None, uri: str) -> list[types.TextEdit]:
    """The text edits a workspace edit makes to ``uri`` (from `changes` or `documentChanges`)."""
    assert edit is not None, "the code action carries no edit"
    found: list[types.TextEdit] = list((edit.changes or {}).get(uri, []))
    for change in edit.document_changes or []:
        if isinstance(change, types.TextDocumentEdit) and change.text_document.uri == uri:
            found.extend(e for e in change.edits if isinstance(e, types.TextEdit))
    return found
