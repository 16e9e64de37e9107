"""Lock files from a solution: conda's explicit spec files, and optionally rattler's lock file.

Next to `environment.yml`, for each target platform that solves:

* `environment.<platform>.lock.txt`: an explicit spec file (`@EXPLICIT`, one package URL per line with
  its hash: `#<md5>`, or `#sha256:<hex>` for a record without an md5), as `conda list --explicit --md5`
  writes it. `conda create --name NAME --file environment.linux-64.lock.txt` (or mamba, micromamba)
  installs exactly these packages without solving.
* `environment.rattler.lock` (when asked for): every platform in one file, in the lock-file format of
  rattler and pixi (py-rattler's `LockFile`), with the channels and the virtual packages assumed.

Files are written whole (a temporary file, then renamed), so a reader never sees half a lock file.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from envls import __version__
from envls.core.solve.facts import PlatformSolve, SolvedPackage


def explicit_path(env_file: Path, platform: str) -> Path:
    return env_file.with_name(f"{env_file.stem}.{platform}.lock.txt")


def rattler_lock_path(env_file: Path) -> Path:
    return env_file.with_name(f"{env_file.stem}.rattler.lock")


def _ordered(packages: Sequence[SolvedPackage]) -> list[SolvedPackage]:
    """Dependencies before what depends on them (the order an explicit file should have), else by name."""
    records = [p.record for p in packages]
    if all(r is not None for r in records):
        try:
            from rattler import PackageRecord

            by_id = {(p.name, p.version, p.build): p for p in packages}
            ordered = [by_id[(r.name.normalized, str(r.version), str(r.build))]
                       for r in PackageRecord.sort_topologically(records)]
            if len(ordered) == len(packages):
                return ordered
        except Exception:  # a sort that fails costs only the order
            pass
    return sorted(packages, key=lambda p: p.name)


def explicit_line(package: SolvedPackage) -> str:
    if package.md5:
        return f"{package.url}#{package.md5}"
    if package.sha256:
        return f"{package.url}#sha256:{package.sha256}"
    return package.url


def explicit_text(solve: PlatformSolve, env_file_name: str) -> str:
    lines = [
        "# This file may be used to create an environment using:",
        "# $ conda create --name <env> --file <this file>",
        f"# Written by envls {__version__} from {env_file_name}; write it again after changing that file.",
        f"# platform: {solve.platform}",
        "@EXPLICIT",
        *(explicit_line(p) for p in _ordered(solve.packages)),
    ]
    return "\n".join(lines) + "\n"


def _write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_explicit(env_file: Path, solve: PlatformSolve) -> Path:
    path = explicit_path(env_file, solve.platform)
    _write(path, explicit_text(solve, env_file.name))
    return path


def write_rattler_lock(env_file: Path, solves: Sequence[PlatformSolve], channels: Sequence[str]) -> Path:
    """One rattler lock file (environment `default`) with every solved platform."""
    from rattler import LockChannel, LockFile, LockPlatform

    platforms = {s.platform: LockPlatform(s.platform, virtual_packages=list(s.virtual_packages)) for s in solves}
    lock = LockFile(list(platforms.values()))
    lock.set_channels("default", [LockChannel(url) for url in channels])
    for solve in solves:
        for package in solve.packages:
            if package.record is not None:
                lock.add_conda_package("default", platforms[solve.platform], package.record)
    path = rattler_lock_path(env_file)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        lock.to_path(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
