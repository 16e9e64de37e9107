"""The commands and code lenses end to end: the real server, a real channel on loopback, no conda.

The server runs with an isolated HOME, a CONDARC whose `channel_alias` is the loopback channel
server, its caches and data in tmp_path, and a PATH with no conda on it, so that the `auto`
backend is the embedded py-rattler installer. The channel is built by the test (see
tests/actions_support.py): `tool` 1.0 and 2.0, `slowpkg` (made slow to cancel a create), and a
`python` whose `bin/python` is the interpreter running the tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from actions_support import Pkg, build_channel
from channel_server import ChannelServer, condarc
from lsp_support import (
    PULL,
    SERVER_COMMAND,
    VSCODE,
    EnvClient,
    capabilities,
    initialize_params,
    range_of,
    shutdown,
    start,
)
from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInternalError, JsonRpcInvalidParams, JsonRpcRequestCancelled
from pygls.protocol import default_converter
from pytest_lsp import ClientServerConfig
from pytest_lsp.client import DEFAULT_CLIENT_FEATURES, register_lsp_features

pytestmark = [
    pytest.mark.skipif(not sys.platform.startswith("linux") or os.uname().machine != "x86_64",
                       reason="the test channel is built for linux-64"),
    pytest.mark.filterwarnings("error::pytest_lsp.LspSpecificationWarning"),
]

CHANNEL = "envls-test"
PACKAGES = [Pkg("tool", "1.0"), Pkg("tool", "2.0"), Pkg("slowpkg")]
SLOW = f"/channels/{CHANNEL}/noarch/slowpkg-"

CREATE = "envls.createEnvironment"
UPDATE = "envls.updateEnvironment"
SELECT = "envls.selectInterpreter"
LIST = "envls.listEnvironments"


def env_text(name: str, *deps: str) -> str:
    lines = [f"name: {name}", "channels:", f"  - {CHANNEL}", "  - nodefaults", "dependencies:"]
    return "\n".join([*lines, *(f"  - {dep}" for dep in deps)]) + "\n"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChannelServer]:
    root = tmp_path_factory.mktemp("site")
    build_channel(root / "channels" / CHANNEL, PACKAGES)
    with ChannelServer(root=root, hang_seconds=60) as server:
        yield server


@dataclass
class Setup:
    root: Path  # the workspace folder
    home: Path
    env_file: Path

    @property
    def uri(self) -> str:
        return self.env_file.as_uri()

    @property
    def envs(self) -> Path:
        # No conda on this machine: named environments go to the user's data folder (XDG_DATA_HOME).
        return self.home.parent / "data" / "envls" / "envs"

    @property
    def registry(self) -> Path:
        return self.home / ".conda" / "environments.txt"

    def write(self, text: str) -> str:
        self.env_file.write_text(text, encoding="utf-8")
        return text


class LensClient(EnvClient):
    """The test client, counting `workspace/codeLens/refresh` requests (pytest-lsp has no handler for them)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lens_refreshes = 0


def _record_publication(client: LensClient, params: types.PublishDiagnosticsParams) -> None:
    client.published.append(params)
    client.diagnostics[params.uri] = params.diagnostics


def _lens_refresh(client: LensClient, params: None) -> None:
    client.lens_refreshes += 1


def make_lens_client() -> LensClient:
    client = LensClient(converter_factory=default_converter)
    register_lsp_features(client, {**DEFAULT_CLIENT_FEATURES,
                                   types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS: _record_publication,
                                   types.WORKSPACE_CODE_LENS_REFRESH: _lens_refresh})
    return client


@pytest.fixture
def setup(tmp_path: Path) -> Setup:
    root = tmp_path / "project"
    home = tmp_path / "home"
    root.mkdir()
    home.mkdir()
    return Setup(root, home, root / "environment.yml")


def server_env(tmp_path: Path, home: Path, site: ChannelServer) -> dict[str, str]:
    keep = ("LANG", "LC_ALL", "SYSTEMROOT", "TMPDIR", "ENVLS_CHANNEL_CHECKS", "PYTHONPATH")
    env = {key: value for key, value in os.environ.items() if key in keep}
    empty_bin = tmp_path / "bin"  # PATH: a folder with nothing in it, so no conda, mamba or micromamba
    empty_bin.mkdir(exist_ok=True)
    config = condarc(tmp_path, site.base_url, channels=[CHANNEL],
                     default_channels=[f"{site.base_url}/channels/{CHANNEL}"])
    env.update(HOME=str(home), PATH=str(empty_bin), CONDARC=str(config),
               XDG_DATA_HOME=str(tmp_path / "data"), XDG_CACHE_HOME=str(tmp_path / "xdg-cache"),
               XDG_CONFIG_HOME=str(tmp_path / "xdg-config"), ENVLS_CACHE_DIR=str(tmp_path / "cache"),
               ENVLS_WATCH_SECONDS="0.5")
    return env


