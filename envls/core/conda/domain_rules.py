"""Domain rules: what real environment files get wrong that syntax and schema cannot see.

Each rule takes the Environment and yields Findings; they need no I/O and run on every edit. What
they know (backports, companions, metapackages, the packages that use conda's CUDA toolkit) is in
envls/data/domain_knowledge.json, with a source for every entry (see envls/core/conda/domain_knowledge.py).

- ``missing_name``: no `name` (nor `prefix`), so `conda env create -f` needs `-n`/`-p`.
- ``stdlib_backport``: a pip backport of a module the pinned Python already has.
- ``companion_missing`` (envls/core/conda/companions.py): pip `torchvision`/`torchaudio` without `torch`, `jax`
  without `jaxlib`; with index data ``companion_findings`` reads the pinned release's Requires-Dist (PEP 658
  metadata) instead of the table.
- ``metapackage_pin``: a versioned `anaconda` metapackage next to other pins.
- ``cuda_unused``: conda's `cudatoolkit` beside pip's torch, with nothing that loads it.
- ``mixed_pytorch_channels``: PyTorch packages from both the pytorch channel and conda-forge.

With channel data, ``split_package_findings`` (envls/core/conda/split_packages.py) confirms split packages the
tables do not know from the records (a package `X` that depends on `X-base`, `py-X` or `libX` of its own version)
for the conda/pip rules.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from packaging.version import Version

from envls.core.conda.companions import companion_missing
from envls.core.conda.domain_knowledge import knowledge
from envls.core.conda.specs import pinned_build
from envls.core.environment import Environment
from envls.core.findings import Finding, Fix, Related, Severity
from envls.core.pip.section import (
    CondaItem,
    PipItem,
    conda_items,
    includes_files,
    named_requirements,
    python_versions,
    selectors_overlap,
)
from envls.core.rules import line_removal, span_of

DomainRule = Callable[[Environment], Iterable[Finding]]

def _remove(env: Environment, item: PipItem | CondaItem, what: str) -> Fix:
    return Fix(f"Remove {what} `{item.text}`", (line_removal(env, item.entry),), True)


def missing_name(env: Environment) -> Iterator[Finding]:
    """No `name` and no `prefix`: `conda env create -f FILE` fails unless `-n NAME` or `-p PATH` is given.

    Silent for conda-lock inputs (a `platforms:` key): conda-lock names nothing, the lock file's user does;
    and while the YAML does not parse or a line was left out as too long (the name may be in the part that did not
    parse, or on that line)."""
    top = env.document.top
    if env.document.problems or env.document.long_lines or top is None or not top.pairs or env.name is not None or env.prefix is not None or env.platforms:
        return
    if top.get("name") is not None or top.get("prefix") is not None:
        return  # present but not a string: the schema reports it
    first = top.pairs[0][0]
    yield Finding(
        "missing-name", Severity.INFORMATION,
        "the file has no `name`: `conda env create -f` then fails unless it is given `-n NAME` (or `-p PATH`); "
        "add `name: <environment name>`",
        span_of(first),
    )


def _python_floor(env: Environment) -> tuple[CondaItem, Version] | None:
    """The conda `python` dependency (without a selector) and the lowest release it allows."""
    for item in conda_items(env):
        if item.name != "python" or item.entry.selector is not None:
            continue
        if not item.parsed.version:
            return None
        allowed = python_versions(item.parsed.version)
        return (item, min(allowed)) if allowed else None
    return None


def stdlib_backport(env: Environment) -> Iterator[Finding]:
    """A pip backport of a standard module that every Python the file allows already has (`typing` on
    3.7+, `enum34` on 3.6+, `dataclasses` on 3.7+, ...). Requirements behind an environment marker are
    left alone: the marker is how a file installs a backport only where it is needed."""
    if not env.pip:
        return
    floor = _python_floor(env)
    if floor is None:
        return
    python, lowest = floor
    table = knowledge().backports
    for item in named_requirements(env):
        backport = table.get(item.name or "")
        if backport is None or item.requirement is None or item.requirement.marker is not None:
            continue
        if lowest < backport.flag_from or not selectors_overlap(python.entry.selector, item.entry.selector):
            continue
        yield Finding(
            "stdlib-backport", Severity.WARNING,
            f"`{item.text}` is a backport of `{backport.module}`, which is in the standard library since Python "
            f"{backport.standard_since}, and `{python.text}` has it: {backport.why}; remove it",
            span_of(item.entry),
            related=(Related(span_of(python.entry), f"`{python.text}` is the Python here"),),
            fixes=(_remove(env, item, "the backport"),),
        )


def _version_words(item: CondaItem) -> str:
    version = item.parsed.version or ""
    return version[2:] if version.startswith("==") else version[:-2] if version.endswith(".*") else version


def metapackage_pin(env: Environment) -> Iterator[Finding]:
    """A versioned distribution metapackage (`anaconda=2020.02`, which pins the exact version of hundreds
    of packages) next to other version pins: each must be the very version the distribution ships, or the
    file does not solve. `anaconda=custom` and an unversioned `anaconda` pin nothing; `python` is left
    out (a distribution release is built for several Pythons); an exported file (`anaconda=2020.02=py38_0`)
    pins what the environment made from the metapackage holds."""
    metas = knowledge().metapackages
    items = conda_items(env)
    for item in items:
        meta = metas.get(item.name)
        if meta is None:
            continue
        version = _version_words(item)
        if not version or version in meta.unversioned or version == "*":
            continue
        if item.parsed.build and pinned_build(item.parsed):
            continue  # `conda env export` of an environment made from it: every pin is what it ships
        others = [o for o in items if o is not item and o.name != "python" and o.parsed.version
                  and o.parsed.version != "*" and selectors_overlap(o.entry.selector, item.entry.selector)]
        if not others:
            continue
        shown = ", ".join(f"`{o.text}`" for o in others[:3]) + (f" and {len(others) - 3} more" if len(others) > 3
                                                                 else "")
        yield Finding(
            "metapackage-pin", Severity.WARNING,
            f"`{item.text}` is {meta.what} metapackage: it pins the exact version of hundreds of packages, so "
            f"the other pins here ({shown}) must be the versions it ships or the file does not solve; keep the "
            f"metapackage or the pins (`{item.name}=custom` pins nothing)",
            span_of(item.entry),
            related=tuple(Related(span_of(o.entry), f"`{o.text}` is pinned here") for o in others[:3]),
        )


_OWN_CUDA_PIP = ("torch",)  # pip distributions whose wheels bring their own CUDA libraries (or none)


def _uses_system_cuda(name: str, users: frozenset[str]) -> bool:
    if name in users or name.startswith(("cupy-cuda", "nvidia-")):
        return True
    parts = name.split("-")
    return "gpu" in parts or any(p.startswith("cu") and p[2:].isdigit() for p in parts) or "cuda" in parts


def cuda_unused(env: Environment) -> Iterator[Finding]:
    """Conda's `cudatoolkit` beside pip's `torch`, whose wheels bring their own CUDA libraries (or are
    CPU-only): the toolkit is gigabytes that nothing loads. Silent when a conda package that links the
    toolkit is present, or a pip package that uses a CUDA installed beside it (TensorFlow before 2.14,
    CuPy, ...), or the pip section reads other files."""
    if not env.pip or includes_files(env):
        return
    knows = knowledge()
    items = conda_items(env)
    toolkits = [i for i in items if i.name == "cudatoolkit"]
    if not toolkits:
        return
    if any(_uses_system_cuda(i.name, knows.cuda_users_conda) or i.name in ("cudatoolkit-dev", "cuda-nvcc")
           for i in items if i.name != "cudatoolkit"):
        return
    requirements = named_requirements(env)
    if any(i.name and i.name not in _OWN_CUDA_PIP and _uses_system_cuda(i.name, knows.cuda_users_pip)
           for i in requirements):
        return
    for toolkit in toolkits:
        torch = [i for i in requirements if i.name in _OWN_CUDA_PIP
                 and selectors_overlap(i.entry.selector, toolkit.entry.selector)]
        if not torch:
            continue
        yield Finding(
            "cuda-unused", Severity.WARNING,
            f"`{toolkit.text}` is a conda CUDA toolkit that nothing here loads: pip's `{torch[0].text}` wheels bring "
            "their own CUDA libraries (or are CPU-only), and no conda package here links the toolkit; it adds "
            "gigabytes to the environment: remove it, or install PyTorch from conda",
            span_of(toolkit.entry),
            related=(Related(span_of(torch[0].entry), f"`{torch[0].text}` is installed by pip here"),),
            fixes=(_remove(env, toolkit, "the conda dependency"),),
        )


_PYTORCH_FAMILY = frozenset({"pytorch", "torchvision", "torchaudio", "torchtext", "torchdata", "pytorch-cuda",
                             "pytorch-mutex", "cpuonly", "torchtriton", "pytorch-cpu", "pytorch-gpu", "libtorch"})
_PUBLISHERS = ("pytorch", "conda-forge", "defaults", "anaconda", "main", "pkgs/main")


def _channel_name(text: str) -> str:
    """`https://conda.anaconda.org/pytorch/` -> `pytorch`; names stay as they are."""
    text = text.strip().rstrip("/").lower()
    if "://" in text:
        text = text.rsplit("/", 1)[-1]
    return text


def _pytorch_source(env: Environment, item: CondaItem, only_pytorch: frozenset[str]) -> str | None:
    """The channel (pytorch or conda-forge) a PyTorch package comes from, when the file says or implies it."""
    if item.parsed.channel:
        return _channel_name(item.parsed.channel)
    if item.name in only_pytorch:
        return "pytorch"
    listed = [_channel_name(e.text) for e in env.channels]
    first = next((c for c in listed if c in _PUBLISHERS), None)
    return "conda-forge" if first == "conda-forge" else "pytorch" if first == "pytorch" else None


def mixed_pytorch_channels(env: Environment) -> Iterator[Finding]:
    """PyTorch packages from the pytorch channel (`pytorch::torchtriton`, `pytorch-cuda`) beside a
    conda-forge `pytorch` (or the other way round): the two channels build PyTorch differently, and
    their packages were never built to work together."""
    only = knowledge().pytorch_channel_only
    family = [i for i in conda_items(env) if i.name in _PYTORCH_FAMILY]
    sources = {id(i): _pytorch_source(env, i, only) for i in family}
    groups = {s: [i for i in family if sources[id(i)] == s] for s in ("pytorch", "conda-forge")}
    if not groups["pytorch"] or not groups["conda-forge"]:
        return
    core = next((i for i in family if i.name == "pytorch" and sources[id(i)] in groups), None)
    anchor_source = sources[id(core)] if core is not None else "conda-forge"
    anchor = core if core is not None else groups["conda-forge"][0]
    other = "pytorch" if anchor_source == "conda-forge" else "conda-forge"
    for item in groups[other]:
        if not selectors_overlap(item.entry.selector, anchor.entry.selector):
            continue
        yield Finding(
            "mixed-pytorch-channels", Severity.WARNING,
            f"`{item.text}` comes from the {other} channel, while `{anchor.text}` comes from {anchor_source}: "
            "the two channels build PyTorch differently (CUDA packages, compilers, dependencies), so their "
            "packages do not fit together; take every PyTorch package from one channel",
            span_of(item.entry),
            related=(Related(span_of(anchor.entry), f"`{anchor.text}` comes from {anchor_source}"),),
        )


DOMAIN_RULES: tuple[DomainRule, ...] = (missing_name, stdlib_backport, companion_missing, metapackage_pin,
                                        cuda_unused, mixed_pytorch_channels)
