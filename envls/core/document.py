"""The document model: YAML text parsed into a tree that keeps the span of every node.

Parsing never raises. It returns a tree and a list of syntax problems; when the text
does not parse, the offending lines are blanked and the rest is parsed again, so a
half-typed line still leaves a tree for completion and for the checks of other lines.

The tree is built from PyYAML's event stream (the C parser where present) with an
explicit stack: no recursion, so 20,000 levels of nesting cost memory, not the stack.
Aliases are kept as references and never expanded here; tags are never constructed.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import yaml

from envls.core.pace import ticking
from envls.core.text import LineIndex

try:
    _Loader: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML without libyaml
    _Loader = yaml.SafeLoader

NodeKind = Literal["map", "seq", "scalar", "alias"]

_SAFE_TAGS = {
    "tag:yaml.org,2002:" + name
    for name in ("str", "int", "float", "bool", "null", "map", "seq", "omap", "pairs", "set", "binary", "timestamp")
}
_RECOVERY_ATTEMPTS = 8
# Lines longer than this are reported once (`line-too-long`) and left out of the parse: a YAML
# line of 200,000 characters is no hand-written environment file, and every check of it costs.
LINE_LIMIT = 10_000
# Parse errors inside these constructs are blamed on where the construct starts (PyYAML's context mark):
# an unclosed `[` or quote is found at the end of the file, far from the line to fix.
_UNCLOSED_CONTEXTS = ("flow sequence", "flow mapping", "flow node", "quoted scalar")
_ALIAS_BUDGET = 100_000
_MAX_PY_DEPTH = 64
_resolver = yaml.resolver.Resolver()
# What YAML 1.1 does not allow in a stream (PyYAML's Reader.NON_PRINTABLE).
_NON_PRINTABLE = re.compile("[^\x09\x0A\x0D\x20-\x7E\x85\xA0-\uD7FF\uE000-\uFFFD\U00010000-\U0010ffff]")


@dataclass(eq=False, slots=True)
class Node:
    """One YAML node with its character span in the document."""

    kind: NodeKind
    start: int
    end: int
    value: str = ""
    tag: str | None = None
    quoted: bool = False
    flow: bool = False
    anchor: str | None = None
    pairs: list[tuple[Node, Node]] = field(default_factory=list)
    items: list[Node] = field(default_factory=list)
    target: Node | None = None
    resolved_tag: str | None = field(default=None, repr=False)

    def resolved(self) -> Node:
        """The node itself, or the anchored node an alias refers to."""
        node = self
        hops = 0
        while node.kind == "alias" and node.target is not None and hops < 64:
            node = node.target
            hops += 1
        return node

    def get(self, key: str) -> tuple[Node, Node] | None:
        """The last (key, value) pair whose key is ``key`` (YAML loaders keep the last)."""
        found = None
        for k, v in self.pairs:
            if k.kind == "scalar" and k.value == key:
                found = (k, v)
        return found

    @property
    def is_null(self) -> bool:
        return self.kind == "scalar" and not self.quoted and self.scalar_tag() == "tag:yaml.org,2002:null"

    def scalar_tag(self) -> str:
        if self.tag and self.tag != "!":
            return self.tag
        if self.quoted or self.tag == "!":
            return "tag:yaml.org,2002:str"
        if self.resolved_tag is None:  # resolved once: every rule asks
            self.resolved_tag = str(_resolver.resolve(yaml.ScalarNode, self.value, (True, False)))
        return self.resolved_tag

    def walk(self) -> Iterator[Node]:
        """Every node below and including this one, depth first, without following aliases."""
        stack: list[Node] = [self]
        while stack:
            node = stack.pop()
            yield node
            if node.kind == "map":
                for k, v in reversed(node.pairs):
                    stack.append(v)
                    stack.append(k)
            elif node.kind == "seq":
                stack.extend(reversed(node.items))


@dataclass(frozen=True)
class SyntaxProblem:
    """Where and why the YAML did not parse; ``related`` is where the parser noticed it (start, end, words)."""

    message: str
    start: int
    end: int
    related: tuple[tuple[int, int, str], ...] = ()


@dataclass(frozen=True)
class DuplicateKey:
    """A key that a mapping already has (conda's loader refuses the file)."""

    first: Node
    second: Node


@dataclass
class Document:
    """A parsed environment file: its text, line index, tree and syntax problems."""

    text: str
    index: LineIndex
    root: Node | None
    problems: list[SyntaxProblem]
    recovered: bool = False
    long_lines: list[tuple[int, int]] = field(default_factory=list)  # (start, end) of lines over LINE_LIMIT
    duplicate_keys: list[DuplicateKey] = field(default_factory=list)

    @property
    def top(self) -> Node | None:
        """The top-level mapping, when the document is one."""
        if self.root is not None and self.root.kind == "map":
            return self.root
        return None

    def section(self, key: str) -> tuple[Node, Node] | None:
        top = self.top
        return top.get(key) if top is not None else None


class _Builder:
    """Builds Nodes from parse events with an explicit stack."""

    def __init__(self, base: int) -> None:
        self.base = base
        self.root: Node | None = None
        self.stack: list[Node] = []
        self.pending_key: list[Node | None] = []
        self.anchors: dict[str, Node] = {}
        self.problems: list[SyntaxProblem] = []
        self.keys: list[dict[tuple[str, str], Node]] = []  # per open node: the keys its mapping has so far
        self.duplicates: list[DuplicateKey] = []
        self.documents = 0

    def _attach(self, node: Node) -> None:
        if not self.stack:
            if self.root is None:
                self.root = node
            return
        parent = self.stack[-1]
        if parent.kind == "seq":
            parent.items.append(node)
            return
        key = self.pending_key[-1]
        if key is None:
            self.pending_key[-1] = node
            if node.kind == "scalar" and node.value != "<<":
                identity = (node.scalar_tag(), node.value)
                first = self.keys[-1].setdefault(identity, node)
                if first is not node:
                    self.duplicates.append(DuplicateKey(first, node))
        else:
            parent.pairs.append((key, node))
            self.pending_key[-1] = None

    def _check_tag(self, tag: str | None, start: int, end: int) -> None:
        if tag and tag != "!" and tag not in _SAFE_TAGS:
            self.problems.append(
                SyntaxProblem(
                    f"unsupported YAML tag '{tag}': conda loads environment files safely and rejects it",
                    start,
                    end,
                )
            )

    def feed(self, event: yaml.Event) -> None:
        start_mark, end_mark = event.start_mark, event.end_mark
        start = (start_mark.index if start_mark else 0) + self.base
        end = (end_mark.index if end_mark else 0) + self.base
        if type(event) is yaml.ScalarEvent and self.documents < 2:  # most events: checked first, inline
            tag, style, anchor = event.tag, event.style or "", event.anchor
            if tag:
                self._check_tag(tag, start, end)
            node = Node("scalar", start, end, event.value, tag, style != "" and style in "'\"|>", False,
                        anchor)
            if anchor:
                self.anchors[anchor] = node
            self._attach(node)
        elif isinstance(event, yaml.DocumentStartEvent):
            self.documents += 1
            if self.documents == 2:
                self.problems.append(
                    SyntaxProblem("expected a single document in the file, but found another", start, end)
                )
        elif self.documents > 1:
            return
        elif isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            self._check_tag(event.tag, start, end)
            kind: NodeKind = "map" if isinstance(event, yaml.MappingStartEvent) else "seq"
            node = Node(kind, start, end, tag=event.tag, flow=bool(event.flow_style), anchor=event.anchor)
            self._register(node)
            self._attach(node)
            self.stack.append(node)
            self.pending_key.append(None)
            self.keys.append({})
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            if self.stack:
                node = self.stack.pop()
                self.pending_key.pop()
                self.keys.pop()
                node.end = max(node.end, self._content_end(node), end if node.flow else node.end)
        elif isinstance(event, yaml.AliasEvent):
            target = self.anchors.get(event.anchor or "")
            if target is None:
                self.problems.append(SyntaxProblem(f"found undefined alias '*{event.anchor}'", start, end))
            self._attach(Node("alias", start, end, value=event.anchor or "", target=target))

    def _register(self, node: Node) -> None:
        if node.anchor:
            self.anchors[node.anchor] = node

    @staticmethod
    def _content_end(node: Node) -> int:
        if node.kind == "map" and node.pairs:
            return node.pairs[-1][1].end
        if node.kind == "seq" and node.items:
            return node.items[-1].end
        return node.end

    def close_open_nodes(self, at: int) -> None:
        """After a parse error, give every node still open a plausible end."""
        while self.stack:
            node = self.stack.pop()
            self.pending_key.pop()
            self.keys.pop()
            node.end = max(node.start, self._content_end(node), min(at, node.end) if node.flow else node.end)


def _error_problem(err: yaml.YAMLError, base: int, text: str) -> SyntaxProblem:
    if isinstance(err, yaml.reader.ReaderError):
        # libyaml reports this position in bytes; find the character itself instead.
        found = _NON_PRINTABLE.search(text)
        offset = base + (found.start() if found else err.position)
        char = err.character
        what = f"#x{char:04x}" if isinstance(char, int) else repr(char)
        return SyntaxProblem(f"unacceptable character {what}: special characters are not allowed", offset, offset + 1)
    problem_mark = getattr(err, "problem_mark", None)
    context_mark = getattr(err, "context_mark", None)
    mark = problem_mark or context_mark
    offset = base + mark.index if mark is not None else 0
    problem = getattr(err, "problem", None) or str(err)
    context = getattr(err, "context", None)
    message = f"{problem} ({context})" if context else str(problem)
    if offset < len(text) + base and text[offset - base:offset - base + 1] == "\t":
        message += "; YAML does not allow tabs for indentation, use spaces"
    if (context and problem_mark is not None and context_mark is not None and context_mark.index < problem_mark.index
            and any(word in context for word in _UNCLOSED_CONTEXTS)):
        # Blame the construct that is not closed; where the parser gave up is related information.
        start = base + context_mark.index
        what = str(context).removeprefix("while parsing ").removeprefix("while scanning ")
        return SyntaxProblem(f"{what} that is not closed: {problem}", start, _one_char(text, start - base) + base,
                             ((offset, _one_char(text, offset - base) + base, f"the parser stopped here: {problem}"),))
    return SyntaxProblem(message, offset, _one_char(text, offset - base) + base)


def _one_char(text: str, local: int) -> int:
    """The end of a one-character span at ``local`` (empty at a line break or the end)."""
    return local + 1 if local < len(text) and text[local] not in "\r\n" else local


def _long_lines(index: LineIndex) -> list[tuple[int, int]]:
    """Lines longer than LINE_LIMIT, as (start, end) without the line break."""
    starts = index.line_starts
    ends = [*starts[1:], len(index.text)]
    if len(index.text) <= LINE_LIMIT or max(map(operator.sub, ends, starts)) <= LINE_LIMIT:
        return []  # nearly every file: the lengths compared in C, no loop in Python
    return [index.line_span(i) for i, (a, b) in enumerate(zip(starts, ends, strict=True)) if b - a > LINE_LIMIT]


def _blank_spans(text: str, spans: list[tuple[int, int]], base: int) -> str:
    """``text`` (which starts at ``base`` of the document) with the given spans replaced by spaces."""
    pieces: list[str] = []
    at = 0
    for start, end in spans:
        start, end = max(start - base, at), end - base
        if end <= start:
            continue
        pieces.append(text[at:start])
        pieces.append(" " * (end - start))
        at = end
    pieces.append(text[at:])
    return "".join(pieces)


def _parse_once(text: str, base: int) -> tuple[_Builder, SyntaxProblem | None]:
    builder = _Builder(base)
    try:
        for event in ticking(yaml.parse(text, Loader=_Loader)):
            builder.feed(event)
    except yaml.YAMLError as err:
        problem = _error_problem(err, base, text)
        builder.close_open_nodes(problem.start)
        return builder, problem
    except (ValueError, MemoryError, RecursionError) as err:  # pragma: no cover - defensive
        return builder, SyntaxProblem(f"cannot parse: {err}", base, base + 1)
    return builder, None


def _blank_line(text: str, offset: int) -> str:
    """The text with the line that holds ``offset`` replaced by spaces (offsets stay valid)."""
    start = text.rfind("\n", 0, offset) + 1
    end = text.find("\n", offset)
    if end < 0:
        end = len(text)
    if start >= end:
        return text
    line = text[start:end]
    blank = "".join(ch if ch == "\r" else " " for ch in line)
    return text[:start] + blank + text[end:]


def parse(text: str) -> Document:
    """Parse ``text`` into a Document; never raises."""
    index = LineIndex(text)
    base = 1 if text.startswith("\ufeff") else 0
    long_lines = _long_lines(index)
    body = _blank_spans(text[base:], long_lines, base) if long_lines else text[base:]
    builder, problem = _parse_once(body, base)
    problems: list[SyntaxProblem] = list(builder.problems)
    recovered = False
    if problem is not None:
        problems.insert(0, problem)
        attempt_text = body
        for _ in range(_RECOVERY_ATTEMPTS):
            if problem is None or not attempt_text:
                break
            local = problem.start - base
            if local >= len(attempt_text):
                local = len(attempt_text) - 1
            blanked = _blank_line(attempt_text, max(local, 0))
            if blanked == attempt_text:
                break
            attempt_text = blanked
            retry, problem = _parse_once(attempt_text, base)
            if retry.root is not None:
                builder = retry
                recovered = True
            if problem is None:
                break
    return Document(text=text, index=index, root=builder.root, problems=problems, recovered=recovered,
                    long_lines=long_lines, duplicate_keys=builder.duplicates)


class AliasBudgetExceeded(Exception):
    """Raised when expanding aliases would build an exponentially large value."""

    def __init__(self, node: Node) -> None:
        super().__init__("alias expansion too large")
        self.node = node


def to_python(node: Node, budget: list[int] | None = None, depth: int = 0, expanding: bool = False) -> Any:
    """The plain value of ``node``, as a safe YAML loader would build it.

    Aliases are expanded within a budget of nodes built through an alias (an alias bomb raises
    AliasBudgetExceeded); the nodes written out in the file cost nothing, so a file with 100,000
    dependencies is no bomb. Nesting deeper than a fixed limit is cut off as ``None``,
    since nothing in an environment file is meaningful that deep.
    """
    if budget is None:
        budget = [_ALIAS_BUDGET]
    if expanding:
        budget[0] -= 1
        if budget[0] < 0:
            raise AliasBudgetExceeded(node)
    if depth > _MAX_PY_DEPTH:
        return None
    if node.kind == "alias":
        if node.target is None:
            return None
        try:
            return to_python(node.target, budget, depth, True)
        except AliasBudgetExceeded:
            raise AliasBudgetExceeded(node) from None  # blame the outermost alias: the one in the user's view
    if node.kind == "scalar":
        return scalar_value(node)
    if node.kind == "seq":
        return [to_python(item, budget, depth + 1, expanding) for item in node.items]
    result: dict[Any, Any] = {}
    for key, value in node.pairs:
        k = to_python(key, budget, depth + 1, expanding)
        if isinstance(k, (dict, list)):
            k = str(k)
        result[k] = to_python(value, budget, depth + 1, expanding)
    return result


def scalar_value(node: Node) -> Any:
    """The Python value of a scalar node under YAML 1.1's safe schema (what conda reads)."""
    tag = node.scalar_tag()
    value = node.value
    if tag == "tag:yaml.org,2002:str":
        return value
    try:
        constructor = yaml.constructor.SafeConstructor()
        built = constructor.construct_object(yaml.ScalarNode(tag, value))
    except (yaml.YAMLError, ValueError, TypeError, OverflowError):
        return value
    if built is None or isinstance(built, (bool, int, float, str)):
        return built
    return str(built)
