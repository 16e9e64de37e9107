"""CUDA: what specs imply, the CUDA rules (one small YAML per case, with a synthetic target), the rules
against real channel records (the pytorch-rattler snapshot), hover, and the detection of the target's CUDA."""

from __future__ import annotations

import asyncio
import logging
import textwrap
import threading
import time
from pathlib import Path

import pytest
from core_support import run

from envls.core.analysis import Analysis, AnalysisOptions, analyze
from envls.core.conda.channel_facts import ChannelFacts, ChannelState
from envls.core.cuda.hover import cuda_hover
from envls.core.cuda.implied import CudaTarget, conda_meaning, cuda_target, implications, pip_meaning
from envls.core.cuda.rules import CUDA_CODES
from envls.core.cuda.stage import cuda_findings, with_cuda
from envls.core.cuda.versions import CudaRange, version_range
from envls.core.findings import Finding, Fix, Severity
from envls.host.cuda import CudaDetection, CudaProbe, check_cuda_setting, detect_cuda, driver_and_source

LINUX = ("linux-64",)
DRIVER_12_2 = CudaTarget("12.2", "setting", LINUX)
NO_DRIVER = CudaTarget(None, "none", LINUX)


def findings(text: str, target: CudaTarget = DRIVER_12_2, facts: ChannelFacts | None = None) -> list[Finding]:
    return cuda_findings(run(text).environment, target, facts)


def found(text: str, target: CudaTarget = DRIVER_12_2, facts: ChannelFacts | None = None) -> list[tuple[str, int, str]]:
    """(code, 1-based line, severity) of every CUDA finding, in line order."""
    analysis = run(text)
    result = cuda_findings(analysis.environment, target, facts)
    index = analysis.document.index
    return sorted((f.code, index.line_of(f.span.start) + 1, f.severity.label) for f in result)


def applied(text: str, fix: Fix) -> str:
    source = textwrap.dedent(text).lstrip("\n")
    for edit in sorted(fix.edits, key=lambda e: e.start, reverse=True):
        source = source[:edit.start] + edit.new_text + source[edit.end:]
    return source


# --- what a spec implies -------------------------------------------------------------------------------------

@pytest.mark.parametrize(("spec", "expected"), [
    ("cudatoolkit=11.7.0", "11.7"), ("cudatoolkit =11.0", "11.0"), ("cudatoolkit>=10", "10.0 or newer"),
    ("cuda-version=12", "12"), ("cuda-version >=12.1,<13", "12.1 or a newer 12.x"), ("pytorch-cuda=11.8", "11.8"),
    ("pytorch::pytorch-cuda=11.7.0", "11.7"), ("cuda-toolkit=12", "12"), ("cuda-runtime=11.8.0=0", "11.8"),
    ("cuda-cudart=11.8.89", "11.8"), ("cuda-nvcc=12.8", "12.8"), ("libcublas=11.11.3.6=0", "11"),
    ("libcufft", "any gpu"), ("cudnn", "any gpu"), ("pytorch=2.0.1=py3.10_cuda11.8_cudnn8.7.0_0", "11.8"),
    ("pytorch=*=*cuda118*", "11.8 or a newer 11.x"), ("jaxlib=*=cuda120*", "12"), ("pytorch=*=*cuda*", "any gpu"),
    ("pytorch=*=*cpu*", "cpu"), ("torchvision=0.12.0=py38_cu113", "11.3"), ("cpuonly", "cpu"),
    ("pytorch-mutex=1.0=cuda", "any gpu"), ("pytorch-mutex=1.0=cpu", "cpu"), ("pytorch-gpu", "any gpu"),
    ("tensorflow-gpu=2.13.1", "any gpu"), ("tensorflow=2.4.1=gpu_py39h8236f22_0", "any gpu"),
    ("cuda92", "9.2"), ("magma-cuda118", "11.8"), ("cuda-version=999", "999"),
    ("cudatoolkit=abc", "any gpu"), ("pytorch-cuda=abc", "any gpu"), ("cudatoolkit=11.8|12.1", "any gpu"),
])
def test_conda_meaning(spec: str, expected: str) -> None:
    (implication,) = implications(run(f"dependencies:\n  - {spec}\n").environment)
    assert implication.version == expected
    assert spec in implication.reason


@pytest.mark.parametrize("spec", ["numpy=1.26", "python=3.10", "py-cpuinfo", "cuda-python=12.3", "nvidia-ml-py3",
                                  "cudatoolkit=" + "1" * 40, "__cuda>=12", "dask-cuda==22.10.*", "cu2qu"])
def test_conda_specs_that_say_nothing(spec: str) -> None:
    assert implications(run(f"dependencies:\n  - {spec}\n").environment) == []


@pytest.mark.parametrize(("line", "expected"), [
    ("torch==2.0.1+cu118", "11.8"), ("torch==1.12.1+cu116", "11.6"), ("torch==2.1.0+cpu", "cpu"),
    ("cupy-cuda11x", "11"), ("cupy-cuda12x>=13.0.0", "12"), ("cupy-cuda112", "11.2"), ("cupy-cuda102", "10.2"),
    ("jax[cuda12]>=0.4.20", "12"), ("jax[cuda12_pip]", "12"), ("jax[cuda11_cudnn86]", "11"), ("jax[cuda]", "any gpu"),
    ("jaxlib==0.4.7+cuda11.cudnn86", "11"), ("nvidia-cublas-cu12", "12"), ("nvidia-cuda-runtime-cu12==12.1.105", "12.1"),
    ("cuml-cu11", "11"), ("jax-cuda12-plugin", "12"), ("mxnet-cu112", "11.2"), ("tensorflow[and-cuda]", "any gpu"),
    ("tensorflow-gpu==1.14.0", "any gpu"), ("paddlepaddle-gpu==2.5.1.post117", "11.7"), ("tensorflow-cpu", "cpu"),
    ("--extra-index-url https://download.pytorch.org/whl/cu121", "12.1"),
    ("--index-url=https://download.pytorch.org/whl/cpu", "cpu"),
])
def test_pip_meaning(line: str, expected: str) -> None:
    meaning = pip_meaning(line)
    assert meaning is not None
    assert ("cpu" if meaning.cpu else meaning.range.words() if meaning.range else "any gpu") == expected


