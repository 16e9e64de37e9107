"""Resolving the pip section on top of the conda side, per target platform, with uv: shared by the server
and `envls check`.

What conda does at `conda env create` is: solve and install the conda dependencies, then run pip on the
`pip:` lines inside that environment. pip keeps an installed distribution that satisfies the requirements
and replaces one that does not. The same is asked of uv here (`uv pip compile`, as pixi resolves PyPI
dependencies on top of a conda solution): the target Python and platform come from the conda solution, and
every Python distribution the solution installs (through the conda <-> PyPI mapping) is a *preference*,
given as the existing output file, so that uv keeps conda's version when it can and replaces it only when a
requirement needs another one, as pip does. Without a conda solution the versions that the conda specs pin
stand in for it.

uv runs as an argument list, never a shell: with `--no-config` and no `UV_*`/`PIP_*` variables, so neither
the user's uv configuration nor the environment chooses other indexes; only the indexes that envls' own pip
plan names are passed (in an untrusted workspace none that the file names), `--no-build` (nothing is built
or executed), `--no-python-downloads`, and its cache under envls' cache folder. Results are cached by
everything the run reads; one run per input is in flight, shared by whoever asks, and cancelled (the
process killed) when nobody waits for it any more.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import sys
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from envls.core.conda.selectors import applies
from envls.core.environment import Environment
from envls.core.pip.lines import included_path, parse_pip_line, requirement_file_lines
from envls.core.pip.mapping import mapping
from envls.core.pip.resolution_facts import PipResolution, PipResolutionFacts, ResolvedDist
from envls.core.pip.rules import MAX_INCLUDE_DEPTH
from envls.core.pip.section import conda_items, index_requirements, pip_items, python_pin
from envls.core.solve.facts import SolveFacts
from envls.pypi.config import IndexPlan
from envls.pypi.uvbin import uv_binary

try:
    import tomllib
except ImportError:  # Python 3.10: sizes are not read
    tomllib = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

CACHE_SIZE = 128
ERROR_TTL = 60.0  # seconds: a run that failed for a reason outside the file is tried again after this
TIMEOUT = 60.0  # seconds one uv run may take

# conda subdir -> uv's --python-platform
PLATFORMS = {
    "linux-64": "x86_64-unknown-linux-gnu",
    "linux-aarch64": "aarch64-unknown-linux-gnu",
    "linux-ppc64le": "powerpc64le-unknown-linux-gnu",
    "osx-64": "x86_64-apple-darwin",
    "osx-arm64": "aarch64-apple-darwin",
    "win-64": "x86_64-pc-windows-msvc",
    "win-arm64": "aarch64-pc-windows-msvc",
}
_NOT_PYTHON = {"python", "pip"}  # pip never replaces the interpreter; pip itself is what runs
_EXACT = re.compile(r"^(?:==?)?([0-9][0-9A-Za-z._+!-]*)$")
_NETWORK = ("failed to fetch", "error sending request", "connection refused", "dns error", "timed out",
            "could not connect", "tcp connect error", "connection reset")
_BUILD = ("--no-build", "no-build", "source distribution", "building source")


@dataclass(frozen=True)
class ResolveRequest:
    """One platform's resolution, fully described: what it is cached by."""

    platform: str
    requirements: tuple[str, ...]  # PEP 508, as normalized by packaging
    requested: tuple[str, ...]  # their canonical names
    indexes: tuple[str, ...]  # the first is the main index
    pre: bool
    python: str
    preferences: tuple[tuple[str, str], ...]  # (canonical name, version) that the conda side installs
    conda_solved: bool
    skip: str = ""
    constraints: tuple[str, ...] = ()  # from `-c` files

    @property
    def key(self) -> tuple[object, ...]:
        return (self.platform, self.requirements, self.indexes, self.pre, self.python, self.preferences, self.skip,
                self.constraints)


def _python_of(solution: Any) -> str:
    return next((p.version for p in solution.packages if p.name == "python"), "")


def _preferences_from_solution(packages: Sequence[Any]) -> dict[str, str]:
    table = mapping()
    found: dict[str, str] = {}
    for package in packages:
        if package.name in _NOT_PYTHON:
            continue
        try:
            version = str(Version(package.version))
        except InvalidVersion:
            continue
        for name in table.pypi_names(package.name):
            found.setdefault(name, version)
    return found


