"""Open documents with incremental edits applied in proportion to the change, not to the document.

pygls' TextDocument applies an incremental change by splitting the whole text into lines and writing
every line again (and splits on more than LSP's line breaks). Here the document keeps its LSP line
starts; a change converts its two positions through the lines they are on, splices the text, rescans
only the lines around the change for breaks, and shifts the starts after it.
"""

from __future__ import annotations

import bisect
from typing import Any

from lsprotocol import types
from pygls.workspace import TextDocument, Workspace

from envls.core.text import Encoding, column_offset, line_breaks
from envls.lsp.convert import encoding_of


class EnvlsTextDocument(TextDocument):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._starts: list[int] | None = None

    def _line_starts(self, text: str) -> list[int]:
        if self._starts is None:
            self._starts = [0, *line_breaks(text)]
        return self._starts

    def _encoding(self) -> Encoding:
        return encoding_of(getattr(self.position_codec, "encoding", None))

    def _offset(self, text: str, starts: list[int], position: types.Position, encoding: Encoding) -> int:
        if position.line >= len(starts):
            return len(text)
        start = starts[position.line]
        end = starts[position.line + 1] if position.line + 1 < len(starts) else len(text)
        line = text[start:end].rstrip("\r\n")
        return start + column_offset(line, position.character, encoding)

    def _apply_incremental_change(self, change: types.TextDocumentContentChangePartial) -> None:
        text = self.source
        starts = self._line_starts(text)
        encoding = self._encoding()
        start = self._offset(text, starts, change.range.start, encoding)
        end = max(start, self._offset(text, starts, change.range.end, encoding))
        new = text[:start] + change.text + text[end:]
        delta = len(change.text) - (end - start)
        # Rescan from the start of the line before the change to the start of the second line after it
        # (a `\r` and a `\n` joined or parted by the change are seen); the starts after it only shift.
        first = max(bisect.bisect_right(starts, start) - 2, 0)
        after = bisect.bisect_right(starts, end) + 1
        scan_from = starts[first]
        scan_to = (starts[after] + delta) if after < len(starts) else len(new)
        middle = [b for b in line_breaks(new, scan_from, scan_to) if b < scan_to or after >= len(starts)]
        tail = [s + delta for s in starts[after:]] if delta else starts[after:]
        self._starts = [*starts[:first + 1], *middle, *tail]
        self._source = new

    def _apply_full_change(self, change: types.TextDocumentContentChangeEvent) -> None:
        super()._apply_full_change(change)
        self._starts = None


class EnvlsWorkspace(Workspace):
    """pygls' workspace, with envls' text documents."""

    def _create_text_document(self, doc_uri: str, source: str | None = None, version: int | None = None,
                              language_id: str | None = None) -> TextDocument:
        return EnvlsTextDocument(doc_uri, source=source, version=version, language_id=language_id,
                                 sync_kind=self._sync_kind, position_codec=self._position_codec)