@pytest.mark.parametrize("line", ["torch==2.0.1", "numpy", "-e .[cuda]", "git+https://x/y.git", "torch==1.0+rocm5.4",
                                  "cu2qu", "pycuda", "nvidia-ml-py3", "torch==1.0+cu" + "1" * 30, "--pre"])
def test_pip_lines_that_say_nothing(line: str) -> None:
    assert pip_meaning(line) is None


@pytest.mark.parametrize(("version", "expected"), [
    ("11.8.*", CudaRange((11, 8), (11, 9))), ("==11.3.1", CudaRange((11, 3), (11, 4))),
    (">=11.3,<11.4", CudaRange((11, 3), (11, 4))), ("12.*", CudaRange((12, 0), (13, 0))),
    (">=11.8", CudaRange((11, 8), None)), ("<12", CudaRange((0, 0), (12, 0))), ("~=11.8", CudaRange((11, 8), (12, 0))),
    ("*", None), ("abc.*", None), ("1.*|==2", None), (">=12,<11", None), ("1" * 7, None), (None, None),
])
def test_version_range(version: str | None, expected: CudaRange | None) -> None:
    assert version_range(version) == expected


def test_meanings_are_cached_and_fast() -> None:
    conda_meaning.cache_clear()
    start = time.perf_counter()
    for _ in range(1000):
        conda_meaning("pytorch-cuda=11.8")
    assert time.perf_counter() - start < 0.05


# --- cuda-conflict -------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("dependencies:\n  - pytorch-cuda=11.8\n  - cudatoolkit=11.3\n", [("cuda-conflict", 3, "error")]),
    ("dependencies:\n  - cudatoolkit=11.3\n  - pytorch-cuda=11.8\n", [("cuda-conflict", 2, "error")]),
    ("dependencies:\n  - pytorch=2.0.1=*cuda11.7*\n  - pytorch-cuda=11.8\n", [("cuda-conflict", 2, "error")]),
    ("dependencies:\n  - cuda-version=12\n  - pip\n  - pip:\n    - cupy-cuda11x\n", [("cuda-conflict", 5, "error")]),
    ("dependencies:\n  - cudatoolkit=11.3\n  - pip:\n    - torch==1.12.1+cu116\n", [("cuda-conflict", 4, "warning")]),
    ("dependencies:\n  - pip:\n    - torch==2.1.0+cu118\n    - torchvision==0.16.0+cu121\n",
     [("cuda-conflict", 4, "error")]),
    ("dependencies:\n  - pytorch-cuda>=11.8\n  - cudatoolkit=11.3\n", [("cuda-conflict", 2, "error")]),
    ("dependencies:\n  - pytorch-cuda=11.8\n  - cudatoolkit=11.8\n  - pytorch=*=*cuda118*\n  - cuda-version=11\n", []),
    ("dependencies:\n  - cuda-version=12.1\n  - pip:\n    - cupy-cuda12x\n    - nvidia-cublas-cu12\n", []),
    ("dependencies:\n  - pytorch-cuda>=11.8\n  - cudatoolkit>=10\n", []),
    ("dependencies:\n  - pytorch-cuda=11.8\n  - cudatoolkit=abc\n", []),
    ("dependencies:\n  - pytorch-cuda=11.8\n  - cudatoolkit=11.8|12.1\n", []),
    ("platforms: [linux-64, win-64]\ndependencies:\n  - cudatoolkit=11.8  # [linux]\n  - cudatoolkit=11.3  # [win]\n",
     []),
    ("platforms: [linux-64, win-64]\ndependencies:\n  - cudatoolkit=11.8  # [linux]\n  - pytorch-cuda=12.1\n",
     [("cuda-conflict", 3, "error")]),
])
def test_conflict(text: str, expected: list[tuple[str, int, str]]) -> None:
    target = CudaTarget("99.0", "setting", ("linux-64", "win-64"))
    assert found(text, target) == expected


def test_conflict_message_related_and_fix() -> None:
    text = "dependencies:\n  - pytorch-cuda=11.8\n  - cudatoolkit=11.3\n  - pip:\n    - torch==2.0.1+cu118\n"
    (finding,) = findings(text)
    assert "`cudatoolkit=11.3` implies CUDA 11.3" in finding.message
    assert "`pytorch-cuda=11.8` implies CUDA 11.8" in finding.message
    assert "(11.8)" in finding.message
    assert [r.message for r in finding.related] == ["`pytorch-cuda=11.8` implies CUDA 11.8",
                                                    "`torch==2.0.1+cu118`: `+cu118` is a wheel for CUDA 11.8"]
    (fix,) = finding.fixes
    assert applied(text, fix).splitlines()[2] == "  - cudatoolkit=11.8"


def test_a_broad_spec_is_not_the_reference() -> None:
    """cupy-cuda11x agrees with both 11.3 and 11.8: the precise pins decide, and the odd one is reported."""
    text = ("dependencies:\n  - pytorch-cuda=11.8\n  - cudatoolkit=11.3\n  - cuda-cudart=11.8\n  - pip:\n"
            "    - cupy-cuda11x\n")
    assert found(text) == [("cuda-conflict", 3, "error")]


