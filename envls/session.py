"""What envls knows about this machine and the user's setup, shared by the server and `envls check`.

A Session holds the slow or stateful sources (the user's conda configuration and tools, channel
data, the CUDA probe, installed environments, solves) and turns them into the snapshots the pure
stages take. `enrich()` never waits: it uses what is loaded (a stat of conda-meta at most); `load()`,
`solve()` and the CUDA probe are the slow parts, awaited in the background by the server, at once by the CLI.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import ChainMap
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from envls.channels.condarc import CondaConfig, load_config
from envls.channels.facts import host_subdir
from envls.channels.service import ChannelService
from envls.channels.store import ChannelStore, default_cache_dir
from envls.core.analysis import Analysis, AnalysisOptions, with_channels
from envls.core.conda.channel_facts import ChannelFacts
from envls.core.conda.drift import InstalledSnapshot
from envls.core.conda.drift_stage import with_drift
from envls.core.cuda.implied import CudaTarget, cuda_target
from envls.core.cuda.stage import with_cuda
from envls.core.environment import Environment
from envls.core.pip.facts import IndexFacts
from envls.core.pip.resolution_facts import PipResolutionFacts
from envls.core.pip.resolution_rules import with_pip_resolution
from envls.core.pip.stage import with_pip
from envls.core.solve.facts import SolveFacts
from envls.core.solve.stage import with_solve
from envls.host.conda_tools import CondaTool, find_conda_tools
from envls.host.cuda import CudaDetection, CudaProbe, driver_and_source
from envls.host.environments import InstalledEnv, find_environment
from envls.host.installed import read_installed, stamp
from envls.pypi.index import IndexClient
from envls.pypi.resolve import PipResolver, ResolveRequest, requests_for
from envls.pypi.service import PipService
from envls.solve.service import SolveService

log = logging.getLogger(__name__)

_FIND_TTL = 10.0  # seconds a found (or missing) environment is remembered between keystrokes


def channel_checks_default(environ: dict[str, str] | None = None) -> bool:
    """Channel checks are on unless ENVLS_CHANNEL_CHECKS=0 (for machines with no channel to reach)."""
    value = (environ if environ is not None else os.environ).get("ENVLS_CHANNEL_CHECKS", "1")
    return value.strip().lower() not in ("0", "false", "no", "off")


def solve_default(environ: dict[str, str] | None = None) -> bool:
    """Solving is on (with the channel checks) unless ENVLS_SOLVE=0."""
    value = (environ if environ is not None else os.environ).get("ENVLS_SOLVE", "1")
    return value.strip().lower() not in ("0", "false", "no", "off")


def solve_timeout_default(environ: dict[str, str] | None = None) -> float:
    """Seconds one solve may take: ENVLS_SOLVE_TIMEOUT, else 10."""
    value = (environ if environ is not None else os.environ).get("ENVLS_SOLVE_TIMEOUT", "")
    try:
        seconds = float(value) if value.strip() else 10.0
    except ValueError:
        log.warning("ignoring ENVLS_SOLVE_TIMEOUT=%r: not a number of seconds", value)
        return 10.0
    return seconds if seconds > 0 else 10.0


def described_target(env: Environment) -> str | None:
    """The environment a file describes: its `prefix:`, else its `name:` (None when it has neither)."""
    return (env.prefix.text if env.prefix else None) or (env.name.text if env.name else None) or None


@dataclass(frozen=True)
class SessionOptions:
    """The settings a session is made from; a change of any of them makes a new session."""

    channel_checks: bool = True
    platforms: tuple[str, ...] = ()
    trusted: bool = True
    cache_dir: str = ""
    channel_refresh_hours: float = 6.0
    cuda_version: str = ""
    conda_path: str = ""
    solve: bool = field(default_factory=solve_default)  # needs channel_checks too
    solve_timeout: float = field(default_factory=solve_timeout_default)
    expand_environment_variables: bool = False  # fill `${VAR}` in a file's index URLs (trusted workspaces only)


class Session:
    def __init__(self, options: SessionOptions) -> None:
        self.options = options
        self._config: CondaConfig | None = None
        self._tools: list[CondaTool] | None = None
        self._channels: ChannelService | None = None
        self._pip: PipService | None = None
        self.cuda_probe = CudaProbe()
        self.probe_watched = False  # the server republishes once the probe answers
        self._installed: dict[str, tuple[object, InstalledSnapshot]] = {}
        self._solver: SolveService | None = None
        self._pip_resolver: PipResolver | None = None
        self._assumed_cuda: CudaDetection | None = None  # what a solve assumed while the probe had no answer
        self._found: dict[tuple[str, Path | None], tuple[float, InstalledEnv | None]] = {}
        # The services are built on first use, which may be on the event loop or in the analysis thread:
        # one lock, so that each is built once (re-entrant: one service asks for another).
        self._lazy_lock = threading.RLock()

    def installed_changed(self) -> bool:
        """True when an environment read before has changed since (conda, mamba or pip touched it);
        a cheap stat of each, for a periodic look while the files are not edited."""
        changed = False
        for prefix, (seen, _) in list(self._installed.items()):
            if stamp(prefix) != seen:
                del self._installed[prefix]
                changed = True
        return changed

    def environments_changed(self) -> None:
        """Forget where environments are (after a create or update): the next look finds them again."""
        self._found.clear()

    # -- the user's setup, read once ------------------------------------------------------

    @property
    def config(self) -> CondaConfig:
        with self._lazy_lock:
            if self._config is None:
                self._config = load_config()
                for problem in self._config.problems:
                    log.warning("conda configuration: %s", problem)
            return self._config

    @property
    def tools(self) -> list[CondaTool]:
        with self._lazy_lock:
            if self._tools is None:
                self._tools = find_conda_tools(self.options.conda_path or None)
                log.info("conda tools: %s", "; ".join(f"{t.kind} {t.path}" for t in self._tools) or "none found")
            return self._tools

    @property
    def channels(self) -> ChannelService | None:
        if not self.options.channel_checks:
            return None
        with self._lazy_lock:
            if self._channels is None:
                cache = Path(self.options.cache_dir) if self.options.cache_dir else None
                store = ChannelStore(cache, refresh_after=self.options.channel_refresh_hours * 3600)
                self._channels = ChannelService(self.config, store, self.options.platforms, self.options.trusted)
            return self._channels

    @property
    def pip(self) -> PipService | None:
        """The package index service (off with the network checks: ENVLS_CHANNEL_CHECKS=0 or channelChecks)."""
        if not self.options.channel_checks:
            return None
        with self._lazy_lock:
            if self._pip is None:
                cache = Path(self.options.cache_dir) if self.options.cache_dir else None
                client = IndexClient(cache, refresh_after=self.options.channel_refresh_hours * 3600)
                self._pip = PipService(client, trusted=self.options.trusted,
                                       expand_environment_variables=self.options.expand_environment_variables)
            return self._pip

    @property
    def solver(self) -> SolveService | None:
        """The solve service (None when solving or the channel checks are off)."""
        channels = self.channels
        if not self.options.solve or channels is None:
            return None
        with self._lazy_lock:
            if self._solver is None:
                self._solver = SolveService(channels, timeout=self.options.solve_timeout)
            return self._solver

    @property
    def pip_resolver(self) -> PipResolver | None:
        """Resolves the pip section on top of the conda solve (off with the solve or the network checks)."""
        if self.pip is None or not self.options.solve:
            return None
        with self._lazy_lock:  # asked from the event loop and from the analysis thread
            if self._pip_resolver is None:
                cache = Path(self.options.cache_dir) if self.options.cache_dir else None
                self._pip_resolver = PipResolver((cache or default_cache_dir()) / "uv")
            return self._pip_resolver

    # -- snapshots ------------------------------------------------------------------------

    def pip_files(self, env: Environment, root: Path | None) -> dict[str, str | None]:
        """The `-r`/`-c`/`-e` files the pip section names (local reads, bounded)."""
        from envls.pypi.facts import read_pip_files

        if not env.pip:
            return {}
        return read_pip_files(env, root, trusted=self.options.trusted)

    def cached_index(self, env: Environment, files: dict[str, str | None]) -> IndexFacts | None:
        service = self.pip
        return service.cached(env, files) if service is not None else None

    def needs_load(self, env: Environment, root: Path | None) -> bool:
        """True when channel or index data that this file needs is not loaded yet (no I/O)."""
        channels, pip = self.channels, self.pip
        if channels is not None and channels.needs_refresh(env, root):
            return True
        return pip is not None and bool(env.pip) and pip.needs_refresh(env, self.pip_files(env, root))

    async def load_all(self, env: Environment, root: Path | None) -> None:
        """Load the channel and index data this file needs."""
        await self.load(env, root)
        pip = self.pip
        if pip is not None and env.pip:
            await pip.facts(env, self.pip_files(env, root))

    def cached_facts(self, env: Environment, root: Path | None) -> ChannelFacts | None:
        service = self.channels
        return service.cached(env, root) if service is not None else None

    async def load(self, env: Environment, root: Path | None, extra_names: tuple[str, ...] = ()) -> ChannelFacts | None:
        service = self.channels
        if service is None:
            return None
        return await service.facts(env, root, extra_names)

    def summaries(self, facts: ChannelFacts | None) -> Mapping[str, str]:
        """Package summaries (channeldata.json) of the file's channels, as far as loaded (the first channel
        that has a package wins); the rest start loading in the background, so a later hover shows them.
        For hover only: never part of the snapshot, never awaited (`envls check` never asks), and not
        downloaded (a conda-forge channeldata.json is tens of MB) for a user who never hovers."""
        service = self.channels
        if service is None or facts is None:
            return {}
        urls = [url for state in facts.channels for url in state.urls]
        for url in urls:
            service.store.load_summaries_soon(url)
        return ChainMap(*(service.store.summaries_at_hand(url) for url in urls))

    def cuda_detection(self) -> CudaDetection | None:
        """The probe's answer when it has one (the server starts it; `envls check` waits for it)."""
        if self.options.cuda_version:
            return None  # the setting decides; no probe needed
        return self.cuda_probe.cached()

    def cuda_target(self, env: Environment) -> CudaTarget | None:
        """The CUDA of the machine the file is for; None until the probe has answered."""
        detection = self.cuda_detection()
        if detection is None and not self.options.cuda_version:
            return None
        driver, source = driver_and_source(detection, self.options.cuda_version)
        return cuda_target(env, driver, source, self.options.platforms, (host_subdir(),))

    def _solve_cuda(self) -> tuple[bool, str | None]:
        """(known, driver): the `__cuda` a solve assumes; not known while the probe has not answered."""
        if self.options.cuda_version:
            return True, driver_and_source(None, self.options.cuda_version)[0]
        detection = self.cuda_probe.cached() or self._assumed_cuda
        if detection is None:
            return False, None
        return True, driver_and_source(detection, "")[0]

    def _solving(self, env: Environment) -> tuple[SolveService, str | None] | None:
        """The solve service and the `__cuda` to assume, when the file can be solved now."""
        solver = self.solver
        known, cuda = self._solve_cuda()
        if solver is None or not known or env.document.top is None:
            return None
        return solver, cuda

    def cached_solve(self, env: Environment, root: Path | None) -> SolveFacts | None:
        """The solve of the file as it is now, when at hand; no I/O."""
        solving = self._solving(env)
        return solving[0].cached(env, root, solving[1]) if solving is not None else None

    def solve_key(self, env: Environment, root: Path | None) -> object | None:
        """What a solve of the file depends on (cheap; for telling whether a running solve is still wanted)."""
        solving = self._solving(env)
        return solving[0].key(env, root, solving[1]) if solving is not None else None

    async def solve(self, env: Environment, root: Path | None) -> SolveFacts | None:
        """Solve the file for its target platforms (loading the channel data it needs); None when solving is off."""
        solver = self.solver
        if solver is None or env.document.top is None:
            return None
        known, cuda = self._solve_cuda()
        if not known:
            self._assumed_cuda = await self.cuda_probe.detection()
            known, cuda = self._solve_cuda()
        return await solver.solve(env, root, cuda)

    def pip_requests(self, env: Environment, root: Path | None,
                     solved: SolveFacts | None = None) -> list[ResolveRequest] | None:
        """What resolving the pip section means now (no I/O); None when it is off or not wanted."""
        pip, channels = self.pip, self.channels
        if pip is None or self.pip_resolver is None or channels is None or not env.pip or env.document.top is None:
            return None
        solved = solved if solved is not None else self.cached_solve(env, root)
        platforms = [s.platform for s in solved.solves] if solved is not None else list(channels.plan(env, root).platforms)
        files = self.pip_files(env, root)
        return requests_for(env, pip.plan(env, files), platforms, solved, files)

    def cached_pip_resolution(self, env: Environment, root: Path | None) -> PipResolutionFacts | None:
        requests = self.pip_requests(env, root)
        resolver = self.pip_resolver
        return resolver.cached(requests) if requests is not None and resolver is not None else None

    async def resolve_pip(self, env: Environment, root: Path | None,
                          solved: SolveFacts | None = None) -> PipResolutionFacts | None:
        """Resolve the pip section for each target platform, on top of ``solved`` (else the cached solve)."""
        requests = self.pip_requests(env, root, solved)
        resolver = self.pip_resolver
        if requests is None or resolver is None:
            return None
        return await resolver.resolve(requests)

    def find_installed(self, target: str, root: Path | None) -> InstalledEnv | None:
        """The installed environment a name or prefix names; remembered for a few seconds, and until
        `environments_changed()` (lenses and drift ask on every request: no disk scan each time)."""
        key = (target, root)
        hit = self._found.get(key)
        if hit is not None and time.monotonic() - hit[0] < _FIND_TTL:
            return hit[1]
        try:
            found = find_environment(target, self.config, self.tools, base_dir=root)
        except OSError as err:
            log.debug("looking for environment %s failed: %s", target, err)
            found = None
        self._found[key] = (time.monotonic(), found)
        return found

    def installed(self, env: Environment, root: Path | None) -> InstalledSnapshot | None:
        """The installed environment the file describes (by name or prefix), re-read when it changed."""
        target = described_target(env)
        found = self.find_installed(target, root) if target else None
        if found is None:
            return None
        current = stamp(found.prefix)
        cached = self._installed.get(found.prefix)
        if cached is not None and cached[0] == current:
            return cached[1]
        snapshot = read_installed(found.prefix)
        self._installed[found.prefix] = (current, snapshot)
        return snapshot

    # -- the stages -----------------------------------------------------------------------

    def enrich(self, analysis: Analysis, root: Path | None, options: AnalysisOptions,
               facts: ChannelFacts | None = None, cuda_ready: bool = True,
               solve_facts: SolveFacts | None = None, pip_resolution: PipResolutionFacts | None = None) -> Analysis:
        """Add the channel, CUDA, drift and solve stages to a fast analysis, from what is at hand."""
        if analysis.document.top is None:
            return analysis
        env = analysis.environment
        facts = facts if facts is not None else self.cached_facts(env, root)
        if facts is not None:
            analysis = with_channels(analysis, facts, options)
        files = self.pip_files(env, root)
        if env.pip:
            analysis = with_pip(analysis, files, self.cached_index(env, files), facts, options)
        target = self.cuda_target(env) if cuda_ready else None
        if target is not None:
            analysis = with_cuda(analysis, target, facts, options)
        try:
            installed = self.installed(env, root)
        except Exception:
            log.exception("reading the installed environment failed")
            installed = None
        if installed is not None:
            analysis = with_drift(analysis, installed, options)
        try:
            solved = solve_facts if solve_facts is not None else self.cached_solve(env, root)
        except Exception:
            log.exception("looking up the solve failed")
            solved = None
        if solved is not None:
            analysis = with_solve(analysis, solved, options)  # it reads the other stages' findings
        try:
            resolved = pip_resolution if pip_resolution is not None else self.cached_pip_resolution(env, root)
        except Exception:
            log.exception("looking up the pip resolution failed")
            resolved = None
        if resolved is not None:
            analysis = with_pip_resolution(analysis, resolved, options)
        return analysis
