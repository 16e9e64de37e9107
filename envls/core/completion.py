"""Completion: top-level keys from the schema, channel names, target platforms.

Pure: text and a cursor offset in, plain candidates out. Package names and versions
come from channel data, which the channel stage passes in as a snapshot.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from envls.core.document import Document
from envls.core.query import Context, at
from envls.core.schema import load_schema, top_level_keys

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


def complete(document: Document, offset: int, channels: Sequence[tuple[str, str]] = ()) -> list[Candidate]:
    """Candidates at ``offset``; ``channels`` are extra (name, description) pairs, e.g. from .condarc."""
    context = at(document.index, offset)
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
