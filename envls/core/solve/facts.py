"""What solving the file gave, per target platform, as an immutable snapshot passed into analysis.

The I/O layer (envls/solve) builds it with py-rattler's solver; the core only reads it. A snapshot
belongs to one input: the file's conda specs for each platform, its channels, the platform's
virtual packages and the state of the repodata. The session hands out a snapshot only while that
input is the file's current one, so findings made from it belong to the text on screen.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

SolveStatus = Literal["solved", "unsatisfiable", "timeout", "error", "skipped"]


@dataclass(frozen=True)
class SolvedPackage:
    """One package of a solution (from a py-rattler RepoDataRecord)."""

    name: str
    version: str
    build: str
    channel: str  # the channel's name as the file (or conda's configuration) calls it, else its URL
    subdir: str
    url: str
    file_name: str
    size: int | None = None
    md5: str | None = None  # hex
    sha256: str | None = None  # hex
    depends: tuple[str, ...] = ()
    record: Any = field(default=None, compare=False, repr=False)  # the RepoDataRecord, for lock files


@dataclass(frozen=True)
class PlatformSolve:
    """The outcome of solving the file for one platform.

    ``specs`` are the file's conda specs as written (stripped) that apply to this platform.
    For ``unsatisfiable``: ``explanation`` is the solver's text and ``involved`` the specs of a
    conflict, as small as could be found within the time allowed (a subset of ``specs``).
    ``priority`` is ``flexible`` when the file solves only without strict channel priority.
    """

    platform: str
    status: SolveStatus
    specs: tuple[str, ...] = ()
    packages: tuple[SolvedPackage, ...] = ()
    explanation: str = ""
    involved: tuple[str, ...] = ()
    detail: str = ""  # why not solved: timeout, an unreachable channel, ...
    cuda: str | None = None  # the `__cuda` version the solve assumed (None: no NVIDIA driver)
    virtual_packages: tuple[str, ...] = ()  # `name=version=build`
    priority: Literal["strict", "flexible"] = "strict"
    seconds: float = 0.0

    @property
    def download_size(self) -> int:
        return sum(p.size or 0 for p in self.packages)

    @property
    def sizes_known(self) -> bool:
        return all(p.size is not None for p in self.packages)


@dataclass(frozen=True)
class SolveFacts:
    """Every target platform's solve for one environment file, in the file's platform order."""

    solves: tuple[PlatformSolve, ...]

    def platform(self, name: str) -> PlatformSolve | None:
        return next((s for s in self.solves if s.platform == name), None)

    @property
    def solved(self) -> tuple[PlatformSolve, ...]:
        return tuple(s for s in self.solves if s.status == "solved")
