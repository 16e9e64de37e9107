"""Hostile input, the performance half: every file is built here, and each case runs against both
`envls check` (a subprocess) and the core the server uses. Timeouts are generous guards, so that a
regression fails instead of hanging; the figures themselves are in benchmarks/run.py.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from channel_server import ChannelServer

from envls.channels.store import ChannelStore
from envls.core.analysis import analyze
from envls.core.document import LINE_LIMIT

ROOT = Path(__file__).resolve().parents[1]
GUARD = 60.0  # seconds: far above the targets, only to turn a hang into a failure


def check(path: Path, *extra: str) -> tuple[int, str]:
    env = {**os.environ, "ENVLS_CHANNEL_CHECKS": "0", "ENVLS_SOLVE": "0"}
    proc = subprocess.run([sys.executable, "-m", "envls", "check", "--cuda-version", "12.4", *extra, str(path)],
                          capture_output=True, text=True, timeout=GUARD, cwd=ROOT, env=env)
    return proc.returncode, proc.stdout


def codes(text: str) -> list[tuple[str, int]]:
    analysis = analyze(text)
    return [(f.code, analysis.document.index.line_of(f.span.start) + 1) for f in analysis.findings]


def timed_codes(text: str, limit: float = GUARD) -> list[tuple[str, int]]:
    start = time.perf_counter()
    found = codes(text)
    assert time.perf_counter() - start < limit
    return found


# -- pathological lines: each pattern is linear --------------------------------------------------

def test_brackets_after_a_name() -> None:
    # `- x[[[...`: the trailing-bracket pattern retried from every `[` (17 s at 40k).
    found = timed_codes("name: x\ndependencies:\n  - x" + "[" * (LINE_LIMIT - 10) + "\n")
    assert found == [("invalid-spec", 3)]


def test_repeated_operators() -> None:
    # `numpy>=1>=1...`: the range-wildcard pattern scanned to the end from every `>=` (over a minute at 200k).
    found = timed_codes("name: x\ndependencies:\n  - numpy" + ">=1" * (LINE_LIMIT // 3 - 10) + ".*\n")
    assert [code for code, _ in found] in ([], ["suspicious-spec"], ["invalid-spec"])


def test_long_token_then_space_in_completion() -> None:
    from envls.core.features import query

    text = "dependencies:\n  - " + "a" * 100_000 + " "
    analysis = analyze(text)
    start = time.perf_counter()
    context = query.at(analysis.document.index, len(text))
    assert time.perf_counter() - start < 5
    assert context.word == ""


def test_long_whitespace_runs() -> None:
    spaces = " " * (LINE_LIMIT - 50)
    timed_codes(f"dependencies:\n  - numpy{spaces}1.2{spaces[:100]}>=3\n  - scipy {spaces[:4000]}, >=1\n")


def test_duplicate_lines_by_dictionary() -> None:
    found = timed_codes("name: x\ndependencies:\n" + "  - numpy\n" * 20_000)
    assert len(found) == 19_999 and {code for code, _ in found} == {"duplicate-package"}


def test_messages_quote_long_lines_briefly(tmp_path: Path) -> None:
    """A 9,000-character spec quoted by 2,000 duplicates (and by its own findings): each quote is shortened,
    each message bounded, in the analysis and in `envls check`'s report (it printed 200 MB at 20,000)."""
    from envls.core.findings import MESSAGE_LIMIT, QUOTE_LIMIT

    long_spec = "numpy" + ">=1" * 3000
    text = f"name: x\ndependencies:\n  - {long_spec}\n  - x{'[' * 9000}\n" + "  - numpy\n" * 2000
    analysis = analyze(text)
    messages = [f.message for f in analysis.findings] + [r.message for f in analysis.findings for r in f.related]
    assert len(analysis.findings) >= 2001
    assert all(len(m) <= MESSAGE_LIMIT for m in messages)
    assert all(len(part) <= QUOTE_LIMIT for m in messages for part in m.split("`")[1:-1:2])
    duplicate = next(f for f in analysis.findings if f.code == "duplicate-package")
    assert f"`{long_spec[:60]}" in duplicate.message and "…`" in duplicate.message
    path = tmp_path / "environment.yml"
    path.write_text(text)
    status, out = check(path, "--no-solve")
    assert status == 1 and len(out) < 2001 * (MESSAGE_LIMIT + 200)
    assert max(len(line) for line in out.splitlines()) < MESSAGE_LIMIT + 200


def test_line_too_long_is_reported_once_and_not_analysed() -> None:
    text = "name: x\ndependencies:\n  - numpy\n  - " + "x[" * 100_000 + "\n  - scipy\n"
    found = timed_codes(text)
    assert found == [("line-too-long", 4)]
    analysis = analyze(text)
    assert [e.text for e in analysis.environment.conda] == ["numpy", "scipy"]


