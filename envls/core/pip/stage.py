"""The pip stage of the analysis: the pip findings that need data from outside, added to an Analysis.

Mirrors ``with_channels`` in envls/core/analysis.py: pure, never raises, suppression comments and
disabled codes honoured. The fast pip rules (``FAST_PIP_RULES``) belong to the fast stage.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from envls.core.analysis import Analysis, AnalysisOptions, add_findings
from envls.core.conda.channel_facts import ChannelFacts
from envls.core.conda.companions import companion_findings
from envls.core.conda.split_packages import split_package_findings
from envls.core.findings import Finding
from envls.core.pip.facts import IndexFacts
from envls.core.pip.rules import (
    dependency_duplicate_findings,
    index_findings,
    pip_file_findings,
    prefer_conda_findings,
)


def with_pip(analysis: Analysis, files: Mapping[str, str | None] | None = None, index_facts: IndexFacts | None = None,
             channel_facts: ChannelFacts | None = None, options: AnalysisOptions | None = None) -> Analysis:
    """The analysis with the pip stage added: `-r`/`-c`/`-e` files (``files``, see ``pip_file_findings``),
    the indexes (``index_facts``; `companion-missing` is then redone from the releases' Requires-Dist) and the
    channels (``channel_facts``: prefer-conda, packages that conda installs as dependencies, and split packages
    that the records confirm). Whatever is None is not checked."""
    env = analysis.environment
    if not env.pip or analysis.document.top is None:
        return analysis
    options = options or AnalysisOptions()
    stages: list[tuple[str, Callable[[], list[Finding]], frozenset[str]]] = []
    if files is not None:
        stages.append(("files", lambda: pip_file_findings(env, files), frozenset()))
    if index_facts is not None:
        stages.append(("index", lambda: index_findings(env, index_facts), frozenset()))
        stages.append(("companions", lambda: companion_findings(env, index_facts), frozenset({"companion-missing"})))
    if channel_facts is not None:
        stages.append(("prefer-conda", lambda: prefer_conda_findings(env, channel_facts), frozenset()))
        stages.append(("conda dependencies", lambda: dependency_duplicate_findings(env, channel_facts), frozenset()))
        stages.append(("split packages", lambda: split_package_findings(env, channel_facts.records), frozenset()))
    for name, stage, replaces in stages:  # each on its own: a failing one must not take the others down
        analysis = add_findings(analysis, f"pip {name}", stage, options, replaces)
    return analysis
