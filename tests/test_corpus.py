"""Every real environment file in ../shared/corpus: checked without an internal error, and the
problems its README lists (for the codes of the fast stage) reported at the right lines."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from envls.core.analysis import analyze
from envls.core.files import decode
from envls.core.findings import Severity

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "files"
FILES = sorted(CORPUS.glob("*.y*ml")) if CORPUS.is_dir() else []

pytestmark = pytest.mark.skipif(not FILES, reason="../shared/corpus is not beside the checkout")

# (file number, code, 1-based line) from ../shared/corpus/README.md.
EXPECTED = [
    ("080", "unknown-key", 1), ("080", "unknown-key", 2), ("080", "unknown-key", 6),
    ("091", "invalid-channel", 4), ("091", "pip-not-listed", 102), ("091", "machine-prefix", 124),
    ("036", "suspicious-spec", 7), ("036", "suspicious-spec", 22), ("036", "duplicate-package", 39),
    ("089", "duplicate-channel", 4), ("089", "machine-prefix", 187),
    ("093", "machine-prefix", 118),
    ("092", "invalid-spec", 7),
    ("024", "suspicious-spec", 7), ("077", "suspicious-spec", 7),
    ("022", "suspicious-spec", 13),
    ("103", "pip-not-listed", 10),
    ("028", "invalid-env-name", 1),
    ("082", "unknown-installer", 4),
    ("117", "machine-prefix", 68),
    ("080", "missing-name", 1),
    ("036", "mixed-pytorch-channels", 35),  # conda-forge's pytorch (listed first) with the pytorch channel's pytorch-cuda
]
# Valid but unusual syntax that must not be reported as an error.
NO_ERRORS = ["119", "120", "015", "109", "083", "022", "038", "104", "105"]


def _file(number: str) -> Path:
    (path,) = [p for p in FILES if p.name.startswith(number + "__")]
    return path


def _findings(path: Path) -> list[tuple[str, int, Severity]]:
    text, _ = decode(path.read_bytes())
    analysis = analyze(text)
    index = analysis.document.index
    return [(f.code, index.line_of(f.span.start) + 1, f.severity) for f in analysis.findings]


@pytest.mark.parametrize("path", FILES, ids=[p.name[:40] for p in FILES])
def test_checked_without_internal_error(path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="envls"):
        findings = _findings(path)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], "a stage or rule failed"
    assert not [f for f in findings if f[0] == "yaml-syntax"], "real files parse"


@pytest.mark.parametrize(("number", "code", "line"), EXPECTED, ids=[f"{n}-{c}-{ln}" for n, c, ln in EXPECTED])
def test_readme_findings(number: str, code: str, line: int) -> None:
    assert (code, line) in [(c, ln) for c, ln, _ in _findings(_file(number))]


@pytest.mark.parametrize("number", NO_ERRORS)
def test_unusual_valid_syntax_is_no_error(number: str) -> None:
    errors = [f for f in _findings(_file(number)) if f[2] == Severity.ERROR]
    assert errors == []


def test_suggestions_for_misspelled_keys() -> None:
    text, _ = decode(_file("080").read_bytes())
    messages = [f.message for f in analyze(text).findings if f.code == "unknown-key"]
    assert any("`name`" in m for m in messages)
    assert any("`channels`" in m for m in messages)
    assert any("`prefix`" in m for m in messages)
