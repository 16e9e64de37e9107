"""The server's protocol: a cancel that arrives after the answer went out is normal, and logged at debug level."""

from __future__ import annotations

import asyncio
import logging

import pytest

from envls.lsp.state import EnvlsServer


def test_cancel_of_an_answered_request_is_not_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    server = EnvlsServer()
    with caplog.at_level(logging.DEBUG):
        server.protocol._handle_cancel_notification("29")
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert any("29" in r.getMessage() and r.levelno == logging.DEBUG for r in caplog.records)


async def test_cancel_of_a_running_request_still_cancels_it() -> None:
    server = EnvlsServer()
    future = asyncio.get_running_loop().create_future()
    server.protocol._request_futures["7"] = future
    server.protocol._handle_cancel_notification("7")
    assert future.cancelled() and "7" not in server.protocol._request_futures
