"""Channel repodata through py-rattler's gateway: fetching, the on-disk cache, offline use, and freshness.

The store answers per (channel URL, subdir): does it exist, which package names it has, and the
records of given names. HTTP caching, zstd/bz2 and CEP-16 shards are the gateway's; this module
adds what an editor needs on top: failures classified (missing vs unreachable), the cached data
used when a channel cannot be reached (with its age), and a refresh once data is older than a
configurable age. Nothing here blocks a keystroke: callers await it from background tasks.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rattler import Channel, Gateway
from rattler.exceptions import GatewayError

from envls.channels.gateway import Gateways, shared_gateways
from envls.compat.rattler import SubdirState, classify_gateway_error

log = logging.getLogger(__name__)



def default_cache_dir(environ: dict[str, str] | None = None) -> Path:
    """The user's cache folder for envls (XDG_CACHE_HOME honoured; LOCALAPPDATA on Windows)."""
    env = environ if environ is not None else dict(os.environ)
    if env.get("ENVLS_CACHE_DIR"):
        return Path(env["ENVLS_CACHE_DIR"])
    if os.name == "nt" and env.get("LOCALAPPDATA"):
        return Path(env["LOCALAPPDATA"]) / "envls" / "cache"
    base = env.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "envls"


@dataclass(frozen=True)
class SubdirInfo:
    url: str
    subdir: str
    state: SubdirState
    names: frozenset[str] = frozenset()
    detail: str = ""
    fetched_at: float | None = None  # when the data in use was fetched
    from_cache: bool = False  # True when the network failed and the cache answered


