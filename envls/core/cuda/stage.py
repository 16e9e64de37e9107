"""The CUDA stage: the file's CUDA pins checked against each other and against the target machine.

It mirrors the channel stage (`with_channels` in envls/core/analysis.py): the findings of the fast
stages stay, CUDA findings are added, suppression comments apply. It is cheap (no I/O) and may run
on every keystroke, with or without channel data; running it again replaces its earlier findings.
"""

from __future__ import annotations

import logging

from envls.core.analysis import Analysis, AnalysisOptions, add_findings
from envls.core.conda.channel_facts import ChannelFacts
from envls.core.cuda.implied import CudaTarget
from envls.core.cuda.records import all_implications
from envls.core.cuda.rules import CUDA_CODES, RULES, Context
from envls.core.cuda.selection import SELECTION_RULES
from envls.core.environment import Environment
from envls.core.findings import Finding

log = logging.getLogger(__name__)

__all__ = ["CUDA_CODES", "cuda_findings", "with_cuda"]


def cuda_findings(env: Environment, target: CudaTarget, facts: ChannelFacts | None = None) -> list[Finding]:
    """Every CUDA finding for ``env`` on ``target``; a rule that fails is logged and skipped."""
    try:
        context = Context(env, target, facts, tuple(all_implications(env, facts)))
    except Exception:
        log.exception("envls: reading the CUDA specs failed")
        return []
    if not context.implications:
        return []
    findings: list[Finding] = []
    for rule in (*RULES, *SELECTION_RULES):
        try:
            findings.extend(rule(context))
        except Exception:
            log.exception("envls: CUDA rule %s failed", rule.__name__)
    return findings


def with_cuda(analysis: Analysis, target: CudaTarget, facts: ChannelFacts | None = None,
              options: AnalysisOptions | None = None) -> Analysis:
    """The analysis with the CUDA stage added (its findings from an earlier run replaced)."""
    return add_findings(analysis, "CUDA", lambda: cuda_findings(analysis.environment, target, facts), options,
                        replaces=frozenset(CUDA_CODES))
