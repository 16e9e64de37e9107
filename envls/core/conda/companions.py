"""Implicit companions: pip `torchvision`/`torchaudio` without `torch`, `jax` without `jaxlib` (`companion-missing`).

Without index data the table of envls/data/domain_knowledge.json answers; with it, ``companion_findings`` reads
the Requires-Dist of the release pip would pick (PEP 658 metadata), and ``metadata_wanted`` says which
releases' metadata the index service should fetch. Pure: facts in, findings out.
"""

from __future__ import annotations

from collections.abc import Iterator

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from envls.core.conda.domain_knowledge import Companion, knowledge
from envls.core.environment import Environment
from envls.core.findings import Finding, Fix, Severity
from envls.core.pip.facts import IndexFacts
from envls.core.pip.section import (
    PipItem,
    conda_provided,
    includes_files,
    insert_before_entry,
    named_requirements,
)
from envls.core.rules import span_of


def _exact_version(item: PipItem) -> str | None:
    """The release that `name==X` (or `name==X+local`) pins, without the local label."""
    assert item.requirement is not None
    specs = list(item.requirement.specifier)
    if len(specs) == 1 and specs[0].operator in ("==", "===") and "*" not in specs[0].version:
        return specs[0].version.split("+", 1)[0]
    return None


def _normalised(version: str) -> str:
    try:
        return str(Version(version))
    except InvalidVersion:
        return version


def _may_reach(item: PipItem, release: Version) -> bool:
    """True when the requirement allows ``release`` or a later one."""
    assert item.requirement is not None
    specifier = item.requirement.specifier
    if not str(specifier):
        return True
    later = {release, Version(f"{release.major}.{release.minor}.{release.micro + 1}"),
             Version(f"{release.major}.{release.minor + 1}"), Version(f"{release.major + 1}"), Version("9999")}
    for spec in specifier:
        try:
            later.add(Version(spec.version.split("+", 1)[0].removesuffix(".*")))
        except InvalidVersion:
            return True  # a version pip reads its own way: assume the best
    return any(v >= release and specifier.contains(v, prereleases=True) for v in later)


def _companion_candidates(env: Environment) -> Iterator[tuple[PipItem, Companion]]:
    """The pip requirements of the companion table whose companion nothing in the file installs."""
    if not env.pip or includes_files(env):
        return
    table = knowledge().companions
    requirements = named_requirements(env)
    present = {i.name for i in requirements} | set(conda_provided(env))
    for item in requirements:
        companion = table.get(item.name or "")
        if companion is not None and companion.needs not in present and item.requirement is not None:
            yield item, companion


def _chosen_release(item: PipItem, facts: IndexFacts) -> Version | None:
    """The release pip would pick for the requirement from the indexes' releases: the newest that matches
    (a yanked one only when pinned exactly, as PEP 592 says); None when the indexes did not say."""
    assert item.requirement is not None and item.name is not None
    project = facts.project(item.name)
    if project is None or project.state != "ok" or not project.releases or item.requirement.url is not None:
        return None
    exact = _exact_version(item) is not None
    live = [r.version for r in project.releases if exact or not r.yanked]
    prereleases = True if facts.pre else None
    matching = list(item.requirement.specifier.filter(live, prereleases=prereleases))
    return max(matching) if matching else None


def metadata_wanted(env: Environment, facts: IndexFacts) -> list[tuple[str, Version]]:
    """The releases (canonical name, version) whose Requires-Dist the companion rule reads when the index
    data has them: for each requirement of the companion table, the release pip would pick."""
    wanted = []
    for item, _ in _companion_candidates(env):
        assert item.name is not None
        release = _chosen_release(item, facts)
        if release is not None and (item.name, release) not in wanted:
            wanted.append((item.name, release))
    return wanted


def _needs_from_metadata(requires: tuple[str, ...], needs: str, extras: frozenset[str]) -> Requirement | None:
    """The requirement on ``needs`` among a release's Requires-Dist that applies to the requested extras:
    one without a marker, or whose marker names an extra asked for, or whose marker is about the platform
    or the Python (then it applies somewhere); None when there is none."""
    for text in requires:
        try:
            requirement = Requirement(text)
        except InvalidRequirement:
            continue
        if canonicalize_name(requirement.name) != needs:
            continue
        marker = requirement.marker
        if marker is None or "extra" not in str(marker):
            return requirement
        if any(marker.evaluate({"extra": extra}) for extra in extras):
            return requirement
    return None


