"""Build the ChannelFacts snapshot for one environment file from the channel store.

Loads the file's channels for its target platforms (and noarch), the records of the packages
it names (and of the packages a split part among them belongs to: `numpy` for `numpy-base`), and, only when a package is missing, the names of the user's other channels so
that the message can say where it is.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from typing import Any

from rattler import Subdir

from envls.channels.names import ResolvedChannel
from envls.channels.store import ChannelStore, SubdirInfo
from envls.core.conda.channel_facts import MAX_CHANNELS, ChannelFacts, ChannelState
from envls.core.conda.split_packages import split_wholes
from envls.core.environment import Environment


def host_subdir() -> str:
    return str(Subdir.current())


def target_platforms(env: Environment, configured: Sequence[str] = ()) -> tuple[str, ...]:
    """The file's `platforms:`, else the configured ones, else the host's subdir."""
    from_file = tuple(e.text.strip() for e in env.platforms if e.text.strip() and e.text.strip() != "noarch")
    if from_file:
        return from_file
    if configured:
        return tuple(configured)
    return (host_subdir(),)


def _state(resolved: ResolvedChannel, infos: Sequence[SubdirInfo]) -> ChannelState:
    if not infos:
        return ChannelState(resolved.given, resolved.name, resolved.urls, "unreachable", "no data")
    unreachable = [i for i in infos if i.state == "unreachable"]
    if unreachable:
        return ChannelState(resolved.given, resolved.name, resolved.urls, "unreachable", unreachable[0].detail)
    # A channel always has noarch (an empty one at least); a platform subdir it lacks reads as empty.
    if all(i.state == "missing" for i in infos) or any(i.state == "missing" and i.subdir == "noarch" for i in infos):
        return ChannelState(resolved.given, resolved.name, resolved.urls, "missing", "no repodata")
    cached = [i for i in infos if i.from_cache]
    if cached:
        stamps = [i.fetched_at for i in cached if i.fetched_at is not None]
        age = max(0.0, _now() - min(stamps)) if stamps else math.inf  # from the cache, of unknown age
        return ChannelState(resolved.given, resolved.name, resolved.urls, "ok", cached[0].detail, from_cache_age=age)
    return ChannelState(resolved.given, resolved.name, resolved.urls, "ok")


def _limited(resolved: ResolvedChannel) -> ChannelState:
    return ChannelState(resolved.given, resolved.name, resolved.urls, "unreachable",
                        f"not fetched: more than {MAX_CHANNELS} channels", limited=True)


def _now() -> float:
    import time

    return time.time()


def spec_names(env: Environment) -> set[str]:
    names = set()
    for entry in env.conda:
        parsed = entry.parsed
        if parsed.name and not parsed.name.startswith("__"):
            names.add(parsed.name)
    return names


async def gather(store: ChannelStore, env: Environment, channels: Sequence[ResolvedChannel], others: Sequence[ResolvedChannel],
                 platforms: Sequence[str], qualified: Sequence[ResolvedChannel] = (),
                 extra_names: Sequence[str] = (), limited: Sequence[ResolvedChannel] = (),
                 limited_qualified: Sequence[ResolvedChannel] = ()) -> ChannelFacts:
    """Facts for ``env``: ``channels`` are the file's, ``qualified`` those named in `channel::package`
    specs, ``others`` the user's configured channels that the file does not use; the ``limited`` ones
    (beyond MAX_CHANNELS) are not fetched, and their state says so."""
    subdirs = [*platforms, "noarch"]
    states: list[ChannelState] = []
    other_states: list[ChannelState] = []
    records: dict[str, list[Any]] = {}
    names_by_channel: dict[str, frozenset[str]] = {}
    named = spec_names(env) | {n.lower() for n in extra_names}
    wanted = named | split_wholes(named)  # their records confirm split packages (`numpy` for `numpy-base`)

    async def one(resolved: ResolvedChannel, into: list[ChannelState]) -> None:
        infos = await store.load(resolved.urls, subdirs)
        state = _state(resolved, infos)
        names_by_channel[resolved.name] = frozenset().union(*(i.names for i in infos))
        for info in infos:
            if info.state != "ok":
                continue
            found = await store.records(info.url, info.subdir, wanted & info.names)
            if found is None:
                state = ChannelState(resolved.given, resolved.name, resolved.urls, "unreachable",
                                     f"its {info.subdir} records could not be read")
                continue
            for name, recs in found.items():
                records.setdefault(name, []).extend(recs)
        into.append(state)

    await asyncio.gather(*(one(c, states) for c in channels), *(one(c, other_states) for c in qualified))
    order = {c.given: i for i, c in enumerate(channels)}
    states.sort(key=lambda s: order.get(s.given, 0))
    states += [_limited(c) for c in limited]  # beyond MAX_CHANNELS (see Plan): not fetched
    other_states += [_limited(c) for c in limited_qualified]
    if named - set(records):
        for resolved in others:
            infos = await store.load(resolved.urls, subdirs)
            other_states.append(_state(resolved, infos))
            names_by_channel[resolved.name] = frozenset().union(*(i.names for i in infos))
    return ChannelFacts(
        channels=tuple(states),
        platforms=tuple(platforms),
        records={k: tuple(v) for k, v in records.items()},
        names=names_by_channel,
        other_channels=tuple(other_states),
        loaded=frozenset(wanted),
    )
