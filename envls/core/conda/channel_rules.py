"""The channel rules: every conda spec checked against what the channels really hold.

Pure: an Environment and a ChannelFacts snapshot in, findings out. A package is never
reported missing when one of the channels it could come from was unreachable.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from rattler import MatchSpec

from envls.core.conda.channel_facts import MAX_CHANNELS, ChannelFacts, ChannelState
from envls.core.conda.selectors import platforms_for
from envls.core.conda.specs import ParsedSpec
from envls.core.environment import Entry, Environment
from envls.core.findings import Edit, Finding, Fix, Related, Severity, Span
from envls.core.pace import paced
from envls.core.rules import MISTYPED_DEFAULTS, line_removal

_KNOWN_CHANNELS = ("conda-forge", "defaults", "bioconda", "pytorch", "nvidia", "nodefaults", "intel", "main", "r",
                   "rapidsai", "anaconda", "msys2")


def _span(entry: Entry) -> Span:
    return Span(entry.start, entry.end)


def channel_findings(env: Environment, facts: ChannelFacts) -> list[Finding]:
    findings = list(_channels(env, facts))
    findings.extend(_resolved_duplicates(env, facts))
    findings.extend(_order(env))
    seen = _Seen()
    if any(f.code == "too-many-channels" for f in findings):
        seen.reported.add(_LIMIT_REPORTED)
    for entry in paced(env.conda):
        parsed = entry.parsed
        if parsed.spec is None or parsed.name is None or parsed.name.startswith("__"):
            continue
        findings.extend(_spec(env, facts, entry, parsed, seen))
    return findings


_LIMIT_REPORTED = "\0limit"  # in `reported`: the channel limit was reported already

# Unknown names that get did-you-mean suggestions, per file: each costs a comparison with the channel's
# names of a similar length (milliseconds against conda-forge), and a file with more unknown names than this
# holds no typos but something else (100,000 made-up names took minutes).
MAX_SUGGESTED = 200


@dataclass(slots=True)
class _Seen:
    """What the walk over a file's specs has said so far."""

    reported: set[str] = field(default_factory=set)  # channels of `channel::pkg` specs already reported once
    suggestions: int = 0  # unknown names given did-you-mean suggestions


def _limit_finding(facts: ChannelFacts, state: ChannelState, entry: Entry) -> Finding:
    count = sum(1 for s in (*facts.channels, *facts.other_channels) if s.limited)
    more = f" and the {count - 1} after it are" if count > 1 else " is"
    return Finding("too-many-channels", Severity.INFORMATION,
                   f"more than {MAX_CHANNELS} channels: envls fetches the first {MAX_CHANNELS} of a file; "
                   f"`{state.given}`{more} not fetched, and packages that may come from them are not checked",
                   _span(entry))


def _channels(env: Environment, facts: ChannelFacts) -> Iterator[Finding]:
    by_given = {state.given: state for state in facts.channels}
    reported: set[str] = set()
    for entry in env.channels:
        state = by_given.get(entry.text.strip())
        if state is None or state.given in reported or state.given == MISTYPED_DEFAULTS:
            continue  # `default` is reported by the rules that need no channel data
        reported.add(state.given)
        if state.limited:
            if _LIMIT_REPORTED not in reported:
                reported.add(_LIMIT_REPORTED)
                yield _limit_finding(facts, state, entry)
            continue
        if state.state == "missing":
            message = f"channel `{state.given}` does not exist: no repodata at {', '.join(state.urls) or 'any URL'}"
            candidates = [c for c in (*_KNOWN_CHANNELS, *(s.given for s in facts.other_channels)) if c != state.given]
            nearest = difflib.get_close_matches(state.given, candidates, n=1, cutoff=0.75)
            fixes: tuple[Fix, ...] = ()
            if nearest:
                message += f"; did you mean `{nearest[0]}`?"
                fixes = (Fix(f"Change to `{nearest[0]}`", (Edit(entry.start, entry.end, nearest[0]),), True),)
            yield Finding("unknown-channel", Severity.ERROR, message, _span(entry), fixes=fixes)
        elif state.state == "unreachable" or state.from_cache_age is not None:
            yield Finding("channel-unreachable", Severity.INFORMATION, _unreachable_message(state), _span(entry))
    if not env.channels and env.dependencies_key is not None:
        for state in facts.channels:
            if state.state == "unreachable" and state.given not in reported:
                reported.add(state.given)
                key = env.dependencies_key
                yield Finding("channel-unreachable", Severity.INFORMATION, _unreachable_message(state),
                              Span(key.start, key.end))


