"""Test support for the actions: a real conda channel and a pip index, built here and served on loopback.

`build_channel` makes packages with py-rattler-build's `assemble_package` and indexes them with
py-rattler's `index_fs`. Among them is a `python` whose payload is a venv-like layout pointing at
the interpreter running the tests (`bin/python` a symlink to it, `pyvenv.cfg`, and a `.pth` file
that adds this test environment's site-packages, where pip lives), so that
`<prefix>/bin/python -m pip install ...` really runs. `build_pip_index` writes wheels by hand
(zip + dist-info) and a PEP 503 simple index for them. Both are served by tests/channel_server.py.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import sys
import sysconfig
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import rattler_build as rb
from rattler.index import index_fs

PY_VERSION = f"{sys.version_info.major}.{sys.version_info.minor}"


@dataclass(frozen=True)
class Pkg:
    name: str
    version: str = "1.0"
    depends: tuple[str, ...] = ()
    subdir: str = "noarch"  # or "linux-64"
    files: int = 2


def _payload(stage: Path, pkg: Pkg) -> Path:
    folder = stage / f"{pkg.name}-{pkg.version}-{pkg.subdir}"
    data = folder / "share" / pkg.name
    data.mkdir(parents=True, exist_ok=True)
    for index in range(pkg.files):
        (data / f"file{index}.txt").write_text(f"{pkg.name} {pkg.version} file {index}\n" * 4)
    return folder


def _python_payload(stage: Path) -> Path:
    folder = stage / "python-payload"
    (folder / "bin").mkdir(parents=True, exist_ok=True)
    link = folder / "bin" / "python"
    if not link.is_symlink():
        os.symlink(sys.executable, link)
    home = os.path.dirname(os.path.realpath(sys.executable))
    (folder / "pyvenv.cfg").write_text(
        f"home = {home}\ninclude-system-site-packages = false\nversion = {sys.version.split()[0]}\n")
    site = folder / "lib" / f"python{PY_VERSION}" / "site-packages"
    site.mkdir(parents=True, exist_ok=True)
    # pip (and what it needs) come from the environment running the tests.
    (site / "_envls_test_venv.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return folder


def build_channel(root: Path, packages: list[Pkg], *, with_python: bool = True, zst: bool = False,
                  shards: bool = False) -> Path:
    """A channel folder under ``root`` with ``packages`` (and the test `python`), indexed: `repodata.json`,
    with ``zst`` also `repodata.json.zst`, with ``shards`` also the CEP-16 shards (as rattler-index writes them)."""
    channel = root
    stage = root.parent / f".{root.name}-stage"
    for subdir in ("noarch", "linux-64"):
        (channel / subdir).mkdir(parents=True, exist_ok=True)
    if with_python:
        rb.assemble_package(name="python", version=sys.version.split()[0], target_platform="linux-64",
                            build_string="0_envls_test", output_dir=channel / "linux-64",
                            files_dir=_python_payload(stage))
    for pkg in packages:
        rb.assemble_package(name=pkg.name, version=pkg.version, target_platform=pkg.subdir, build_string="0",
                            output_dir=channel / pkg.subdir, files_dir=_payload(stage, pkg),
                            depends=list(pkg.depends), noarch="generic" if pkg.subdir == "noarch" else None)
    asyncio.run(index_fs(channel, write_zst=zst, write_shards=shards, force=True))
    return channel


@dataclass
class Wheel:
    name: str  # the distribution name, e.g. envls-demo
    version: str = "1.0"
    module_text: str = "VALUE = 42\n"
    path: Path | None = field(default=None)

    @property
    def module(self) -> str:
        return self.name.replace("-", "_")

    @property
    def filename(self) -> str:
        return f"{self.module}-{self.version}-py3-none-any.whl"


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"sha256={digest}"


def build_wheel(folder: Path, wheel: Wheel) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    info = f"{wheel.module}-{wheel.version}.dist-info"
    members = {
        f"{wheel.module}/__init__.py": wheel.module_text.encode(),
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {wheel.name}\nVersion: {wheel.version}\n".encode(),
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: envls-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = "".join(f"{name},{_record_hash(data)},{len(data)}\n" for name, data in members.items())
    members[f"{info}/RECORD"] = (record + f"{info}/RECORD,,\n").encode()
    path = folder / wheel.filename
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    wheel.path = path
    return path


def build_pip_index(root: Path, wheels: list[Wheel]) -> Path:
    """``root``/simple/<name>/index.html (PEP 503) linking to ``root``/wheels/<file>."""
    simple = root / "simple"
    names = []
    for wheel in wheels:
        path = build_wheel(root / "wheels", wheel)
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        page = simple / wheel.name
        page.mkdir(parents=True, exist_ok=True)
        (page / "index.html").write_text(
            f'<!DOCTYPE html><html><body><a href="../../wheels/{path.name}#sha256={digest}">{path.name}</a>'
            "</body></html>\n")
        names.append(wheel.name)
    links = "".join(f'<a href="{name}/">{name}</a>' for name in names)
    (simple / "index.html").write_text(f"<!DOCTYPE html><html><body>{links}</body></html>\n")
    return simple


class RecordingReporter:
    """Keeps every progress message and log line, in order."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, int | None]] = []
        self.lines: list[str] = []

    def progress(self, message: str, percent: int | None) -> None:
        self.messages.append((message, percent))

    def log(self, line: str) -> None:
        self.lines.append(line)

    def saw(self, text: str) -> bool:
        return any(text in message for message, _ in self.messages)


def installed(prefix: Path) -> set[str]:
    """The names of the packages installed in ``prefix``, from its conda-meta records."""
    return {p.name.rsplit("-", 2)[0] for p in (prefix / "conda-meta").glob("*.json")}
