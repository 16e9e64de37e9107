"""The pip rules that need data from outside: what the package indexes hold (IndexFacts) and what
the file's channels carry (ChannelFacts).

Pure: snapshots in, findings out. Nothing is concluded from a project's absence unless every index
pip would use answered, and pip has no other source (`--find-links`, `--no-index`).
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from typing import Any

from packaging.version import Version

from envls.core.conda.channel_facts import ChannelFacts, ChannelState
from envls.core.conda.channel_rules import age_words, nearest_versions
from envls.core.conda.specs import ParsedSpec
from envls.core.environment import Environment
from envls.core.findings import Edit, Finding, Fix, Related, Severity, Span
from envls.core.pip.facts import IndexFacts, IndexState, ProjectState, Release, display_url
from envls.core.pip.mapping import mapping
from envls.core.pip.section import (
    MAX_INDEX_NAMES,
    CondaItem,
    PipItem,
    conda_items,
    conda_provided,
    conda_spec_for,
    has_index_options,
    index_names,
    index_requirements,
    insert_before_section,
    local_versions,
    named_requirements,
    pip_items,
    python_pin,
    section_options,
    selectors_overlap,
)
from envls.core.rules import line_removal, span_of


def index_findings(env: Environment, facts: IndexFacts) -> list[Finding]:
    """Each requirement against the indexes: does the project exist, does a release match, does the
    release support the Python the file pins; and which index could not be reached."""
    items = index_requirements(env)
    if not items:
        return []
    findings = list(_unreachable(env, facts))
    prereleases = True if facts.pre or "--pre" in section_options(env) else None
    local_served = has_index_options(env)
    pin = python_pin(env)
    looked_up, limit_reported = set(index_names(env)), False
    for item in items:
        assert item.requirement is not None and item.name is not None
        if item.name not in looked_up:
            if not limit_reported:
                findings.extend(_too_many(items, looked_up, item))
                limit_reported = True
            continue
        if local_versions(item.requirement) and not local_served:
            continue  # pip-local-version says what is wrong
        if item.requirement.marker is not None:
            continue  # pip skips the line where the marker is false; where it holds is not known here
        project = facts.project(item.name)
        if project is None or project.state == "unknown" or facts.pending(item.name):
            continue
        if project.state == "missing" or not project.releases:
            if facts.conclusive:
                findings.append(_not_found(env, item, facts, project))
            continue
        versions = [r.version for r in project.releases]
        matching = set(item.requirement.specifier.filter(versions, prereleases=prereleases))
        if not matching:
            if facts.conclusive:
                findings.append(_no_match(item, project, facts))
            continue
        if pin is not None:
            found = _python(item, project, [r for r in project.releases if r.version in matching], pin)
            if found is not None:
                findings.append(found)
    return findings


def _too_many(items: Sequence[PipItem], looked_up: set[str], first: PipItem) -> Iterator[Finding]:
    """Once, on the first requirement past the limit: which ones the index is not asked about."""
    left = {i.name for i in items if i.name and i.name not in looked_up}
    more = f" and the {len(left) - 1} after it are" if len(left) > 1 else " is"
    yield Finding("too-many-requirements", Severity.INFORMATION,
                  f"more than {MAX_INDEX_NAMES} pip requirements: envls looks up the first {MAX_INDEX_NAMES} on the "
                  f"package index; `{first.name}`{more} not checked there", span_of(first.entry))


def _where(facts: IndexFacts) -> str:
    urls = [i.url for i in facts.indexes]
    return urls[0] if len(urls) == 1 else ", ".join(urls[:-1]) + " or " + urls[-1]


def _unreachable(env: Environment, facts: IndexFacts) -> Iterator[Finding]:
    named = {display_url(i.line.argument or ""): i for i in pip_items(env)
             if i.line.kind == "option" and i.line.long_option in ("--index-url", "--extra-index-url")}
    for state in facts.indexes:
        if state.state != "unreachable" and state.from_cache_age is None:
            continue
        item = named.get(state.url) if state.from_file else None
        key = env.pip[0].key
        span = span_of(item.entry) if item is not None else Span(key.start, key.end)
        yield Finding("index-unreachable", Severity.INFORMATION, _unreachable_message(state), span)


def _unreachable_message(state: IndexState) -> str:
    text = f"index {state.url} could not be reached"
    if state.detail:
        text += f" ({state.detail})"
    if state.from_cache_age is not None and state.state == "ok":
        return text + f"; using its cached pages from {age_words(state.from_cache_age)} ago"
    return text + "; the pip requirements are not checked against it"


def _not_found(env: Environment, item: PipItem, facts: IndexFacts, project: ProjectState) -> Finding:
    assert item.name is not None
    where = _where(facts)
    if project.state == "ok":
        message = f"`{item.name}` is on {where}, but with no file pip can install"
    else:
        message = f"no project `{item.name}` on {where}"
    fixes: tuple[Fix, ...] = ()
    renamed = mapping().pypi_names(item.name)
    if project.state == "missing" and renamed and renamed != (item.name,):
        target = renamed[0]
        message += f"; conda's `{item.name}` is PyPI's `{target}`: did you mean `{target}`?"
        raw = item.line.name or item.name
        fixes = (Fix(f"Change to `{target}`", (Edit(item.entry.start, item.entry.end,
                                                    item.entry.text.replace(raw, target, 1)),), True),)
    return Finding("pip-package-not-found", Severity.ERROR, message, span_of(item.entry), fixes=fixes)


def _label(release: Release) -> str:
    if not release.yanked:
        return str(release.version)
    reason = f": {release.yanked_reason}" if release.yanked_reason else ""
    return f"{release.version} (yanked{reason})"


def _no_match(item: PipItem, project: ProjectState, facts: IndexFacts) -> Finding:
    assert item.requirement is not None and item.name is not None
    specifier = item.requirement.specifier
    by_version = {r.version: r for r in project.releases}
    versions = sorted(by_version)
    wanted = next(iter(sorted(specifier, key=str)), None)
    nearest = nearest_versions(versions, wanted.version if wanted else "")
    newest = versions[-1]
    message = (f"no release of `{item.name}` matches `{specifier}` on {_where(facts)}; nearest: "
               f"{', '.join(_label(by_version[v]) for v in nearest)}")
    if newest not in nearest:
        message += f" (newest: {_label(by_version[newest])})"
    fixes: tuple[Fix, ...] = ()
    usable = [v for v in nearest if not by_version[v].yanked]
    replaced = _with_pin(item, str(usable[0])) if usable else None
    if replaced is not None:
        fixes = (Fix(f"Change to `{item.name}=={usable[0]}`",
                     (Edit(item.entry.start, item.entry.end, replaced),), True),)
    return Finding("pip-version-not-found", Severity.ERROR, message, span_of(item.entry), fixes=fixes)


def _with_pin(item: PipItem, version: str) -> str | None:
    """The entry's text with its single `==` pin changed to ``version``; None for any other specifier."""
    specs = list(item.requirement.specifier) if item.requirement is not None else []
    if len(specs) != 1 or specs[0].operator != "==" or specs[0].version.endswith(".*"):
        return None
    pattern = re.compile(r"==\s*" + re.escape(specs[0].version))
    text = item.entry.text
    if not pattern.search(text):
        return None
    return pattern.sub(f"=={version}", text, count=1)


