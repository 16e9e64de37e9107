"""Completion of versions in pip lines and hover on them, from an index snapshot written in the test."""

from __future__ import annotations

import pytest
from pip_support import index_facts, release, yaml

from envls.core.document import parse
from envls.core.environment import environment_of
from envls.core.pip.assist import complete_pip, hover_pip, requirement_name_at

FACTS = index_facts({"requests": [release("2.30.0", ">=3.7"), release("2.31.0", ">=3.7"),
                                  release("2.32.0", ">=3.8", yanked="breaks proxies"), release("3.0.0b1", ">=3.9")]})
TEXT = yaml("""
    dependencies:
      - pip
      - pip:
        - requests==
""")


def _complete(text: str) -> list[tuple[str, str, str | None]]:
    offset = text.index("|")
    document = parse(text.replace("|", ""))
    return [(c.label, c.detail, c.sort_text) for c in complete_pip(document, offset, FACTS)]


@pytest.mark.parametrize("line", ["requests==|", "requests >=|", "requests~=|", "Requests[socks]>=2,<|",
                                  "requests!= |"])
def test_versions_newest_first_yanked_last(line: str) -> None:
    labels = [label for label, _, _ in _complete(TEXT.replace("requests==", line))]
    assert labels == ["3.0.0b1", "2.31.0", "2.30.0", "2.32.0"]


def test_typed_prefix_and_details() -> None:
    found = _complete(TEXT.replace("requests==", "requests==2.3|"))
    assert [label for label, _, _ in found] == ["2.31.0", "2.30.0", "2.32.0"]
    assert found[0] == ("2.31.0", "Python >=3.7 · 2 files", "00000")
    assert found[2][1].startswith("yanked: breaks proxies")
    start = complete_pip(parse(TEXT.replace("requests==", "requests==2.3")), len(TEXT) + 2, FACTS)[0].start
    assert TEXT.replace("requests==", "requests==2.3")[start:start + 3] == "2.3"


@pytest.mark.parametrize("line", ["requests|", "unknown==|", "-r |"])
def test_nothing_to_complete(line: str) -> None:
    assert _complete(TEXT.replace("requests==", line)) == []


def test_outside_pip_lines_and_without_facts() -> None:
    text = "dependencies:\n  - requests==|\n"
    assert _complete(text) == []
    assert complete_pip(parse(TEXT), len(TEXT) - 1, None) == []


def test_name_at_cursor() -> None:
    document = parse(TEXT)
    assert requirement_name_at(document, TEXT.index("requests==") + 3) == "requests"
    assert requirement_name_at(document, 2) is None


def test_hover() -> None:
    text = TEXT.replace("requests==", "requests>=2.31")
    env = environment_of(parse(text))
    found = hover_pip(env, text.index("requests>=") + 2, FACTS)
    assert found is not None
    assert "**requests** (pip requirement)" in found.markdown
    assert "- latest: `2.31.0`" in found.markdown  # the newest release that is neither yanked nor a pre-release
    assert "- Requires-Python: `>=3.7`" in found.markdown
    assert "- `2.32.0` is yanked: breaks proxies" in found.markdown
    assert "matches 3 releases" in found.markdown


def test_hover_names_conda_packages_and_missing_projects() -> None:
    text = TEXT.replace("requests==", "torch")
    env = environment_of(parse(text))
    found = hover_pip(env, text.index("torch"), index_facts({"torch": None}))
    assert found is not None and "`pytorch`" in found.markdown and "- not on https://index.invalid/simple" in found.markdown
    assert hover_pip(env, 0, FACTS) is None
