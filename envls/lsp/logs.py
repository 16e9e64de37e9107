"""Logging for the server: stderr always, and the client's log through `window/logMessage`.

Records may come from worker threads; they reach the client through the event loop,
since pygls' writer must only be used from there.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import TYPE_CHECKING

from lsprotocol import types

if TYPE_CHECKING:
    from pygls.lsp.server import LanguageServer

_TYPES = {
    logging.ERROR: types.MessageType.Error,
    logging.WARNING: types.MessageType.Warning,
    logging.INFO: types.MessageType.Info,
    logging.DEBUG: types.MessageType.Log,
}


class ClientLogHandler(logging.Handler):
    """Forwards log records to the client as `window/logMessage`."""

    def __init__(self, server: LanguageServer, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(logging.INFO)
        self.server = server
        self.loop = loop
        self.loop_thread = threading.get_ident()
        self._busy = threading.local()

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(self._busy, "active", False) or self.loop.is_closed() or self.output_closed():
            return
        try:
            message = self.format(record)
        except Exception:  # pragma: no cover - a broken record must not break the server
            return
        kind = _TYPES.get(record.levelno, types.MessageType.Log)
        params = types.LogMessageParams(type=kind, message=message)
        if threading.get_ident() == self.loop_thread:
            self._send(params)
        else:
            try:
                self.loop.call_soon_threadsafe(self._send, params)
            except RuntimeError:  # the loop closed after the check above: the server is exiting
                pass

    def output_closed(self) -> bool:
        """True once the client said `exit`: a record then goes to stderr only, never to the closed output."""
        return bool(getattr(self.server.protocol, "closed", False))

    def _send(self, params: types.LogMessageParams) -> None:
        if self.output_closed():
            return
        self._busy.active = True
        try:
            self.server.window_log_message(params)
        except Exception:  # pragma: no cover - the transport may be gone at exit
            pass
        finally:
            self._busy.active = False
