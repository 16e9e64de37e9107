"""The drift stage: an analysis with `env-drift` findings added, as `with_channels` adds the channel stage."""

from __future__ import annotations

from envls.core.analysis import Analysis, AnalysisOptions, add_findings
from envls.core.conda.drift import InstalledSnapshot, drift_findings


def with_drift(analysis: Analysis, installed: InstalledSnapshot, options: AnalysisOptions | None = None) -> Analysis:
    """The analysis with each dependency checked against what the environment at `installed.prefix` holds."""
    return add_findings(analysis, "drift", lambda: drift_findings(analysis.environment, installed), options)
