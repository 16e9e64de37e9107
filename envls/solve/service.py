"""Solving an environment file's conda dependencies for each target platform: shared by the server and `envls check`.

The file's channels are those the channel stage resolves (its Plan: `.condarc`, `defaults`, `nodefaults`,
`channel::package`); its platforms are the file's `platforms:` (else the setting, else this machine's);
each platform gets its own specs (selectors applied) and virtual packages. A solve is cached by all of
that plus the state of the repodata (when each subdir was fetched), so an edit that changes nothing of it
(a comment, the name, the pip section) costs nothing, and going back to an earlier text is a cache hit.

Strict channel priority first, as mamba and pixi solve; when that fails with several channels, flexible
priority (conda's default) too: a file is reported unsolvable only when it fails both ways. For a file
that does not solve, the conflict is narrowed down by solving subsets of its specs (the specs the
explanation names first), within the same time limit, so the finding lands on the specs that conflict.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rattler import ChannelPriority, GenericVirtualPackage
from rattler.exceptions import SolverError

from envls.channels.facts import host_subdir
from envls.channels.names import ResolvedChannel, effective_channels, resolve_channel
from envls.channels.service import ChannelService, Plan
from envls.compat.rattler import solve_timed_out
from envls.core.conda.channel_facts import MAX_CHANNELS
from envls.core.conda.selectors import applies
from envls.core.conda.specs import ParsedSpec, parse_spec
from envls.core.environment import Environment
from envls.core.rules import is_valid_channel
from envls.core.solve.explain import mentioned
from envls.core.solve.facts import PlatformSolve, SolvedPackage, SolveFacts
from envls.solve import virtual
from envls.solve.runner import SolveRunner, SolveTimeout

log = logging.getLogger(__name__)

CACHE_SIZE = 256
ERROR_TTL = 60.0  # seconds: a solve that failed for a reason outside the file (a channel) is tried again after this


@dataclass(frozen=True)
class SolveRequest:
    """One platform's solve, fully described: what it is cached by."""

    platform: str
    specs: tuple[str, ...]  # as written in the file (stripped)
    solver_specs: tuple[str, ...]  # the same, `channel::` turned into the channel's URL
    sources: tuple[str, ...]  # channel URLs, highest priority first
    virtual: tuple[str, ...]  # `name=version=build`, sorted
    state: tuple[tuple[str, str, str, float | None, bool], ...]  # (url, subdir, state, fetched at, from cache)
    cuda: str | None = None
    skip: str = ""  # why this platform is not solved (then nothing else matters)
    packages: tuple[GenericVirtualPackage, ...] = field(default=(), compare=False, repr=False)
    channel_names: tuple[tuple[str, str], ...] = field(default=(), compare=False, repr=False)

    @property
    def key(self) -> tuple[object, ...]:
        return (self.platform, self.specs, self.solver_specs, self.sources, self.virtual, self.state, self.skip)

    @property
    def offline(self) -> bool:
        return any(item[4] for item in self.state)


class SolveUnavailable(Exception):
    """The file cannot be described as a solve yet (its channel data is not loaded)."""


