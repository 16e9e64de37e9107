"""envls.actions.process: argument lists verbatim, output streamed, cancel ends the whole tree."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from envls.actions.process import run_process

PY = sys.executable


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


async def _wait_for(path: Path, timeout: float = 10.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().strip():
            return path.read_text().strip()
        await asyncio.sleep(0.02)
    raise AssertionError(f"{path} never appeared")


ODD = ["a b", "'single'", '"double"', "x; touch PWNED_SEMICOLON", "$(touch PWNED_SUBST)", "`touch PWNED_TICK`",
       "*", "$HOME", "a\\b", "|| true", "&", "", "ünïcödé", "--json", "-n"]


async def test_arguments_reach_the_program_verbatim(tmp_path: Path) -> None:
    result = await run_process([PY, "-c", "import json, sys; print(json.dumps(sys.argv[1:]))", *ODD], cwd=tmp_path)
    assert result.returncode == 0
    assert json.loads(result.stdout[-1]) == ODD
    assert not any(p.name.startswith("PWNED") for p in tmp_path.iterdir())


async def test_a_command_string_is_refused() -> None:
    with pytest.raises(TypeError):
        await run_process("echo hello")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        await run_process([])
    with pytest.raises(TypeError):
        await run_process([PY, Path("x")])  # type: ignore[list-item]


async def test_a_missing_program_raises_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        await run_process([str(tmp_path / "no-such-program")])


async def test_lines_are_streamed_while_the_process_runs(tmp_path: Path) -> None:
    marker = tmp_path / "seen"
    script = textwrap.dedent(f"""
        import pathlib, sys, time
        print("first", flush=True)
        deadline = time.time() + 10
        while not pathlib.Path({str(marker)!r}).exists() and time.time() < deadline:
            time.sleep(0.01)
        print("second" if pathlib.Path({str(marker)!r}).exists() else "not streamed", flush=True)
        print("to stderr", file=sys.stderr)
        sys.exit(3)
    """)
    seen: list[tuple[str, str]] = []

    def on_line(stream: str, line: str) -> None:
        seen.append((stream, line))
        if line == "first":
            marker.write_text("x")

    result = await run_process([PY, "-c", script], on_line=on_line)
    assert result.returncode == 3
    assert result.stdout == ("first", "second")
    assert result.stderr == ("to stderr",)
    assert ("stdout", "first") in seen and ("stderr", "to stderr") in seen


async def test_long_lines_and_undecodable_bytes(tmp_path: Path) -> None:
    script = "import sys; sys.stdout.buffer.write(b'x' * 300000 + b'\\n\\xff\\xfe end\\r\\nlast')"
    result = await run_process([PY, "-c", script])
    assert len(result.stdout[0]) == 300000
    assert result.stdout[1].endswith(" end") and "\ufffd" in result.stdout[1]
    assert result.stdout[2] == "last"


def _tree_script(pids: Path, ignore_term: bool) -> str:
    grandchild = "import signal, time\n" + (
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n" if ignore_term else "") + "time.sleep(60)\n"
    return textwrap.dedent(f"""
        import subprocess, sys, time, pathlib
        child = subprocess.Popen([sys.executable, "-c", {grandchild!r}])
        pathlib.Path({str(pids)!r}).write_text(str(child.pid))
        print("started", flush=True)
        time.sleep(60)
    """)


@pytest.mark.skipif(sys.platform == "win32", reason="signals")
@pytest.mark.parametrize("ignore_term", [False, True])
async def test_cancel_ends_the_child_and_its_grandchild(tmp_path: Path, ignore_term: bool) -> None:
    pids = tmp_path / "pids"
    cancel = asyncio.Event()
    task = asyncio.create_task(run_process([PY, "-c", _tree_script(pids, ignore_term)], cancel=cancel, grace=0.5))
    grandchild = int(await _wait_for(pids))
    start = time.monotonic()
    cancel.set()
    result = await asyncio.wait_for(task, 10)
    assert result.cancelled
    assert result.returncode != 0
    assert time.monotonic() - start < 5
    deadline = time.monotonic() + 5
    while not _gone(grandchild) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert _gone(grandchild)


@pytest.mark.skipif(sys.platform == "win32", reason="signals")
async def test_cancelling_the_task_ends_the_tree_too(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    task = asyncio.create_task(run_process([PY, "-c", _tree_script(pids, False)], grace=0.5))
    grandchild = int(await _wait_for(pids))
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    deadline = time.monotonic() + 5
    while not _gone(grandchild) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert _gone(grandchild)


@pytest.mark.skipif(sys.platform == "win32", reason="sessions")
async def test_an_escaped_grandchild_holding_the_pipe_does_not_hang_the_reader(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    # The grandchild starts its own session (so it is outside the tree and the process group)
    # and keeps the inherited stdout open; the child exits at once.
    script = textwrap.dedent(f"""
        import subprocess, sys, pathlib
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"], start_new_session=True)
        pathlib.Path({str(pids)!r}).write_text(str(child.pid))
        print("done", flush=True)
    """)
    start = time.monotonic()
    try:
        result = await asyncio.wait_for(run_process([PY, "-c", script]), 15)
        assert result.returncode == 0
        assert result.stdout == ("done",)
        assert time.monotonic() - start < 10
    finally:
        if pids.exists():
            try:
                psutil.Process(int(pids.read_text())).kill()
            except psutil.NoSuchProcess:
                pass


async def test_environment_and_working_folder(tmp_path: Path) -> None:
    env = {**os.environ, "ENVLS_TEST_VALUE": "a b; $(c)"}
    script = "import os; print(os.getcwd()); print(os.environ['ENVLS_TEST_VALUE'])"
    result = await run_process([PY, "-c", script], cwd=tmp_path, env=env)
    assert Path(result.stdout[0]).resolve() == tmp_path.resolve()
    assert result.stdout[1] == "a b; $(c)"