def _resolved_duplicates(env: Environment, facts: ChannelFacts) -> Iterator[Finding]:
    """Channels that are the same after resolution (`conda-forge` and its URL; a URL of one of the
    `defaults` channels next to `defaults`). Entries equal as text are the fast rules' duplicate-channel."""
    written = {given: (kind, urls) for given, kind, urls in facts.written}
    first: dict[str, tuple[Entry, bool]] = {}  # URL -> the entry that first brings it, and whether a multichannel
    texts: set[str] = set()
    for entry in env.channels:
        text = entry.text.strip()
        if text.rstrip("/").lower() in texts or text not in written:
            continue
        texts.add(text.rstrip("/").lower())
        kind, urls = written[text]
        multi = kind in ("defaults", "multichannel")
        earlier = [first[url] for url in urls if url in first]
        if urls and not multi and earlier:
            other, other_multi = earlier[0]
            if other_multi:
                yield Finding("duplicate-channel", Severity.INFORMATION,
                              f"channel `{text}` is already searched as a member of `{other.text.strip()}`; "
                              "this entry has no effect", _span(entry),
                              related=(Related(_span(other), f"`{other.text.strip()}` includes it"),),
                              fixes=(Fix(f"Remove `{text}`", (line_removal(env, entry),), True),))
            else:
                yield Finding("duplicate-channel", Severity.WARNING,
                              f"channel `{text}` is the same channel as `{other.text.strip()}` (both are "
                              f"{urls[0]}); the second entry has no effect", _span(entry),
                              related=(Related(_span(other), f"`{other.text.strip()}` is first listed here"),),
                              fixes=(Fix(f"Remove `{text}`", (line_removal(env, entry),), True),))
            continue
        if multi:
            for other, other_multi in dict.fromkeys(earlier):
                if not other_multi:
                    yield Finding("duplicate-channel", Severity.INFORMATION,
                                  f"channel `{other.text.strip()}` is also a member of `{text}`, listed below: "
                                  "listing it first only searches it before the channels between them",
                                  _span(other), related=(Related(_span(entry), f"`{text}` includes it"),))
        for url in urls:
            first.setdefault(url, (entry, multi))


def _unreachable_message(state: ChannelState) -> str:
    text = f"channel `{state.name}` could not be reached"
    if state.detail:
        text += f" ({state.detail})"
    if state.from_cache_age is not None and math.isinf(state.from_cache_age):
        return text + "; using its cached data (how old it is is not known)"
    if state.from_cache_age is not None:
        return text + f"; using its cached data from {age_words(state.from_cache_age)} ago"
    return text + "; its packages are not checked"


def age_words(seconds: float) -> str:
    if seconds < 120:
        return f"{int(seconds)} s"
    if seconds < 7200:
        return f"{int(seconds // 60)} min"
    if seconds < 172800:
        return f"{int(seconds // 3600)} h"
    return f"{int(seconds // 86400)} days"


def _order(env: Environment) -> Iterator[Finding]:
    names = [e.text.strip() for e in env.channels]
    if "bioconda" in names:
        bio = env.channels[names.index("bioconda")]
        if "conda-forge" not in names:
            yield Finding(
                "channel-order", Severity.WARNING,
                "bioconda needs conda-forge: list `conda-forge` before `bioconda` (bioconda's packages depend on it)",
                _span(bio),
                fixes=(Fix("Add `conda-forge` before `bioconda`", (_insert_before(env, bio, "conda-forge"),), True),),
            )
        elif names.index("conda-forge") > names.index("bioconda"):
            forge = env.channels[names.index("conda-forge")]
            yield Finding(
                "channel-order", Severity.WARNING,
                "`conda-forge` must come before `bioconda`: with strict channel priority bioconda's packages "
                "then miss their conda-forge dependencies",
                _span(forge), related=(Related(_span(bio), "bioconda is listed here"),),
            )


