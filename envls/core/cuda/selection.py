"""Which build the solver will really pick: CUDA rules about channels and about GPU builds not selected.

Pure. `cuda-channel-missing`: pytorch-cuda without the nvidia channel that carries its dependencies.
`gpu-build-not-selected`: GPU intent that will not select a GPU build: cudatoolkit beside PyTorch >= 1.13
from the pytorch channel (whose CUDA builds depend on pytorch-cuda), pytorch-cuda with pytorch free to come
from a channel of higher priority, jaxlib or tensorflow left free while CUDA is pinned, and (with channel
data) a package none of whose CUDA builds fits the file's CUDA.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from envls.core.conda.specs import ParsedSpec
from envls.core.cuda.implied import PYTORCH_CUDA_VERSIONS, Implication
from envls.core.cuda.records import build_split, ranges_words
from envls.core.cuda.rules import Context, Rule, reference, span, versioned
from envls.core.cuda.versions import comparisons
from envls.core.environment import Entry, Environment
from envls.core.findings import Edit, Finding, Fix, Related, Severity

# Channels known to carry pytorch builds of their own, and channels known not to carry pytorch at all.
_PYTORCH_CARRIERS = frozenset({"conda-forge", "defaults", "main", "anaconda", "intel"})
_NOT_CARRIERS = frozenset({"nvidia", "nodefaults", "bioconda", "rapidsai", "xformers", "pyg", "dglteam", "fastai",
                           "huggingface", "msys2", "r", "free", "numba", "gurobi", "mosek"})
_PYTORCH_CHANNELS = frozenset({"pytorch", "pytorch-nightly", "pytorch-test"})
_SUBDIR = re.compile(r"^(linux|osx|win|noarch|emscripten|wasi)(-[a-z0-9_]+)?$")


def channel_name(text: str) -> str:
    """The channel's name in a channel entry: `conda-forge`, `https://.../cloud/pytorch/linux-64/` -> `pytorch`,
    `nvidia/label/cuda-12.1.0` -> `nvidia`, `https://repo.anaconda.com/pkgs/main` -> `main`."""
    text = text.strip().rstrip("/")
    text = re.sub(r"^[a-z][a-z0-9+.-]*://[^/]*", "", text, flags=re.IGNORECASE)
    parts = [p for p in re.split(r"[/\\]", text) if p]
    if "label" in parts and parts.index("label") > 0:
        return parts[parts.index("label") - 1].lower()
    while parts and _SUBDIR.match(parts[-1]):
        parts.pop()
    return parts[-1].lower() if parts else ""


def pytorch_source(env: Environment, parsed: ParsedSpec) -> tuple[str, Entry | None] | None:
    """Where `pytorch` comes from: ("pytorch", entry) for the pytorch channel, ("other", entry) for a channel
    of higher priority that carries its own pytorch; None when unknown (no `channels:`, or a channel before
    it that envls does not know)."""
    if parsed.channel:
        return ("pytorch" if channel_name(parsed.channel) in _PYTORCH_CHANNELS else "other"), None
    for entry in env.channels:
        name = channel_name(entry.text)
        if name in _NOT_CARRIERS:
            continue
        if name in _PYTORCH_CHANNELS:
            return "pytorch", entry
        if name in _PYTORCH_CARRIERS:
            return "other", entry
        return None
    return None


def _has_nvidia(env: Environment) -> bool:
    return any(channel_name(e.text) == "nvidia" for e in env.channels)


def _conda(context: Context, name: str) -> list[Entry]:
    return [e for e in context.env.conda if e.parsed.name == name]


def add_channel(env: Environment, channel: str, after: str | None = None) -> Edit | None:
    """An edit that adds ``channel`` to `channels:`, after the channel named ``after`` (else at the end)."""
    if not env.channels:
        return None
    anchor = next((e for e in env.channels if after and channel_name(e.text) == after), env.channels[-1])
    index = env.document.index
    line = index.line_of(anchor.start)
    start = index.line_starts[line]
    prefix = env.document.text[start:anchor.start]
    _, end = index.line_span(line)
    if prefix.strip() == "-":
        newline = "\r\n" if "\r\n" in env.document.text else "\n"
        return Edit(end, end, f"{newline}{prefix}{channel}")
    return Edit(anchor.end, anchor.end, f", {channel}")


def channel_missing(context: Context) -> Iterator[Finding]:
    """cuda-channel-missing: pytorch-cuda, but no nvidia channel for its dependencies."""
    env = context.env
    if not env.channels or _has_nvidia(env):
        return
    forge = any(channel_name(e.text) == "conda-forge" for e in env.channels)
    by_entry = {id(i.entry): i for i in context.implications}
    for entry in _conda(context, "pytorch-cuda"):
        implication = by_entry.get(id(entry))
        cuda12 = implication is None or implication.range is None or implication.range.low[0] >= 12
        message = (f"`{entry.text.strip()}` comes from the pytorch channel, but its dependencies (cuda-runtime, "
                   "cuda-cudart, libcublas, ...) come from the nvidia channel, which `channels:` does not list: "
                   "add `nvidia` (after `pytorch`)")
        severity = Severity.ERROR
        if forge and cuda12:
            severity = Severity.WARNING
            message += "; conda-forge has CUDA 12 packages too, but PyTorch's builds are made against nvidia's"
        elif forge:
            message += "; conda-forge has no CUDA 11 packages of this layout"
        edit = add_channel(env, "nvidia", after="pytorch")
        fixes = (Fix("Add channel `nvidia`", (edit,), True),) if edit else ()
        yield Finding("cuda-channel-missing", severity, message, span(entry), fixes=fixes)


def _allows_at_least(version: str | None, floor: tuple[int, ...]) -> bool:
    """True when a conda version constraint allows some version >= ``floor`` (False when unsure)."""
    if not version:
        return True
    for alternative in version.split("|"):
        found = comparisons(alternative)
        if found is None:
            return False
        allowed = True
        for op, numbers in found:
            if op in ("==", "="):
                allowed = allowed and numbers >= floor[:len(numbers)]
            elif op == "<":
                allowed = allowed and numbers > floor
            elif op == "<=":
                allowed = allowed and numbers >= floor
        if allowed:
            return True
    return False


def _framework_build(context: Context, family: str) -> list[Implication]:
    return [i for i in context.implications if i.family == family and i.role == "build"]


def cudatoolkit_with_new_pytorch(context: Context) -> Iterator[Finding]:
    """cudatoolkit beside pytorch >= 1.13 from the pytorch channel, without pytorch-cuda."""
    if _conda(context, "pytorch-cuda") or _framework_build(context, "pytorch"):
        return
    toolkits = _conda(context, "cudatoolkit")
    for pytorch in _conda(context, "pytorch"):
        parsed = pytorch.parsed
        source = pytorch_source(context.env, parsed)
        if source is None or source[0] != "pytorch" or parsed.build or not _allows_at_least(parsed.version, (1, 13)):
            continue
        by_entry = {id(i.entry): i for i in context.implications}
        for toolkit in toolkits:
            if not context.overlap(toolkit, pytorch):
                continue
            implication = by_entry.get(id(toolkit))
            version = implication.range.version_text() if implication and implication.range else None
            replacement = f"pytorch-cuda={version}" if version in PYTORCH_CUDA_VERSIONS else None
            nvidia = not _has_nvidia(context.env)
            advice = f"replace `{toolkit.text.strip()}` by `{replacement or 'pytorch-cuda=<CUDA version>'}`"
            advice += " and add the nvidia channel" if nvidia else ""
            message = (f"`{toolkit.text.strip()}` no longer selects a GPU build of PyTorch: from 1.13 on, the "
                       f"pytorch channel's CUDA builds depend on `pytorch-cuda`, not `cudatoolkit`, so "
                       f"`{pytorch.text.strip()}` may install a CPU build (or one for another CUDA); {advice}")
            fixes: tuple[Fix, ...] = ()
            if replacement:
                edits = [Edit(toolkit.start, toolkit.end, replacement)]
                channel = add_channel(context.env, "nvidia", after="pytorch") if nvidia else None
                edits.extend([channel] if channel else [])
                fixes = (Fix(f"Replace by `{replacement}`" + (" and add channel `nvidia`" if channel else ""),
                             tuple(sorted(edits, key=lambda e: e.start)), True),)
            yield Finding("gpu-build-not-selected", Severity.WARNING, message, span(toolkit),
                          related=(Related(span(pytorch), f"`{pytorch.text.strip()}` comes from the pytorch channel"),),
                          fixes=fixes)
        return


def pytorch_from_elsewhere(context: Context) -> Iterator[Finding]:
    """pytorch-cuda, with pytorch free to come from a channel of higher priority than pytorch."""
    cudas = _conda(context, "pytorch-cuda")
    if not cudas:
        return
    for pytorch in _conda(context, "pytorch"):
        parsed = pytorch.parsed
        source = pytorch_source(context.env, parsed)
        if parsed.channel or source is None or source[0] != "other" or source[1] is None:
            continue
        winner = source[1]
        fixed = f"pytorch::{pytorch.text.strip()}"
        for cuda in cudas:
            if not context.overlap(cuda, pytorch):
                continue
            yield Finding(
                "gpu-build-not-selected", Severity.WARNING,
                f"`{cuda.text.strip()}` selects the CUDA build of the pytorch channel's PyTorch, but `{winner.text.strip()}` "
                f"comes before `pytorch` in `channels:`, so `{pytorch.text.strip()}` comes from there and "
                f"`{cuda.text.strip()}` is not used; write `{fixed}` (and the same for torchvision, torchaudio)",
                span(cuda),
                related=(Related(span(pytorch), f"`{pytorch.text.strip()}` names no channel"),
                         Related(span(winner), f"`{winner.text.strip()}` has its own pytorch and comes first")),
                fixes=(Fix(f"Take pytorch from the pytorch channel: `{fixed}`",
                           (Edit(pytorch.start, pytorch.end, fixed),), True),),
            )
        return


_SIMPLE = re.compile(r"^(?P<head>(?:[^:\s]+::)?[A-Za-z0-9_.-]+)(?:\s*=\s*(?P<version>[0-9][^=\s<>!~,|*]*))?\s*$")


def framework_left_free(context: Context) -> Iterator[Finding]:
    """jaxlib or tensorflow without a CUDA build asked for, while CUDA packages are pinned."""
    pinned = [i for i in versioned(context, "conda") if i.role == "toolkit"]
    if not pinned:
        return
    implied = {id(i.entry) for i in context.implications}
    forge = any(channel_name(e.text) == "conda-forge" for e in context.env.channels)
    for name, family in (("jaxlib", "jax"), ("tensorflow", "tensorflow")):
        if any(i.family == family for i in context.implications):
            continue  # a CPU or GPU build of it is asked for elsewhere (tensorflow-gpu, jax[cuda12], ...)
        for entry in _conda(context, name):
            if id(entry) in implied or entry.parsed.build:
                continue
            cuda = next((p for p in pinned if context.overlap(p.entry, entry)), None)
            if cuda is None:
                continue
            fixes: tuple[Fix, ...] = ()
            match = _SIMPLE.match(entry.text.strip())
            if forge and match:
                fixed = f"{match.group('head')}={match.group('version') or '*'}=*cuda*"
                fixes = (Fix(f"Ask for a CUDA build: `{fixed}`", (Edit(entry.start, entry.end, fixed),), True),)
            yield Finding(
                "gpu-build-not-selected", Severity.WARNING,
                f"`{entry.text.strip()}` is left free while {cuda.reason}: conda picks a CUDA build of {name} only "
                "where it sees an NVIDIA driver (`__cuda`), so on a machine without one (CI, a login node) it "
                f"quietly installs the CPU build; ask for a CUDA build (`{name}=*=*cuda*` on conda-forge)",
                span(entry), related=(Related(span(cuda.entry), cuda.reason),), fixes=fixes,
            )


def no_build_fits(context: Context) -> Iterator[Finding]:
    """With channel data: a package none of whose CUDA builds fits the file's CUDA pins."""
    facts = context.facts
    if facts is None:
        return
    candidates = versioned(context, "conda")
    by_entry = {id(i.entry): i for i in context.implications}
    for entry in context.env.conda:
        own = by_entry.get(id(entry))
        if own is not None and (own.cpu or (own.range is not None and not own.from_channels)):
            continue
        split = build_split(entry, facts)
        if split is None or not split.gpu or split.unknown:
            continue
        ref = reference(context, [c for c in candidates if c.entry is not entry], entry)
        if ref is None or ref.range is None or any(r.intersects(ref.range) for r in split.gpu):
            continue
        fits = ranges_words(split.gpu)
        text = entry.text.strip()
        related = (Related(span(ref.entry), ref.reason),)
        if split.cpu:
            yield Finding(
                "gpu-build-not-selected", Severity.WARNING,
                f"no CUDA build of `{text}` fits {ref.reason}: its CUDA builds are for CUDA {fits}, so the solver "
                f"will pick a CPU build; change the CUDA pin or the version of `{text}`",
                span(entry), related=related,
            )
        else:
            yield Finding(
                "cuda-conflict", Severity.ERROR,
                f"no build of `{text}` fits {ref.reason}: its builds are for CUDA {fits}; change the CUDA pin or "
                f"the version of `{text}`",
                span(entry), related=related,
            )


SELECTION_RULES: tuple[Rule, ...] = (channel_missing, cudatoolkit_with_new_pytorch, pytorch_from_elsewhere,
                                     framework_left_free, no_build_fits)
