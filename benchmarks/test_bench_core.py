"""pytest-benchmark timings of the pure core: `analyze(text)`, no LSP, no process start.

    pytest benchmarks/ --benchmark-only

No assertion is made on time; the end-to-end targets live in benchmarks/run.py.
`parse_spec` keeps an LRU cache of parsed specs. While someone types, every line but the
edited one is already cached ("warm"); opening a file for the first time is "cold".
"""

from __future__ import annotations

from typing import Any

import pytest
from exported_env import exported_environment

from envls.core.analysis import analyze
from envls.core.conda.specs import parse_spec

BIG_CONDA, BIG_PIP = 55_000, 5_000  # 60,000 dependencies


@pytest.fixture(scope="module")
def export_200() -> str:
    return exported_environment()


@pytest.fixture(scope="module")
def export_60k() -> str:
    return exported_environment(conda=BIG_CONDA, pip=BIG_PIP)


def _cold(text: str) -> Any:
    def setup() -> tuple[tuple[str], dict[str, Any]]:
        parse_spec.cache_clear()
        return (text,), {}
    return setup


def test_analyze_200_lines_warm(benchmark: Any, export_200: str) -> None:
    analyze(export_200)
    analysis = benchmark(analyze, export_200)
    assert sum(f.code == "pinned-build" for f in analysis.findings) == 166


def test_analyze_200_lines_cold(benchmark: Any, export_200: str) -> None:
    analysis = benchmark.pedantic(analyze, setup=_cold(export_200), rounds=50, iterations=1)
    assert sum(f.code == "pinned-build" for f in analysis.findings) == 166


def test_analyze_60k_dependencies(benchmark: Any, export_60k: str) -> None:
    analysis = benchmark.pedantic(analyze, setup=_cold(export_60k), rounds=3, iterations=1)
    assert sum(f.code == "pinned-build" for f in analysis.findings) == BIG_CONDA

