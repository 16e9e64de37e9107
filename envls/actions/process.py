"""One child process: started from an argument list, its output streamed, and cancel that ends its tree.

There is no shell anywhere: the arguments reach the program exactly as given, so a name with
spaces, quotes, `;` or `$(...)` is just text. Output is read in chunks and split into lines here
(no line is too long for the reader). Cancel, or cancelling the awaiting task, ends the process
and every process it started: the tree as psutil sees it plus, on POSIX, the process group of
the new session the child was started in, first politely and then by force after a grace period.
The readers never wait on a pipe that some escaped grandchild keeps open: once the process has
ended they get a short drain period and are then stopped.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import functools
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import psutil

log = logging.getLogger(__name__)

Stream = Literal["stdout", "stderr"]
LineHandler = Callable[[Stream, str], None]

_CHUNK = 65536
_DRAIN_SECONDS = 2.0


@dataclass(frozen=True)
class ProcessResult:
    argv: tuple[str, ...]
    returncode: int
    stdout: tuple[str, ...]
    stderr: tuple[str, ...]
    cancelled: bool = False


def _checked_argv(argv: Sequence[str]) -> tuple[str, ...]:
    # A string is a sequence of one-character strings: refusing it here keeps a shell-like
    # command line from ever being split (or misread) somewhere down the line.
    if isinstance(argv, (str, bytes)):
        raise TypeError("run_process takes an argument list, not a command string")
    args = tuple(argv)
    if not args:
        raise ValueError("run_process needs a program to run")
    for arg in args:
        if not isinstance(arg, str):
            raise TypeError(f"every argument must be a str, not {type(arg).__name__}: {arg!r}")
        if "\0" in arg:
            raise ValueError(f"an argument contains a NUL character: {arg!r}")
    return args


async def run_process(
    argv: Sequence[str],
    *,
    cwd: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    on_line: LineHandler | None = None,
    cancel: asyncio.Event | None = None,
    grace: float = 3.0,
    keep_lines: int = 20000,
) -> ProcessResult:
    """Run ``argv`` to its end (or until ``cancel`` is set) and return its exit status and output.

    ``on_line`` is called on the event loop's thread for every line of stdout and stderr, without
    the line ending. The last ``keep_lines`` lines of each stream are kept in the result. When
    ``cancel`` is set the process tree is ended and the result has ``cancelled=True``; when the
    awaiting task itself is cancelled the tree is ended too and CancelledError propagates.
    """
    args = _checked_argv(argv)
    kwargs: dict[str, object] = {}
    if sys.platform == "win32":
        kwargs["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP
    else:
        # Its own session (and so process group): cancel can reach grandchildren that were
        # re-parented after their parent died, and a terminal's Ctrl-C never reaches it.
        kwargs["start_new_session"] = True
    pipes = _Pipes()
    try:
        proc = await asyncio.create_subprocess_exec(
            *args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=pipes.child_stdout,
            stderr=pipes.child_stderr,
            cwd=os.fspath(cwd) if cwd is not None else None,
            env=dict(env) if env is not None else None,
            **kwargs,  # type: ignore[arg-type]
        )
    except BaseException:
        pipes.close_all()
        raise
    out: list[str] = []
    err: list[str] = []
    readers: list[asyncio.Future[None]] = []
    cancelled = False
    try:
        try:
            stdout, stderr = await pipes.readers(proc)
            readers += [
                asyncio.ensure_future(_read_lines(stdout, "stdout", out, on_line, keep_lines)),
                asyncio.ensure_future(_read_lines(stderr, "stderr", err, on_line, keep_lines)),
            ]
            waiter = asyncio.ensure_future(_exit(proc))
            if cancel is not None:
                cancel_wait = asyncio.ensure_future(cancel.wait())
                try:
                    await asyncio.wait({waiter, cancel_wait}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    cancel_wait.cancel()
                if not waiter.done():
                    cancelled = True
                    await end_process_tree(proc.pid, grace)
            await waiter
        except BaseException:
            # Cancelled (or failed) while the process runs: it must not outlive the call.
            await asyncio.shield(_end_and_reap(proc, grace))
            for reader in readers:
                reader.cancel()
            raise
        await _drain(readers)
    finally:
        pipes.close_all()
    returncode = proc.returncode if proc.returncode is not None else -1
    return ProcessResult(args, returncode, tuple(out), tuple(err), cancelled)


class _Pipes:
    """The child's stdout and stderr.

    On POSIX these are plain OS pipes read through the event loop: asyncio's own PIPE makes
    `Process.wait()` wait until every holder of the pipe has closed it, which a grandchild that
    escaped the tree may never do. Here the exit is seen at once and the read ends closed by us.
    """

    def __init__(self) -> None:
        self.transports: list[asyncio.BaseTransport] = []
        self.fds: list[int] = []
        if sys.platform == "win32":
            self.child_stdout: int = asyncio.subprocess.PIPE
            self.child_stderr: int = asyncio.subprocess.PIPE
            self._read: list[int] = []
        else:
            out_r, out_w = os.pipe()
            err_r, err_w = os.pipe()
            self.fds = [out_r, out_w, err_r, err_w]
            self._read = [out_r, err_r]
            self.child_stdout, self.child_stderr = out_w, err_w

    async def readers(self, proc: asyncio.subprocess.Process) -> tuple[asyncio.StreamReader, asyncio.StreamReader]:
        if sys.platform == "win32":
            assert proc.stdout is not None and proc.stderr is not None
            return proc.stdout, proc.stderr
        # The child has its copies of the write ends: ours must go, or the readers never see EOF.
        for fd in (self.child_stdout, self.child_stderr):
            os.close(fd)
            self.fds.remove(fd)
        loop = asyncio.get_running_loop()
        streams = []
        for fd in self._read:
            reader = asyncio.StreamReader()
            pipe = os.fdopen(fd, "rb", buffering=0)
            self.fds.remove(fd)
            transport, _ = await loop.connect_read_pipe(functools.partial(asyncio.StreamReaderProtocol, reader), pipe)
            self.transports.append(transport)
            streams.append(reader)
        return streams[0], streams[1]

    def close_all(self) -> None:
        for transport in self.transports:
            transport.close()
        for fd in self.fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        self.fds = []


async def _exit(proc: asyncio.subprocess.Process) -> int:
    if sys.platform != "win32":
        return await proc.wait()
    # With asyncio's pipes, wait() also waits for the pipes to close: watch the exit status instead.
    waiter = asyncio.ensure_future(proc.wait())
    while not waiter.done() and proc.returncode is None:
        await asyncio.wait({waiter}, timeout=0.05)
    if not waiter.done():
        waiter.cancel()
    return proc.returncode if proc.returncode is not None else -1


async def _end_and_reap(proc: asyncio.subprocess.Process, grace: float) -> None:
    await end_process_tree(proc.pid, grace)
    with contextlib.suppress(ProcessLookupError, asyncio.CancelledError, asyncio.TimeoutError):
        await asyncio.wait_for(_exit(proc), grace)


async def _drain(readers: Sequence[asyncio.Future[None]]) -> None:
    """Let the readers take what is left in the pipes; stop them if a straggler holds a pipe open."""
    done, pending = await asyncio.wait(readers, timeout=_DRAIN_SECONDS)
    for reader in pending:
        reader.cancel()
    for reader in pending:
        with contextlib.suppress(asyncio.CancelledError):
            await reader
    for reader in done:
        reader.result()


async def _read_lines(
    stream: asyncio.StreamReader, name: Stream, kept: list[str], on_line: LineHandler | None, keep: int
) -> None:
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    pending = ""

    def emit(line: str) -> None:
        line = line.rstrip("\r")
        kept.append(line)
        if len(kept) > keep:
            del kept[: len(kept) - keep]
        if on_line is not None:
            try:
                on_line(name, line)
            except Exception:  # A faulty callback must not stop the reading (and block the child).
                log.exception("line handler failed")

    while True:
        chunk = await stream.read(_CHUNK)
        if not chunk:
            break
        pending += decoder.decode(chunk)
        *lines, pending = pending.split("\n")
        for line in lines:
            emit(line)
    pending += decoder.decode(b"", final=True)
    if pending:
        emit(pending)


def _tree(pid: int) -> list[psutil.Process]:
    try:
        parent = psutil.Process(pid)
        return [parent, *parent.children(recursive=True)]
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return []


def _signal_group(pid: int, sig: int) -> None:
    if sys.platform == "win32":
        return
    # The child leads its own session, so its process group id is its pid; killpg also reaches
    # processes whose parent has already gone and that psutil can no longer find as descendants.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def _gone(proc: psutil.Process) -> bool:
    # A zombie has ended; waiting for it through psutil would reap it, and the direct child must
    # be reaped by asyncio (which then knows its exit status), so this only looks.
    try:
        return proc.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True
    except psutil.Error:
        return False


async def _wait_gone(procs: list[psutil.Process], timeout: float) -> list[psutil.Process]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    alive = [p for p in procs if not _gone(p)]
    while alive and loop.time() < deadline:
        await asyncio.sleep(0.05)
        alive = [p for p in alive if not _gone(p)]
    return alive


async def end_process_tree(pid: int, grace: float = 3.0) -> None:
    """End ``pid`` and all its descendants: terminate, wait up to ``grace`` seconds, then kill."""
    procs = _tree(pid)
    # Stop the tree first so that nobody spawns new children while it is being taken down.
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            proc.suspend()
    procs = [*procs, *(p for p in _tree(pid) if p not in procs)]
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            proc.terminate()
    _signal_group(pid, signal.SIGTERM)
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            proc.resume()
    alive = await _wait_gone(procs, grace)
    for proc in alive:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    _signal_group(pid, getattr(signal, "SIGKILL", signal.SIGTERM))
    if alive:
        await _wait_gone(alive, grace)
