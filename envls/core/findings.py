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


# A message quotes the document (`numpy>=1>=1...`), and a line may be 10,000 characters long: each quoted
# part is shown up to QUOTE_LIMIT characters, and the whole message up to MESSAGE_LIMIT. Without that, a
# file with 20,000 duplicates of a 10,000-character spec printed 200 MB.
QUOTE_LIMIT = 120
MESSAGE_LIMIT = 1000
CLIP_FROM = 400  # shorter messages are left as they are (nearly all: no split per finding of a large file)


def brief(quoted: str) -> str:
    """Document text to quote in a message, at most QUOTE_LIMIT characters (`its start…`): for a rule that
    quotes one line in many findings (a duplicate's first line), so the long text is never built."""
    return quoted if len(quoted) <= QUOTE_LIMIT else quoted[:QUOTE_LIMIT - 1].rstrip() + "…"


def clipped(message: str) -> str:
    """``message`` with each backquoted part longer than QUOTE_LIMIT shortened (`its start…`), and at most
    MESSAGE_LIMIT characters in all; a message of up to CLIP_FROM characters is returned as it is."""
    if len(message) <= CLIP_FROM:
        return message
    parts = message.split("`")
    for i in range(1, len(parts) - 1, 2):  # the parts between a pair of backquotes
        if len(parts[i]) > QUOTE_LIMIT:
            parts[i] = brief(parts[i])
    message = "`".join(parts)
    return message if len(message) <= MESSAGE_LIMIT else message[:MESSAGE_LIMIT - 1].rstrip() + "…"


def with_clipped_messages(finding: Finding) -> Finding:
    """The finding, or a copy whose message and related messages are clipped (see `clipped`)."""
    if len(finding.message) <= CLIP_FROM and not finding.related:
        return finding
    message = clipped(finding.message)
    related = tuple(r if (m := clipped(r.message)) is r.message else Related(r.span, m) for r in finding.related)
    if message is finding.message and all(a is b for a, b in zip(related, finding.related, strict=True)):
        return finding
    return Finding(finding.code, finding.severity, message, finding.span, related, finding.fixes, finding.tags)
