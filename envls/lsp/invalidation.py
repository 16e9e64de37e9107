"""Invalidation, in one place: what the server forgets, and what it asks the client to fetch again, and why.

Cached analyses (`server.snapshots`) are only dropped here. Each reason names what changed:

- ``settings``: new settings (maybe a new session); every document is analysed again.
- ``environments``: an environment was created or updated, or conda, mamba or pip changed one the
  open files describe; where environments are is looked up again, and code lenses refresh.
- ``cuda-probe``: the CUDA probe answered; every document is analysed again.
- ``channel-data``: channel or index data for one document arrived.
- ``solved``: one document's solve finished; its code lenses refresh too.
"""

from __future__ import annotations

import logging
from typing import Literal

from envls.lsp import diagnostics
from envls.lsp.state import EnvlsServer

log = logging.getLogger(__name__)

Reason = Literal["settings", "environments", "cuda-probe", "channel-data", "solved"]
# Channel data starts a new solve and changes what the Create lens says: lenses follow it too.
_LENSES_CHANGE: frozenset[Reason] = frozenset({"environments", "solved", "channel-data", "settings", "cuda-probe"})


def invalidate(server: EnvlsServer, reason: Reason, uri: str | None = None) -> None:
    """Forget the analyses ``reason`` makes stale (of ``uri`` only, when given; else of every document),
    then analyse and publish again, or ask a pull client to pull, and refresh code lenses when they change."""
    log.debug("invalidating %s: %s", uri or "every document", reason)
    if reason == "settings":
        server.generation += 1  # pull result ids change with the settings
    if reason == "environments":
        server.session.environments_changed()
    if uri is None:
        server.snapshots.clear()
        uris = list(server.workspace.text_documents)
    else:
        server.snapshots.pop(uri, None)
        uris = [uri]
    for each in uris:
        diagnostics.schedule(server, each)  # for a pull client: only the background loads, nothing published
    workspace = server.client_capabilities.workspace
    if server.pull_diagnostics and workspace and workspace.diagnostics and workspace.diagnostics.refresh_support:
        server.workspace_diagnostic_refresh(None)
    if reason in _LENSES_CHANGE and workspace and workspace.code_lens and workspace.code_lens.refresh_support:
        server.workspace_code_lens_refresh(None)
