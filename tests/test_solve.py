"""Solving against real repodata served over HTTP on 127.0.0.1 (tests/channel_server.py), and nothing else.

The I/O layer (ChannelService for the channel data, SolveService for the solves) builds the facts;
`with_solve` turns them into findings. Also: the solve commands (showSolution, exportLock) through a
Session, and `envls check` as a process. Unsatisfiable combinations come from the real snapshots:
tensorflow 2.13 from intel (its only build is for python 3.9 and needs an absl-py the channel lacks),
numpy 1.14 with python 3.10 (intel), python 3.9.16 with openssl 1.1 (conda-forge: fails on osx-arm64 only).
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from channel_server import CHANNELS, ChannelServer, condarc
from test_channels_cli import ENVLS, environ

from envls.channels.condarc import load_config
from envls.channels.service import ChannelService
from envls.channels.store import ChannelStore
from envls.core.analysis import Analysis, analyze, with_channels
from envls.core.solve.facts import SolveFacts
from envls.core.solve.stage import with_solve
from envls.session import Session, SessionOptions
from envls.solve.commands import SolveCommandError, export_lock, show_solution
from envls.solve.runner import SolveRunner
from envls.solve.service import SolveService

pytestmark = pytest.mark.skipif(not CHANNELS.is_dir(), reason="the shared channel snapshots are not here")

FORGE = "conda-forge-py39-subchannel"
INTEL = "intel-2023-08-28"
PYTORCH = "pytorch-rattler"


@pytest.fixture
def server() -> Iterator[ChannelServer]:
    with ChannelServer() as srv:
        yield srv


def solver_for(tmp_path: Path, srv: ChannelServer, platforms: tuple[str, ...] = ("linux-64",),
               timeout: float = 10.0) -> SolveService:
    config = load_config({"CONDARC": str(condarc(tmp_path, srv.base_url))}, home=tmp_path / "home")
    channels = ChannelService(config, ChannelStore(cache_dir=tmp_path / "cache", timeout=5.0), platforms=platforms)
    return SolveService(channels, timeout=timeout)


async def solved(solver: SolveService, text: str, cuda: str | None = None) -> tuple[Analysis, SolveFacts]:
    analysis = analyze(textwrap.dedent(text).lstrip("\n"))
    facts = await solver.channels.facts(analysis.environment, None)
    solve = await solver.solve(analysis.environment, None, cuda)
    return with_solve(with_channels(analysis, facts), solve), solve


def found(analysis: Analysis, code: str = "unsatisfiable") -> list[tuple[int, str]]:
    index = analysis.document.index
    return [(index.line_of(f.span.start) + 1, f.message) for f in analysis.findings if f.code == code]


# -- unsatisfiable ----------------------------------------------------------------------------------


async def test_python_310_with_tensorflow_213_from_intel(tmp_path: Path, server: ChannelServer) -> None:
    analysis, facts = await solved(solver_for(tmp_path, server), f"""
        channels: [{INTEL}]
        dependencies:
          - python=3.10
          - tensorflow=2.13
        """)
    (solve,) = facts.solves
    assert solve.status == "unsatisfiable" and solve.involved == ("tensorflow=2.13",)
    assert "absl-py" in solve.explanation
    assert found(analysis) == [(4, "does not solve for linux-64: `tensorflow=2.13` cannot be installed: tensorflow "
                                   "2.13.0 requires absl-py >=1.3.0, which none of the channels has")]


async def test_two_specs_that_conflict_both_carry_it(tmp_path: Path, server: ChannelServer) -> None:
    analysis, facts = await solved(solver_for(tmp_path, server), f"""
        channels: [{INTEL}]
        dependencies:
          - python=3.10
          - scipy
          - numpy=1.14
        """)
    assert facts.solves[0].involved == ("python=3.10", "numpy=1.14")  # scipy is not part of it
    assert [line for line, _ in found(analysis)] == [3, 5]
    message = found(analysis)[0][1]
    assert message.startswith("does not solve for linux-64: `python=3.10` conflicts with `numpy=1.14`: numpy 1.14.3 "
                              "requires python ")
    assert message.endswith(", which `python=3.10` rules out")
    first = next(f for f in analysis.findings if f.code == "unsatisfiable")
    assert [analysis.document.text[r.span.start:r.span.end] for r in first.related] == ["numpy=1.14"]


async def test_a_failure_on_one_platform_only(tmp_path: Path, server: ChannelServer) -> None:
    analysis, facts = await solved(solver_for(tmp_path, server), f"""
        channels: [{FORGE}]
        platforms: [linux-64, osx-arm64]
        dependencies:
          - python=3.9.16
          - pip
          - openssl=1.1
        """)
    assert [(s.platform, s.status) for s in facts.solves] == [("linux-64", "solved"), ("osx-arm64", "unsatisfiable")]
    reason = "python 3.9.16 requires openssl >=3.0.7,<4.0a0, which `openssl=1.1` rules out (it solves for linux-64)"
    assert found(analysis) == [
        (4, f"does not solve for osx-arm64: `python=3.9.16` conflicts with `openssl=1.1`: {reason}"),
        (6, f"does not solve for osx-arm64: `openssl=1.1` conflicts with `python=3.9.16`: {reason}"),
    ]
    linux = facts.platform("linux-64")
    assert linux is not None and {p.name for p in linux.packages} >= {"python", "openssl", "pip"}
    assert facts.solves[1].virtual_packages == ("__archspec=1=arm64", "__osx=13.0=0", "__unix=0=0")


async def test_a_package_the_channel_stage_reports_is_not_reported_again(tmp_path: Path, server: ChannelServer) -> None:
    analysis, facts = await solved(solver_for(tmp_path, server), f"""
        channels: [{FORGE}]
        dependencies:
          - python=3.9
          - pythn
        name: t
        """)
    assert facts.solves[0].status == "unsatisfiable" and facts.solves[0].involved == ("pythn",)
    assert [f.code for f in analysis.findings] == ["package-not-found"]


# -- gpu-build-not-selected -------------------------------------------------------------------------


async def test_cpu_build_of_pytorch_although_the_target_has_a_gpu(tmp_path: Path, server: ChannelServer) -> None:
    text = f"""
        channels: [{PYTORCH}, {INTEL}]
        dependencies:
          - python=3.9
          - pytorch=1.12
        """
    solver = solver_for(tmp_path, server)
    analysis, facts = await solved(solver, text, cuda="12.2")
    packages = {p.name: p for p in facts.solves[0].packages}
    assert packages["pytorch"].build == "py3.9_cpu_0" and packages["pytorch-mutex"].build == "cpu"
    assert "__cuda=12.2=0" in facts.solves[0].virtual_packages
    assert found(analysis, "gpu-build-not-selected") == [
        (4, "the solution for linux-64 installs pytorch 1.12.1 `py3.9_cpu_0`, a CPU build (and `pytorch-mutex cpu`), "
            "although the target machine has CUDA 12.2 (`__cuda`): no CUDA build of pytorch fits the rest of the file "
            "and its channels, or the solver preferred the CPU build; ask for one (`pytorch=*=*cuda*`) to see what "
            "stands in the way")]
    no_gpu, _ = await solved(solver, text, cuda=None)  # no driver: a CPU build is what conda would pick too
    assert found(no_gpu, "gpu-build-not-selected") == []


# -- cache, cancel, bounds ----------------------------------------------------------------------------


async def test_cache_hits(tmp_path: Path, server: ChannelServer) -> None:
    solver = solver_for(tmp_path, server)
    text = f"channels: [{INTEL}]\ndependencies:\n  - python=3.10\n  - numpy\n"
    env = analyze(text).environment
    assert solver.cached(env, None, None) is None  # nothing loaded: no I/O on this path
    first = await solver.solve(env, None, None)
    started = solver.runner.started
    assert first.solves[0].status == "solved" and started == 1
    assert solver.cached(env, None, None) == first
    # The same specs, channels, platform and virtual packages: a comment, the name, a pip line change nothing.
    edited = analyze("name: x  # a comment\n" + text + "  - pip:\n    - rich\n").environment
    assert solver.cached(edited, None, None) == first
    assert await solver.solve(edited, None, None) == first and solver.runner.started == started
    # Another spec is another solve; going back is a hit again.
    other = analyze(text.replace("numpy", "scipy")).environment
    assert solver.cached(other, None, None) is None
    await solver.solve(other, None, None)
    assert solver.runner.started == started + 1
    assert await solver.solve(env, None, None) == first and solver.runner.started == started + 1
    # Another CUDA target is another set of virtual packages.
    assert solver.cached(env, None, "12.2") is None


def pigeon_channel(root: Path, holes: int) -> None:
    """Pigeonhole: `holes + 1` packages must each take a different one of `holes` slots. Unsatisfiable, and
    exponentially hard for a solver that learns clauses (resolution): with 12 holes it explodes."""
    packages: dict[str, dict[str, object]] = {}
    for pigeon in range(holes + 1):
        for hole in range(holes):
            packages[f"pigeon{pigeon}-{hole + 1}-0.tar.bz2"] = {
                "name": f"pigeon{pigeon}", "version": str(hole + 1), "build": "0", "build_number": 0,
                "depends": [f"hole{hole} =={pigeon + 1}"], "subdir": "noarch", "md5": "0" * 32, "size": 100}
    for hole in range(holes):
        for pigeon in range(holes + 1):
            packages[f"hole{hole}-{pigeon + 1}-0.tar.bz2"] = {
                "name": f"hole{hole}", "version": str(pigeon + 1), "build": "0", "build_number": 0,
                "depends": [], "subdir": "noarch", "md5": "0" * 32, "size": 100}
    for subdir, records in (("noarch", packages), ("linux-64", {})):
        folder = root / "channels" / "pigeons" / subdir
        folder.mkdir(parents=True)
        (folder / "repodata.json").write_text(json.dumps(
            {"info": {"subdir": subdir}, "packages": records, "packages.conda": {}, "repodata_version": 1}))


PIGEONS = "channels: [pigeons]\ndependencies:\n" + "".join(f"  - pigeon{i}\n" for i in range(13)) + "name: t\n"


async def test_an_exploding_solve_is_bounded_and_never_blocks_the_loop(tmp_path: Path) -> None:
    pigeon_channel(tmp_path / "data", 12)
    with ChannelServer(root=tmp_path / "data") as srv:
        solver = solver_for(tmp_path, srv, timeout=1.0)
        env = analyze(PIGEONS).environment
        await solver.channels.facts(env, None)
        stalls: list[float] = []
        stop = asyncio.Event()

        async def ticker() -> None:
            last = time.perf_counter()
            while not stop.is_set():
                await asyncio.sleep(0.01)
                now = time.perf_counter()
                stalls.append(now - last - 0.01)
                last = now

        ticking = asyncio.ensure_future(ticker())
        started = time.perf_counter()
        facts = await solver.solve(env, None, None)
        elapsed = time.perf_counter() - started
        stop.set()
        await ticking
    (solve,) = facts.solves
    assert solve.status == "timeout" and solve.detail == "no answer within 1 s"
    assert elapsed < 3.0, elapsed
    assert max(stalls) < 0.25, max(stalls)  # the event loop kept running while the solver worked
    analysis = with_solve(analyze(PIGEONS), facts)
    assert [f.code for f in analysis.findings] == []  # a solve that took too long is no finding


async def test_a_cancelled_solve_is_abandoned_and_does_not_pile_up(tmp_path: Path) -> None:
    pigeon_channel(tmp_path / "data", 12)
    with ChannelServer(root=tmp_path / "data") as srv:
        solver = solver_for(tmp_path, srv, timeout=2.0)
        solver.runner = SolveRunner(timeout=2.0, slots=1)
        env = analyze(PIGEONS).environment
        await solver.channels.facts(env, None)
        task = asyncio.ensure_future(solver.solve(env, None, None))
        await asyncio.sleep(0.3)
        started = time.perf_counter()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert time.perf_counter() - started < 0.1  # the caller stops waiting at once
        assert solver.runner.abandoned == 1 and solver.runner.running == 1
        assert solver.cached(env, None, None) is None  # nothing is remembered from a cancelled solve
        # With one slot, the next solve waits for the abandoned one to reach its limit, then runs.
        small = analyze("channels: [pigeons]\ndependencies:\n  - pigeon1\n  - pigeon2\n").environment
        await solver.channels.facts(small, None)
        facts = await solver.solve(small, None, None)
        assert facts.solves[0].status == "solved"
        assert solver.runner.running == 0
        assert time.perf_counter() - started < 3.0


# -- commands ---------------------------------------------------------------------------------------

LOCKABLE = f"""name: demo
channels:
  - {INTEL}
