"""The CUDA rules: the file's CUDA pins against each other, against the target's driver and platforms.

Pure: an Environment, a CudaTarget and (where loaded) a ChannelFacts snapshot in, findings out.
The rules about channels and about which PyTorch/JAX/TensorFlow build the solver will pick are in
envls/core/cuda/selection.py; envls/core/cuda/stage.py runs both. Each rule is conservative: when
unsure, it says nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence

from envls.core.conda.channel_facts import ChannelFacts
from envls.core.conda.selectors import platforms_for
from envls.core.cuda.implied import PYTORCH_CUDA_VERSIONS, VERSIONED, CudaTarget, Implication
from envls.core.cuda.versions import CudaRange
from envls.core.environment import Entry, Environment
from envls.core.findings import Edit, Finding, Fix, Related, Severity, Span
from envls.core.rules import line_removal

CUDA_CODES = frozenset({"cuda-conflict", "cuda-driver-too-old", "cuda-no-driver", "cuda-on-macos",
                        "cpu-gpu-conflict", "cuda-channel-missing", "gpu-build-not-selected"})
_SETTING_HINT = ("set the `cudaVersion` setting (or the environment variable CONDA_OVERRIDE_CUDA) to the CUDA "
                 "version of the machine this environment is for, as `nvidia-smi` shows it there (e.g. `12.2`)")


class Context:
    """What every CUDA rule reads: the file, the target, the channel data and the implications."""

    def __init__(self, env: Environment, target: CudaTarget, facts: ChannelFacts | None,
                 implications: tuple[Implication, ...]) -> None:
        self.env = env
        self.target = target
        self.facts = facts
        self.implications = implications
        self._platforms: dict[str | None, frozenset[str]] = {}

    def platforms(self, entry: Entry) -> frozenset[str]:
        """The target platforms an entry applies to (empty when the target's platforms are unknown)."""
        selector = entry.selector
        if selector not in self._platforms:
            chosen = platforms_for(selector, self.target.platforms) if self.target.platforms else ()
            self._platforms[selector] = frozenset(chosen)
        return self._platforms[selector]

    def on_cuda_platform(self, implication: Implication) -> bool:
        """True when the entry applies to a platform where CUDA exists (Linux, Windows), or to an unknown one."""
        if not self.target.platforms:
            return True
        return any(not p.startswith("osx") for p in self.platforms(implication.entry))

    def overlap(self, a: Entry, b: Entry) -> bool:
        """True when two entries can be in the same environment (their selectors share a target platform)."""
        if a.selector == b.selector:
            return True
        if not self.target.platforms:
            return a.selector is None or b.selector is None
        return bool(self.platforms(a) & self.platforms(b))


Rule = Callable[[Context], Iterable[Finding]]


def span(entry: Entry) -> Span:
    return Span(entry.start, entry.end)


def versioned(context: Context, manager: str | None = None, bounded: bool = True) -> list[Implication]:
    """Implications with a CUDA range (bounded above unless ``bounded`` is False), from the specs themselves."""
    return [i for i in context.implications if not i.cpu and i.range is not None and not i.from_channels
            and (i.range.high is not None or not bounded) and context.on_cuda_platform(i)
            and (manager is None or i.manager == manager)]


def _priority(implication: Implication) -> int:
    """Which spec speaks for the file's CUDA: the pins made for it, then the CUDA toolkits, then builds."""
    if implication.name in ("pytorch-cuda", "cuda-version"):
        return 0
    if implication.name in ("cudatoolkit", "cuda-toolkit", "cuda-runtime"):
        return 1
    return 2 if implication.role == "build" else 3


def reference(context: Context, candidates: Sequence[Implication], entry: Entry | None = None) -> Implication | None:
    """The CUDA version most of the file agrees on: of the specs that pin a minor (`11.8`), else of all, the
    one that the most others are compatible with (pytorch-cuda and cuda-version first on a tie, then builds,
    then file order). A broad spec (`cupy-cuda11x`) is never the reference when a precise one is there."""
    pool = [c for c in candidates if entry is None or (c.entry is not entry and context.overlap(c.entry, entry))]
    # Specs with the same range and selector agree with the same others: count each kind once (an export
    # lists dozens of `cuda-*=11.8.x` packages).
    kinds: dict[tuple[CudaRange | None, str | None], list[Implication]] = {}
    for candidate in pool:
        kinds.setdefault((candidate.range, candidate.entry.selector), []).append(candidate)
    order = {id(c): position for position, c in enumerate(pool)}
    best: tuple[int, int, int] | None = None
    chosen: Implication | None = None
    minor_pinned = [k for k in kinds if k[0] is not None and k[0].one_minor]
    for key in minor_pinned or list(kinds):
        implied = key[0]
        assert implied is not None
        first = min(kinds[key], key=lambda c: (_priority(c), order[id(c)]))
        agree = sum(len(members) for (other, _), members in kinds.items()
                    if other is not None and implied.intersects(other) and context.overlap(first.entry, members[0].entry))
        score = (-agree, _priority(first), order[id(first)])
        if best is None or score < best:
            best, chosen = score, first
    return chosen


def conflicts(context: Context) -> Iterator[Finding]:
    """cuda-conflict: specs that imply different CUDA versions."""
    reported: set[int] = set()
    groups: list[tuple[str, ...]] = [(p,) for p in context.target.platforms] or [()]
    candidates = versioned(context)
    open_ended = [i for i in versioned(context, bounded=False) if i.range is not None and i.range.high is None]
    for group in groups:
        members = [c for c in candidates if not group or set(group) & context.platforms(c.entry)]
        ref = reference(context, members)
        if ref is None or ref.range is None:
            continue
        for other in [*members, *(o for o in open_ended if not group or set(group) & context.platforms(o.entry))]:
            if id(other.entry) in reported or other.range is None or other.range.intersects(ref.range):
                continue
            if not context.overlap(other.entry, ref.entry):
                continue
            reported.add(id(other.entry))
            yield _conflict(context, other, ref, members)


def _conflict(context: Context, other: Implication, ref: Implication, members: Sequence[Implication]) -> Finding:
    assert other.range is not None and ref.range is not None
    same_major = other.range.low[0] == ref.range.low[0]
    both_conda = other.manager == ref.manager == "conda"
    severity = Severity.ERROR if both_conda or not same_major else Severity.WARNING
    target_version = ref.range.version_text()
    if both_conda:
        consequence = "conda cannot install both (or installs two CUDA runtimes)"
    elif same_major and "conda" in (other.manager, ref.manager):
        consequence = "the pip wheel brings its own CUDA libraries, a different minor from the conda ones"
    elif same_major:
        consequence = "the wheels are built for different CUDA minors"
    else:
        consequence = "their CUDA libraries have different major versions and will not load together"
    message = f"{other.reason}, but {ref.reason}: {consequence}; pin one CUDA version"
    message += f" ({target_version}) everywhere" if target_version else " everywhere"
    agreeing = [m for m in members if m is not ref and m.range is not None and m.range.intersects(ref.range)
                and m.entry is not other.entry]
    related = tuple(Related(span(m.entry), m.reason) for m in [ref, *agreeing][:4])
    fixes: tuple[Fix, ...] = ()
    aligned = _aligned_text(other, target_version)
    if aligned is not None:
        fixes = (Fix(f"Change to `{aligned}`", (Edit(other.entry.start, other.entry.end, aligned),), True),)
    return Finding("cuda-conflict", severity, message, span(other.entry), related=related, fixes=fixes)


def _aligned_text(implication: Implication, version: str | None) -> str | None:
    """The spec rewritten to pin ``version`` (a `major.minor`): only for plain `name=version` specs of
    CUDA-versioned packages, and only to versions the package has."""
    if version is None or "." not in version or implication.manager != "conda" or implication.name not in VERSIONED:
        return None
    if implication.name == "pytorch-cuda" and version not in PYTORCH_CUDA_VERSIONS:
        return None
    if implication.name in ("cudatoolkit", "cudatoolkit-dev") and int(version.split(".")[0]) >= 12:
        return None  # cudatoolkit stops at 11.8; CUDA 12 is the split packages
    parsed = implication.entry.parsed
    if parsed.build:
        return None
    head, sep, _ = implication.entry.text.strip().partition("::")
    prefix = f"{head}::" if sep else ""
    return f"{prefix}{implication.name}={version}"


def driver_too_old(context: Context) -> Iterator[Finding]:
    """cuda-driver-too-old: the environment needs a newer CUDA than the target's driver supports.

    Specs that need the same CUDA are reported once, on the one that matters most (pytorch-cuda,
    cuda-version, then builds), with the others as related information."""
    driver = context.target.driver_version
    if driver is None:
        return
    groups: dict[tuple[int, int], list[Implication]] = {}
    for implication in context.implications:
        need = implication.need
        if implication.cpu or need is None or not context.on_cuda_platform(implication) or need.low <= driver:
            continue
        key = (need.low[0], 0) if need.low[0] > driver[0] else need.low  # one finding per newer major
        groups.setdefault(key, []).append(implication)
    for _, members in sorted(groups.items()):
        first = primary(members)
        need = first.need
        assert need is not None
        low = need.low
        newer_major = low[0] > driver[0]
        no_minor_compat = low[0] < 11  # minor-version compatibility starts with CUDA 11
        severity = Severity.ERROR if newer_major or no_minor_compat else Severity.WARNING
        if first.driver_need is not None and first.driver_need != first.range:
            why = f"`{first.spec}`: its builds need a driver for CUDA {low[0]}.{low[1]} or newer (`__cuda`)"
        else:
            why = first.reason
        if newer_major:
            advice = f"it will not run there; update the NVIDIA driver, or pin a CUDA {driver[0]}.x it supports"
        elif no_minor_compat:
            advice = "CUDA before 11 has no minor-version compatibility; update the driver or pin an older CUDA"
        else:
            advice = ("it runs through minor-version compatibility only, with limited features (no JIT of newer "
                      f"PTX); pin CUDA {driver[0]}.{driver[1]} or update the driver")
        others = [m for m in members if m is not first]
        more = f" (and {len(others)} more spec{'s' if len(others) > 1 else ''})" if others else ""
        message = f"{why}{more}, but the target supports {context.target.words()}: {advice}"
        yield Finding("cuda-driver-too-old", severity, message, span(first.entry),
                      related=tuple(Related(span(m.entry), m.reason) for m in others[:8]))


def primary(implications: Sequence[Implication]) -> Implication:
    """The implication to report on: pytorch-cuda and cuda-version first, then conda toolkits and builds."""
    def rank(item: tuple[int, Implication]) -> tuple[int, int, int]:
        position, implication = item
        return _priority(implication), 0 if implication.manager == "conda" else 1, position
    return min(enumerate(implications), key=rank)[1]


def no_driver(context: Context) -> Iterator[Finding]:
    """cuda-no-driver: CUDA packages, but no driver known for the target (information only)."""
    if context.target.driver is not None:
        return
    candidates = [i for i in context.implications if not i.cpu and context.on_cuda_platform(i)]
    if not candidates:
        return
    first = primary(candidates)
    source = context.target.source
    if source == "CONDA_OVERRIDE_CUDA":
        message = (f"{first.reason}, but CONDA_OVERRIDE_CUDA is empty, which tells conda the target has no NVIDIA "
                   "driver: packages that need `__cuda` will not install; unset it, or set it (or the "
                   "`cudaVersion` setting) to the target's CUDA version, e.g. `12.2`")
    elif source == "setting":
        message = (f"{first.reason}, but the `cudaVersion` setting says the target has no NVIDIA driver: "
                   "the CUDA pins are not checked against one; set it to the target's CUDA version, e.g. `12.2`")
    else:
        message = (f"{first.reason}, but no NVIDIA driver was detected on this machine and no target is set, "
                   f"so the CUDA version is not checked against a driver; {_SETTING_HINT}")
    yield Finding("cuda-no-driver", Severity.INFORMATION, message, span(first.entry))


def on_macos(context: Context) -> Iterator[Finding]:
    """cuda-on-macos: CUDA packages while a target platform is macOS, where there is no CUDA."""
    macs = [p for p in context.target.platforms if p.startswith("osx")]
    if not macs:
        return
    hits = [i for i in context.implications
            if not i.cpu and any(p.startswith("osx") for p in context.platforms(i.entry))]
    if not hits:
        return
    if context.target.platforms_from_host:
        first = hits[0]
        yield Finding(
            "cuda-on-macos", Severity.WARNING,
            f"{first.reason}, but this machine is macOS ({macs[0]}), where there is no CUDA; if the file is meant "
            "for Linux or Windows, say so with `platforms: [linux-64]` (or the `platforms` setting)",
            span(first.entry), related=tuple(Related(span(h.entry), h.reason) for h in hits[1:5]),
        )
        return
    for hit in hits:
        yield Finding(
            "cuda-on-macos", Severity.ERROR,
            f"{hit.reason}, but {', '.join(macs)} is a target platform and macOS has no CUDA: put the spec under "
            "a selector (`# [linux]`) or drop macOS from `platforms:`",
            span(hit.entry),
        )


def cpu_gpu(context: Context) -> Iterator[Finding]:
    """cpu-gpu-conflict: a CPU build (`cpuonly`, `*cpu*`) together with a CUDA build of the same framework."""
    implications = context.implications
    any_gpu_build = [i for i in implications if not i.cpu and i.role == "build" and context.on_cuda_platform(i)]
    for cpu in (i for i in implications if i.cpu and i.role == "build"):
        same = [g for g in any_gpu_build if g.family == cpu.family and context.overlap(cpu.entry, g.entry)]
        fixes = _remove_marker(context.env, cpu)
        if same:
            severity = Severity.ERROR if any(g.manager == cpu.manager for g in same) else Severity.WARNING
            gpu = same[0]
            yield Finding(
                "cpu-gpu-conflict", severity,
                f"{cpu.reason}, but {gpu.reason}: one {cpu.family} cannot be both; remove `{cpu.spec}` for the "
                f"GPU build, or `{gpu.spec}` for the CPU one",
                span(cpu.entry), related=tuple(Related(span(g.entry), g.reason) for g in same[:4]), fixes=fixes,
            )
            continue
        if cpu.family not in ("pytorch", "tensorflow", "jax") or any_gpu_build:
            continue
        toolkits = [t for t in implications if not t.cpu and t.role == "toolkit" and t.manager == "conda"
                    and context.overlap(cpu.entry, t.entry) and context.on_cuda_platform(t)]
        if toolkits:
            yield Finding(
                "cpu-gpu-conflict", Severity.WARNING,
                f"{cpu.reason}, so {cpu.family} will run on the CPU, but {toolkits[0].reason}: remove "
                f"`{cpu.spec}` for a GPU build, or drop the CUDA packages",
                span(cpu.entry), related=tuple(Related(span(t.entry), t.reason) for t in toolkits[:4]), fixes=fixes,
            )


def _remove_marker(env: Environment, implication: Implication) -> tuple[Fix, ...]:
    if implication.manager != "conda" or not (implication.name == "cpuonly" or implication.name.endswith("-cpu")
                                              or implication.name == "pytorch-mutex"):
        return ()
    return (Fix(f"Remove `{implication.spec}`", (line_removal(env, implication.entry),), True),)


RULES: tuple[Rule, ...] = (conflicts, driver_too_old, no_driver, on_macos, cpu_gpu)

