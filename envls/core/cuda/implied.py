"""CUDA: what each spec of an environment file implies about CUDA, and the machine the file is for.

Pure: spec texts in, implications out. A conda spec implies CUDA through its name (`cudatoolkit=11.8`,
`pytorch-cuda=11.8`, `cuda-version=12`, the split CUDA packages), its build string (`*cuda118*`,
`py3.10_cuda11.8_cudnn8.7.0_0`, `*cpu*`) or as a CPU/GPU marker (`cpuonly`, `pytorch-gpu`); a pip line
through its local version (`+cu118`), its name (`cupy-cuda12x`, `nvidia-cublas-cu12`) or its extras
(`jax[cuda12]`). What the channels' records say is added by envls/core/cuda/records.py.

Versions are ranges of CUDA versions (major, minor), so that `cuda118` (11.8 or a newer 11.x, as
conda-forge builds it), `pytorch-cuda=11.8` (exactly 11.8) and `cuda-version=12` (any 12.x) compare.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Literal

from packaging.utils import canonicalize_name

from envls.core.conda.specs import ParsedSpec, parse_spec
from envls.core.cuda.versions import CudaRange, Pair, digits_range, parse_cuda_version, version_range
from envls.core.environment import Entry, Environment
from envls.core.pace import paced
from envls.core.pip.lines import PipLine, parse_pip_line

CudaSource = Literal["detected", "setting", "CONDA_OVERRIDE_CUDA", "none"]
Manager = Literal["conda", "pip"]
Role = Literal["build", "toolkit"]  # selects a package's build variant, or is a CUDA library / toolkit


@dataclass(frozen=True)
class CudaTarget:
    """The machine an environment is for: the CUDA version its driver supports, and its platforms.

    ``driver`` is `__cuda` as conda sees it (`12.2`), None when there is no NVIDIA driver or none is
    known; ``source`` says where it comes from. ``platforms`` are conda subdirs; empty means unknown.
    ``platforms_from_host`` is True when they are only this machine's platform, not the file's choice.
    """

    driver: str | None = None
    source: CudaSource = "none"
    platforms: tuple[str, ...] = ()
    platforms_from_host: bool = False

    @property
    def driver_version(self) -> Pair | None:
        parsed = parse_cuda_version(self.driver or "")
        return (parsed[0], parsed[1] or 0) if parsed else None

    def words(self) -> str:
        """The target in words, for messages and hover."""
        if self.driver is None:
            return {
                "CONDA_OVERRIDE_CUDA": "no NVIDIA driver (CONDA_OVERRIDE_CUDA is empty)",
                "setting": "no NVIDIA driver (the `cudaVersion` setting says `none`)",
            }.get(self.source, "no NVIDIA driver detected on this machine and no target set")
        origin = {"detected": "detected from this machine's NVIDIA driver", "setting": "from the `cudaVersion` setting",
                  "CONDA_OVERRIDE_CUDA": "from CONDA_OVERRIDE_CUDA", "none": "given"}[self.source]
        return f"CUDA {self.driver} ({origin})"


def cuda_target(env: Environment, driver: str | None, source: CudaSource, configured: tuple[str, ...] = (),
                host: tuple[str, ...] = ()) -> CudaTarget:
    """The target of one file: its `platforms:`, else the configured platforms, else the host's."""
    from_file = tuple(e.text.strip() for e in env.platforms if e.text.strip() and e.text.strip() != "noarch")
    if from_file:
        return CudaTarget(driver, source, from_file)
    if configured:
        return CudaTarget(driver, source, tuple(configured))
    return CudaTarget(driver, source, tuple(host), platforms_from_host=bool(host))


@dataclass(frozen=True)
class Meaning:
    """What one spec text says about CUDA, before it is tied to an entry of a file."""

    cpu: bool
    range: CudaRange | None
    role: Role
    family: str
    reason: str


@dataclass(frozen=True)
class Implication:
    """What one entry of the file implies: a CPU build, or CUDA (a range of versions, or any)."""

    entry: Entry
    manager: Manager
    name: str
    cpu: bool
    range: CudaRange | None
    role: Role
    family: str
    reason: str
    driver_need: CudaRange | None = None  # from the channels' `__cuda` requirements, when all records agree
    from_channels: bool = False

    @property
    def spec(self) -> str:
        return self.entry.text.strip()

    @property
    def version(self) -> str:
        """The CUDA version in words (`11.8`, `12`), or `cpu`, or `any gpu`."""
        if self.cpu:
            return "cpu"
        return self.range.words() if self.range is not None else "any gpu"

    @property
    def need(self) -> CudaRange | None:
        """What the target's driver must support: the channels' `__cuda` need, else the implied range."""
        return self.driver_need or self.range


