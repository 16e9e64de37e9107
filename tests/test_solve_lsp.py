"""The solve stage in the real server (pytest-lsp, stdio) against the loopback channel server.

Fast findings first, then the channel stage, then the solve: each publishes the same version again.
Edits cancel a pending solve, and a solve's findings only ever appear with the text they were made for.
The commands envls.showSolution and envls.exportLock, and the code lens on `dependencies:`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from channel_server import CHANNELS, ChannelServer
from lsp_support import VSCODE, EnvClient, by_code, codes, loopback_config
from lsp_support import session as lsp_session
from lsprotocol import types
from pygls.protocol import default_converter
from pytest_lsp.client import DEFAULT_CLIENT_FEATURES, register_lsp_features
from test_solve import PIGEONS, pigeon_channel

pytestmark = [
    pytest.mark.skipif(not CHANNELS.is_dir(), reason="the shared channel snapshots are not here"),
    pytest.mark.filterwarnings("error::pytest_lsp.LspSpecificationWarning"),
]

INTEL = "intel-2023-08-28"
OPTIONS = {"channelChecks": True, "platforms": ["linux-64"], "cudaVersion": "none"}

UNSAT = f"""name: demo
channels:
  - {INTEL}
dependencies:
  - python=3.10
  - tensorflow=2.13
"""
SOLVES = UNSAT.replace("tensorflow=2.13", "numpy")
# Thirty conda packages that solve together on intel's linux-64 (68 packages in the solution).
THIRTY = ["python=3.10", "numpy", "scipy", "pandas", "scikit-learn", "pip", "requests", "certifi", "idna", "joblib",
          "packaging", "platformdirs", "pooch", "pysocks", "python-dateutil", "pytz", "setuptools", "six",
          "threadpoolctl", "typing-extensions", "tzdata", "urllib3", "wheel", "openssl", "xz", "zlib", "tk",
          "readline", "ncurses", "libffi"]
LARGE = f"name: big\nchannels:\n  - {INTEL}\ndependencies:\n" + "".join(f"  - {s}\n" for s in THIRTY)


@pytest.fixture
def server() -> Iterator[ChannelServer]:
    with ChannelServer() as srv:
        yield srv


def session(tmp_path: Path, srv: ChannelServer, options: Any = OPTIONS,
            extra_env: dict[str, str] | None = None) -> Any:
    return lsp_session(VSCODE, tmp_path, initialization_options=options,
                       config=loopback_config(tmp_path, srv.base_url, extra_env, make_refresh_client))


class RefreshClient(EnvClient):
    """The test client, noting when the server asks it to refresh code lenses (after each solve)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lens_refreshed: list[float] = []


def _record_publication(client: RefreshClient, params: types.PublishDiagnosticsParams) -> None:
    client.published.append(params)
    client.diagnostics[params.uri] = params.diagnostics


def _lens_refresh(client: RefreshClient, params: None) -> None:
    client.lens_refreshed.append(time.perf_counter())


def make_refresh_client() -> RefreshClient:
    client = RefreshClient(converter_factory=default_converter)
    register_lsp_features(client, {**DEFAULT_CLIENT_FEATURES,
                                   types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS: _record_publication,
                                   types.WORKSPACE_CODE_LENS_REFRESH: _lens_refresh})
    return client


def unsat(params: types.PublishDiagnosticsParams) -> bool:
    return "unsatisfiable" in codes(params.diagnostics)


async def lenses(client: EnvClient, uri: str) -> list[str]:
    found = await client.ask(client.text_document_code_lens_async(
        types.CodeLensParams(text_document=types.TextDocumentIdentifier(uri=uri))))
    return [lens.command.title for lens in found or [] if lens.command is not None]


async def run(client: EnvClient, command: str, argument: dict[str, Any]) -> Any:
    params = types.ExecuteCommandParams(command=command, arguments=[argument])
    return await client.ask(client.workspace_execute_command_async(params), 30)


