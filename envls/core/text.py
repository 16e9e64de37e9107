"""Line index over a document's text: offsets (code points) to lines and columns and back.

Built once per document version. Columns can be given in code points (what Python
indexes), UTF-16 code units (what VS Code and most LSP clients speak) or UTF-8 bytes.
Line breaks are those of LSP: ``\\n``, ``\\r\\n`` and ``\\r``.
"""

from __future__ import annotations

import bisect
import itertools
import re
from dataclasses import dataclass
from typing import Literal

Encoding = Literal["utf-8", "utf-16", "utf-32"]

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


@dataclass(slots=True, unsafe_hash=True)  # a value, not frozen for speed (see findings.py)
class Position:
    """A zero-based line and a column in some encoding's units."""

    line: int
    column: int


class LineIndex:
    """Maps between character offsets and (line, column) for one text."""

    def __init__(self, text: str) -> None:
        self.text = text
        if "\r" in text:
            starts = [0]
            starts.extend(m.end() for m in _LINE_BREAK.finditer(text))
        else:  # `\n` only: the starts from the line lengths, in C (a 100,000-line file's index in 5 ms)
            starts = list(itertools.accumulate(map((1).__add__, map(len, text.split("\n"))), initial=0))
            starts.pop()
        self.line_starts = starts

    @property
    def line_count(self) -> int:
        return len(self.line_starts)

    def line_of(self, offset: int) -> int:
        return bisect.bisect_right(self.line_starts, offset) - 1

    def line_span(self, line: int) -> tuple[int, int]:
        """Start and end offsets of ``line``, without its line break."""
        line = max(0, min(line, len(self.line_starts) - 1))
        start = self.line_starts[line]
        end = self.line_starts[line + 1] if line + 1 < len(self.line_starts) else len(self.text)
        while end > start and self.text[end - 1] in "\r\n":
            end -= 1
        return start, end

    def line_text(self, line: int) -> str:
        start, end = self.line_span(line)
        return self.text[start:end]

    def position(self, offset: int, encoding: Encoding = "utf-32") -> Position:
        offset = max(0, min(offset, len(self.text)))
        line = self.line_of(offset)
        start = self.line_starts[line]
        if encoding == "utf-32":
            return Position(line, offset - start)  # code points: no slice to count
        return Position(line, _units(self.text[start:offset], encoding))

    def offset(self, line: int, column: int, encoding: Encoding = "utf-32") -> int:
        """The offset of (line, column); columns past the end clamp to the line's end."""
        if line < 0:
            return 0
        if line >= len(self.line_starts):
            return len(self.text)
        start, end = self.line_span(line)
        return start + column_offset(self.text[start:end], column, encoding)


def column_offset(segment: str, column: int, encoding: Encoding = "utf-32") -> int:
    """The code-point index in ``segment`` (one line) of ``column`` given in ``encoding`` units; clamped."""
    if encoding == "utf-32" or segment.isascii():
        return max(0, min(column, len(segment)))
    units = 0
    for i, ch in enumerate(segment):
        if units >= column:
            return i
        units += _char_units(ch, encoding)
    return len(segment)


def line_breaks(text: str, start: int = 0, end: int | None = None) -> list[int]:
    """The offsets just after each LSP line break in ``text[start:end]`` (absolute offsets)."""
    return [m.end() for m in _LINE_BREAK.finditer(text, start, len(text) if end is None else end)]


def _char_units(ch: str, encoding: Encoding) -> int:
    if encoding == "utf-16":
        return 2 if ord(ch) > 0xFFFF else 1
    if encoding == "utf-8":
        return len(ch.encode("utf-8", "surrogatepass"))
    return 1


def _units(segment: str, encoding: Encoding) -> int:
    if encoding == "utf-32" or segment.isascii():
        return len(segment)
    if encoding == "utf-16":
        return len(segment) + sum(1 for ch in segment if ord(ch) > 0xFFFF)
    return len(segment.encode("utf-8", "surrogatepass"))
