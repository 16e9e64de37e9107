"""pygls' protocol, with envls' view of what is worth a warning in the log.

A client cancels a request it no longer needs (the user typed on, the mouse moved): when the answer
has already gone out, pygls no longer knows the id and warns "Cancel notification for unknown message
id". That is the normal race of `$/cancelRequest`, not a problem; it belongs at debug level.

A command that refuses or fails says why in a JSON-RPC error (a cancelled create, an untrusted workspace,
an unsolvable file): the client shows that message. pygls would log each with a traceback at error level;
here it is one line at info level. Unexpected exceptions keep pygls' traceback.
"""

from __future__ import annotations

import logging
from typing import Any

from pygls.exceptions import JsonRpcException
from pygls.protocol import LanguageServerProtocol

log = logging.getLogger(__name__)


class EnvlsProtocol(LanguageServerProtocol):
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
