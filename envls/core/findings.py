"""What analysis produces: findings with spans, related places and fixes. No LSP here.

Spans are character offsets into the document text; the LSP layer and the CLI turn
them into lines and columns. Severity numbers match LSP's so that conversion is trivial.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

# The value types below are never changed after they are built, but they are not `frozen`: a frozen
# dataclass's __init__ sets each field through object.__setattr__, four times the cost of a plain slot
# store, and a 5 MB file's analysis builds half a million of them. `unsafe_hash` keeps them hashable
# by value, as frozen ones are.


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


@dataclass(slots=True, unsafe_hash=True)
class Span:
    start: int
    end: int


@dataclass(slots=True, unsafe_hash=True)
class Edit:
    """Replace the text between ``start`` and ``end`` with ``new_text``."""

    start: int
    end: int
    new_text: str


@dataclass(slots=True, unsafe_hash=True)
class Fix:
    """A quick fix: a title and the edits that carry it out."""

    title: str
    edits: tuple[Edit, ...]
    preferred: bool = False


@dataclass(slots=True, unsafe_hash=True)
class Related:
    span: Span
    message: str


@dataclass(slots=True, unsafe_hash=True)
class Finding:
    code: str
    severity: Severity
    message: str
    span: Span
    related: tuple[Related, ...] = ()
    fixes: tuple[Fix, ...] = field(default=(), compare=False)
    tags: tuple[str, ...] = ()


SOURCE = "envls"
