"""Running py-rattler's solver so that it never blocks the event loop and never runs away.

`rattler.solve` runs on py-rattler's own threads; the event loop only awaits it. Each solve has a time
limit that the solver itself enforces (a solve that explodes, say hundreds of unpinned packages, ends
with "cancelled" when the limit is reached), and the await has a limit of its own on top, for a
repodata fetch that hangs. A caller that goes away (a newer edit) stops waiting at once, but the
solver thread cannot be stopped from Python: it runs on until it finishes or reaches its limit. Such
abandoned solves still hold one of a few slots, so that a burst of edits cannot pile up solver threads;
a new solve waits for a free slot.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import weakref
from collections.abc import Sequence
from typing import Any

import rattler
from rattler import Channel, ChannelPriority, Gateway, GenericVirtualPackage, MatchSpec

log = logging.getLogger(__name__)


class SolveTimeout(Exception):
    """The solve did not finish within its limit."""


class SolveRunner:
    """Bounded py-rattler solves: ``timeout`` seconds each, at most ``slots`` solver threads at once."""

    def __init__(self, timeout: float = 10.0, slots: int = 2, grace: float = 25.0) -> None:
        self.timeout = timeout
        self.slots = slots
        self.grace = grace  # extra seconds for the repodata the solve fetches (not under the solver's limit)
        self.started = 0  # solves started, for tests and logs
        self.abandoned = 0  # solves whose caller stopped waiting before they finished
        self.running = 0
        self._semaphores: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary())

    def _semaphore(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        semaphore = self._semaphores.get(loop)
        if semaphore is None:
            semaphore = self._semaphores[loop] = asyncio.Semaphore(self.slots)
        return semaphore

    async def solve(self, sources: Sequence[str], specs: Sequence[str], gateway: Gateway, platform: str,
                    virtual_packages: Sequence[GenericVirtualPackage],
                    priority: ChannelPriority = ChannelPriority.Strict) -> list[Any]:
        """The records of a solution; SolverError when there is none, SolveTimeout past the limit."""
        semaphore = self._semaphore()
        await semaphore.acquire()
        try:
            # Parsed as conda parses them (leniently: `numpy=1.21.2=py38h20f2e39_0`); given as strings,
            # py-rattler would parse them strictly and refuse forms conda accepts.
            matchspecs = [MatchSpec(spec, strict=False) for spec in specs]
            task = asyncio.ensure_future(rattler.solve(
                [Channel(url) for url in sources], matchspecs, gateway=gateway,
                platforms=[platform, "noarch"],  # type: ignore[list-item]
                virtual_packages=list(virtual_packages), timeout=datetime.timedelta(seconds=self.timeout),
                channel_priority=priority))
        except BaseException:
            semaphore.release()
            raise
        self.started += 1
        self.running += 1
        task.add_done_callback(lambda done: self._finished(semaphore, done))
        try:
            return await asyncio.wait_for(asyncio.shield(task), self.timeout + self.grace)
        except asyncio.TimeoutError:
            self.abandoned += 1
            raise SolveTimeout(f"no answer within {self.timeout + self.grace:g} s") from None
        except asyncio.CancelledError:
            if not task.done():
                self.abandoned += 1
                log.debug("abandoned a solve for %s; it ends by itself within %g s", platform, self.timeout)
            raise

    def _finished(self, semaphore: asyncio.Semaphore, task: asyncio.Future[Any]) -> None:
        self.running -= 1
        semaphore.release()
        if not task.cancelled():
            task.exception()  # an abandoned solve's failure concerns nobody: mark it retrieved
