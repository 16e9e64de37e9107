"""Diagnostics: pushed after open, change and save (with the document version), or pulled.

A change cancels the pending analysis of the same document; the result of an analysis
is only published when it still belongs to the document's current version.
"""

from __future__ import annotations

import asyncio
import logging

from lsprotocol import types

from envls.lsp import convert
from envls.lsp.state import EnvlsServer

log = logging.getLogger(__name__)


def schedule(server: EnvlsServer, uri: str) -> None:
    """(Re)start the analysis and publication for ``uri``."""
    if server.pull_diagnostics:
        return
    previous = server.pending.get(uri)
    if previous is not None and not previous.done():
        previous.cancel()
    server.pending[uri] = asyncio.ensure_future(_publish(server, uri))


async def _publish(server: EnvlsServer, uri: str) -> None:
    try:
        await asyncio.sleep(0)  # let a burst of changes that are already read coalesce
        if not server.is_environment(uri):
            return
        snap = await server.snapshot_async(uri)
        if snap is None:
            return  # a newer version is on its way
        diags = convert.diagnostics(snap.analysis.findings, snap.analysis.document.index, server.encoding, uri)
        server.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(uri=uri, diagnostics=diags, version=snap.version)
        )
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("publishing diagnostics for %s failed", uri)


def clear(server: EnvlsServer, uri: str) -> None:
    server.forget(uri)
    if not server.pull_diagnostics:
        server.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=[]))


async def pull(server: EnvlsServer, params: types.DocumentDiagnosticParams) -> types.DocumentDiagnosticReport:
    uri = params.text_document.uri
    if not server.is_environment(uri):
        return types.RelatedFullDocumentDiagnosticReport(items=[])
    snap = await server.snapshot_async(uri)
    if snap is None:
        snap = server.snapshot(uri)
    result_id = f"{server.generation}:{snap.version}" if snap.version is not None else None
    if result_id is not None and params.previous_result_id == result_id:
        return types.RelatedUnchangedDocumentDiagnosticReport(result_id=result_id)
    index = snap.analysis.document.index
    return types.RelatedFullDocumentDiagnosticReport(
        items=convert.diagnostics(snap.analysis.findings, index, server.encoding, uri), result_id=result_id
    )
