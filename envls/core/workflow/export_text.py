"""An exported environment as environment-file text: written fresh, or merged onto an existing file.

Pure: an `Exported` (what `envls.actions.export` read from a prefix) and, for a merge, the file's text in;
text out. A merge keeps the file as the user wrote it (comments, order, quoting, selectors, `prefix:`,
options in the `pip:` section) and changes only what differs, entry by entry, matched by package name:

- a dependency the environment holds with another version (or build) is rewritten in place (its comment
  and a `channel::` prefix stay); one it holds as written stays byte for byte;
- a dependency whose selector applies to the exported platform but that the environment lacks is removed;
  one under a selector for another platform stays;
- what the environment holds but the file lacks is added after the last entry of its list;
- channels the packages came from that the file lacks are appended; the file's order is kept.

A file in a shape this cannot edit safely (not valid YAML, flow-style lists) is written fresh instead,
and the merge says so.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from envls.core.conda.selectors import applies
from envls.core.conda.specs import parse_spec
from envls.core.document import parse
from envls.core.environment import Entry, environment_of
from envls.core.pip.lines import parse_pip_line

_PLAIN = re.compile(r"^[A-Za-z0-9_./][A-Za-z0-9_.+\-=<>!*,:/@ ~]*$")


@dataclass(frozen=True)
class Exported:
    """An installed environment as a portable file would describe it."""

    name: str | None
    channels: tuple[str, ...]
    conda: tuple[str, ...]  # `name=version` (or `name=version=build`, or the specs asked for)
    pip: tuple[str, ...] = ()  # `name==version`
    subdir: str = ""  # the platform the environment was made for (selectors are read for it)
    nodefaults: bool = False  # no package came from `defaults`: the file should not search it
    notes: tuple[str, ...] = field(default=())


def scalar(text: str) -> str:
    """``text`` as a YAML scalar: plain when YAML reads it back unchanged, else double-quoted."""
    if _PLAIN.match(text) and ": " not in text and " #" not in text and not text.endswith(":") \
            and text.lower() not in ("true", "false", "yes", "no", "on", "off", "null", "~"):
        return text
    return json.dumps(text)


def render(exported: Exported) -> str:
    """A fresh environment file (never with `prefix:`: it names one machine's folder)."""
    lines: list[str] = []
    if exported.name:
        lines.append(f"name: {scalar(exported.name)}")
    channels = [*exported.channels, *(["nodefaults"] if exported.nodefaults else [])]
    if channels:
        lines.append("channels:")
        lines += [f"  - {scalar(c)}" for c in channels]
    lines.append("dependencies:")
    lines += [f"  - {scalar(s)}" for s in exported.conda]
    if exported.pip:
        lines.append("  - pip:")
        lines += [f"      - {scalar(p)}" for p in exported.pip]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Merged:
    text: str
    rewritten: bool  # the file could not be edited in place and was written fresh
    reason: str = ""


def _conda_key(text: str) -> str | None:
    parsed = parse_spec(text)
    return parsed.name


def _pip_key(text: str) -> str | None:
    line = parse_pip_line(text)
    return line.canonical_name if line.kind == "requirement" else None


def _same_conda(old: str, new: str) -> bool:
    a, b = parse_spec(old), parse_spec(new)
    if a.spec is None or b.spec is None:
        return False
    return (a.name, a.version, a.build) == (b.name, b.version, b.build)


def _same_pip(old: str, new: str) -> bool:
    a, b = parse_pip_line(old), parse_pip_line(new)
    if a.requirement is None or b.requirement is None:
        return False
    return (a.canonical_name, str(a.requirement.specifier), a.requirement.marker) == \
        (b.canonical_name, str(b.requirement.specifier), b.requirement.marker)


def _in_place(old: str, new: str) -> str:
    """The new spec written where the old one was, keeping a `channel::` prefix the user wrote."""
    channel, sep, _ = old.partition("::")
    if sep and "::" not in new and "[" not in channel:
        return f"{channel}::{new}"
    return new


class _Edits:
    def __init__(self, text: str) -> None:
        self.text = text
        self.edits: list[tuple[int, int, int, str]] = []

    def replace(self, start: int, end: int, new: str) -> None:
        self.edits.append((start, end, len(self.edits), new))

    def apply(self) -> str:
        # From the end backwards; of two insertions at one place, the one made first ends up first.
        text = self.text
        for start, end, _, new in sorted(self.edits, reverse=True):
            text = text[:start] + new + text[end:]
        return text


def merge(existing: str, exported: Exported, *, keep_name: bool = True, add_only: bool = False,
          channel_urls: Callable[[str], Sequence[str]] | None = None) -> Merged:
    """``exported`` merged onto the file text ``existing`` (see the module's docstring).

    With ``add_only`` (syncing what was installed by hand into the file) nothing the file lists changes:
    what it lacks is added. ``channel_urls`` says what a channel stands for (names, `defaults`, URLs), so that
    a channel the file already has under another name is not added again.
    """
    document = parse(existing)
    env = environment_of(document)
    fresh = render(exported)
    if document.problems or document.top is None or document.top.kind != "map" or document.top.flow:
        return Merged(fresh, True, "the file is not an environment file envls can edit in place")
    if env.dependencies is None or env.dependencies.flow or any(s.value.flow for s in env.pip):
        return Merged(fresh, True, "the file's lists are not block lists")
    index = document.index
    newline = "\r\n" if "\r\n" in existing else "\n"
    edits = _Edits(existing)

    def line_bounds(offset: int) -> tuple[int, int, str]:
        line = index.line_of(offset)
        start, end = index.line_span(line)
        return start, end, existing[start:end]

    def removable(entry: Entry) -> tuple[int, int] | None:
        start, end, text = line_bounds(entry.start)
        stripped = text.strip()
        if not stripped.startswith("-") or index.line_of(entry.end) != index.line_of(entry.start):
            return None
        after = end + (2 if existing.startswith("\r\n", end) else 1 if end < len(existing) else 0)
        return start, after

    def indent_of(entry: Entry) -> str:
        start, _, text = line_bounds(entry.start)
        return text[: len(text) - len(text.lstrip())]

    def append_after(entries: list[Entry], lines: list[str], fallback_at: int, fallback_indent: str) -> None:
        if not lines:
            return
        if entries:
            last = entries[-1]
            _, end, _ = line_bounds(last.end)
            indent = indent_of(last)
        else:
            end, indent = fallback_at, fallback_indent
        block = "".join(f"{newline}{indent}- {scalar(line)}" for line in lines)
        edits.replace(end, end, block)

    # name
    if exported.name and env.name is not None and not keep_name and not add_only and env.name.text.strip() != exported.name:
        edits.replace(env.name.start, env.name.end, scalar(exported.name))

    # channels
    def urls(channel: str) -> set[str]:
        found = channel_urls(channel) if channel_urls is not None else ()
        return {u.rstrip("/") for u in found} or {channel.strip().rstrip("/")}

    known = {url for c in env.channels for url in urls(c.text)}
    missing_channels = [c for c in exported.channels if not urls(c) <= known]
    real = [c for c in env.channels if c.text.strip() != "nodefaults"]
    if env.channels_key is not None and real and not real[-1].node.flow:
        append_after(real, missing_channels, 0, "  ")
    elif env.channels_key is not None and env.channels and missing_channels and not env.channels[0].node.flow:
        start, _, _ = line_bounds(env.channels[0].start)  # only `nodefaults`: the channels go before it
        indent = indent_of(env.channels[0])
        edits.replace(start, start, "".join(f"{indent}- {scalar(c)}{newline}" for c in missing_channels))
    elif env.channels_key is None and missing_channels and env.dependencies_key is not None:
        start, _, _ = line_bounds(env.dependencies_key.start)
        block = "channels:" + newline + "".join(f"  - {scalar(c)}{newline}" for c in missing_channels)
        edits.replace(start, start, block)

    removed: set[int] = set()

    def sync(entries: list[Entry], lines: tuple[str, ...], key_of: Callable[[str], str | None],
             same: Callable[[str, str], bool], rewrite: Callable[[str, str], str]) -> list[str]:
        """Rewrite or remove ``entries`` to match ``lines`` (matched by name); answer the lines still to add."""
        wanted = {key: line for line in lines if (key := key_of(line))}
        seen: set[str] = set()
        for entry in entries:
            key = key_of(entry.text)
            if key is None or applies(entry.selector, exported.subdir) is False:
                continue
            seen.add(key)
            if add_only:
                continue
            if key not in wanted:
                span = removable(entry)
                if span is not None:
                    edits.replace(span[0], span[1], "")
                    removed.add(entry.start)
            elif not same(entry.text, wanted[key]):
                edits.replace(entry.start, entry.end, scalar(rewrite(entry.text.strip(), wanted[key])))
        return [line for key, line in wanted.items() if key not in seen]

    # conda dependencies
    added = sync(env.conda, exported.conda, _conda_key, _same_conda, _in_place)
    deps = env.dependencies
    dep_items = [e for e in env.conda if e.start not in removed]
    if dep_items:
        append_after(dep_items, added, 0, "  ")
    elif added:
        _, end, _ = line_bounds(env.dependencies_key.start if env.dependencies_key else deps.start)
        edits.replace(end, end, "".join(f"{newline}  - {scalar(s)}" for s in added))

    # pip
    section = env.pip[0] if env.pip else None
    pip_added = sync([e for sec in env.pip for e in sec.entries], exported.pip, _pip_key, _same_pip,
                     lambda _old, new: new)
    kept_pip = [e for e in section.entries if e.start not in removed] if section is not None else []
    if kept_pip:
        append_after(kept_pip, pip_added, 0, "")
    elif pip_added:
        anchor = dep_items[-1] if dep_items else None
        if anchor is not None:
            _, end, _ = line_bounds(anchor.end)
            indent = indent_of(anchor)
        else:
            _, end, _ = line_bounds(env.dependencies_key.start if env.dependencies_key else deps.start)
            indent = "  "
        block = f"{newline}{indent}- pip:" + "".join(f"{newline}{indent}    - {scalar(p)}" for p in pip_added)
        if section is not None:  # an empty `- pip:` already there: fill it
            _, end, _ = line_bounds(section.key.end)
            block = "".join(f"{newline}{indent}    - {scalar(p)}" for p in pip_added)
        edits.replace(end, end, block)
    return Merged(edits.apply(), False)