# Packages versioned like the CUDA release they belong to.
VERSIONED = frozenset({
    "cudatoolkit", "cudatoolkit-dev", "cuda-version", "pytorch-cuda", "cuda-toolkit", "cuda-runtime", "cuda-cudart",
    "cuda-cudart-dev", "cuda-cudart-static", "cuda-nvcc", "cuda-nvcc-impl", "cuda-nvcc-tools", "cuda-nvrtc",
    "cuda-nvrtc-dev", "cuda-cupti", "cuda-cupti-dev", "cuda-nvtx", "cuda-libraries", "cuda-libraries-dev",
    "cuda-compiler", "cuda-cccl", "cuda-command-line-tools", "cuda-tools", "cuda-driver-dev", "cuda-nvml-dev",
    "cuda-profiler-api", "cuda-sanitizer-api", "cuda-nvdisasm", "cuda-cuobjdump", "cuda-cuxxfilt", "cuda-nvprune",
    "cuda-gdb", "cuda-nvvm", "cuda-crt", "cuda-crt-dev", "cuda-crt-tools", "cuda-opencl", "cuda-nvprof",
    "cuda-libraries-static", "cuda-visual-tools", "cuda-nsight", "cuda-demo-suite",
})
# Versions of pytorch-cuda that the pytorch channel has published.
PYTORCH_CUDA_VERSIONS = frozenset({"11.6", "11.7", "11.8", "12.1", "12.4"})
# CUDA libraries whose major version is the CUDA major (libcublas 11.x ships with CUDA 11).
_MAJOR_MAPPED = frozenset({"libcublas", "libcublas-dev", "libcusparse", "libcusparse-dev", "libnpp", "libnpp-dev",
                           "libnvjpeg", "libnvjpeg-dev", "libnvjitlink", "libnvjitlink-dev"})
# Packages that need CUDA but whose version says nothing about which.
_GPU_ONLY = frozenset({"cudnn", "nccl", "cutensor", "cupy", "libcufft", "libcufft-dev", "libcurand", "libcurand-dev",
                       "libcusolver", "libcusolver-dev", "libcufile", "libcufile-dev", "cudf", "cuml", "cugraph"})
_CPU_MARKERS = frozenset({"cpuonly"})
_FAMILIES = {
    "pytorch": ("pytorch", "torch", "torchvision", "torchaudio", "pytorch-cuda", "cpuonly", "pytorch-mutex",
                "pytorch-gpu", "pytorch-cpu", "libtorch"),
    "tensorflow": ("tensorflow", "tensorflow-gpu", "tensorflow-cpu", "tensorflow-base", "tf-nightly"),
    "jax": ("jax", "jaxlib"),
    "cupy": ("cupy",),
}
_FAMILY_OF = {name: family for family, names in _FAMILIES.items() for name in names}
_SUFFIX = re.compile(r"-(?:gpu|cpu|cu(?:da)?\d{1,3}x?)$")


def family_of(name: str) -> str:
    """The framework a package belongs to, for telling a CPU build from a GPU build of the same thing."""
    if name in _FAMILY_OF:
        return _FAMILY_OF[name]
    if name.startswith(("jax-cuda", "jax-plugin")):
        return "jax"
    if name.startswith("cupy-"):
        return "cupy"
    if re.fullmatch(r"cuda\d{2,3}|magma-cuda\d{2,3}", name):
        return "pytorch"  # the pytorch channel's feature metapackages of old
    stripped = _SUFFIX.sub("", name)
    return _FAMILY_OF.get(stripped, stripped)


_BUILD_DOTTED = re.compile(r"cuda_?(\d{1,2})\.(\d{1,2})")
_BUILD_CUDA = re.compile(r"cuda_?(\d{1,3})(?!\d)")
_BUILD_CU = re.compile(r"(?:^|[_.*-])cu(\d{2,3})(?:$|[_.*-])")


def build_meaning(build: str) -> tuple[bool, CudaRange | None] | None:
    """(cpu, range) for a build string or glob that names CUDA or CPU; None when it names neither."""
    text = build.lower()
    has_cpu = "cpu" in text
    has_gpu = "cuda" in text or "gpu" in text or ("cu" in text and bool(_BUILD_CU.search(text)))
    if has_cpu == has_gpu:
        return None
    if has_cpu:
        return True, None
    if match := _BUILD_DOTTED.search(text):
        return False, digits_range(match.group(1), match.group(2), exact=True)
    if match := _BUILD_CUDA.search(text):
        return False, digits_range(match.group(1), None, exact=False)
    if match := _BUILD_CU.search(text):
        return False, digits_range(match.group(1), None, exact=True)
    return False, None


