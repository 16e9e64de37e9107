"""Resolving the pip section with uv on top of the conda side, against a real PEP 503/691 index on 127.0.0.1
with PEP 658 metadata files (tests/index_server.py), with wheels built here: dependency chains, conflicting
pins, Requires-Python, markers, extras, yanked releases, local versions from an extra index; and through
`envls check` on top of a real conda solve from the loopback channel server.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from channel_server import CHANNELS, ChannelServer
from index_server import IndexServer
from pip_support import yaml
from test_channels_cli import ENVLS, environ

from envls.core.analysis import Analysis, analyze
from envls.core.pip.resolution_facts import PipResolutionFacts
from envls.core.pip.resolution_rules import PIP_RESOLUTION_CODES, lens_title, with_pip_resolution
from envls.core.solve.facts import PlatformSolve, SolvedPackage, SolveFacts
from envls.pypi.config import PipConfig
from envls.pypi.index import IndexClient
from envls.pypi.resolve import PipResolver, requests_for
from envls.pypi.service import PipService
from envls.pypi.uvbin import uv_binary

pytestmark = pytest.mark.skipif(uv_binary() is None, reason="uv is not installed")


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


def populate(server: IndexServer) -> None:
    server.add_wheel("torch", "2.0.0", padding=3000)
    server.add_wheel("torch", "2.0.1", padding=3000)
    server.add_wheel("torchvision", "0.15.2", requires=["torch==2.0.1"])
    server.add_wheel("protobuf", "3.20.3")
    server.add_wheel("protobuf", "4.25.0")
    server.add_wheel("grpc-tools", "1.60.0", requires=["protobuf>=4.21"])
    server.add_wheel("chain-a", "1.0", requires=["chain-b>=2"])
    server.add_wheel("chain-b", "2.1", requires=["chain-c"])
    server.add_wheel("chain-c", "0.3")
    server.add_wheel("modern", "1.0", ">=3.8")
    server.add_wheel("modern", "2.0", ">=3.12")
    server.add_wheel("winonly", "1.0", requires=['pywin-thing; sys_platform == "win32"'])
    server.add_wheel("pywin-thing", "1.0")
    server.add_wheel("fancy", "1.0", extras=["speed"], requires=['speedup>=1; extra == "speed"'])
    server.add_wheel("speedup", "1.2")
    server.add_wheel("yanky", "1.0")
    server.add_wheel("yanky", "2.0", yanked="broken")


@pytest.fixture
def index() -> Iterator[IndexServer]:
    with IndexServer() as server:
        populate(server)
        yield server


@pytest.fixture
def extra() -> Iterator[IndexServer]:
    with IndexServer() as server:
        server.add_wheel("torch", "2.0.0+cu118")
        yield server


def conda_solution(platform: str = "linux-64", python: str = "3.11.4", **packages: str) -> SolveFacts:
    records = [SolvedPackage(name, version, "0", "test", platform, "", "")
               for name, version in {"python": python, "pip": "23.3", **packages}.items()]
    return SolveFacts((PlatformSolve(platform, "solved", packages=tuple(records)),))


def resolve(tmp_path: Path, index: IndexServer, text: str, solved: SolveFacts | None = None,
            trusted: bool = True, platforms: tuple[str, ...] = ("linux-64",),
            resolver: PipResolver | None = None,
            files: dict[str, str | None] | None = None) -> tuple[Analysis, PipResolutionFacts, PipResolver]:
    analysis = analyze(yaml(text))
    pip = PipService(IndexClient(tmp_path / "cache"), PipConfig(index_url=index.url), trusted=trusted, environ={},
                     default_index="")
    resolver = resolver or PipResolver(tmp_path / "cache" / "uv")
    requests = requests_for(analysis.environment, pip.plan(analysis.environment, files), platforms, solved, files)
    facts = asyncio.run(resolver.resolve(requests))
    return with_pip_resolution(analysis, facts), facts, resolver


def message(analysis: Analysis, code: str) -> str:
    return next(f.message for f in analysis.findings if f.code == code)


def found(analysis: Analysis) -> list[tuple[str, int]]:
    return [(f.code, analysis.document.index.line_of(f.span.start) + 1) for f in analysis.findings
            if f.code in PIP_RESOLUTION_CODES]


def test_conflicting_pins_on_both_lines_with_the_chain(tmp_path: Path, index: IndexServer) -> None:
    analysis, facts, _ = resolve(tmp_path, index, """
        dependencies:
          - python=3.11
          - pip
          - pip:
            - torch==2.0.0
            - torchvision==0.15.2
        """, conda_solution())
    assert facts.resolutions[0].status == "conflict", facts
    assert found(analysis) == [("pip-resolution-impossible", 5), ("pip-resolution-impossible", 6)]
    first = next(f for f in analysis.findings if f.code == "pip-resolution-impossible")
    assert "torchvision depend on torch==2.0.1" in first.message and "torch==2.0.0" in first.message
    assert [r.message for r in first.related] == ["`torchvision==0.15.2` is part of the conflict"]


def test_pip_replaces_a_conda_package(tmp_path: Path, index: IndexServer) -> None:
    analysis, facts, _ = resolve(tmp_path, index, """
        dependencies:
          - python=3.11
          - protobuf=3.20
          - pip:
            - grpc-tools
        """, conda_solution(protobuf="3.20.3"))
    assert found(analysis) == [("pip-replaces-conda", 5)]
    text = message(analysis, "pip-replaces-conda")
    assert "upgrade `protobuf` from 3.20.3 (the conda solution) to 4.25.0" in text
    assert "asked for by `grpc-tools`" in text
    assert lens_title(facts.resolutions[0]) == "pip on linux-64: 2 packages from the index, 2 kB; replaces 1 conda package"


def test_a_conda_package_that_satisfies_is_kept(tmp_path: Path, index: IndexServer) -> None:
    analysis, facts, _ = resolve(tmp_path, index, """
        dependencies:
          - python=3.11
          - pip:
            - chain-a
            - protobuf<4
        """, conda_solution(protobuf="3.20.3"))
    assert found(analysis) == []
    resolution = facts.resolutions[0]
    assert {d.name: d.version for d in resolution.dists} == {"chain-a": "1.0", "chain-b": "2.1", "chain-c": "0.3",
                                                             "protobuf": "3.20.3"}
    assert [d.name for d in resolution.implicit] == ["chain-b", "chain-c"]
    assert [d.name for d in resolution.downloads] == ["chain-a", "chain-b", "chain-c"]
    title = lens_title(resolution)
    assert title.startswith("pip on linux-64: 3 packages from the index, ") and title.endswith(
        "; adds chain-b, chain-c (not listed)")


def test_requires_python_markers_extras_yanked(tmp_path: Path, index: IndexServer) -> None:
    analysis, facts, _ = resolve(tmp_path, index, """
        dependencies:
          - python=3.11
          - pip:
            - modern
            - winonly
            - fancy[speed]
            - yanky
        """, conda_solution())
    assert found(analysis) == []
    versions = {d.name: d.version for d in facts.resolutions[0].dists}
    # modern 2.0 needs Python 3.12; pywin-thing only on Windows; the extra brings speedup; 2.0 is yanked.
    assert versions == {"modern": "1.0", "winonly": "1.0", "fancy": "1.0", "speedup": "1.2", "yanky": "1.0"}
    windows, facts, _ = resolve(tmp_path, index, """
        dependencies:
          - python=3.12
          - pip:
            - modern
            - winonly
        """, conda_solution("win-64", "3.12.1"), platforms=("win-64",))
    assert {d.name: d.version for d in facts.resolutions[0].dists} == {"modern": "2.0", "winonly": "1.0",
                                                                       "pywin-thing": "1.0"}


def test_requires_python_excludes_the_pinned_release(tmp_path: Path, index: IndexServer) -> None:
    analysis, facts, _ = resolve(tmp_path, index, """
        dependencies:
          - python=3.10
          - pip:
            - modern==2.0
        """, conda_solution(python="3.10.12"))
    assert found(analysis) == [("pip-resolution-impossible", 4)]
    assert "Python" in message(analysis, "pip-resolution-impossible")


def test_local_version_from_an_extra_index(tmp_path: Path, index: IndexServer, extra: IndexServer) -> None:
    text = f"""
        dependencies:
          - python=3.11
          - pip:
            - --extra-index-url {extra.url}
            - torch==2.0.0+cu118
        """
    analysis, facts, _ = resolve(tmp_path, index, text, conda_solution())
    assert found(analysis) == []
    assert [(d.name, d.version) for d in facts.resolutions[0].dists] == [("torch", "2.0.0+cu118")]
    before = len(extra.requests)
    untrusted, facts, _ = resolve(tmp_path / "u", index, text, conda_solution(), trusted=False)
    assert len(extra.requests) == before  # the index the file names is not contacted
    assert facts.resolutions[0].status == "conflict"


def test_no_conda_solution_uses_the_pins(tmp_path: Path, index: IndexServer) -> None:
    analysis, facts, _ = resolve(tmp_path, index, """
        dependencies:
          - python=3.11
          - protobuf=3.20.3
          - pip:
            - grpc-tools
        """, None)
    resolution = facts.resolutions[0]
    assert (resolution.python, resolution.conda_solved) == ("3.11", False)
    assert found(analysis) == [("pip-replaces-conda", 5)]
    assert "(the conda dependencies)" in message(analysis, "pip-replaces-conda")
    assert "conda side not solved" in lens_title(resolution)


def test_an_unreachable_index_concludes_nothing(tmp_path: Path, index: IndexServer) -> None:
    index.stop()
    analysis, facts, _ = resolve(tmp_path, index, """
        dependencies:
          - python=3.11
          - pip:
            - torch==2.0.0
            - torchvision==0.15.2
        """, conda_solution())
    assert facts.resolutions[0].status == "unreachable"
    assert found(analysis) == [("pip-not-resolved", 3)]


def test_cached_by_the_lines_and_the_solution(tmp_path: Path, index: IndexServer) -> None:
    text = """
        dependencies:
          - python=3.11
          - pip:
            - chain-a
        """
    _, _, resolver = resolve(tmp_path, index, text, conda_solution())
    runs = resolver.runs
    resolve(tmp_path, index, "# a comment\n" + text, conda_solution(), resolver=resolver)
    assert resolver.runs == runs
    resolve(tmp_path, index, text, conda_solution(python="3.12.1"), resolver=resolver)
    assert resolver.runs > runs
    assert (tmp_path / "cache" / "uv").is_dir()  # uv's cache is envls'


def test_a_cancelled_resolution_kills_uv(tmp_path: Path, index: IndexServer) -> None:
    index.mode = "slow"
    index.slow_seconds = 20
    analysis = analyze(yaml("""
        dependencies:
          - python=3.11
          - pip:
            - chain-a
        """))
    pip = PipService(IndexClient(tmp_path / "cache"), PipConfig(index_url=index.url), environ={}, default_index="")
    resolver = PipResolver(tmp_path / "cache" / "uv")
    requests = requests_for(analysis.environment, pip.plan(analysis.environment), ("linux-64",), conda_solution())

    async def go() -> None:
        task = asyncio.ensure_future(resolver.resolve(requests))
        await asyncio.sleep(1.0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(go())
    assert resolver.cached(requests) is None


# -- envls check, on top of a real conda solve ------------------------------------------------------------


@pytest.mark.skipif(not CHANNELS.is_dir(), reason="the shared channel snapshots are not here")
def test_envls_check(tmp_path: Path, index: IndexServer) -> None:
    with ChannelServer() as channels:
        (tmp_path / "environment.yml").write_text(yaml("""
            channels: [intel-2023-08-28]
            dependencies:
              - python=3.9
              - pip
              - protobuf=3.19
              - pip:
                - torch==2.0.0
                - torchvision==0.15.2
                - grpc-tools
            """), encoding="utf-8")
        env = {**environ(tmp_path, channels), "PIP_CONFIG_FILE": os.devnull, "PIP_INDEX_URL": index.url}
        result = subprocess.run([*ENVLS, "check", "--platform", "linux-64", "--cuda-version", "none", "environment.yml"],
                                capture_output=True, text=True, timeout=120, cwd=tmp_path, env=env)
    lines = [line for line in result.stdout.splitlines() if " pip-" in line]
    assert [line.split(" ")[2] for line in lines] == ["pip-resolution-impossible", "pip-resolution-impossible"], \
        result.stdout + result.stderr
    assert lines[0].startswith("environment.yml:7:7: error pip-resolution-impossible pip cannot install the pip section: ")
    assert all("/simple" in p for p, _ in index.requests if p.startswith("/simple"))


def test_a_listed_package_is_left_to_the_conda_pip_rules(tmp_path: Path, index: IndexServer) -> None:
    analysis, facts, _ = resolve(tmp_path, index, """
        dependencies:
          - python=3.11
          - protobuf=3.20
          - pip:
            - protobuf>=4
        """, conda_solution(protobuf="3.20.3"))
    assert [d.name for d in facts.resolutions[0].replaced] == ["protobuf"]
    # conda-pip-conflict (or -duplicate) already says on that line that pip replaces conda's copy.
    said = [(f.code, analysis.document.index.line_of(f.span.start) + 1) for f in analysis.findings
            if f.code.startswith("conda-pip")]
    assert [line for _, line in said] == [5]
    assert found(analysis) == []


def test_requirement_and_constraint_files(tmp_path: Path, index: IndexServer) -> None:
    files: dict[str, str | None] = {"requirements.txt": "chain-a\n-r more.txt\n", "more.txt": "torchvision\n",
                                    "constraints.txt": "chain-c<0.3\n"}
    text = """
        dependencies:
          - python=3.11
          - pip:
            - -r requirements.txt
            - -c constraints.txt
        """
    analysis, facts, _ = resolve(tmp_path, index, text, conda_solution(), files=files)
    resolution = facts.resolutions[0]
    assert resolution.status == "conflict"  # chain-c 0.3 is the only release; the constraint excludes it
    assert found(analysis) == [("pip-resolution-impossible", 4), ("pip-resolution-impossible", 5)]
    files["constraints.txt"] = ""
    analysis, facts, _ = resolve(tmp_path, index, text, conda_solution(), files=files)
    assert {d.name for d in facts.resolutions[0].dists} == {"chain-a", "chain-b", "chain-c", "torchvision", "torch"}
    assert [d.name for d in facts.resolutions[0].implicit] == ["chain-b", "chain-c", "torch"]


def test_uv_is_looked_up_once_and_a_failing_lookup_means_no_uv(monkeypatch: pytest.MonkeyPatch) -> None:
    """`uv.find_uv_bin` reads sysconfig, whose first use races between threads before Python 3.12 (CI saw
    `TypeError` from it in the analysis thread): the lookup runs once, under a lock, and any error means no uv."""
    import threading

    import uv

    from envls.pypi import uvbin

    calls: list[int] = []

    def broken() -> str:
        calls.append(1)
        raise TypeError('can only concatenate str (not "NoneType") to str')

    monkeypatch.setattr(uvbin, "_uv_found", None)
    monkeypatch.setattr(uv, "find_uv_bin", broken)
    results: list[str | None] = []
    threads = [threading.Thread(target=lambda: results.append(uvbin.uv_binary())) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [None] * 8
    assert len(calls) == 1