class ChannelStore:
    """Repodata for the channels envls checks against, shared by every open document."""

    def __init__(self, cache_dir: Path | None = None, refresh_after: float = 6 * 3600, timeout: float = 20.0,
                 release_after: float = 60.0) -> None:
        self.cache_dir = cache_dir or default_cache_dir()
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        self.refresh_after = refresh_after
        self.timeout = timeout
        # The process's gateways for this cache from now on: the solve and the embedded installer use them too.
        self.gateways: Gateways = shared_gateways(self.cache_dir / "rattler", timeout, fresh=True)
        self._subdirs: dict[tuple[str, str], SubdirInfo] = {}
        self._loading: dict[tuple[str, str], asyncio.Future[SubdirInfo]] = {}
        self._records: dict[tuple[str, str, str], tuple[Any, ...]] = {}
        self._summaries: dict[str, dict[str, str]] = {}
        self._summary_tasks: dict[str, asyncio.Future[dict[str, str]]] = {}
        self._release: asyncio.TimerHandle | None = None
        self.release_after = release_after
        self._stamps_path = self.cache_dir / "fetched.json"
        self._stamps = self._read_stamps()

    @property
    def gateway(self) -> Gateway:
        return self.gateways.online

    @property
    def offline(self) -> Gateway:
        return self.gateways.offline

    # -- freshness bookkeeping -------------------------------------------------------------

    def _read_stamps(self) -> dict[str, float]:
        try:
            data = json.loads(self._stamps_path.read_text(encoding="utf-8"))
            stamps = {str(k): float(v) for k, v in data.items()} if isinstance(data, dict) else {}
        except (OSError, ValueError, TypeError):
            return {}
        now = time.time()
        return {k: v for k, v in stamps.items() if math.isfinite(v) and 0 < v <= now + 60}  # no stamp from the future

    def _stamp(self, url: str, subdir: str) -> None:
        self._stamps[f"{url}|{subdir}"] = time.time()
        try:
            tmp = self._stamps_path.with_suffix(".tmp")
            tmp.write_text(json.dumps(self._stamps), encoding="utf-8")
            tmp.replace(self._stamps_path)
        except OSError as err:
            log.debug("cannot write %s: %s", self._stamps_path, err)

    def fetched_at(self, url: str, subdir: str) -> float | None:
        return self._stamps.get(f"{url}|{subdir}")

    # -- loading ---------------------------------------------------------------------------

    def known(self, url: str, subdir: str) -> SubdirInfo | None:
        """What is already loaded, without any I/O."""
        return self._subdirs.get((url, subdir))

    async def subdir(self, url: str, subdir: str) -> SubdirInfo:
        """Load a subdir's package names (fetching or from the cache); concurrent callers share one load."""
        key = (url, subdir)
        info = self._subdirs.get(key)
        if info is not None and not self._stale(info):
            return info
        pending = self._loading.get(key)
        if pending is None:
            # The load is a task of its own, shared by every waiter: a waiter that gives up (an edit, a
            # completion out of time) never cancels it, and a load that completes is always kept.
            pending = asyncio.ensure_future(self._load_and_keep(key, refresh=info is not None))
            self._loading[key] = pending
            pending.add_done_callback(lambda done: self._loaded(key, done))
        return await asyncio.shield(pending)

    async def _load_and_keep(self, key: tuple[str, str], refresh: bool) -> SubdirInfo:
        info = await self._load(key[0], key[1], refresh=refresh)
        self._subdirs[key] = info
        return info

    def _loaded(self, key: tuple[str, str], done: asyncio.Future[SubdirInfo]) -> None:
        if self._loading.get(key) is done:
            del self._loading[key]
        if not done.cancelled():
            done.exception()  # mark retrieved: the waiters see it, the loop does not log it

    def _stale(self, info: SubdirInfo) -> bool:
        if info.state == "missing":
            return False
        if info.state == "unreachable" or info.from_cache:
            return info.fetched_at is None or time.time() - info.fetched_at > 60
        return info.fetched_at is not None and time.time() - info.fetched_at > self.refresh_after

    async def _load(self, url: str, subdir: str, refresh: bool) -> SubdirInfo:
        channel = Channel(url)
        if refresh:
            self.gateway.clear_repodata_cache(channel, [_subdir(subdir)])
            self._records = {k: v for k, v in self._records.items() if k[:2] != (url, subdir)}
        try:
            result = await asyncio.wait_for(
                self.gateways.run(lambda gateway: gateway.names([channel], [_subdir(subdir)])), self.timeout)
        except (GatewayError, asyncio.TimeoutError, OSError) as err:
            state, detail = classify_gateway_error(err) if not isinstance(err, asyncio.TimeoutError) else ("unreachable", "timed out")
            if state == "missing":
                return SubdirInfo(url, subdir, "missing", detail=detail, fetched_at=time.time())
            log.info("channel %s/%s unreachable: %s", url, subdir, detail)
            return await self._from_cache(url, subdir, detail)
        self._stamp(url, subdir)
        return SubdirInfo(url, subdir, "ok", frozenset(n.normalized for n in result), fetched_at=time.time())

    async def _from_cache(self, url: str, subdir: str, detail: str) -> SubdirInfo:
        try:
            result = await asyncio.wait_for(self.gateways.run(
                lambda gateway: gateway.names([Channel(url)], [_subdir(subdir)]), offline=True), self.timeout)
        except (GatewayError, asyncio.TimeoutError, OSError):
            return SubdirInfo(url, subdir, "unreachable", detail=detail, fetched_at=time.time())
        names = frozenset(n.normalized for n in result)
        # No stamp (a lost or corrupt fetched.json): the age is unknown, and is said so, never "0 s".
        stamp = self.fetched_at(url, subdir)
        return SubdirInfo(url, subdir, "ok", names, detail=detail, fetched_at=stamp, from_cache=True)

    async def records(self, url: str, subdir: str, names: Iterable[str]) -> dict[str, tuple[Any, ...]] | None:
        """The records of ``names`` in one loaded subdir (names it does not have give nothing);
        None when the records could not be read, so that nothing is concluded from their absence."""
        info = await self.subdir(url, subdir)
        if info.state != "ok":
            return {}
        wanted = sorted({n for n in names if n in info.names})
        missing = [n for n in wanted if (url, subdir, n) not in self._records]
        if missing:
            try:
                result = await asyncio.wait_for(self.gateways.run(
                    lambda gateway: gateway.query([Channel(url)], [_subdir(subdir)], missing, recursive=False),
                    offline=info.from_cache), self.timeout)
            except (GatewayError, asyncio.TimeoutError, OSError) as err:
                log.info("loading %s from %s/%s failed: %s", missing, url, subdir, err)
                return None
            found: dict[str, list[Any]] = {n: [] for n in missing}
            for group in result:
                for record in group:
                    found.setdefault(record.name.normalized, []).append(record)
            for name, recs in found.items():
                self._records[(url, subdir, name)] = tuple(recs)
            self._release_later()
        return {n: self._records[(url, subdir, n)] for n in wanted if (url, subdir, n) in self._records}

    def summaries_at_hand(self, url: str) -> dict[str, str]:
        """The summaries already loaded ({} when they are not); never starts I/O."""
        return self._summaries.get(url, {})

    def load_summaries_soon(self, url: str) -> None:
        """Start loading the channel's summaries in the background, once (a channeldata.json can be
        tens of MB: nothing waits for it). Only the server asks; off an event loop this does nothing."""
        if url in self._summaries or url in self._summary_tasks:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._summary_tasks[url] = loop.create_task(self.summaries(url))

    async def summaries(self, url: str) -> dict[str, str]:
        """Package summaries from the channel's `channeldata.json` (name -> one line), cached on disk
        like repodata; {} when the channel has none or cannot be reached."""
        if url in self._summaries:
            return self._summaries[url]
        path = self.cache_dir / "channeldata" / (re.sub(r"[^A-Za-z0-9_.-]+", "_", url) + ".json")
        fresh = path.is_file() and time.time() - path.stat().st_mtime < self.refresh_after
        data: dict[str, str] | None = _read_summaries(path) if fresh else None
        if data is None:
            fetched = await asyncio.to_thread(_fetch_summaries, f"{url.rstrip('/')}/channeldata.json", self.timeout)
            if fetched is not None:
                data = fetched
                try:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_text(json.dumps(data), encoding="utf-8")
                except OSError as err:
                    log.debug("cannot cache %s: %s", path, err)
            else:
                data = _read_summaries(path) or {}  # offline: whatever the cache has
        self._summaries[url] = data
        return data

    async def load(self, urls: Sequence[str], subdirs: Sequence[str]) -> list[SubdirInfo]:
        """Load every (url, subdir) at once."""
        pairs = [(u, s) for u in urls for s in subdirs]
        infos = list(await asyncio.gather(*(self.subdir(u, s) for u, s in pairs)))
        self._release_later()
        return infos

    def _release_later(self) -> None:
        """After a quiet minute, let the gateway drop its in-memory index of the repodata.

        The names and the records envls asked for stay here; what goes is py-rattler's view of whole
        repodata files (hundreds of MB for a conda-forge-size channel without shards). A later query
        reads them again from the disk cache."""
        if self.release_after <= 0:
            return
        if self._release is not None:
            self._release.cancel()
        self._release = asyncio.get_running_loop().call_later(self.release_after, self.release_memory)

    def release_memory(self) -> None:
        self._release = None
        for url in {url for url, _ in self._subdirs}:
            for gateway in (self.gateway, self.offline):
                try:
                    gateway.clear_repodata_cache(Channel(url))
                except Exception as err:  # releasing memory must never break anything
                    log.debug("releasing repodata of %s failed: %s", url, err)


def _fetch_summaries(url: str, timeout: float) -> dict[str, str] | None:
    """GET a channeldata.json (http(s) or file) and keep each package's summary; None on failure."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - channel URLs only
            body = response.read(64 * 1024 * 1024)
        packages = json.loads(body).get("packages", {})
    except (OSError, ValueError, AttributeError, urllib.error.URLError) as err:
        log.debug("no channeldata at %s: %s", url, err)
        return None
    if not isinstance(packages, dict):
        return None
    return {str(name): str(info["summary"]).strip() for name, info in packages.items()
            if isinstance(info, dict) and isinstance(info.get("summary"), str) and info["summary"].strip()}


def _read_summaries(path: Path) -> dict[str, str] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else None


def _subdir(name: str) -> Any:
    """A subdir name as py-rattler's typed API takes it (its stubs list the known names as literals)."""
    return name