def _insert_before(env: Environment, entry: Entry, text: str) -> Edit:
    index = env.document.index
    line = index.line_of(entry.start)
    start = index.line_starts[line]
    prefix = env.document.text[start:entry.start]
    newline = "\r\n" if "\r\n" in env.document.text else "\n"
    if prefix.strip() in ("-", ""):
        return Edit(start, start, f"{prefix}{text}{newline}")
    return Edit(entry.start, entry.start, f"{text}, ")


def _relevant_channels(facts: ChannelFacts, parsed: ParsedSpec) -> list[ChannelState]:
    if parsed.channel:
        state = facts.channel(parsed.channel)
        return [state] if state is not None else []
    return list(facts.channels)


def _record_channel_ok(record: Any, channels: Sequence[ChannelState]) -> bool:
    url = str(record.channel).rstrip("/")
    return any(url in c.urls for c in channels)


def _spec(env: Environment, facts: ChannelFacts, entry: Entry, parsed: ParsedSpec,
          seen: _Seen) -> Iterator[Finding]:
    reported = seen.reported
    name = parsed.name
    assert name is not None and parsed.spec is not None
    if facts.pending(name):
        return  # its records are still being loaded: the next snapshot checks it
    channels = _relevant_channels(facts, parsed)
    if parsed.channel and channels and channels[0] not in facts.channels:
        qualified = channels[0]  # reported here, since no entry of `channels:` names it
        first = qualified.given not in reported
        reported.add(qualified.given)
        if qualified.limited:
            if _LIMIT_REPORTED not in reported:
                reported.add(_LIMIT_REPORTED)
                yield _limit_finding(facts, qualified, entry)
            return
        if qualified.state == "missing" and not first:
            return
        if qualified.state == "missing":
            yield Finding("unknown-channel", Severity.ERROR,
                          f"channel `{parsed.channel}` of `{entry.text.strip()}` does not exist: no repodata at "
                          f"{', '.join(qualified.urls)}", _span(entry))
            return
        if (qualified.state == "unreachable" or qualified.from_cache_age is not None) and first:
            yield Finding("channel-unreachable", Severity.INFORMATION, _unreachable_message(qualified), _span(entry))
    if any(c.state == "unreachable" for c in channels):
        return  # a channel it could come from was not reached: nothing true can be said about the package
    channels = [c for c in channels if c.state == "ok"]
    if not channels:
        return
    platforms = platforms_for(entry.selector, facts.platforms)
    if not platforms:
        return
    wanted_subdirs = {*platforms, "noarch"}
    if parsed.spec.subdir:
        wanted_subdirs = {str(parsed.spec.subdir)}
    records = [r for r in facts.records.get(name, ()) if r.subdir in wanted_subdirs and _record_channel_ok(r, channels)]
    if not records:
        suggest = seen.suggestions < MAX_SUGGESTED
        seen.suggestions += suggest
        yield _not_found(env, facts, entry, name, channels, platforms, suggest)
        return
    spec = parsed.spec
    matching = [r for r in records if spec.matches(r)]
    if not matching:
        yield _no_match(entry, parsed, records)
        return
    covered = {r.subdir for r in matching}
    if "noarch" in covered or parsed.spec.subdir:
        return
    lacking = [p for p in platforms if p not in covered]
    if lacking:
        have = sorted(covered)
        yield Finding(
            "platform-unavailable", Severity.WARNING,
            f"`{entry.text.strip()}` has no build for {', '.join(lacking)} (it has builds for {', '.join(have)}); "
            "the environment cannot be created there",
            _span(entry),
        )