@contextlib.asynccontextmanager
async def session(setup: Setup, site: ChannelServer, options: Any = None, *,
                  client_factory: Callable[[], LensClient] = make_lens_client,
                  extra_env: dict[str, str] | None = None) -> AsyncIterator[LensClient]:
    config = ClientServerConfig(server_command=SERVER_COMMAND, client_factory=client_factory,
                                server_env={**server_env(setup.root.parent, setup.home, site), **(extra_env or {})})
    client = await config.start()
    assert isinstance(client, LensClient)
    try:
        await start(client, VSCODE, setup.root, options)
        yield client
    finally:
        try:
            await shutdown(client)
        finally:
            await client.stop()


async def run(client: EnvClient, command: str, *arguments: Any, timeout: float = 30) -> Any:
    params = types.ExecuteCommandParams(command=command, arguments=list(arguments) if arguments else None)
    return await client.ask(client.workspace_execute_command_async(params), timeout)


async def failure(client: EnvClient, command: str, *arguments: Any) -> JsonRpcException:
    with pytest.raises(JsonRpcException) as caught:
        await run(client, command, *arguments)
    return caught.value


async def lenses(client: EnvClient, uri: str) -> list[types.CodeLens]:
    found = await client.ask(client.text_document_code_lens_async(
        types.CodeLensParams(text_document=types.TextDocumentIdentifier(uri=uri))))
    return list(found or [])


def titles(found: list[types.CodeLens]) -> list[str]:
    return [lens.command.title if lens.command else "" for lens in found]


def tokens(client: EnvClient, kind: str) -> list[Any]:
    return [token for token in client.progress_reports if str(token).startswith(f"envls-{kind}")]


def installed(prefix: Path) -> set[str]:
    return {p.name.removesuffix(".json") for p in (prefix / "conda-meta").glob("*.json")}


def drift(params: types.PublishDiagnosticsParams) -> list[types.Diagnostic]:
    return [d for d in params.diagnostics if d.code == "env-drift"]


