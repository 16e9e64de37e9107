"""Completion: top-level keys from the schema, channel names, target platforms.

Pure: text and a cursor offset in, plain candidates out. Package names and versions
come from channel data, which the channel stage passes in as a snapshot.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from envls.core.conda.channel_facts import ChannelFacts
from envls.core.document import Document
from envls.core.features.query import Context, at
from envls.core.schema import load_schema, top_level_keys

MAX_NAMES = 100
_VERSION_START = re.compile(r"^(?P<name>(?:[^:\s]+::)?[A-Za-z0-9_.\-]+)\s*(?P<op>==|>=|<=|!=|~=|=|>|<|\s)\s*"
                            r"(?P<version>[^=\s,|]*)$")
_BUILD_START = re.compile(r"^(?P<name>(?:[^:\s]+::)?[A-Za-z0-9_.\-]+)=(?P<version>[^=\s]+)=(?P<build>[^=\s]*)$")

# Channels people use most, with what they are; the user's configured channels come first when known.
COMMON_CHANNELS: tuple[tuple[str, str], ...] = (
    ("conda-forge", "Community channel with the most packages; the usual first channel"),
    ("nodefaults", "Removes the `defaults` channels (Anaconda's), e.g. to avoid their terms of service"),
    ("defaults", "Anaconda's channels (main, r, msys2); subject to Anaconda's terms of service"),
    ("bioconda", "Bioinformatics packages; needs conda-forge listed before it"),
    ("pytorch", "PyTorch builds (pytorch, torchvision, torchaudio, pytorch-cuda)"),
    ("nvidia", "NVIDIA's CUDA packages (cuda-toolkit, cuda-runtime, ...); needed by pytorch-cuda"),
    ("main", "Anaconda's main channel"),
    ("r", "Anaconda's R packages"),
    ("intel", "Intel's optimised builds (numpy, scipy, tensorflow)"),
    ("rapidsai", "RAPIDS GPU data science packages"),
)


@dataclass(frozen=True)
class Candidate:
    """One completion candidate; ``start``/``end`` is the text it replaces."""

    label: str
    kind: str
    start: int
    end: int
    insert_text: str
    detail: str = ""
    documentation: str = ""
    sort_text: str | None = None
    snippet: bool = False


def complete(document: Document, offset: int, channels: Sequence[tuple[str, str]] = (),
             facts: ChannelFacts | None = None) -> list[Candidate]:
    """Candidates at ``offset``; ``channels`` are extra (name, description) pairs, e.g. from .condarc;
    ``facts`` is the channel data snapshot that package names, versions and builds come from."""
    context = at(document.index, offset)
    if context.place == "dependency" and facts is not None:
        return _packages(context, offset, facts)
    if context.place == "top-key":
        return _top_keys(document, context, offset)
    if context.place == "channel":
        return _channels(document, context, offset, channels)
    if context.place == "platform":
        return _platforms(context, offset)
    return []


def _top_keys(document: Document, context: Context, offset: int) -> list[Candidate]:
    present = {k.value for k, _ in document.top.pairs} if document.top is not None else set()
    candidates = []
    for order, (key, schema) in enumerate(top_level_keys().items()):
        if key in present and key != context.word:
            continue
        kind = schema.get("type")
        if kind == "array":
            insert, snippet = f"{key}:\n  - $0", True
        elif kind == "object":
            insert, snippet = f"{key}:\n  $0", True
        else:
            insert, snippet = f"{key}: $0", True
        candidates.append(Candidate(
            label=key, kind="property", start=context.word_start, end=offset, insert_text=insert,
            detail=str(schema.get("title", "")), documentation=str(schema.get("markdownDescription")
                                                                    or schema.get("description", "")),
            sort_text=f"{order:02d}", snippet=snippet,
        ))
    return candidates


def _channels(document: Document, context: Context, offset: int,
              extra: Sequence[tuple[str, str]]) -> list[Candidate]:
    from envls.core.environment import environment_of

    listed = {e.text for e in environment_of(document).channels} - {context.item_text.strip()}
    candidates: list[Candidate] = []
    seen: set[str] = set()
    for order, (name, description) in enumerate([*extra, *COMMON_CHANNELS]):
        if name in listed or name in seen:
            continue
        seen.add(name)
        candidates.append(Candidate(
            label=name, kind="value", start=context.word_start, end=offset, insert_text=name,
            detail="channel", documentation=description, sort_text=f"{order:02d}",
        ))
    return candidates


def _platforms(context: Context, offset: int) -> list[Candidate]:
    schema = load_schema()["properties"]["platforms"]
    names = schema.get("items", {}).get("enum", [])
    return [Candidate(label=name, kind="value", start=context.word_start, end=offset, insert_text=name,
                      detail="conda subdir", sort_text=f"{order:02d}")
            for order, name in enumerate(names)]


def _packages(context: Context, offset: int, facts: ChannelFacts) -> list[Candidate]:
    text = context.item_text
    build = _BUILD_START.match(text)
    if build:
        return _builds(build.group("name"), build.group("version"), build.group("build"), offset, facts)
    version = _VERSION_START.match(text)
    if version and version.group("op").strip():
        return _versions(version.group("name"), version.group("version"), offset, facts)
    word = text.split("::")[-1]
    if any(ch in word for ch in " =<>!~,|[") or not word:
        return [] if word else _names("", offset, offset, facts)
    names = _names(word, offset - len(word), offset, facts)
    if "::" not in text:
        names.extend(_channel_prefixes(word, offset, facts))
    return names


def _channel_prefixes(word: str, offset: int, facts: ChannelFacts) -> list[Candidate]:
    """`channel::` for the file's channels, to take one package from one channel."""
    return [
        Candidate(label=f"{state.given}::", kind="folder", start=offset - len(word), end=offset,
                  insert_text=f"{state.given}::", detail="take the package from this channel only",
                  sort_text=f"9{i:03d}")
        for i, state in enumerate(facts.channels)
        if state.state == "ok" and state.given.startswith(word.lower())
    ]


