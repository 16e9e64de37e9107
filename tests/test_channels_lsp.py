"""The server's channel stage, end to end: the real server (pytest-lsp, stdio) and the loopback channel server.

Fast findings are published first; the channel data is loaded in the background and the same
version is published again with the channel findings added. The server reads CONDARC and
ENVLS_CACHE_DIR from its environment, both pointing into the test's tmp_path.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from channel_server import CHANNELS, ChannelServer
from lsp_support import (
    VSCODE,
    by_code,
    codes,
    loopback_config,
    span,
)
from lsp_support import session as lsp_session
from lsprotocol import types

pytestmark = [
    pytest.mark.skipif(not CHANNELS.is_dir(), reason="the shared channel snapshots are not here"),
    pytest.mark.filterwarnings("error::pytest_lsp.LspSpecificationWarning"),
]

FORGE = "conda-forge-py39-subchannel"
OPTIONS = {"channelChecks": True, "platforms": ["linux-64"]}

TEXT = f"""name: demo
channels:
  - {FORGE}
dependencies:
  - python==3.9
  - pythn
"""
FAST = ["suspicious-spec"]  # `python==3.9`: the fast stage's finding, there before any channel data


@pytest.fixture
def server() -> Iterator[ChannelServer]:
    with ChannelServer() as srv:
        yield srv


def session(tmp_path: Path, srv: ChannelServer, options: Any = OPTIONS) -> Any:
    return lsp_session(VSCODE, tmp_path, initialization_options=options,
                       config=loopback_config(tmp_path, srv.base_url))


async def test_channel_findings_follow_the_fast_ones(tmp_path: Path, server: ChannelServer) -> None:
    uri = (tmp_path / "environment.yml").as_uri()
    async with session(tmp_path, server) as client:
        client.open(uri, TEXT)
        first = await client.wait_for_publish(uri, 1)
        assert codes(first.diagnostics) == FAST
        later = await client.wait_for_publish(uri, 1, predicate=lambda p: "package-not-found" in codes(p.diagnostics))
        assert sorted(codes(later.diagnostics)) == ["package-not-found", "suspicious-spec"]
        found = by_code(later.diagnostics, "package-not-found")
        assert found.range == span(5, 4, 9)
        assert found.severity == types.DiagnosticSeverity.Error
        assert found.message == f"no package `pythn` in {FORGE} for linux-64; did you mean `python`?"
        assert any(p.startswith(f"/channels/{FORGE}/linux-64/") for p in server.requests)

        # The fix: the name is corrected; no publication of the new version reports it.
        before = len(client.published)
        version = client.replace_all(uri, TEXT.replace("pythn", "pip"))
        fixed = await client.wait_for_publish(uri, version, after=before)
        assert codes(fixed.diagnostics) == FAST
        await client.ask(client.text_document_document_symbol_async(
            types.DocumentSymbolParams(text_document=types.TextDocumentIdentifier(uri=uri))))
        assert all("package-not-found" not in codes(p.diagnostics) for p in client.published[before:])
        assert client.publications(uri)[-1].version == version

        # A new mistake on the keystroke path: the facts are at hand, so the first publication has it.
        before = len(client.published)
        version = client.replace_all(uri, TEXT.replace("pythn", "pipp"))
        typo = await client.wait_for_publish(uri, version, after=before)
        assert sorted(codes(typo.diagnostics)) == ["package-not-found", "suspicious-spec"]


async def test_unreachable_channel_is_information(tmp_path: Path, server: ChannelServer) -> None:
    server.fault(FORGE, "500")
    uri = (tmp_path / "environment.yml").as_uri()
    async with session(tmp_path, server) as client:
        client.open(uri, TEXT)
        later = await client.wait_for_publish(uri, 1, predicate=lambda p: "channel-unreachable" in codes(p.diagnostics))
        assert sorted(codes(later.diagnostics)) == ["channel-unreachable", "suspicious-spec"]
        found = by_code(later.diagnostics, "channel-unreachable")
        assert found.severity == types.DiagnosticSeverity.Information
        assert found.range == span(2, 4, 4 + len(FORGE))
        assert "(server error 500); its packages are not checked" in found.message


async def test_channel_checks_off_by_setting(tmp_path: Path, server: ChannelServer) -> None:
    uri = (tmp_path / "environment.yml").as_uri()
    async with session(tmp_path, server, {"channelChecks": False}) as client:
        client.open(uri, TEXT)
        first = await client.wait_for_publish(uri, 1)
        assert codes(first.diagnostics) == FAST
        await client.ask(client.text_document_document_symbol_async(
            types.DocumentSymbolParams(text_document=types.TextDocumentIdentifier(uri=uri))))
    assert server.requests == []
    assert [codes(p.diagnostics) for p in client.publications(uri)] == [FAST]


async def test_slow_channel_shows_progress(tmp_path: Path) -> None:
    with ChannelServer(slow_seconds=0.8) as srv:
        srv.fault(f"/channels/{FORGE}/linux-64/repodata_shards", "slow")  # the first request the gateway makes
        uri = (tmp_path / "environment.yml").as_uri()
        async with session(tmp_path, srv) as client:
            client.open(uri, TEXT)
            assert codes((await client.wait_for_publish(uri, 1)).diagnostics) == FAST
            await client.wait_for_publish(uri, 1, predicate=lambda p: "package-not-found" in codes(p.diagnostics))
            reports = [r for token, rs in client.progress_reports.items() if str(token).startswith("envls-channels")
                       for r in rs]
            assert [type(r) for r in reports] == [types.WorkDoneProgressBegin, types.WorkDoneProgressEnd]
            begin = reports[0]
            assert isinstance(begin, types.WorkDoneProgressBegin) and begin.message == "Loading channel and package index data"