def test_conflict_fix_keeps_the_channel() -> None:
    text = "dependencies:\n  - pytorch::pytorch-cuda=11.8\n  - nvidia::cudatoolkit=11.3\n"
    (finding,) = findings(text)
    assert applied(text, finding.fixes[0]).splitlines()[2] == "  - nvidia::cudatoolkit=11.8"


@pytest.mark.parametrize(("text", "fixed"), [
    ("dependencies:\n  - pytorch-cuda=12.1\n  - cuda-nvcc=11.8\n", "cuda-nvcc=12.1"),
    ("dependencies:\n  - cuda-version=12\n  - cudatoolkit=11.8\n", "cuda-version=11.8"),  # the precise pin wins
    ("dependencies:\n  - pytorch-cuda=12.1\n  - cudatoolkit=11.8\n", None),  # cudatoolkit stops at 11.8
    ("dependencies:\n  - cuda-version=11.5\n  - pytorch-cuda=11.8\n", None),  # there is no pytorch-cuda 11.5
    ("dependencies:\n  - pytorch-cuda=11.8\n  - cuda-cudart=11.3.58=0\n", None),  # an exported build
])
def test_conflict_fix_only_to_versions_that_exist(text: str, fixed: str | None) -> None:
    (finding,) = findings(text)
    assert [f.edits[0].new_text for f in finding.fixes] == ([fixed] if fixed else [])


def test_conflict_between_wheels_of_one_major_is_a_warning() -> None:
    text = "dependencies:\n  - pip:\n    - torch==2.1.0+cu118\n    - torchvision==0.16.0+cu117\n"
    (finding,) = findings(text)
    assert finding.severity is Severity.WARNING and "different CUDA minors" in finding.message


# --- cuda-driver-too-old -------------------------------------------------------------------------------------

@pytest.mark.parametrize(("spec", "driver", "expected"), [
    ("pytorch-cuda=12.1", "11.8", [("cuda-driver-too-old", 2, "error")]),
    ("pytorch-cuda=12.4", "12.2", [("cuda-driver-too-old", 2, "warning")]),
    ("cudatoolkit=10.2", "10.1", [("cuda-driver-too-old", 2, "error")]),
    ("cuda-version=999", "12.2", [("cuda-driver-too-old", 2, "error")]),
    ("pytorch-cuda=11.8", "12.2", []), ("pytorch-cuda=12.2", "12.2", []), ("cuda-version=12", "12.0", []),
    ("pytorch=*=*cuda118*", "11.8", []), ("cpuonly", "10.0", []), ("pytorch-cuda>=11.8", "11.8", []),
    ("cudatoolkit=abc", "11.0", []), ("pytorch-cuda=12.1", "12", [("cuda-driver-too-old", 2, "warning")]),
])
def test_driver(spec: str, driver: str, expected: list[tuple[str, int, str]]) -> None:
    assert found(f"dependencies:\n  - {spec}\n", CudaTarget(driver, "detected", LINUX)) == expected


def test_driver_pip_wheels() -> None:
    text = "dependencies:\n  - pip:\n    - torch==2.1.0+cu121\n    - cupy-cuda12x\n"
    assert found(text, CudaTarget("11.8", "detected", LINUX)) == [("cuda-driver-too-old", 3, "error")]


def test_driver_specs_with_the_same_need_are_one_finding() -> None:
    text = "dependencies:\n  - cuda-cudart=12.1\n  - cuda-version=12.1\n  - pytorch-cuda=12.1\n"
    (finding,) = findings(text, CudaTarget("11.8", "CONDA_OVERRIDE_CUDA", LINUX))
    assert finding.code == "cuda-driver-too-old" and finding.severity is Severity.ERROR
    assert finding.message.startswith("`cuda-version=12.1` implies CUDA 12.1 (and 2 more specs)")
    assert "CUDA 11.8 (from CONDA_OVERRIDE_CUDA)" in finding.message
    assert len(finding.related) == 2


def test_driver_message_says_what_to_do() -> None:
    (error,) = findings("dependencies:\n  - pytorch-cuda=12.1\n", CudaTarget("11.8", "detected", LINUX))
    assert "update the NVIDIA driver, or pin a CUDA 11.x" in error.message
    assert "detected from this machine's NVIDIA driver" in error.message
    (warning,) = findings("dependencies:\n  - pytorch-cuda=12.4\n", CudaTarget("12.2", "setting", LINUX))
    assert "minor-version compatibility" in warning.message and "pin CUDA 12.2" in warning.message


def test_driver_not_checked_for_macos_only_entries() -> None:
    text = "platforms: [linux-64, osx-arm64]\ndependencies:\n  - cudatoolkit=12.1  # [osx]\n"
    assert "cuda-driver-too-old" not in [c for c, _, _ in found(text, CudaTarget("11.0", "setting", LINUX))]


# --- cuda-no-driver ------------------------------------------------------------------------------------------

def test_no_driver_is_information_and_says_how_to_set_a_target() -> None:
    text = "dependencies:\n  - cuda-cudart=11.8\n  - pytorch-cuda=11.8\n"
    (finding,) = findings(text, NO_DRIVER)
    assert (finding.code, finding.severity) == ("cuda-no-driver", Severity.INFORMATION)
    assert "cudaVersion" in finding.message and "CONDA_OVERRIDE_CUDA" in finding.message
    assert finding.message.startswith("`pytorch-cuda=11.8`")  # the spec that matters, not the first one


def test_no_driver_through_an_empty_override() -> None:
    (finding,) = findings("dependencies:\n  - cudatoolkit=11.8\n", CudaTarget(None, "CONDA_OVERRIDE_CUDA", LINUX))
    assert "CONDA_OVERRIDE_CUDA is empty" in finding.message and finding.severity is Severity.INFORMATION


