"""`companion-missing` with index data: the Requires-Dist of the release pip would pick, read from its PEP 658
metadata on a real package index on 127.0.0.1 (tests/index_server.py), instead of the table of
envls/data/domain_knowledge.json; the table still answers where the index has no metadata for the release."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from index_server import IndexServer
from pip_support import (
    loopback_only,  # noqa: F401 - an autouse fixture: no proxy for the loopback index
    run,
)

from envls.core.analysis import Analysis
from envls.core.findings import Severity
from envls.core.pip.facts import IndexFacts
from envls.pypi.config import PipConfig
from envls.pypi.index import IndexClient, requires_dist
from envls.pypi.pages import parse_html, releases_of
from envls.pypi.service import PipService

TIMEOUT = 0.5


@pytest.fixture
def index() -> Iterator[IndexServer]:
    with IndexServer() as server:
        # Releases the table does not know, so that what the findings say can only come from the metadata.
        server.add_wheel("torchvision", "0.98.0", requires=["torch==9.8.0", "numpy"])
        server.add_wheel("torchvision", "0.99.0", requires=["torch==9.9.0", "numpy"])
        server.add_wheel("torch", "9.9.0")
        server.add_wheel("torchaudio", "0.97.0", requires=["torch>=9"])
        server.add_wheel("torchaudio", "0.96.0", requires=["numpy"])
        server.add_file("torchvision", "torchvision-0.6.0.tar.gz", b"sdist")  # no metadata file: the table answers
        server.add_wheel("jax", "0.4.13", requires=["numpy", "jaxlib==0.4.13; extra == 'cpu'"], extras=["cpu"])
        server.add_wheel("jax", "0.4.30", requires=["jaxlib<=0.4.30,>=0.4.27", "numpy"])
        server.add_wheel("jax", "9.0.0", requires=["numpy"])  # a later release without jaxlib: only metadata knows
        yield server


def service(tmp_path: Path, server: IndexServer) -> PipService:
    client = IndexClient(cache_dir=tmp_path / "cache", timeout=TIMEOUT)
    return PipService(client, PipConfig(index_url=server.url), trusted=True, environ={}, default_index="")


def text_with(pip: str) -> str:
    return f"name: t\ndependencies:\n  - python=3.10\n  - pip\n  - pip:\n    - {pip}\n"


def analysed(svc: PipService, text: str) -> tuple[Analysis, IndexFacts]:
    env = run(text).environment
    facts = asyncio.run(svc.facts(env))
    return run(text, index=facts), facts


def companions(analysis: Analysis) -> list[tuple[int, Severity, str]]:
    index = analysis.document.index
    return [(index.line_of(f.span.start) + 1, f.severity, f.message) for f in analysis.findings
            if f.code == "companion-missing"]


CASES = [
    # (pip line, expected severity or None, words the message must hold)
    ("torchvision==0.98.0", Severity.INFORMATION, "`torch==9.8.0`"),
    ("torchvision", Severity.INFORMATION, "gets torchvision 0.99.0 (the newest release it allows), which requires `torch==9.9.0`"),
    ("torchvision<0.99", Severity.INFORMATION, "`torch==9.8.0`"),
    ("torchaudio==0.97.0", Severity.INFORMATION, "`torch>=9`"),
    ("torchaudio==0.96.0", None, ""),  # this release does not pull torch in
    ("torchvision==0.6.0", Severity.INFORMATION, "`torch==1.5.0`"),  # no metadata: the table's release
    ("jax==0.4.13", Severity.WARNING, "lists no `jaxlib`"),
    ("jax<0.4.20", Severity.WARNING, "jax 0.4.13"),
    ("jax[cpu]==0.4.13", None, ""),  # the extra brings jaxlib
    ("jax==0.4.30", None, ""),
    ("jax==9.0.0", Severity.WARNING, "jax 9.0.0"),  # the table would say it depends on jaxlib: the metadata says not
]


@pytest.mark.parametrize(("pip", "severity", "words"), CASES, ids=[c[0] for c in CASES])
def test_companions_from_requires_dist(tmp_path: Path, index: IndexServer, pip: str, severity: Severity | None,
                                       words: str) -> None:
    analysis, _ = analysed(service(tmp_path, index), text_with(pip))
    found = companions(analysis)
    if severity is None:
        assert found == []
        return
    ((line, got, message),) = found
    assert (line, got) == (6, severity) and words in message, message


def test_the_pin_from_metadata_is_a_fix_only_for_an_exact_pin(tmp_path: Path, index: IndexServer) -> None:
    svc = service(tmp_path, index)
    exact, _ = analysed(svc, text_with("torchvision==0.99.0"))
    (finding,) = [f for f in exact.findings if f.code == "companion-missing"]
    assert finding.fixes and "torch==9.9.0" in finding.fixes[0].edits[0].new_text
    ranged, _ = analysed(svc, text_with("torchvision>=0.98"))
    (finding,) = [f for f in ranged.findings if f.code == "companion-missing"]
    assert not finding.fixes


def test_companion_present_reads_no_metadata(tmp_path: Path, index: IndexServer) -> None:
    analysis, facts = analysed(service(tmp_path, index), text_with("torchvision==0.99.0\n    - torch==9.9.0"))
    assert companions(analysis) == [] and facts.requires == {}
    assert not [p for p, _ in index.requests if p.endswith(".metadata")]


def test_html_index_gives_the_same(tmp_path: Path, index: IndexServer) -> None:
    index.mode = "html"
    analysis, _ = analysed(service(tmp_path, index), text_with("torchvision==0.98.0"))
    ((_, _, message),) = companions(analysis)
    assert "`torch==9.8.0`" in message


def test_metadata_is_read_once_and_cached_on_disk(tmp_path: Path, index: IndexServer) -> None:
    text = text_with("torchvision==0.98.0")
    analysed(service(tmp_path, index), text)
    first = [p for p, _ in index.requests if p.endswith(".metadata")]
    assert first == ["/files/torchvision-0.98.0-py3-none-any.whl.metadata"]
    analysis, _ = analysed(service(tmp_path, index), text)  # a new client over the same cache folder
    assert [p for p, _ in index.requests if p.endswith(".metadata")] == first
    assert "`torch==9.8.0`" in companions(analysis)[0][2]


def test_a_new_pin_is_loaded_by_the_service(tmp_path: Path, index: IndexServer) -> None:
    svc = service(tmp_path, index)
    analysed(svc, text_with("torchvision==0.98.0"))
    changed = run(text_with("torchvision==0.99.0")).environment
    assert svc.needs_refresh(changed)  # same names, another release: its metadata is wanted
    analysis, _ = analysed(svc, text_with("torchvision==0.99.0"))
    assert not svc.needs_refresh(changed)
    assert "`torch==9.9.0`" in companions(analysis)[0][2]


def test_index_down_keeps_the_table(tmp_path: Path, index: IndexServer) -> None:
    svc = service(tmp_path, index)
    index.stop()
    analysis, _ = analysed(svc, text_with("torchvision==0.6.0"))
    ((_, severity, message),) = companions(analysis)
    assert severity == Severity.INFORMATION and "`torch==1.5.0`" in message


def test_pages_announce_metadata() -> None:
    html = ('<a href="../../files/a-1.0-py3-none-any.whl#sha256=00" data-core-metadata="sha256=11">'
            'a-1.0-py3-none-any.whl</a><a href="/files/a-2.0-py3-none-any.whl" data-dist-info-metadata="true">'
            'a-2.0-py3-none-any.whl</a><a href="/files/a-3.0-py3-none-any.whl" data-core-metadata="false">'
            'a-3.0-py3-none-any.whl</a><a href="/files/a-4.0.tar.gz">a-4.0.tar.gz</a>')
    releases = releases_of(parse_html(html), "a", "https://index.example/simple/a/")
    assert [r.metadata_url for r in releases] == [
        "https://index.example/files/a-1.0-py3-none-any.whl.metadata",
        "https://index.example/files/a-2.0-py3-none-any.whl.metadata", "", ""]


def test_requires_dist_of_a_metadata_file() -> None:
    text = ("Metadata-Version: 2.1\nName: a\nVersion: 1\nRequires-Dist: torch (==1.5.0)\n"
            "Requires-Dist: numpy; extra == 'x'\n\nRequires-Dist: in the description\n")
    assert requires_dist(text) == ("torch (==1.5.0)", "numpy; extra == 'x'")


def test_credentials_go_to_the_index_host_only(tmp_path: Path, index: IndexServer) -> None:
    url = index.url.replace("http://", "http://alice:s3cret@")
    client = IndexClient(cache_dir=tmp_path / "cache", timeout=TIMEOUT)
    svc = PipService(client, PipConfig(index_url=url), environ={}, default_index="")
    analysis, _ = analysed(svc, text_with("torchvision==0.98.0"))
    assert "`torch==9.8.0`" in companions(analysis)[0][2]
    (headers,) = [h for p, h in index.requests if p.endswith(".metadata")]
    assert headers.get("authorization") == "Basic YWxpY2U6czNjcmV0"
    # The same file named on another host (`localhost` is not `127.0.0.1`) gets no credentials.
    other = f"http://localhost:{index.url.split(':')[2].split('/')[0]}/files/torchvision-0.99.0-py3-none-any.whl.metadata"
    assert client.metadata(other, (url,)) == ("torch==9.9.0", "numpy")
    assert "authorization" not in index.requests[-1][1]
    assert not [f for f in (tmp_path / "cache").rglob("*.json") if "s3cret" in f.read_text(encoding="utf-8")]
