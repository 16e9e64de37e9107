"""Workarounds for py-rattler 0.28: failures told apart by the text of their message.

py-rattler raises one ``GatewayError`` for every repodata failure (HTTP 404, 5xx, refused connection,
timeout, broken JSON) with no status or kind attribute, and one ``SolverError`` both for an unsatisfiable
request and for a solve stopped at its time limit. envls reads the message instead; these functions are
the only places that do. tests/test_compat.py fails once py-rattler tells them apart by type or attribute.
"""

from __future__ import annotations

import re
from typing import Literal

APPLIES_TO = "py-rattler 0.28"

SubdirState = Literal["ok", "missing", "unreachable"]

_STATUS = re.compile(r"status (?:client|server) error \((\d{3})")


def classify_gateway_error(err: BaseException) -> tuple[SubdirState, str]:
    """("missing" | "unreachable", a few words why) for a failure to fetch a channel's subdir."""
    text = str(err)
    lowered = text.lower()
    status = _STATUS.search(lowered)
    if status and status.group(1) in ("404", "410"):
        return "missing", "no repodata"
    if status:
        code = status.group(1)
        return "unreachable", f"server error {code}" if code.startswith("5") else f"HTTP status {code}"
    if "could not find subdir" in lowered:
        return "missing", "no repodata"
    for marker, words in (("connection refused", "connection refused"), ("timed out", "timed out"),
                          ("dns", "name not resolved"), ("decode", "invalid repodata"), ("json", "invalid repodata"),
                          ("eof", "truncated repodata")):
        if marker in lowered:
            return "unreachable", words
    first = text.splitlines()[0] if text else type(err).__name__
    return "unreachable", first[:160]


def solve_timed_out(err: BaseException) -> bool:
    """True when a SolverError says the solver stopped at its time limit ("Solve operation has been
    cancelled"), not when an explanation merely names a package such as `timeout-decorator`."""
    first = (str(err).strip().splitlines() or [""])[0].lower()
    return "operation has been cancelled" in first or first.startswith(("timed out", "timeout"))
