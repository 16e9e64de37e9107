"""scripts/refresh-pypi-mapping: parselmouth's mappings in, envls' compact file out."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest

from envls.core.pip.mapping import build

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "refresh-pypi-mapping"
SHIPPED = ROOT / "envls" / "data" / "pypi_mapping.json.gz"
PARSELMOUTH = ROOT.parent / "shared" / "data" / "mappings" / "parselmouth" / "v0"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=120)


def test_compact_file_from_sample(tmp_path: Path) -> None:
    forge = tmp_path / "conda-forge" / "compressed_mapping.json"
    forge.parent.mkdir()
    forge.write_text(json.dumps({"numpy": ["numpy"], "pytorch": ["torch"], "libzlib": None, "mkl_fft": ["mkl-fft"],
                                 "ffmpeg": ["ffmpeg"]}))
    torch = tmp_path / "pytorch" / "compressed_mapping.json"
    torch.parent.mkdir()
    torch.write_text(json.dumps({"pytorch": ["torch"], "ffmpeg": None, "cpuonly": None, "faiss-cpu": ["faiss"]}))
    out = tmp_path / "out.json.gz"
    result = _run(str(forge), str(torch), "--output", str(out))
    assert result.returncode == 0, result.stderr
    data = json.loads(gzip.decompress(out.read_bytes()))
    assert data == {"format": 1, "sources": ["conda-forge/compressed_mapping.json", "pytorch/compressed_mapping.json"],
                    "renamed": {"faiss-cpu": ["faiss"], "mkl_fft": ["mkl-fft"], "pytorch": ["torch"]},
                    "none": ["cpuonly", "libzlib"]}  # identity is left out; a null does not undo a name
    table = build(data)
    assert table.pypi_names("numpy") == ("numpy",) and table.pypi_names("ffmpeg") == ("ffmpeg",)
    again = tmp_path / "again.json.gz"
    _run(str(forge), str(torch), "--output", str(again))
    assert again.read_bytes() == out.read_bytes()  # stable: no timestamps


def test_bad_input_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "compressed_mapping.json"
    bad.write_text(json.dumps({"numpy": 3}))
    result = _run(str(bad), "--output", str(tmp_path / "out.gz"))
    assert result.returncode == 2 and "numpy" in result.stderr
    assert not (tmp_path / "out.gz").exists()


@pytest.mark.skipif(not PARSELMOUTH.is_dir(), reason="../shared/data/mappings is not beside the checkout")
def test_shipped_file_is_what_the_script_makes(tmp_path: Path) -> None:
    out = tmp_path / "pypi_mapping.json.gz"
    result = _run(str(PARSELMOUTH / "conda-forge" / "compressed_mapping.json"),
                  str(PARSELMOUTH / "pytorch" / "compressed_mapping.json"), "--output", str(out))
    assert result.returncode == 0, result.stderr
    assert out.read_bytes() == SHIPPED.read_bytes()


def test_license_ships_with_the_data() -> None:
    text = (ROOT / "envls" / "data" / "PARSELMOUTH-LICENSE").read_text()
    assert "BSD 3-Clause License" in text and "prefix.dev GmbH" in text
