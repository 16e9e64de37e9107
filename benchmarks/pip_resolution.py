"""The pip resolution row, and the measurement that chose its resolver (uv over resolvelib).

A loopback PEP 691 index (tests/index_server.py) serves 60 projects built here: the 20 requirements of the
section, each with 3 releases and a chain of dependencies 2 deep, markers, an extra, a yanked release. After
a first (cold) resolution, each sample is an edit of one pin in the section followed by a new resolution
(envls' in-memory cache misses, the resolver's HTTP/metadata cache is warm), plus the server's debounce.

Both candidates resolve the same cases on the same index:
- uv: `uv pip compile` as envls runs it (envls/pypi/resolve.py), its cache on disk.
- resolvelib (pip's resolver library) with a provider written here: PEP 691 pages and PEP 658 metadata
  files fetched over HTTP and kept in memory (the warm case), markers evaluated for the target Python.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
N_REQUIREMENTS = 20
SECTION_LINES = [f"proj{i:02d}>=1.0" for i in range(N_REQUIREMENTS)]


def populate(server: Any) -> None:
    """proj00..proj19, each needing lib<i>a (which needs lib<i>b); three releases each, the newest yanked
    for every fifth; an extra and a Windows-only marker here and there."""
    for i in range(N_REQUIREMENTS):
        for minor in range(3):
            requires = [f"lib{i:02d}a>={minor}.0", 'winstuff; sys_platform == "win32"']
            extras = ["fast"] if i % 4 == 0 else []
            if extras:
                requires.append(f'lib{i:02d}b[speed]; extra == "fast"')
            yanked = "broken" if i % 5 == 0 and minor == 2 else False
            server.add_wheel(f"proj{i:02d}", f"1.{minor}", ">=3.8", requires=requires, extras=extras, yanked=yanked)
            server.add_wheel(f"lib{i:02d}a", f"{minor}.{i}", requires=[f"lib{i:02d}b>=0.{minor}"])
            server.add_wheel(f"lib{i:02d}b", f"0.{minor}")
    server.add_wheel("winstuff", "1.0")


# -- resolvelib ---------------------------------------------------------------------------------------


class _Provider:
    """A resolvelib provider over a PEP 691 index with PEP 658 metadata, for one target Python."""

    def __init__(self, index: str, python: str, cache: dict[str, Any]) -> None:
        from packaging.markers import default_environment

        self.index = index.rstrip("/")
        self.python = python
        self.cache = cache
        env = dict(default_environment())
        env.update(python_version=".".join(python.split(".")[:2]), python_full_version=python, sys_platform="linux",
                   platform_system="Linux")
        self.environment = env

    def _get(self, url: str, accept: str = "application/vnd.pypi.simple.v1+json") -> bytes:
        found = self.cache.get(url)
        if found is None:
            request = urllib.request.Request(url, headers={"Accept": accept})
            with urllib.request.urlopen(request, timeout=30) as response:
                found = self.cache[url] = response.read()
        return found  # type: ignore[no-any-return]

    def candidates(self, name: str) -> list[tuple[Any, str]]:
        from packaging.specifiers import SpecifierSet
        from packaging.utils import parse_wheel_filename
        from packaging.version import Version

        page = json.loads(self._get(f"{self.index}/{name}/"))
        found = []
        for entry in page["files"]:
            if not entry["filename"].endswith(".whl") or entry.get("yanked"):
                continue
            rp = entry.get("requires-python")
            if rp and Version(self.python) not in SpecifierSet(rp):
                continue
            version = parse_wheel_filename(entry["filename"])[1]
            base = self.index.rsplit("/simple", 1)[0]
            found.append((version, base + entry["url"]))
        return sorted(found, key=lambda c: c[0], reverse=True)

    def dependencies(self, url: str, extras: Iterable[str]) -> list[Any]:
        import email.parser

        from packaging.requirements import Requirement

        message = email.parser.Parser().parsestr(self._get(url + ".metadata", "*/*").decode())
        deps = []
        for text in message.get_all("Requires-Dist") or []:
            requirement = Requirement(text)
            marker = requirement.marker
            if marker is not None and not any(marker.evaluate({**self.environment, "extra": e})
                                              for e in (*extras, "")):
                continue
            requirement.marker = None
            deps.append(requirement)
        return deps


def resolvelib_resolve(index: str, lines: Sequence[str], python: str, cache: dict[str, Any]) -> dict[str, str]:
    """Resolve with resolvelib (the installed one, else pip's vendored copy); raises on a conflict."""
    try:
        import resolvelib
    except ImportError:
        from pip._vendor import resolvelib  # type: ignore[no-redef]
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    source = _Provider(index, python, cache)

    class Candidate:
        def __init__(self, name: str, version: Any, url: str, extras: frozenset[str]) -> None:
            self.name, self.version, self.url, self.extras = name, version, url, extras

    class Provider(resolvelib.AbstractProvider):  # type: ignore[misc, name-defined]
        def identify(self, requirement_or_candidate: Any) -> str:
            extras = sorted(requirement_or_candidate.extras)
            name = str(canonicalize_name(requirement_or_candidate.name))
            return name + (f"[{','.join(extras)}]" if extras else "")

        def get_preference(self, identifier: str, *args: Any, **kwargs: Any) -> Any:
            return identifier

        def find_matches(self, identifier: str, requirements: Mapping[str, Iterator[Any]],
                         incompatibilities: Mapping[str, Iterator[Any]]) -> list[Any]:
            wanted = list(requirements[identifier])
            bad = {c.version for c in incompatibilities[identifier]}
            name = identifier.split("[", 1)[0]
            extras = frozenset(e for r in wanted for e in r.extras)
            return [Candidate(name, v, url, extras) for v, url in source.candidates(name)
                    if v not in bad and all(v in r.specifier for r in wanted)]

        def is_satisfied_by(self, requirement: Any, candidate: Any) -> bool:
            return candidate.version in requirement.specifier

        def get_dependencies(self, candidate: Any) -> list[Any]:
            deps = source.dependencies(candidate.url, candidate.extras)
            if candidate.extras:
                deps.append(Requirement(f"{candidate.name}=={candidate.version}"))
            return deps

    resolver = resolvelib.Resolver(Provider(), resolvelib.BaseReporter())
    result = resolver.resolve([Requirement(line) for line in lines], max_rounds=2000)
    return {c.name: str(c.version) for key, c in result.mapping.items() if "[" not in key}


# -- the measurement --------------------------------------------------------------------------------


def _tests_on_path() -> None:
    tests = str(ROOT / "tests")
    if tests not in sys.path:
        sys.path.insert(0, tests)


def _uv_requests(index_url: str, lines: Sequence[str], python: str) -> list[Any]:
    from envls.core.analysis import analyze
    from envls.core.solve.facts import PlatformSolve, SolvedPackage, SolveFacts
    from envls.pypi.config import PipConfig, plan_indexes
    from envls.pypi.resolve import requests_for

    text = "dependencies:\n  - python\n  - pip\n  - pip:\n" + "".join(f"    - {line}\n" for line in lines)
    env = analyze(text).environment
    solved = SolveFacts((PlatformSolve("linux-64", "solved", packages=(
        SolvedPackage("python", python, "0", "c", "linux-64", "", ""),)),))
    plan = plan_indexes(env, PipConfig(index_url=index_url), environ={}, default="")
    return requests_for(env, plan, ["linux-64"], solved)


def edited(i: int) -> list[str]:
    """The section after edit ``i``: one requirement's lower bound moved."""
    lines = list(SECTION_LINES)
    lines[i % N_REQUIREMENTS] = f"proj{i % N_REQUIREMENTS:02d}>=1.{i % 2},!=1.{1 - i % 2}.99"
    return lines


def measure(samples: int, debounce: float) -> dict[str, Any]:
    """Cold and warm resolution times (ms) of both resolvers on the same section and index; the uv samples
    include the server's debounce."""
    _tests_on_path()
    from index_server import IndexServer

    from envls.pypi.resolve import PipResolver

    python = "3.11.4"
    result: dict[str, Any] = {}
    with IndexServer() as server, tempfile.TemporaryDirectory(prefix="envls-bench-uv-") as cache:
        populate(server)
        resolver = PipResolver(Path(cache))

        def uv_once(lines: Sequence[str]) -> tuple[float, Any]:
            fresh = PipResolver(Path(cache), uv=resolver.uv)  # envls' memory cache misses; uv's disk cache is warm
            started = time.perf_counter()
            facts = asyncio.run(fresh.resolve(_uv_requests(server.url, lines, python)))
            return (time.perf_counter() - started) * 1000, facts.resolutions[0]

        cold, first = uv_once(SECTION_LINES)
        assert first.status == "resolved", first
        warm = [uv_once(edited(i))[0] + debounce * 1000 for i in range(samples)]
        result["uv"] = {"cold_ms": cold, "warm_ms": warm, "packages": len(first.dists)}

        memory: dict[str, Any] = {}
        started = time.perf_counter()
        mapping = resolvelib_resolve(server.url, SECTION_LINES, python, memory)
        rl_cold = (time.perf_counter() - started) * 1000
        rl_warm = []
        for i in range(samples):
            started = time.perf_counter()
            resolvelib_resolve(server.url, edited(i), python, memory)
            rl_warm.append((time.perf_counter() - started) * 1000)
        result["resolvelib"] = {"cold_ms": rl_cold, "warm_ms": rl_warm, "packages": len(mapping),
                                "same_answer": mapping == {d.name: d.version for d in first.dists}}
        conflict = ["proj00>=1.1", *SECTION_LINES[1:], "lib00a==0.0"]  # proj00 1.1 needs lib00a>=1.0; 1.2 is yanked
        started = time.perf_counter()
        try:
            resolvelib_resolve(server.url, conflict, python, memory)
            result["resolvelib"]["conflict"] = "resolved"
        except Exception as err:  # ResolutionImpossible
            result["resolvelib"]["conflict"] = type(err).__name__
        result["resolvelib"]["conflict_ms"] = (time.perf_counter() - started) * 1000
        ms, outcome = uv_once(conflict)
        result["uv"]["conflict"] = outcome.status
        result["uv"]["conflict_ms"] = ms
    return result


if __name__ == "__main__":
    print(json.dumps(measure(int(sys.argv[1]) if len(sys.argv) > 1 else 10, 0.25), indent=2, default=str))
