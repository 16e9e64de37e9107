"""The solve stage: the findings from solving the file, added to an Analysis.

Like the other later stages (``add_findings`` in envls/core/analysis.py): pure, never raises,
suppression comments and disabled codes honoured. It runs after the channel, CUDA and drift stages,
whose findings it reads so that it does not say twice what they said (see envls/core/solve/rules.py).
"""

from __future__ import annotations

from envls.core.analysis import Analysis, AnalysisOptions, add_findings
from envls.core.solve.facts import SolveFacts
from envls.core.solve.rules import SOLVE_CODES, solve_findings


def with_solve(analysis: Analysis, facts: SolveFacts, options: AnalysisOptions | None = None) -> Analysis:
    """The analysis with the solve stage added (its findings from an earlier run replaced)."""
    if analysis.document.top is None:
        return analysis
    others = [f for f in analysis.findings if f.code not in SOLVE_CODES]
    return add_findings(analysis, "solve", lambda: solve_findings(analysis.environment, facts, others), options,
                        replaces=SOLVE_CODES)
