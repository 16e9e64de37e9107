"""The pip section as the pip rules see it: its lines parsed, the conda packages beside it, and the
version arithmetic and edits that the rules share.

Pure. Versions are compared as each tool compares them: conda's constraints with py-rattler's
VersionSpec, pip's with ``packaging``'s SpecifierSet. Two constraints are called disjoint only when
both are satisfiable and no version near any number either of them names satisfies both: every
constraint of either language is a union of intervals bounded by such numbers, so a shared version
would be found there.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from packaging.requirements import Requirement
from packaging.specifiers import Specifier, SpecifierSet
from packaging.version import InvalidVersion, Version
from rattler import Version as CondaVersion
from rattler import VersionSpec

from envls.core.conda.specs import ParsedSpec, parse_spec
from envls.core.environment import Entry, Environment, PipSection
from envls.core.findings import Edit
from envls.core.pace import paced
from envls.core.pip.lines import PipLine
from envls.core.pip.mapping import PypiMapping, mapping

_LITERAL = re.compile(r"[0-9][0-9A-Za-z.!+_-]*")
_INDEX_OPTIONS = ("--index-url", "--extra-index-url", "--find-links", "--no-index")


@dataclass(slots=True, unsafe_hash=True)  # a value, not frozen for speed (see findings.py)
class PipItem:
    """One line of a pip section: the entry (text and place) and what pip reads in it."""

    section: PipSection
    entry: Entry
    line: PipLine

    @property
    def name(self) -> str | None:
        return self.line.canonical_name

    @property
    def requirement(self) -> Requirement | None:
        return self.line.requirement

    @property
    def text(self) -> str:
        return self.entry.text.strip()


@dataclass(slots=True, unsafe_hash=True)  # one per conda entry: a value, not frozen for speed (see findings.py)
class CondaItem:
    entry: Entry
    parsed: ParsedSpec

    @property
    def name(self) -> str:
        assert self.parsed.name is not None
        return self.parsed.name

    @property
    def text(self) -> str:
        return self.entry.text.strip()


def pip_items(env: Environment) -> list[PipItem]:
    """Every line of the pip sections, parsed (built once per environment: many rules ask)."""
    return list(env.derived("pip_items", _pip_items))


def _pip_items(env: Environment) -> tuple[PipItem, ...]:
    return tuple(PipItem(section, entry, entry.pip_line) for section in env.pip for entry in paced(section.entries))


def index_requirements(env: Environment) -> list[PipItem]:
    """Requirements that pip looks up on an index: named, and not a direct reference (`name @ url`)."""
    return [item for item in pip_items(env)
            if item.line.kind == "requirement" and item.requirement is not None and item.requirement.url is None]


# At most this many projects are looked up on the package index for one file (in file order): a file that
# lists thousands must not make thousands of requests (`too-many-requirements` for the rest).
MAX_INDEX_NAMES = 500


def index_names(env: Environment) -> list[str]:
    """The canonical names the index is asked about, in file order: the first MAX_INDEX_NAMES of them."""
    return env.derived("index_names", _index_names)


def _index_names(env: Environment) -> list[str]:
    names = dict.fromkeys(item.name for item in index_requirements(env) if item.name)
    return list(names)[:MAX_INDEX_NAMES]


def named_requirements(env: Environment) -> list[PipItem]:
    """Every PEP 508 requirement of the pip sections, direct references included."""
    return [item for item in pip_items(env) if item.line.kind == "requirement" and item.requirement is not None]


def conda_items(env: Environment) -> tuple[CondaItem, ...]:
    """The valid, named conda dependencies (virtual packages left out); built once per environment."""
    return env.derived("conda_items", _conda_items)


def _conda_items(env: Environment) -> tuple[CondaItem, ...]:
    items = []
    for entry in paced(env.conda):
        parsed = entry.parsed
        if parsed.spec is not None and parsed.name is not None and not parsed.name.startswith("__"):
            items.append(CondaItem(entry, parsed))
    return tuple(items)


def conda_provided(env: Environment, table: PypiMapping | None = None) -> Mapping[str, list[CondaItem]]:
    """The conda dependencies by the canonical PyPI names they install (through the mapping, or ``table``);
    with the shipped mapping, built once per environment (several rules ask). Shared: never changed."""
    if table is None:
        return env.derived("conda_provided", lambda e: _conda_provided(e, mapping()))
    return _conda_provided(env, table)


def _conda_provided(env: Environment, table: PypiMapping) -> dict[str, list[CondaItem]]:
    provided: dict[str, list[CondaItem]] = {}
    for item in conda_items(env):
        for name in table.pypi_names(item.name):
            provided.setdefault(name, []).append(item)
    return provided


def selectors_overlap(a: str | None, b: str | None) -> bool:
    """Entries under different selectors never meet on one platform; no selector meets every one."""
    return a is None or b is None or a.replace(" ", "") == b.replace(" ", "")


def section_options(env: Environment) -> set[str]:
    """The long names of the options in the pip sections (`--pre`, `--extra-index-url`, ...)."""
    return {item.line.long_option for item in pip_items(env) if item.line.kind == "option" and item.line.long_option}


def has_index_options(env: Environment) -> bool:
    options = section_options(env)
    return any(option in options for option in _INDEX_OPTIONS)


def local_versions(requirement: Requirement) -> list[str]:
    """Versions with a local label (`1.12.1+cu116`) that the requirement names."""
    return [spec.version for spec in requirement.specifier if "+" in spec.version]


# -- version arithmetic --------------------------------------------------------------------


@functools.lru_cache(maxsize=4096)
def _conda_spec(text: str) -> VersionSpec | None:
    try:
        return VersionSpec(text)
    except Exception:  # rattler raises its own exception types
        return None


@functools.lru_cache(maxsize=65536)
def _conda_allows(spec_text: str, version: str) -> bool | None:
    spec = _conda_spec(spec_text)
    if spec is None:
        return None
    try:
        return bool(spec.matches(CondaVersion(version)))
    except Exception:
        return None


def _literals(text: str) -> list[Version]:
    found = []
    for match in _LITERAL.finditer(text):
        token = match.group(0).rstrip(".*-_")
        try:
            found.append(Version(token))
        except InvalidVersion:
            continue
    return found


def _near(version: Version) -> set[Version]:
    """Versions at and around ``version``: itself, the release numbers one step above and below in each
    place, and one place longer; enough to find a point in any interval bounded by these numbers."""
    out = {version}
    release = version.release
    for k in range(1, len(release) + 1):
        head = release[:k]
        out.update(_version(head[:-1] + (head[-1] + step,)) for step in (-1, 0, 1) if head[-1] + step >= 0)
    for tail in ((0,), (1,), (0, 1), (99,)):
        out.add(_version(release + tail))
    out.add(Version(f"{version.base_version}.post1"))
    return out


def _version(release: tuple[int, ...]) -> Version:
    return Version(".".join(str(n) for n in release))


def disjoint(conda_version: str | None, specifier: SpecifierSet) -> bool:
    """True when no version can satisfy both the conda constraint and the pip specifier (and each alone can)."""
    if not conda_version or conda_version in ("*", "") or not str(specifier):
        return False
    if _conda_spec(conda_version) is None:
        return False
    candidates: set[Version] = {Version("0"), Version("99999")}
    for literal in (*_literals(conda_version), *_literals(str(specifier))):
        candidates |= _near(literal)
    conda_ok = pip_ok = False
    for candidate in sorted(candidates):
        in_conda = _conda_allows(conda_version, str(candidate))
        if in_conda is None:
            continue  # a number conda reads differently: it proves nothing either way
        in_pip = specifier.contains(candidate, prereleases=True)
        if in_conda and in_pip:
            return False
        conda_ok |= in_conda
        pip_ok |= in_pip
    return conda_ok and pip_ok


def same_release(conda: CondaItem, requirement: Requirement) -> str | None:
    """The release when the conda spec and the pip requirement both pin the same one exactly
    (`pyqt5-sip=12.9.0=py39h...` and `pyqt5-sip==12.9.0`), so that pip finds it installed; else None."""
    specs = list(requirement.specifier)
    version = conda.parsed.version or ""
    if len(specs) != 1 or specs[0].operator not in ("==", "===") or "*" in specs[0].version:
        return None
    exact = version[2:] if version.startswith("==") else version[:-2] if version.endswith(".*") else None
    if not exact or any(ch in exact for ch in "<>=!,|*~ "):
        return None
    if version.endswith(".*") and exact.count(".") < 2:
        return None  # `numpy=1.19` is any 1.19 release
    try:
        return exact if Version(exact) == Version(specs[0].version) else None
    except InvalidVersion:
        return None


def python_versions(spec_text: str) -> tuple[Version, ...]:
    """The Python releases (2.7.x, 3.0.0 to 3.20.30) that a conda version constraint allows."""
    return _python_candidates(spec_text)


@functools.lru_cache(maxsize=256)
def _python_candidates(spec_text: str) -> tuple[Version, ...]:
    versions = [f"3.{minor}.{micro}" for minor in range(0, 21) for micro in range(0, 31)]
    versions += [f"2.7.{micro}" for micro in range(0, 19)]
    return tuple(Version(v) for v in versions if _conda_allows(spec_text, v))


def python_pin(env: Environment) -> tuple[CondaItem, tuple[Version, ...]] | None:
    """The conda `python` dependency when it pins one minor version (`python=3.8`, `python==3.8.10`),
    with the Python versions it allows; None when there is none, or it allows several minor versions."""
    for item in conda_items(env):
        if item.name != "python" or item.entry.selector is not None or not item.parsed.version:
            continue
        allowed = _python_candidates(item.parsed.version)
        if allowed and len({v.release[:2] for v in allowed}) == 1:
            return item, allowed
        return None
    return None


# -- pip specifiers as conda specs -----------------------------------------------------------


def _conda_constraint(spec: Specifier) -> str | None:
    version = spec.version
    if "+" in version:
        return None
    if spec.operator in ("==", "===") and version.endswith(".*"):
        return f"={version[:-2]}"
    if spec.operator in ("==", "==="):
        parts = version.split(".")
        padded = version if len(parts) >= 3 or not all(p.isdigit() for p in parts) else \
            ".".join(parts + ["0"] * (3 - len(parts)))
        return f"=={padded}"
    if spec.operator == "~=":
        parts = version.split(".")
        upper = parts[:-1]
        if not upper or not upper[-1].isdigit():
            return None
        upper[-1] = str(int(upper[-1]) + 1)
        return f">={version},<{'.'.join(upper)}"
    if spec.operator == "!=" and version.endswith(".*"):
        return None
    return f"{spec.operator}{version}"


def conda_spec_for(conda_name: str, requirement: Requirement, keep_version: bool) -> str | None:
    """The conda dependency that asks for what the pip requirement asks for; None when that cannot be
    said in conda's language (extras, markers, a URL, a local version)."""
    if requirement.extras or requirement.marker is not None or requirement.url:
        return None
    if not keep_version or not str(requirement.specifier):
        return conda_name
    parts = []
    for spec in sorted(requirement.specifier, key=lambda s: (s.operator.startswith(("<", "!")), str(s))):
        constraint = _conda_constraint(spec)
        if constraint is None:
            return None
        parts.append(constraint)
    text = conda_name + ",".join(parts)
    return text if parse_spec(text).error is None else None


