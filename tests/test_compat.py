"""The library workarounds in envls/compat: each test shows the library still needs its workaround.

When one of these fails after an upgrade, the library has fixed (or changed) what the workaround is for:
delete the workaround (and its test), or adapt it to the new version.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime
import functools
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import rattler
import rattler.exceptions
from channel_server import CHANNELS, ChannelServer
from lsprotocol import types
from pygls.lsp.server import LanguageServer
from rattler import Channel, Gateway, MatchSpec
from rattler.exceptions import GatewayError, SolverError

from envls.compat import pygls as compat_pygls
from envls.compat import rattler as compat_rattler

# -- pygls --------------------------------------------------------------------------------------------


def _notify(server: LanguageServer, method: str, params: dict[str, object]) -> None:
    protocol = server.protocol
    protocol.handle_message(protocol.structure_message({"jsonrpc": "2.0", "method": method, "params": params}))


async def test_pygls_keeps_finished_notification_futures() -> None:
    """Why compat.pygls.drop_finished_notification_futures exists: one finished future per didChange."""
    server = LanguageServer("compat", "0")
    server.feature(types.TEXT_DOCUMENT_DID_CHANGE)(lambda ls, params: None)
    uri = "file:///compat/environment.yml"
    _notify(server, types.TEXT_DOCUMENT_DID_OPEN,
            {"textDocument": {"uri": uri, "languageId": "yaml", "version": 1, "text": "name: a\n"}})
    for version in range(2, 70):
        _notify(server, types.TEXT_DOCUMENT_DID_CHANGE,
                {"textDocument": {"uri": uri, "version": version}, "contentChanges": [{"text": "name: b\n"}]})
    await asyncio.sleep(0)
    futures = server.protocol._request_futures
    assert len(futures) >= 69 and all(f.done() for f in futures.values()), (
        f"{compat_pygls.APPLIES_TO} kept notification futures; this pygls does not: "
        "remove compat.pygls.drop_finished_notification_futures")
    compat_pygls.drop_finished_notification_futures(server.protocol)
    assert futures == {}


def _server_with_running_requests() -> LanguageServer:
    server = LanguageServer("compat", "0")
    protocol = server.protocol
    for msg_id in (1, 2):
        future: concurrent.futures.Future[object] = concurrent.futures.Future()
        protocol._request_futures[msg_id] = future
        future.add_done_callback(functools.partial(protocol._send_handler_result, msg_id=msg_id))
    return server


def test_pygls_shutdown_changes_the_dict_it_iterates() -> None:
    """Why compat.pygls.cancel_requests_before_shutdown exists."""
    with pytest.raises(RuntimeError, match="changed size during iteration"):
        for _ in _server_with_running_requests().protocol.lsp_shutdown(None):
            pass
    server = _server_with_running_requests()
    compat_pygls.cancel_requests_before_shutdown(server.protocol)
    for _ in server.protocol.lsp_shutdown(None):
        pass
    assert server.protocol._request_futures == {}


# -- py-rattler ---------------------------------------------------------------------------------------

needs_channels = pytest.mark.skipif(not CHANNELS.is_dir(), reason="the shared channel snapshots are not here")


@pytest.fixture
def server() -> Iterator[ChannelServer]:
    with ChannelServer() as srv:
        yield srv


def test_rattler_has_no_typed_network_or_timeout_errors() -> None:
    names = [n for n in dir(rattler.exceptions) if re.search(r"timeout|cancel|http|status|network|connect", n, re.I)]
    assert names == [], f"py-rattler now has {names}: use them instead of compat.rattler's message reading"


@needs_channels
async def test_rattler_tells_an_http_status_only_in_the_message(tmp_path: Path, server: ChannelServer) -> None:
    server.fault("intel-2023-08-28", "500")
    with pytest.raises(GatewayError) as caught:
        await Gateway(cache_dir=tmp_path).names([Channel(server.channel("intel-2023-08-28"))], ["linux-64"])
    err = caught.value
    assert type(err) is GatewayError
    assert [a for a in dir(err) if not a.startswith("_")] == ["add_note", "args", "with_traceback"], (
        "GatewayError grew attributes: read the status from them in compat.rattler.classify_gateway_error")
    assert compat_rattler.classify_gateway_error(err) == ("unreachable", "server error 500")


@needs_channels
async def test_rattler_tells_a_solve_timeout_only_in_the_message(tmp_path: Path, server: ChannelServer) -> None:
    gateway = Gateway(cache_dir=tmp_path)
    with pytest.raises(SolverError) as caught:
        await rattler.solve([Channel(server.channel("intel-2023-08-28"))], [MatchSpec("python=3.10"), MatchSpec("numpy")],
                            gateway=gateway, platforms=["linux-64", "noarch"],
                            timeout=datetime.timedelta(microseconds=1))
    assert type(caught.value) is SolverError, "py-rattler has a type for a timed-out solve now: use it"
    assert compat_rattler.solve_timed_out(caught.value)
