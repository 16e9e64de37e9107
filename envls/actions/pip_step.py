"""The `pip:` section, installed as conda installs it: with the environment's own Python.

The lines go into a requirements file next to the environment file (`condaenv.<random>.requirements.txt`,
as conda names it), so that relative paths and `-r other.txt` mean what they mean to conda, and pip
runs from that folder: `<prefix>/bin/python -m pip install -U -r FILE --exists-action=b`. The file is
removed afterwards. A failing pip is an ActionError with pip's own last lines: never hidden.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from envls.actions.process import run_process
from envls.actions.request import ActionError, Cancelled, CancelToken, Reporter, python_path

_PIP_TAIL = 25


def write_requirements(folder: Path, lines: Sequence[str]) -> Path:
    """A fresh `condaenv.<random>.requirements.txt` in ``folder`` (the system's temp folder when read-only)."""
    text = "".join(f"{line}\n" for line in lines)
    for place in (folder, None):
        try:
            fd, name = tempfile.mkstemp(prefix="condaenv.", suffix=".requirements.txt", dir=place)
        except OSError:
            continue
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        return Path(name)
    raise ActionError(f"cannot write the pip requirements file in {folder} or the temp folder")


def pip_argv(python: Path, requirements: Path) -> list[str]:
    return [str(python), "-m", "pip", "install", "-U", "-r", str(requirements), "--exists-action=b",
            "--disable-pip-version-check"]


async def install_pip_section(
    prefix: Path,
    lines: Sequence[str],
    env_file: Path,
    *,
    reporter: Reporter,
    cancel: CancelToken | None = None,
    environ: Mapping[str, str] | None = None,
    percent: int | None = None,
) -> None:
    """Run pip for ``lines`` in ``prefix``; ActionError (with pip's output) when pip fails."""
    if not lines:
        return
    python = python_path(prefix)
    if python is None:
        raise ActionError(
            "the file has a `pip:` section, but the environment has no Python: add `python` and `pip` "
            "to the dependencies")
    folder = env_file.parent
    requirements = write_requirements(folder, lines)
    argv = pip_argv(python, requirements)
    reporter.progress(f"Installing {len(lines)} pip requirement{'s' if len(lines) != 1 else ''}", percent)
    reporter.log(f"$ {shlex.join(argv)}")

    def on_line(stream: str, line: str) -> None:
        reporter.log(line)
        text = line.strip()
        if text.startswith(("Collecting ", "Installing collected packages", "Building wheel")):
            reporter.progress(f"pip: {text[:120]}", percent)

    env = dict(os.environ if environ is None else environ)
    env.setdefault("PIP_NO_INPUT", "1")
    env.setdefault("PYTHONUNBUFFERED", "1")
    try:
        result = await run_process(argv, cwd=folder, env=env, on_line=on_line, cancel=cancel)
    except OSError as err:
        raise ActionError(f"cannot run {python}: {err.strerror or err}") from None
    finally:
        with contextlib.suppress(OSError):
            requirements.unlink()
    if result.cancelled:
        raise Cancelled("cancelled while pip was installing the `pip:` section")
    if result.returncode != 0:
        lines_out = [line for line in (*result.stdout, *result.stderr) if line.strip()]
        tail = "\n".join(lines_out[-_PIP_TAIL:])
        raise ActionError(f"pip failed (exit status {result.returncode}) installing the `pip:` section:\n{tail}")