def test_a_long_line_under_the_limit_is_checked() -> None:
    assert codes("name: t\ndependencies:\n  - " + "a" * (LINE_LIMIT - 10) + "\n") == []


# -- size ----------------------------------------------------------------------------------------

def test_many_dependencies_are_no_alias_bomb(tmp_path: Path) -> None:
    path = tmp_path / "environment.yml"
    path.write_text("name: big\ndependencies:\n" + "".join(f"  - pkg{i}\n" for i in range(100_000)))
    status, out = check(path)
    assert status == 0, out[:2000]
    assert "unreasonably large" not in out


def test_five_megabytes(tmp_path: Path) -> None:
    path = tmp_path / "environment.yml"
    lines = [f"  - package-number-{i}=1.{i % 100}.{i % 7}\n" for i in range(160_000)]
    path.write_text("name: big\ndependencies:\n" + "".join(lines))
    assert path.stat().st_size > 5_000_000
    status, out = check(path)
    assert status == 0, out[:2000]


def _count_parses(monkeypatch: pytest.MonkeyPatch, name: str, parse: Any) -> list[str]:
    """The texts that `envls.core.environment`'s ``name`` parses from now on, without its cache (``parse``)."""
    from envls.core import environment

    calls: list[str] = []

    def counting(text: str) -> Any:
        calls.append(text)
        return parse.__wrapped__(text)

    monkeypatch.setattr(environment, name, counting)
    return calls


def test_each_spec_parsed_once_per_version(monkeypatch: pytest.MonkeyPatch) -> None:
    from envls.core.conda import specs

    calls = _count_parses(monkeypatch, "parse_spec", specs.parse_spec)
    text = "name: x\ndependencies:\n" + "".join(f"  - pkg{i}=1.{i}=h{i}_0\n" for i in range(50)) + "  - pip\n"
    analyze(text)
    assert sorted(calls) == sorted({*calls}) and len(calls) == 51


def test_more_specs_than_the_cache_holds_are_parsed_past_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """A file with more specs than the parse cache holds is parsed without it (every insertion would evict)."""
    from envls.core import environment

    def cached(text: str) -> None:
        raise AssertionError("the cache was asked")

    monkeypatch.setattr(environment, "SPEC_CACHE_SIZE", 10)
    monkeypatch.setattr(environment, "parse_spec", cached)
    analysis = analyze("name: x\ndependencies:\n" + "".join(f"  - pkg{i}=1.{i}=h{i}_0\n" for i in range(11)))
    assert [e.parsed.name for e in analysis.environment.conda] == [f"pkg{i}" for i in range(11)]
    assert [f.code for f in analysis.findings] == ["pinned-build"] * 11


def test_each_pip_line_parsed_once_per_version(monkeypatch: pytest.MonkeyPatch) -> None:
    """Many rules read the pip lines: each is parsed once, on its entry (the bounded cache alone re-parsed
    every line of a section larger than it, for every rule: 20,000 lines took 9 s)."""
    from envls.core.cuda.implied import implications, uses_cuda
    from envls.core.pip import lines

    calls = _count_parses(monkeypatch, "parse_pip_line", lines.parse_pip_line)
    text = ("name: x\ndependencies:\n  - python=3.11\n  - pip\n  - pip:\n"
            + "".join(f"    - pkg{i}=={i}.0+cu121\n" for i in range(50)) + "    - -r requirements.txt\n")
    analysis = analyze(text)
    assert implications(analysis.environment) and uses_cuda(analysis.environment)
    assert sorted(calls) == sorted({*calls}) and len(calls) == 51


# -- syntax errors at their start ----------------------------------------------------------------

def test_unclosed_bracket_is_reported_where_it_opens() -> None:
    text = "name: x\nchannels:\n  - conda-forge\ndependencies:\n  - numpy\n  - [scipy, pandas\n  - requests\n"
    analysis = analyze(text)
    (finding,) = [f for f in analysis.findings if f.code == "yaml-syntax"]
    position = analysis.document.index.position(finding.span.start)
    assert (position.line, text.splitlines()[5][position.column]) == (5, "[")
    assert finding.related and "stopped here" in finding.related[0].message


def test_duplicate_keys_at_any_level(tmp_path: Path) -> None:
    text = "name: x\ndependencies:\n  - numpy\n  - pip:\n      - a\n    pip:\n      - b\ndependencies:\n  - scipy\n"
    analysis = analyze(text)
    found = [(f.code, analysis.document.index.line_of(f.span.start) + 1, analysis.document.index.line_of(
        f.related[0].span.start) + 1) for f in analysis.findings if f.code == "duplicate-key"]
    assert found == [("duplicate-key", 6, 4), ("duplicate-key", 8, 2)]
    path = tmp_path / "environment.yml"
    path.write_text(text)
    status, out = check(path)
    assert status == 1 and out.count(" duplicate-key ") == 2