platforms: [linux-64, osx-64]
dependencies:
  - python=3.10
  - numpy
  - requests
"""


@pytest.fixture
def session(tmp_path: Path, server: ChannelServer, monkeypatch: pytest.MonkeyPatch) -> Session:
    for key, value in environ(tmp_path, server).items():
        monkeypatch.setenv(key, value)
    return Session(SessionOptions(channel_checks=True, cuda_version="none", solve=True, solve_timeout=10.0))


async def test_show_solution(tmp_path: Path, session: Session) -> None:
    env_file = tmp_path / "environment.yml"
    tables: list[str] = []
    result = await show_solution(session, env_file, LOCKABLE, show=tables.append)
    assert [p["platform"] for p in result["platforms"]] == ["linux-64", "osx-64"]
    linux = result["platforms"][0]
    assert linux["status"] == "solved" and linux["title"].startswith("Solves for linux-64: ")
    python = next(p for p in linux["packages"] if p["name"] == "python")
    assert python["version"].startswith("3.10.") and python["channel"] == INTEL
    assert isinstance(python["size"], int) and python["size"] > 1_000_000
    assert python["url"].endswith(".tar.bz2") and "/linux-64/python-3.10" in python["url"]
    assert linux["downloadSize"] == sum(p["size"] for p in linux["packages"])
    assert len(tables) == 2 and tables[0].startswith("Solves for linux-64: ")
    one = await show_solution(session, env_file, LOCKABLE, "osx-64")
    assert [p["platform"] for p in one["platforms"]] == ["osx-64"]
    with pytest.raises(SolveCommandError, match="win-64 is not a target platform"):
        await show_solution(session, env_file, LOCKABLE, "win-64")


_LINE = re.compile(r"^(?P<url>https?://\S+/(?:linux-64|osx-64|noarch)/\S+\.(?:tar\.bz2|conda))"
                   r"#(?P<hash>[0-9a-f]{32}|sha256:[0-9a-f]{64})$")


async def test_export_lock_files_that_read_back(tmp_path: Path, session: Session) -> None:
    from rattler import LockFile
    from rattler.explicit_environment import ExplicitEnvironmentSpec

    env_file = tmp_path / "environment.yml"
    env_file.write_text(LOCKABLE, encoding="utf-8")
    result = await export_lock(session, env_file, LOCKABLE, rattler_lock=True)
    assert result == {"files": [str(tmp_path / "environment.linux-64.lock.txt"), str(tmp_path / "environment.osx-64.lock.txt"),
                                str(tmp_path / "environment.rattler.lock")], "failed": {}}
    facts = session.cached_solve(analyze(LOCKABLE).environment, tmp_path)
    assert facts is not None
    for solve in facts.solves:
        path = tmp_path / f"environment.{solve.platform}.lock.txt"
        lines = path.read_text(encoding="utf-8").splitlines()
        assert f"# platform: {solve.platform}" in lines
        packages = lines[lines.index("@EXPLICIT") + 1:]
        assert len(packages) == len(solve.packages)
        for line in packages:
            assert _LINE.match(line), line
        assert {_LINE.match(line)["url"] for line in packages} == {p.url for p in solve.packages}  # type: ignore[index]
        python = next(p for p in solve.packages if p.name == "python")
        assert f"{python.url}#{python.md5}" in packages
        spec = ExplicitEnvironmentSpec.from_path(path)
        assert str(spec.platform) == solve.platform and len(spec.packages) == len(solve.packages)
        # Dependencies come first: python before numpy, which needs it.
        names = [line.rsplit("/", 1)[1] for line in packages]
        assert min(i for i, n in enumerate(names) if n.startswith("python-3")) < min(
            i for i, n in enumerate(names) if n.startswith("numpy-1"))
    # `envls check DIR` (and editors' environment*.yml patterns) do not take the lock files for environment files.
    from envls.cli import find_files

    assert [Path(p).name for p, _ in find_files([str(tmp_path)])] == ["condarc.yml", "environment.yml"]
    lock = LockFile.from_path(tmp_path / "environment.rattler.lock")
    default = lock.default_environment()
    assert default is not None
    by_platform = {str(p): records for p, records in default.conda_repodata_records().items()}
    assert {k: len(v) for k, v in by_platform.items()} == {s.platform: len(s.packages) for s in facts.solves}


async def test_export_lists_what_does_not_solve(tmp_path: Path, session: Session) -> None:
    env_file = tmp_path / "environment.yml"
    text = LOCKABLE.replace("  - requests\n", "  - tensorflow=2.13\n")
    with pytest.raises(SolveCommandError, match="nothing to export: linux-64: Does not solve for linux-64"):
        await export_lock(session, env_file, text)
    assert not list(tmp_path.glob("*.lock.txt"))
    result = await export_lock(session, env_file, LOCKABLE, platforms=["osx-64"])
    assert result["files"] == [str(tmp_path / "environment.osx-64.lock.txt")]


# -- envls check -------------------------------------------------------------------------------------


def test_envls_check_solves_unless_told_not_to(tmp_path: Path, server: ChannelServer) -> None:
    (tmp_path / "environment.yml").write_text(
        f"channels: [{INTEL}]\ndependencies:\n  - python=3.10\n  - tensorflow=2.13\nname: t\n", encoding="utf-8")
    env = environ(tmp_path, server)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*ENVLS, "check", "--platform", "linux-64", *args, "environment.yml"], capture_output=True,
                              text=True, timeout=60, cwd=tmp_path, env=env)

    result = run()
    assert result.returncode == 1, result.stderr
    assert result.stdout == ("environment.yml:4:5: error unsatisfiable does not solve for linux-64: `tensorflow=2.13` "
                             "cannot be installed: tensorflow 2.13.0 requires absl-py >=1.3.0, which none of the "
                             "channels has\n")
    assert result.stderr == ""
    quiet = run("--no-solve")
    assert (quiet.returncode, quiet.stdout, quiet.stderr) == (0, "", "")


def test_a_timeout_is_told_from_an_explanation() -> None:
    from envls.compat.rattler import solve_timed_out as timed_out

    assert timed_out(Exception("Solve operation has been cancelled"))
    assert not timed_out(Exception("Cannot solve the request because of: timeout-decorator * cannot be installed"))
    assert not timed_out(Exception(OPENSSL_EXPLANATION))


OPENSSL_EXPLANATION = "Cannot solve the request because of: No candidates were found for cancelled-thing *."


async def test_conda_forms_that_strict_parsing_refuses_still_solve(tmp_path: Path, server: ChannelServer) -> None:
    analysis, facts = await solved(solver_for(tmp_path, server), f"""
        channels: [{INTEL}]
        dependencies:
          - python=3.10.12=hef7c979_1
          - numpy 1.24.3 py310hed7eef7_0
        """)
    assert facts.solves[0].status == "solved", facts.solves[0].detail
    assert found(analysis) == []


async def test_a_channel_named_in_a_spec_is_solved_from(tmp_path: Path, server: ChannelServer) -> None:
    _, facts = await solved(solver_for(tmp_path, server), f"""
        channels: [{INTEL}]
        dependencies:
          - python=3.10
          - {PYTORCH}::pytorch
        """)
    (solve,) = facts.solves
    assert solve.status == "solved", solve.explanation
    packages = {p.name: p for p in solve.packages}
    assert packages["pytorch"].channel == PYTORCH and packages["python"].channel == INTEL
    assert packages["pytorch"].url.startswith(server.channel(PYTORCH) + "/linux-64/")
