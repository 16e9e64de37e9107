"""State that follows every edit (pytest-lsp against the loopback channel server): a change that only
edits the channel list loads the new channels' data and solves again, then publishes the channel findings
(or asks a pull client to pull again) and asks the client to refresh its code lenses, with no further edit."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from channel_server import CHANNELS, ChannelServer, condarc
from lsp_support import PULL, VSCODE, codes, loopback_config
from lsp_support import session as lsp_session
from lsprotocol import types
from pygls.protocol import default_converter
from pytest_lsp.client import DEFAULT_CLIENT_FEATURES, register_lsp_features
from test_solve_lsp import INTEL, OPTIONS, RefreshClient, lenses

pytestmark = [
    pytest.mark.skipif(not CHANNELS.is_dir(), reason="the shared channel snapshots are not here"),
    pytest.mark.filterwarnings("error::pytest_lsp.LspSpecificationWarning"),
]

# `chanels` (a typo): the configured channel is used, and it does not exist. `numpyy` is not on intel.
TYPO = f"""name: demo
chanels:
  - {INTEL}
  - nodefaults
dependencies:
  - python=3.10
  - numpyy
"""


class FollowClient(RefreshClient):
    """Notes codeLens/refresh (RefreshClient) and workspace/diagnostic/refresh."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.diagnostics_refreshed: list[float] = []
        self.pulled: tuple[str | None, list[str]] = (None, [])  # result id and codes of the last pull

    async def pull(self, uri: str) -> list[str]:
        """Pull as VS Code does: with the previous result id, keeping what it has when told "unchanged"."""
        report = await self.ask(self.text_document_diagnostic_async(types.DocumentDiagnosticParams(
            text_document=types.TextDocumentIdentifier(uri=uri), previous_result_id=self.pulled[0])))
        if isinstance(report, types.RelatedFullDocumentDiagnosticReport):
            self.pulled = (report.result_id, codes(report.items))
        return self.pulled[1]


def _record_publication(client: FollowClient, params: types.PublishDiagnosticsParams) -> None:
    client.published.append(params)


def _lens_refresh(client: FollowClient, params: None) -> None:
    client.lens_refreshed.append(time.monotonic())


def _diagnostic_refresh(client: FollowClient, params: None) -> None:
    client.diagnostics_refreshed.append(time.monotonic())


def _make_client() -> FollowClient:
    client = FollowClient(converter_factory=default_converter)
    register_lsp_features(client, {**DEFAULT_CLIENT_FEATURES,
                                   types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS: _record_publication,
                                   types.WORKSPACE_CODE_LENS_REFRESH: _lens_refresh,
                                   types.WORKSPACE_DIAGNOSTIC_REFRESH: _diagnostic_refresh})
    return client


def _session(tmp_path: Path, srv: ChannelServer, profile: str) -> Any:
    config = loopback_config(tmp_path, srv.base_url, None, _make_client)
    condarc(tmp_path, srv.base_url, channels=["no-such-channel"])  # the configured channel does not exist
    return lsp_session(profile, tmp_path, initialization_options=OPTIONS, config=config)


async def _findings(client: FollowClient, uri: str, profile: str, since: float) -> list[str]:
    """The codes the client shows now: the last publication, or a pull (after a refresh since ``since``)."""
    if profile != PULL:
        mine = client.publications(uri)
        return codes(mine[-1].diagnostics) if mine else []
    if not any(t > since for t in client.diagnostics_refreshed):
        return []
    return await client.pull(uri)


@pytest.mark.parametrize("profile", [VSCODE, PULL])
async def test_fixing_the_channels_key_loads_and_solves_without_another_edit(tmp_path: Path, profile: str) -> None:
    uri = (tmp_path / "environment.yml").as_uri()
    with ChannelServer() as srv:
        async with _session(tmp_path, srv, profile) as client:
            assert isinstance(client, FollowClient)
            client.open(uri, TYPO)
            if profile == PULL:
                assert "unknown-key" in await client.pull(uri)
            deadline = time.monotonic() + 15
            while len(await lenses(client, uri)) < 2:  # the configured channel was looked at
                assert time.monotonic() < deadline, await lenses(client, uri)
                await asyncio.sleep(0.05)
            before = await lenses(client, uri)
            assert "no-such-channel does not exist" in before[1]
            refreshes = len(client.lens_refreshed)
            # The quick fix: `chanels` -> `channels`, one edit, then nothing.
            sent = time.monotonic()
            version = client.change(uri, types.TextDocumentContentChangePartial(
                range=types.Range(start=types.Position(line=1, character=0), end=types.Position(line=1, character=7)),
                text="channels"))
            # What the client asks at once after an edit: fast findings, no stale solve lens.
            if profile == PULL:
                assert "unknown-key" not in await client.pull(uri)
            else:
                await client.wait_for_publish(uri, version)
            while "package-not-found" not in await _findings(client, uri, profile, sent):
                assert time.monotonic() - sent < 10, "no channel findings after the channel list changed"
                await asyncio.sleep(0.05)
            # The lenses as a client shows them: asked again on each codeLens/refresh.
            shown = before
            while shown != ["Create environment `demo`: fix 1 error first", "Does not solve for linux-64"]:
                assert time.monotonic() - sent < 10, f"no codeLens/refresh with the new solve: {shown}"
                if len(client.lens_refreshed) > refreshes:
                    refreshes = len(client.lens_refreshed)
                    shown = await lenses(client, uri)
                await asyncio.sleep(0.05)
            assert client.versions[uri] == version  # no other edit
