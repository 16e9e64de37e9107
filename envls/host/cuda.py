"""The CUDA version this machine's NVIDIA driver supports, as conda sees it: `__cuda` from py-rattler.

py-rattler probes the driver (NVML, libcuda or nvidia-smi) and honours CONDA_OVERRIDE_CUDA as conda does:
a version replaces what the driver says, an empty value means "no driver". The probe can take a moment
(or hang with a broken driver), so `CudaProbe` runs it once, in a daemon thread, with a timeout, and keeps
the result; nothing waits for it on the keystroke path. The `cudaVersion` setting overrides all of this,
since the machine an environment is for need not be the one the editor runs on.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rattler import VirtualPackage, VirtualPackageOverrides

from envls.core.cuda.implied import CudaSource, parse_cuda_version

log = logging.getLogger(__name__)

OVERRIDE = "CONDA_OVERRIDE_CUDA"
DEFAULT_TIMEOUT = 10.0  # seconds; NVML answers in well under a second when the driver is sound


@dataclass(frozen=True)
class CudaDetection:
    """What the probe found: the driver's CUDA version (None: no driver), where it comes from, and why."""

    driver: str | None
    source: CudaSource  # "detected", "CONDA_OVERRIDE_CUDA" or "none"
    detail: str = ""
    seconds: float = 0.0


def detect_cuda(cache_dir: Path | None = None) -> CudaDetection:
    """Probe this machine now (blocking). A CONDA_OVERRIDE_CUDA that is no CUDA version is logged and ignored."""
    started = time.perf_counter()
    override = os.environ.get(OVERRIDE)
    overrides = VirtualPackageOverrides.from_env()
    if override is not None and override.strip() and parse_cuda_version(override) is None:
        log.warning("envls: %s=%r is no CUDA version (such as 12.2); ignored, the driver is probed instead",
                    OVERRIDE, override)
        overrides = VirtualPackageOverrides()  # nothing overridden: the driver itself
        override = None
    try:
        packages = VirtualPackage.detect(overrides, str(cache_dir) if cache_dir else None)
    except Exception as err:  # rattler raises its own types, e.g. for an override it cannot read
        log.warning("envls: CUDA detection failed (%s); assuming no NVIDIA driver", err)
        return CudaDetection(None, "none", f"detection failed: {err}", time.perf_counter() - started)
    driver = None
    for package in packages:
        generic = package.into_generic()
        if str(generic.name.normalized) == "__cuda":
            driver = str(generic.version)
    seconds = time.perf_counter() - started
    if override is not None:
        detail = f"{OVERRIDE}={override}" if override.strip() else f"{OVERRIDE} is empty: no NVIDIA driver"
        return CudaDetection(driver, "CONDA_OVERRIDE_CUDA", detail, seconds)
    if driver is None:
        return CudaDetection(None, "none", "no NVIDIA driver found", seconds)
    return CudaDetection(driver, "detected", f"the NVIDIA driver supports CUDA {driver}", seconds)


def check_cuda_setting(value: object) -> str | None:
    """None when ``value`` is a valid `cudaVersion` setting: `""` (detect), `"none"` (no driver) or a CUDA
    version such as `"12.2"`; else the problem, in words for the user (the settings layer shows it)."""
    if isinstance(value, str) and (not value.strip() or value.strip().lower() == "none"
                                   or parse_cuda_version(value) is not None):
        return None
    return f"envls.cudaVersion must be a CUDA version such as \"12.2\", \"none\" or \"\", not {value!r}; ignored"


def driver_and_source(detection: CudaDetection | None, setting: str = "") -> tuple[str | None, CudaSource]:
    """The target's CUDA: the `cudaVersion` setting (a version, or `none` for a machine without a driver)
    when set, else what was detected (None while detection has not finished)."""
    value = setting.strip()
    if value.lower() == "none":
        return None, "setting"
    if value and parse_cuda_version(value) is not None:
        return value, "setting"
    if detection is None:
        return None, "none"
    return detection.driver, detection.source


class CudaProbe:
    """Detection once per process, in a daemon thread (a hanging driver never blocks exit), with a timeout."""

    def __init__(self, timeout: float = DEFAULT_TIMEOUT, cache_dir: Path | None = None,
                 detect: Callable[[], CudaDetection] | None = None) -> None:
        self.timeout = timeout
        self._detect = detect or (lambda: detect_cuda(cache_dir))
        self._future: concurrent.futures.Future[CudaDetection] | None = None
        self._lock = threading.Lock()
        self._gave_up = False

    def start(self) -> concurrent.futures.Future[CudaDetection]:
        """Start detection (once); later calls return the same future."""
        with self._lock:
            if self._future is None:
                future: concurrent.futures.Future[CudaDetection] = concurrent.futures.Future()
                self._future = future
                threading.Thread(target=self._run, args=(future,), name="envls-cuda-probe", daemon=True).start()
            return self._future

    def _run(self, future: concurrent.futures.Future[CudaDetection]) -> None:
        try:
            result = self._detect()
        except Exception as err:  # the probe must never take the server down
            log.exception("envls: CUDA detection failed")
            result = CudaDetection(None, "none", f"detection failed: {err}")
        future.set_result(result)
        log.info("envls: CUDA target %s (%s, %.0f ms)", result.driver or "none", result.detail or result.source,
                 result.seconds * 1000)

    def cached(self) -> CudaDetection | None:
        """The result when detection has finished; None before (never blocks)."""
        future = self._future
        return future.result() if future is not None and future.done() else None

    def result(self) -> CudaDetection:
        """Wait (at most ``timeout`` seconds, once) for the result: for `envls check`."""
        future = self.start()
        if future.done():
            return future.result()
        if self._gave_up:
            return self._timed_out()
        try:
            return future.result(timeout=self.timeout)
        except concurrent.futures.TimeoutError:
            return self._give_up()

    async def detection(self) -> CudaDetection:
        """Await the result without blocking the event loop (at most ``timeout`` seconds, once)."""
        future = self.start()
        if future.done():
            return future.result()
        if self._gave_up:
            return self._timed_out()
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()

        def release() -> None:
            if not waiter.done():
                waiter.set_result(None)

        def wake(_: object) -> None:
            # Called in the probe's thread, maybe long after this loop has stopped waiting (or closed).
            try:
                loop.call_soon_threadsafe(release)
            except RuntimeError:
                pass

        future.add_done_callback(wake)
        try:
            await asyncio.wait_for(waiter, self.timeout)
        except asyncio.TimeoutError:
            return self._give_up()
        return future.result()

    def _give_up(self) -> CudaDetection:
        """After one wait that timed out, nobody waits again; a late answer is still kept for `cached()`."""
        self._gave_up = True
        log.warning("envls: CUDA detection did not answer within %g s; assuming no NVIDIA driver", self.timeout)
        return self._timed_out()

    def _timed_out(self) -> CudaDetection:
        return CudaDetection(None, "none", f"detection did not answer within {self.timeout:g} s")
