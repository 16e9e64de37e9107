"""pygls' protocol, with envls' view of what is worth a warning in the log.

A client cancels a request it no longer needs (the user typed on, the mouse moved): when the answer
has already gone out, pygls no longer knows the id and warns "Cancel notification for unknown message
id". That is the normal race of `$/cancelRequest`, not a problem; it belongs at debug level.
"""

from __future__ import annotations

import logging
from typing import Any

from pygls.protocol import LanguageServerProtocol

log = logging.getLogger(__name__)


class EnvlsProtocol(LanguageServerProtocol):
    def _handle_cancel_notification(self, msg_id: Any) -> None:
        if msg_id not in self._request_futures:
            log.debug("cancel for request %s, which was already answered", msg_id)
            return
        super()._handle_cancel_notification(msg_id)
