"""Register an environment as a Jupyter kernel: a kernelspec in the user's Jupyter data folder.

The folder is Jupyter's own choice: `JUPYTER_DATA_DIR` when set, else `$XDG_DATA_HOME/jupyter` (Linux),
`~/Library/Jupyter` (macOS) or `%APPDATA%\\jupyter` (Windows). The kernelspec runs the environment's
Python with `ipykernel_launcher` and carries the activation variables in its `env`, so the kernel sees
what an activated terminal sees (PATH for compilers and CLIs, `activate.d` variables), also where
`conda init` never ran (a Remote-SSH machine). An environment without ipykernel is refused with what to
add to the file: the kernel would not start.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from envls.actions.request import ActionError, python_path
from envls.host.installed import read_installed

_KERNEL_NAME = re.compile(r"[^a-z0-9._-]+")


@dataclass(frozen=True)
class Kernel:
    name: str
    display_name: str
    path: Path  # the kernelspec's folder


def jupyter_data_dir(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    if env.get("JUPYTER_DATA_DIR"):
        return Path(os.path.expanduser(env["JUPYTER_DATA_DIR"]))
    home = Path(env.get("HOME") or Path.home())
    if sys.platform == "win32":
        return Path(env.get("APPDATA") or home / "AppData" / "Roaming") / "jupyter"
    if sys.platform == "darwin":
        return home / "Library" / "Jupyter"
    return Path(env.get("XDG_DATA_HOME") or home / ".local" / "share") / "jupyter"


def has_ipykernel(prefix: Path) -> bool:
    """ipykernel is installed: a conda package of that name, or a distribution in site-packages."""
    snapshot = read_installed(prefix)
    return "ipykernel" in snapshot.packages or "ipykernel" in (snapshot.pip_packages or {})


def kernel_name(label: str) -> str:
    return "envls-" + (_KERNEL_NAME.sub("-", label.lower()).strip("-.") or "env")


def register_kernel(prefix: Path, env_name: str | None, variables: Mapping[str, str], *,
                    display_name: str | None = None, environ: Mapping[str, str] | None = None) -> Kernel:
    """Write (or replace) the kernelspec of ``prefix``; ``variables`` are what activation sets."""
    python = python_path(prefix)
    if python is None:
        raise ActionError(f"{prefix} has no Python: add `python` and `ipykernel` to the environment file, "
                          "update the environment, and register it again")
    if not has_ipykernel(prefix):
        raise ActionError(f"the environment {env_name or prefix} has no ipykernel, so Jupyter could not start a "
                          "kernel in it: add `ipykernel` to the file's dependencies, update the environment, "
                          "and register it again")
    label = env_name or prefix.name
    name = kernel_name(label)
    shown = display_name or f"Python ({label})"
    folder = jupyter_data_dir(environ) / "kernels" / name
    spec = {
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": shown,
        "language": "python",
        "env": dict(variables),
        "metadata": {"debugger": True, "envls": {"prefix": str(prefix)}},
    }
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / ".kernel.json.envls-tmp"
        tmp.write_text(json.dumps(spec, indent=1) + "\n", encoding="utf-8")
        os.replace(tmp, folder / "kernel.json")
    except OSError as err:
        raise ActionError(f"cannot write the kernelspec in {folder}: {err.strerror or err}") from None
    return Kernel(name, shown, folder)
