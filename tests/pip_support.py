"""Helpers for the pip tests: the fast analysis with the fast pip rules, the pip stage with snapshots,
findings as (code, 1-based line), and quick fixes applied to the text."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping

import pytest
from packaging.version import Version

from envls.core.analysis import Analysis, AnalysisOptions, _suppressed, analyze
from envls.core.conda.channel_facts import ChannelFacts, ChannelState
from envls.core.environment import Environment
from envls.core.findings import Finding, Fix
from envls.core.pip.facts import IndexFacts, IndexState, ProjectState, Release
from envls.core.pip.rules import FAST_PIP_RULES
from envls.core.pip.stage import with_pip

PIP_CODES = {"conda-pip-duplicate", "conda-pip-conflict", "pip-duplicate", "conflicting-distributions",
             "pip-file-missing", "pip-local-version", "pip-package-not-found", "pip-version-not-found",
             "pip-python-incompatible", "prefer-conda", "index-unreachable", "invalid-pip-requirement",
             "too-many-requirements"}


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """No proxy between the tests and the index server on 127.0.0.1 (autouse where a test module imports it)."""
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


def fast_pip_findings(env: Environment) -> list[Finding]:
    """Every fast pip rule's findings (the fast stage runs them in the analysis too)."""
    return [finding for rule in FAST_PIP_RULES for finding in rule(env)]


def yaml(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def run(text: str, files: Mapping[str, str | None] | None = None, index: IndexFacts | None = None,
        channels: ChannelFacts | None = None) -> Analysis:
    """The fast analysis plus the fast pip rules, then the pip stage with the snapshots given."""
    analysis = analyze(yaml(text))
    extra = _suppressed(analysis.document, fast_pip_findings(analysis.environment), AnalysisOptions())
    present = {(f.code, f.span) for f in analysis.findings}
    merged = [*analysis.findings, *(f for f in extra if (f.code, f.span) not in present)]
    merged.sort(key=lambda f: (f.span.start, f.severity, f.code))
    analysis = Analysis(analysis.document, analysis.environment, tuple(merged))
    return with_pip(analysis, files, index, channels)


def pip_found(analysis: Analysis) -> list[tuple[str, int]]:
    index = analysis.document.index
    return [(f.code, index.line_of(f.span.start) + 1) for f in analysis.findings if f.code in PIP_CODES]


def found(text: str, **snapshots: object) -> list[tuple[str, int]]:
    return pip_found(run(text, **snapshots))  # type: ignore[arg-type]


def only(analysis: Analysis, code: str) -> Finding:
    chosen = [f for f in analysis.findings if f.code == code]
    assert len(chosen) == 1, [(f.code, f.message) for f in analysis.findings]
    return chosen[0]


def apply(text: str, fix: Fix) -> str:
    for edit in sorted(fix.edits, key=lambda e: e.start, reverse=True):
        text = text[:edit.start] + edit.new_text + text[edit.end:]
    return text


def release(version: str, requires_python: str = "", yanked: str | None = None, files: int = 2) -> Release:
    return Release(Version(version), files, yanked is not None, yanked or "",
                   (requires_python,) if requires_python else ("",))


def index_facts(projects: Mapping[str, list[Release] | None], indexes: tuple[IndexState, ...] | None = None,
                other_sources: bool = False) -> IndexFacts:
    """Facts as one reachable index would give them: None for a project the index does not have."""
    states = {name: ProjectState(name, "missing") if releases is None else ProjectState(name, "ok", tuple(releases))
              for name, releases in projects.items()}
    return IndexFacts(indexes or (IndexState("https://index.invalid/simple", "ok"),), states,
                      frozenset(projects), other_sources)


def channel_facts(names: set[str], records: Mapping[str, tuple[object, ...]] | None = None,
                  state: str = "ok") -> ChannelFacts:
    channel = ChannelState("conda-forge", "conda-forge", ("https://conda.invalid/conda-forge",), state)  # type: ignore[arg-type]
    return ChannelFacts((channel,), ("linux-64",), records or {}, {"conda-forge": frozenset(names)},
                        loaded=frozenset(records or {}))
