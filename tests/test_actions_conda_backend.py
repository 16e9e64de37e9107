"""The conda / mamba / micromamba backend: argument lists, and their recorded real output read.

The outputs under tests/data/conda_output/ are real, copied from the public sources its README
names; no conda runs here. A stand-in executable replays them to test the whole run: argument list
passed verbatim, progress reported, errors made clear, a half-made prefix removed.
"""

from __future__ import annotations

import json
import os
import stat
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest
from actions_support import RecordingReporter

from envls.actions.conda_backend import create_argv, parse_major_version, remove_argv, run_tool, update_argv
from envls.actions.conda_output import ProgressEvent, ToolOutput
from envls.actions.request import ActionError, Cancelled, CreateRequest
from envls.actions.target import Target, resolve_target

DATA = Path(__file__).parent / "data" / "conda_output"
FILE = Path("/work/env dir/environment.yml")


def replay(name: str, tool: str = "conda") -> tuple[ToolOutput, list[ProgressEvent]]:
    output = ToolOutput(tool)
    stream = "stderr" if name.endswith(".err") else "stdout"
    events: list[ProgressEvent] = []
    for line in (DATA / name).read_text(encoding="utf-8").split("\n"):
        events += output.feed(stream, line)
    output.close()
    return output, events


# -- argument lists ------------------------------------------------------------------------------

@pytest.mark.parametrize(("kind", "kwargs", "expected"), [
    ("conda", {"name": "demo"}, ["conda", "env", "create", "-f", str(FILE), "-n", "demo", "--json"]),
    ("conda", {"prefix": "/opt/my envs/a;b $(x)"},
     ["conda", "env", "create", "-f", str(FILE), "-p", "/opt/my envs/a;b $(x)", "--json"]),
    ("mamba", {"name": "demo"}, ["mamba", "env", "create", "-f", str(FILE), "-n", "demo", "--json"]),
    ("mamba", {"name": "demo", "mamba_major": 1}, ["mamba", "env", "create", "-f", str(FILE), "-n", "demo", "--json"]),
    ("mamba", {"name": "demo", "mamba_major": 2},
     ["mamba", "create", "-y", "-f", str(FILE), "-n", "demo", "--json"]),
    ("micromamba", {"name": "demo"}, ["micromamba", "create", "-y", "-f", str(FILE), "-n", "demo", "--json"]),
    ("micromamba", {"name": "demo", "root_prefix": "/home/u/micromamba"},
     ["micromamba", "create", "-y", "-f", str(FILE), "-n", "demo", "-r", "/home/u/micromamba", "--json"]),
    ("micromamba", {"prefix": "/tmp/x"}, ["micromamba", "create", "-y", "-f", str(FILE), "-p", "/tmp/x", "--json"]),
])
def test_create_argv(kind: str, kwargs: dict, expected: list[str]) -> None:
    assert create_argv(kind, kind, FILE, **kwargs) == expected


@pytest.mark.parametrize(("kind", "kwargs", "expected"), [
    ("conda", {"name": "demo"}, ["conda", "env", "update", "-f", str(FILE), "-n", "demo", "--json"]),
    ("conda", {"name": "demo", "prune": True},
     ["conda", "env", "update", "-f", str(FILE), "-n", "demo", "--prune", "--json"]),
    ("mamba", {"prefix": "/p", "prune": True}, ["mamba", "env", "update", "-f", str(FILE), "-p", "/p", "--prune", "--json"]),
    ("mamba", {"name": "demo", "mamba_major": 2}, ["mamba", "install", "-y", "-f", str(FILE), "-n", "demo", "--json"]),
    ("micromamba", {"name": "demo"}, ["micromamba", "install", "-y", "-f", str(FILE), "-n", "demo", "--json"]),
    ("micromamba", {"name": "demo", "prune": True},
     ["micromamba", "create", "-y", "-f", str(FILE), "-n", "demo", "--json"]),
])
def test_update_argv(kind: str, kwargs: dict, expected: list[str]) -> None:
    assert update_argv(kind, kind, FILE, **kwargs) == expected


def test_remove_argv_and_bad_input() -> None:
    assert remove_argv("conda", "conda", name="demo") == ["conda", "remove", "--all", "-y", "-n", "demo", "--json"]
    assert remove_argv("micromamba", "mm", prefix="/p") == ["mm", "env", "remove", "-y", "-p", "/p", "--json"]
    with pytest.raises(ValueError):
        create_argv("pip", "pip", FILE, name="x")
    with pytest.raises(ValueError):
        create_argv("conda", "conda", FILE)