def test_no_driver_through_the_setting() -> None:
    (finding,) = findings("dependencies:\n  - cudatoolkit=11.8\n", CudaTarget(None, "setting", LINUX))
    assert "`cudaVersion` setting says" in finding.message and finding.severity is Severity.INFORMATION


@pytest.mark.parametrize("text", ["dependencies:\n  - numpy\n", "dependencies:\n  - cpuonly\n  - pytorch\n",
                                  "platforms: [osx-arm64]\ndependencies:\n  - numpy\n"])
def test_no_driver_needs_cuda_packages(text: str) -> None:
    assert found(text, NO_DRIVER) == []


# --- cuda-on-macos -------------------------------------------------------------------------------------------

def test_macos_from_the_file() -> None:
    text = "platforms: [linux-64, osx-arm64]\ndependencies:\n  - cudatoolkit=11.8\n  - pytorch-cuda=11.8\n"
    target = cuda_target(run(text).environment, "12.2", "setting")
    assert found(text, target) == [("cuda-on-macos", 3, "error"), ("cuda-on-macos", 4, "error")]


def test_macos_under_a_selector_is_fine() -> None:
    text = "platforms: [linux-64, osx-arm64]\ndependencies:\n  - cudatoolkit=11.8  # [linux]\n  - cpuonly  # [osx]\n"
    assert found(text, cuda_target(run(text).environment, "12.2", "setting")) == []


def test_macos_host_is_one_warning() -> None:
    text = "dependencies:\n  - cudatoolkit=11.8\n  - pytorch-cuda=11.8\n"
    target = cuda_target(run(text).environment, None, "none", host=("osx-arm64",))
    assert target.platforms_from_host
    (finding,) = findings(text, target)
    assert (finding.code, finding.severity) == ("cuda-on-macos", Severity.WARNING)
    assert "platforms: [linux-64]" in finding.message and len(finding.related) == 1


def test_platforms_setting_is_the_files_choice() -> None:
    env = run("dependencies:\n  - cudatoolkit=11.8\n").environment
    target = cuda_target(env, None, "none", configured=("osx-64",), host=("linux-64",))
    assert target.platforms == ("osx-64",) and not target.platforms_from_host
    assert [f.severity for f in cuda_findings(env, target)] == [Severity.ERROR]


# --- cpu-gpu-conflict ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("dependencies:\n  - cpuonly\n  - pytorch-cuda=11.8\n", [("cpu-gpu-conflict", 2, "error")]),
    ("dependencies:\n  - pytorch=*=*cpu*\n  - pytorch-cuda=11.8\n", [("cpu-gpu-conflict", 2, "error")]),
    ("dependencies:\n  - pytorch-mutex=1.0=cpu\n  - pytorch=2.0=*cuda*\n", [("cpu-gpu-conflict", 2, "error")]),
    ("dependencies:\n  - cpuonly\n  - cudatoolkit=11.3\n  - pytorch=1.12\n", [("cpu-gpu-conflict", 2, "warning")]),
    ("dependencies:\n  - cpuonly\n  - pip:\n    - torch==2.0.1+cu118\n", [("cpu-gpu-conflict", 2, "warning")]),
    ("dependencies:\n  - pip:\n    - torch==2.0.1+cpu\n    - torchvision==0.15.2+cu118\n",
     [("cpu-gpu-conflict", 3, "error")]),
    ("dependencies:\n  - tensorflow-cpu\n  - tensorflow-gpu\n", [("cpu-gpu-conflict", 2, "error")]),
    ("dependencies:\n  - cpuonly\n  - tensorflow=2.13=*cuda*\n", []),
    ("dependencies:\n  - faiss-cpu\n  - pytorch-cuda=11.8\n", []),
    ("dependencies:\n  - cpuonly  # [osx]\n  - pytorch-cuda=11.8  # [linux]\n", []),
    ("dependencies:\n  - cpuonly\n  - pytorch\n", []),
])
def test_cpu_gpu(text: str, expected: list[tuple[str, int, str]]) -> None:
    target = CudaTarget("12.2", "setting", ("linux-64", "osx-arm64"))
    assert [f for f in found(text, target) if f[0] == "cpu-gpu-conflict"] == expected


def test_cpu_gpu_fix_removes_cpuonly() -> None:
    text = "dependencies:\n  - cpuonly\n  - pytorch-cuda=11.8\n"
    (finding,) = findings(text)
    assert "`cpuonly` asks for CPU builds" in finding.message and finding.related
    assert applied(text, finding.fixes[0]) == "dependencies:\n  - pytorch-cuda=11.8\n"


# --- cuda-channel-missing ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("channels: [pytorch]\ndependencies:\n  - pytorch-cuda=11.8\n", [("cuda-channel-missing", 3, "error")]),
    ("channels: [pytorch, conda-forge]\ndependencies:\n  - pytorch-cuda=11.8\n", [("cuda-channel-missing", 3, "error")]),
    ("channels: [pytorch, conda-forge]\ndependencies:\n  - pytorch-cuda=12.1\n",
     [("cuda-channel-missing", 3, "warning")]),
    ("channels: [pytorch, nvidia]\ndependencies:\n  - pytorch-cuda=11.8\n", []),
    ("channels: [pytorch, nvidia/label/cuda-11.8.0]\ndependencies:\n  - pytorch-cuda=11.8\n", []),
    ("channels: [pytorch, 'https://conda.anaconda.org/nvidia/']\ndependencies:\n  - pytorch-cuda=11.8\n", []),
    ("dependencies:\n  - pytorch-cuda=11.8\n", []),
    ("channels: [pytorch]\ndependencies:\n  - cudatoolkit=11.3\n  - pytorch=1.12\n", []),
])
def test_channel_missing(text: str, expected: list[tuple[str, int, str]]) -> None:
    assert [f for f in found(text) if f[0] == "cuda-channel-missing"] == expected


