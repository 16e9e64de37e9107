"""benchmarks/run.py keeps working: a --quick run exits 0 and prints its table with every row; the
synthetic channel generator writes a channel that py-rattler's gateway reads, with and without shards."""

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
SNAPSHOT = ROOT.parent / "shared" / "data" / "channels" / "conda-forge-py39-subchannel"
CHANNEL_ROWS = ["first check, cold cache", "completion: package names", "completion: versions",
                "channel edit -> publishDiagnostics", "channel edit, 2 misspelt names in the file",
                "server RSS, channel loaded"]


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


def _table(stdout: str) -> list[list[str]]:
    lines = stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("| measurement |"))
    assert lines[header].split("|")[1:-1] == [" measurement ", " n ", " p50 ", " p95 ", " max ", " target ", " result "]
    return [[cell.strip() for cell in line.split("|")[1:-1]] for line in lines[header + 2:] if line.startswith("|")]


@pytest.mark.timeout(90)
def test_quick_run_prints_the_table(tmp_path: Path) -> None:
    report = tmp_path / "bench.json"
    done = subprocess.run([sys.executable, str(BENCHMARKS / "run.py"), "--quick", "--json", str(report)],
                          cwd=ROOT, capture_output=True, text=True, timeout=80)
    assert done.returncode == 0, done.stdout + done.stderr
    rows = _table(done.stdout)
    names = [row[0] for row in rows]
    results = [row[-1] for row in rows]
    channel_rows = len(CHANNEL_ROWS) if SNAPSHOT.is_dir() else 1
    assert len(rows) == 3 + channel_rows, rows
    assert names[0] == "edit -> publishDiagnostics"
    assert names[1] == "server start -> first diagnostics"
    assert names[2].startswith("envls check corpus")
    assert results[0] in ("pass", "FAIL") and results[1] in ("pass", "FAIL"), rows  # measured, not an error
    assert results[2] in (("pass", "FAIL") if CORPUS.is_dir() else ("skip",)), rows[2]
    if SNAPSHOT.is_dir():
        assert names[3:] == [f"{name} (real snapshot)" for name in CHANNEL_ROWS]
        assert all(result in ("pass", "FAIL") for result in results[3:]), rows
        assert rows[-1][2].endswith(" MB")
    else:
        assert results[3] == "skip"

    data = json.loads(report.read_text(encoding="utf-8"))
    counts = [len(row["samples"]) for row in data["rows"]]
    assert counts[:3] == [20, 2, 1 if CORPUS.is_dir() else 0]
    assert data["rows"][0]["details"]["diagnostic_counts_seen"] == [data["rows"][0]["details"]["diagnostics"]]
    if SNAPSHOT.is_dir():
        assert counts[3:] == [1, 10, 10, 10, 10, 1]
        assert [row["unit"] for row in data["rows"][3:]] == ["ms", "ms", "ms", "ms", "ms", "MB"]
        for edit in data["rows"][6:8]:  # the warm cache answers on the keystroke path
            assert edit["details"]["first_publication_without_channel_finding"] == 0
        assert data["rows"][3]["details"]["http_requests"] > 0


@pytest.mark.timeout(90)
def test_quick_pip_row(tmp_path: Path) -> None:
    """The pip resolution row (uv against a loopback index built by the benchmark), measured and within target."""
    report = tmp_path / "bench.json"
    done = subprocess.run([sys.executable, str(BENCHMARKS / "run.py"), "--quick", "--only", "pip", "--json", str(report)],
                          cwd=ROOT, capture_output=True, text=True, timeout=80)
    assert done.returncode == 0, done.stdout + done.stderr
    (row,) = _table(done.stdout)
    assert row[0] == "pip resolve, 20 reqs (warm)" and row[-1] in ("pass", "FAIL", "skip"), row
    details = json.loads(report.read_text(encoding="utf-8"))["rows"][0]["details"]
    if row[-1] != "skip":
        assert details["uv"]["packages"] == 60 and details["uv"]["conflict"] == "conflict"
        assert details["resolvelib"]["same_answer"] is True