def _pin_finding(env: Environment, item: PipItem, companion: Companion, needed: str,
                 release: str | None = None) -> Finding:
    """`companion-missing` (information) with the exact release of the companion that ``item`` requires;
    ``release``: the release pip picks, when the requirement is no exact pin (then no fix is offered)."""
    pin = f"{companion.needs}=={needed}"
    subject = f"`{item.text}` requires" if release is None else \
        f"`{item.text}` gets {item.name} {release} (the newest release it allows), which requires"
    fixes = (Fix(f"Add `{pin}`", (insert_before_entry(env, item.entry, pin),), True),) if release is None else ()
    return Finding(
        "companion-missing", Severity.INFORMATION,
        f"{subject} `{pin}`, and nothing here names `{companion.needs}`: pip installs it implicitly, in the build "
        f"the index serves by default (on PyPI, with its own CUDA libraries on Linux); pin it (`{pin}`) so the "
        f"file says which {companion.needs} it gets",
        span_of(item.entry), fixes=fixes,
    )


def _unpinned_finding(item: PipItem, companion: Companion, requirement: str | None = None) -> Finding:
    needs = f"`{requirement}`" if requirement else f"`{companion.needs}`"
    return Finding(
        "companion-missing", Severity.INFORMATION,
        f"`{item.text}` depends on {needs}, and nothing here names `{companion.needs}`: pip installs whichever "
        f"`{companion.needs}` the resolved `{item.name}` requires, in the index's default build; pin "
        f"`{companion.needs}` so the file says which it gets",
        span_of(item.entry),
    )


def _import_fails(item: PipItem, companion: Companion, why: str) -> Finding:
    return Finding(
        "companion-missing", Severity.WARNING,
        f"`{item.text}` {why}, and nothing here installs `{companion.needs}`: `import {item.name}` fails; add "
        f"`{companion.needs}` (the release matching `{item.name}`) or install `{item.name}[cpu]`",
        span_of(item.entry),
    )


def _from_table(env: Environment, item: PipItem, companion: Companion) -> Iterator[Finding]:
    assert item.requirement is not None
    if companion.depends_from is not None:
        if item.requirement.extras or _may_reach(item, companion.depends_from):
            return  # `jax[cpu]` brings jaxlib; so does every release from `depends_from` on
        yield _import_fails(item, companion, f"allows only releases of `{item.name}` older than "
                                             f"{companion.depends_from}, which do not depend on `{companion.needs}`")
        return
    exact = _exact_version(item)
    needed = companion.versions.get(_normalised(exact)) if exact else None
    yield _pin_finding(env, item, companion, needed) if needed else _unpinned_finding(item, companion)


def _from_metadata(env: Environment, item: PipItem, companion: Companion, release: Version,
                   requires: tuple[str, ...]) -> Iterator[Finding]:
    """What the chosen release's Requires-Dist says, instead of the table."""
    assert item.requirement is not None
    extras = frozenset(canonicalize_name(e) for e in item.requirement.extras) | {""}
    needed = _needs_from_metadata(requires, companion.needs, extras)
    if companion.severity == "warning":  # the companion must be there: without it the import fails
        if needed is None:
            yield _import_fails(item, companion, f"gets {item.name} {release}, whose metadata on the index lists "
                                                 f"no `{companion.needs}` among its requirements")
        return
    if needed is None:
        return  # this release does not pull the companion in
    specs = list(needed.specifier)
    exact = _exact_version(item) is not None
    if len(specs) == 1 and specs[0].operator == "==" and "*" not in specs[0].version:
        yield _pin_finding(env, item, companion, specs[0].version, None if exact else str(release))
    else:
        yield _unpinned_finding(item, companion, str(needed))


def companion_missing(env: Environment) -> Iterator[Finding]:
    """pip `torchvision`/`torchaudio` without `torch` anywhere: pip pulls one in implicitly (information,
    with the release it will be, from the table); pip `jax` of a release that does not depend on `jaxlib`,
    without `jaxlib` anywhere: `import jax` fails (warning). With index data, ``companion_findings``
    reads the releases' Requires-Dist instead."""
    for item, companion in _companion_candidates(env):
        yield from _from_table(env, item, companion)


def companion_findings(env: Environment, facts: IndexFacts) -> list[Finding]:
    """`companion-missing` with index data: for each requirement, the Requires-Dist of the release pip would
    pick (from its PEP 658 metadata) says which companion release it requires, or that it requires none;
    where the index data has no metadata for it, the table answers as without index data."""
    findings: list[Finding] = []
    for item, companion in _companion_candidates(env):
        assert item.name is not None
        release = _chosen_release(item, facts)
        requires = facts.requires_dist(item.name, release) if release is not None else None
        if release is None or requires is None:
            findings.extend(_from_table(env, item, companion))
        else:
            findings.extend(_from_metadata(env, item, companion, release, requires))
    return findings