def test_channel_missing_fix_adds_nvidia_after_pytorch() -> None:
    text = "channels:\n  - pytorch\n  - conda-forge\ndependencies:\n  - pytorch-cuda=11.8\n"
    (finding,) = [f for f in findings(text) if f.code == "cuda-channel-missing"]
    assert "nvidia" in finding.message
    assert applied(text, finding.fixes[0]) == (
        "channels:\n  - pytorch\n  - nvidia\n  - conda-forge\ndependencies:\n  - pytorch-cuda=11.8\n")
    flow = "channels: [pytorch]\ndependencies:\n  - pytorch-cuda=11.8\n"
    (finding,) = findings(flow)
    assert applied(flow, finding.fixes[0]).startswith("channels: [pytorch, nvidia]\n")


# --- gpu-build-not-selected ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    # cudatoolkit beside pytorch >= 1.13 from the pytorch channel
    ("channels: [pytorch, nvidia]\ndependencies:\n  - cudatoolkit=11.8\n  - pytorch=2.0\n", [3]),
    ("channels: [defaults]\ndependencies:\n  - nvidia::cudatoolkit=11.1\n  - pytorch::pytorch\n", [3]),
    ("channels: [pytorch, conda-forge]\ndependencies:\n  - pytorch>=1.8.1\n  - cudatoolkit>=10\n", [4]),
    ("channels: [pytorch]\ndependencies:\n  - cudatoolkit=11.3\n  - pytorch=1.12.1\n", []),
    ("channels: [pytorch]\ndependencies:\n  - cudatoolkit=11.3\n  - pytorch=1.12.*\n", []),
    ("channels: [pytorch]\ndependencies:\n  - cudatoolkit=11.3\n  - pytorch<1.13\n", []),
    ("channels: [conda-forge, pytorch]\ndependencies:\n  - cudatoolkit=11.8\n  - pytorch=2.0\n", []),
    ("channels: [my-mirror, pytorch]\ndependencies:\n  - cudatoolkit=11.8\n  - pytorch=2.0\n", []),
    ("dependencies:\n  - cudatoolkit=11.8\n  - pytorch=2.0\n", []),
    ("channels: [pytorch, nvidia]\ndependencies:\n  - cudatoolkit\n  - pytorch=1.13.1\n  - pytorch-mutex=1.0=cuda\n",
     []),
    ("channels: [pytorch, nvidia]\ndependencies:\n  - cudatoolkit=11.7\n  - pytorch=2.0\n  - pytorch-cuda=11.7\n", []),
    # pytorch-cuda with pytorch from a channel of higher priority
    ("channels: [conda-forge, pytorch, nvidia]\ndependencies:\n  - pytorch\n  - pytorch-cuda\n", [4]),
    ("channels: [defaults, pytorch, nvidia]\ndependencies:\n  - pytorch=2.0\n  - pytorch-cuda=11.8\n", [4]),
    ("channels: [defaults, pytorch, nvidia]\ndependencies:\n  - pytorch::pytorch=2.0\n  - pytorch-cuda=11.8\n", []),
    ("channels: [nvidia, pytorch, conda-forge]\ndependencies:\n  - pytorch\n  - pytorch-cuda=11.8\n", []),
    ("channels: [mirror, pytorch, nvidia]\ndependencies:\n  - pytorch\n  - pytorch-cuda=11.8\n", []),
    # jaxlib or tensorflow left free while CUDA is pinned
    ("channels: [conda-forge]\ndependencies:\n  - cuda-version=12\n  - jaxlib\n", [4]),
    ("channels: [conda-forge]\ndependencies:\n  - cudatoolkit=11.8\n  - tensorflow=2.13\n", [4]),
    ("channels: [conda-forge]\ndependencies:\n  - cuda-version=12\n  - jaxlib=*=*cuda*\n", []),
    ("channels: [conda-forge]\ndependencies:\n  - cuda-nvcc\n  - jaxlib\n", []),
    ("channels: [conda-forge]\ndependencies:\n  - cuda-version=12\n  - jaxlib\n  - pip:\n    - jax[cuda12]\n", []),
    ("channels: [conda-forge]\ndependencies:\n  - cudatoolkit=10.0\n  - tensorflow-gpu==1.15\n", []),
])
def test_gpu_build_not_selected(text: str, expected: list[int]) -> None:
    assert [line for code, line, _ in found(text) if code == "gpu-build-not-selected"] == expected


def test_cudatoolkit_fix_replaces_it_by_pytorch_cuda_and_adds_nvidia() -> None:
    text = "channels:\n  - pytorch\n  - defaults\ndependencies:\n  - cudatoolkit=11.8\n  - pytorch=2.0\n"
    (finding,) = [f for f in findings(text) if f.code == "gpu-build-not-selected"]
    assert finding.severity is Severity.WARNING
    assert "`pytorch-cuda`, not `cudatoolkit`" in finding.message and "add the nvidia channel" in finding.message
    assert applied(text, finding.fixes[0]) == (
        "channels:\n  - pytorch\n  - nvidia\n  - defaults\ndependencies:\n  - pytorch-cuda=11.8\n  - pytorch=2.0\n")


def test_cudatoolkit_fix_only_for_versions_pytorch_cuda_has() -> None:
    text = "channels: [pytorch, nvidia]\ndependencies:\n  - cudatoolkit=11.1\n  - pytorch\n"
    (finding,) = findings(text)
    assert finding.fixes == () and "pytorch-cuda=<CUDA version>" in finding.message


