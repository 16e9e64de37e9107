"""pygls' protocol, with two promises kept at the edge: an error response carries a message, never a
Python traceback (the log keeps it), and nothing is written to the client once its output is closed.

pygls answers a handler's unexpected exception with a `-32603` whose `data` holds the traceback; the
traceback names files and lines of the server and says nothing the user can act on, so it goes to the
log (which pygls already writes) and the response keeps only the message.
"""

from __future__ import annotations

import logging
from collections.abc import Generator
from typing import Any

from lsprotocol import types
from lsprotocol.types import ResponseError
from pygls.protocol import LanguageServerProtocol
from pygls.protocol.language_server import lsp_method

log = logging.getLogger(__name__)


class EnvlsProtocol(LanguageServerProtocol):
    """LanguageServerProtocol without tracebacks in responses, and with ``closed`` for the log handler."""

    closed = False  # set once the client said `exit` (or the stream is gone): nothing more is written

    def _send_response(self, msg_id: Any, result: Any | None = None, error: ResponseError | None = None) -> None:
        if error is not None and error.data is not None:
            error = ResponseError(code=error.code, message=_first_line(error.message))
        super()._send_response(msg_id, result, error)

    def _send_data(self, data: Any) -> None:
        if self.closed:
            return
        super()._send_data(data)

    @lsp_method(types.EXIT)
    def lsp_exit(self, *args: Any) -> Generator[Any, Any, None]:
        """Stop writing, then exit as pygls does; ``exit_code`` is 1 when no `shutdown` came first (LSP)."""
        self.exit_code = 0 if self._shutdown else 1
        self.closed = True
        yield from super().lsp_exit(*args)

    exit_code = 1  # until a shutdown and exit say otherwise: the stream ended without them


def _first_line(message: str) -> str:
    """A one-line message (an exception's text may span lines; the log has all of it)."""
    lines = [line for line in message.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "internal error (see the server's log)"
