"""The outline of an environment file: its keys, channels, packages and pip lines."""

from __future__ import annotations

from dataclasses import dataclass, field

from envls.core.conda.specs import parse_spec
from envls.core.document import Node
from envls.core.environment import Environment, selector_key
from envls.core.pip.lines import parse_pip_line


@dataclass
class Symbol:
    name: str
    kind: str  # "key", "package", "channel", "pip", "variable", "value"
    start: int
    end: int
    selection_start: int
    selection_end: int
    detail: str = ""
    children: list[Symbol] = field(default_factory=list)


MAX_ITEMS = 2_000  # entries of one list in the outline; the rest are one symbol


def _leaf(name: str, kind: str, node: Node, detail: str = "") -> Symbol:
    return Symbol(name or "?", kind, node.start, node.end, node.start, node.end, detail)


def outline(env: Environment) -> list[Symbol]:
    top = env.document.top
    if top is None:
        return []
    symbols = []
    for key, value in top.pairs:
        if key.kind != "scalar":
            continue
        value = value.resolved()
        symbol = Symbol(key.value, "key", key.start, max(key.end, value.end), key.start, key.end)
        if value.kind == "scalar":
            symbol.detail = value.value
        elif value.kind == "map":
            for k, v in value.pairs:
                if k.kind == "scalar":
                    v = v.resolved()
                    symbol.children.append(
                        Symbol(k.value, "variable", k.start, max(k.end, v.end), k.start, k.end,
                               v.value if v.kind == "scalar" else ""))
        elif value.kind == "seq":
            symbol.children = _items(key.value, value, MAX_ITEMS)
            symbol.detail = f"{len(value.items)} entries"
            if len(value.items) > MAX_ITEMS:  # an outline of 100,000 packages serves nobody, and costs seconds
                rest = value.items[MAX_ITEMS].resolved()
                symbol.children.append(Symbol(f"{len(value.items) - MAX_ITEMS:,} more entries", "value",
                                              rest.start, value.end, rest.start, rest.end))
        symbols.append(symbol)
    return symbols


def _items(section: str, seq: Node, limit: int) -> list[Symbol]:
    children: list[Symbol] = []
    for item in seq.items[:limit]:
        item = item.resolved()
        if item.kind == "scalar":
            if section == "dependencies":
                parsed = parse_spec(item.value)
                children.append(_leaf(parsed.name or item.value, "package", item, item.value))
            else:
                children.append(_leaf(item.value, "channel" if section == "channels" else "value", item))
        elif item.kind == "map":
            for k, v in item.pairs:
                v = v.resolved()
                if k.kind != "scalar":
                    continue
                if selector_key(k) is not None and v.kind == "scalar":
                    parsed = parse_spec(v.value)
                    children.append(_leaf(parsed.name or v.value, "package", v, f"{k.value}: {v.value}"))
                    continue
                sub = Symbol(k.value, "key", k.start, max(k.end, v.end), k.start, k.end)
                if v.kind == "seq":
                    for line in v.items:
                        line = line.resolved()
                        if line.kind == "scalar":
                            pip = parse_pip_line(line.value)
                            sub.children.append(_leaf(pip.name or line.value, "pip", line, line.value))
                children.append(sub)
    return children
