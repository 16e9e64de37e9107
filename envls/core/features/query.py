"""Cursor context as a query: where in the environment file is this offset?

Completion and hover ask this instead of re-deriving it. The answer comes from the
lines and their indentation, not from the YAML tree, so it holds while the file is
half-typed and does not parse.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from envls.core.text import LineIndex

Place = Literal["top-key", "channel", "dependency", "pip", "platform", "value", "other"]

_KEY_LINE = re.compile(r"^(\s*)(?:-\s+)?([A-Za-z_][\w.()\-]*|\"[^\"]*\"|'[^']*')\s*:(\s|$)")
_ITEM = re.compile(r"^(\s*)-\s*")
_WORD_STOP = frozenset("[],:")


@dataclass(frozen=True)
class Context:
    """What the cursor is on: the place, the section path, and the word typed so far."""

    place: Place
    section: tuple[str, ...]
    word: str
    word_start: int
    item_text: str = ""
    item_start: int = 0


def _word_before(before: str) -> str:
    """The word that ends at the cursor (no space, `[`, `]`, `,` or `:` in it), read backwards: a pattern
    anchored at the end (`[^\\s...]*$`) retries from every character of a long token followed by a space."""
    start = len(before)
    while start > 0 and not before[start - 1].isspace() and before[start - 1] not in _WORD_STOP:
        start -= 1
    return before[start:]


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _strip_comment(line: str) -> str:
    match = re.search(r"(^|\s)#", line)
    return line[: match.start()] if match else line


def _parents(index: LineIndex, line_no: int, indent: int) -> list[str]:
    """The keys that enclose a list item with the given indentation, innermost first.

    A block sequence may sit at the indentation of its key (``dependencies:`` then
    ``- numpy`` in column 0), so a bare ``key:`` line at the item's own indentation
    counts as its parent.
    """
    parents: list[str] = []
    limit, allow_equal = indent, True
    for number in range(line_no - 1, -1, -1):
        text = _strip_comment(index.line_text(number)).rstrip()
        if not text.strip() or text.lstrip().startswith("#"):
            continue
        own = _indent(text)
        dash = _ITEM.match(text) is not None
        key = _KEY_LINE.match(text)
        if own > limit or (own == limit and not (allow_equal and key and not dash and text.endswith(":"))):
            continue
        if key:
            parents.append(key.group(2).strip("'\""))
        limit, allow_equal = own, dash
        if own == 0 and not dash:
            break
    return parents


def at(index: LineIndex, offset: int) -> Context:
    """The context at ``offset``; works on any text."""
    line_no = index.line_of(offset)
    line_start, _ = index.line_span(line_no)
    before = index.text[line_start:offset]
    word = _word_before(before)
    word_start = offset - len(word)
    item = _ITEM.match(before)
    if item is None:
        if not before.startswith((" ", "\t")) and ":" not in before:
            return Context("top-key", (), before.strip(), line_start + len(before) - len(before.lstrip()))
        key = _KEY_LINE.match(before)
        if key and ":" in before:
            return Context("value", (key.group(2),), word, word_start)
        return Context("other", (), word, word_start)
    indent = len(item.group(1))
    item_text = before[item.end():]
    item_start = line_start + item.end()
    # "- pip:" items open a subsection: a "pip" key at a deeper level than "dependencies".
    section = tuple(reversed(_parents(index, line_no, indent)))
    place: Place = "other"
    if section[:1] == ("channels",):
        place = "channel"
    elif section[:1] == ("platforms",):
        place = "platform"
    elif section[:1] == ("dependencies",):
        place = "pip" if len(section) > 1 and section[-1] == "pip" else "dependency"
    if ":" in item_text and place == "dependency" and "::" not in item_text:
        place = "other"
    return Context(place, section, word, word_start, item_text, item_start)
