"""Rules on the pip resolution (does the pip section install, and what does it change), and its summary.

Pure: an Environment and a PipResolutionFacts snapshot in, findings out.

`pip-resolution-impossible` (error) goes on each pip line the resolver's explanation names, with the chain
in the message and related information on the other lines; a conflict that the index stage already explains
on those lines (no such project, no such version, Python mismatch) is not reported again.
`pip-replaces-conda` (warning) goes on the pip line that brings in a distribution the conda side installs at
another version (unless the conda/pip rules already say so on a line that lists the package itself).
`pip-not-resolved` (information) says once why no resolution could be made when the index
could not be reached, unless the index stage already said so. Each groups the platforms with the same finding.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from envls.core.analysis import Analysis, AnalysisOptions, add_findings
from envls.core.environment import Environment
from envls.core.findings import Finding, Related, Severity, Span
from envls.core.pip.resolution_facts import PipResolution, PipResolutionFacts
from envls.core.pip.section import PipItem, index_requirements, pip_items
from envls.core.rules import span_of
from envls.core.solve.summary import format_size

PIP_RESOLUTION_CODES = frozenset({"pip-resolution-impossible", "pip-replaces-conda", "pip-not-resolved"})
EXPLAINED_BY_INDEX = frozenset({"pip-package-not-found", "pip-version-not-found", "pip-python-incompatible",
                                "invalid-pip-requirement", "pip-local-version"})

SAID_BY_CONDA_PIP_RULES = frozenset({"conda-pip-duplicate", "conda-pip-conflict"})


def _platforms(resolutions: Sequence[PipResolution], total: int) -> str:
    if total <= 1:
        return ""
    return " (for " + ", ".join(r.platform for r in resolutions) + ")"


def _items_by_name(env: Environment) -> dict[str, list[PipItem]]:
    found: dict[str, list[PipItem]] = {}
    for item in index_requirements(env):
        if item.name:
            found.setdefault(item.name, []).append(item)
    return found


def pip_resolution_findings(env: Environment, facts: PipResolutionFacts,
                            existing: Sequence[Finding] = ()) -> list[Finding]:
    if not env.pip:
        return []
    return [*_conflicts(env, facts, existing), *_replacements(env, facts, existing),
            *_unresolved(env, facts, existing)]


def _conflicts(env: Environment, facts: PipResolutionFacts, existing: Sequence[Finding]) -> Iterator[Finding]:
    groups: dict[tuple[tuple[str, ...], str], list[PipResolution]] = {}
    for resolution in facts.resolutions:
        if resolution.status == "conflict":
            groups.setdefault((resolution.involved, resolution.explanation), []).append(resolution)
    by_name = _items_by_name(env)
    explained = {f.span for f in existing if f.code in EXPLAINED_BY_INDEX}
    for (involved, explanation), resolutions in groups.items():
        items = [i for name in involved for i in by_name.get(name, ())]
        if not items:  # the chain names none of the section's lines: on the `-r` lines, else every requirement
            items = [i for i in pip_items(env) if i.line.long_option in ("--requirement", "--constraint")]
            items = items or [i for items in by_name.values() for i in items]
        spans = [span_of(i.entry) for i in items]
        if not spans:
            key = env.pip[0].key
            spans, items = [Span(key.start, key.end)], []
        if spans and all(s in explained for s in spans):
            continue
        where = _platforms(resolutions, len(facts.resolutions))
        assumed = "" if resolutions[0].conda_solved else " (assuming only what the conda dependencies pin)"
        for index, span in enumerate(spans):
            others = [i for n, i in enumerate(items) if n != index]
            related = tuple(Related(span_of(o.entry), f"`{o.text}` is part of the conflict") for o in others)
            yield Finding("pip-resolution-impossible", Severity.ERROR,
                          f"pip cannot install the pip section{where}{assumed}: {explanation}", span, related)


def _replacements(env: Environment, facts: PipResolutionFacts, existing: Sequence[Finding]) -> Iterator[Finding]:
    by_name = _items_by_name(env)
    said = {f.span for f in existing if f.code in SAID_BY_CONDA_PIP_RULES}
    groups: dict[tuple[str, str, str, tuple[str, ...]], list[PipResolution]] = {}
    for resolution in facts.resolutions:
        if resolution.status != "resolved":
            continue
        for dist in resolution.replaced:
            assert dist.conda_version is not None
            groups.setdefault((dist.name, dist.conda_version, dist.version, dist.via), []).append(resolution)
    for (name, conda_version, version, via), resolutions in groups.items():
        direction = "upgrade" if _newer(version, conda_version) else "downgrade"
        askers = [a for a in via if a != "-r"]
        targets = by_name.get(name, []) if name in by_name else [i for a in askers for i in by_name.get(a, ())]
        if not targets:
            targets = [i for items in by_name.values() for i in items][:1]
        who = (f"`{name}` is in the pip section" if name in by_name
               else "asked for by " + ", ".join(f"`{a}`" for a in askers) if askers else "asked for by the pip section")
        where = _platforms(resolutions, len(facts.resolutions))
        source = "the conda solution" if resolutions[0].conda_solved else "the conda dependencies"
        message = (f"pip would {direction} `{name}` from {conda_version} ({source}) to {version}{where}: {who}; "
                   "pip replaces conda's files and conda's record of the package goes stale")
        for item in targets:
            if name in by_name and span_of(item.entry) in said:
                continue  # conda-pip-duplicate or -conflict already says that pip replaces conda's copy here
            yield Finding("pip-replaces-conda", Severity.WARNING, message, span_of(item.entry))


def _newer(a: str, b: str) -> bool:
    from packaging.version import InvalidVersion, Version

    try:
        return Version(a) > Version(b)
    except InvalidVersion:
        return a > b


def _unresolved(env: Environment, facts: PipResolutionFacts, existing: Sequence[Finding]) -> Iterator[Finding]:
    failed = [r for r in facts.resolutions if r.status == "unreachable"]
    if not failed or any(f.code == "index-unreachable" for f in existing):
        return
    key = env.pip[0].key
    yield Finding("pip-not-resolved", Severity.INFORMATION,
                  f"the pip section was not resolved: {failed[0].detail}; nothing is concluded about it",
                  Span(key.start, key.end))


def with_pip_resolution(analysis: Analysis, facts: PipResolutionFacts,
                        options: AnalysisOptions | None = None) -> Analysis:
    """The analysis with the pip resolution stage added (its findings from an earlier run replaced)."""
    if analysis.document.top is None:
        return analysis
    others = [f for f in analysis.findings if f.code not in PIP_RESOLUTION_CODES]
    return add_findings(analysis, "pip resolution",
                        lambda: pip_resolution_findings(analysis.environment, facts, others), options,
                        replaces=PIP_RESOLUTION_CODES)


# -- in words --------------------------------------------------------------------------------------


def lens_title(resolution: PipResolution) -> str:
    """"pip on linux-64: 12 packages from the index, 48 MB; adds idna, urllib3 (not listed)", or why not."""
    platform = resolution.platform
    note = "" if resolution.conda_solved else " (conda side not solved: assuming what its specs pin)"
    if resolution.status == "resolved":
        downloads = resolution.downloads
        count = len(downloads)
        size = sum(d.size or 0 for d in downloads)
        sized = format_size(size) if all(d.size is not None for d in downloads) else f"at least {format_size(size)}"
        title = f"pip on {platform}{note}: {count} package{'s' if count != 1 else ''} from the index, {sized}"
        implicit = [d.name for d in resolution.implicit]
        if implicit:
            shown = ", ".join(implicit[:6]) + (f" and {len(implicit) - 6} more" if len(implicit) > 6 else "")
            title += f"; adds {shown} (not listed)"
        replaced = resolution.replaced
        if replaced:
            title += f"; replaces {len(replaced)} conda package{'s' if len(replaced) != 1 else ''}"
        return title
    if resolution.status == "conflict":
        return f"pip cannot install this section on {platform}{note}"
    if resolution.status == "unreachable":
        return f"pip section not resolved for {platform}: the index could not be reached"
    detail = f": {resolution.detail}" if resolution.detail else ""
    if resolution.status == "error":
        return f"pip section could not be resolved for {platform}{detail}"
    return f"pip section not resolved for {platform}{detail}"
