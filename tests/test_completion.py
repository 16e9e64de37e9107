"""Completion and hover from a channel-data snapshot (pure: the snapshot is built by hand)."""

from __future__ import annotations

from dataclasses import dataclass

from rattler import Version

from envls.core.conda.channel_facts import ChannelFacts, ChannelState
from envls.core.document import parse
from envls.core.features.completion import complete


@dataclass(frozen=True)
class Record:
    name: str
    version: Version
    build: str
    subdir: str
    channel: str = "http://127.0.0.1/ch"


FACTS = ChannelFacts(
    channels=(ChannelState("forge", "forge", ("http://127.0.0.1/ch",), "ok"),),
    platforms=("linux-64",),
    records={"numpy": tuple(Record("numpy", Version(v), b, s) for v, b, s in [
        ("1.26.4", "py312_0", "linux-64"), ("1.26.4", "py311_0", "linux-64"), ("2.0.1", "py312_0", "linux-64"),
        ("1.9.3", "py27_0", "linux-64"), ("2.0.1", "py312_0", "osx-arm64")])},
    names={"forge": frozenset({"numpy", "numba", "pandas", "numpy-base", "libnuma"})},
    loaded=frozenset({"numpy"}),
)


def labels(text: str) -> list[str]:
    offset = text.index("|")
    document = parse(text.replace("|", ""))
    return [c.label for c in complete(document, offset, facts=FACTS)]


def test_names_prefix_first_then_contains() -> None:
    assert labels("dependencies:\n  - num|\n") == ["numba", "numpy", "numpy-base", "libnuma"]


def test_channel_prefix_offered() -> None:
    assert "forge::" in labels("dependencies:\n  - fo|\n")


def test_versions_newest_first() -> None:
    assert labels("dependencies:\n  - numpy=|\n") == ["2.0.1", "1.26.4", "1.9.3"]
    assert labels("dependencies:\n  - numpy >=1.|\n") == ["1.26.4", "1.9.3"]


def test_version_detail_counts_builds_and_platforms() -> None:
    document = parse("dependencies:\n  - numpy==\n")
    (first, *_) = complete(document, len("dependencies:\n  - numpy=="), facts=FACTS)
    assert first.label == "2.0.1" and first.detail == "2 builds · linux-64, osx-arm64" and first.sort_text == "00000"


def test_builds_after_second_equals() -> None:
    assert labels("dependencies:\n  - numpy=1.26.4=|\n") == ["py311_0", "py312_0"]


def test_no_package_completion_in_pip_section() -> None:
    assert labels("dependencies:\n  - pip:\n    - num|\n") == []
