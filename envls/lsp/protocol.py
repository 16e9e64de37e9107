"""pygls' protocol, with the promises envls keeps at the edge.

- An error response carries a message, never a Python traceback (the log keeps it). pygls answers a
  handler's unexpected exception with a `-32603` whose `data` holds the traceback; the traceback names
  files and lines of the server and says nothing the user can act on.
- Nothing is written to the client once its output is closed (after `exit`).
- A client cancels a request it no longer needs (the user typed on, the mouse moved): when the answer has
  already gone out, pygls no longer knows the id and warns "Cancel notification for unknown message id".
  That is the normal race of `$/cancelRequest`, not a problem; it belongs at debug level.
- A command that refuses or fails says why in a JSON-RPC error (a cancelled create, an untrusted workspace,
  an unsolvable file): the client shows that message. pygls would log each with a traceback at error
  level; here it is one line at info level. Unexpected exceptions keep pygls' traceback in the log.
"""

from __future__ import annotations

import logging
from collections.abc import Generator
from typing import Any

from lsprotocol import types
from lsprotocol.types import ResponseError
from pygls.exceptions import JsonRpcException
from pygls.protocol import LanguageServerProtocol
from pygls.protocol.language_server import lsp_method

log = logging.getLogger(__name__)


class EnvlsProtocol(LanguageServerProtocol):
    """LanguageServerProtocol without tracebacks in responses, quiet about late cancels, and with ``closed``
    for the log handler."""

    closed = False  # set once the client said `exit` (or the stream is gone): nothing more is written
    exit_code = 1  # until a shutdown and exit say otherwise: the stream ended without them

    def _send_response(self, msg_id: Any, result: Any | None = None, error: ResponseError | None = None) -> None:
        if error is not None and error.data is not None:
            error = ResponseError(code=error.code, message=_first_line(error.message))
        super()._send_response(msg_id, result, error)

    def _send_data(self, data: Any) -> None:
        if self.closed:
            return
        super()._send_data(data)

    def _handle_cancel_notification(self, msg_id: Any) -> None:
        if msg_id not in self._request_futures:
            log.debug("cancel for request %s, which was already answered", msg_id)
            return
        super()._handle_cancel_notification(msg_id)

    def _send_handler_result(self, future: Any, *, msg_id: Any) -> None:
        error = None if future.cancelled() else future.exception()
        if not isinstance(error, JsonRpcException):
            super()._send_handler_result(future, msg_id=msg_id)
            return
        self._request_futures.pop(msg_id, None)
        log.info("request %s answered with an error: %s", msg_id, error)
        self._send_response(msg_id, error=error.to_response_error())

    @lsp_method(types.EXIT)
    def lsp_exit(self, *args: Any) -> Generator[Any, Any, None]:
        """Stop writing, then exit as pygls does; ``exit_code`` is 1 when no `shutdown` came first (LSP)."""
        self.exit_code = 0 if self._shutdown else 1
        self.closed = True
        yield from super().lsp_exit(*args)


def _first_line(message: str) -> str:
    """A one-line message (an exception's text may span lines; the log has all of it)."""
    lines = [line for line in message.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "internal error (see the server's log)"