_CUDA_NAME = re.compile(r"(?:magma-)?cuda(\d{2,3})")


def _name_meaning(name: str, version: str | None) -> tuple[bool, CudaRange | None, Role] | None:
    """What a conda package's name (and version) says: (cpu, range, role), or None."""
    if name in _CPU_MARKERS or name.endswith("-cpu"):
        return True, None, "build"
    if name in VERSIONED:
        return False, version_range(version), "build" if name == "pytorch-cuda" else "toolkit"
    if "cuda" in name and (match := _CUDA_NAME.fullmatch(name)):
        return False, digits_range(match.group(1), None, exact=True), "toolkit"
    if name in _MAJOR_MAPPED:
        found = version_range(version)
        return False, CudaRange.exact(found.low[0], None) if found and found.low[0] else None, "toolkit"
    if name in _GPU_ONLY:
        return False, None, "toolkit"
    if name.endswith("-gpu"):
        return False, None, "build"
    return None


@functools.lru_cache(maxsize=8192)
def conda_meaning(text: str) -> Meaning | None:
    """What a conda spec (or a record's dependency string) says about CUDA."""
    return meaning_of(parse_spec(text))


def meaning_of(parsed: ParsedSpec) -> Meaning | None:
    """What a parsed conda spec says about CUDA (a file's entries are parsed once; no second parse)."""
    text = parsed.text
    name = parsed.name
    if parsed.spec is None or name is None or name.startswith("__"):
        return None
    shown = text.strip()
    by_build = build_meaning(parsed.build) if parsed.build else None
    by_name = _name_meaning(name, parsed.version)
    if by_build is None and by_name is None:
        return None
    family = family_of(name)
    if by_build is not None and by_name is not None and by_build[0] != by_name[0]:
        return None  # `pytorch-cpu=*=*cuda*`: it contradicts itself; the channel checks will say it matches nothing
    if by_build is not None:
        cpu, implied = by_build
        if by_name is not None and by_name[1] is not None:
            implied = by_name[1] if implied is None else (implied.intersection(by_name[1]) or implied)
        what = "a CPU build" if cpu else f"CUDA {implied.words()}" if implied else "a CUDA build"
        return Meaning(cpu, implied, "build", family, f"`{shown}`: the build `{parsed.build}` means {what}")
    assert by_name is not None
    cpu, implied, role = by_name
    if cpu:
        return Meaning(True, None, role, family, f"`{shown}` asks for CPU builds")
    if implied is not None:
        return Meaning(False, implied, role, family, f"`{shown}` implies CUDA {implied.words()}")
    return Meaning(False, None, role, family, f"`{shown}` needs CUDA (its version names no CUDA release)"
                   if parsed.version and name in VERSIONED else f"`{shown}` needs CUDA")


_INDEX = re.compile(r"download\.pytorch\.org/whl/(?:nightly/|test/)?(cu(\d{2,3})|cpu)(?:[/\s]|$)")
_LOCAL = re.compile(r"^(?:cu(\d{2,3})|cuda(\d{1,2})(?:\.(\d{1,2}))?)(?![\d])")
_PIP_SUFFIX = re.compile(r"(?:^|-)cu(?:da)?(\d{2,3})(x?)(?:$|-)")


@functools.lru_cache(maxsize=8192)
def pip_meaning(text: str) -> Meaning | None:
    """What a pip line says about CUDA: local versions, wheel names, extras, the PyTorch wheel index."""
    return pip_line_meaning(text, parse_pip_line(text))


