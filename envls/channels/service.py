"""Which channel facts an environment file needs, and getting them: shared by the server and `envls check`.

Facts are kept per combination of channel URLs and target platforms; a file whose channels and
platforms did not change reuses them at once (the keystroke path), and a refresh loads only
what is new (records of a package that was just typed).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from envls.channels.condarc import CondaConfig
from envls.channels.facts import gather, spec_names, target_platforms
from envls.channels.names import NODEFAULTS, ResolvedChannel, effective_channels, resolve_channel
from envls.channels.store import ChannelStore
from envls.core.conda.channel_facts import MAX_CHANNELS, ChannelFacts
from envls.core.environment import Environment
from envls.core.rules import is_valid_channel

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Plan:
    """What to load for one file: its channels, the `channel::` ones, and the target platforms."""

    channels: tuple[ResolvedChannel, ...]
    qualified: tuple[ResolvedChannel, ...]
    platforms: tuple[str, ...]
    others: tuple[ResolvedChannel, ...] = ()  # configured channels the file does not use (for hints)
    limited: tuple[ResolvedChannel, ...] = ()  # the file's channels beyond MAX_CHANNELS: never fetched
    limited_qualified: tuple[ResolvedChannel, ...] = ()  # the same for `channel::pkg` channels
    written: tuple[tuple[str, str, tuple[str, ...]], ...] = ()  # see ChannelFacts.written

    @property
    def key(self) -> tuple[tuple[str, ...], ...]:
        return (tuple(u for c in self.channels for u in (c.given, *c.urls)),
                tuple(u for c in self.qualified for u in c.urls), self.platforms,
                tuple(c.given for c in (*self.limited, *self.limited_qualified)))


class ChannelService:
    def __init__(self, config: CondaConfig, store: ChannelStore, platforms: Sequence[str] = (),
                 trusted: bool = True) -> None:
        self.config = config
        self.store = store
        self.platforms = tuple(platforms)
        self.trusted = trusted
        self._facts: dict[object, ChannelFacts] = {}

    def plan(self, env: Environment, root_dir: Path | None) -> Plan:
        given = [e.text.strip() for e in env.channels if is_valid_channel(e.text)]
        channels = [c for c in effective_channels(given or None, self.config, root_dir) if self._allowed(c)]
        seen = {u for c in channels for u in c.urls}
        qualified: list[ResolvedChannel] = []
        for entry in env.conda:
            parsed = entry.parsed
            if parsed.spec is None or parsed.channel is None or not is_valid_channel(parsed.channel):
                continue
            resolved = resolve_channel(parsed.channel, self.config, root_dir)
            if self._allowed(resolved) and not set(resolved.urls) <= seen:
                qualified.append(resolved)
                seen.update(resolved.urls)
        others = []
        for name in self.config.channels:
            for resolved in effective_channels([name, "nodefaults"], self.config, root_dir):
                if self._allowed(resolved) and not set(resolved.urls) & seen:
                    others.append(resolved)
                    seen.update(resolved.urls)
        # At most MAX_CHANNELS are fetched: the file's channels first, then those of `channel::pkg` specs,
        # then configured ones (for did-you-mean hints); the rest are reported once, never fetched.
        budget = max(0, MAX_CHANNELS - len(channels))
        return Plan(tuple(channels[:MAX_CHANNELS]), tuple(qualified[:budget]), target_platforms(env, self.platforms),
                    tuple(others[:max(0, budget - len(qualified))]), tuple(channels[MAX_CHANNELS:]),
                    tuple(qualified[budget:]), self._written(given, root_dir))

    def _written(self, given: Sequence[str], root_dir: Path | None) -> tuple[tuple[str, str, tuple[str, ...]], ...]:
        """The file's channels resolved one by one (no URL dropped as already searched): for duplicate-channel."""
        written = []
        for text in dict.fromkeys(given):
            if text == NODEFAULTS:
                continue
            resolved = resolve_channel(text, self.config, root_dir)
            suffix = f"/{resolved.platform}" if resolved.platform else ""
            written.append((text, resolved.kind, tuple(url + suffix for url in resolved.urls)))
        return tuple(written)

    def _allowed(self, channel: ResolvedChannel) -> bool:
        """In an untrusted workspace only channels of the user's own configuration are contacted."""
        if self.trusted:
            return True
        return channel.kind in ("name", "defaults", "multichannel")

    def cached(self, env: Environment, root_dir: Path | None) -> ChannelFacts | None:
        """Facts for this file's channels and platforms when loaded before; no I/O."""
        plan = self.plan(env, root_dir)
        facts = self._facts.get(plan.key)
        return None if facts is None else self._with_written(plan, facts)

    def _with_written(self, plan: Plan, facts: ChannelFacts) -> ChannelFacts:
        # The key leaves out channels whose URLs an earlier one already covers, so the same data can
        # serve another channel list: only the resolved list is renewed (keeping the memos when unchanged).
        if facts.written != plan.written:
            facts = replace(facts, written=plan.written)
            self._facts[plan.key] = facts
        return facts

    def needs_refresh(self, env: Environment, root_dir: Path | None) -> bool:
        facts = self.cached(env, root_dir)
        if facts is None:
            return True
        return any(facts.pending(name) for name in spec_names(env))

    async def facts(self, env: Environment, root_dir: Path | None, extra_names: Sequence[str] = ()) -> ChannelFacts:
        """Load what ``env`` needs (and the records of ``extra_names``, e.g. a package being completed)."""
        plan = self.plan(env, root_dir)
        previous = self._facts.get(plan.key)
        if previous is not None and not any(previous.pending(n) for n in {*spec_names(env), *extra_names}):
            return self._with_written(plan, previous)
        facts = await gather(self.store, env, plan.channels, plan.others, plan.platforms, plan.qualified, extra_names,
                             plan.limited, plan.limited_qualified)
        facts = replace(facts, written=plan.written)
        self._facts[plan.key] = facts
        return facts