async def flush(client: EnvClient, uri: str) -> None:
    """A request answered after every notification sent before it."""
    await client.ask(client.text_document_document_symbol_async(
        types.DocumentSymbolParams(text_document=types.TextDocumentIdentifier(uri=uri))))


async def test_unsatisfiable_follows_the_fast_and_channel_stages(tmp_path: Path, server: ChannelServer) -> None:
    uri = (tmp_path / "environment.yml").as_uri()
    async with session(tmp_path, server) as client:
        client.open(uri, UNSAT)
        first = await client.wait_for_publish(uri, 1)
        assert codes(first.diagnostics) == []
        later = await client.wait_for_publish(uri, 1, predicate=unsat)
        found = by_code(later.diagnostics, "unsatisfiable")
        assert found.severity == types.DiagnosticSeverity.Error
        assert found.range.start == types.Position(line=5, character=4)
        assert found.message.startswith("does not solve for linux-64: `tensorflow=2.13` cannot be installed")
        assert await lenses(client, uri) == ["Create environment `demo`: fix 1 error first", "Does not solve for linux-64"]

        result = await run(client, "envls.showSolution", {"uri": uri})
        (platform,) = result["platforms"]
        assert platform["status"] == "unsatisfiable" and platform["involved"] == ["tensorflow=2.13"]

        # Fixed: the solve of the new text shows no conflict, and the lens counts the packages.
        version = client.replace_all(uri, SOLVES)
        await client.wait_for_publish(uri, version, predicate=lambda p: not unsat(p))
        deadline = time.monotonic() + 10
        while not any(t.startswith("Solves for linux-64: ") for t in await lenses(client, uri)):
            assert time.monotonic() < deadline, await lenses(client, uri)
            await asyncio.sleep(0.05)
        title = next(t for t in await lenses(client, uri) if t.startswith("Solves"))
        assert title.endswith(" to download") and " packages, " in title


async def test_edits_cancel_the_solve_and_only_the_last_text_counts(tmp_path: Path, server: ChannelServer) -> None:
    uri = (tmp_path / "environment.yml").as_uri()
    async with session(tmp_path, server) as client:
        client.open(uri, SOLVES)
        await client.wait_for_publish(uri, 1)
        # Warm up: the channel data of both texts is loaded, and the solvable one solved.
        await run(client, "envls.showSolution", {"uri": uri})
        version = client.replace_all(uri, UNSAT)
        await client.wait_for_publish(uri, version, predicate=unsat)
        # A burst: an edit every 50 ms for a second, alternating; the unsolvable text last.
        unsolvable = {version}
        for i in range(20):
            version = client.replace_all(uri, SOLVES if i % 2 == 0 else UNSAT)
            if i % 2 == 1:
                unsolvable.add(version)
            await asyncio.sleep(0.05)
        last = await client.wait_for_publish(uri, version, predicate=unsat)
        assert last.version == max(unsolvable)
        # Then a quick fix before the solve's pause is over: that text's solve is the only one that lands.
        before = len(client.published)
        fixed = client.replace_all(uri, SOLVES)
        await asyncio.sleep(1.0)
        await flush(client, uri)
        assert not unsat(client.publications(uri)[-1]) and client.publications(uri)[-1].version == fixed
        # Never was a conflict shown with a text that has none.
        assert [p.version for p in client.publications(uri) if unsat(p) and p.version not in unsolvable] == []
        assert all(not unsat(p) for p in client.published[before:])


