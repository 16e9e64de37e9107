"""The pip problems that ../shared/corpus/README.md (and the manifest's notes) list, found at their lines,
and nothing else of the pip codes anywhere in the corpus: every real file is checked.

The fast pip rules need nothing but the file. The `-r`/`-e` check reads the corpus folder, where the
files' repositories are not: 063's `-r requirements.txt` is therefore really missing there. Index and
channel checks are not run here (no network); one case gives the channel data that 055 needs by hand.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import rattler
from pip_support import PIP_CODES, channel_facts, fast_pip_findings

from envls.core.analysis import analyze
from envls.core.files import decode
from envls.core.findings import Severity
from envls.core.pip.rules import pip_file_findings
from envls.core.pip.stage import with_pip
from envls.pypi.facts import read_pip_files

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "files"
FILES = sorted(CORPUS.glob("*.y*ml")) if CORPUS.is_dir() else []

pytestmark = pytest.mark.skipif(not FILES, reason="../shared/corpus is not beside the checkout")

# (file number, code, 1-based line): from the README, then from the manifest's notes.
EXPECTED = {
    ("103", "conda-pip-duplicate", 11),  # conda `click` (line 9) and pip `click <8`: not provably disjoint
    ("088", "conflicting-distributions", 37),  # opencv-python after opencv-contrib-python (36): both are cv2
    ("089", "conda-pip-conflict", 178),  # pip tensorflow==2.19.0 against conda tensorflow-base=2.13.1
    ("093", "conda-pip-duplicate", 103),  # filelock: conda line 24, pip line 103
    ("028", "conda-pip-duplicate", 49),  # conda pyqt and pip PyQt5 (with a marker)
    ("098", "conda-pip-duplicate", 19),  # torchvision from conda and pip
    ("078", "pip-local-version", 73), ("078", "pip-local-version", 74), ("078", "pip-local-version", 75),
}
FAST_CODES = PIP_CODES - {"invalid-pip-requirement"}  # that one is the fast stage's own, tested in test_corpus


def _file(number: str) -> Path:
    (path,) = [p for p in FILES if p.name.startswith(number + "__")]
    return path


def _analysis(path: Path):  # type: ignore[no-untyped-def]
    text, _ = decode(path.read_bytes())
    return analyze(text)


def _fast(path: Path) -> list[tuple[str, int, Severity]]:
    analysis = _analysis(path)
    index = analysis.document.index
    return [(f.code, index.line_of(f.span.start) + 1, f.severity) for f in fast_pip_findings(analysis.environment)]


@pytest.mark.parametrize(("number", "code", "line"), sorted(EXPECTED), ids=[f"{n}-{c}-{ln}" for n, c, ln in sorted(EXPECTED)])
def test_listed_problem_is_found(number: str, code: str, line: int) -> None:
    assert (code, line) in [(c, ln) for c, ln, _ in _fast(_file(number))]


@pytest.mark.parametrize("path", FILES, ids=[p.name[:40] for p in FILES])
def test_nothing_unlisted(path: Path, caplog: pytest.LogCaptureFixture) -> None:
    number = path.name[:3]
    with caplog.at_level(logging.ERROR, logger="envls"):
        found = {(number, c, ln) for c, ln, _ in _fast(path) if c in FAST_CODES}
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], "a pip rule failed"
    assert found == {e for e in EXPECTED if e[0] == number}


@pytest.mark.parametrize("path", FILES, ids=[p.name[:40] for p in FILES])
def test_files_named_by_pip_lines(path: Path) -> None:
    analysis = _analysis(path)
    files = read_pip_files(analysis.environment, path.parent)
    found = [(f.code, analysis.document.index.line_of(f.span.start) + 1)
             for f in pip_file_findings(analysis.environment, files)]
    assert found == ([("pip-file-missing", 8)] if path.name.startswith("063__") else [])


def test_conda_dependency_replaced_by_pip_in_055() -> None:
    """055: conda `pytorch-lightning` pulls conda's `pytorch`, and pip installs `torch` again (line 66)."""
    record = rattler.PackageRecord("pytorch-lightning", "1.4.2", rattler.BuildString("pyhd8ed1ab_0"), 0, "noarch",
                                   depends=["python >=3.6", "pytorch >=1.6"])
    analysis = _analysis(_file("055"))
    facts = channel_facts({"pytorch-lightning", "pytorch"}, {"pytorch-lightning": (record,)})
    result = with_pip(analysis, channel_facts=facts)
    index = result.document.index
    duplicates = [index.line_of(f.span.start) + 1 for f in result.findings if f.code == "conda-pip-duplicate"]
    assert duplicates == [66]
