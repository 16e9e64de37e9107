"""Helpers for core tests: run the analysis on a YAML string and get (code, 1-based line) pairs."""

from __future__ import annotations

import textwrap

from envls.core.analysis import Analysis, analyze


def run(text: str) -> Analysis:
    return analyze(textwrap.dedent(text).lstrip("\n"))


def found(text: str) -> list[tuple[str, int]]:
    analysis = run(text)
    index = analysis.document.index
    return [(f.code, index.line_of(f.span.start) + 1) for f in analysis.findings]


def spans(text: str) -> list[tuple[str, str]]:
    """(code, the text each finding's span covers)."""
    analysis = run(text)
    source = analysis.document.text
    return [(f.code, source[f.span.start:f.span.end]) for f in analysis.findings]
