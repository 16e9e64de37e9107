"""The document model and the line index: spans, recovery, and input meant to break them."""

from __future__ import annotations

import time

import pytest

from envls.core.analysis import analyze
from envls.core.document import parse
from envls.core.findings import Span
from envls.core.text import LineIndex


def test_spans_of_keys_values_and_items() -> None:
    doc = parse("name: demo\ndependencies:\n  - numpy\n  - pip:\n    - requests\n")
    assert doc.problems == []
    name_key, name_value = doc.section("name") or (None, None)
    assert name_key is not None and name_value is not None
    assert doc.text[name_key.start:name_key.end] == "name"
    assert doc.text[name_value.start:name_value.end] == "demo"
    _, deps = doc.section("dependencies") or (None, None)
    assert deps is not None and deps.kind == "seq"
    assert doc.text[deps.items[0].start:deps.items[0].end] == "numpy"
    pip_key, pip_value = deps.items[1].pairs[0]
    assert doc.text[pip_value.items[0].start:pip_value.items[0].end] == "requests"


def test_recovery_keeps_a_tree() -> None:
    doc = parse("name: x\nchannels:\n  - conda-forge\ndependencies:\n  - numpy=\n  - [broken\n")
    assert doc.problems and doc.root is not None
    assert doc.section("channels") is not None


def test_never_raises_on_garbage() -> None:
    for text in ["\x00\x01\x02", "\ufeff", ":", "- - - -", "{{{{", "]]]", "&a [*a]", "!!binary x", "? a\n: b\n",
                 "a: !!set {x}\n", "\r\r\r", "\u2028\u2029"]:
        analysis = analyze(text)
        assert analysis.findings, repr(text)


def test_deep_nesting_does_not_overflow() -> None:
    start = time.perf_counter()
    analysis = analyze("[" * 20000 + "]" * 20000)
    assert analysis.findings  # a list is no environment: schema
    analysis = analyze("dependencies:\n" + "  " * 0 + "- " + "[\n" * 20000)
    assert any(f.code == "yaml-syntax" for f in analysis.findings)
    assert time.perf_counter() - start < 30


def test_alias_bomb_is_bounded() -> None:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 9):
        prev, cur = chr(ord("a") + i - 1), chr(ord("a") + i)
        lines.append(f"{cur}: &{cur} [" + ",".join([f"*{prev}"] * 9) + "]")
    lines.append("dependencies: *i")
    analysis = analyze("\n".join(lines) + "\n")
    assert any("alias" in f.message for f in analysis.findings)


def test_many_dependencies_and_long_lines() -> None:
    text = "name: t\ndependencies:\n" + "".join(f"  - pkg{i}=1.{i}\n" for i in range(60000))
    analysis = analyze(text)
    assert analysis.findings == ()
    long_line = "name: " + "x" * 2_000_000 + "\ndependencies: [python]\n"
    (finding,) = analyze(long_line).findings  # reported once, and left out of the checks
    assert finding.code == "line-too-long" and finding.span == Span(0, 2_000_006)


def test_tabs_explained() -> None:
    (finding,) = analyze("dependencies:\n\t- numpy\n").findings
    assert finding.code == "yaml-syntax" and "tabs" in finding.message


def test_nul_byte_reported_where_it_is() -> None:
    analysis = analyze("name: x\ndependencies:\n  - nu\x00mpy\n")
    (finding,) = analysis.findings
    assert analysis.document.index.line_of(finding.span.start) == 2


@pytest.mark.parametrize(
    ("text", "offset", "utf16", "utf8"),
    [
        ("abc", 2, (0, 2), (0, 2)),
        ("a😀b\nx", 2, (0, 3), (0, 5)),
        ("é\r\nab", 4, (1, 1), (1, 1)),
        ("x\ry", 2, (1, 0), (1, 0)),
    ],
)
def test_line_index(text: str, offset: int, utf16: tuple[int, int], utf8: tuple[int, int]) -> None:
    index = LineIndex(text)
    pos16 = index.position(offset, "utf-16")
    pos8 = index.position(offset, "utf-8")
    assert (pos16.line, pos16.column) == utf16
    assert (pos8.line, pos8.column) == utf8
    assert index.offset(*utf16, "utf-16") == offset
    assert index.offset(*utf8, "utf-8") == offset


@pytest.mark.parametrize("text", ["", "\n", "a", "a\n", "a\nb", "\n\n", "a\r\nb\rc\n", "x\r", "ab\ncd\n\nef", "é😀\nx"])
def test_line_starts_every_line_break(text: str) -> None:
    """The `\\n`-only fast path and the pattern for `\\r\\n`/`\\r` give the same line starts."""
    expected = [0] + [i + 1 for i, ch in enumerate(text) if ch == "\n" or (ch == "\r" and text[i + 1:i + 2] != "\n")]
    assert LineIndex(text).line_starts == expected
