"""Build the snapshots the pip rules read: IndexFacts from the indexes, and the text of the files that
`-r`, `-c` and `-e` lines name.

Index pages are asked for concurrently (the client's worker threads) and merged per project the way
pip merges candidates from several indexes. Files are read through the guarded reader
(envls/host/readfile.py: regular files only, symlinks resolved before the inside-the-folder test) with
limits: at most ``MAX_FILES`` files of at most ``MAX_BYTES`` each, `-r` chains followed to
``MAX_INCLUDE_DEPTH`` and never twice, so a file that includes itself ends; the pure rules report the cycle.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path

from envls.core.conda.companions import metadata_wanted
from envls.core.environment import Environment
from envls.core.pip.facts import (
    IndexFacts,
    IndexState,
    PipFiles,
    ProjectState,
    Release,
    is_outside_key,
    release_key,
)
from envls.core.pip.lines import included_path, parse_pip_line, requirement_file_lines
from envls.core.pip.mapping import canonical
from envls.core.pip.rules import MAX_INCLUDE_DEPTH
from envls.core.pip.section import index_names, pip_items
from envls.host.readfile import read_file
from envls.pypi.config import IndexPlan
from envls.pypi.index import IndexClient, ProjectPage

MAX_FILES = 64
MAX_BYTES = 1024 * 1024
MAX_METADATA = 8  # metadata files (PEP 658) read per snapshot: only the releases a rule reads Requires-Dist of


def requirement_names(env: Environment) -> set[str]:
    """The canonical names of the requirements that pip looks up on an index, and envls with it (the first
    MAX_INDEX_NAMES of a file: `index_names`)."""
    return set(index_names(env))


def _merge(name: str, pages: Sequence[ProjectPage]) -> ProjectState:
    found = [p for p in pages if p.state == "ok"]
    if found:
        by_version: dict[object, Release] = {}
        for page in found:
            for release in page.releases:
                known = by_version.get(release.version)
                if known is None:
                    by_version[release.version] = release
                else:
                    by_version[release.version] = Release(
                        release.version, known.files + release.files, known.yanked and release.yanked,
                        known.yanked_reason or release.yanked_reason,
                        tuple(sorted(set(known.requires_python) | set(release.requires_python))),
                        known.metadata_url or release.metadata_url)
        releases = tuple(sorted(by_version.values(), key=lambda r: r.version))
        return ProjectState(name, "ok", releases)
    if any(p.state == "unreachable" for p in pages) or not pages:
        return ProjectState(name, "unknown")
    return ProjectState(name, "missing")


def _index_state(url: str, pages: Sequence[ProjectPage], from_file: bool) -> IndexState:
    failed = [p for p in pages if p.state == "unreachable"]
    if failed:
        return IndexState(url, "unreachable", failed[0].detail, from_file=from_file)
    cached = [p for p in pages if p.from_cache and p.fetched_at is not None]
    if cached:
        oldest = min(p.fetched_at for p in cached if p.fetched_at is not None)
        return IndexState(url, "ok", cached[0].detail, from_cache_age=max(0.0, time.time() - oldest),
                          from_file=from_file)
    return IndexState(url, "ok", from_file=from_file)


async def gather(client: IndexClient, env: Environment, plan: IndexPlan, extra_names: Iterable[str] = (),
                 previous: IndexFacts | None = None) -> IndexFacts:
    """IndexFacts for ``env`` under ``plan`` (and the pages of ``extra_names``, e.g. a name being completed)."""
    names = sorted(requirement_names(env) | {canonical(n) for n in extra_names})
    pairs = [(index, name) for index in plan.indexes for name in names]
    pages = await asyncio.gather(*(client.page_async(index.url, name) for index, name in pairs))
    by_index: dict[str, list[ProjectPage]] = {index.url: [] for index in plan.indexes}
    by_name: dict[str, list[ProjectPage]] = {name: [] for name in names}
    for (index, name), page in zip(pairs, pages, strict=True):
        by_index[index.url].append(page)
        by_name[name].append(page)
    states = [_index_state(index.display, by_index[index.url], index.from_file) for index in plan.indexes]
    states += [IndexState(url, "skipped", "not contacted in an untrusted workspace", from_file=True)
               for url in plan.skipped]
    projects = dict(previous.projects) if previous is not None else {}
    projects.update({name: _merge(name, by_name[name]) for name in names})
    facts = IndexFacts(tuple(states), projects, frozenset(names) | (previous.loaded if previous else frozenset()),
                       plan.other_sources, plan.skipped, plan.pre, previous.requires if previous else {})
    return await gather_metadata(client, env, plan, facts)


async def gather_metadata(client: IndexClient, env: Environment, plan: IndexPlan, facts: IndexFacts) -> IndexFacts:
    """``facts`` with the Requires-Dist of the releases the rules read them of (``metadata_wanted``) that it
    lacks, from their PEP 658 metadata files: at most ``MAX_METADATA``; a release without one is None."""
    missing = [(name, version) for name, version in metadata_wanted(env, facts)
               if release_key(name, version) not in facts.requires][:MAX_METADATA]
    if not missing:
        return facts
    indexes = tuple(index.url for index in plan.indexes)

    async def one(name: str, version: object) -> tuple[str, ...] | None:
        project = facts.project(name)
        release = next((r for r in project.releases if r.version == version), None) if project else None
        if release is None or not release.metadata_url:
            return None
        return await client.metadata_async(release.metadata_url, indexes)

    found = await asyncio.gather(*(one(name, version) for name, version in missing))
    requires = dict(facts.requires)
    requires.update({release_key(name, version): dist for (name, version), dist in zip(missing, found, strict=True)})
    return replace(facts, requires=requires)


# -- files ---------------------------------------------------------------------------------


def _read(path: Path, base: Path, key: str, files: PipFiles, trusted: bool, editable: bool) -> bool:
    """Read one file (or look at one `-e` path) into ``files`` through the guarded reader; False when it is
    outside the folder in an untrusted workspace (then it is not read, and not judged)."""
    found = read_file(path, within=base, read_outside=trusted, max_bytes=MAX_BYTES, folders=True)
    if found.outside and not trusted:
        return False
    if found.outside:
        files.outside.add(key)
    if found.missing:
        files[key] = None
    elif found.is_dir:
        files[key] = ""  # there, but not a requirements file pip could read either: not "missing"
    elif found.refused is not None:
        files[key] = ""
        files.refused[key] = found.refused
    else:
        files[key] = "" if editable else (found.text() or "")
    return True


def read_pip_files(env: Environment, base_dir: Path | None, trusted: bool = True) -> PipFiles:
    """The files that the pip section's `-r`/`-c` lines name (and those they name in turn) as text, and the
    paths of `-e` lines as "" when they exist, each None when nothing is there (see ``PipFiles``). Keys are
    those of ``envls.core.pip.lines.included_path``. Every file goes through the guarded reader (regular
    files only, bounded); in an untrusted workspace only files inside ``base_dir`` (symlinks followed) are read."""
    files = PipFiles()
    if base_dir is None:
        return files
    queue: list[tuple[str, int]] = []
    for item in pip_items(env):
        option = item.line.long_option
        if item.line.kind != "option" or option not in ("--requirement", "--constraint", "--editable"):
            continue
        key = included_path(None, item.line.argument or "")
        if key is None or key in files or (not trusted and is_outside_key(key, files)):
            continue
        if option == "--editable":
            _read(base_dir / key, base_dir, key, files, trusted, editable=True)
        else:
            queue.append((key, 1))
    seen: set[str] = set()
    while queue and len(seen) < MAX_FILES:
        key, depth = queue.pop(0)
        if key in files or key in seen:
            continue
        seen.add(key)
        if not _read(base_dir / key, base_dir, key, files, trusted, editable=False):
            continue
        text = files[key]
        if not text or depth >= MAX_INCLUDE_DEPTH:
            continue
        for _, line_text in requirement_file_lines(text):
            line = parse_pip_line(line_text)
            if line.kind == "option" and line.long_option in ("--requirement", "--constraint"):
                nested = included_path(key, line.argument or "")
                if nested is not None and nested not in files and (trusted or not is_outside_key(nested, files)):
                    queue.append((nested, depth + 1))
    return files
