"""The server's protocol: a cancel that arrives after the answer went out is normal, and logged at debug level."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from pygls.exceptions import JsonRpcRequestCancelled

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


async def test_an_explained_failure_is_one_line_without_a_traceback(caplog: pytest.LogCaptureFixture) -> None:
    server = EnvlsServer()
    sent: list[tuple[Any, Any]] = []
    server.protocol._send_response = lambda msg_id, result=None, error=None: sent.append((msg_id, error))  # type: ignore[method-assign]
    failed = asyncio.get_running_loop().create_future()
    failed.set_exception(JsonRpcRequestCancelled("creating the environment was cancelled; nothing was left behind"))
    with caplog.at_level(logging.DEBUG):
        server.protocol._send_handler_result(failed, msg_id="45")
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert not any(r.exc_info for r in caplog.records)
    [(msg_id, error)] = sent
    assert msg_id == "45" and "was cancelled" in error.message
