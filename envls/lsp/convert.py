"""Core objects to and from lsprotocol types: the one place that maps offsets to LSP positions.

Positions go through the negotiated encoding (VS Code speaks UTF-16), using the
document's LineIndex, which is built once per version.
"""

from __future__ import annotations

from collections.abc import Iterable

from lsprotocol import types

from envls.core.findings import SOURCE, Edit, Finding, Fix
from envls.core.pace import ticking
from envls.core.text import Encoding, LineIndex

_ENCODINGS: dict[str, Encoding] = {
    types.PositionEncodingKind.Utf8: "utf-8",
    types.PositionEncodingKind.Utf16: "utf-16",
    types.PositionEncodingKind.Utf32: "utf-32",
}


def encoding_of(kind: str | types.PositionEncodingKind | None) -> Encoding:
    return _ENCODINGS.get(str(kind) if kind is not None else "utf-16", "utf-16")


def position(index: LineIndex, offset: int, encoding: Encoding) -> types.Position:
    pos = index.position(offset, encoding)
    return types.Position(line=pos.line, character=pos.column)


def to_range(index: LineIndex, start: int, end: int, encoding: Encoding) -> types.Range:
    return types.Range(start=position(index, start, encoding), end=position(index, max(start, end), encoding))


def offset(index: LineIndex, pos: types.Position, encoding: Encoding) -> int:
    return index.offset(pos.line, pos.character, encoding)


def diagnostic(finding: Finding, index: LineIndex, encoding: Encoding, uri: str) -> types.Diagnostic:
    related = [
        types.DiagnosticRelatedInformation(
            location=types.Location(uri=uri, range=to_range(index, r.span.start, r.span.end, encoding)),
            message=r.message,
        )
        for r in finding.related
    ] or None
    tags = [types.DiagnosticTag.Unnecessary] if "unnecessary" in finding.tags else None
    return types.Diagnostic(
        range=to_range(index, finding.span.start, finding.span.end, encoding),
        message=finding.message,
        severity=types.DiagnosticSeverity(int(finding.severity)),
        code=finding.code,
        source=SOURCE,
        related_information=related,
        tags=tags,
    )


def diagnostics(findings: Iterable[Finding], index: LineIndex, encoding: Encoding, uri: str) -> list[types.Diagnostic]:
    return [diagnostic(f, index, encoding, uri) for f in ticking(findings)]


def text_edits(edits: Iterable[Edit], index: LineIndex, encoding: Encoding) -> list[types.TextEdit]:
    return [types.TextEdit(range=to_range(index, e.start, e.end, encoding), new_text=e.new_text) for e in edits]


def code_action(fix: Fix, finding: Finding, index: LineIndex, encoding: Encoding, uri: str) -> types.CodeAction:
    return types.CodeAction(
        title=fix.title,
        kind=types.CodeActionKind.QuickFix,
        diagnostics=[diagnostic(finding, index, encoding, uri)],
        edit=types.WorkspaceEdit(changes={uri: text_edits(fix.edits, index, encoding)}),
        is_preferred=fix.preferred or None,
    )
