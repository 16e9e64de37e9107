"""What the channels' records say about CUDA: the dependencies and constraints of the builds a spec matches.

Pure: a ChannelFacts snapshot in. A record says CUDA through what it depends on (`pytorch-cuda >=11.8,<11.9`,
`cudatoolkit >=11.3,<11.4`, `pytorch-mutex 1.0 cpu`) and what it needs of the driver (`__cuda >=12`, in
its dependencies or constraints). A spec is given what its records say only when all of them agree.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from envls.core.conda.channel_facts import ChannelFacts
from envls.core.conda.selectors import platforms_for
from envls.core.cuda.implied import Implication, Meaning, conda_meaning, family_of, implications
from envls.core.cuda.versions import CudaRange, version_range
from envls.core.environment import Entry, Environment
from envls.core.pace import paced


@dataclass(frozen=True)
class RecordCuda:
    """One record: a CPU build, a CUDA build (with the range its dependencies allow) or neither (None),
    and what it needs of the driver (`__cuda`)."""

    kind: Literal["cpu", "gpu"] | None
    range: CudaRange | None
    need: CudaRange | None
    evidence: str  # the dependency that says it, e.g. `pytorch-cuda >=11.8,<11.9`


def _relevant(name: str, text: str) -> bool:
    """Whether a dependency can say anything about CUDA (most cannot: `python >=3.10`), before parsing it."""
    return name.startswith(("cuda", "libcu", "libnv", "libnpp", "pytorch-", "__cuda")) or name in (
        "cpuonly", "cudnn", "nccl", "cutensor") or name.endswith(("-gpu", "-cpu")) or "cuda" in text or "cpu" in text


@functools.lru_cache(maxsize=16384)
def _dependency(text: str) -> tuple[Meaning | None, CudaRange | None]:
    """(what it implies, its `__cuda` need) for one dependency or constraint string."""
    words = text.split()
    name = words[0].lower() if words else ""
    if not _relevant(name, text[len(name):].lower()):
        return None, None
    if name == "__cuda":
        return None, (version_range(words[1]) if len(words) > 1 else None) or CudaRange((0, 0), None)
    return conda_meaning(text), None


def record_cuda(record: Any) -> RecordCuda:
    """What one record says about CUDA."""
    cpu = gpu = False
    implied: CudaRange | None = None
    needs: list[CudaRange] = []
    evidence: list[tuple[int, str]] = []
    for text in map(str, record.depends or ()):
        meaning, need = _dependency(text)
        if need is not None:
            needs.append(need)
        if meaning is None:
            continue
        cpu, gpu = cpu or meaning.cpu, gpu or not meaning.cpu
        if meaning.range is not None:
            narrowed = meaning.range if implied is None else implied.intersection(meaning.range)
            if narrowed is None:
                return RecordCuda(None, None, None, "")
            implied = narrowed
        evidence.append((0 if meaning.range is not None or meaning.cpu else 1, text))
    for text in map(str, record.constrains or ()):
        if text.split(None, 1)[0] == "__cuda":
            needs.append(_dependency(text)[1] or CudaRange((0, 0), None))
    need = max(needs, key=lambda n: n.low) if needs else None
    if cpu == gpu:
        return RecordCuda(None, None, need, "")
    return RecordCuda("cpu" if cpu else "gpu", None if cpu else implied, need, min(evidence)[1])


def matching_records(entry: Entry, facts: ChannelFacts) -> list[Any]:
    """The records of the file's channels (or of the spec's `channel::`) that the spec matches."""
    parsed = entry.parsed
    if parsed.spec is None or parsed.name is None or facts.pending(parsed.name):
        return []
    named = facts.records.get(parsed.name)
    if not named:
        return []  # most specs of a large file: no record to look at, nothing to set up
    if parsed.channel:
        state = facts.channel(parsed.channel)
        channels = [state] if state is not None else []
    else:
        channels = list(facts.channels)
    urls = {u.rstrip("/") for c in channels if c.state == "ok" for u in c.urls}
    subdirs = {*platforms_for(entry.selector, facts.platforms), "noarch"}
    spec = parsed.spec
    return [r for r in named
            if r.subdir in subdirs and str(r.channel).rstrip("/") in urls and spec.matches(r)]


def derived(implication: Implication | None, entry: Entry, facts: ChannelFacts) -> Implication | None:
    """``implication`` (the spec's own, or None) refined by what all the spec's records say."""
    said = [record_cuda(r) for r in matching_records(entry, facts)]
    if not said:
        return implication
    needs = [s.need for s in said if s.need is not None]
    need = CudaRange(min(n.low for n in needs), None) if len(needs) == len(said) else None
    if implication is not None and need is not None:
        implication = replace(implication, driver_need=need)
    kinds = {s.kind for s in said}
    if len(kinds) != 1 or None in kinds:
        return implication
    cpu = kinds == {"cpu"}
    hull: CudaRange | None = None
    if not cpu and all(s.range is not None for s in said):
        for s in said:
            assert s.range is not None
            hull = s.range if hull is None else hull.hull(s.range)
    evidences = sorted({s.evidence for s in said})
    said_by = f"`{evidences[0]}`" if len(evidences) == 1 else f"`{evidences[0]}` or the like"
    spec_text = entry.text.strip()
    if implication is not None:
        if not implication.cpu and implication.range is None and hull is not None:
            reason = f"every build of `{spec_text}` in the channels depends on {said_by}: CUDA {hull.words()}"
            return replace(implication, range=hull, reason=reason, from_channels=True)
        return implication
    what = "CPU builds" if cpu else f"CUDA {hull.words()}" if hull is not None else "CUDA builds"
    name = entry.parsed.name or ""
    return Implication(entry, "conda", name, cpu, hull, "build", family_of(name),
                       f"every build of `{spec_text}` in the channels depends on {said_by}: {what}",
                       driver_need=need, from_channels=True)


@dataclass(frozen=True)
class BuildSplit:
    """The builds a spec matches, split: CPU builds, and the CUDA range of each CUDA build."""

    cpu: int
    gpu: tuple[CudaRange, ...]
    unknown: int


def build_split(entry: Entry, facts: ChannelFacts) -> BuildSplit | None:
    records = matching_records(entry, facts)
    if not records:
        return None
    cpu, unknown = 0, 0
    gpu: list[CudaRange] = []
    for record in records:
        said = record_cuda(record)
        if said.kind == "cpu":
            cpu += 1
        elif said.kind == "gpu" and said.range is not None:
            gpu.append(said.range)
        else:
            unknown += 1
    return BuildSplit(cpu, tuple(gpu), unknown)


def ranges_words(ranges: Sequence[CudaRange]) -> str:
    words = sorted({r.words() for r in ranges}, key=lambda w: [int(p) if p.isdigit() else 0 for p in
                                                               w.split(" ")[0].split(".")])
    return ", ".join(words[:-1]) + f" or {words[-1]}" if len(words) > 1 else words[0]



def all_implications(env: Environment, facts: ChannelFacts | None) -> list[Implication]:
    """Every implication of ``env``: the specs' own, refined (or added) from the channels' records."""
    own = implications(env)
    if facts is None:
        return own
    by_entry = {id(i.entry): i for i in own}
    result: list[Implication] = []
    for entry in paced(env.conda):
        implication = by_entry.get(id(entry))
        refined = derived(implication, entry, facts) if entry.parsed.spec is not None else implication
        if refined is not None:
            result.append(refined)
    result.extend(i for i in own if i.manager == "pip")
    return result
