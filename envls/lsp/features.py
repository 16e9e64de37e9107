"""Thin handlers for completion, hover, code actions and the outline: unpack, call core, convert."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from lsprotocol import types

from envls.core.conda.channel_facts import ChannelFacts
from envls.core.cuda.hover import cuda_hover
from envls.core.environment import environment_of
from envls.core.features import completion as core_completion
from envls.core.features import hover as core_hover
from envls.core.features import query
from envls.core.features import symbols as core_symbols
from envls.core.pip.assist import complete_pip, hover_pip, requirement_name_at
from envls.core.pip.facts import IndexFacts
from envls.lsp import convert
from envls.lsp.state import EnvlsServer, Snapshot

log = logging.getLogger(__name__)

_KINDS = {
    "property": types.CompletionItemKind.Property,
    "value": types.CompletionItemKind.Value,
    "module": types.CompletionItemKind.Module,
    "folder": types.CompletionItemKind.Folder,
}
_SYMBOL_KINDS = {
    "key": types.SymbolKind.Key,
    "package": types.SymbolKind.Package,
    "channel": types.SymbolKind.Namespace,
    "pip": types.SymbolKind.Module,
    "variable": types.SymbolKind.Variable,
    "value": types.SymbolKind.String,
}


P = TypeVar("P")
R = TypeVar("R")


def document_request(empty: Any, in_worker: bool = False) -> Callable[[Callable[[EnvlsServer, P, Snapshot], Any]],
                                             Callable[[EnvlsServer, P], Awaitable[Any]]]:
    """Make a handler of a request about one document: the event loop only routes. The wrapper awaits
    the worker's analysis of the document's current version and calls ``handler(server, params,
    snapshot)``; for a file that is no environment file, or a document that changed meanwhile, it
    answers ``empty`` (the latter with a log line). ``in_worker`` runs a handler that only reads the snapshot
    in the worker as well (one that starts background loads of the session stays on the loop: hover)."""

    def wrap(handler: Callable[[EnvlsServer, P, Snapshot], Any]) -> Callable[[EnvlsServer, P], Awaitable[Any]]:
        async def run(server: EnvlsServer, params: P) -> Any:
            uri = params.text_document.uri  # type: ignore[attr-defined]
            if not server.is_environment(uri):
                return empty
            snap = await server.snapshot_async(uri)
            if snap is None:
                log.info("%s for %s answered empty: the document changed while it was analysed",
                         handler.__name__, uri)
                return empty
            if asyncio.iscoroutinefunction(handler):
                return await handler(server, params, snap)
            if in_worker:  # pure over the snapshot, and O(document): in the worker, off the event loop
                return await asyncio.get_running_loop().run_in_executor(server.analysis_pool, handler, server,
                                                                        params, snap)
            return handler(server, params, snap)

        run.__name__ = run.__qualname__ = handler.__name__
        run.__doc__ = handler.__doc__
        return run

    return wrap


_COMPLETION_WAIT = 1.0  # seconds a completion may wait for channel data that is not loaded yet


async def _facts_for_completion(server: EnvlsServer, uri: str, document: Any, offset: int) -> ChannelFacts | None:
    service = server.channel_service()
    if service is None or document.top is None:
        return None
    env = environment_of(document)
    context = query.at(document.index, offset)
    if context.place != "dependency":
        return None
    name = re.match(r"(?:[^:\s]+::)?([A-Za-z0-9_.\-]+)", context.item_text)
    extra = [name.group(1)] if name and re.search(r"[=<>!~ ]", context.item_text) else []
    root = server.root_dir(uri)
    try:
        return await asyncio.wait_for(service.facts(env, root, extra), _COMPLETION_WAIT)
    except asyncio.TimeoutError:
        return service.cached(env, root)
    except Exception:
        log.exception("channel data for completion failed")
        return service.cached(env, root)


async def _index_for_completion(server: EnvlsServer, uri: str, document: Any, offset: int) -> IndexFacts | None:
    service = server.session.pip
    if service is None or document.top is None:
        return None
    env = environment_of(document)
    name = requirement_name_at(document, offset)
    files = server.session.pip_files(env, server.root_dir(uri))
    try:
        return await asyncio.wait_for(service.facts(env, files, [name] if name else []), _COMPLETION_WAIT)
    except asyncio.TimeoutError:
        return service.cached(env, files)
    except Exception:
        log.exception("index data for completion failed")
        return service.cached(env, files)


@document_request(None)
async def completion(server: EnvlsServer, params: types.CompletionParams, snap: Snapshot) -> types.CompletionList | None:
    uri = params.text_document.uri
    document = snap.analysis.document
    encoding = server.encoding
    offset = convert.offset(document.index, params.position, encoding)
    snippets = server.snippet_support()
    if query.at(document.index, offset).place == "pip":
        candidates = complete_pip(document, offset, await _index_for_completion(server, uri, document, offset))
    else:
        facts = await _facts_for_completion(server, uri, document, offset)
        configured = server.session.config.channels
        extra = [(name, "in your conda configuration") for name in configured]
        candidates = core_completion.complete(document, offset, extra, facts=facts)
    items = []
    for c in candidates:
        text = c.insert_text if snippets or not c.snippet else re.sub(r"\$\{?\d+\}?", "", c.insert_text)
        items.append(types.CompletionItem(
            label=c.label,
            kind=_KINDS.get(c.kind, types.CompletionItemKind.Text),
            detail=c.detail or None,
            documentation=types.MarkupContent(kind=types.MarkupKind.Markdown, value=c.documentation)
            if c.documentation else None,
            sort_text=c.sort_text,
            filter_text=c.label,
            insert_text_format=types.InsertTextFormat.Snippet if snippets and c.snippet else None,
            text_edit=types.TextEdit(range=convert.to_range(document.index, c.start, c.end, encoding), new_text=text),
        ))
    return types.CompletionList(is_incomplete=len(candidates) >= core_completion.MAX_NAMES, items=items)


@document_request(None)
def hover(server: EnvlsServer, params: types.HoverParams, snap: Snapshot) -> types.Hover | None:
    index = snap.analysis.document.index
    offset = convert.offset(index, params.position, server.encoding)
    env = snap.analysis.environment
    root = server.root_dir(params.text_document.uri)
    facts = server.session.cached_facts(env, root)
    index_facts = server.session.cached_index(env, server.session.pip_files(env, root)) if env.pip else None
    found = hover_pip(env, offset, index_facts) or core_hover.hover(env, offset, facts, server.session.summaries(facts))
    if found is None:
        return None
    target = server.session.cuda_target(env)
    extra = cuda_hover(env, target, offset, facts) if target is not None else None
    if extra:
        found = core_hover.HoverText(f"{found.markdown}\n\n{extra}", found.start, found.end)
    return types.Hover(
        contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=found.markdown),
        range=convert.to_range(index, found.start, found.end, server.encoding),
    )


async def code_actions(server: EnvlsServer, params: types.CodeActionParams) -> list[types.CodeAction] | None:
    only = params.context.only
    if only and not any(str(kind).startswith(str(types.CodeActionKind.QuickFix)) for kind in only):
        return None
    return await _quick_fixes(server, params)


@document_request(None, in_worker=True)
def _quick_fixes(server: EnvlsServer, params: types.CodeActionParams, snap: Snapshot) -> list[types.CodeAction]:
    uri = params.text_document.uri
    index = snap.analysis.document.index
    start = convert.offset(index, params.range.start, server.encoding)
    end = convert.offset(index, params.range.end, server.encoding)
    actions = []
    seen: set[str] = set()
    for finding in snap.analysis.findings:
        if finding.span.end < start or finding.span.start > end:
            continue
        for fix in finding.fixes:
            key = f"{fix.title}:{fix.edits}"
            if key in seen:
                continue
            seen.add(key)
            actions.append(convert.code_action(fix, finding, index, server.encoding, uri))
    return actions


@document_request([], in_worker=True)
def document_symbols(server: EnvlsServer, params: types.DocumentSymbolParams,
                     snap: Snapshot) -> list[types.DocumentSymbol]:
    index = snap.analysis.document.index

    def convert_symbol(symbol: core_symbols.Symbol) -> types.DocumentSymbol:
        return types.DocumentSymbol(
            name=symbol.name,
            detail=symbol.detail or None,
            kind=_SYMBOL_KINDS.get(symbol.kind, types.SymbolKind.Field),
            range=convert.to_range(index, symbol.start, symbol.end, server.encoding),
            selection_range=convert.to_range(index, symbol.selection_start, symbol.selection_end, server.encoding),
            children=[convert_symbol(child) for child in symbol.children] or None,
        )

    return [convert_symbol(s) for s in core_symbols.outline(snap.analysis.environment)]
