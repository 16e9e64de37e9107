"""Split packages confirmed by channel data: a package `X` whose records depend on `X-base`, `py-X` or `libX` of
their own version (defaults' `numpy` on `numpy-base`) makes that part the same distribution for the conda/pip
rules, beyond the tables; and the exact pins a package really publishes (`==X.Y` where `X.Y` is a release).
Pure: channel records in, findings out.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from envls.core.environment import Environment
from envls.core.findings import Finding, Span
from envls.core.pip.mapping import mapping
from envls.core.pip.rules import conda_pip
from envls.core.pip.section import (
    conda_items,
    conda_provided,
    named_requirements,
)
from envls.core.rules import span_of

_NOT_ONE_VERSION = re.compile(r"[<>=!,|*~ ]")


def published_exact_pins(env: Environment, records: Mapping[str, tuple[Any, ...]]) -> frozenset[Span]:
    """The conda entries `name==X.Y` whose package publishes a release numbered exactly `X.Y`
    (`sysroot_linux-64==2.17`): there `==` asks for just what exists, and the fast stage's
    "`==X.Y` matches X.Y.0 only" (`suspicious-spec`) is noise. ``records`` are the channel records
    by package name (anything with a ``version``)."""
    spans = set()
    for item in conda_items(env):
        version = item.parsed.version or ""
        if not version.startswith("==") or version.count(".") >= 2:
            continue
        wanted = version[2:]
        if _NOT_ONE_VERSION.search(wanted):
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
