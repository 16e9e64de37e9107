"""The installer that needs no conda: py-rattler solves, downloads (with a package cache) and links.

The file's channels are resolved as conda resolves them (`.condarc`, channel alias, `defaults`,
`nodefaults`); the solve is for this machine's platform and its virtual packages (`__glibc`,
`__cuda`, ... with conda's `CONDA_OVERRIDE_*`); the packages are downloaded into a package cache
(envls' own, `<cache>/pkgs`, unless told otherwise) and linked into the prefix, which gets
conda-meta (with conda's `history`) so that conda, mamba and VS Code take it for an environment.
Then the `pip:` section runs with the environment's own Python, and the prefix is registered in
`~/.conda/environments.txt`: only a complete environment is ever registered.

Cancel stops the solve, the downloads and the linking; a prefix this action created is then
removed again, as it is after any failure (a failed pip step included). An update cannot be
rolled back: a failed update leaves the environment as far as it got, and says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import rattler
from rattler import (
    Channel,
    GenericVirtualPackage,
    Subdir,
    VirtualPackage,
    VirtualPackageOverrides,
)

from envls.actions.envfile import EnvironmentFile
from envls.actions.pip_step import install_pip_section
from envls.actions.prefix import (
    default_environments_txt,
    history_specs,
    prefix_lock,
    register,
    remove_prefix,
    write_history,
)
from envls.actions.request import ActionError, Cancelled, CancelToken, CreateRequest, Reporter, Result, result_for
from envls.actions.target import Target
from envls.channels.condarc import CondaConfig, load_config
from envls.channels.gateway import shared_gateways
from envls.channels.names import effective_channels, resolve_channel
from envls.channels.store import default_cache_dir
from envls.core.conda.specs import parse_spec

log = logging.getLogger(__name__)
T = TypeVar("T")

BACKEND = "embedded"


@dataclass(frozen=True)
class EmbeddedOptions:
    """Where the embedded backend finds its configuration and keeps its caches (all have defaults)."""

    config: CondaConfig | None = None  # the user's .condarc (load_config()) when None
    cache_dir: Path | None = None  # repodata cache: envls' cache folder (shared with the channel checks)
    package_cache_dir: Path | None = None  # downloaded and extracted packages: <cache_dir>/pkgs
    environments_txt: Path | None = None  # ~/.conda/environments.txt when None
    register: bool = True  # add the new environment to environments_txt
    environ: Mapping[str, str] | None = None  # the environment pip runs with (os.environ when None)
    subdir: str | None = None  # this machine's platform when None
    virtual_packages: Sequence[GenericVirtualPackage] | None = None  # detected (CONDA_OVERRIDE_*) when None


def host_subdir() -> str:
    return str(Subdir.current())


def detect_virtual_packages() -> list[GenericVirtualPackage]:
    return [v.into_generic() for v in VirtualPackage.detect(VirtualPackageOverrides.from_env())]


async def run_embedded(
    request: CreateRequest,
    file: EnvironmentFile,
    target: Target,
    *,
    reporter: Reporter,
    cancel: CancelToken | None = None,
    options: EmbeddedOptions | None = None,
) -> Result:
    """Create (or update) ``target`` from ``file``; ActionError (Cancelled on cancel) when it cannot."""
    opts = options or EmbeddedOptions()
    with prefix_lock(target.prefix):
        return await _Run(request, file, target, reporter, cancel, opts).run()


class _Run:
    def __init__(self, request: CreateRequest, file: EnvironmentFile, target: Target, reporter: Reporter,
                 cancel: CancelToken | None, opts: EmbeddedOptions) -> None:
        self.request = request
        self.file = file
        self.target = target
        self.reporter = reporter
        self.cancel = cancel
        self.opts = opts
        self.prefix = target.prefix
        self.registry = opts.environments_txt if opts.environments_txt is not None else default_environments_txt()
        self.cache_dir = opts.cache_dir or default_cache_dir()
        self.subdir = opts.subdir or host_subdir()

    async def run(self) -> Result:
        config = self.opts.config if self.opts.config is not None else await asyncio.to_thread(load_config)
        channels = self._channels(config)
        specs = self._specs(config)
        locked = await asyncio.to_thread(self._installed) if self.target.exists else []
        records = await self._solve(channels, specs, locked)
        self._check_cancel()
        created_new = not self.target.exists
        try:
            if self.target.exists and self.request.force and not self.request.update:
                self.reporter.progress(f"Removing the existing environment {self.prefix}", 8)
                if not await asyncio.to_thread(remove_prefix, self.prefix, self.registry):
                    raise ActionError(f"could not remove the existing environment {self.prefix}")
                created_new, locked = True, []
            await self._install(records, locked if not created_new else [])
            write_history(self.prefix, [_dist(r) for r in records], specs, self._command())
            self._check_cancel()
            await install_pip_section(self.prefix, self.file.pip_lines, self.file.path, reporter=self.reporter,
                                      cancel=self.cancel, environ=self.opts.environ, percent=90)
            if self.opts.register:
                register(self.prefix, self.registry)
        except BaseException as err:
            if created_new:
                gone = await asyncio.shield(asyncio.to_thread(remove_prefix, self.prefix, self.registry,
                                                              keep_folder=self.target.empty_folder))
                if isinstance(err, ActionError) and gone:
                    err.message += f"\n(the half-made environment {self.prefix} was removed)"
                    err.args = (err.message,)
            elif isinstance(err, ActionError):
                err.message += f"\n(the environment {self.prefix} may be partly updated)"
                err.args = (err.message,)
            raise
        self.reporter.progress("Done", 100)
        return result_for(self.prefix, BACKEND)

    # -- inputs ------------------------------------------------------------------------------

    def _channels(self, config: CondaConfig) -> list[Channel]:
        resolved = effective_channels(self.file.channels, config, self.file.path.parent)
        urls = list(dict.fromkeys(url for channel in resolved for url in channel.urls))
        if not urls:
            raise ActionError("no channels to install from: the file lists none (or only `nodefaults`) "
                              "and your conda configuration has none")
        return [Channel(url) for url in urls]

    def _specs(self, config: CondaConfig) -> list[str]:
        specs = [self._with_channel_url(text, config) for text in self.file.conda_specs]
        if self.request.update and not self.request.prune:
            # Keep what earlier revisions asked for: a plain update only adds and changes.
            named = {parse_spec(s).name for s in specs}
            for old in history_specs(self.prefix):
                name = parse_spec(old).name
                if name and name not in named:
                    specs.append(name)
                    named.add(name)
        return specs

    def _with_channel_url(self, text: str, config: CondaConfig) -> str:
        """`conda-forge::numpy` with the channel as the URL it resolves to, so the solver matches it."""
        parsed = parse_spec(text)
        if parsed.channel is None or "::" not in text:
            return text
        channel, _, rest = text.partition("::")
        urls = resolve_channel(channel.strip(), config, self.file.path.parent).urls
        return f"{urls[0]}::{rest.strip()}" if len(urls) == 1 else text

    def _installed(self) -> list[rattler.PrefixRecord]:
        records = []
        for path in sorted((self.prefix / "conda-meta").glob("*.json")):
            try:
                records.append(rattler.PrefixRecord.from_path(path))
            except Exception as err:  # py-rattler raises its own types for a damaged record
                log.warning("skipping %s: %s", path, err)
        return records

    def _command(self) -> str:
        verb = "update" if self.request.update else "create"
        return f"envls {verb} -f {self.file.path} -p {self.prefix}"

    # -- steps -------------------------------------------------------------------------------

    async def _solve(self, channels: list[Channel], specs: list[str],
                     locked: list[rattler.PrefixRecord]) -> list[rattler.RepoDataRecord]:
        self.reporter.progress(f"Solving {len(specs)} specs for {self.subdir}", 5)
        virtual = (list(self.opts.virtual_packages) if self.opts.virtual_packages is not None
                   else await asyncio.to_thread(detect_virtual_packages))
        # The channel checks' gateways when they run in this process: what they fetched is not fetched again.
        gateways = shared_gateways(self.cache_dir / "rattler")
        try:
            # Parsed here, leniently as conda reads them: py-rattler's solve would parse the strings strictly
            # and reject `name=version=build`, the form every `conda env export` writes.
            match_specs = [rattler.MatchSpec(spec, strict=False) for spec in specs]
            records = await self._cancellable(gateways.run(lambda gateway: rattler.solve(
                channels, match_specs, gateway=gateway, platforms=[self.subdir, "noarch"],  # type: ignore[list-item]
                virtual_packages=virtual, locked_packages=list(locked) or None)))
        except (ActionError, asyncio.CancelledError):
            raise
        except Exception as err:  # SolverError, GatewayError, ...: their text is the explanation
            raise ActionError(f"could not solve the environment for {self.subdir}:\n{_text(err)}") from None
        self.reporter.log(f"solved: {len(records)} packages")
        return list(records)

    async def _install(self, records: list[rattler.RepoDataRecord], installed: list[rattler.PrefixRecord]) -> None:
        progress = _InstallProgress(self.reporter, asyncio.get_running_loop(), len(records))
        self.reporter.progress(f"Downloading {len(records)} packages", 10)
        package_cache = self.opts.package_cache_dir or (self.cache_dir / "pkgs")
        tagged = (self.prefix / _CACHE_TAG).exists()
        try:
            self.prefix.parent.mkdir(parents=True, exist_ok=True)
            await self._cancellable(rattler.install(
                records, self.prefix, cache_dir=package_cache, installed_packages=installed or None,
                show_progress=False, reporter=progress, execute_link_scripts=False))
        except (ActionError, asyncio.CancelledError):
            raise
        except OSError as err:
            raise ActionError(f"installing into {self.prefix} failed: {err.strerror or err}") from None
        except Exception as err:  # InstallerError, TransactionError, LinkError, ...
            raise ActionError(f"installing into {self.prefix} failed:\n{_text(err)}") from None
        if not (self.prefix / "conda-meta").is_dir():
            (self.prefix / "conda-meta").mkdir(parents=True)
        if not tagged:
            _drop_cache_tag(self.prefix)

    async def _cancellable(self, awaitable: Awaitable[T]) -> T:
        task = asyncio.ensure_future(awaitable)
        if self.cancel is None:
            return await task
        waiter = asyncio.ensure_future(self.cancel.wait())
        try:
            await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            task.cancel()
            raise
        finally:
            waiter.cancel()
        if task.done():
            return task.result()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        raise Cancelled("cancelled")

    def _check_cancel(self) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise Cancelled("cancelled")


class _InstallProgress:
    """py-rattler's installer callbacks turned into "Downloading N of M" and "Linking N of M".

    The callbacks may come from the installer's worker threads: everything is handed to the event
    loop, whose thread is the only one that talks to the reporter.
    """

    def __init__(self, reporter: Reporter, loop: asyncio.AbstractEventLoop, total: int) -> None:
        self.reporter = reporter
        self.loop = loop
        self.total = max(total, 1)
        self.cached = 0
        self.linked = 0
        self.names: dict[int, str] = {}
        self.received: dict[int, int] = {}
        self.sizes: dict[int, int] = {}
        self.shown_at = 0.0
        self.lock = threading.Lock()

    def _post(self, message: str, percent: int) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closing: nobody is listening
            self.loop.call_soon_threadsafe(self.reporter.progress, message, percent)

    def on_transaction_start(self, total_operations: int) -> None:
        with self.lock:
            self.total = max(total_operations, 1)

    def on_populate_cache_start(self, operation: int, package_name: str) -> int:
        with self.lock:
            self.names[operation] = package_name
        return operation

    def on_populate_cache_complete(self, cache_entry: int) -> None:
        with self.lock:
            self.cached += 1
            count, total = self.cached, self.total
        self._post(f"Downloading {count} of {total} packages{self._bytes()}", 10 + 50 * count // total)

    def _bytes(self) -> str:
        """", 3.1 of 12.0 MB" while something was downloaded (a warm cache downloads nothing)."""
        with self.lock:
            received, size = sum(self.received.values()), sum(self.sizes.values())
        if not received:
            return ""
        return f", {received / 1e6:.1f} of {max(size, received) / 1e6:.1f} MB"

    def on_link_start(self, operation: int, package_name: str) -> int:
        return operation

    # The rest of py-rattler's InstallerReporter protocol: nothing to show.
    def on_transaction_operation_start(self, operation: int) -> None:
        pass

    def on_validate_start(self, cache_entry: int) -> int:
        return cache_entry

    def on_validate_complete(self, validate_idx: int) -> None:
        pass

    def on_download_start(self, cache_entry: int) -> int:
        return cache_entry

    def on_download_progress(self, download_idx: int, progress: int, total: int | None) -> None:
        now = time.monotonic()
        with self.lock:
            self.received[download_idx] = progress
            if total:
                self.sizes[download_idx] = total
            due = now - self.shown_at >= 0.2
            if due:
                self.shown_at = now
            count, all_ = self.cached, self.total
        if due:
            self._post(f"Downloading {count} of {all_} packages{self._bytes()}", 10 + 50 * count // all_)

    def on_download_completed(self, download_idx: int) -> None:
        pass

    def on_unlink_start(self, operation: int, package_name: str) -> int:
        return operation

    def on_unlink_complete(self, index: int) -> None:
        pass

    def on_transaction_operation_complete(self, operation: int) -> None:
        pass

    def on_transaction_complete(self) -> None:
        pass

    def on_post_link_start(self, package_name: str, script_path: str) -> int:
        return 0

    def on_post_link_complete(self, index: int, success: bool) -> None:
        pass

    def on_pre_unlink_start(self, package_name: str, script_path: str) -> int:
        return 0

    def on_pre_unlink_complete(self, index: int, success: bool) -> None:
        pass

    def on_link_complete(self, index: int) -> None:
        with self.lock:
            self.linked += 1
            count, total = self.linked, self.total
            name = self.names.get(index, "")
        self._post(f"Linking {count} of {total} packages{f' ({name})' if name else ''}", 60 + 25 * count // total)


def _dist(record: rattler.RepoDataRecord) -> str:
    channel = str(record.channel or "").rstrip("/")
    return f"{channel}/{record.subdir}::{record.name.normalized}-{record.version}-{record.build}"


def _text(err: BaseException) -> str:
    return str(err).strip() or type(err).__name__


# rattler (since conda/rattler#2011) marks every prefix it installs into as a cache (CACHEDIR.TAG), which
# makes backup tools skip the environment. conda and mamba environments carry no such tag; only caches should.
_CACHE_TAG = "CACHEDIR.TAG"
_CACHE_TAG_SIGNATURE = b"Signature: 8a477f597d28d172789f06886806bc55"


def _drop_cache_tag(prefix: Path) -> None:
    """Remove the CACHEDIR.TAG the installer just put into ``prefix`` (a tag's signature, not a package's file)."""
    tag = prefix / _CACHE_TAG
    try:
        if tag.is_file() and not tag.is_symlink():
            with tag.open("rb") as handle:
                if handle.read(len(_CACHE_TAG_SIGNATURE)) == _CACHE_TAG_SIGNATURE:
                    tag.unlink()
    except OSError as err:
        log.warning("could not remove %s: %s", tag, err)