def test_mamba_version() -> None:
    assert parse_major_version("mamba 1.5.8\nconda 24.1.2\n") == 1
    assert parse_major_version("2.0.5\n") == 2
    assert parse_major_version("") is None


# -- recorded output: progress -------------------------------------------------------------------

def test_conda_json_progress_bar_lines_end_with_nul() -> None:
    output, events = replay("conda-json-progress-bar.out")
    assert events == [ProgressEvent("Downloading test", 30), ProgressEvent("Downloading test", 100)]
    assert output.text == [] and output.error is None


def test_conda_parallel_downloads_average_their_progress() -> None:
    _, events = replay("conda-22.11-create-fetch.out")
    assert [e.message for e in events[:3]] == [
        "Downloading pandas-1.5.2", "Downloading mkl-2021.4.0", "Downloading numpy-base-1.23.5"]
    assert events[0].percent == 8
    assert events[-1].percent == round(100 * (0.082575 + 0.009970 + 0.210194) / 3)


def test_conda_4_1_byte_counts_and_link_bars() -> None:
    _, events = replay("conda-4.1-install-progress.out")
    assert events[0] == ProgressEvent("Downloading numpy-1.11.1-p", 100)
    assert ProgressEvent("Downloading numpy-1.11.1-p", 100) in events
    assert ProgressEvent("Linking numpy (1 of 2)", 0) in events
    assert ProgressEvent("Linking conda (2 of 2)", 50) in events


def test_conda_4_2_env_create_text_and_link_bars() -> None:
    output, events = replay("conda-4.2-env-create.out")
    assert events[:3] == [ProgressEvent("Collecting package metadata", None), ProgressEvent("Solving", None),
                          ProgressEvent("Linking 10 packages", 0)]
    assert events[3] == ProgressEvent("Linking openssl (1 of 10)", 0)
    assert events[-1] == ProgressEvent("Linking pip (10 of 10)", 90)
    assert output.error is None


def test_human_output_when_json_is_ignored_still_gives_stages() -> None:
    _, events = replay("conda-4-env-create-text.out")
    assert [e.message for e in events] == [
        "Collecting package metadata", "Solving", "Preparing transaction", "Verifying transaction", "Linking",
        "Installing pip dependencies"]
    output, events = replay("conda-24.3-env-create-json-ignored.out")
    assert [e.message for e in events] == ["Installing pip dependencies"]
    assert output.text[1].startswith("['/opt/conda/envs/foo/bin/python', '-m', 'pip'")


def test_the_final_document_gives_success_and_prefix() -> None:
    output, _ = replay("mamba-0.x-create-dry-run.out", "mamba")
    assert output.success is True
    assert output.prefix == "/Users/mvanniekerk/.condax/mamba/envs/fooooo"
    assert output.text == ["DryRunExit: Dry run. Exiting."]


def test_a_cut_off_document_is_text_not_a_crash() -> None:
    output, events = replay("mamba-2.0-env-create-head.out", "mamba")
    assert events == [] and output.documents == [] and output.success is None
    assert output.text[0] == "{" and '"build_number": 0,' in output.text[-2]


# -- recorded output: errors ---------------------------------------------------------------------

def test_conda_error_documents() -> None:
    output, _ = replay("conda-3-unsatisfiable.out")
    message = output.failure_message(1, "conda env create")
    assert message.startswith("conda failed: UnsatisfiableSpecifications: Hint: the following packages conflict")
    assert "python 3.5*" in message
    output, _ = replay("conda-4.13-packages-not-found.out")
    assert output.success is False
    assert output.failure_message(1, "conda").startswith("conda failed: PackagesNotFoundError")


def test_micromamba_solver_problems() -> None:
    output, _ = replay("micromamba-1.4-solver-problems.out", "micromamba")
    assert output.success is False
    assert output.failure_message(1, "micromamba create") == (
        "micromamba failed: could not solve the environment:\n  - package libarrow-12.0.0-h07599e3_0_cuda requires "
        "libevent >=2.1.12,<2.1.13.0a0, but none of the providers can be installed")


