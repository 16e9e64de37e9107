"""The knowledge tables of the domain rules, read from envls/data/domain_knowledge.json.

Split packages (conda packages that are one PyPI distribution under another name, or a part of one),
backports of the standard library, companions that pip pulls in implicitly, distribution
metapackages, and the packages that use conda's CUDA toolkit. Every entry in the file names its
source. The file is read once, on first use, from the package's own files; nothing else here does I/O.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

from packaging.version import InvalidVersion, Version

DATA_FILE = "data/domain_knowledge.json"


@dataclass(frozen=True)
class SplitPackage:
    conda: str
    pypi: str
    same_versions: bool  # the conda package's version numbers are the distribution's
    source: str


@dataclass(frozen=True)
class Backport:
    pypi: str
    module: str
    standard_since: Version  # the Python release whose standard library has the module
    flag_from: Version  # from this Python on, installing the backport is a mistake
    effect: str  # "breaks", "shadows" or "unneeded"
    why: str
    source: str


@dataclass(frozen=True)
class Companion:
    pypi: str
    needs: str  # the distribution pip pulls in for it
    severity: str  # "information" or "warning"
    versions: Mapping[str, str]  # release of `pypi` -> the release of `needs` it requires exactly
    depends_from: Version | None  # `needs` is a dependency only from this release of `pypi` on
    source: str


@dataclass(frozen=True)
class Metapackage:
    conda: str
    unversioned: frozenset[str]  # versions that pin nothing (`anaconda=custom`)
    what: str
    source: str


@dataclass(frozen=True)
class Knowledge:
    split_packages: tuple[SplitPackage, ...]
    backports: Mapping[str, Backport]  # by PyPI name
    companions: Mapping[str, Companion]  # by PyPI name
    metapackages: Mapping[str, Metapackage]  # by conda name
    cuda_users_conda: frozenset[str]
    cuda_users_pip: frozenset[str]
    pytorch_channel_only: frozenset[str]


def _version(text: Any) -> Version | None:
    try:
        return Version(str(text))
    except InvalidVersion:
        return None


def build(data: Mapping[str, Any]) -> Knowledge:
    """The tables from the file's JSON object."""
    split = tuple(SplitPackage(str(e["conda"]), str(e["pypi"]), bool(e.get("same_versions", False)), str(e["source"]))
                  for e in data.get("split_packages", []))
    backports = {}
    for e in data.get("backports", []):
        since, flag = _version(e["standard_since"]), _version(e.get("flag_from", e["standard_since"]))
        if since is None or flag is None:
            raise ValueError(f"backport {e.get('pypi')}: bad Python version")
        backports[str(e["pypi"])] = Backport(str(e["pypi"]), str(e["module"]), since, flag, str(e["effect"]),
                                             str(e["why"]), str(e["source"]))
    companions = {}
    for e in data.get("companions", []):
        depends = e.get("depends_from")
        companions[str(e["pypi"])] = Companion(
            str(e["pypi"]), str(e["needs"]), str(e["severity"]),
            {str(k): str(v) for k, v in e.get("versions", {}).items()},
            _version(depends) if depends else None, str(e["source"]))
    metas = {str(e["conda"]): Metapackage(str(e["conda"]), frozenset(str(v) for v in e.get("unversioned", [])),
                                          str(e["what"]), str(e["source"]))
             for e in data.get("metapackages", [])}
    users = data.get("cuda_users", {})
    only = data.get("pytorch_channel_only", {})
    return Knowledge(split, backports, companions, metas,
                     frozenset(str(n) for n in users.get("conda", [])),
                     frozenset(str(n) for n in users.get("pip", [])),
                     frozenset(str(n) for n in only.get("names", [])))


@functools.lru_cache(maxsize=1)
def knowledge() -> Knowledge:
    """The shipped tables, read on first use."""
    raw = resources.files("envls").joinpath(DATA_FILE).read_text(encoding="utf-8")
    return build(json.loads(raw))