async def test_create_lens_drift_update(setup: Setup, site: ChannelServer) -> None:
    text = setup.write(env_text("demo", "python", "tool"))
    uri = setup.uri
    prefix = setup.envs / "demo"
    python = prefix / "bin" / "python"
    # A second file for the same environment, asking for an older `tool` than a create from the first installs.
    other = setup.root / "old" / "environment.yml"
    other.parent.mkdir()
    other_text = env_text("demo", "python", "tool <2")
    other.write_text(other_text, encoding="utf-8")
    other_uri = other.as_uri()
    async with session(setup, site) as client:
        client.open(uri, text)
        client.open(other_uri, other_text)
        await client.wait_for_publish(uri, 1)
        assert drift(await client.wait_for_publish(other_uri, 1)) == []

        # Before: one lens, to create the environment the file names.
        before = await lenses(client, uri)
        assert titles(before) == ["Create environment `demo`"]
        lens = before[0]
        assert lens.range == types.Range(start=types.Position(0, 0), end=types.Position(0, 0))
        assert lens.command is not None and lens.command.command == CREATE
        assert list(lens.command.arguments or ()) == [{"uri": uri}]

        # The lens's own command creates it, with progress from begin to end.
        published = len(client.published)
        result = await run(client, CREATE, *lens.command.arguments)
        assert result == {"prefix": str(prefix), "pythonPath": str(python), "backend": "embedded"}
        assert python.exists() and os.path.samefile(python, sys.executable)
        assert {r.rsplit("-", 2)[0] for r in installed(prefix)} == {"python", "tool"}
        assert "tool-2.0-0" in installed(prefix)
        assert setup.registry.read_text().splitlines() == [str(prefix)]
        [token] = tokens(client, "creating")
        reports = client.progress_reports[token]
        begin, *middle, end = reports
        assert isinstance(begin, types.WorkDoneProgressBegin)
        assert begin.title == "Creating environment" and begin.cancellable is True
        assert isinstance(end, types.WorkDoneProgressEnd) and end.message == f"done: {prefix}"
        assert middle and all(isinstance(r, types.WorkDoneProgressReport) for r in middle)
        messages = [r.message or "" for r in middle if isinstance(r, types.WorkDoneProgressReport)]
        assert messages[0].startswith("Solving") and messages[-1] == "Done"
        assert any(m.startswith("Linking") for m in messages)
        # The output went to the client's log; the lenses were refreshed and the file analysed again.
        assert any(m.message.startswith("solved: 2 packages") for m in client.log_messages)
        assert client.lens_refreshes >= 1
        # Every open file is analysed again: the other one, unchanged, now drifts from what was installed.
        again = await client.wait_for_publish(other_uri, 1, after=published, predicate=lambda p: bool(drift(p)))
        [finding] = drift(again)
        assert finding.range == range_of(other_text, "tool <2")
        assert "tool 2.0" in finding.message
        assert titles(await lenses(client, other_uri))[0] == "Update environment (1 package out of date)"
        assert all(d.code != "env-drift" for d in client.diagnostics[uri])

        # After: update (in sync) and use as interpreter.
        after = await lenses(client, uri)
        assert titles(after) == ["Update environment (in sync with this file)", "Use as Python interpreter"]
        assert [lens.command.command for lens in after if lens.command] == [UPDATE, SELECT]
        select = after[1].command
        assert select is not None and select.arguments is not None
        chosen = await run(client, SELECT, *select.arguments)
        assert chosen == {"pythonPath": str(python), "prefix": str(prefix), "name": "demo"}

        listed = await run(client, LIST)
        mine = [e for e in listed if e["prefix"] == str(prefix)]
        assert len(mine) == 1 and mine[0]["name"] == "demo" and mine[0]["pythonPath"] == str(python)
        assert isinstance(mine[0]["manager"], str)

        # The file now asks for a version the environment does not hold: drift, as information, on that line.
        edited = setup.write(env_text("demo", "python", "tool <2"))
        published = len(client.published)
        version = client.replace_all(uri, edited)
        client.save(uri)
        drifted = await client.wait_for_publish(uri, version, after=published, predicate=lambda p: bool(drift(p)))
        [finding] = drift(drifted)
        assert finding.severity == types.DiagnosticSeverity.Information
        assert finding.range == range_of(edited, "tool <2")
        assert "tool 2.0" in finding.message and "Update environment" in finding.message
        assert titles(await lenses(client, uri)) == [
            "Update environment (1 package out of date)", "Use as Python interpreter"]

        # Update resolves it.
        published = len(client.published)
        updated = await run(client, UPDATE, {"uri": uri})
        assert updated == {"prefix": str(prefix), "pythonPath": str(python), "backend": "embedded"}
        assert "tool-1.0-0" in installed(prefix) and "tool-2.0-0" not in installed(prefix)
        fixed = await client.wait_for_publish(uri, version, after=published)
        assert drift(fixed) == []
        assert drift(await client.wait_for_publish(other_uri, 1, after=published)) == []
        [update_token] = tokens(client, "updating")
        assert isinstance(client.progress_reports[update_token][0], types.WorkDoneProgressBegin)
        assert client.progress_reports[update_token][0].title == "Updating environment"
        assert isinstance(client.progress_reports[update_token][-1], types.WorkDoneProgressEnd)
        assert titles(await lenses(client, uri))[0] == "Update environment (in sync with this file)"

        # Create again, without force: refused, and the environment is left as it is.
        client.messages.clear()
        error = await failure(client, CREATE, {"uri": uri})
        assert isinstance(error, JsonRpcInternalError)
        assert "already exists" in error.message and "update it instead" in error.message
        assert [m.type for m in client.messages] == [types.MessageType.Error]
        assert "already exists" in client.messages[0].message
        assert "tool-1.0-0" in installed(prefix)