def _names(word: str, start: int, end: int, facts: ChannelFacts) -> list[Candidate]:
    """Package names: prefix matches first (shortest first), then names that contain the word."""
    lowered = word.lower()
    prefix = sorted(facts.names_starting(lowered), key=lambda n: (len(n), n))
    rest: list[str] = []
    if len(prefix) < MAX_NAMES and lowered:
        rest = sorted((n for n in facts.all_names if lowered in n and not n.startswith(lowered)),
                      key=lambda n: (len(n), n))
    where = {n: [c for c, names in facts.names.items() if n in names] for n in (prefix + rest)[:MAX_NAMES]}
    return [
        Candidate(label=name, kind="module", start=start, end=end, insert_text=name,
                  detail=", ".join(where[name][:3]), sort_text=f"{i:04d}")
        for i, name in enumerate((prefix + rest)[:MAX_NAMES])
    ]


def _records(spec_name: str, facts: ChannelFacts) -> list[Any]:
    name = spec_name.split("::")[-1].lower()
    return list(facts.records.get(name, ()))


def _versions(spec_name: str, typed: str, offset: int, facts: ChannelFacts) -> list[Candidate]:
    """Versions newest first, with the number of builds and the platforms that have them."""
    by_version: dict[Any, list[Any]] = {}
    for record in _records(spec_name, facts):
        by_version.setdefault(record.version, []).append(record)
    ordered = sorted(by_version, reverse=True)
    start = offset - len(typed)
    candidates = []
    for rank, version in enumerate(ordered):
        text = str(version)
        if typed and not text.startswith(typed):
            continue
        records = by_version[version]
        subdirs = sorted({r.subdir for r in records})
        candidates.append(Candidate(
            label=text, kind="value", start=start, end=offset, insert_text=text,
            detail=f"{len(records)} build{'s' if len(records) != 1 else ''} · {', '.join(subdirs)}",
            sort_text=f"{rank:05d}",
        ))
    return candidates


def _builds(spec_name: str, version: str, typed: str, offset: int, facts: ChannelFacts) -> list[Candidate]:
    builds: dict[str, set[str]] = {}
    for record in _records(spec_name, facts):
        if str(record.version) == version or str(record.version).startswith(version.rstrip("*")):
            builds.setdefault(str(record.build), set()).add(record.subdir)
    start = offset - len(typed)
    return [
        Candidate(label=b, kind="value", start=start, end=offset, insert_text=b, detail=", ".join(sorted(subdirs)),
                  sort_text=f"{i:05d}")
        for i, (b, subdirs) in enumerate(sorted(builds.items())) if b.startswith(typed)
    ]