# -- edits ---------------------------------------------------------------------------------


def _newline(env: Environment) -> str:
    return "\r\n" if "\r\n" in env.document.text else "\n"


def insert_before_section(env: Environment, section: PipSection, text: str) -> Edit:
    """An edit that adds a conda dependency just before the `- pip:` item of ``section``."""
    index = env.document.index
    line = index.line_of(section.key.start)
    start = index.line_starts[line]
    prefix = env.document.text[start:section.key.start]
    dash = prefix.find("-")
    if dash >= 0 and not prefix[:dash].strip() and prefix[dash + 1:].strip() in ("", "{"):
        return Edit(start, start, f"{prefix[:dash]}- {text}{_newline(env)}")  # a block item: a line before it
    brace = env.document.text.rfind("{", 0, section.key.start)
    at = brace if brace >= 0 else section.key.start
    return Edit(at, at, f"{text}, ")  # an item of a flow list: `[numpy, {pip: [...]}]`


def insert_before_entry(env: Environment, entry: Entry, text: str) -> Edit:
    """An edit that adds a pip line just before ``entry``, indented as it is."""
    index = env.document.index
    line = index.line_of(entry.start)
    start = index.line_starts[line]
    prefix = env.document.text[start:entry.start]
    if prefix.strip() == "-":
        return Edit(start, start, f"{prefix}{text}{_newline(env)}")
    return Edit(entry.start, entry.start, f"{text}, ")


def iter_requirement_pairs(items: Sequence[PipItem]) -> Iterator[tuple[PipItem, PipItem]]:
    """Every (earlier, later) pair of requirements that meet on some platform: overlapping selectors and
    the same environment marker (or none)."""
    for i, later in enumerate(items):
        for earlier in items[:i]:
            if not selectors_overlap(earlier.entry.selector, later.entry.selector):
                continue
            a, b = earlier.requirement, later.requirement
            if a is None or b is None or str(a.marker or "") != str(b.marker or ""):
                continue
            yield earlier, later


def includes_files(env: Environment) -> bool:
    """True when the pip section reads other requirement files (`-r`, `-c`), whose contents the fast stage does
    not see."""
    return any(i.line.kind == "option" and i.line.long_option in ("--requirement", "--constraint")
               for i in pip_items(env))