def _preferences_from_specs(env: Environment, platform: str) -> dict[str, str]:
    """What the conda specs pin to one release (`numpy=1.26.4`, `numpy==1.26.4`), by PyPI name."""
    table = mapping()
    found: dict[str, str] = {}
    for item in conda_items(env):
        if item.name in _NOT_PYTHON or applies(item.entry.selector, platform) is False:
            continue
        text = (item.parsed.version or "").strip()
        if text.endswith(".*") and text.count(".") >= 3:
            text = text[:-2]  # `=3.20.3` (fuzzy `3.20.3.*`) pins a release; `=3.20` does not
        match = _EXACT.match(text)
        if match is None or "*" in match.group(1):
            continue
        try:
            version = str(Version(match.group(1)))
        except InvalidVersion:
            continue
        for name in table.pypi_names(item.name):
            found.setdefault(name, version)
    return found


def _from_files(env: Environment, files: Mapping[str, str | None], platform: str) -> tuple[list[Requirement], list[str]]:
    """The requirements and constraints of the `-r`/`-c` files the section names (as read, bounded, by
    envls.pypi.facts.read_pip_files), followed as pip follows them; never a file twice."""
    requirements: list[Requirement] = []
    constraints: list[str] = []
    seen: set[str] = set()

    def follow(including: str | None, argument: str, constraint: bool, depth: int) -> None:
        key = included_path(including, argument)
        text = files.get(key) if key is not None else None
        if key is None or key in seen or not text or depth > MAX_INCLUDE_DEPTH:
            return
        seen.add(key)
        for _, line_text in requirement_file_lines(text):
            line = parse_pip_line(line_text)
            if line.kind == "option" and line.long_option in ("--requirement", "--constraint"):
                follow(key, line.argument or "", constraint or line.long_option == "--constraint", depth + 1)
            elif line.kind == "requirement" and line.requirement is not None and line.requirement.url is None:
                if constraint:
                    constraints.append(str(line.requirement))
                else:
                    requirements.append(line.requirement)

    for item in pip_items(env):
        option = item.line.long_option
        if item.line.kind == "option" and option in ("--requirement", "--constraint") and \
                applies(item.entry.selector, platform) is not False:
            follow(None, item.line.argument or "", option == "--constraint", 1)
    return requirements, constraints


def requests_for(env: Environment, plan: IndexPlan, platforms: Sequence[str], solved: SolveFacts | None,
                 files: Mapping[str, str | None] | None = None) -> list[ResolveRequest]:
    """One request per target platform (pure: the file, the `-r`/`-c` files it names, its index plan and
    the conda solve, if any)."""
    items = index_requirements(env)
    requests = []
    for platform in platforms:
        chosen = [i for i in items if applies(i.entry.selector, platform) is not False]
        included, constraints = _from_files(env, files or {}, platform)
        requirements = tuple([*(str(i.requirement) for i in chosen), *(str(r) for r in included)])
        requested = tuple(dict.fromkeys([*(i.name for i in chosen if i.name),
                                         *(str(canonicalize_name(r.name)) for r in included)]))
        solution = solved.platform(platform) if solved is not None else None
        skip = ""
        if solution is not None and solution.status == "solved":
            python = _python_of(solution)
            preferences = _preferences_from_solution(solution.packages)
            conda_solved = True
        else:
            pin = python_pin(env)
            python = ".".join(str(p) for p in pin[1][-1].release[:2]) if pin is not None else ""
            preferences = _preferences_from_specs(env, platform)
            conda_solved = False
        if not requirements:
            skip = "no pip requirements to resolve from an index"
        elif not plan.indexes:
            skip = "pip uses no index that envls can ask" + (" in an untrusted workspace" if plan.skipped else "")
        elif platform not in PLATFORMS:
            skip = f"the platform {platform} is not one uv resolves for"
        elif not python:
            skip = "the conda side installs no Python" if conda_solved else "the conda dependencies pin no Python version"
        requests.append(ResolveRequest(platform, requirements, requested, tuple(i.url for i in plan.indexes),
                                       plan.pre, python, tuple(sorted(preferences.items())), conda_solved, skip,
                                       tuple(constraints)))
    return requests


