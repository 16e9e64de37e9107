"""Domain rules: what real environment files get wrong that syntax and schema cannot see.

Each rule takes the Environment and yields Findings; they need no I/O and run on every edit. What
they know (backports, companions, metapackages, the packages that use conda's CUDA toolkit) is in
envls/data/domain_knowledge.json, with a source for every entry (see envls/core/conda/domain_knowledge.py).

- ``missing_name``: no `name` (nor `prefix`), so `conda env create -f` needs `-n`/`-p`.
- ``stdlib_backport``: a pip backport of a module the pinned Python already has.
- ``companion_missing``: pip `torchvision`/`torchaudio` without `torch`, `jax` without `jaxlib`; with index
  data ``companion_findings`` reads the pinned release's Requires-Dist (PEP 658 metadata) instead of the table.
- ``metapackage_pin``: a versioned `anaconda` metapackage next to other pins.
- ``cuda_unused``: conda's `cudatoolkit` beside pip's torch, with nothing that loads it.
- ``mixed_pytorch_channels``: PyTorch packages from both the pytorch channel and conda-forge.

With channel data, ``split_package_findings`` confirms split packages the tables do not know from the
records (a package `X` that depends on `X-base`, `py-X` or `libX` of its own version) for the conda/pip rules.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from envls.core.conda.domain_knowledge import Companion, knowledge
from envls.core.conda.specs import pinned_build
from envls.core.environment import Environment
from envls.core.findings import Finding, Fix, Related, Severity, Span
from envls.core.pip.facts import IndexFacts
from envls.core.pip.mapping import mapping
from envls.core.pip.rules import conda_pip
from envls.core.pip.section import (
    CondaItem,
    PipItem,
    conda_items,
    conda_provided,
    insert_before_entry,
    named_requirements,
    pip_items,
    python_versions,
    selectors_overlap,
)
from envls.core.rules import line_removal, span_of

DomainRule = Callable[[Environment], Iterable[Finding]]

_INCLUDES = ("--requirement", "--constraint")


def _includes_files(env: Environment) -> bool:
    """True when the pip section reads other requirement files, whose contents the fast stage does not see."""
    return any(i.line.kind == "option" and i.line.long_option in _INCLUDES for i in pip_items(env))


def _remove(env: Environment, item: PipItem | CondaItem, what: str) -> Fix:
    return Fix(f"Remove {what} `{item.text}`", (line_removal(env, item.entry),), True)


def missing_name(env: Environment) -> Iterator[Finding]:
    """No `name` and no `prefix`: `conda env create -f FILE` fails unless `-n NAME` or `-p PATH` is given.

    Silent for conda-lock inputs (a `platforms:` key): conda-lock names nothing, the lock file's user does;
    and while the YAML does not parse or a line was left out as too long (the name may be in the part that did not
    parse, or on that line)."""
    top = env.document.top
    if env.document.problems or env.document.long_lines or top is None or not top.pairs or env.name is not None or env.prefix is not None or env.platforms:
        return
    if top.get("name") is not None or top.get("prefix") is not None:
        return  # present but not a string: the schema reports it
    first = top.pairs[0][0]
    yield Finding(
        "missing-name", Severity.INFORMATION,
        "the file has no `name`: `conda env create -f` then fails unless it is given `-n NAME` (or `-p PATH`); "
        "add `name: <environment name>`",
        span_of(first),
    )


def _python_floor(env: Environment) -> tuple[CondaItem, Version] | None:
    """The conda `python` dependency (without a selector) and the lowest release it allows."""
    for item in conda_items(env):
        if item.name != "python" or item.entry.selector is not None:
            continue
        if not item.parsed.version:
            return None
        allowed = python_versions(item.parsed.version)
        return (item, min(allowed)) if allowed else None
    return None


def stdlib_backport(env: Environment) -> Iterator[Finding]:
    """A pip backport of a standard module that every Python the file allows already has (`typing` on
    3.7+, `enum34` on 3.6+, `dataclasses` on 3.7+, ...). Requirements behind an environment marker are
    left alone: the marker is how a file installs a backport only where it is needed."""
    if not env.pip:
        return
    floor = _python_floor(env)
    if floor is None:
        return
    python, lowest = floor
    table = knowledge().backports
    for item in named_requirements(env):
        backport = table.get(item.name or "")
        if backport is None or item.requirement is None or item.requirement.marker is not None:
            continue
        if lowest < backport.flag_from or not selectors_overlap(python.entry.selector, item.entry.selector):
            continue
        yield Finding(
            "stdlib-backport", Severity.WARNING,
            f"`{item.text}` is a backport of `{backport.module}`, which is in the standard library since Python "
            f"{backport.standard_since}, and `{python.text}` has it: {backport.why}; remove it",
            span_of(item.entry),
            related=(Related(span_of(python.entry), f"`{python.text}` is the Python here"),),
            fixes=(_remove(env, item, "the backport"),),
        )


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
    if not env.pip or _includes_files(env):
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


def _version_words(item: CondaItem) -> str:
    version = item.parsed.version or ""
    return version[2:] if version.startswith("==") else version[:-2] if version.endswith(".*") else version


def metapackage_pin(env: Environment) -> Iterator[Finding]:
    """A versioned distribution metapackage (`anaconda=2020.02`, which pins the exact version of hundreds
    of packages) next to other version pins: each must be the very version the distribution ships, or the
    file does not solve. `anaconda=custom` and an unversioned `anaconda` pin nothing; `python` is left
    out (a distribution release is built for several Pythons); an exported file (`anaconda=2020.02=py38_0`)
    pins what the environment made from the metapackage holds."""
    metas = knowledge().metapackages
    items = conda_items(env)
    for item in items:
        meta = metas.get(item.name)
        if meta is None:
            continue
        version = _version_words(item)
        if not version or version in meta.unversioned or version == "*":
            continue
        if item.parsed.build and pinned_build(item.parsed):
            continue  # `conda env export` of an environment made from it: every pin is what it ships
        others = [o for o in items if o is not item and o.name != "python" and o.parsed.version
                  and o.parsed.version != "*" and selectors_overlap(o.entry.selector, item.entry.selector)]
        if not others:
            continue
        shown = ", ".join(f"`{o.text}`" for o in others[:3]) + (f" and {len(others) - 3} more" if len(others) > 3
                                                                 else "")
        yield Finding(
            "metapackage-pin", Severity.WARNING,
            f"`{item.text}` is {meta.what} metapackage: it pins the exact version of hundreds of packages, so "
            f"the other pins here ({shown}) must be the versions it ships or the file does not solve; keep the "
            f"metapackage or the pins (`{item.name}=custom` pins nothing)",
            span_of(item.entry),
            related=tuple(Related(span_of(o.entry), f"`{o.text}` is pinned here") for o in others[:3]),
        )


_OWN_CUDA_PIP = ("torch",)  # pip distributions whose wheels bring their own CUDA libraries (or none)


def _uses_system_cuda(name: str, users: frozenset[str]) -> bool:
    if name in users or name.startswith(("cupy-cuda", "nvidia-")):
        return True
    parts = name.split("-")
    return "gpu" in parts or any(p.startswith("cu") and p[2:].isdigit() for p in parts) or "cuda" in parts


def cuda_unused(env: Environment) -> Iterator[Finding]:
    """Conda's `cudatoolkit` beside pip's `torch`, whose wheels bring their own CUDA libraries (or are
    CPU-only): the toolkit is gigabytes that nothing loads. Silent when a conda package that links the
    toolkit is present, or a pip package that uses a CUDA installed beside it (TensorFlow before 2.14,
    CuPy, ...), or the pip section reads other files."""
    if not env.pip or _includes_files(env):
        return
    knows = knowledge()
    items = conda_items(env)
    toolkits = [i for i in items if i.name == "cudatoolkit"]
    if not toolkits:
        return
    if any(_uses_system_cuda(i.name, knows.cuda_users_conda) or i.name in ("cudatoolkit-dev", "cuda-nvcc")
           for i in items if i.name != "cudatoolkit"):
        return
    requirements = named_requirements(env)
    if any(i.name and i.name not in _OWN_CUDA_PIP and _uses_system_cuda(i.name, knows.cuda_users_pip)
           for i in requirements):
        return
    for toolkit in toolkits:
        torch = [i for i in requirements if i.name in _OWN_CUDA_PIP
                 and selectors_overlap(i.entry.selector, toolkit.entry.selector)]
        if not torch:
            continue
        yield Finding(
            "cuda-unused", Severity.WARNING,
            f"`{toolkit.text}` is a conda CUDA toolkit that nothing here loads: pip's `{torch[0].text}` wheels bring "
            "their own CUDA libraries (or are CPU-only), and no conda package here links the toolkit; it adds "
            "gigabytes to the environment: remove it, or install PyTorch from conda",
            span_of(toolkit.entry),
            related=(Related(span_of(torch[0].entry), f"`{torch[0].text}` is installed by pip here"),),
            fixes=(_remove(env, toolkit, "the conda dependency"),),
        )


_PYTORCH_FAMILY = frozenset({"pytorch", "torchvision", "torchaudio", "torchtext", "torchdata", "pytorch-cuda",
                             "pytorch-mutex", "cpuonly", "torchtriton", "pytorch-cpu", "pytorch-gpu", "libtorch"})
_PUBLISHERS = ("pytorch", "conda-forge", "defaults", "anaconda", "main", "pkgs/main")


def _channel_name(text: str) -> str:
    """`https://conda.anaconda.org/pytorch/` -> `pytorch`; names stay as they are."""
    text = text.strip().rstrip("/").lower()
    if "://" in text:
        text = text.rsplit("/", 1)[-1]
    return text


def _pytorch_source(env: Environment, item: CondaItem, only_pytorch: frozenset[str]) -> str | None:
    """The channel (pytorch or conda-forge) a PyTorch package comes from, when the file says or implies it."""
    if item.parsed.channel:
        return _channel_name(item.parsed.channel)
    if item.name in only_pytorch:
        return "pytorch"
    listed = [_channel_name(e.text) for e in env.channels]
    first = next((c for c in listed if c in _PUBLISHERS), None)
    return "conda-forge" if first == "conda-forge" else "pytorch" if first == "pytorch" else None


def mixed_pytorch_channels(env: Environment) -> Iterator[Finding]:
    """PyTorch packages from the pytorch channel (`pytorch::torchtriton`, `pytorch-cuda`) beside a
    conda-forge `pytorch` (or the other way round): the two channels build PyTorch differently, and
    their packages were never built to work together."""
    only = knowledge().pytorch_channel_only
    family = [i for i in conda_items(env) if i.name in _PYTORCH_FAMILY]
    sources = {id(i): _pytorch_source(env, i, only) for i in family}
    groups = {s: [i for i in family if sources[id(i)] == s] for s in ("pytorch", "conda-forge")}
    if not groups["pytorch"] or not groups["conda-forge"]:
        return
    core = next((i for i in family if i.name == "pytorch" and sources[id(i)] in groups), None)
    anchor_source = sources[id(core)] if core is not None else "conda-forge"
    anchor = core if core is not None else groups["conda-forge"][0]
    other = "pytorch" if anchor_source == "conda-forge" else "conda-forge"
    for item in groups[other]:
        if not selectors_overlap(item.entry.selector, anchor.entry.selector):
            continue
        yield Finding(
            "mixed-pytorch-channels", Severity.WARNING,
            f"`{item.text}` comes from the {other} channel, while `{anchor.text}` comes from {anchor_source}: "
            "the two channels build PyTorch differently (CUDA packages, compilers, dependencies), so their "
            "packages do not fit together; take every PyTorch package from one channel",
            span_of(item.entry),
            related=(Related(span_of(anchor.entry), f"`{anchor.text}` comes from {anchor_source}"),),
        )


DOMAIN_RULES: tuple[DomainRule, ...] = (missing_name, stdlib_backport, companion_missing, metapackage_pin,
                                        cuda_unused, mixed_pytorch_channels)


# -- with channel data -------------------------------------------------------------------------


def published_exact_pins(env: Environment, records: Mapping[str, tuple[Any, ...]]) -> frozenset[Span]:
    """The conda entries `name==X.Y` whose package publishes a release numbered exactly `X.Y`
    (`sysroot_linux-64==2.17`): there `==` asks for just what exists, and the fast stage's
    "`==X.Y` matches X.Y.0 only" (`suspicious-spec`) is noise. ``records`` are the channel records
    by package name (anything with a ``version``)."""
    spans = set()
    for item in conda_items(env):
        version = item.parsed.version or ""
        if not version.startswith("==") or any(ch in version[2:] for ch in "<>=!,|*~ "):
            continue
        wanted = version[2:]
        if wanted.count(".") >= 2:
            continue
        if any(str(getattr(r, "version", "")) == wanted for r in records.get(item.name, ())):
            spans.add(span_of(item.entry))
    return frozenset(spans)


# Naming conventions of split packages: a part's name -> the name of the package built over it
# (`numpy` depends on `numpy-base`, `xgboost` on `py-xgboost`, `pytorch` on `libtorch` of the same version).
# True: the part holds the Python package itself (its versions are the distribution's); False: a library
# part (the C/C++ library under it, which a PyPI wheel carries its own copy of).
def _whole_of(part: str) -> tuple[str, bool] | None:
    if part.endswith("-base") and len(part) > 5:
        return part[:-5], True
    if part.startswith("py-") and len(part) > 3:
        return part[3:], True
    whole = part.removeprefix("lib").lstrip("-_")
    return (whole, False) if part.startswith("lib") and whole else None


def split_wholes(names: Iterable[str]) -> set[str]:
    """The packages whose records can confirm that a conda name is a part of them (`numpy` for
    `numpy-base`): what the channel stage loads besides the file's own names. Parts that install no PyPI
    distribution (`libgcc-ng`, `r-base`) and wholes that install none are left out: nothing to confirm."""
    table = mapping()
    wholes = {whole[0] for name in names if name not in table.nothing and (whole := _whole_of(name)) is not None}
    return {whole for whole in wholes if table.pypi_names(whole)}


def _pins_own_version(record: Any, part: str) -> bool | None:
    """Whether the record depends on ``part`` at its own version (`numpy-base 1.19.2 py38h..._0`,
    `keras-base 2.4.3.*`); None when it does not depend on ``part``."""
    version = str(getattr(record, "version", ""))
    for dependency in getattr(record, "depends", ()):
        words = str(dependency).split()
        if not words or words[0].lower() != part:
            continue
        if len(words) < 2 or not version:
            return False
        pinned = words[1].removeprefix("==").removesuffix("*").removesuffix(".")
        # its own version, or a series of two parts or more that holds it (`tensorflow-base 2.10.*` from 2.10.0)
        return pinned == version or ("." in pinned and version.startswith(pinned + "."))
    return None


# (records of a whole, part) -> how many of the records pin the part at their own version, and how many
# otherwise: the same snapshot is read on every keystroke, and a package has thousands of records. Entries keep
# their records alive, so that an id is never reused while it is a key.
_PIN_COUNTS: OrderedDict[tuple[int, str], tuple[Sequence[Any], tuple[int, int]]] = OrderedDict()
_PIN_COUNTS_SIZE = 256


def _pin_counts(records: Sequence[Any], part: str) -> tuple[int, int]:
    key = (id(records), part)
    hit = _PIN_COUNTS.get(key)
    if hit is not None and hit[0] is records:
        _PIN_COUNTS.move_to_end(key)
        return hit[1]
    answers = [_pins_own_version(r, part) for r in records]
    counts = (answers.count(True), answers.count(False))
    _PIN_COUNTS[key] = (records, counts)
    if len(_PIN_COUNTS) > _PIN_COUNTS_SIZE:
        _PIN_COUNTS.popitem(last=False)
    return counts


def confirmed_splits(env: Environment, records: Mapping[str, tuple[Any, ...]]) -> tuple[tuple[str, str, bool], ...]:
    """Conda dependencies that the channel records show to be a part of another package: (part, whole,
    whether the part's versions are the whole's). A part is confirmed when records of the whole depend on
    it, at least two in three of them at their own version (defaults' first numpy builds over numpy-base asked
    for `numpy-base >=1.11.3,<2.0a0`; the later ones pin their own release). Parts the mapping knows to install no PyPI distribution (a C
    library such as `libcurl`), and wholes that install none (`boost`), are left out."""
    table = mapping()
    found = []
    for item in conda_items(env):
        whole = _whole_of(item.name)
        if whole is None or item.name in table.nothing or not table.pypi_names(whole[0]):
            continue
        pinned, other = _pin_counts(records.get(whole[0], ()), item.name)
        if pinned and pinned >= 2 * other and (item.name, whole[0], whole[1]) not in found:
            found.append((item.name, whole[0], whole[1]))
    return tuple(found)


def split_package_findings(env: Environment, records: Mapping[str, tuple[Any, ...]]) -> list[Finding]:
    """The conda/pip rules (`conda-pip-conflict`, `conda-pip-duplicate`) once more, with the split packages that
    the channel records confirm added to the mapping, for the pip requirements that no conda dependency
    provided before (`keras-base=2.4.3` beside pip `keras==2.3.1`: defaults' `keras` depends on `keras-base`
    of its own version)."""
    if not env.pip:
        return []
    table = mapping()
    new = [(part, whole, same) for part, whole, same in confirmed_splits(env, records)
           if not table.pypi_names(part) or set(table.pypi_names(part)) != set(table.pypi_names(whole))]
    if not new:
        return []
    extended = table.with_split_packages((part, pypi, same) for part, whole, same in new
                                         for pypi in table.pypi_names(whole)[:1])
    before = set(conda_provided(env))
    fresh = {span_of(i.entry) for i in named_requirements(env) if i.name not in before}
    return [f for f in conda_pip(env, extended) if f.span in fresh]