@pytest.mark.skipif(not SNAPSHOT.is_dir(), reason="the shared channel snapshots are not here")
@pytest.mark.timeout(90)
def test_quick_scale_rows_on_a_small_synthetic_channel(tmp_path: Path) -> None:
    """The --channels-scale rows, on a synthetic channel of 300 names and 6,000 records (same code path)."""
    report = tmp_path / "bench.json"
    done = subprocess.run([sys.executable, str(BENCHMARKS / "run.py"), "--quick", "--only", "scale",
                           "--scale-names", "300", "--scale-records", "6000", "--synthetic-dir", str(tmp_path / "synth"),
                           "--json", str(report)], cwd=ROOT, capture_output=True, text=True, timeout=80)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "synthetic channel " in done.stdout
    rows = _table(done.stdout)
    label = "300 names, 6,000 records"
    assert [row[0] for row in rows] == [
        f"first check, cold cache ({label}, shards)", f"server RSS, channel loaded ({label}, shards)",
        *[f"{name} ({label}, repodata.json.zst)" for name in CHANNEL_ROWS]]
    assert all(row[-1] in ("pass", "FAIL") for row in rows), rows
    data = json.loads(report.read_text(encoding="utf-8"))
    assert data["synthetic_channel"]["per_subdir"]["linux-64"]["records"] + \
        data["synthetic_channel"]["per_subdir"]["noarch"]["records"] == 6000
    sharded = data["rows"][0]["details"]
    assert sharded["cache_bytes"] < data["rows"][2]["details"]["cache_bytes"]  # shards fetch only what is needed


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


@pytest.mark.skipif(not SNAPSHOT.is_dir(), reason="the shared channel snapshots are not here")
def test_synthetic_channel_is_deterministic_and_readable(tmp_path: Path) -> None:
    import asyncio

    from rattler import Channel, Gateway

    synthetic = _load("synthetic_channel")
    first = synthetic.generate(tmp_path / "a", names=120, records=2000, seed=3, zst=False)
    again = synthetic.generate(tmp_path / "b", names=120, records=2000, seed=3, zst=False)
    assert first.per_subdir["linux-64"]["records"] + first.per_subdir["noarch"]["records"] == 2000
    for sub in synthetic.SUBDIRS:
        assert (tmp_path / "a" / sub / "repodata.json").read_bytes() == (tmp_path / "b" / sub / "repodata.json").read_bytes()
        data = json.loads((tmp_path / "a" / sub / "repodata.json").read_text(encoding="utf-8"))
        records = [*data["packages"].values(), *data["packages.conda"].values()]
        assert all(r["subdir"] == sub and len(r["sha256"]) == 64 and len(r["md5"]) == 32 for r in records)
        assert len({r["name"] for r in records}) == first.per_subdir[sub]["names"] == first.per_subdir[sub]["shard_files"]
    names = {r["name"] for sub in synthetic.SUBDIRS for r in json.loads(
        (tmp_path / "a" / sub / "repodata.json").read_text(encoding="utf-8"))["packages"].values()}
    assert "python" in names  # the snapshot's names keep their own shapes
    assert again.reused is False and synthetic.ensure(tmp_path / "a", 120, 2000, seed=3, zst=False).reused is True

    # A stored-block zstd frame is what a zstd decoder expects.
    payload = bytes(range(256)) * 1200  # more than one 128 KiB block
    frame = synthetic.zstd_stored(payload)
    assert frame[:4] == b"\x28\xb5\x2f\xfd" and len(frame) == len(payload) + 4 + 1 + 4 + 3 * 3

    async def read(root: Path, shards: bool) -> tuple[int, list[str]]:
        from rattler import SourceConfig

        gateway = Gateway(cache_dir=tmp_path / f"cache-{shards}", default_config=SourceConfig(sharded_enabled=shards))
        channel = Channel(root.as_uri())
        all_names = await gateway.names([channel], ["linux-64", "noarch"])
        found = await gateway.query([channel], ["linux-64", "noarch"], ["python"], recursive=False)
        return len(all_names), sorted(str(r) for group in found for r in group)

    plain = asyncio.run(read(tmp_path / "a", False))
    assert plain[0] == 120 and plain[1]


HOSTILE_ROWS = ["envls check, 100,000 dependencies", "envls check, 5 MB file", "envls check, pathological lines",
                "envls check, 5 MB file, channel checks on", "300 edits 1 ms apart -> last version published", "edit beside a 100,000-line document",
                "server RSS, 50 MB document open"]


@pytest.mark.timeout(240)
def test_quick_hostile_rows(tmp_path: Path) -> None:
    report = tmp_path / "bench.json"
    done = subprocess.run([sys.executable, str(BENCHMARKS / "run.py"), "--quick", "--only", "hostile",
                           "--json", str(report)], cwd=ROOT, capture_output=True, text=True, timeout=230)
    assert done.returncode == 0, done.stdout + done.stderr
    rows = _table(done.stdout)
    assert [row[0] for row in rows] == HOSTILE_ROWS
    assert all(row[-1] in ("pass", "FAIL") for row in rows), rows  # measured, not an error
    data = json.loads(report.read_text(encoding="utf-8"))
    assert data["rows"][2]["details"]["findings"] > 19_000  # the duplicates are reported
    assert data["rows"][3]["details"]["package_not_found"] > 100_000  # every made-up name, from the loopback channel
    assert data["rows"][6]["details"]["codes"] == ["file-too-large"]
    assert data["rows"][5]["details"]["alone_p50_ms"] > 0
