"""What the channels are known to hold, as an immutable snapshot passed into analysis.

The I/O layer (envls/channels) builds it from repodata; the core only reads it. Records are
py-rattler RepoDataRecords (name, version, build, subdir, channel URL, depends, constrains).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

ChannelStateKind = Literal["ok", "missing", "unreachable"]


@dataclass(frozen=True)
class ChannelState:
    """One channel of the file (or of the user's configuration) and whether its data could be had."""

    given: str
    name: str
    urls: tuple[str, ...]
    state: ChannelStateKind
    detail: str = ""
    from_cache_age: float | None = None  # seconds; set when served from an old cache while unreachable


@dataclass(frozen=True)
class ChannelFacts:
    """Channel data for one environment file: its channels, target platforms and the records it names."""

    channels: tuple[ChannelState, ...]
    platforms: tuple[str, ...]
    records: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)
    names: Mapping[str, frozenset[str]] = field(default_factory=dict)  # channel name -> package names
    other_channels: tuple[ChannelState, ...] = ()  # channels named in `channel::pkg` specs, and others
    loaded: frozenset[str] = frozenset()  # package names whose records were asked for

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