def test_pytorch_from_elsewhere_fix_names_the_channel() -> None:
    text = "channels: [conda-forge, pytorch, nvidia]\ndependencies:\n  - pytorch=2.0\n  - pytorch-cuda=11.8\n"
    (finding,) = findings(text)
    assert [r.message for r in finding.related][1] == "`conda-forge` has its own pytorch and comes first"
    assert applied(text, finding.fixes[0]).splitlines()[2] == "  - pytorch::pytorch=2.0"


def test_framework_left_free_fix() -> None:
    text = "channels: [conda-forge]\ndependencies:\n  - cuda-version=12\n  - jaxlib=0.4.23\n"
    (finding,) = findings(text)
    assert "CPU build" in finding.message and "`cuda-version=12` implies CUDA 12" in finding.message
    assert applied(text, finding.fixes[0]).splitlines()[3] == "  - jaxlib=0.4.23=*cuda*"


# --- bad input -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text", [
    "dependencies:\n  - cudatoolkit=abc\n  - pytorch-cuda=abc\n",
    "dependencies:\n  - cuda-version=" + "9" * 30 + "\n",
    "dependencies:\n  - pytorch-cuda=11.8=\n  - pytorch-cuda==\n  - 'cudatoolkit >=<11'\n",
    "dependencies:\n  - pip:\n    - torch==" + "1" * 5000 + "+cu118\n    - cupy-cuda" + "1" * 500 + "\n",
    "dependencies:\n  - cudatoolkit=11.8  # [linux and (\n  - pytorch-cuda=11.3  # [py38]\n",
    "dependencies:\n  - sel(linux): cudatoolkit=11.8\n  - sel(win): cudatoolkit=11.3\n",
    "dependencies:\n  - cudatoolkit=11.8\n  - [broken\n",
    "dependencies: cudatoolkit\n", "", "dependencies:\n  - {pip: 3}\n  - 12.1\n",
])
@pytest.mark.parametrize("target", [DRIVER_12_2, NO_DRIVER, CudaTarget("abc", "setting", ()),
                                    CudaTarget("1" * 5000, "setting", ("osx-arm64", "linux-64"))])
def test_bad_input_never_crashes(text: str, target: CudaTarget, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="envls"):
        result = findings(text, target)
    assert not caplog.records
    assert all(f.code in CUDA_CODES for f in result)


def test_selectors_that_name_other_things_apply_everywhere() -> None:
    text = "dependencies:\n  - cudatoolkit=11.8  # [py38]\n  - pytorch-cuda=11.3\n"
    assert found(text) == [("cuda-conflict", 2, "error")]


def test_sel_items_under_different_platforms_do_not_conflict() -> None:
    text = "dependencies:\n  - sel(linux): cudatoolkit=11.8\n  - sel(win): cudatoolkit=11.3\n"
    assert found(text, CudaTarget("12.2", "setting", ("linux-64", "win-64"))) == []


# --- the stage -----------------------------------------------------------------------------------------------

def test_with_cuda_adds_suppresses_and_replaces() -> None:
    text = "dependencies:\n  - pytorch-cuda=11.8\n  - cudatoolkit=11.3\n  - cpuonly  # envls: disable=cpu-gpu-conflict\n"
    analysis = analyze(text)
    once = with_cuda(analysis, DRIVER_12_2)
    assert [f.code for f in once.findings if f.code in CUDA_CODES] == ["cuda-conflict"]
    twice = with_cuda(once, DRIVER_12_2)
    assert twice.findings == once.findings
    assert [f.code for f in with_cuda(analysis, DRIVER_12_2).findings] == [f.code for f in once.findings]
    silenced = with_cuda(analysis, DRIVER_12_2, options=AnalysisOptions(frozenset({"cuda-conflict"})))
    assert not [f for f in silenced.findings if f.code in CUDA_CODES]