# -- a shared channel load survives its waiters ---------------------------------------------------

def test_cancelled_waiter_never_cancels_the_load(tmp_path: Path) -> None:
    with ChannelServer(slow_seconds=0.5) as srv:
        srv.fault("conda-forge-numpy-mamba", "slow")
        url = srv.channel("conda-forge-numpy-mamba")

        async def scenario() -> None:
            store = ChannelStore(cache_dir=tmp_path / "cache", timeout=10.0)
            first = asyncio.ensure_future(store.subdir(url, "noarch"))
            second = asyncio.ensure_future(store.subdir(url, "noarch"))
            await asyncio.sleep(0.1)
            first.cancel()  # a completion giving up, or an edit
            info = await asyncio.wait_for(second, GUARD)
            assert first.cancelled() and store.known(url, "noarch") is info
            # The only waiter gives up: the load still completes and is kept.
            lone = asyncio.ensure_future(store.subdir(url, "linux-64"))
            await asyncio.sleep(0.1)
            lone.cancel()
            deadline = time.monotonic() + GUARD
            while store.known(url, "linux-64") is None and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            assert store.known(url, "linux-64") is not None

        asyncio.run(scenario())


def test_file_too_large_is_one_finding(tmp_path: Path) -> None:
    from envls.core.analysis import DOCUMENT_LIMIT

    text = "name: big\ndependencies:\n" + "  - numpy\n" * (DOCUMENT_LIMIT // 10 + 10)
    start = time.perf_counter()
    analysis = analyze(text)
    assert time.perf_counter() - start < GUARD
    assert [f.code for f in analysis.findings] == ["file-too-large"]
    path = tmp_path / "environment.yml"
    path.write_text(text)
    status, out = check(path)
    assert status == 0 and out.count("\n") == 1 and " file-too-large " in out


# -- the server: nothing on the event loop, bursts of edits -----------------------------------------

async def test_a_large_document_does_not_hold_up_another(tmp_path: Path) -> None:
    from lsp_support import VSCODE, session

    big = (tmp_path / "big" / "environment.yml").as_uri()
    small = (tmp_path / "environment.yml").as_uri()
    async with session(VSCODE, tmp_path) as client:
        client.open(big, "name: big\ndependencies:\n" + "".join(f"  - pkg{i}\n" for i in range(100_000)))
        await asyncio.sleep(0.3)  # the big one is being analysed now
        client.open(small, "name: small\ndependencies:\n  - numpy==1.2\n")
        published = await client.wait_for_publish(small, 1, timeout=GUARD)
        assert [d.code for d in published.diagnostics] == ["suspicious-spec"]
        assert not client.publications(big), "the small document waited for the big one"
        await client.wait_for_publish(big, 1, timeout=GUARD)
        # Requests about the small document are answered while the big one is analysed again.
        client.replace_all(big, "name: big\ndependencies:\n" + "".join(f"  - pkg{i}\n" for i in range(99_999)))
        await asyncio.sleep(0.3)
        from lsprotocol import types

        symbols = await client.ask(client.text_document_document_symbol_async(
            types.DocumentSymbolParams(text_document=types.TextDocumentIdentifier(uri=small))), timeout=GUARD)
        assert symbols and not client.publications(big)[1:], "the request waited for the big document"


async def test_a_burst_of_incremental_edits_publishes_the_last_version(tmp_path: Path) -> None:
    import random

    from lsp_support import VSCODE, session, to_position
    from lsprotocol import types

    rng = random.Random(11)
    text = "name: burst\ndependencies:\n" + "".join(f"  - pkg{i}=1.{i}\n" for i in range(200)) + "  - é😀\n"
    uri = (tmp_path / "environment.yml").as_uri()
    async with session(VSCODE, tmp_path) as client:
        client.open(uri, text)
        await client.wait_for_publish(uri, 1, timeout=GUARD)
        version = 1
        for _ in range(300):
            start = rng.randrange(len(text) + 1)
            end = min(len(text), start + rng.choice((0, 0, 1, 2)))
            if text[start - 1:start + 1] == "\r\n" or (start and "\ud800" <= text[start - 1] <= "\udbff"):
                continue
            new = rng.choice(("x", "=", "\n  - ", "", "1", "é"))
            change = types.TextDocumentContentChangePartial(
                range=types.Range(start=to_position(text, start), end=to_position(text, end)), text=new)
            version = client.change(uri, change)
            text = text[:start] + new + text[end:]
            await asyncio.sleep(0.001)
        published = await client.wait_for_publish(uri, version, timeout=GUARD)
        analysis = analyze(text)
        expected = sorted((f.code, analysis.document.index.position(f.span.start, "utf-16").line)
                          for f in analysis.findings)
        assert sorted((str(d.code), d.range.start.line) for d in published.diagnostics) == expected
