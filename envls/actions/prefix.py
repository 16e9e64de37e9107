"""What an action does to a prefix besides installing packages: lock it, record it, register it, remove it.

- A lock file next to the prefix (`.<name>.envls-lock` in the same folder) makes a second action on
  the same prefix fail at once with a clear message, across processes (an OS file lock, released
  when the holder ends, however it ends).
- `conda-meta/history` in conda's format: conda, mamba and VS Code's Python extension take a folder
  with it for an environment.
- `~/.conda/environments.txt`, where conda lists the environments it made: written only once an
  environment is complete, and the line taken out again when a half-made prefix is removed.
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import logging
import os
import shutil
import stat
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from envls.actions.request import ActionError

log = logging.getLogger(__name__)


def default_environments_txt() -> Path:
    """conda's list of the environments it created (`~/.conda/environments.txt`)."""
    return Path.home() / ".conda" / "environments.txt"


def lock_path(prefix: Path) -> Path:
    return prefix.parent / f".{prefix.name}.envls-lock"


def busy_message(prefix: Path) -> str:
    return f"another create or update of {prefix} is running; wait for it to finish (lock: {lock_path(prefix)})"


@contextlib.contextmanager
def prefix_lock(prefix: Path) -> Iterator[None]:
    """Hold the lock of ``prefix`` for the block; ActionError at once when someone else holds it."""
    path = lock_path(prefix)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ActionError(f"cannot create the folder {path.parent}: {err.strerror or err}") from None
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as err:
            raise ActionError(f"cannot create the lock file {path}: {err.strerror or err}") from None
        if not _try_lock(fd):
            os.close(fd)
            raise ActionError(busy_message(prefix))
        # The holder before us may have removed the file between our open and our lock: then
        # we hold a lock on a file nobody else can see, and must lock the new one instead.
        try:
            if os.stat(path).st_ino == os.fstat(fd).st_ino:
                break
        except FileNotFoundError:
            pass
        os.close(fd)
    try:
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)
        os.close(fd)


def is_locked(prefix: Path) -> bool:
    """Whether a create or update of ``prefix`` holds its lock right now."""
    path = lock_path(prefix)
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError:
        return False
    try:
        if not _try_lock(fd):
            return True
        _unlock(fd)
        return False
    finally:
        os.close(fd)


def _unlock(fd: int) -> None:
    if sys.platform == "win32":
        import msvcrt

        with contextlib.suppress(OSError):
            msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
    else:
        import fcntl

        fcntl.flock(fd, fcntl.LOCK_UN)


def _try_lock(fd: int) -> bool:
    if sys.platform == "win32":
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            return False
    import fcntl

    try:
        # flock locks belong to the open file: a second open in this same process conflicts too.
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError as err:
        if err.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
            return False
        raise


def write_history(prefix: Path, dists: Iterable[str], specs: Iterable[str], command: str) -> None:
    """Append one revision to `conda-meta/history` the way conda writes it."""
    meta = prefix / "conda-meta"
    meta.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M:%S")
    lines = [f"==> {stamp} <==", f"# cmd: {command}", "# conda version: envls"]
    lines += [f"+{dist}" for dist in sorted(dists)]
    spec_list = list(specs)
    if spec_list:
        lines.append(f"# update specs: {spec_list!r}")
    with open(meta / "history", "a", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")


def history_specs(prefix: Path) -> list[str]:
    """The specs earlier revisions asked for (`# update specs: [...]` lines), newest last."""
    import ast

    from envls.host.readfile import read_bytes

    try:  # guarded: the prefix comes from the file, and its history may be a FIFO or a symlink to a device
        text = read_bytes(prefix / "conda-meta" / "history", max_bytes=16 << 20).decode("utf-8", errors="replace")
    except OSError:
        return []
    specs: list[str] = []
    for line in text.splitlines():
        head, sep, tail = line.partition("update specs:")
        if sep and head.lstrip().startswith("#"):
            with contextlib.suppress(ValueError, SyntaxError):
                value = ast.literal_eval(tail.strip())
                if isinstance(value, list):
                    specs += [str(v) for v in value]
    return specs


def register(prefix: Path, environments_txt: Path | None) -> None:
    """Add ``prefix`` to conda's environments.txt (once)."""
    if environments_txt is None:
        return
    try:
        lines = environments_txt.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        lines = []
    except OSError as err:
        log.warning("cannot read %s: %s", environments_txt, err)
        return
    if str(prefix) in (line.strip() for line in lines):
        return
    try:
        environments_txt.parent.mkdir(parents=True, exist_ok=True)
        with open(environments_txt, "a", encoding="utf-8") as handle:
            handle.write(f"{prefix}\n")
    except OSError as err:
        log.warning("cannot register %s in %s: %s", prefix, environments_txt, err)


def unregister(prefix: Path, environments_txt: Path | None) -> None:
    """Take ``prefix`` out of environments.txt (conda or mamba may have added it)."""
    if environments_txt is None:
        return
    try:
        lines = environments_txt.read_text(encoding="utf-8").splitlines(keepends=True)
    except OSError:
        return
    kept = [line for line in lines if line.strip() != str(prefix)]
    if len(kept) == len(lines):
        return
    try:
        tmp = environments_txt.with_name(environments_txt.name + ".envls-tmp")
        tmp.write_text("".join(kept), encoding="utf-8")
        tmp.replace(environments_txt)
    except OSError as err:
        log.warning("cannot update %s: %s", environments_txt, err)


def _rmtree(path: Path) -> None:
    def retry(function: object, name: str, _exc: object) -> None:
        with contextlib.suppress(OSError):
            os.chmod(name, stat.S_IWRITE | stat.S_IREAD | stat.S_IEXEC)
            if callable(function):
                function(name)

    if sys.version_info >= (3, 12):
        shutil.rmtree(path, onexc=retry)
    else:
        shutil.rmtree(path, onerror=retry)


def _empty(folder: Path) -> None:
    for child in list(folder.iterdir()):
        if child.is_symlink() or not child.is_dir():
            child.unlink()
        else:
            _rmtree(child)


def remove_prefix(prefix: Path, environments_txt: Path | None, settle: float = 0.2, keep_folder: bool = False) -> bool:
    """Remove a half-made prefix and its registration (blocking: run it in a thread); True when gone.
    ``keep_folder``: the folder was there (empty) before the action: only what the action put in it goes."""
    unregister(prefix, environments_txt)
    keep = keep_folder and prefix.is_dir() and not prefix.is_symlink()
    for _ in range(3):
        if os.path.lexists(prefix):
            try:
                if keep:
                    _empty(prefix)
                elif prefix.is_symlink() or not prefix.is_dir():
                    prefix.unlink()
                else:
                    _rmtree(prefix)
            except OSError as err:
                log.warning("removing %s failed: %s", prefix, err)
        # An installer thread that was just cancelled may still be finishing one file: look again.
        time.sleep(settle)
        if keep and prefix.is_dir() and not any(prefix.iterdir()):
            return True
        if not keep and not os.path.lexists(prefix):
            return True
    log.warning("could not remove %s", prefix)
    return False
