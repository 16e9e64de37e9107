"""What resolving the pip section gave, per target platform, as an immutable snapshot passed into analysis.

The I/O layer (envls/pypi/resolve.py) builds it by running a resolver (uv) on the pip requirements, on top
of the conda side: the Python and the Python packages of the conda solution (or, with no solution, of what
the conda specs pin). The core only reads it (envls/core/pip/resolution_rules.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ResolutionStatus = Literal["resolved", "conflict", "unreachable", "skipped", "error"]


@dataclass(frozen=True)
class ResolvedDist:
    """One distribution of a pip resolution."""

    name: str  # canonical
    version: str
    size: int | None = None  # of the wheel pip would download; None when the index does not say
    via: tuple[str, ...] = ()  # canonical names of the packages that ask for it ("-r" for the pip section)
    conda_version: str | None = None  # the version the conda side installs, when it installs this distribution


@dataclass(frozen=True)
class PipResolution:
    """The outcome of resolving one platform's pip requirements.

    ``conflict``: ``explanation`` is the resolver's chain of reasons, ``involved`` the canonical names of the
    pip requirements it names. ``conda_solved`` is False when the conda side had no solution, so the
    resolution assumed only what the conda specs pin (``python`` the Python version assumed, if any).
    """

    platform: str
    status: ResolutionStatus
    dists: tuple[ResolvedDist, ...] = ()
    requested: tuple[str, ...] = ()  # canonical names of the requirements resolved
    explanation: str = ""
    involved: tuple[str, ...] = ()
    detail: str = ""
    python: str = ""
    conda_solved: bool = True
    seconds: float = 0.0

    @property
    def downloads(self) -> tuple[ResolvedDist, ...]:
        """What pip fetches from the index: everything but what conda installed at the same version."""
        return tuple(d for d in self.dists if d.conda_version != d.version)

    @property
    def replaced(self) -> tuple[ResolvedDist, ...]:
        """Distributions conda installs that pip would upgrade or downgrade."""
        return tuple(d for d in self.dists if d.conda_version is not None and d.conda_version != d.version)

    @property
    def implicit(self) -> tuple[ResolvedDist, ...]:
        """Downloads the pip section does not list: dependencies that arrive unseen."""
        return tuple(d for d in self.downloads if d.name not in self.requested and d.conda_version is None)


@dataclass(frozen=True)
class PipResolutionFacts:
    resolutions: tuple[PipResolution, ...]
