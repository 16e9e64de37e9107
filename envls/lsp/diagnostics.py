"""Diagnostics: pushed after open, change and save (with the document version), or pulled.

A change cancels the pending analysis of the same document; the result of an analysis
is only published when it still belongs to the document's current version. The slow stages
follow: channel data is loaded, then the file is solved; each publishes again when done, and a
solve's findings are only added to the text it was made for.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from typing import Any

from lsprotocol import types

from envls.channels.facts import spec_names
from envls.lsp.state import EnvlsServer

log = logging.getLogger(__name__)


def schedule(server: EnvlsServer, uri: str, force: bool = False) -> None:
    """(Re)start the analysis and publication for ``uri``, then the channel stage when it needs data."""
    previous = server.pending.get(uri)
    burst = previous is not None and not previous.done()
    if previous is not None and burst:
        previous.cancel()
    # A lone edit is analysed at once; an edit that arrives while the previous one is still being analysed
    # is part of a burst (typing fast, a formatter, a paste as many edits) and waits for the burst to pause,
    # so that the worker analyses the last version instead of every one in between.
    server.pending[uri] = asyncio.ensure_future(_publish(server, uri, force, BURST_DELAY if burst else 0.0))


BURST_DELAY = 0.03  # seconds

_PROGRESS_AFTER = 0.4  # seconds: loads faster than this show no progress
# Loading new channel data waits for typing to pause, so that `bioconda` typed letter by letter
# is one load, not eight. Checks against data already loaded are not delayed.
LOAD_DELAY = 0.6


def _refresh_channels(server: EnvlsServer, uri: str) -> None:
    """Load the channel data this document needs in the background, then publish again."""
    session = server.session
    snap = server.snapshots.get(uri)
    if snap is None or snap.analysis.document.top is None:
        return
    env = snap.analysis.environment
    root = server.root_dir(uri)
    if not session.needs_load(env, root):
        return
    channels = session.channels
    plan_key = channels.plan(env, root).key if channels is not None else None
    key = (plan_key, frozenset(spec_names(env)), tuple(e.text for s in env.pip for e in s.entries))
    running = server.channel_tasks.get(uri)
    if running is not None and not running.done():
        if server.channel_keys.get(uri) == key:
            return  # the same data is already on its way
        running.cancel()
    server.channel_keys[uri] = key

    first = session.cached_facts(env, root) is None  # nothing shown yet: do not wait for a pause in typing

    async def load() -> None:
        if not first:
            await asyncio.sleep(LOAD_DELAY)
        task = asyncio.ensure_future(session.load_all(env, root))
        try:
            done, _ = await asyncio.wait({task}, timeout=_PROGRESS_AFTER)
            if not done:
                await _with_progress(server, task)
            task.result()
        except asyncio.CancelledError:
            task.cancel()
            raise
        except Exception:
            log.exception("loading channel or index data for %s failed", uri)
            return
        from envls.lsp.invalidation import invalidate

        invalidate(server, "channel-data", uri)

    server.channel_tasks[uri] = asyncio.ensure_future(load())





async def _with_progress(server: EnvlsServer, task: asyncio.Future[Any]) -> None:
    window = server.client_capabilities.window
    if not (window and window.work_done_progress):
        await asyncio.wait({task})
        return
    token = f"envls-channels-{id(task)}"
    progress = server.work_done_progress
    try:
        await progress.create_async(token)
    except Exception:  # the client may refuse; the load goes on without a progress bar
        await asyncio.wait({task})
        return
    progress.begin(token, types.WorkDoneProgressBegin(title="envls", message="Loading channel and package index data", cancellable=False))
    try:
        await asyncio.wait({task})
    finally:
        progress.end(token, types.WorkDoneProgressEnd(message="Data loaded"))


async def _publish(server: EnvlsServer, uri: str, force: bool = False, delay: float = 0.0) -> None:
    """Publish the current version's diagnostics; unchanged ones are not sent again unless ``force``
    (open and save always publish)."""
    try:
        await asyncio.sleep(delay)  # let a burst of changes that are already read coalesce
        if not server.is_environment(uri):
            # No longer (or never) an environment file: clear whatever was shown for it.
            if uri in server.published:
                del server.published[uri]
                version = server.workspace.get_text_document(uri).version
                server.text_document_publish_diagnostics(
                    types.PublishDiagnosticsParams(uri=uri, diagnostics=[], version=version))
            return
        snap = await server.snapshot_async(uri)
        if snap is None:
            return  # a newer version is on its way
        if not server.pull_diagnostics:
            diags = snap.diagnostics
            if force or server.published.get(uri) != (snap.version, diags):
                server.text_document_publish_diagnostics(
                    types.PublishDiagnosticsParams(uri=uri, diagnostics=diags, version=snap.version)
                )
                server.published[uri] = (snap.version, diags)
        _refresh_channels(server, uri)
        _refresh_solve(server, uri)
        _refresh_pip(server, uri)
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("publishing diagnostics for %s failed", uri)


# Solving waits for typing to pause this long; an edit that changes what is solved cancels it.
SOLVE_DELAY = 0.25


def _refresh_solve(server: EnvlsServer, uri: str) -> None:
    """Solve the document in the background once its channel data is loaded, then publish again."""
    session = server.session
    snap = server.snapshots.get(uri)
    channels = session.channels
    if snap is None or snap.analysis.document.top is None or channels is None or session.solver is None:
        return
    env = snap.analysis.environment
    root = server.root_dir(uri)
    key: tuple[object, object] | None = None
    if not channels.needs_refresh(env, root) and session.cached_solve(env, root) is None:
        # The channel stage comes first; a solve at hand is not redone. A new session (other settings) solves anew.
        key = (id(session), session.solve_key(env, root))
    tasks = server.solve_tasks
    running = tasks.get(uri)
    if running is not None and not running[1].done():
        if key is not None and running[0] == key:
            return  # the same solve is on its way
        running[1].cancel()
        del tasks[uri]
    if key is None:
        return

    async def solve() -> None:
        await asyncio.sleep(SOLVE_DELAY)
        try:
            await session.solve(env, root)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("solving %s failed", uri)
            return
        if server.session is not session:
            return  # the settings changed meanwhile
        from envls.lsp.invalidation import invalidate

        invalidate(server, "solved", uri)

    tasks[uri] = (key, asyncio.ensure_future(solve()))


def _refresh_pip(server: EnvlsServer, uri: str) -> None:
    """Resolve the pip section in the background once the conda side is settled (solved, or not solvable),
    debounced like the solve; an edit that changes what is resolved cancels it."""
    session = server.session
    snap = server.snapshots.get(uri)
    if snap is None or snap.analysis.document.top is None or session.pip_resolver is None:
        return
    env = snap.analysis.environment
    root = server.root_dir(uri)
    key: object | None = None
    solving = server.solve_tasks.get(uri)
    settled = (solving is None or solving[1].done()) and not session.needs_load(env, root)
    if settled and env.pip and session.cached_pip_resolution(env, root) is None:
        requests = session.pip_requests(env, root)
        key = (id(session), tuple(r.key for r in requests)) if requests is not None else None
    tasks = server.pip_tasks
    running = tasks.get(uri)
    if running is not None and not running[1].done():
        if key is not None and running[0] == key:
            return  # the same resolution is on its way
        running[1].cancel()
        del tasks[uri]
    if key is None:
        return

    async def resolve() -> None:
        await asyncio.sleep(SOLVE_DELAY)
        try:
            await session.resolve_pip(env, root)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("resolving the pip section of %s failed", uri)
            return
        if server.session is session:
            from envls.lsp.invalidation import invalidate

            invalidate(server, "solved", uri)

    tasks[uri] = (key, asyncio.ensure_future(resolve()))



def clear(server: EnvlsServer, uri: str) -> None:
    server.forget(uri)
    if not server.pull_diagnostics:
        server.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=[]))


async def pull(server: EnvlsServer, params: types.DocumentDiagnosticParams) -> types.DocumentDiagnosticReport:
    uri = params.text_document.uri
    if not server.is_environment(uri):
        return types.RelatedFullDocumentDiagnosticReport(items=[])
    snap = None
    for _ in range(3):  # the document may move on while it is analysed: report its newest version
        snap = await server.snapshot_async(uri)
        if snap is not None:
            break
    if snap is None:
        log.info("diagnostics for %s answered empty: the document kept changing while it was analysed", uri)
        return types.RelatedFullDocumentDiagnosticReport(items=[])
    # The same version shows more once channel data or a solve arrives: the id names the findings too.
    digest = hashlib.blake2b(repr(snap.diagnostics).encode(), digest_size=8).hexdigest()
    result_id = f"{server.generation}:{snap.version}:{digest}" if snap.version is not None else None
    if result_id is not None and params.previous_result_id == result_id:
        return types.RelatedUnchangedDocumentDiagnosticReport(result_id=result_id)
    return types.RelatedFullDocumentDiagnosticReport(items=snap.diagnostics, result_id=result_id)