class PipResolver:
    """Pip resolutions per file and platform, cached; one run per input in flight."""

    def __init__(self, cache_dir: Path, timeout: float = TIMEOUT, uv: str | None = None) -> None:
        self.cache_dir = cache_dir
        self.timeout = timeout
        self.uv = uv if uv is not None else uv_binary()
        self._cache: OrderedDict[tuple[object, ...], tuple[PipResolution, float | None]] = OrderedDict()
        self._inflight: dict[tuple[object, ...], tuple[asyncio.Future[PipResolution], list[int]]] = {}
        self._lock = threading.Lock()  # the server's analysis thread reads the cache too
        self._gates: dict[int, asyncio.Semaphore] = {}  # per event loop (`envls check` runs one per file)
        self.runs = 0

    def cached(self, requests: Sequence[ResolveRequest]) -> PipResolutionFacts | None:
        found = []
        for request in requests:
            result = self._skipped(request) if request.skip else self._lookup(request.key)
            if result is None:
                return None
            found.append(result)
        return PipResolutionFacts(tuple(found))

    async def resolve(self, requests: Sequence[ResolveRequest]) -> PipResolutionFacts:
        return PipResolutionFacts(tuple(await asyncio.gather(*(self._one(r) for r in requests))))

    def _lookup(self, key: tuple[object, ...]) -> PipResolution | None:
        with self._lock:
            found = self._cache.get(key)
            if found is None:
                return None
            result, expires = found
            if expires is not None and time.monotonic() > expires:
                del self._cache[key]
                return None
            self._cache.move_to_end(key)
            return result

    def _remember(self, key: tuple[object, ...], result: PipResolution) -> None:
        transient = result.status in ("error", "unreachable")
        with self._lock:
            self._cache[key] = (result, time.monotonic() + ERROR_TTL if transient else None)
            while len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)

    @staticmethod
    def _skipped(request: ResolveRequest) -> PipResolution:
        return PipResolution(request.platform, "skipped", requested=request.requested, detail=request.skip,
                             python=request.python, conda_solved=request.conda_solved)

    async def _one(self, request: ResolveRequest) -> PipResolution:
        if request.skip:
            return self._skipped(request)
        key = request.key
        found = self._lookup(key)
        if found is not None:
            return found
        shared = self._inflight.get(key)
        if shared is None:
            started: asyncio.Future[PipResolution] = asyncio.ensure_future(self._run(request))
            shared = self._inflight[key] = (started, [0])

            def settled(done: asyncio.Future[PipResolution]) -> None:
                if self._inflight.get(key, (None,))[0] is done:
                    del self._inflight[key]
                if not done.cancelled() and done.exception() is None:
                    self._remember(key, done.result())

            started.add_done_callback(settled)
        task, waiters = shared
        waiters[0] += 1
        try:
            return await asyncio.shield(task)
        finally:
            waiters[0] -= 1
            if waiters[0] == 0 and not task.done():
                task.cancel()  # nobody waits any more: the uv process is killed

    # -- one run --------------------------------------------------------------------------------

    def _arguments(self, request: ResolveRequest, folder: Path, fmt: str, output: Path) -> list[str]:
        assert self.uv is not None
        args = [self.uv, "pip", "compile", str(folder / "requirements.in"), "--no-config", "--quiet",
                "--python", sys.executable, "--python-version", request.python,
                "--python-platform", PLATFORMS[request.platform], "--no-build", "--no-python-downloads",
                "--index-strategy", "unsafe-best-match",  # pip takes the best candidate over every index
                "--cache-dir", str(self.cache_dir), "--color", "never", "--no-progress",
                "--format", fmt, "--no-header", "--output-file", str(output),
                "--index-url", request.indexes[0]]
        for url in request.indexes[1:]:
            args += ["--extra-index-url", url]
        if request.pre:
            args += ["--prerelease", "allow"]
        if request.constraints:
            args += ["--constraint", str(folder / "constraints.txt")]
        return args

    @staticmethod
    def _environment() -> dict[str, str]:
        """This process's environment without what would point uv or pip elsewhere."""
        environ = {k: v for k, v in os.environ.items() if not k.upper().startswith(("UV_", "PIP_", "VIRTUAL_ENV",
                                                                                      "CONDA_PREFIX"))}
        environ["UV_NO_CONFIG"] = "1"
        return environ

    async def _uv(self, args: list[str], folder: Path) -> tuple[int, str]:
        process = await asyncio.create_subprocess_exec(
            *args, cwd=str(folder), env=self._environment(), stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
        try:
            _, err = await asyncio.wait_for(process.communicate(), self.timeout)
        except BaseException:
            if process.returncode is None:
                process.kill()
                await process.wait()
            raise
        self.runs += 1
        return process.returncode or 0, err.decode("utf-8", errors="replace")

    async def _run(self, request: ResolveRequest) -> PipResolution:
        started = time.perf_counter()

        def outcome(status: Any, **fields: Any) -> PipResolution:
            return PipResolution(request.platform, status, requested=request.requested, python=request.python,
                                 conda_solved=request.conda_solved, seconds=time.perf_counter() - started, **fields)

        if self.uv is None:
            return outcome("skipped", detail="uv is not installed")
        gate = self._gates.setdefault(id(asyncio.get_running_loop()), asyncio.Semaphore(1))  # one run (2 uv) at a time
        async with gate:
            with tempfile.TemporaryDirectory(prefix="envls-pip-") as tmp:
                folder = Path(tmp)
                (folder / "requirements.in").write_text("\n".join(request.requirements) + "\n", encoding="utf-8")
                (folder / "constraints.txt").write_text("".join(f"{c}\n" for c in request.constraints), encoding="utf-8")
                lock, annotated = folder / "pylock.toml", folder / "requirements.txt"
                if request.preferences:  # uv reads the output file it is to replace as preferences
                    lock.write_text('lock-version = "1.0"\ncreated-by = "envls"\n' + "".join(
                        f'\n[[packages]]\nname = "{n}"\nversion = "{v}"\n' for n, v in request.preferences),
                        encoding="utf-8")
                annotated.write_text("".join(f"{n}=={v}\n" for n, v in request.preferences), encoding="utf-8")
                try:
                    (code, err), (_, _) = await asyncio.gather(
                        self._uv(self._arguments(request, folder, "pylock.toml", lock), folder),
                        self._uv(self._arguments(request, folder, "requirements.txt", annotated), folder))
                except asyncio.TimeoutError:  # TimeoutError from 3.11 on; 3.10's wait_for raises this one
                    return outcome("error", detail=f"no answer from uv within {self.timeout:g} s")
                except OSError as error:
                    return outcome("error", detail=f"uv could not be run ({error.strerror or error})")
                if code == 0:
                    return outcome("resolved", dists=self._dists(request, lock, annotated))
                return self._failure(request, err, outcome)

    @staticmethod
    def _failure(request: ResolveRequest, err: str, outcome: Any) -> PipResolution:
        text = "\n".join(line for line in err.splitlines() if not line.startswith("warning:")).strip()
        lower = text.lower()
        if "no solution found" in lower:
            cause = text.split("cause:", 1)[1] if "cause:" in text else text
            cause = cause.split("\nhint:", 1)[0]
            explanation = " ".join(cause.split())
            if any(word in explanation.lower() for word in _BUILD):
                return outcome("skipped", detail="a requirement has no wheel for this platform, only a source "
                                                 "distribution that pip would build")
            words = {str(canonicalize_name(w)) for w in re.findall(r"[A-Za-z0-9][A-Za-z0-9._-]*", explanation)}
            involved = tuple(n for n in request.requested if n in words)
            return outcome("conflict", explanation=explanation, involved=involved)
        first = (text.splitlines() or ["uv failed"])[0].removeprefix("error:").strip()[:300]
        if any(word in lower for word in _NETWORK):
            return outcome("unreachable", detail=first)
        log.info("pip resolution for %s failed: %s", request.platform, first)
        return outcome("error", detail=first)

    @staticmethod
    def _dists(request: ResolveRequest, lock: Path, annotated: Path) -> tuple[ResolvedDist, ...]:
        via = _read_via(annotated.read_text(encoding="utf-8", errors="replace"))
        conda = dict(request.preferences)
        dists = []
        for name, version, size in _read_lock(lock):
            dists.append(ResolvedDist(name, version, size, via.get(name, ()), conda.get(name)))
        return tuple(dists)


def _read_lock(path: Path) -> list[tuple[str, str, int | None]]:
    """(canonical name, version, wheel size) of each package of a pylock.toml."""
    text = path.read_text(encoding="utf-8", errors="replace")
    if tomllib is not None:
        try:
            data = tomllib.loads(text)
        except ValueError:
            data = {}
        found = []
        for package in data.get("packages", []):
            wheels = package.get("wheels") or []
            size = wheels[0].get("size") if wheels and isinstance(wheels[0], dict) else None
            found.append((str(canonicalize_name(str(package.get("name", "")))), str(package.get("version", "")),
                          size if isinstance(size, int) else None))
        return found
    names = re.findall(r'^name = "([^"]+)"\nversion = "([^"]+)"', text, flags=re.MULTILINE)
    return [(str(canonicalize_name(n)), v, None) for n, v in names]


def _read_via(text: str) -> dict[str, tuple[str, ...]]:
    """`# via` annotations of a requirements.txt that uv wrote: who asks for each package."""
    via: dict[str, tuple[str, ...]] = {}
    current: str | None = None
    collecting = False
    for line in text.splitlines():
        stripped = line.strip()
        match = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==", line)
        if match:
            current, collecting = str(canonicalize_name(match.group(1))), False
            continue
        if current is None or not stripped.startswith("#"):
            continue
        body = stripped.lstrip("#").strip()
        if body.startswith("via"):
            body, collecting = body[3:].strip(), True
        if collecting and body:
            asker = "-r" if body.startswith("-r") else str(canonicalize_name(body.split()[0]))
            via[current] = (*via.get(current, ()), asker)
    return via
