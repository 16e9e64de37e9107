"""Test support for the workflow commands: a channel with a `python`, an `ipykernel` and a few packages,
served on loopback, and the environment a `python -m envls ...` subprocess runs with (its own HOME, caches
and data folders, so the user's conda configuration never leaks in)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from actions_support import Pkg
from channel_server import ChannelServer

PACKAGES = [
    Pkg("app", depends=("liba >=1", "python")),
    Pkg("liba", depends=("libc <2",)),
    Pkg("libc", version="1.5"),
    Pkg("libc", version="2.0"),
    Pkg("pip", version="24.0", depends=("python",)),
    Pkg("extra"),
    Pkg("slowpkg"),
]


@dataclass
class Site:
    server: ChannelServer
    channel: str
    index: str
    root: Path


def cli_environ(home: Path, site: Site, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONDA", "MAMBA", "JUPYTER", "XDG_"))}
    env.update({
        "HOME": str(home), "XDG_CACHE_HOME": str(home / ".cache"), "XDG_DATA_HOME": str(home / ".local" / "share"),
        "XDG_CONFIG_HOME": str(home / ".config"), "PIP_INDEX_URL": site.index, "PIP_CONFIG_FILE": os.devnull,
        "PIP_DISABLE_PIP_VERSION_CHECK": "1", "ENVLS_LOG_LEVEL": "warning",
    })
    env.update(extra or {})
    return env


def envls(*args: str, env: Mapping[str, str], cwd: Path | None = None, timeout: float = 120,
          input_text: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "envls", *args], capture_output=True, text=True, env=dict(env),
                          cwd=cwd, timeout=timeout, input=input_text)


def env_yaml(site: Site, name: str, deps: list[str], pip: list[str] | None = None) -> str:
    lines = [f"name: {name}", "channels:", f"  - {site.channel}", "  - nodefaults", "dependencies:"]
    lines += [f"  - {dep}" for dep in deps]
    if pip:
        lines += ["  - pip:"] + [f"    - {line}" for line in pip]
    return "\n".join(lines) + "\n"


def add_ipykernel(channel: Path) -> None:
    """An `ipykernel` package whose files provide the modules (`ipykernel`, `ipykernel_launcher`), indexed."""
    import asyncio

    import rattler_build as rb
    from actions_support import PY_VERSION
    from rattler.index import index_fs

    files = channel.parent / ".ipykernel-stage"
    site = files / "lib" / f"python{PY_VERSION}" / "site-packages"
    (site / "ipykernel").mkdir(parents=True, exist_ok=True)
    (site / "ipykernel" / "__init__.py").write_text("version = '6.0'\n")
    (site / "ipykernel_launcher.py").write_text(
        "import os, sys\nprint('kernel', sys.argv[1:], os.environ.get('ENVLS_FROM_SCRIPT'))\n")
    rb.assemble_package(name="ipykernel", version="6.0", target_platform="linux-64", build_string="0",
                        output_dir=channel / "linux-64", files_dir=files, depends=["python"])
    asyncio.run(index_fs(channel, write_zst=False, write_shards=False, force=True))
