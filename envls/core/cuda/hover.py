"""Hover on a CUDA-related spec: the CUDA it implies, the target's CUDA and where that comes from, the verdict.

Pure: the owner of hover (envls/core/features/hover.py) appends this text to what it shows for the spec.
"""

from __future__ import annotations

from envls.core.conda.channel_facts import ChannelFacts
from envls.core.cuda.implied import CudaTarget
from envls.core.cuda.records import all_implications
from envls.core.cuda.stage import cuda_findings
from envls.core.environment import Environment


def cuda_hover(env: Environment, target: CudaTarget, offset: int, facts: ChannelFacts | None = None) -> str | None:
    """Markdown for the CUDA-related spec at ``offset``, or None when the spec there says nothing about CUDA."""
    implication = next((i for i in all_implications(env, facts) if i.entry.start <= offset <= i.entry.end), None)
    if implication is None:
        return None
    lines = ["**CUDA**", ""]
    lines.append(f"- implies: {'a CPU build' if implication.cpu else 'CUDA ' + implication.version}"
                 f" ({implication.reason})")
    need = implication.driver_need
    if need is not None and need != implication.range:
        lines.append(f"- its builds need a driver for CUDA {need.low[0]}.{need.low[1]} or newer (`__cuda`)")
    lines.append(f"- target: {target.words()}")
    if target.platforms:
        lines.append(f"- target platforms: {', '.join(target.platforms)}")
    here = (implication.entry.start, implication.entry.end)
    mine = [f for f in cuda_findings(env, target, facts)
            if (f.span.start, f.span.end) == here or any((r.span.start, r.span.end) == here for r in f.related)]
    if mine:
        worst = min(mine, key=lambda f: f.severity)
        lines.append(f"- verdict: {worst.severity.label} `{worst.code}`: {worst.message}")
    elif implication.cpu:
        lines.append("- verdict: no conflict with the file's other specs")
    elif target.driver_version is None:
        lines.append("- verdict: not checked against a driver (none known for the target)")
    else:
        lines.append(f"- verdict: fits the target's driver (CUDA {target.driver})")
    return "\n".join(lines)
