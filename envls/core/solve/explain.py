"""py-rattler's explanation of a failed solve, read: the packages it names, and the reasons in one line.

The solver (resolvo, through rattler) explains a failure as a tree:

    Cannot solve the request because of: python 3.9.16.* cannot be installed because there are no viable options:
    └─ python 3.9.16 would require
       └─ openssl >=3.0.7,<4.0a0, for which no candidates were found.

Its leaves are the reasons. ``condense`` turns each leaf and the line above it into a clause
("python 3.9.16 requires openssl >=3.0.7,<4.0a0, which `openssl=1.1` rules out") and keeps the first
few; ``mentioned`` lists the package names the tree speaks of, which tells which specs of the file
take part. Pure: text in, text out. A form the reader does not know is shown as the solver wrote it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from envls.core.conda.specs import parse_spec

_HEAD = "Cannot solve the request because of:"
_TREE = re.compile(r"^[ \t│├└─|`-]*")
_NAME = re.compile(r"^(?:No candidates were found for )?(?P<name>[A-Za-z0-9_][A-Za-z0-9_.+-]*)")
_NONE_FOUND = re.compile(r"^No candidates were found for (?P<req>.+?)\.?$")
_NO_CANDIDATES = re.compile(r"^(?P<req>.+?), for which no candidates were found\.?$")
_CONFLICTS = re.compile(r"^(?P<req>.+?), which conflicts with (?P<what>.+?)\.?$")
_EXCLUDED = re.compile(r"^(?P<what>.+?) (?:is|are) excluded because (?P<why>.+?)\.?$")
_LOCKED = re.compile(r"^(?P<what>.+?) is locked, but another version is required as reported above\.?$")
_WOULD = re.compile(r"^(?P<who>.+?) would (?P<verb>require|constrain)$")
_OPTIONS = "can be installed with any of the following options"
MAX_REASONS = 3


@dataclass(frozen=True)
class Node:
    depth: int
    text: str


def tree(explanation: str) -> list[Node]:
    """The explanation's lines with their depth in the tree (the header taken off the first one)."""
    nodes = []
    for raw in explanation.splitlines():
        if not raw.strip():
            continue
        match = _TREE.match(raw)
        prefix = match.group(0) if match else ""
        text = raw[len(prefix):].strip()
        if text.startswith(_HEAD):
            text = text[len(_HEAD):].strip()
        if text:
            nodes.append(Node(len(prefix) // 3, text))
    return nodes


def _name(text: str) -> str | None:
    if text.startswith("The following"):
        return None
    match = _NAME.match(text)
    return match.group("name").lower() if match else None


def mentioned(explanation: str) -> frozenset[str]:
    """Every package name the explanation speaks of (virtual packages such as `__cuda` included)."""
    return frozenset(name for node in tree(explanation) if (name := _name(node.text)) is not None)


def _requirement_end(req: str, asked: Mapping[str, str]) -> str:
    """What to say after a requirement nothing satisfies: which spec of the file rules it out, or why."""
    name = _name(req) or ""
    if name.startswith("__"):
        return ", which this platform's virtual packages do not provide"
    spec = asked.get(name)
    if spec is not None:
        parsed = parse_spec(spec)
        if parsed.version is not None or parsed.build is not None or parsed.channel is not None:
            return f", which `{spec}` rules out"
    return ", which none of the channels has"


@dataclass(frozen=True)
class _Requirement:
    """"<who> requires <req><end>": kept apart so that requirements of one package on another can merge."""

    who: str
    verb: str
    req: str
    end: str

    @property
    def group(self) -> tuple[str, str, str, str]:
        return (self.who, self.verb, _name(self.req) or self.req, self.end)


def _reason(node: Node, parent: Node | None, asked: Mapping[str, str]) -> str | _Requirement | None:
    text = node.text
    if parent is not None and _OPTIONS in parent.text:
        return None  # one of the options that would do; not a reason
    who, verb = None, None
    if parent is not None and (would := _WOULD.match(parent.text)):
        who, verb = would.group("who"), would.group("verb") + "s"
    if match := _NONE_FOUND.match(text):
        req = match.group("req")
        if (_name(req) or "").startswith("__"):
            return f"this platform has no {req}"
        spec = asked.get(_name(req) or "")
        return f"no package in the channels matches `{spec}`" if spec else f"no package in the channels matches {req}"
    if match := _NO_CANDIDATES.match(text):
        req = match.group("req")
        if who and verb:
            return _Requirement(who, verb, req, _requirement_end(req, asked))
        return f"nothing matches {req}" + _requirement_end(req, asked)
    if match := _CONFLICTS.match(text):
        what = match.group("what")
        what = re.sub(r"any installable versions previously reported|the versions reported above",
                      "what the other requirements allow", what)
        req = match.group("req")
        if who and verb:
            return _Requirement(who, verb, req, f", which conflicts with {what}")
        return f"{req} conflicts with {what}"
    if match := _EXCLUDED.match(text):
        return f"{match.group('what')} is excluded: {match.group('why')}"
    if match := _LOCKED.match(text):
        return f"{match.group('what')} is locked, but another version is required"
    if _WOULD.match(text) or text.endswith(":"):
        return None  # an inner line without children: nothing to say on its own
    if parent is not None:
        return None  # a version listed under an option, or a line the reader does not know
    return text.rstrip(".")


def _merged(found: list[str | _Requirement]) -> list[str]:
    """Requirements of one package on another in one clause: `numpy 1.14.3 requires python 2.7.* or
    >=3.6,<3.7.0a0, which ...`."""
    groups: dict[tuple[str, str, str, str], list[str]] = {}
    order: list[str | tuple[str, str, str, str]] = []
    for item in found:
        if isinstance(item, str):
            if item not in order:
                order.append(item)
            continue
        if item.group not in groups:
            groups[item.group] = []
            order.append(item.group)
        if item.req not in groups[item.group]:
            groups[item.group].append(item.req)
    reasons = []
    for entry in order:
        if isinstance(entry, str):
            reasons.append(entry)
            continue
        who, verb, name, end = entry
        reqs = groups[entry]
        if len(reqs) == 1:
            reasons.append(f"{who} {verb} {reqs[0]}{end}")
            continue
        ranges = [r[len(name):].strip() if r.lower().startswith(name) else r for r in reqs]
        reasons.append(f"{who} {verb} {name} {' or '.join(ranges)}{end}")
    return reasons


def condense(explanation: str, asked: Mapping[str, str] | None = None) -> str:
    """The reasons of a failed solve in one line. ``asked`` maps package names to the file's specs."""
    asked = asked or {}
    nodes = tree(explanation)
    found: list[str | _Requirement] = []
    for i, node in enumerate(nodes):
        if i + 1 < len(nodes) and nodes[i + 1].depth > node.depth:
            continue  # not a leaf
        parent = next((p for p in reversed(nodes[:i]) if p.depth < node.depth), None)
        reason = _reason(node, parent, asked)
        if reason:
            found.append(reason)
    reasons = _merged(found)
    if not reasons:
        first = nodes[0].text if nodes else explanation.strip()
        return first.rstrip(":. ") or "the solver found no solution"
    shown = "; ".join(reasons[:MAX_REASONS])
    more = len(reasons) - MAX_REASONS
    return shown + (f"; and {more} more reason{'s' if more != 1 else ''}" if more > 0 else "")
