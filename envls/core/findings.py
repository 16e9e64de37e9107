"""What analysis produces: findings with spans, related places and fixes. No LSP here.

Spans are character offsets into the document text; the LSP layer and the CLI turn
them into lines and columns. Severity numbers match LSP's so that conversion is trivial.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Severity(enum.IntEnum):
    ERROR = 1
    WARNING = 2
    INFORMATION = 3
    HINT = 4

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, word: str) -> Severity:
        return {"error": cls.ERROR, "warning": cls.WARNING, "information": cls.INFORMATION, "info": cls.INFORMATION,
                "hint": cls.HINT}[word.lower()]


@dataclass(frozen=True, slots=True)
class Span:
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Edit:
    """Replace the text between ``start`` and ``end`` with ``new_text``."""

    start: int
    end: int
    new_text: str


@dataclass(frozen=True, slots=True)
class Fix:
    """A quick fix: a title and the edits that carry it out."""

    title: str
    edits: tuple[Edit, ...]
    preferred: bool = False


@dataclass(frozen=True, slots=True)
class Related:
    span: Span
    message: str


@dataclass(frozen=True, slots=True)
class Finding:
    code: str
    severity: Severity
    message: str
    span: Span
    related: tuple[Related, ...] = ()
    fixes: tuple[Fix, ...] = field(default=(), compare=False)
    tags: tuple[str, ...] = ()


SOURCE = "envls"
