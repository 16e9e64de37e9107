"""The one way envls reads a file it did not write: guarded against FIFOs, devices, symlinks out of the
folder, huge files and slow file systems.

Every file envls opens on a document's behalf (the `-r`/`-c` files of a pip section, `-e` paths, the
conda-meta records of a prefix, the document itself for `envls check`, a command's `uri`) goes through
``read_file`` (or ``open_regular`` for a reader that stops early). The rules, in order:

- The path is resolved (symlinks followed) first, so that "inside the folder" is decided on the file
  that would really be read: a committed symlink that points out of the folder is outside.
- Only regular files are read. A FIFO, a device, a socket or a folder is refused before it is opened
  (``stat``), then opened with ``O_NONBLOCK`` and checked again with ``fstat``, so a file swapped for a FIFO
  between the two cannot hang the reader. The kernel's pseudo-file systems (`/proc`, `/sys`, `/dev`) are
  refused by path: their "regular" files hold the process environment, or block.
- At most ``max_bytes`` are read, in chunks, and reading stops after ``timeout`` seconds.

Nothing here raises for a bad file: the answer says what was found and why it was not read.
"""

from __future__ import annotations

import contextlib
import os
import stat
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

DEFAULT_MAX_BYTES = 1 << 20  # 1 MiB: a requirements file, a conda-meta record's head
DOCUMENT_MAX_BYTES = 64 << 20  # an environment file read for `envls check` or a command
DEFAULT_TIMEOUT = 2.0  # seconds one file may take to read
_CHUNK = 1 << 16
_PSEUDO_ROOTS = ("/proc", "/sys", "/dev")
_OPEN_FLAGS = (os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
               | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0))


class Refused(OSError):
    """A file that is there but is not read: not a regular file, too large, too slow, or outside."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(reason)
        self.path = path
        self.reason = reason

    def __str__(self) -> str:
        return self.reason


@dataclass(frozen=True)
class ReadResult:
    """What reading one file found. ``data`` is None when nothing was read: ``missing`` (nothing there),
    or ``refused`` (the reason). ``outside``: the resolved file lies outside the folder it was checked
    against; its content must never be quoted in a message."""

    path: str  # as resolved
    data: bytes | None = None
    missing: bool = False
    refused: str | None = None
    outside: bool = False
    is_dir: bool = False

    def text(self) -> str | None:
        """The content as UTF-8 (invalid bytes replaced); None when nothing was read."""
        return None if self.data is None else self.data.decode("utf-8", errors="replace")


def size_words(size: int) -> str:
    """A size for messages: `3.2 MB`, `512 KB`, `17 bytes`."""
    if size >= 1 << 20:
        return f"{size / (1 << 20):.1f} MB"
    if size >= 1 << 10:
        return f"{size // (1 << 10)} KB"
    return f"{size} bytes"


def kind_of(mode: int) -> str | None:
    """What a file that is no regular file is, in words; None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "no regular file"


def resolve(path: str | os.PathLike[str]) -> str:
    """The path with every symlink followed (as far as the path exists); raises OSError or ValueError."""
    return os.path.realpath(os.fspath(path))


def is_inside(path: str, folder: str) -> bool:
    """True when the resolved ``path`` is ``folder`` (resolved) or below it."""
    try:
        return os.path.commonpath([path, folder]) == folder
    except ValueError:  # different drives
        return False


def _pseudo(path: str) -> bool:
    return os.name != "nt" and any(path == root or path.startswith(root + "/") for root in _PSEUDO_ROOTS)


def check_regular(path: str, given: str | None = None) -> os.stat_result:
    """The file's status when it is a regular file envls may read; Refused or another OSError otherwise.

    ``path`` is resolved; ``given`` is the path as named. The kernel follows the given path too, since
    the "magic" links of /proc (`/dev/stdin` -> `/proc/self/fd/0` -> `pipe:[…]`) resolve to no path at all."""
    if _pseudo(path):
        raise Refused(path, f"{path} is a system file, not a file of the project: envls does not read it")
    if given is not None and given != path:
        with contextlib.suppress(FileNotFoundError):
            kind = kind_of(os.stat(given).st_mode)
            if kind is not None:
                raise Refused(given, f"{given} is {kind}, not a regular file: envls does not read it")
    status = os.stat(path)
    kind = kind_of(status.st_mode)
    if kind is not None:
        raise Refused(path, f"{path} is {kind}, not a regular file: envls does not read it")
    return status


