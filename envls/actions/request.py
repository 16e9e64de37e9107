"""What an action is asked to do, what it answers, how it fails, and how it reports progress.

These are plain objects shared by every backend; the language server turns a `Reporter` into
`$/progress` and log messages, an `ActionError` into a message for the user, and a `Result`
into the command's answer (`{"prefix", "pythonPath", "backend"}`).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

Backend = Literal["auto", "conda", "mamba", "micromamba", "embedded"]
BACKENDS: tuple[Backend, ...] = ("auto", "conda", "mamba", "micromamba", "embedded")

# Cancel is an asyncio.Event: the caller sets it (from the event loop's thread) to stop the action.
CancelToken = asyncio.Event


@dataclass(frozen=True)
class CreateRequest:
    """Create (or, with ``update``, update) the environment an environment file describes."""

    env_file: Path
    name: str | None = None
    prefix: str | None = None
    backend: Backend = "auto"
    prune: bool = False
    force: bool = False
    update: bool = False


@dataclass(frozen=True)
class Result:
    prefix: str
    python_path: str | None
    backend: str


class ActionError(Exception):
    """A failure to show the user as it is: the message says what went wrong and what to do."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Cancelled(ActionError):
    """The action was cancelled; what it had started is cleaned up."""


class Reporter(Protocol):
    def progress(self, message: str, percent: int | None) -> None: ...

    def log(self, line: str) -> None: ...


def python_path(prefix: Path) -> Path | None:
    """The environment's interpreter, when it has one."""
    for candidate in (prefix / "python.exe", prefix / "bin" / "python", prefix / "bin" / "python3"):
        if candidate.exists():
            return candidate
    return None


def result_for(prefix: Path, backend: str) -> Result:
    python = python_path(prefix)
    return Result(str(prefix), str(python) if python is not None else None, backend)
