"""What the package indexes are known to hold for a file's pip requirements, as an immutable snapshot.

The I/O layer (envls/pypi) builds it from the Simple API pages of the indexes pip would use; the
core only reads it. A project's releases are merged over every index that answered, as pip merges
the candidates of `--index-url` and `--extra-index-url`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

IndexStateKind = Literal["ok", "unreachable", "skipped"]

_USERINFO = re.compile(r"^(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^/@:]*)(?::[^/@]*)?@", re.IGNORECASE)


def display_url(url: str) -> str:
    """The URL as messages and logs show it: a password (or a token given as the user name) hidden."""
    match = _USERINFO.match(url)
    if not match:
        return url
    return f"{match.group('scheme')}****@{url[match.end():]}"
ProjectStateKind = Literal["ok", "missing", "unknown"]


@dataclass(frozen=True)
class Release:
    """One version of a project, from the files the index lists for it."""

    version: Version
    files: int
    yanked: bool = False  # every file of the release is yanked (PEP 592)
    yanked_reason: str = ""
    requires_python: tuple[str, ...] = ()  # the distinct Requires-Python of its (non-yanked) files; "" = none
    metadata_url: str = ""  # the PEP 658 metadata file of one of its wheels, when the index serves one

    def python_allows(self, python: Version) -> bool:
        """False only when every file of the release declares a Requires-Python that excludes ``python``."""
        if not self.requires_python or "" in self.requires_python:
            return True
        for text in self.requires_python:
            try:
                if SpecifierSet(text).contains(python, prereleases=True):
                    return True
            except InvalidSpecifier:
                return True  # pip ignores a Requires-Python it cannot read
        return False


@dataclass(frozen=True)
class IndexState:
    """One index pip would use for the file, and whether its data could be had."""

    url: str  # for messages: credentials removed
    state: IndexStateKind
    detail: str = ""
    from_cache_age: float | None = None  # seconds; set when an unreachable index was answered from the cache
    from_file: bool = False  # named by the file (`--index-url`, `--extra-index-url`), not by the user's configuration


@dataclass(frozen=True)
class ProjectState:
    """A project as the indexes know it: ``missing`` when every index answered that it has no such project,
    ``unknown`` when one of them could not be asked."""

    name: str  # canonical
    state: ProjectStateKind
    releases: tuple[Release, ...] = ()  # oldest first

    def release(self, version: Version) -> Release | None:
        for release in self.releases:
            if release.version == version:
                return release
        return None


@dataclass(frozen=True)
class IndexFacts:
    """Index data for one environment file."""

    indexes: tuple[IndexState, ...]
    projects: Mapping[str, ProjectState] = field(default_factory=dict)
    loaded: frozenset[str] = frozenset()  # canonical names whose pages were asked for
    other_sources: bool = False  # `--find-links` or `--no-index`: pip may find files the indexes do not list
    untrusted_skipped: tuple[str, ...] = ()  # index URLs the file names that were not contacted (untrusted mode)
    pre: bool = False  # `--pre` in a `-r` file: pip considers pre-releases everywhere
    # The Requires-Dist of releases whose metadata was asked for (see ``release_key``); None: the index has
    # no metadata file for the release, or it could not be read.
    requires: Mapping[str, tuple[str, ...] | None] = field(default_factory=dict)

    def requires_dist(self, name: str, version: Version) -> tuple[str, ...] | None:
        """The release's Requires-Dist as its metadata lists them; None when not known."""
        return self.requires.get(release_key(name, version))

    def project(self, name: str) -> ProjectState | None:
        return self.projects.get(str(canonicalize_name(name)))

    def pending(self, name: str) -> bool:
        """True when ``name`` was not asked for yet: the next snapshot will have it."""
        return str(canonicalize_name(name)) not in self.loaded

    @property
    def conclusive(self) -> bool:
        """Whether a project's absence means something: every index answered, and pip has no other source."""
        return bool(self.indexes) and not self.other_sources and all(i.state == "ok" for i in self.indexes)


def release_key(name: str, version: Version) -> str:
    """The key of a release in ``IndexFacts.requires``: `name==version`, the name canonical."""
    return f"{canonicalize_name(name)}=={version}"


class PipFiles(dict[str, "str | None"]):
    """The files a pip section names, as the I/O layer read them: for each path key (see
    ``envls.core.pip.lines.included_path``) the text, "" for a folder or an unread file, None for nothing
    there. ``outside``: keys whose file lies outside the environment file's folder once symlinks are
    followed: their content is never quoted in a message. ``refused``: keys envls did not read, and why
    (a FIFO, a device, too large). A plain mapping works too: then only the keys tell what is outside."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.outside: set[str] = set()
        self.refused: dict[str, str] = {}


def is_outside_key(key: str, files: Mapping[str, str | None]) -> bool:
    """True when the file behind ``key`` is outside the environment file's folder (by its path, or as read)."""
    if key.startswith("/") or key == ".." or key.startswith("../") or re.match(r"^[A-Za-z]:/", key):
        return True
    return isinstance(files, PipFiles) and key in files.outside


def refusal(key: str, files: Mapping[str, str | None]) -> str | None:
    """Why envls did not read the file behind ``key``; None when it did (or did not try)."""
    return files.refused.get(key) if isinstance(files, PipFiles) else None