@contextlib.contextmanager
def open_regular(path: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """A binary stream of the regular file at ``path`` (resolved): Refused for anything else, and
    FileNotFoundError (or another OSError) as open() raises them. The stream never blocks on open."""
    real = resolve(path)
    check_regular(real, os.path.abspath(path))
    fd = os.open(real, _OPEN_FLAGS)
    try:
        kind = kind_of(os.fstat(fd).st_mode)
        if kind is not None:  # swapped between the stat and the open
            raise Refused(real, f"{real} is {kind}, not a regular file: envls does not read it")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        stream = os.fdopen(fd, "rb", buffering=0)
    except BaseException:
        os.close(fd)
        raise
    with stream:
        yield stream  # type: ignore[misc]


def read_bytes(path: str | os.PathLike[str], *, max_bytes: int = DEFAULT_MAX_BYTES,
               timeout: float = DEFAULT_TIMEOUT) -> bytes:
    """The whole regular file at ``path``; Refused when it is none, larger than ``max_bytes`` or slower
    than ``timeout`` seconds; other OSErrors (missing, no permission) as open() raises them."""
    deadline = time.monotonic() + timeout
    with open_regular(path) as stream:
        size = os.fstat(stream.fileno()).st_size
        if size > max_bytes:
            raise Refused(os.fspath(path), f"{os.fspath(path)} is {size_words(size)}, more than envls reads "
                          f"({size_words(max_bytes)})")
        chunks: list[bytes] = []
        total = 0
        while True:
            chunk = stream.read(_CHUNK)
            if not chunk:
                break
            total += len(chunk)
            if total > max_bytes:  # it grew while being read
                raise Refused(os.fspath(path), f"{os.fspath(path)} is more than envls reads "
                              f"({size_words(max_bytes)})")
            chunks.append(chunk)
            if time.monotonic() > deadline:
                raise Refused(os.fspath(path), f"reading {os.fspath(path)} took more than {timeout:g} s")
        return b"".join(chunks)


def read_file(path: str | os.PathLike[str], *, within: str | os.PathLike[str] | None = None,
              read_outside: bool = True, max_bytes: int = DEFAULT_MAX_BYTES,
              timeout: float = DEFAULT_TIMEOUT, folders: bool = False) -> ReadResult:
    """Read ``path`` under every guard above; never raises.

    ``within``: the folder the file is expected in (the environment file's); a file whose resolved path
    is elsewhere is ``outside``, and not read at all unless ``read_outside``. ``folders``: a folder is
    an answer (``is_dir``), not a refusal (for `-e` paths, which name a project folder).
    """
    try:
        real = resolve(path)
        outside = within is not None and not is_inside(real, resolve(within))
    except (OSError, ValueError) as err:
        return ReadResult(os.fspath(path), refused=_reason(os.fspath(path), err))
    if outside and not read_outside:
        return ReadResult(real, refused=f"{real} is outside the environment file's folder", outside=True)
    if folders:
        try:
            if stat.S_ISDIR(os.stat(path).st_mode) and not _pseudo(real):
                return ReadResult(real, outside=outside, is_dir=True)
        except FileNotFoundError:
            return ReadResult(real, missing=True, outside=outside)
        except (OSError, ValueError) as err:
            return ReadResult(real, refused=_reason(real, err), outside=outside)
    try:
        data = read_bytes(real, max_bytes=max_bytes, timeout=timeout)
    except (FileNotFoundError, NotADirectoryError):
        return ReadResult(real, missing=True, outside=outside)
    except (OSError, ValueError) as err:
        return ReadResult(real, refused=_reason(real, err), outside=outside)
    return ReadResult(real, data, outside=outside)


def _reason(path: str, err: Exception) -> str:
    if isinstance(err, Refused):
        return err.reason
    if isinstance(err, OSError):
        return f"{path} cannot be read: {err.strerror or err}"
    return f"{path} cannot be read: {err}"
