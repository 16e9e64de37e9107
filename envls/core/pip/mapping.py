"""Which PyPI distributions a conda package installs, and back: the conda <-> PyPI name mapping.

The data is parselmouth's conda-forge and pytorch mappings (prefix-dev/parselmouth, BSD-3-Clause,
see envls/data/PARSELMOUTH-LICENSE), shipped compactly as envls/data/pypi_mapping.json.gz by
scripts/refresh-pypi-mapping: only packages whose PyPI names are not simply their own name, and
packages that install no PyPI distribution at all. A conda name found in neither is taken to be
its own PyPI name. It is read once, on first use, from the package's own files; nothing else here
does I/O. Names are compared as PEP 503 normalises them (``packaging.utils.canonicalize_name``).

parselmouth records every ``*.dist-info`` a package ships, so some packages list distributions
they vendor (``hist-base`` lists ``click`` and ``numpy``, ``ansible`` lists ``pip``). A package is
taken to provide only its "own" distributions: when its list names the package itself (``ray-core``
lists ``ray``), only those; else the whole list (``py-opencv`` lists ``opencv-python`` and
``opencv-python-headless``), without the build tools ``pip``, ``setuptools`` and ``wheel``.
"""

from __future__ import annotations

import functools
import gzip
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources

from packaging.utils import canonicalize_name

DATA_FILE = "data/pypi_mapping.json.gz"
_BUILD_TOOLS = frozenset({"pip", "setuptools", "wheel"})

# Conda metapackages that install no distribution themselves but always pull in the package that
# does: a pip requirement for that distribution then replaces it just the same.
METAPACKAGES: Mapping[str, str] = {
    "opencv": "py-opencv",
    "tensorflow-gpu": "tensorflow-base",
    "tensorflow-cpu": "tensorflow-base",
    "pytorch-gpu": "pytorch",
}


_CANONICAL = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


def canonical(name: str) -> str:
    """A name as PEP 503 normalises it: lower case, runs of ``-``, ``_`` and ``.`` as one ``-``."""
    if _CANONICAL.match(name):
        return name  # most names already are; this keeps loading the mapping cheap
    return str(canonicalize_name(name, validate=False))


def _own(conda: str, pypi: str) -> bool:
    return pypi == conda or conda.startswith(pypi + "-") or pypi.startswith(conda + "-")


def _primary(conda: str, names: Iterable[str]) -> tuple[str, ...]:
    """The distributions a package provides itself, out of everything parselmouth found in it."""
    listed = sorted({canonical(n) for n in names})
    key = canonical(conda)
    own = [n for n in listed if _own(key, n)]
    if own:
        return tuple(own)
    return tuple(n for n in listed if n not in _BUILD_TOOLS)


@dataclass(frozen=True)
class PypiMapping:
    """The mapping in both directions. Conda names are as conda writes them (lower case)."""

    renamed: Mapping[str, tuple[str, ...]]  # conda name -> the PyPI names it provides (not just its own name)
    nothing: frozenset[str]  # conda names that install no PyPI distribution
    reverse: Mapping[str, tuple[str, ...]]  # canonical PyPI name -> conda names in `renamed` that provide it
    sources: tuple[str, ...] = ()
    other_versions: frozenset[str] = frozenset()  # conda parts of a distribution numbered their own way

    def pypi_names(self, conda_name: str) -> tuple[str, ...]:
        """The canonical PyPI names that the conda package installs; () for none."""
        name = conda_name.strip().lower()
        if name in self.renamed:
            return self.renamed[name]
        if name in self.nothing:
            meta = METAPACKAGES.get(name)
            return self.pypi_names(meta) if meta else ()
        return (canonical(name),)

    def conda_names(self, pypi_name: str) -> tuple[str, ...]:
        """Conda packages that install the PyPI distribution, likeliest first: the same name (a guess
        unless the mapping knows better), then packages renamed to it alone, then the others."""
        key = canonical(pypi_name)
        names: list[str] = []
        if key not in self.renamed and key not in self.nothing:
            names.append(key)
        providers = self.reverse.get(key, ())
        names.extend(c for c in providers if self.renamed[c] == (key,) and c not in names)
        names.extend(c for c in providers if c not in names)
        return tuple(names)

    def same_versions(self, conda_name: str, pypi_name: str) -> bool:
        """True when the conda package is that one distribution under its own or another name
        (pytorch/torch, matplotlib-base/matplotlib), so that their version numbers agree."""
        if conda_name.strip().lower() in self.other_versions:
            return False
        return self.pypi_names(conda_name) == (canonical(pypi_name),)

    def with_split_packages(self, split: Iterable[tuple[str, str, bool]]) -> PypiMapping:
        """The mapping with conda packages that are (a part of) a distribution under another name added:
        (conda name, PyPI name, whether the conda versions are the distribution's)."""
        renamed = dict(self.renamed)
        reverse = {k: list(v) for k, v in self.reverse.items()}
        other = set(self.other_versions)
        for conda, pypi, same_versions in split:
            conda, pypi = conda.lower(), canonical(pypi)
            if not same_versions:
                other.add(conda)
            if pypi in renamed.get(conda, ()):
                continue  # the mapping knows already (and maybe more)
            for old in renamed.get(conda, ()):
                if conda in reverse.get(old, []):
                    reverse[old].remove(conda)
            renamed[conda] = (pypi,)
            reverse.setdefault(pypi, []).append(conda)
        return PypiMapping(renamed, self.nothing - {c for c, _, _ in split},
                           {k: tuple(v) for k, v in reverse.items() if v}, self.sources, frozenset(other))


def build(data: Mapping[str, object]) -> PypiMapping:
    """The mapping from the compact file's JSON object (see scripts/refresh-pypi-mapping)."""
    raw_renamed = data.get("renamed", {})
    raw_nothing = data.get("none", [])
    if not isinstance(raw_renamed, dict) or not isinstance(raw_nothing, list):
        raise ValueError("not a compact PyPI mapping")
    renamed: dict[str, tuple[str, ...]] = {}
    nothing = set(str(n) for n in raw_nothing)
    for conda, names in raw_renamed.items():
        primary = _primary(conda, names)
        if primary:
            renamed[conda] = primary
        else:
            nothing.add(conda)
    reverse: dict[str, list[str]] = {}
    for conda, names in renamed.items():
        for name in names:
            reverse.setdefault(name, []).append(conda)
    sources = data.get("sources", [])
    return PypiMapping(renamed, frozenset(nothing), {k: tuple(v) for k, v in reverse.items()},
                       tuple(str(s) for s in sources) if isinstance(sources, list) else ())


@functools.lru_cache(maxsize=1)
def mapping() -> PypiMapping:
    """The shipped mapping, read on first use, with the split packages of envls/data/domain_knowledge.json
    (numpy-base is numpy, libtorch a part of torch) over it."""
    from envls.core.conda.domain_knowledge import knowledge

    raw = resources.files("envls").joinpath(DATA_FILE).read_bytes()
    split = [(p.conda, p.pypi, p.same_versions) for p in knowledge().split_packages]
    return build(json.loads(gzip.decompress(raw))).with_split_packages(split)


def pypi_names(conda_name: str) -> tuple[str, ...]:
    return mapping().pypi_names(conda_name)


def conda_names(pypi_name: str) -> tuple[str, ...]:
    return mapping().conda_names(pypi_name)
