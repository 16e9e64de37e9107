"""CUDA versions as ranges: `11.8` (11.8 only), `12` (any 12.x), `>=11.8`, and how conda versions, build
tags (`cuda118`, `cuda11.8`, `cu113`) and driver versions read as such ranges.

Pure. Versions are (major, minor) pairs; a number of more than six digits is no CUDA version.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

Pair = tuple[int, int]

_NUMBER = r"\d{1,6}"  # longer numbers are no CUDA version (and would make int() slow or fail)


def parse_cuda_version(text: str) -> tuple[int, int | None] | None:
    """`12.2` -> (12, 2), `12` -> (12, None), `12.2.140` -> (12, 2); anything else -> None."""
    match = re.fullmatch(rf"\s*({_NUMBER})(?:\.({_NUMBER}))?(?:\.{_NUMBER})*\s*", text or "")
    if not match:
        return None
    return int(match.group(1)), int(match.group(2)) if match.group(2) is not None else None


@dataclass(frozen=True)
class CudaRange:
    """CUDA versions from ``low`` (inclusive) up to ``high`` (exclusive; None: no upper bound)."""

    low: Pair
    high: Pair | None = None

    @classmethod
    def exact(cls, major: int, minor: int | None) -> CudaRange:
        """`11.8` (11.8 only) or `12` (any 12.x)."""
        if minor is None:
            return cls((major, 0), (major + 1, 0))
        return cls((major, minor), (major, minor + 1))

    @classmethod
    def family(cls, major: int, minor: int) -> CudaRange:
        """`minor` or a newer minor of the same major: what a build made with CUDA >= 11 runs with."""
        return cls((major, minor), (major + 1, 0))

    def intersection(self, other: CudaRange) -> CudaRange | None:
        low = max(self.low, other.low)
        highs = [h for h in (self.high, other.high) if h is not None]
        high = min(highs) if highs else None
        return CudaRange(low, high) if high is None or low < high else None

    def intersects(self, other: CudaRange) -> bool:
        return self.intersection(other) is not None

    def hull(self, other: CudaRange) -> CudaRange:
        high = None if self.high is None or other.high is None else max(self.high, other.high)
        return CudaRange(min(self.low, other.low), high)

    @property
    def one_minor(self) -> bool:
        """True when the range is one minor release (`11.8`), not a major (`12`) or an open range."""
        return self.high == (self.low[0], self.low[1] + 1)

    def words(self) -> str:
        (major, minor), high = self.low, self.high
        if high == (major, minor + 1):
            return f"{major}.{minor}"
        if high == (major + 1, 0):
            return f"{major}" if minor == 0 else f"{major}.{minor} or a newer {major}.x"
        if high is None:
            return f"{major}.{minor} or newer"
        if self.low == (0, 0):
            return f"older than {high[0]}.{high[1]}"
        if high[0] == major and high[1] > minor + 1:
            return f"{major}.{minor} to {major}.{high[1] - 1}"
        return f"{major}.{minor} up to (not including) {high[0]}.{high[1]}"

    def version_text(self) -> str | None:
        """The conda version to pin for this range (`11.8`, `12`), when it names one."""
        (major, minor), high = self.low, self.high
        if high == (major, minor + 1):
            return f"{major}.{minor}"
        if high == (major + 1, 0) and minor == 0:
            return f"{major}"
        return None


def comparisons(alternative: str) -> list[tuple[str, tuple[int, ...]]] | None:
    """The comparisons of one alternative of a conda version constraint (`>=11.3,<11.4`, `11.8.*`) as
    (operator, numbers), `=` for an exact or prefix match; None when one of them is no plain number."""
    result = []
    for constraint in alternative.split(","):
        constraint = constraint.strip()
        if constraint in ("", "*"):
            continue
        match = re.fullmatch(rf"(==|=|>=|<=|>|<|!=|~=)?\s*({_NUMBER}(?:\.{_NUMBER}){{0,5}})(\.\*)?", constraint)
        if not match:
            return None
        result.append((match.group(1) or "=", tuple(int(p) for p in match.group(2).split("."))))
    return result


def version_range(version: str | None) -> CudaRange | None:
    """The CUDA range a conda version constraint allows (`11.8.*`, `>=11.3,<11.4`, `12`); None when it
    names none (no bound, letters, alternatives with `|`, numbers too big to be a CUDA version)."""
    found = comparisons(version) if version and "|" not in version else None
    if not found:
        return None
    result = CudaRange((0, 0), None)
    bounded = False
    for op, numbers in found:
        major, minor = numbers[0], numbers[1] if len(numbers) > 1 else None
        pair = (major, minor or 0)
        if op in ("==", "="):
            bound = CudaRange.exact(major, minor)
        elif op in (">=", ">"):
            bound = CudaRange(pair, None)
        elif op == "<":
            bound = CudaRange((0, 0), pair)
        elif op == "<=":
            bound = CudaRange((0, 0), CudaRange.exact(major, minor).high)
        elif op == "~=":
            bound = CudaRange(pair, (major + 1, 0))
        else:
            continue  # `!=` excludes one version: the range stays as wide
        narrowed = result.intersection(bound)
        if narrowed is None:
            return None
        result, bounded = narrowed, True
    return result if bounded else None


def digits_range(digits: str, dotted_minor: str | None, exact: bool) -> CudaRange | None:
    """`cuda11.8` (dotted), `cuda118`, `cu113`, `cuda92`, `cuda12` as a range."""
    if dotted_minor is not None:
        return CudaRange.exact(int(digits), int(dotted_minor))
    if len(digits) == 2 and digits[0] == "1":
        return CudaRange.exact(int(digits), None)  # `cuda12`, `cu11`: a major
    if len(digits) == 2:
        major, minor = int(digits[0]), int(digits[1])  # `cuda92`: 9.2
    elif len(digits) == 3:
        major, minor = int(digits[:2]), int(digits[2])  # `cuda118`: 11.8
    else:
        return None
    # Builds made with CUDA >= 11 run with any newer minor of that major (conda-forge's `cuda118` builds
    # depend on `cudatoolkit >=11.8,<12`); before 11 a build needs its own minor.
    if exact or major < 11:
        return CudaRange.exact(major, minor)
    return CudaRange.family(major, minor)
