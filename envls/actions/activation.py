"""Activating an environment without `conda init`: the script for a shell, and the variables it sets.

The script comes from py-rattler's activator, so it does what `conda activate` does: PATH (the
previously active environment's folders taken out), `CONDA_PREFIX`, `CONDA_SHLVL`, the variables in
`conda-meta/state` (`conda env config vars`), and the `etc/conda/activate.d` scripts; envls adds
`CONDA_DEFAULT_ENV` as conda sets it. The variables (for `envls run`, Jupyter kernels and editor
terminals) are what that script leaves behind: it is sourced in a real shell (bash, or cmd on Windows),
which then hands its environment to this Python as JSON, so `activate.d` scripts count too.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shlex
import shutil
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

from rattler.shell import ActivationVariables, PathModificationBehavior, Shell, activate

from envls.actions.process import run_process
from envls.actions.request import ActionError, CancelToken

SHELLS = ("bash", "zsh", "fish", "powershell", "cmd")
_RATTLER_SHELLS = {"bash": Shell.bash, "zsh": Shell.zsh, "fish": Shell.fish, "powershell": Shell.powershell,
                   "cmd": Shell.cmd_exe}
_TIMEOUT = 60.0
_DUMP = "import json, os, sys; sys.stdout.write(json.dumps(dict(os.environ)))"


def default_shell(environ: Mapping[str, str] | None = None) -> str:
    """The user's shell from `$SHELL` (PowerShell on Windows); bash when it is none of the known ones."""
    env = os.environ if environ is None else environ
    if os.name == "nt":
        return "powershell"
    name = Path(env.get("SHELL", "")).name
    return name if name in SHELLS else "bash"


def _quoted(shell: str, text: str) -> str:
    if shell in ("bash", "zsh"):
        return shlex.quote(text)
    if shell == "fish":
        return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
    if shell == "powershell":
        return "'" + text.replace("'", "''") + "'"
    return text


def _set_line(shell: str, key: str, value: str) -> str:
    if shell in ("bash", "zsh"):
        return f"export {key}={_quoted(shell, value)}"
    if shell == "fish":
        return f"set -gx {key} {_quoted(shell, value)}"
    if shell == "powershell":
        return f"${{Env:{key}}} = {_quoted(shell, value)}"
    return f'@SET "{key}={value}"'


def activation_script(prefix: Path, shell: str, *, name: str | None = None,
                      environ: Mapping[str, str] | None = None) -> str:
    """The script that activates ``prefix`` in ``shell`` (to `eval` or source); ActionError when it cannot."""
    if shell not in _RATTLER_SHELLS:
        raise ActionError(f"unknown shell `{shell}`; use one of {', '.join(SHELLS)}")
    if not (prefix / "conda-meta").is_dir():
        raise ActionError(f"{prefix} is no conda environment (it has no conda-meta folder)")
    env = os.environ if environ is None else environ
    current = env.get("CONDA_PREFIX")
    variables = ActivationVariables(Path(current) if current else None,
                                    env.get("PATH", "").split(os.pathsep),
                                    PathModificationBehavior.Replace)
    try:
        result = activate(prefix, variables, _RATTLER_SHELLS[shell])
    except Exception as err:  # py-rattler's ActivationError: a bad state file, an unreadable activate.d
        raise ActionError(f"cannot activate {prefix}: {str(err).strip() or type(err).__name__}") from None
    script = result.script.rstrip("\n")
    return f"{script}\n{_set_line(shell, 'CONDA_DEFAULT_ENV', name or str(prefix))}\n"


async def activated_environment(prefix: Path, *, name: str | None = None, environ: Mapping[str, str] | None = None,
                                cancel: CancelToken | None = None) -> dict[str, str]:
    """The whole environment after activating ``prefix`` on top of ``environ`` (os.environ when None)."""
    base = dict(os.environ if environ is None else environ)
    windows = sys.platform == "win32"
    shell = "cmd" if windows else "bash"
    script = activation_script(prefix, shell, name=name, environ=base)
    program = _shell_program(base, windows)
    if not program:
        raise ActionError("no bash (or sh) was found to run the activation scripts")
    fd, script_path = tempfile.mkstemp(prefix="envls-activate-", suffix=".bat" if windows else ".sh")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(script)
    try:
        if windows:
            argv = [program, "/d", "/c", "call", script_path, ">", "nul", "&&", sys.executable, "-c", _DUMP]
        else:
            # The script's own output goes to stderr so that stdout carries only the JSON.
            argv = [program, "--noprofile", "--norc", "-c", '. "$1" >&2 && exec "$2" -I -c "$3"', "envls-activate",
                    script_path, sys.executable, _DUMP] if Path(program).name == "bash" else \
                [program, "-c", '. "$1" >&2 && exec "$2" -I -c "$3"', "envls-activate", script_path, sys.executable,
                 _DUMP]
        try:
            result = await asyncio.wait_for(run_process(argv, env=base, cancel=cancel), _TIMEOUT)
        except asyncio.TimeoutError:
            raise ActionError(f"activating {prefix} took longer than {_TIMEOUT:.0f} s (an activate.d script hangs?)") \
                from None
    finally:
        with contextlib.suppress(OSError):
            os.unlink(script_path)
    if result.cancelled:
        raise ActionError("cancelled")
    try:
        values = json.loads("\n".join(result.stdout))
    except ValueError:
        values = None
    if result.returncode != 0 or not isinstance(values, dict):
        tail = "\n".join(line for line in result.stderr[-10:] if line.strip())
        raise ActionError(f"activating {prefix} failed (exit status {result.returncode})" + (f":\n{tail}" if tail else ""))
    return {str(k): str(v) for k, v in values.items()}


def _shell_program(environ: Mapping[str, str], windows: bool) -> str | None:
    """bash (cmd on Windows): on the given PATH, on this process's PATH, else where systems keep it."""
    if windows:
        return shutil.which("cmd.exe", path=environ.get("PATH")) or environ.get("COMSPEC") or shutil.which("cmd.exe")
    for path in (environ.get("PATH"), None):
        found = shutil.which("bash", path=path)
        if found:
            return found
    for candidate in ("/bin/bash", "/usr/bin/bash", "/usr/local/bin/bash", "/bin/sh"):
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def changed_variables(before: Mapping[str, str], after: Mapping[str, str]) -> dict[str, str]:
    """The variables activation set or changed (what an editor adds to its terminals)."""
    return {key: value for key, value in after.items() if before.get(key) != value}