@pytest.mark.logs_errors  # a failing part is logged as an ERROR and contained
def test_a_failing_rule_is_logged_and_the_others_report(monkeypatch: pytest.MonkeyPatch,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    import envls.core.cuda.stage as stage

    def broken(context: object) -> list[Finding]:
        raise RuntimeError("boom")

    monkeypatch.setattr(stage, "RULES", (broken, *stage.RULES))
    with caplog.at_level(logging.ERROR, logger="envls"):
        result = findings("dependencies:\n  - pytorch-cuda=11.8\n  - cudatoolkit=11.3\n")
    assert [f.code for f in result] == ["cuda-conflict"] and "broken" in caplog.text


def test_fast_enough() -> None:
    """The issue's budget: CUDA diagnostics add at most 5 ms to the fast stages (here with a wide margin)."""
    deps = "".join(f"  - cuda-cudart=11.8\n  - pkg{i}=1.{i}\n" for i in range(150))
    analysis: Analysis = run("channels: [pytorch, nvidia]\ndependencies:\n  - pytorch-cuda=11.8\n" + deps)
    cuda_findings(analysis.environment, DRIVER_12_2)
    start = time.perf_counter()
    for _ in range(10):
        cuda_findings(analysis.environment, DRIVER_12_2)
    assert (time.perf_counter() - start) / 10 < 0.02


# --- hover ---------------------------------------------------------------------------------------------------

def test_hover() -> None:
    text = "dependencies:\n  - pytorch-cuda=12.1\n  - cuda-cudart=12.1\n  - numpy\n"
    env = run(text).environment
    target = CudaTarget("11.8", "CONDA_OVERRIDE_CUDA", LINUX)
    shown = cuda_hover(env, target, text.index("cuda-cudart") + 2)
    assert shown is not None
    assert "CUDA 12.1" in shown and "CUDA 11.8 (from CONDA_OVERRIDE_CUDA)" in shown
    assert "verdict: error `cuda-driver-too-old`" in shown  # reported on pytorch-cuda, with this one related
    assert cuda_hover(env, target, text.index("numpy")) is None
    fits = cuda_hover(env, CudaTarget("12.4", "detected", LINUX), text.index("pytorch-cuda"))
    assert fits is not None and "fits the target's driver (CUDA 12.4)" in fits
    unknown = cuda_hover(env, NO_DRIVER, text.index("pytorch-cuda"))
    assert unknown is not None and "not checked against a driver" in unknown


# --- channel data: the real pytorch channel (2023) -----------------------------------------------------------

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
PYTORCH = DATA / "channels" / "pytorch-rattler"
DUMMY = DATA / "formats" / "rattler-dummy-v2-base_url"
needs_data = pytest.mark.skipif(not PYTORCH.is_dir() or not DUMMY.is_dir(), reason="the shared snapshots are not here")


def snapshot_facts(root: Path, channel: str, names: tuple[str, ...]) -> ChannelFacts:
    """ChannelFacts made by hand from one snapshot subdir, as envls/channels/facts.py makes them."""
    from rattler import Channel, PackageName, SparseRepoData

    url = root.as_uri()
    sparse = SparseRepoData(Channel(url), "linux-64", str(root / "linux-64" / "repodata.json"))
    records = {n: tuple(sparse.load_records(PackageName(n))) for n in names}
    state = ChannelState(channel, channel, (url,), "ok")
    return ChannelFacts((state,), LINUX, records, {channel: frozenset(sparse.package_names())},
                        loaded=frozenset(names))


@needs_data
def test_records_derive_cuda_when_all_builds_agree() -> None:
    facts = snapshot_facts(PYTORCH, "pytorch", ("pytorch",))
    text = "channels: [pytorch]\ndependencies:\n  - pytorch=2.0.1=*cuda*\n  - cudatoolkit=11.3\n"
    assert found(text, facts=facts) == [("cuda-conflict", 3, "error")]
    (finding,) = findings(text, facts=facts)
    assert "no build of `pytorch=2.0.1=*cuda*` fits `cudatoolkit=11.3`" in finding.message
    assert "11.7 or 11.8" in finding.message
    shown = cuda_hover(run(text).environment, DRIVER_12_2, textwrap.dedent(text).index("pytorch=") + 1, facts)
    assert shown is not None and "pytorch-cuda >=11.7,<11.8" in shown and "11.7 to 11.8" in shown


@needs_data
def test_records_that_disagree_derive_nothing() -> None:
    facts = snapshot_facts(PYTORCH, "pytorch", ("pytorch",))
    env = run("channels: [pytorch]\ndependencies:\n  - pytorch=2.0.1\n").environment
    from envls.core.cuda.records import all_implications

    assert all_implications(env, facts) == []  # CPU and CUDA builds: nothing to say


@needs_data
@pytest.mark.parametrize(("text", "expected"), [
    # pytorch 2.1.0 has CUDA builds for 11.8 and 12.1 only: with pytorch-cuda=11.7 the solver takes a CPU build.
    ("channels: [pytorch, nvidia]\ndependencies:\n  - pytorch=2.1.0\n  - pytorch-cuda=11.7\n",
     [("gpu-build-not-selected", 3, "warning")]),
    ("channels: [pytorch, nvidia]\ndependencies:\n  - pytorch=2.1.0\n  - pytorch-cuda=12.1\n", []),
    # pytorch 1.11.0 has CUDA builds for 10.2, 11.1, 11.3 and 11.5 (and CPU builds).
    ("channels: [pytorch]\ndependencies:\n  - pytorch=1.11.0\n  - cudatoolkit=11.2\n",
     [("gpu-build-not-selected", 3, "warning")]),
    ("channels: [pytorch]\ndependencies:\n  - pytorch=1.11.0\n  - cudatoolkit=11.1\n", []),
    ("channels: [pytorch]\ndependencies:\n  - pytorch=1.12.1=*cuda*\n  - cudatoolkit=11.6\n", []),
    ("channels: [pytorch]\ndependencies:\n  - pytorch=1.12.1=*cuda*\n  - cudatoolkit=11.5\n",
     [("cuda-conflict", 3, "error")]),
    ("channels: [pytorch]\ndependencies:\n  - torchvision=0.15.2\n  - pytorch-cuda=12.1\n",
     [("cuda-channel-missing", 4, "error"), ("gpu-build-not-selected", 3, "warning")]),
])
def test_channel_records(text: str, expected: list[tuple[str, int, str]]) -> None:
    facts = snapshot_facts(PYTORCH, "pytorch", ("pytorch", "pytorch-cuda", "cudatoolkit", "torchvision"))
    assert found(text, facts=facts) == expected


@needs_data
def test_pending_records_are_not_judged() -> None:
    facts = snapshot_facts(PYTORCH, "pytorch", ("pytorch-cuda",))
    pending = ChannelFacts(facts.channels, facts.platforms, facts.records, {"pytorch": frozenset({"pytorch"})},
                           loaded=frozenset({"pytorch-cuda"}))
    text = "channels: [pytorch, nvidia]\ndependencies:\n  - pytorch=2.1.0\n  - pytorch-cuda=11.7\n"
    assert found(text, facts=pending) == []


@needs_data
def test_the_channels_cuda_need_replaces_the_version() -> None:
    """conda-forge's cuda-version 12.5 only constrains `__cuda >=12.1` (minor-version compatibility)."""
    facts = snapshot_facts(DUMMY, "conda-forge", ("cuda-version",))
    text = "channels: [conda-forge]\ndependencies:\n  - cuda-version=12.5\n"
    assert found(text, CudaTarget("12.2", "detected", LINUX)) == [("cuda-driver-too-old", 3, "warning")]
    assert found(text, CudaTarget("12.2", "detected", LINUX), facts) == []
    (finding,) = findings(text, CudaTarget("11.8", "detected", LINUX), facts)
    assert "its builds need a driver for CUDA 12.1 or newer (`__cuda`)" in finding.message
    assert finding.severity is Severity.ERROR


# --- the target's CUDA: py-rattler's detection, CONDA_OVERRIDE_CUDA, the setting ---------------------------

def test_detect_with_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONDA_OVERRIDE_CUDA", "12.2")
    detection = detect_cuda()
    assert (detection.driver, detection.source) == ("12.2", "CONDA_OVERRIDE_CUDA")
    assert detection.seconds < 5


def test_detect_with_empty_override_means_no_driver(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONDA_OVERRIDE_CUDA", "")
    detection = detect_cuda()
    assert (detection.driver, detection.source) == (None, "CONDA_OVERRIDE_CUDA")
    assert "empty" in detection.detail


@pytest.mark.parametrize("value", ["abc", "1" * 40, "12.2.x"])
def test_detect_with_a_bad_override_falls_back(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
                                               value: str) -> None:
    monkeypatch.setenv("CONDA_OVERRIDE_CUDA", value)
    with caplog.at_level(logging.WARNING, logger="envls"):
        detection = detect_cuda()
    assert detection.source in ("detected", "none") and "is no CUDA version" in caplog.text
    assert detection.driver is None or detection.driver[0].isdigit()


def test_detect_without_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CONDA_OVERRIDE_CUDA", raising=False)
    detection = detect_cuda()
    assert detection.source in ("detected", "none")
    assert (detection.driver is None) == (detection.source == "none")


@pytest.mark.parametrize(("setting", "detected", "expected"), [
    ("", CudaDetection("12.2", "detected"), ("12.2", "detected")),
    ("11.8", CudaDetection("12.2", "detected"), ("11.8", "setting")),
    ("none", CudaDetection("12.2", "detected"), (None, "setting")),
    ("", CudaDetection(None, "CONDA_OVERRIDE_CUDA"), (None, "CONDA_OVERRIDE_CUDA")),
    ("", None, (None, "none")),
    ("garbage", CudaDetection("12.2", "detected"), ("12.2", "detected")),
])
def test_driver_and_source(setting: str, detected: CudaDetection | None, expected: tuple[str | None, str]) -> None:
    assert driver_and_source(detected, setting) == expected


@pytest.mark.parametrize(("value", "valid"), [
    ("", True), ("none", True), ("None", True), ("12.2", True), ("12", True), (" 11.8 ", True),
    ("abc", False), ("12.x", False), ("1" * 40, False), (12.2, False), (None, False), ([], False),
])
def test_check_cuda_setting(value: object, valid: bool) -> None:
    problem = check_cuda_setting(value)
    assert (problem is None) == valid
    assert problem is None or "cudaVersion" in problem


def test_rules_through_the_setting_and_the_override(monkeypatch: pytest.MonkeyPatch) -> None:
    text = "dependencies:\n  - pytorch-cuda=12.1\n"
    monkeypatch.setenv("CONDA_OVERRIDE_CUDA", "11.8")
    driver, source = driver_and_source(detect_cuda())
    assert found(text, CudaTarget(driver, source, LINUX)) == [("cuda-driver-too-old", 2, "error")]
    driver, source = driver_and_source(detect_cuda(), "12.4")
    assert found(text, CudaTarget(driver, source, LINUX)) == []
    monkeypatch.setenv("CONDA_OVERRIDE_CUDA", "")
    driver, source = driver_and_source(detect_cuda())
    assert found(text, CudaTarget(driver, source, LINUX)) == [("cuda-no-driver", 2, "information")]


def test_probe_runs_once_and_caches() -> None:
    calls = []

    def detect() -> CudaDetection:
        calls.append(1)
        return CudaDetection("12.2", "detected")

    probe = CudaProbe(detect=detect)
    assert probe.result() == CudaDetection("12.2", "detected")
    assert probe.cached() == CudaDetection("12.2", "detected")
    assert asyncio.run(probe.detection()) == CudaDetection("12.2", "detected")
    assert calls == [1]


def test_a_hanging_probe_times_out_and_blocks_nothing() -> None:
    release = threading.Event()

    def hang() -> CudaDetection:
        release.wait(10)
        return CudaDetection("12.2", "detected")

    try:
        probe = CudaProbe(timeout=0.2, detect=hang)
        assert probe.cached() is None
        start = time.perf_counter()
        first = asyncio.run(probe.detection())
        assert first.driver is None and "did not answer" in first.detail
        assert probe.result().driver is None  # no second wait
        assert time.perf_counter() - start < 2
    finally:
        release.set()
    for _ in range(100):
        if probe.cached() is not None:
            break
        time.sleep(0.01)
    assert probe.cached() == CudaDetection("12.2", "detected")  # a late answer is kept for later


@pytest.mark.logs_errors  # a failing part is logged as an ERROR and contained
def test_a_failing_probe_is_no_driver(caplog: pytest.LogCaptureFixture) -> None:
    def fail() -> CudaDetection:
        raise OSError("libcuda exploded")

    with caplog.at_level(logging.ERROR, logger="envls"):
        detection = CudaProbe(detect=fail).result()
    assert detection.driver is None and "libcuda exploded" in detection.detail
