"""Workarounds for pygls 2.1 (checked against 2.1.1), which reach into its protocol's private state.

- Notifications leak: pygls keeps the finished future of every notification whose handler is a generator
  (its own didOpen/didChange/didClose are) in ``protocol._request_futures``, keyed by a fresh uuid, and
  never removes it. A long editing session would keep one per keystroke.
- Shutdown: pygls' shutdown handler cancels the requests still running while iterating
  ``_request_futures``; a cancelled concurrent future runs pygls' own done-callback at once, which pops
  from that very dict ("dictionary changed size during iteration"). Cancelling them first avoids it.

tests/test_compat.py reproduces both against a bare pygls server and fails once pygls fixes them.
"""

from __future__ import annotations

from typing import Any

APPLIES_TO = "pygls 2.1"

_PRUNE_AT = 64  # finished futures tolerated before a sweep (a sweep is a pass over the dict)


def _futures(protocol: Any) -> dict[Any, Any] | None:
    futures = getattr(protocol, "_request_futures", None)
    return futures if isinstance(futures, dict) else None


def drop_finished_notification_futures(protocol: Any) -> None:
    """Forget the finished futures pygls keeps (a running request's future stays: pygls answers through it)."""
    futures = _futures(protocol)
    if futures is None or len(futures) < _PRUNE_AT:
        return
    for key in [k for k, f in futures.items() if getattr(f, "done", lambda: False)()]:
        futures.pop(key, None)


def cancel_requests_before_shutdown(protocol: Any) -> None:
    """Cancel every running request but the current one (the shutdown request), before pygls tries."""
    futures = _futures(protocol)
    if futures is None:
        return
    current = getattr(protocol, "msg_id", None)
    for msg_id, future in list(futures.items()):
        if msg_id != current and not future.done():
            future.cancel()
