"""The environment a Document describes: its name, channels, conda specs and pip lines, with spans.

This is a tolerant view over the tree: entries of the wrong type are left out here
(the schema check reports them), so every rule can rely on plain strings.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar, cast

from envls.core.conda.specs import SPEC_CACHE_SIZE, ParsedSpec, parse_spec, parse_spec_uncached
from envls.core.document import Document, Node
from envls.core.pace import paced
from envls.core.pip.lines import PipLine, parse_pip_line

T = TypeVar("T")

# A CEP 24 / conda-build selector comment after an entry: "- pywin32  # [win]".
_SELECTOR = re.compile(r"#\s*\[([^\]]+)\]")
_SEL_KEY = re.compile(r"^sel\((.*)\)$")
_STR = "tag:yaml.org,2002:str"


@dataclass(slots=True, unsafe_hash=True)  # a value, not frozen for speed (see findings.py)
class Entry:
    """A string in one of the file's lists, with where it is and the selector it is under."""

    text: str
    node: Node
    selector: str | None = None
    _parsed: ParsedSpec | None = field(default=None, init=False, repr=False, compare=False)
    _pip_line: PipLine | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def start(self) -> int:
        return self.node.start

    @property
    def parsed(self) -> ParsedSpec:
        """The entry read as a conda spec, parsed once per document version (every rule asks this; after the
        first, a slot read: `functools.cached_property` takes a lock on every read before Python 3.12)."""
        parsed = self._parsed
        if parsed is None:
            parsed = self._parsed = parse_spec(self.text)
        return parsed

    @property
    def pip_line(self) -> PipLine:
        """The entry read as a line of a pip section, parsed once per document version (several rules ask;
        a bounded cache alone re-parsed every line of a section larger than it, on every ask)."""
        line = self._pip_line
        if line is None:
            line = self._pip_line = parse_pip_line(self.text)
        return line

    @property
    def end(self) -> int:
        return self.node.end


@dataclass
class PipSection:
    key: Node
    value: Node
    entries: list[Entry] = field(default_factory=list)


@dataclass
class Environment:
    document: Document
    name: Entry | None = None
    prefix: Entry | None = None
    channels: list[Entry] = field(default_factory=list)
    channels_key: Node | None = None
    dependencies_key: Node | None = None
    dependencies: Node | None = None
    conda: list[Entry] = field(default_factory=list)
    pip: list[PipSection] = field(default_factory=list)
    installers: list[tuple[Node, Node]] = field(default_factory=list)
    platforms: list[Entry] = field(default_factory=list)
    # What rules derive from the whole file and several rules ask for (see `derived`); not part of its value.
    _derived: dict[str, object] = field(default_factory=dict, init=False, repr=False, compare=False)

    def derived(self, key: str, compute: Callable[[Environment], T]) -> T:
        """``compute(self)``, once per environment: a large file's 100,000 specs are walked once, not by each
        rule that asks. ``compute`` must be pure, and its result is shared: never mutated by a caller."""
        try:
            return cast(T, self._derived[key])
        except KeyError:
            value = self._derived[key] = compute(self)
            return value


def _selector_after(document: Document, node: Node) -> str | None:
    text = document.text
    newline = text.find("\n", node.end)
    if text.find("#", node.end, newline if newline >= 0 else len(text)) < 0:
        return None  # most entries have no comment: no line lookup, no pattern
    line = document.index.line_of(node.end)
    _, line_end = document.index.line_span(line)
    match = _SELECTOR.search(document.text, node.end, line_end)
    return match.group(1).strip() if match else None


def _string_entry(document: Document, node: Node, selector: str | None = None) -> Entry | None:
    node = node.resolved()
    if node.kind != "scalar" or node.is_null:
        return None
    return Entry(node.value, node, selector or _selector_after(document, node))


def _entries(document: Document, node: Node | None) -> list[Entry]:
    if node is None:
        return []
    node = node.resolved()
    if node.kind != "seq":
        return []
    entries = []
    for item in node.items:
        item = item.resolved()
        if item.kind == "scalar" and item.scalar_tag() == _STR:  # a string is never null
            entries.append(Entry(item.value, item, _selector_after(document, item)))
    return entries


def selector_key(key: Node) -> str | None:
    """The condition of a micromamba ``sel(...)`` key, or None when ``key`` is no selector."""
    if key.kind != "scalar":
        return None
    match = _SEL_KEY.match(key.value.strip())
    return match.group(1).strip() if match else None


def environment_of(document: Document) -> Environment:
    env = Environment(document)
    top = document.top
    if top is None:
        return env
    if (pair := top.get("name")) is not None:
        env.name = _string_entry(document, pair[1])
    if (pair := top.get("prefix")) is not None:
        env.prefix = _string_entry(document, pair[1])
    if (pair := top.get("channels")) is not None:
        env.channels_key = pair[0]
        env.channels = _entries(document, pair[1])
    if (pair := top.get("platforms")) is not None:
        env.platforms = _entries(document, pair[1])
    if (pair := top.get("dependencies")) is None:
        return env
    env.dependencies_key, deps = pair[0], pair[1].resolved()
    env.dependencies = deps
    if deps.kind != "seq":
        return env
    for item in paced(deps.items):
        item = item.resolved()
        if item.kind == "scalar":
            if item.scalar_tag() == _STR:  # one look at the tag per entry: a string is never null
                env.conda.append(Entry(item.value, item, _selector_after(document, item)))
        elif item.kind == "map":
            for key, value in item.pairs:
                condition = selector_key(key)
                if condition is not None:
                    entry = _string_entry(document, value, condition)
                    if entry is not None:
                        env.conda.append(entry)
                elif key.kind == "scalar" and key.value == "pip":
                    env.pip.append(PipSection(key, value, _entries(document, value)))
                else:
                    env.installers.append((key, value))
    if len(env.conda) > SPEC_CACHE_SIZE:  # more than the cache holds: parsed here, past it
        for entry in paced(env.conda):
            entry._parsed = parse_spec_uncached(entry.text)
    return env