async def _wait(condition: Any, what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


async def test_cancel_during_create_leaves_nothing(setup: Setup, site: ChannelServer) -> None:
    text = setup.write(env_text("slow", "python", "tool", "slowpkg"))
    prefix = setup.envs / "slow"
    site.fault(SLOW, "hang")
    try:
        async with session(setup, site) as client:
            client.open(setup.uri, text)
            command = asyncio.ensure_future(run(client, CREATE, {"uri": setup.uri}, timeout=40))

            def linking() -> bool:
                assert not command.done(), command.exception() or command.result()
                return any(isinstance(r, types.WorkDoneProgressReport) and (r.message or "").startswith("Linking")
                           for token in tokens(client, "creating") for r in client.progress_reports[token])

            # Cancel once the other packages are linked: the prefix really exists, half made.
            await _wait(linking, "the first package to be linked")
            assert prefix.is_dir()
            [token] = tokens(client, "creating")
            started = time.monotonic()
            client.window_work_done_progress_cancel(types.WorkDoneProgressCancelParams(token=token))
            with pytest.raises(JsonRpcRequestCancelled, match="cancelled"):
                await command
            assert time.monotonic() - started < 10
            end = client.progress_reports[token][-1]
            assert isinstance(end, types.WorkDoneProgressEnd) and end.message == "cancelled"
            assert not prefix.exists()
            assert not (setup.envs / ".slow.envls-lock").exists()
            assert not setup.registry.exists() or str(prefix) not in setup.registry.read_text()
            assert titles(await lenses(client, setup.uri)) == ["Create environment `slow`"]
    finally:
        site.fault(SLOW, None)


async def test_untrusted_workspace_refuses(setup: Setup, site: ChannelServer) -> None:
    text = setup.write(env_text("demo", "python", "tool"))
    requests = len(site.requests)
    async with session(setup, site, {"trusted": False}) as client:
        client.open(setup.uri, text)
        for command in (CREATE, UPDATE):
            error = await failure(client, command, {"uri": setup.uri})
            assert "untrusted" in error.message
        assert client.progress_reports == {}
        # The lens says so before anyone clicks it.
        assert titles(await lenses(client, setup.uri)) == ["Create environment `demo`: trust the workspace first"]
    assert not setup.envs.exists()
    assert site.requests[requests:] == []


async def test_bad_arguments(setup: Setup, site: ChannelServer, tmp_path: Path) -> None:
    text = setup.write(env_text("demo", "python", "tool"))
    uri = setup.uri
    requests = len(site.requests)
    async with session(setup, site) as client:
        client.open(uri, text)
        for command in (CREATE, UPDATE, SELECT):
            for arguments in ((), ({},), ("just a string",), ({"uri": "untitled:Untitled-1"},), ({"uri": 42},)):
                error = await failure(client, command, *arguments)
                assert isinstance(error, JsonRpcInvalidParams), (command, arguments, error)
        for bad in ({"backend": "bogus"}, {"name": 5}, {"prefix": ["a"]}, {"force": "no"}, {"prune": "yes"}):
            error = await failure(client, CREATE if "prune" not in bad else UPDATE, {"uri": uri, **bad})
            assert isinstance(error, JsonRpcInvalidParams), (bad, error)
        for bad in ({"name": 5}, {"prefix": False}):
            error = await failure(client, SELECT, {"uri": uri, **bad})
            assert isinstance(error, JsonRpcInvalidParams), (bad, error)
        # Names a shell would misread are refused before anything runs.
        for name in ("a;b", "$(touch pwned)", "x`touch pwned`"):
            client.messages.clear()
            error = await failure(client, CREATE, {"uri": uri, "name": name})
            assert "no valid environment name" in error.message, error.message
            assert client.messages and "no valid environment name" in client.messages[0].message
        # The interpreter of an environment that does not exist yet.
        error = await failure(client, SELECT, {"uri": uri})
        assert isinstance(error, JsonRpcInternalError) and "does not exist yet" in error.message
        assert not any(isinstance(r, types.WorkDoneProgressReport)
                       for reports in client.progress_reports.values() for r in reports)
    assert not setup.envs.exists()
    assert not list(tmp_path.rglob("pwned")) and not Path("pwned").exists()
    assert site.requests[requests:] == []


async def test_a_pull_client_is_asked_to_pull_again_after_create(setup: Setup, site: ChannelServer) -> None:
    text = setup.write(env_text("pulled", "python", "tool"))
    other = setup.root / "old" / "environment.yml"
    other.parent.mkdir()
    other_text = env_text("pulled", "python", "tool <2")
    other.write_text(other_text, encoding="utf-8")
    caps = capabilities(PULL)
    caps.workspace = caps.workspace or types.WorkspaceClientCapabilities()
    caps.workspace.diagnostics = types.DiagnosticWorkspaceClientCapabilities(refresh_support=True)
    config = ClientServerConfig(server_command=SERVER_COMMAND, client_factory=make_lens_client,
                                server_env=server_env(setup.root.parent, setup.home, site))
    client = await config.start()
    assert isinstance(client, LensClient)
    try:
        params = initialize_params(PULL, setup.root)
        params.capabilities = caps
        await client.initialize_session(params)
        client.open(setup.uri, text)
        client.open(other.as_uri(), other_text)

        async def pulled(uri: str) -> list[types.Diagnostic]:
            report = await client.ask(client.text_document_diagnostic_async(types.DocumentDiagnosticParams(
                text_document=types.TextDocumentIdentifier(uri=uri))))
            assert isinstance(report, types.RelatedFullDocumentDiagnosticReport)
            return [d for d in report.items if d.code == "env-drift"]

        assert await pulled(other.as_uri()) == []
        refreshes = client.diagnostic_refresh_count
        await run(client, CREATE, {"uri": setup.uri})
        # The installed environments changed: the client is asked to pull again, and the other file now drifts.
        await _wait(lambda: client.diagnostic_refresh_count > refreshes, "workspace/diagnostic/refresh", 5)
        [finding] = await pulled(other.as_uri())
        assert finding.range == range_of(other_text, "tool <2")
    finally:
        try:
            await shutdown(client)
        finally:
            await client.stop()



async def test_host_info(setup: Setup, site: ChannelServer) -> None:
    async with session(setup, site, {"cudaVersion": "12.2"}) as client:
        info = await run(client, "envls.hostInfo")
    assert info["platform"] and "-" in info["platform"]
    assert info["cuda"] == {"driver": "12.2", "source": "setting", "known": True}
    assert info["condaTools"] == []  # none on this test's PATH and HOME
    assert "usesCuda" not in info


async def test_host_info_says_whether_a_file_uses_cuda(setup: Setup, site: ChannelServer) -> None:
    gpu = (setup.root / "gpu" / "environment.yml").as_uri()
    async with session(setup, site, {"cudaVersion": "none"}) as client:
        client.open(setup.uri, env_text("demo", "python", "numpy"))
        client.open(gpu, env_text("gpu", "python", "pytorch"))
        assert (await run(client, "envls.hostInfo", {"uri": setup.uri}))["usesCuda"] is False
        assert (await run(client, "envls.hostInfo", {"uri": gpu}))["usesCuda"] is True
        assert "usesCuda" not in await run(client, "envls.hostInfo", {"uri": (setup.root / "closed.yml").as_uri()})


async def test_features_ignore_yaml_that_is_no_environment_file(setup: Setup, site: ChannelServer) -> None:
    uri = (setup.root / ".github" / "ci.yml").as_uri()
    async with session(setup, site) as client:
        client.open(uri, "on: push\njobs:\n  x: {}\n")
        document = types.TextDocumentIdentifier(uri=uri)
        at = types.Position(line=1, character=0)
        completion = await client.ask(client.text_document_completion_async(
            types.CompletionParams(text_document=document, position=at)))
        hover = await client.ask(client.text_document_hover_async(types.HoverParams(text_document=document,
                                                                                    position=at)))
        symbols = await client.ask(client.text_document_document_symbol_async(
            types.DocumentSymbolParams(text_document=document)))
    assert completion is None and hover is None and not symbols


async def test_unsaved_changes_are_refused(setup: Setup, site: ChannelServer) -> None:
    text = setup.write(env_text("demo", "python", "tool"))
    requests = len(site.requests)
    async with session(setup, site) as client:
        client.open(setup.uri, text + "  - another\n")  # the editor holds more than the disk
        error = await failure(client, CREATE, {"uri": setup.uri})
    assert isinstance(error, JsonRpcInvalidParams) and "unsaved changes" in error.message
    assert not setup.envs.exists()
    assert site.requests[requests:] == []


async def test_drift_follows_changes_made_outside_the_editor(setup: Setup, site: ChannelServer) -> None:
    text = setup.write(env_text("demo", "python", "tool"))
    async with session(setup, site) as client:
        client.open(setup.uri, text)
        await run(client, CREATE, {"uri": setup.uri})
        prefix = setup.envs / "demo"
        # Someone removes `tool` with another tool (as `conda remove` would): no edit in the editor.
        for record in (prefix / "conda-meta").glob("tool-*.json"):
            record.unlink()
        (prefix / "conda-meta" / "history").touch()

        def drifted() -> bool:
            last = client.publications(setup.uri)
            return bool(last) and any(d.code == "env-drift" for d in last[-1].diagnostics)

        await _wait(drifted, "env-drift after the environment changed", timeout=15)


async def test_the_create_lens_says_when_the_file_has_errors(setup: Setup, site: ChannelServer) -> None:
    text = setup.write(env_text("demo", "python", "tool") + "  - numpy=!1\n  - pandas >=\n")
    async with session(setup, site) as client:
        client.open(setup.uri, text)
        await client.wait_for_publish(setup.uri, 1)
        assert titles(await lenses(client, setup.uri)) == ["Create environment `demo`: fix 2 errors first"]
        fixed = client.replace_all(setup.uri, env_text("demo", "python", "tool"))
        await client.wait_for_publish(setup.uri, fixed)
        assert titles(await lenses(client, setup.uri)) == ["Create environment `demo`"]
