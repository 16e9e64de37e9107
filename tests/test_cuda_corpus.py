"""The CUDA stage on the real environment files in ../shared/corpus: the CUDA problems its README and
manifest list, found at their lines; no cuda-* error where there is no real problem, whatever the target."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from envls.core.analysis import analyze
from envls.core.cuda.implied import CudaSource, cuda_target
from envls.core.cuda.rules import CUDA_CODES
from envls.core.cuda.stage import cuda_findings, with_cuda
from envls.core.files import decode
from envls.core.findings import Finding, Severity

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "files"
FILES = sorted(CORPUS.glob("*.y*ml")) if CORPUS.is_dir() else []

pytestmark = pytest.mark.skipif(not FILES, reason="../shared/corpus is not beside the checkout")

# (file number, code, 1-based line). From the README: 095 (nvidia::cudatoolkit=11.1 with an unpinned
# pytorch::pytorch), 088 (cudatoolkit=11.7.0 with pytorch=2.3.0 and no pytorch-cuda), 036 (pytorch-cuda, which
# pytorch from conda-forge, listed first, will not use). From the manifest's notes: 011 (cudatoolkit=11.8 with
# pytorch=2.0 from the pytorch channel), 054 and 057 (conda-forge::cudatoolkit with pytorch::pytorch >= 1.13),
# 068 (open ranges: `pytorch>=1.8.1` takes a pytorch >= 1.13, which `cudatoolkit>=10` does not make a GPU build).
EXPECTED = [
    ("095", "gpu-build-not-selected", 12), ("088", "gpu-build-not-selected", 8), ("036", "gpu-build-not-selected", 35),
    ("011", "gpu-build-not-selected", 8), ("054", "gpu-build-not-selected", 10), ("057", "gpu-build-not-selected", 9),
    ("068", "gpu-build-not-selected", 11),
]
# Targets: no driver known, a driver that supports every file's CUDA, a macOS editor host.
TARGETS: list[tuple[str | None, CudaSource, tuple[str, ...]]] = [
    (None, "none", ("linux-64",)), ("12.8", "setting", ("linux-64",)), ("12.4", "detected", ("linux-64",)),
    (None, "CONDA_OVERRIDE_CUDA", ("win-64",)), (None, "none", ("osx-arm64",)),
]


def _file(number: str) -> Path:
    (path,) = [p for p in FILES if p.name.startswith(number + "__")]
    return path


def _cuda(path: Path, driver: str | None = None, source: CudaSource = "none",
          host: tuple[str, ...] = ("linux-64",)) -> list[tuple[str, int, Severity, Finding]]:
    text, _ = decode(path.read_bytes())
    analysis = analyze(text)
    target = cuda_target(analysis.environment, driver, source, host=host)
    index = analysis.document.index
    return [(f.code, index.line_of(f.span.start) + 1, f.severity, f)
            for f in cuda_findings(analysis.environment, target)]


@pytest.mark.parametrize(("number", "code", "line"), EXPECTED, ids=[f"{n}-{c}-{ln}" for n, c, ln in EXPECTED])
def test_listed_cuda_problems(number: str, code: str, line: int) -> None:
    assert (code, line) in [(c, ln) for c, ln, _, _ in _cuda(_file(number), "12.4", "setting")]


@pytest.mark.parametrize("path", FILES, ids=[p.name[:40] for p in FILES])
def test_no_cuda_error_without_a_real_problem(path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """No file of the corpus asks for a CUDA its own specs contradict; on a Linux or Windows target whose driver
    is new enough (or unknown), nothing is an error. cuda-no-driver is never more than information."""
    for driver, source, host in TARGETS:
        with caplog.at_level(logging.ERROR, logger="envls"):
            found = _cuda(path, driver, source, host)
        assert not caplog.records, "a CUDA rule failed"
        if host[0].startswith("osx"):
            continue  # a macOS host: cuda-on-macos warns once (tested below), without `platforms:` it is no error
        errors = [(c, ln, f.message) for c, ln, severity, f in found if severity is Severity.ERROR]
        assert errors == []
        assert all(severity is Severity.INFORMATION for c, _, severity, _ in found if c == "cuda-no-driver")


@pytest.mark.parametrize("path", FILES, ids=[p.name[:40] for p in FILES])
def test_a_macos_host_warns_at_most_once(path: Path) -> None:
    found = _cuda(path, None, "none", ("osx-arm64",))
    macos = [(severity, ln) for c, ln, severity, _ in found if c == "cuda-on-macos"]
    assert len(macos) <= 1 and all(severity is Severity.WARNING for severity, _ in macos)


def test_an_old_driver_is_reported_once_per_need() -> None:
    """110 is an export with pytorch-cuda=11.8 and ten CUDA 11.8 packages: one warning, on pytorch-cuda."""
    found = _cuda(_file("110"), "11.4", "detected")
    drivers = [(ln, severity, f) for c, ln, severity, f in found if c == "cuda-driver-too-old"]
    assert [(ln, severity) for ln, severity, _ in drivers] == [(93, Severity.WARNING)]
    assert len(drivers[0][2].related) == 8 and "(and 10 more specs)" in drivers[0][2].message


def test_driver_errors_where_the_major_is_newer() -> None:
    found = _cuda(_file("033"), "11.4", "detected")
    assert [(c, ln, severity) for c, ln, severity, _ in found] == [("cuda-driver-too-old", 11, Severity.ERROR)]


def test_no_driver_points_at_the_pin_that_matters() -> None:
    assert [(c, ln) for c, ln, _, _ in _cuda(_file("110"))] == [("cuda-no-driver", 93)]


def test_messages_say_what_to_do() -> None:
    (warning,) = [f for c, _, _, f in _cuda(_file("095"), "12.4", "setting") if c == "gpu-build-not-selected"]
    assert "`nvidia::cudatoolkit=11.1`" in warning.message and "pytorch-cuda" in warning.message
    assert warning.related and "`pytorch::pytorch`" in warning.related[0].message
    (warning,) = [f for c, _, _, f in _cuda(_file("088"), "12.4", "setting") if c == "gpu-build-not-selected"]
    assert "`pytorch-cuda=11.7`" in warning.message and warning.fixes
    (warning,) = [f for c, _, _, f in _cuda(_file("036"), "12.4", "setting") if c == "gpu-build-not-selected"]
    assert "`conda-forge` comes before `pytorch`" in warning.message
    assert warning.fixes[0].title == "Take pytorch from the pytorch channel: `pytorch::pytorch`"


def test_fast_enough_on_the_corpus() -> None:
    """CUDA diagnostics add at most 5 ms to the fast stages (the issue's budget), here per file, warm."""
    analyses = [analyze(decode(p.read_bytes())[0]) for p in FILES]
    targets = [cuda_target(a.environment, "12.2", "setting", host=("linux-64",)) for a in analyses]
    for analysis, target in zip(analyses, targets, strict=True):
        with_cuda(analysis, target)
    worst = 0.0
    for analysis, target in zip(analyses, targets, strict=True):
        start = time.perf_counter()
        result = with_cuda(analysis, target)
        worst = max(worst, time.perf_counter() - start)
        assert all(f.code in CUDA_CODES or f in analysis.findings for f in result.findings)
    assert worst < 0.025  # measured: well under 1 ms; the margin is for slow CI machines
