"""What the channels are known to hold, as an immutable snapshot passed into analysis.

The I/O layer (envls/channels) builds it from repodata; the core only reads it. Records are
py-rattler RepoDataRecords (name, version, build, subdir, channel URL, depends, constrains).
"""

from __future__ import annotations

import bisect
import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

ChannelStateKind = Literal["ok", "missing", "unreachable"]

# At most this many channels are fetched for one file (its `channels:`, then those of `channel::pkg` specs):
# a file that names hundreds must not make hundreds of requests and cache files.
MAX_CHANNELS = 32


@dataclass(frozen=True)
class ChannelState:
    """One channel of the file (or of the user's configuration) and whether its data could be had."""

    given: str
    name: str
    urls: tuple[str, ...]
    state: ChannelStateKind
    detail: str = ""
    from_cache_age: float | None = None  # seconds; set when served from an old cache while unreachable (inf: unknown)
    limited: bool = False  # not fetched: beyond MAX_CHANNELS (its state is "unreachable": nothing is concluded)


@dataclass(frozen=True)
class ChannelFacts:
    """Channel data for one environment file: its channels, target platforms and the records it names."""

    channels: tuple[ChannelState, ...]
    platforms: tuple[str, ...]
    records: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)
    names: Mapping[str, frozenset[str]] = field(default_factory=dict)  # channel name -> package names
    other_channels: tuple[ChannelState, ...] = ()  # channels named in `channel::pkg` specs, and others
    loaded: frozenset[str] = frozenset()  # package names whose records were asked for
    # Each of the file's channels as resolved, before de-duplication: (as written, kind, channel URLs with a
    # `/subdir` when the entry names one); the kind is "defaults", "multichannel", "name", "url" or "path".
    written: tuple[tuple[str, str, tuple[str, ...]], ...] = ()

    @cached_property
    def all_names(self) -> tuple[str, ...]:
        """Every package name of every channel, sorted (computed once per snapshot)."""
        return tuple(sorted(set().union(*self.names.values()))) if self.names else ()

    def names_starting(self, prefix: str) -> list[str]:
        names = self.all_names
        start = bisect.bisect_left(names, prefix)
        end = bisect.bisect_left(names, prefix + "\U0010ffff")
        return list(names[start:end])

    def names_in(self, channels: Sequence[ChannelState]) -> frozenset[str]:
        """The package names of ``channels`` together: one set per combination and snapshot (a file's every
        unknown name asks, and a set built per ask cost more than the lookup)."""
        memo: dict[tuple[str, ...], frozenset[str]] = self.__dict__.setdefault("_names_in", {})
        key = tuple(c.name for c in channels)
        found = memo.get(key)
        if found is None:
            found = memo[key] = frozenset().union(*(self.names.get(name, frozenset()) for name in key))
        return found

    def nearest_names(self, name: str, among: frozenset[str] | None = None, count: int = 3) -> list[str]:
        """Did-you-mean candidates for ``name`` (memoized per snapshot: a typo costs once, not per edit).

        Only names of a similar length that share the first letter are compared: difflib over all
        30,000 names of conda-forge costs tens of milliseconds, this a few."""
        memo: dict[tuple[str, frozenset[str] | None, int], list[str]] = self.__dict__.setdefault("_nearest", {})
        key = (name, among, count)
        if key not in memo:
            pool = among if among is not None else self.all_names
            low, high = len(name) * 0.6, len(name) * 1.6 + 2
            candidates = [n for n in pool if n[:1] == name[:1] and low <= len(n) <= high]
            memo[key] = difflib.get_close_matches(name, sorted(candidates), n=count, cutoff=0.75)
        return memo[key]

    def pending(self, name: str) -> bool:
        """True when the channels have ``name`` but its records are not in this snapshot yet."""
        if name in self.loaded:
            return False
        return any(name in names for names in self.names.values())

    def channel(self, name_or_url: str) -> ChannelState | None:
        key = name_or_url.rstrip("/")
        for state in (*self.channels, *self.other_channels):
            if key in (state.given.rstrip("/"), state.name.rstrip("/")) or key in state.urls:
                return state
        return None

    def channel_of_record(self, record: Any) -> ChannelState | None:
        url = str(record.channel).rstrip("/")
        for state in (*self.channels, *self.other_channels):
            if url in state.urls:
                return state
        return None
