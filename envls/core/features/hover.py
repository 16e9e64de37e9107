"""Hover: what a key means (from the schema), what a conda spec or pip line asks for, in words."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from envls.core.conda.channel_facts import ChannelFacts
from envls.core.conda.specs import ParsedSpec, describe
from envls.core.environment import Entry, Environment
from envls.core.features.completion import COMMON_CHANNELS
from envls.core.pip.lines import parse_pip_line
from envls.core.schema import top_level_keys


@dataclass(frozen=True)
class HoverText:
    markdown: str
    start: int
    end: int


def _hit(entry: Entry, offset: int) -> bool:
    return entry.start <= offset <= entry.end


def hover(env: Environment, offset: int, facts: ChannelFacts | None = None,
          summaries: Mapping[str, str] | None = None) -> HoverText | None:
    """What is under ``offset``; ``summaries`` (package name -> one line, from the channels'
    channeldata.json) are what the session has at hand, never part of the channel snapshot."""
    top = env.document.top
    if top is None:
        return None
    for key, _ in top.pairs:
        if key.kind == "scalar" and key.start <= offset <= key.end:
            schema = top_level_keys().get(key.value)
            if schema is None:
                return None
            title = schema.get("title", key.value)
            body = schema.get("markdownDescription") or schema.get("description", "")
            return HoverText(f"**{title}** (`{key.value}`)\n\n{body}", key.start, key.end)
    for entry in env.conda:
        if _hit(entry, offset):
            parsed = entry.parsed
            text = describe(parsed)
            if facts is not None:
                text += _channel_words(parsed, facts, summaries or {})
            return HoverText(text, entry.start, entry.end)
    for section in env.pip:
        for entry in section.entries:
            if _hit(entry, offset):
                return HoverText(describe_pip(entry.text), entry.start, entry.end)
    channels = dict(COMMON_CHANNELS)
    for entry in env.channels:
        if _hit(entry, offset):
            text = channels.get(entry.text.strip(), "")
            return HoverText(f"**{entry.text.strip()}** (channel)" + (f"\n\n{text}" if text else ""),
                             entry.start, entry.end)
    return None


def describe_pip(text: str) -> str:
    line = parse_pip_line(text)
    if line.kind == "requirement" and line.requirement is not None:
        req = line.requirement
        parts = [f"**{req.name}** (pip requirement)", ""]
        parts.append(f"- version: `{req.specifier}`" if str(req.specifier) else "- version: any")
        if req.extras:
            parts.append(f"- extras: {', '.join(sorted(req.extras))}")
        if req.marker is not None:
            parts.append(f"- only when: `{req.marker}`")
        return "\n".join(parts)
    if line.kind == "option":
        return f"pip option `{line.option}`" + (f" `{line.argument}`" if line.argument else "")
    if line.kind in ("url", "path"):
        return f"pip installs from {'URL' if line.kind == 'url' else 'the local path'} `{line.argument}`"
    return f"invalid pip line: {line.error}"


def _channel_words(parsed: ParsedSpec, facts: ChannelFacts, summaries: Mapping[str, str]) -> str:
    """What the channels say: latest version, what the spec matches, platforms, channel, license."""
    if parsed.spec is None or parsed.name is None:
        return ""
    records = list(facts.records.get(parsed.name, ()))
    if not records:
        return ""
    latest = max(records, key=lambda r: r.version)
    matching = [r for r in records if parsed.spec.matches(r)]
    versions = sorted({r.version for r in matching})
    lines = ["", "", f"- latest: `{latest.version}`"]
    if versions:
        span = f"`{versions[0]}`" if len(versions) == 1 else f"`{versions[0]}` to `{versions[-1]}`"
        lines.append(f"- matches {len(versions)} version{'s' if len(versions) != 1 else ''} ({span}), "
                     f"{len(matching)} builds")
    else:
        lines.append("- matches no version in the channels")
    subdirs = sorted({r.subdir for r in (matching or records)})
    lines.append(f"- platforms: {', '.join(subdirs)}")
    channel = facts.channel_of_record((matching or records)[0])
    if channel is not None:
        lines.append(f"- from channel `{channel.name}`")
    if latest.license:
        lines.append(f"- license: {latest.license}")
    summary = summaries.get(parsed.name)
    if summary:
        lines[2:2] = [summary, ""]
    return "\n".join(lines)