def test_libmamba_error_lines_on_stderr() -> None:
    output, _ = replay("micromamba-1.4-bad-channel.err", "micromamba")
    assert output.failure_message(1, "micromamba") == (
        "micromamba failed: Multiple errors occured:\n"
        "    Multi-download failed. Reason: Transfer finalized, status: 404 "
        "[https://conda.anaconda.org/some-made-up-channel/noarch/repodata.json] 3101 bytes\n"
        "    Subdir some-made-up-channel/noarch not loaded!")
    output, _ = replay("micromamba-2.0-update-unsolvable.err", "micromamba")
    assert output.failure_message(1, "micromamba") == "micromamba failed: Could not solve for environment specs"
    output, _ = replay("micromamba-2.0-create-incompatible.err", "micromamba")
    message = output.failure_message(1, "micromamba")
    assert message.startswith("micromamba failed: Could not solve for environment specs\n    The following packages")
    assert "aiohttp ~= does not exist" in message


def test_no_output_at_all_names_the_command() -> None:
    output = ToolOutput("micromamba")
    output.close()
    message = output.failure_message(1, "micromamba install --json -c x y")
    assert "exit status 1" in message and "micromamba install --json -c x y" in message


def test_plain_text_errors_keep_the_last_lines() -> None:
    output = ToolOutput("conda")
    for line in ["Collecting package metadata (repodata.json): done", "Solving environment: failed", "",
                 "PackagesNotFoundError: The following packages are not available from current channels:",
                 "", "  - pythn"]:
        output.feed("stderr", line)
    message = output.failure_message(1, "conda")
    assert message.endswith("PackagesNotFoundError: The following packages are not available from current channels:\n  - pythn")


# -- the whole run, with a stand-in executable ---------------------------------------------------

@dataclass(frozen=True)
class FakeTool:
    kind: str
    path: str
    root_prefix: str | None = None


def _fake(tmp_path: Path, *, stdout: str, stderr: str = "", code: int = 0, make_prefix: str | None = None) -> Path:
    """An executable that records its argv, creates a prefix (like a half-done install) and replays output."""
    script = tmp_path / "fake-conda"
    script.write_text(textwrap.dedent(f"""\
        #!{sys.executable}
        import json, os, pathlib, sys
        pathlib.Path({str(tmp_path / "argv.json")!r}).write_text(json.dumps(sys.argv[1:]))
        if {make_prefix!r}:
            pathlib.Path({make_prefix!r}, "conda-meta").mkdir(parents=True, exist_ok=True)
        sys.stdout.buffer.write(pathlib.Path({stdout!r}).read_bytes())
        sys.stdout.flush()
        sys.stderr.write(pathlib.Path({stderr!r}).read_text() if {stderr!r} else "")
        sys.exit({code})
    """))
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return script


@pytest.mark.skipif(sys.platform == "win32", reason="shebang script")
async def test_run_tool_success(tmp_path: Path) -> None:
    env_file = tmp_path / "environment.yml"
    env_file.write_text("name: demo\ndependencies: [python]\n")
    prefix = tmp_path / "envs" / "my env; $(x)"
    script = _fake(tmp_path, stdout=str(DATA / "conda-4.2-env-create.out"), make_prefix=str(prefix))
    reporter = RecordingReporter()
    result = await run_tool(FakeTool("conda", str(script)), CreateRequest(env_file, prefix=str(prefix)),
                            Target(prefix, None, False), reporter=reporter, environments_txt=tmp_path / "envs.txt")
    assert json.loads((tmp_path / "argv.json").read_text()) == [
        "env", "create", "-f", str(env_file), "-p", str(prefix), "--json"]
    assert result.prefix == str(prefix) and result.backend == "conda"
    assert reporter.saw("Linking openssl (1 of 10)") and reporter.messages[-1] == ("Done", 100)
    assert "Fetching package metadata ........." in reporter.lines


@pytest.mark.skipif(sys.platform == "win32", reason="shebang script")
async def test_run_tool_failure_is_clear_and_removes_the_half_made_prefix(tmp_path: Path) -> None:
    env_file = tmp_path / "environment.yml"
    env_file.write_text("name: demo\ndependencies: [python]\n")
    prefix = tmp_path / "envs" / "demo"
    registry = tmp_path / "environments.txt"
    registry.write_text(f"/somewhere/else\n{prefix}\n")
    script = _fake(tmp_path, stdout=str(DATA / "micromamba-1.4-solver-problems.out"), code=1, make_prefix=str(prefix))
    with pytest.raises(ActionError) as caught:
        await run_tool(FakeTool("micromamba", str(script), "/root/mm"), CreateRequest(env_file),
                       Target(prefix, "demo", False), reporter=RecordingReporter(), environments_txt=registry)
    assert "libarrow-12.0.0-h07599e3_0_cuda requires libevent" in caught.value.message
    assert json.loads((tmp_path / "argv.json").read_text()) == [
        "create", "-y", "-f", str(env_file), "-n", "demo", "-r", "/root/mm", "--json"]
    assert not prefix.exists()
    assert registry.read_text() == "/somewhere/else\n"
    assert not (tmp_path / "envs" / ".demo.envls-lock").exists()