def _python(item: PipItem, project: ProjectState, matching: Sequence[Release],
            pin: tuple[CondaItem, tuple[Version, ...]]) -> Finding | None:
    python, allowed = pin
    if not matching or any(any(r.python_allows(v) for v in allowed) for r in matching):
        return None
    assert item.name is not None
    needs = sorted({rp for r in matching for rp in r.requires_python if rp})
    if len(matching) == 1:
        release = matching[0]
        message = (f"`{item.name}` {release.version} requires Python `{', '.join(needs)}`, but the file pins "
                   f"`{python.text}`: pip refuses to install it")
    else:
        message = (f"no release of `{item.name}` that matches `{item.requirement.specifier if item.requirement else ''}`"
                   f" supports the Python that the file pins (`{python.text}`); they require Python "
                   f"{', '.join(f'`{n}`' for n in needs[:4])}")
    compatible = [r for r in project.releases if not r.yanked and not r.version.is_prerelease
                  and any(r.python_allows(v) for v in allowed)]
    fixes: tuple[Fix, ...] = ()
    if compatible:
        best = max(compatible, key=lambda r: r.version)
        message += f"; the newest release for it is {best.version}"
        replaced = _with_pin(item, str(best.version))
        if replaced is not None:
            fixes = (Fix(f"Change to `{item.name}=={best.version}`",
                         (Edit(item.entry.start, item.entry.end, replaced),), True),)
    return Finding("pip-python-incompatible", Severity.ERROR, message, span_of(item.entry),
                   related=(Related(span_of(python.entry), f"`{python.text}` is pinned here"),), fixes=fixes)


# -- against the channels ------------------------------------------------------------------


def _channel_names(facts: ChannelFacts) -> list[tuple[ChannelState, frozenset[str]]]:
    return [(state, facts.names.get(state.name, frozenset())) for state in facts.channels if state.state == "ok"]