def pip_line_meaning(text: str, line: PipLine) -> Meaning | None:
    """As `pip_meaning`, for a line parsed already (a file's entries are parsed once; uncached: a parsed line
    is no cache key, hashing its requirement may itself fail)."""
    shown = text.strip()
    if match := _INDEX.search(shown):
        if match.group(1) == "cpu":
            return Meaning(True, None, "build", "pytorch", f"`{shown}`: PyTorch's CPU wheel index")
        implied = digits_range(match.group(2), None, exact=True)
        if implied is None:
            return None
        return Meaning(False, implied, "build", "pytorch",
                       f"`{shown}`: PyTorch's wheel index for CUDA {implied.words()}")
    if line.kind != "requirement" or line.requirement is None:
        return None
    name = canonicalize_name(line.requirement.name)
    family = family_of(name)
    for specifier in line.requirement.specifier:
        local = specifier.version.partition("+")[2].lower()
        if local == "cpu":
            return Meaning(True, None, "build", family, f"`{shown}`: `+cpu` is a CPU wheel")
        if match := _LOCAL.match(local):
            if match.group(1):
                implied = digits_range(match.group(1), None, exact=True)
            else:
                implied = digits_range(match.group(2), match.group(3), exact=False)
            if implied is not None:
                return Meaning(False, implied, "build", family, f"`{shown}`: `+{local}` is a wheel for CUDA {implied.words()}")
    if match := re.fullmatch(r"cupy-cuda(\d{2,3})(x?)", name):
        digits = match.group(1)
        implied = CudaRange.exact(int(digits), None) if match.group(2) else digits_range(digits, None, exact=True)
        return Meaning(False, implied, "build", "cupy", f"`{shown}` is CuPy for CUDA {implied.words()}" if implied
                       else f"`{shown}` needs CUDA")
    extras = {e.lower() for e in line.requirement.extras}
    if family == "jax":
        for extra in sorted(extras):
            if match := re.match(r"cuda(\d{2})?", extra):
                implied = CudaRange.exact(int(match.group(1)), None) if match.group(1) else None
                what = f"CUDA {implied.words()}" if implied else "CUDA"
                return Meaning(False, implied, "build", "jax", f"`{shown}`: the extra `[{extra}]` installs JAX for {what}")
    if family == "tensorflow" and "and-cuda" in extras:
        return Meaning(False, None, "build", "tensorflow", f"`{shown}`: the extra `[and-cuda]` installs CUDA")
    if match := _PIP_SUFFIX.search(name):
        implied = digits_range(match.group(1), None, exact=True) if not match.group(2) else \
            CudaRange.exact(int(match.group(1)), None)
        if implied is None:
            return None
        role: Role = "toolkit" if name.startswith("nvidia-") else "build"
        if name.startswith("nvidia-cuda-"):
            for specifier in line.requirement.specifier:
                if specifier.operator in ("==", "===") and (pinned := version_range(specifier.version.split("+")[0])):
                    implied = implied.intersection(CudaRange.exact(pinned.low[0], pinned.low[1])) or implied
        return Meaning(False, implied, role, family, f"`{shown}` is a wheel for CUDA {implied.words()}")
    if name.endswith("-gpu"):
        for specifier in line.requirement.specifier:
            if match := re.search(r"\.post(\d{2,3})$", specifier.version):
                implied = digits_range(match.group(1), None, exact=True)
                if implied is not None:
                    return Meaning(False, implied, "build", family, f"`{shown}` is a wheel for CUDA {implied.words()}")
        return Meaning(False, None, "build", family, f"`{shown}` is a GPU build")
    if name.endswith("-cpu"):
        return Meaning(True, None, "build", family, f"`{shown}` is a CPU build")
    return None


def implications(env: Environment) -> list[Implication]:
    """What every conda spec and pip line of ``env`` implies about CUDA, in file order."""
    return list(env.derived("cuda_implications", _implications))


def _implications(env: Environment) -> tuple[Implication, ...]:
    found: list[Implication] = []
    for entry in paced(env.conda):
        meaning = meaning_of(entry.parsed)
        if meaning is not None:
            name = entry.parsed.name or ""
            found.append(_implication(entry, "conda", name, meaning))
    for section in env.pip:
        for entry in section.entries:
            meaning = pip_line_meaning(entry.text, entry.pip_line)
            if meaning is not None:
                line = entry.pip_line
                name = canonicalize_name(line.name) if line.name else "pytorch-index"
                found.append(_implication(entry, "pip", name, meaning))
    return tuple(found)


def uses_cuda(env: Environment) -> bool:
    """True when the file has anything to do with CUDA: a spec that implies a CUDA (or CPU) build, or a
    framework that comes in CUDA builds (pytorch, tensorflow, jax, cupy). For showing the CUDA target only then."""
    if implications(env):
        return True
    names = [e.parsed.name or "" for e in env.conda]
    names += [canonicalize_name(line.name) for s in env.pip for e in s.entries if (line := e.pip_line).name]
    return any(family_of(name) in _FAMILIES for name in names if name)


def _implication(entry: Entry, manager: Manager, name: str, meaning: Meaning) -> Implication:
    return Implication(entry, manager, name, meaning.cpu, meaning.range, meaning.role, meaning.family, meaning.reason)