@pytest.mark.skipif(sys.platform == "win32", reason="shebang script")
async def test_a_failed_create_keeps_a_folder_that_was_there_before(tmp_path: Path) -> None:
    """An empty folder chosen as the prefix (made by the user) is emptied after a failure, never removed."""
    env_file = tmp_path / "environment.yml"
    env_file.write_text("dependencies: [python]\n")
    prefix = tmp_path / "mine"
    prefix.mkdir()
    target = resolve_target(CreateRequest(env_file, prefix=str(prefix)), None, None, [])
    assert target.empty_folder and not target.exists
    script = _fake(tmp_path, stdout=str(DATA / "micromamba-1.4-solver-problems.out"), code=1, make_prefix=str(prefix))
    with pytest.raises(ActionError):
        await run_tool(FakeTool("micromamba", str(script), "/root/mm"), CreateRequest(env_file, prefix=str(prefix)),
                       target, reporter=RecordingReporter(), environments_txt=tmp_path / "environments.txt")
    assert prefix.is_dir() and list(prefix.iterdir()) == []


@pytest.mark.skipif(sys.platform == "win32", reason="shebang script")
async def test_run_tool_stderr_only_failure(tmp_path: Path) -> None:
    env_file = tmp_path / "environment.yml"
    env_file.write_text("name: demo\ndependencies: [python]\n")
    empty = tmp_path / "empty.out"
    empty.write_text("")
    script = _fake(tmp_path, stdout=str(empty), stderr=str(DATA / "micromamba-2.0-update-unsolvable.err"), code=1)
    existing = tmp_path / "envs" / "demo"
    (existing / "conda-meta").mkdir(parents=True)
    with pytest.raises(ActionError) as caught:
        await run_tool(FakeTool("micromamba", str(script)), CreateRequest(env_file, update=True),
                       Target(existing, "demo", True), reporter=RecordingReporter(),
                       environments_txt=tmp_path / "e.txt")
    assert caught.value.message == "micromamba failed: Could not solve for environment specs"
    assert existing.exists(), "an existing environment is never removed because an update failed"


def test_recorded_files_are_documented() -> None:
    readme = (DATA / "README.md").read_text(encoding="utf-8")
    for path in DATA.iterdir():
        if path.name != "README.md":
            assert f"`{path.name}`" in readme, path.name
    assert os.path.getsize(DATA / "conda-json-progress-bar.out") > 0


@pytest.mark.skipif(sys.platform == "win32", reason="shebang script")
async def test_cancel_stops_the_tool_and_removes_the_half_made_prefix(tmp_path: Path) -> None:
    import asyncio

    env_file = tmp_path / "environment.yml"
    env_file.write_text("name: demo\ndependencies: [python]\n")
    prefix = tmp_path / "envs" / "demo"
    script = tmp_path / "slow-conda"
    script.write_text(textwrap.dedent(f"""\
        #!{sys.executable}
        import pathlib, subprocess, sys, time
        pathlib.Path({str(prefix)!r}, "conda-meta").mkdir(parents=True)
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        sys.stdout.write('{{"fetch":"python-3.12.1 | 30 MB | ","finished":false,"maxval":1,"progress":0.5}}\\n\\0')
        sys.stdout.flush()
        time.sleep(60)
    """))
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    reporter = RecordingReporter()
    cancel = asyncio.Event()
    task = asyncio.ensure_future(run_tool(FakeTool("conda", str(script)), CreateRequest(env_file),
                                          Target(prefix, "demo", False), reporter=reporter, cancel=cancel,
                                          environments_txt=tmp_path / "e.txt"))
    for _ in range(500):
        if reporter.saw("Downloading python-3.12.1"):
            break
        await asyncio.sleep(0.02)
    assert reporter.messages[-1] == ("Downloading python-3.12.1", 50)
    cancel.set()
    with pytest.raises(Cancelled, match="removed"):
        await asyncio.wait_for(task, 15)
    assert not prefix.exists()
