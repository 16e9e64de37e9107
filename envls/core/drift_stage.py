"""The drift stage: an analysis with `env-drift` findings added, as `with_channels` adds the channel stage."""

from __future__ import annotations

import logging

from envls.core.analysis import Analysis, AnalysisOptions, _suppressed
from envls.core.drift import InstalledSnapshot, drift_findings

log = logging.getLogger(__name__)


def with_drift(analysis: Analysis, installed: InstalledSnapshot, options: AnalysisOptions | None = None) -> Analysis:
    """The analysis with each dependency checked against what the environment at `installed.prefix` holds."""
    options = options or AnalysisOptions()
    try:
        extra = drift_findings(analysis.environment, installed)
    except Exception:
        log.exception("envls: the drift stage failed")
        return analysis
    findings = [*analysis.findings, *_suppressed(analysis.document, extra, options)]
    findings.sort(key=lambda f: (f.span.start, f.severity, f.code))
    return Analysis(analysis.document, analysis.environment, tuple(findings))