def prefer_conda_findings(env: Environment, facts: ChannelFacts) -> list[Finding]:
    """Pip requirements that the file's channels carry as conda packages (through the mapping)."""
    channels = _channel_names(facts)
    if not channels or not env.pip:
        return []
    provided = conda_provided(env)
    table = mapping()
    findings = []
    for item in index_requirements(env):
        assert item.requirement is not None and item.name is not None
        if item.name in provided or local_versions(item.requirement):
            continue
        found = next(((conda, state) for conda in table.conda_names(item.name)
                      for state, names in channels if conda in names), None)
        if found is None:
            continue
        conda, state = found
        spec = conda_spec_for(conda, item.requirement, keep_version=table.same_versions(conda, item.name))
        called = f"`{conda}`" if conda == item.name else f"`{conda}` (PyPI's `{item.name}`)"
        fixes: tuple[Fix, ...] = ()
        if spec is not None:
            line = spec + (f"  # [{item.entry.selector}]" if item.entry.selector else "")
            fixes = (Fix(f"Move to the conda dependencies as `{spec}`", (insert_before_section(env, item.section, line),
                                                                        _remove_pip_line(env, item))),)
        findings.append(Finding(
            "prefer-conda", Severity.INFORMATION,
            f"channel `{state.name}` has {called}: as a conda dependency it would be solved together with the "
            "others, while pip installs it afterwards without regard to them",
            span_of(item.entry), fixes=fixes,
        ))
    return findings


def _remove_pip_line(env: Environment, item: PipItem) -> Edit:
    """Remove the pip line; the whole `- pip:` item when it is its only line (an empty `pip:` is null)."""
    if len(item.section.entries) != 1:
        return line_removal(env, item.entry)
    index = env.document.index
    start = index.line_starts[index.line_of(item.section.key.start)]
    prefix = env.document.text[start:item.section.key.start]
    if prefix.strip() != "-":
        return line_removal(env, item.entry)
    last = index.line_of(item.entry.end)
    end = index.line_starts[last + 1] if last + 1 < index.line_count else len(env.document.text)
    return Edit(start, end, "")


def dependency_duplicate_findings(env: Environment, facts: ChannelFacts) -> list[Finding]:
    """A pip requirement for a distribution that conda installs as a dependency of a listed package
    (pip `torch` beside conda `pytorch-lightning`, which depends on `pytorch`): pip replaces it."""
    if not env.pip:
        return []
    pip = {item.name: item for item in named_requirements(env) if item.name}
    listed = {c.name for c in conda_items(env)}
    provided = conda_provided(env)
    table = mapping()
    findings: list[Finding] = []
    reported: set[str] = set()
    for conda in conda_items(env):
        records = facts.records.get(conda.name, ())
        if not records:
            continue
        common = _common_dependencies(records, conda.parsed)
        for dependency in sorted(common - listed):
            for name in table.pypi_names(dependency):
                item = pip.get(name)
                if item is None or name in provided or name in reported \
                        or not selectors_overlap(conda.entry.selector, item.entry.selector):
                    continue
                reported.add(name)
                findings.append(Finding(
                    "conda-pip-duplicate", Severity.WARNING,
                    f"`{name}` comes from pip (`{item.text}`) and from conda, which installs `{dependency}` as a "
                    f"dependency of `{conda.text}`: pip runs last and replaces conda's copy, which `{conda.name}` "
                    "was solved against; install both from one of them",
                    span_of(item.entry), related=(Related(span_of(conda.entry), f"`{conda.text}` depends on "
                                                                                 f"`{dependency}`"),),
                ))
    return findings


# The dependencies that every matching record has, per (records, spec): the same snapshot is checked on
# every keystroke, and reading thousands of records' `depends` each time would cost tens of milliseconds.
# Entries keep their records alive, so that an id is never reused while it is a key.
_COMMON: OrderedDict[tuple[int, str], tuple[Sequence[Any], frozenset[str]]] = OrderedDict()
_COMMON_SIZE = 2048


def _common_dependencies(records: Sequence[Any], parsed: ParsedSpec) -> frozenset[str]:
    key = (id(records), parsed.text)
    hit = _COMMON.get(key)
    if hit is not None and hit[0] is records:
        _COMMON.move_to_end(key)
        return hit[1]
    spec = parsed.spec
    assert spec is not None
    common: set[str] | None = None
    for record in records:
        if not spec.matches(record):
            continue
        names = {str(d).partition(" ")[0].partition("[")[0].lower() for d in getattr(record, "depends", ())}
        common = names if common is None else common & names
        if not common:
            break
    result = frozenset(common or ())
    _COMMON[key] = (records, result)
    if len(_COMMON) > _COMMON_SIZE:
        _COMMON.popitem(last=False)
    return result