class SolveService:
    """Solves per file and platform, cached; one in-flight solve per input, shared by whoever asks."""

    def __init__(self, channels: ChannelService, timeout: float = 10.0, runner: SolveRunner | None = None) -> None:
        self.channels = channels
        self.store = channels.store
        self.timeout = timeout
        self.runner = runner or SolveRunner(timeout, grace=self.store.timeout + 5)
        self._cache: OrderedDict[tuple[object, ...], tuple[PlatformSolve, float | None]] = OrderedDict()
        self._lock = threading.Lock()
        self._inflight: dict[tuple[object, ...], _Shared] = {}
        self.hits = 0

    # -- describing the solve (no I/O) ---------------------------------------------------------

    def requests(self, env: Environment, root: Path | None, cuda: str | None,
                 plan: Plan | None = None) -> list[SolveRequest] | None:
        """One request per target platform; None while the repodata or this machine's virtual packages
        are not known yet (``solve`` loads them)."""
        plan = plan or self.channels.plan(env, root)
        config = self.channels.config
        given = [e.text.strip() for e in env.channels if is_valid_channel(e.text)]
        every = effective_channels(given or None, config, root)
        resolved: list[ResolvedChannel] = [*plan.channels, *plan.qualified]
        sources = tuple(dict.fromkeys(u for c in resolved for u in c.urls))  # as the store knows them
        names = tuple((u.rstrip("/"), c.name) for c in resolved for u in c.urls)
        common_skip = ""
        if plan.limited or plan.limited_qualified:
            common_skip = f"the file names more than {MAX_CHANNELS} channels, and envls fetches only that many"
        elif len(every) > len(plan.channels):
            left = [c.given for c in every if c not in plan.channels]
            common_skip = (f"the workspace is not trusted, so `{left[0]}` is not contacted" if left
                           else "some channels are not contacted in an untrusted workspace")
        elif not sources:
            common_skip = "no channels to solve from"
        requests = []
        for platform in plan.platforms:
            specs: list[str] = []
            solver_specs: list[str] = []
            skip = common_skip
            for entry in env.conda:
                if applies(entry.selector, platform) is False:
                    continue
                text = entry.text.strip()
                parsed = entry.parsed
                if parsed.spec is None:
                    continue  # the fast stage reports it; the rest still solves
                solver_spec = self._solver_spec(text, parsed, root)
                if solver_spec is None:
                    skip = skip or f"`{text}` names a channel that is not contacted in an untrusted workspace"
                    continue
                specs.append(text)
                solver_specs.append(solver_spec)
            if not specs:
                skip = skip or "no conda dependencies"
            state = self._state(sources, platform)
            if state is None and not skip:
                return None
            skip = skip or self._unusable(state or ())
            packages = self._virtual(platform, cuda)
            if packages is None and not skip:
                return None
            requests.append(SolveRequest(platform, tuple(specs), tuple(solver_specs), sources,
                                         virtual.key(packages or ()), state or (), cuda, skip, packages or (), names))
        return requests

    def _solver_spec(self, text: str, parsed: ParsedSpec, root: Path | None) -> str | None:
        """`channel::package` with the channel as its URL, so that the solver matches it; None when not allowed."""
        if "::" not in text or parsed.channel is None:
            return text
        channel, _, rest = text.partition("::")
        resolved = resolve_channel(channel.strip(), self.channels.config, root)
        if not self.channels.trusted and resolved.kind not in ("name", "defaults", "multichannel"):
            return None
        if len(resolved.urls) == 1:
            return f"{resolved.urls[0].rstrip('/')}::{rest.strip()}"
        # A multichannel (`defaults::numpy`): any of its channels will do, which the spec cannot say; without
        # the channel the solver may take the package from another of the file's channels, never refuse it.
        return rest.strip()

    def _state(self, sources: Sequence[str], platform: str) -> tuple[tuple[str, str, str, float | None, bool], ...] | None:
        state = []
        for url in sources:
            for subdir in (platform, "noarch"):
                info = self.store.known(url, subdir)
                if info is None:
                    return None
                state.append((url, subdir, info.state, info.fetched_at, info.from_cache))
        return tuple(state)

    @staticmethod
    def _unusable(state: Sequence[tuple[str, str, str, float | None, bool]]) -> str:
        for url, subdir, kind, _, _ in state:
            if kind == "unreachable":
                return f"the channel {url} could not be reached"
            if kind == "missing" and subdir == "noarch":
                return f"the channel {url} does not exist"  # every channel has noarch (as the channel stage reads it)
        return ""

    @staticmethod
    def _virtual(platform: str, cuda: str | None) -> tuple[GenericVirtualPackage, ...] | None:
        if platform == host_subdir():
            return virtual.host_detected(cuda)
        return virtual.other_platform(platform, cuda)

    # -- answers --------------------------------------------------------------------------------

    def cached(self, env: Environment, root: Path | None, cuda: str | None) -> SolveFacts | None:
        """The facts for the file as it is now, when every platform's solve is at hand; no I/O."""
        requests = self.requests(env, root, cuda)
        if requests is None:
            return None
        solves = []
        for request in requests:
            found = self._skipped(request) if request.skip else self._lookup(request.key)
            if found is None:
                return None
            solves.append(found)
        return SolveFacts(tuple(solves))

    def key(self, env: Environment, root: Path | None, cuda: str | None) -> tuple[object, ...]:
        """What a solve of the file now depends on, cheaply (for a scheduler: is this the same solve?)."""
        plan = self.channels.plan(env, root)
        specs = tuple((e.text.strip(), e.selector) for e in env.conda)
        return (plan.key, specs, cuda)

    async def solve(self, env: Environment, root: Path | None, cuda: str | None) -> SolveFacts:
        """Solve every target platform (cached ones are not solved again); cancel stops waiting."""
        plan = self.channels.plan(env, root)
        urls = list(dict.fromkeys(u for c in (*plan.channels, *plan.qualified) for u in c.urls))
        if urls:
            await self.store.load(urls, [*plan.platforms, "noarch"])
        if host_subdir() in plan.platforms and virtual.host_detected(cuda) is None:
            await asyncio.to_thread(virtual.detect_host, cuda)
        requests = self.requests(env, root, cuda, plan)
        if requests is None:
            raise SolveUnavailable("the channel data for this file could not be loaded")
        solves = await asyncio.gather(*(self._one(r) for r in requests))
        return SolveFacts(tuple(solves))

    def _lookup(self, key: tuple[object, ...]) -> PlatformSolve | None:
        with self._lock:  # the server's analysis thread reads the cache too
            found = self._cache.get(key)
            if found is None:
                return None
            solve, expires = found
            if expires is not None and time.monotonic() > expires:
                del self._cache[key]
                return None
            self._cache.move_to_end(key)
            return solve

    def _remember(self, key: tuple[object, ...], solve: PlatformSolve) -> None:
        expires = time.monotonic() + ERROR_TTL if solve.status == "error" else None
        with self._lock:
            self._cache[key] = (solve, expires)
            self._cache.move_to_end(key)
            while len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)

    @staticmethod
    def _skipped(request: SolveRequest) -> PlatformSolve:
        return PlatformSolve(request.platform, "skipped", request.specs, detail=request.skip, cuda=request.cuda,
                             virtual_packages=request.virtual)

    async def _one(self, request: SolveRequest) -> PlatformSolve:
        if request.skip:
            return self._skipped(request)
        key = request.key
        found = self._lookup(key)
        if found is not None:
            self.hits += 1
            return found
        shared = self._inflight.get(key)
        if shared is None:
            task = asyncio.ensure_future(self._run(request))
            shared = self._inflight[key] = _Shared(task)
            task.add_done_callback(lambda done: self._settled(key, done))
        shared.waiters += 1
        try:
            return await asyncio.shield(shared.task)
        finally:
            shared.waiters -= 1
            if shared.waiters == 0 and not shared.task.done():
                shared.task.cancel()  # nobody waits any more: stop narrowing down a conflict

    def _settled(self, key: tuple[object, ...], task: asyncio.Future[PlatformSolve]) -> None:
        if self._inflight.get(key) is not None and self._inflight[key].task is task:
            del self._inflight[key]
        if task.cancelled():
            return
        if task.exception() is None:
            self._remember(key, task.result())

    # -- one platform ---------------------------------------------------------------------------

    async def _attempt(self, request: SolveRequest, specs: Sequence[str],
                       priority: ChannelPriority) -> list[Any] | BaseException:
        """The records of a solution, or the exception that says why there is none."""
        try:
            return await self.store.gateways.run(
                lambda gateway: self.runner.solve(request.sources, specs, gateway, request.platform, request.packages,
                                                  priority), offline=request.offline)
        except asyncio.CancelledError:
            raise
        except Exception as err:  # SolverError, GatewayError, SolveTimeout, ...: sorted out by the caller
            return err

    async def _run(self, request: SolveRequest) -> PlatformSolve:
        started = time.perf_counter()

        def outcome(**fields: Any) -> PlatformSolve:
            return PlatformSolve(request.platform, specs=request.specs, cuda=request.cuda,
                                 virtual_packages=request.virtual, seconds=time.perf_counter() - started, **fields)

        result = await self._attempt(request, request.solver_specs, ChannelPriority.Strict)
        priority = ChannelPriority.Strict
        if isinstance(result, SolverError) and not solve_timed_out(result) and len(request.sources) > 1:
            flexible = await self._attempt(request, request.solver_specs, ChannelPriority.Flexible)
            if not isinstance(flexible, BaseException):
                return outcome(status="solved", packages=self._packages(request, flexible), priority="flexible")
            if isinstance(flexible, SolverError):
                result, priority = flexible, ChannelPriority.Flexible
        if not isinstance(result, BaseException):
            return outcome(status="solved", packages=self._packages(request, result))
        if isinstance(result, SolveTimeout) or (isinstance(result, SolverError) and solve_timed_out(result)):
            return outcome(status="timeout", detail=f"no answer within {self.timeout:g} s")
        if not isinstance(result, SolverError):
            detail = (str(result).strip().splitlines() or [type(result).__name__])[0][:200]
            log.info("solving for %s failed: %s", request.platform, detail)
            return outcome(status="error", detail=detail)
        involved, explanation = await self._involved(request, str(result).strip(), priority, started)
        return outcome(status="unsatisfiable", explanation=explanation, involved=involved)

    async def _involved(self, request: SolveRequest, explanation: str, priority: ChannelPriority,
                        started: float) -> tuple[tuple[str, ...], str]:
        """A small set of the file's specs that fails on its own, and the solver's explanation for that set:
        the specs the explanation names, when they fail without the others, then one spec after another
        left out while the rest still fails."""
        named_packages = mentioned(explanation)
        pairs = list(zip(request.specs, request.solver_specs, strict=True))
        named = [p for p in pairs if parse_spec(p[0]).name in named_packages]
        deadline = started + self.timeout
        last = explanation

        async def fails(subset: Sequence[tuple[str, str]]) -> bool | None:
            nonlocal last
            if time.perf_counter() > deadline:
                return None
            result = await self._attempt(request, [s for _, s in subset], priority)
            if not isinstance(result, BaseException):
                return False
            if isinstance(result, SolverError) and not solve_timed_out(result):
                last = str(result).strip()
                return True
            return None

        if named and len(named) < len(pairs) and await fails(named):
            current = named
            explained = last
        else:  # the whole file fails; the specs the explanation does not name are left out first
            current = [p for p in pairs if p not in named] + [p for p in pairs if p in named]
            explained = explanation
        complete = True
        for pair in list(current):
            if len(current) == 1:
                break
            verdict = await fails([p for p in current if p is not pair])
            if verdict is None:
                complete = False
                break
            if verdict:
                current = [p for p in current if p is not pair]
                explained = last
        if not complete and named:
            narrowed = [p for p in current if p in named]
            if narrowed and narrowed != current:
                current, explained = narrowed, explanation
        return tuple(p[0] for p in pairs if any(p is c for c in current)), explained  # in the file's order

    @staticmethod
    def _packages(request: SolveRequest, records: Sequence[Any]) -> tuple[SolvedPackage, ...]:
        names = dict(request.channel_names)
        packages = []
        for record in records:
            url = str(record.channel or "").rstrip("/")
            md5, sha256 = record.md5, record.sha256
            packages.append(SolvedPackage(
                name=record.name.normalized, version=str(record.version), build=str(record.build),
                channel=names.get(url, url), subdir=str(record.subdir), url=str(record.url),
                file_name=str(record.file_name), size=record.size,
                md5=md5.hex() if md5 else None, sha256=sha256.hex() if sha256 else None,
                depends=tuple(record.depends), record=record))
        return tuple(packages)


class _Shared:
    """A solve in flight and how many callers wait for it."""

    def __init__(self, task: asyncio.Future[PlatformSolve]) -> None:
        self.task = task
        self.waiters = 0
