"""Completion and hover in pip lines, from the index snapshot: versions newest first, the latest release,
Requires-Python and yanked status.

Pure: text, an offset and IndexFacts in, plain candidates and hover text out (the types of
envls/core/features/completion.py and envls/core/features/hover.py).
"""

from __future__ import annotations

import re

from envls.core.document import Document
from envls.core.environment import Environment
from envls.core.features.completion import Candidate
from envls.core.features.hover import HoverText, describe_pip
from envls.core.features.query import at
from envls.core.pip.facts import IndexFacts, Release
from envls.core.pip.lines import parse_pip_line
from envls.core.pip.mapping import canonical, mapping

_OPERATOR = r"(?:===|==|>=|<=|!=|~=|>|<)"
_VERSION_AT = re.compile(
    rf"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*(?:{_OPERATOR}\s*[^,;\s]*\s*,\s*)*"
    rf"(?P<op>{_OPERATOR})\s*(?P<version>[^,;\s=<>!~]*)$")
_NAME_AT = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)")
MAX_VERSIONS = 200


def requirement_name_at(document: Document, offset: int) -> str | None:
    """The canonical name of the pip requirement being typed at ``offset`` (so that its page can be loaded
    before completing); None outside a pip line."""
    context = at(document.index, offset)
    if context.place != "pip":
        return None
    _, line_end = document.index.line_span(document.index.line_of(offset))
    match = _NAME_AT.match(document.text[context.item_start:line_end])
    return canonical(match.group("name")) if match else None


def complete_pip(document: Document, offset: int, facts: IndexFacts | None) -> list[Candidate]:
    """Versions after `==`, `>=`, `~=`, ... in a pip line, newest first; yanked releases last, marked."""
    if facts is None:
        return []
    context = at(document.index, offset)
    if context.place != "pip":
        return []
    match = _VERSION_AT.match(context.item_text)
    if match is None:
        return []
    project = facts.project(match.group("name"))
    if project is None or project.state != "ok":
        return []
    typed = match.group("version")
    start = offset - len(typed)
    ordered = sorted(project.releases, key=lambda r: (not r.yanked, r.version), reverse=True)
    candidates: list[Candidate] = []
    for release in ordered:
        text = str(release.version)
        if typed and not text.startswith(typed):
            continue
        candidates.append(Candidate(
            label=text, kind="value", start=start, end=offset, insert_text=text, detail=_detail(release),
            sort_text=f"{len(candidates):05d}",
        ))
        if len(candidates) >= MAX_VERSIONS:
            break
    return candidates


def _detail(release: Release) -> str:
    parts = []
    if release.yanked:
        parts.append("yanked" + (f": {release.yanked_reason}" if release.yanked_reason else ""))
    if release.version.is_prerelease:
        parts.append("pre-release")
    python = ", ".join(p for p in release.requires_python if p)
    if python:
        parts.append(f"Python {python}")
    parts.append(f"{release.files} file{'s' if release.files != 1 else ''}")
    return " · ".join(parts)


def hover_pip(env: Environment, offset: int, facts: IndexFacts | None) -> HoverText | None:
    """What a pip line asks for, and what the indexes and the conda mapping say about it."""
    for section in env.pip:
        for entry in section.entries:
            if not entry.start <= offset <= entry.end:
                continue
            text = describe_pip(entry.text)
            line = parse_pip_line(entry.text)
            name = line.canonical_name
            if name and line.kind == "requirement":
                text += _conda_words(name)
                if facts is not None:
                    text += _index_words(name, line.requirement.specifier if line.requirement else None, facts)
            return HoverText(text, entry.start, entry.end)
    return None


def _conda_words(name: str) -> str:
    conda = [c for c in mapping().conda_names(name) if c != name][:3]
    if not conda:
        return ""
    return f"\n- conda: {', '.join(f'`{c}`' for c in conda)} (through the conda-forge mapping)"


def _index_words(name: str, specifier: object, facts: IndexFacts) -> str:
    project = facts.project(name)
    where = ", ".join(i.url for i in facts.indexes if i.state == "ok") or "the index"
    if project is None or project.state == "unknown":
        return ""
    if project.state == "missing" or not project.releases:
        return f"\n- not on {where}"
    live = [r for r in project.releases if not r.yanked and not r.version.is_prerelease] or list(project.releases)
    latest = max(live, key=lambda r: r.version)
    lines = [f"\n- latest: `{latest.version}`" + (" (yanked)" if latest.yanked else "")]
    python = ", ".join(p for p in latest.requires_python if p)
    if python:
        lines.append(f"- Requires-Python: `{python}`")
    contains = getattr(specifier, "contains", None)
    if contains is not None and str(specifier):
        matching = [r for r in project.releases if contains(r.version, prereleases=True)]
        if matching:
            span = f"`{matching[0].version}`" if len(matching) == 1 else \
                f"`{matching[0].version}` to `{matching[-1].version}`"
            lines.append(f"- matches {len(matching)} release{'s' if len(matching) != 1 else ''} ({span})")
            yanked = [r for r in matching if r.yanked]
            for release in yanked[:3]:
                reason = f": {release.yanked_reason}" if release.yanked_reason else ""
                lines.append(f"- `{release.version}` is yanked{reason}")
        else:
            lines.append("- matches no release")
    lines.append(f"- {len(project.releases)} releases on {where}")
    return "\n".join(lines)