async def test_thirty_packages_solve_within_a_second_of_an_edit(tmp_path: Path, server: ChannelServer) -> None:
    uri = (tmp_path / "environment.yml").as_uri()
    async with session(tmp_path, server) as client:
        assert isinstance(client, RefreshClient)
        client.open(uri, LARGE)
        await client.wait_for_publish(uri, 1)
        deadline = time.monotonic() + 10
        while len(await lenses(client, uri)) < 2:  # warm: the channel stage is done and the file solved once
            assert time.monotonic() < deadline
            await asyncio.sleep(0.01)
        assert await lenses(client, uri) == ["Create environment `big`", "Solves for linux-64: 68 packages, 568 MB to download"]
        conflicts, solutions = [], []
        # A pin that conflicts with python=3.10: the answer is a diagnostic (after narrowing the conflict down).
        for pin in ("numpy=1.14", "numpy=1.15", "numpy=1.16"):
            sent = time.perf_counter()
            version = client.replace_all(uri, LARGE.replace("  - numpy\n", f"  - {pin}\n"))
            await client.wait_for_publish(uri, version)
            fast = time.perf_counter() - sent
            await client.wait_for_publish(uri, version, predicate=unsat)
            conflicts.append((fast, time.perf_counter() - sent))
        # A pin that solves: the answer is the code lens (the server asks the client to refresh it).
        for pin in ("numpy=1.22", "numpy=1.23", "numpy=1.24"):
            refreshes = len(client.lens_refreshed)
            sent = time.perf_counter()
            version = client.replace_all(uri, LARGE.replace("  - numpy\n", f"  - {pin}\n"))
            await client.wait_for_publish(uri, version)
            fast = time.perf_counter() - sent
            deadline = time.monotonic() + 10
            while len(client.lens_refreshed) == refreshes:
                assert time.monotonic() < deadline
                await asyncio.sleep(0.005)
            solutions.append((fast, client.lens_refreshed[-1] - sent))
            assert any(t.startswith("Solves for linux-64: ") for t in await lenses(client, uri))
        print("edit -> fast diagnostics, edit -> solve result (s): conflicts",
              [(round(a, 3), round(b, 3)) for a, b in conflicts], "solutions", [(round(a, 3), round(b, 3)) for a, b in solutions])
        assert all(fast < 0.5 for fast, _ in conflicts + solutions), (conflicts, solutions)
        assert max(answer for _, answer in conflicts + solutions) <= 1.0, (conflicts, solutions)


async def test_an_exploding_solve_does_not_hold_up_anything(tmp_path: Path) -> None:
    pigeon_channel(tmp_path / "data", 12)
    uri = (tmp_path / "environment.yml").as_uri()
    with ChannelServer(root=tmp_path / "data") as srv:
        async with session(tmp_path, srv, extra_env={"ENVLS_SOLVE_TIMEOUT": "2"}) as client:
            client.open(uri, PIGEONS)
            await client.wait_for_publish(uri, 1)
            await asyncio.sleep(1.2)  # the channel data is loaded and the solve is running now
            for i in range(5):
                sent = time.perf_counter()
                version = client.replace_all(uri, PIGEONS + f"# edit {i}\n")  # the same solve: not restarted
                await client.wait_for_publish(uri, version)
                assert time.perf_counter() - sent < 0.5
                await flush(client, uri)
            deadline = time.monotonic() + 10
            while "Solving for linux-64 took too long: no answer within 2 s" not in await lenses(client, uri):
                assert time.monotonic() < deadline, await lenses(client, uri)
                await asyncio.sleep(0.1)
            assert all(not unsat(p) for p in client.publications(uri))


async def test_export_lock_command(tmp_path: Path, server: ChannelServer) -> None:
    uri = (tmp_path / "environment.yml").as_uri()
    async with session(tmp_path, server) as client:
        client.open(uri, SOLVES)
        result = await run(client, "envls.exportLock", {"uri": uri})
        path = tmp_path / "environment.linux-64.lock.txt"
        assert result == {"files": [str(path)], "failed": {}}
        lines = path.read_text(encoding="utf-8").splitlines()
        assert "@EXPLICIT" in lines and all("#" in line for line in lines[lines.index("@EXPLICIT") + 1:])
        client.replace_all(uri, UNSAT)
        params = types.ExecuteCommandParams(command="envls.exportLock", arguments=[{"uri": uri, "platforms": "x"}])
        with pytest.raises(Exception, match="`platforms` must be a list"):
            await client.ask(client.workspace_execute_command_async(params))
        with pytest.raises(Exception, match="nothing to export: linux-64: Does not solve for linux-64"):
            await run(client, "envls.exportLock", {"uri": uri})
