"""The virtual packages (`__glibc`, `__osx`, `__cuda`, ...) the solver assumes for each target platform.

For this machine's own platform they are detected as conda detects them (conda's `CONDA_OVERRIDE_GLIBC`,
`CONDA_OVERRIDE_OSX`, ... honoured); for another platform they are defaults that a recent machine of that
kind has (glibc 2.28, Linux 5.10, macOS 13.0), which the same variables override. `__cuda` is the target's
CUDA as the session knows it (the `cudaVersion` setting, `CONDA_OVERRIDE_CUDA` or the detected driver), on
Linux and Windows only.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping

from rattler import (
    BuildString,
    GenericVirtualPackage,
    Override,
    PackageName,
    Version,
    VirtualPackage,
    VirtualPackageOverrides,
)

log = logging.getLogger(__name__)

DEFAULT_GLIBC = "2.28"
DEFAULT_LINUX = "5.10"
DEFAULT_OSX = "13.0"
_ARCHSPEC = {"64": "x86_64", "32": "x86", "aarch64": "aarch64", "arm64": "arm64", "ppc64le": "ppc64le",
             "s390x": "s390x", "armv7l": "armv7l"}

VirtualSet = tuple[GenericVirtualPackage, ...]


def _package(name: str, version: str, build: str = "0") -> GenericVirtualPackage:
    return GenericVirtualPackage(PackageName(name), Version(version), BuildString(build))


def _override(environ: Mapping[str, str], name: str, default: str) -> str:
    value = environ.get(name, "").strip()
    if not value:
        return default
    try:
        Version(value)
    except Exception:
        log.warning("ignoring %s=%r: it is no version", name, value)
        return default
    return value


def other_platform(platform: str, cuda: str | None, environ: Mapping[str, str] | None = None) -> VirtualSet:
    """The virtual packages of a machine of ``platform`` that is not this one."""
    env = os.environ if environ is None else environ
    os_name, _, arch = platform.partition("-")
    found: list[GenericVirtualPackage] = []
    if os_name in ("linux", "osx"):
        found.append(_package("__unix", "0"))
    if os_name == "linux":
        found.append(_package("__linux", _override(env, "CONDA_OVERRIDE_LINUX", DEFAULT_LINUX)))
        found.append(_package("__glibc", _override(env, "CONDA_OVERRIDE_GLIBC", DEFAULT_GLIBC)))
    elif os_name == "osx":
        found.append(_package("__osx", _override(env, "CONDA_OVERRIDE_OSX", DEFAULT_OSX)))
    elif os_name == "win":
        found.append(_package("__win", "0"))
    if cuda and os_name in ("linux", "win"):
        found.append(_package("__cuda", cuda))
    if arch in _ARCHSPEC:
        found.append(_package("__archspec", "1", _ARCHSPEC[arch]))
    return tuple(found)


_detected: dict[str, VirtualSet] = {}
_lock = threading.Lock()


def host_detected(cuda: str | None) -> VirtualSet | None:
    """This machine's virtual packages for ``cuda`` when detected before; None otherwise (no I/O)."""
    return _detected.get(cuda or "")


def detect_host(cuda: str | None) -> VirtualSet:
    """This machine's virtual packages (a few milliseconds; call it off the event loop the first time)."""
    wanted = cuda or ""
    with _lock:
        if wanted in _detected:
            return _detected[wanted]
        try:
            overrides = VirtualPackageOverrides.from_env()
            overrides.cuda = Override.string(wanted)  # the session's CUDA target decides, not a second probe
            found = tuple(v.into_generic() for v in VirtualPackage.detect(overrides))
        except Exception as err:  # a detection that fails must not stop the solve: assume a plain machine
            log.warning("detecting this machine's virtual packages failed: %s", err)
            from envls.channels.facts import host_subdir

            found = other_platform(host_subdir(), cuda)
        _detected[wanted] = found
        return found


def key(packages: VirtualSet) -> tuple[str, ...]:
    """The virtual packages as `name=version=build` strings, sorted: part of a solve's cache key."""
    return tuple(sorted(str(p) for p in packages))
