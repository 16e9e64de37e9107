"""The pip resolution in the real server (pytest-lsp, stdio): after the conda solve, against the loopback
channel server and the loopback package index. Findings land on the pip lines with related information,
edits resolve again, and the lens on `pip:` tells what pip would download.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from channel_server import CHANNELS, ChannelServer
from index_server import IndexServer
from lsp_support import VSCODE, codes, loopback_config
from lsp_support import session as lsp_session
from lsprotocol import types
from test_pip_resolve import populate
from test_solve_lsp import OPTIONS, lenses, make_refresh_client

from envls.pypi.uvbin import uv_binary

pytestmark = [
    pytest.mark.skipif(not CHANNELS.is_dir(), reason="the shared channel snapshots are not here"),
    pytest.mark.skipif(uv_binary() is None, reason="uv is not installed"),
    pytest.mark.filterwarnings("error::pytest_lsp.LspSpecificationWarning"),
]

CONFLICT = """name: demo
channels:
  - intel-2023-08-28
dependencies:
  - python=3.9
  - pip
  - protobuf=3.19
  - pip:
    - torch==2.0.0
    - torchvision==0.15.2
"""


@pytest.fixture
def servers() -> Iterator[tuple[ChannelServer, IndexServer]]:
    with ChannelServer() as channels, IndexServer() as index:
        populate(index)
        yield channels, index


def has(code: str):  # type: ignore[no-untyped-def]
    return lambda params: code in codes(params.diagnostics)


async def test_conflict_then_fixed_then_replacing_conda(tmp_path: Path,
                                                        servers: tuple[ChannelServer, IndexServer]) -> None:
    channels, index = servers
    extra = {"PIP_CONFIG_FILE": os.devnull, "PIP_INDEX_URL": index.url, "no_proxy": "127.0.0.1"}
    uri = (tmp_path / "environment.yml").as_uri()
    config = loopback_config(tmp_path, channels.base_url, extra, make_refresh_client)
    async with lsp_session(VSCODE, tmp_path, initialization_options=OPTIONS, config=config) as client:
        client.open(uri, CONFLICT)
        published = await client.wait_for_publish(uri, 1, predicate=has("pip-resolution-impossible"))
        found = [d for d in published.diagnostics if d.code == "pip-resolution-impossible"]
        assert [d.range.start.line for d in found] == [8, 9]
        assert found[0].severity == types.DiagnosticSeverity.Error and found[0].source == "envls"
        assert "torchvision depend on torch==2.0.1" in found[0].message
        assert [r.location.range.start.line for r in found[0].related_information or []] == [9]
        assert "pip cannot install this section on linux-64" in await lenses(client, uri)

        version = client.replace_all(uri, CONFLICT.replace("torch==2.0.0", "torch==2.0.1"))
        await client.wait_for_publish(uri, version, predicate=lambda p: "pip-resolution-impossible" not in codes(p.diagnostics))
        deadline = time.monotonic() + 20
        while not any(t.startswith("pip on linux-64: ") for t in await lenses(client, uri)):
            assert time.monotonic() < deadline, await lenses(client, uri)
            await asyncio.sleep(0.05)
        assert any(t.startswith("pip on linux-64: 2 packages from the index, ") and t.endswith(" kB")
                   for t in await lenses(client, uri))

        version = client.replace_all(uri, CONFLICT.replace("torch==2.0.0", "torch==2.0.1") + "    - grpc-tools\n")
        published = await client.wait_for_publish(uri, version, predicate=has("pip-replaces-conda"))
        (replaced,) = [d for d in published.diagnostics if d.code == "pip-replaces-conda"]
        assert replaced.range.start.line == 10 and replaced.severity == types.DiagnosticSeverity.Warning
        assert "upgrade `protobuf` from 3.19.1 (the conda solution) to 4.25.0" in replaced.message
