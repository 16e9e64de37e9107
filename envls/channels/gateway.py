"""The process's py-rattler gateways: one set per cache folder, shared by the channel checks, the solve
and the embedded installer.

Why one: a gateway keeps what it fetched in memory (the sharded index of a subdir, the records it
read), so a solve and an install after the checks fetch nothing again; a second gateway on the same
cache folder would revalidate every cached file with a conditional request.

Why the recovery: py-rattler (0.28) fails when it revalidates a cached sharded index
(`repodata_shards.msgpack.zst`) and the server answers 304 without repeating the validators, as
Python's `http.server` does ("received unexpected status code (304 Not Modified)", conda/rattler#2719).
Its plain `repodata.json` cache handles such an answer. So on that failure the channel is read
without shards from then on, in this process, and the call is made again: it succeeds at once.
"""

from __future__ import annotations

import logging
import re
import weakref
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from rattler import Client, Gateway, SourceConfig

log = logging.getLogger(__name__)
T = TypeVar("T")

# The failure's text names the index it revalidated: <channel>/<subdir>/repodata_shards.msgpack.zst.
_UNVALIDATED_304 = re.compile(
    r"unexpected status code \(304[^)]*\) when fetching (?P<channel>\S+?)/[^/\s]+/repodata_shards\.msgpack\.zst")


class Gateways:
    """A gateway that fetches when its cache is stale (`online`) and one that only reads the cache (`offline`)."""

    def __init__(self, cache_dir: Path, timeout: float = 20.0, without_shards: frozenset[str] = frozenset()) -> None:
        self.cache_dir = cache_dir
        self._client = Client(timeout=int(max(1, timeout)))
        self._without_shards: set[str] = set(without_shards)
        self.online, self.offline = self._build()

    def _build(self) -> tuple[Gateway, Gateway]:
        def gateway(action: str) -> Gateway:
            per_channel = {f"{url}/": SourceConfig(sharded_enabled=False, cache_action=action)  # type: ignore[arg-type]
                           for url in sorted(self._without_shards)}
            return Gateway(cache_dir=self.cache_dir, client=self._client,
                           default_config=SourceConfig(cache_action=action),  # type: ignore[arg-type]
                           per_channel_config=per_channel)

        return gateway("cache-or-fetch"), gateway("force-cache-only")

    @property
    def without_shards(self) -> frozenset[str]:
        """Channels read through their plain repodata because their server's 304s cannot be used."""
        return frozenset(self._without_shards)

    def recover(self, error: BaseException, used: Gateway | None = None) -> bool:
        """True when ``error`` is the failure on a 304 without validators and the channel it names is read
        without shards from now on (make the call again); False for any other error.

        ``used`` is the gateway the call failed with: when the gateways were rebuilt for this channel in the
        meantime (calls for several subdirs fail at once), the call is made again with the new ones."""
        match = _UNVALIDATED_304.search(str(error))
        if match is None:
            return False
        channel = match.group("channel").rstrip("/")
        if channel in self._without_shards:
            return used is not None and used is not self.online and used is not self.offline
        log.info("%s answers conditional requests with a 304 that py-rattler cannot use for its sharded index; "
                 "reading the channel's repodata.json instead", channel)
        self._without_shards.add(channel)
        self.online, self.offline = self._build()
        return True

    async def run(self, call: Callable[[Gateway], Awaitable[T]], *, offline: bool = False) -> T:
        """``call`` with the current gateway, made again after a recovery (once per channel)."""
        while True:
            gateway = self.offline if offline else self.online
            try:
                return await call(gateway)
            except Exception as error:  # GatewayError, SolverError, ...: only the one failure is recovered from
                if not self.recover(error, gateway):
                    raise


_SHARED: weakref.WeakValueDictionary[Path, Gateways] = weakref.WeakValueDictionary()


def shared_gateways(cache_dir: Path, timeout: float = 20.0, *, fresh: bool = False) -> Gateways:
    """The gateways of this process for ``cache_dir`` (py-rattler's repodata cache folder), kept while anyone
    holds them. ``fresh`` makes new ones that replace them (a channel store starts with nothing in memory,
    as a new session would); ``timeout`` applies when they are made."""
    key = Path(cache_dir).absolute()
    previous = _SHARED.get(key)
    found = None if fresh else previous
    if found is None:
        # What was learnt about servers stays: their channels are not tried with shards again.
        found = Gateways(key, timeout, previous.without_shards if previous is not None else frozenset())
        _SHARED[key] = found
    return found