def _not_found(env: Environment, facts: ChannelFacts, entry: Entry, name: str, channels: Sequence[ChannelState],
               platforms: Sequence[str], suggest: bool = True) -> Finding:
    where = ", ".join(c.name for c in channels)
    message = f"no package `{name}` in {where} for {', '.join(platforms)}"
    fixes: list[Fix] = []
    elsewhere = [s for s in facts.other_channels if name in facts.names.get(s.name, frozenset())]
    known_names = facts.names_in(channels)
    if name in known_names:
        message = f"`{name}` exists in {where}, but not for {', '.join(platforms)}"
    elif suggest:
        nearest = facts.nearest_names(name, known_names)
        if nearest:
            message += "; did you mean " + " or ".join(f"`{n}`" for n in nearest) + "?"
            fixes.extend(Fix(f"Change to `{n}`", (Edit(entry.start, entry.end, entry.text.replace(name, n, 1)),),
                             i == 0) for i, n in enumerate(nearest))
    if elsewhere:
        message += f"; channel {' and '.join(f'`{s.given}`' for s in elsewhere)} has it"
        first = elsewhere[0]
        if env.channels:
            fixes.append(Fix(f"Add channel `{first.given}`", (_append_channel(env, first.given),)))
        fixes.append(Fix(f"Take it from `{first.given}`: `{first.given}::{entry.text.strip()}`",
                         (Edit(entry.start, entry.end, f"{first.given}::{entry.text.strip()}"),)))
    return Finding("package-not-found", Severity.ERROR, message, _span(entry), fixes=tuple(fixes))


def _append_channel(env: Environment, channel: str) -> Edit:
    last = env.channels[-1]
    index = env.document.index
    line = index.line_of(last.start)
    start = index.line_starts[line]
    prefix = env.document.text[start:last.start]
    _, end = index.line_span(line)
    newline = "\r\n" if "\r\n" in env.document.text else "\n"
    if prefix.strip() == "-":
        return Edit(end, end, f"{newline}{prefix}{channel}")
    return Edit(last.end, last.end, f", {channel}")


def _no_match(entry: Entry, parsed: ParsedSpec, records: Sequence[Any]) -> Finding:
    name = parsed.name
    assert name is not None and parsed.spec is not None
    version = parsed.version
    by_version = MatchSpec(f"{name} {version}") if version else MatchSpec(name)
    version_ok = [r for r in records if by_version.matches(r)]
    if version_ok:
        builds = sorted({str(r.build) for r in version_ok})
        shown = ", ".join(f"`{b}`" for b in builds[:6]) + (f" and {len(builds) - 6} more" if len(builds) > 6 else "")
        return Finding(
            "build-not-found", Severity.ERROR,
            f"`{entry.text.strip()}`: version {version} exists, but no build matches `{parsed.build}`; "
            f"its builds are {shown}",
            _span(entry),
        )
    versions = sorted({r.version for r in records})
    nearest = nearest_versions(versions, version or "")
    message = f"no version of `{name}` matches `{version}`; nearest: {', '.join(str(v) for v in nearest)}"
    message += f" (newest: {versions[-1]})" if versions and versions[-1] not in nearest else ""
    fixes: tuple[Fix, ...] = ()
    if nearest:
        best = nearest[0]
        fixes = (Fix(f"Change to `{name}={best}`", (Edit(entry.start, entry.end, _with_version(entry.text, name,
                                                                                                str(best))),), True),)
    return Finding("version-not-found", Severity.ERROR, message, _span(entry), fixes=fixes)


def _with_version(text: str, name: str, version: str) -> str:
    head, sep, _ = text.partition("::")
    prefix = f"{head}::" if sep else ""
    return f"{prefix}{name}={version}"


def nearest_versions(versions: Sequence[Any], wanted: str, count: int = 4) -> list[Any]:
    """Versions that share the longest prefix with what was asked for, newest first."""
    target = wanted.lstrip("=<>!~ ").split(",")[0].split("|")[0].rstrip(".*")
    if not versions:
        return []

    def shared(version: Any) -> int:
        a, b = str(version).split("."), target.split(".")
        n = 0
        while n < min(len(a), len(b)) and a[n] == b[n]:
            n += 1
        return n

    ranked = sorted(versions, key=lambda v: (shared(v), v), reverse=True)
    return ranked[:count]
