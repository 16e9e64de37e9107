"""The JSON schema of environment files: loading it, validating a tree, blaming the right node.

A type or enum error points at the value, a property that is not allowed at its key,
a missing required property at the key of the mapping that lacks it.
Unknown top-level keys are returned apart, since they are a warning (``unknown-key``):
conda ignores them with a message, it does not fail.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema

from envls.core.document import AliasBudgetExceeded, Node, to_python

_TYPE_WORDS = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "number": "a number",
    "integer": "a whole number",
    "boolean": "true or false",
    "null": "empty",
}


@functools.cache
def load_schema() -> dict[str, Any]:
    """The schema shipped with envls (inside the package, or beside it in a checkout)."""
    packaged = resources.files("envls").joinpath("schemas/environment.schema.json")
    if packaged.is_file():
        return dict(json.loads(packaged.read_text(encoding="utf-8")))
    checkout = Path(__file__).resolve().parents[2] / "schemas" / "environment.schema.json"
    return dict(json.loads(checkout.read_text(encoding="utf-8")))


@functools.cache
def _validator() -> jsonschema.protocols.Validator:
    schema = load_schema()
    cls = jsonschema.validators.validator_for(schema)
    # Local `$ref`s are resolved once here: resolving them per list item was most of the validation time.
    return cls(_inline_refs(schema, schema.get("$defs", {})))


def _inline_refs(node: Any, defs: dict[str, Any], depth: int = 0) -> Any:
    if isinstance(node, list):
        return [_inline_refs(item, defs, depth) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/") and depth < 16:
        target = defs.get(ref[len("#/$defs/"):])
        if isinstance(target, dict):
            merged = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
            return _inline_refs(merged, defs, depth + 1)
    return {key: _inline_refs(value, defs, depth) for key, value in node.items()}


def top_level_keys() -> dict[str, dict[str, Any]]:
    """The top-level properties of the schema, with their subschemas."""
    return dict(load_schema().get("properties", {}))


@dataclass(frozen=True)
class SchemaProblem:
    message: str
    node: Node
    unknown_key: bool = False


def describe_value(value: Any) -> str:
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return f"the number {value!r}"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _path_text(path: list[str | int]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return f"`{text}`" if text else "the top level"


def _locate(root: Node, path: list[str | int]) -> tuple[Node, Node | None]:
    """The node at ``path`` and the key node that leads to it (None for list items and the root)."""
    node, key = root.resolved(), None
    for part in path:
        if node.kind == "map" and isinstance(part, str):
            found = node.get(part)
            if found is None:
                break
            key, node = found[0], found[1].resolved()
        elif node.kind == "seq" and isinstance(part, int) and 0 <= part < len(node.items):
            key, node = None, node.items[part].resolved()
        else:
            break
    return node, key


def _expected(schema: dict[str, Any]) -> list[str]:
    words: list[str] = []
    for sub in schema.get("anyOf", []) + schema.get("oneOf", []):
        words.extend(_expected(sub))
    kind = schema.get("type")
    if isinstance(kind, str):
        words.append(_TYPE_WORDS.get(kind, kind))
    elif isinstance(kind, list):
        words.extend(_TYPE_WORDS.get(str(k), str(k)) for k in kind)
    return list(dict.fromkeys(words))


def _message(error: jsonschema.ValidationError, path: list[str | int]) -> str:
    where = _path_text(path)
    schema: dict[str, Any] = dict(error.schema) if isinstance(error.schema, dict) else {}
    validator_value: Any = error.validator_value
    if error.validator in ("type", "anyOf", "oneOf"):
        expected = _expected(schema) or [str(validator_value)]
        got = describe_value(error.instance)
        if path and path[0] == "dependencies" and len(path) == 2:
            return f"{where} must be a package spec (a string) or a `pip:` subsection, not {got}"
        return f"{where} must be {' or '.join(expected)}, not {got}"
    if error.validator == "enum":
        options = ", ".join(str(v) for v in validator_value)
        return f"{where}: {error.instance!r} is not one of {options}"
    if error.validator == "required":
        return str(error.message).replace("is a required property", f"is required in {where}")
    if error.validator == "minProperties":
        return f"{where} must not be an empty mapping"
    return f"{where}: {error.message}"


def validate(root: Node) -> list[SchemaProblem]:
    """Validate the tree against the schema; problems come with the node to blame."""
    try:
        instance = to_python(root)
    except AliasBudgetExceeded as exceeded:
        return [SchemaProblem("aliases expand to an unreasonably large document", exceeded.node)]
    problems: list[SchemaProblem] = []
    if not isinstance(instance, dict):
        got = describe_value(instance)
        return [SchemaProblem(f"the top level must be a mapping with `dependencies`, `channels`, ..., not {got}", root)]
    # Every string is a valid dependency, and a valid line of a `pip:` list: only the other items go to the
    # validator, so that a file of 100,000 specs costs no 100,000 validations (and a 200-line file no 200 on
    # every keystroke). Error paths are mapped back to the file's items.
    kept: list[int] | None = None
    pip_kept: dict[int, list[int]] = {}  # per validated dependency (by its new index): the pip lines kept
    deps = instance.get("dependencies")
    if isinstance(deps, list):
        kept = [i for i, item in enumerate(deps) if not isinstance(item, str)]
        items = []
        for n, i in enumerate(kept):
            item = deps[i]
            pip = item.get("pip") if isinstance(item, dict) else None
            if isinstance(pip, list):
                pip_kept[n] = [j for j, line in enumerate(pip) if not isinstance(line, str)]
                item = {**item, "pip": [pip[j] for j in pip_kept[n]]}
            items.append(item)
        instance = {**instance, "dependencies": items}
    for error in _validator().iter_errors(instance):
        path = list(error.absolute_path)
        if kept is not None and len(path) >= 2 and path[0] == "dependencies" and isinstance(path[1], int):
            n = path[1]
            path[1] = kept[n]
            if len(path) >= 4 and path[2] == "pip" and isinstance(path[3], int) and n in pip_kept:
                path[3] = pip_kept[n][path[3]]
        problems.extend(_blame(root, error, path))
    problems.sort(key=lambda p: p.node.start)
    return problems


def _blame(root: Node, error: jsonschema.ValidationError, path: list[str | int]) -> list[SchemaProblem]:
    node, key = _locate(root, path)
    if error.validator == "additionalProperties" and node.kind == "map":
        schema: dict[str, Any] = dict(error.schema) if isinstance(error.schema, dict) else {}
        allowed = set(schema.get("properties", {}))
        problems = []
        for k, _ in node.pairs:
            if k.kind == "scalar" and k.value not in allowed:
                problems.append(
                    SchemaProblem(f"`{k.value}` is not a key of {_path_text(path)}", k, unknown_key=not path)
                )
        return problems
    if error.validator == "required":
        blame = key if key is not None else _first_key(node)
        return [SchemaProblem(_message(error, path), blame)]
    return [SchemaProblem(_message(error, path), node)]


def _first_key(node: Node) -> Node:
    if node.kind == "map" and node.pairs:
        return node.pairs[0][0]
    return node
