"""benchmarks/run.py keeps working: a --quick run exits 0 and prints its table with the three rows."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "benchmarks"
CORPUS = ROOT.parent / "shared" / "corpus" / "files"


def _load(name: str):  # type: ignore[no-untyped-def]
    sys.path.insert(0, str(BENCHMARKS))
    try:
        spec = importlib.util.spec_from_file_location(f"_bench_{name}", BENCHMARKS / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(BENCHMARKS))


@pytest.mark.timeout(90)
def test_quick_run_prints_the_table(tmp_path: Path) -> None:
    report = tmp_path / "bench.json"
    done = subprocess.run([sys.executable, str(BENCHMARKS / "run.py"), "--quick", "--json", str(report)],
                          cwd=ROOT, capture_output=True, text=True, timeout=80)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("| measurement |"))
    assert lines[header].split("|")[1:-1] == [" measurement ", " n ", " p50 ", " p95 ", " max ", " target ", " result "]
    rows = [line for line in lines[header + 2:] if line.startswith("|")]
    names = [row.split("|")[1].strip() for row in rows]
    assert len(rows) == 3
    assert names[0] == "edit -> publishDiagnostics"
    assert names[1] == "server start -> first diagnostics"
    assert names[2].startswith("envls check corpus")
    results = [row.split("|")[-2].strip() for row in rows]
    assert results[0] in ("pass", "FAIL") and results[1] in ("pass", "FAIL"), rows  # measured, not an error
    assert results[2] in (("pass", "FAIL") if CORPUS.is_dir() else ("skip",)), rows[2]

    data = json.loads(report.read_text(encoding="utf-8"))
    counts = [len(row["samples_ms"]) for row in data["rows"]]
    assert counts == [20, 2, 1 if CORPUS.is_dir() else 0]
    assert data["rows"][0]["details"]["diagnostic_counts_seen"] == [data["rows"][0]["details"]["diagnostics"]]


def test_generated_export_is_deterministic_and_200_lines() -> None:
    module = _load("exported_env")
    text = module.exported_environment()
    assert text == module.exported_environment()
    lines = text.splitlines()
    assert len(lines) == 200
    assert lines[0] == "name: bench" and lines[-1].startswith("prefix: ")
    assert sum(line.startswith("      - ") and "==" in line for line in lines) == 25
    assert sum(line.startswith("  - ") and line.count("=") == 2 for line in lines) == 166


def test_edit_sites_are_version_digits() -> None:
    run = _load("run")
    text = "dependencies:\n  - numpy=1.26.4=py310h_0\n  - pip:\n      - requests==2.32.3\n  - python\n"
    assert run.edit_sites(text) == [(1, 15, "4"), (3, 23, "3")]
    assert run.percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
