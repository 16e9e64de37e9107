"""A large document's analysis gives way to small ones and stops when superseded (envls.core.pace,
envls.lsp.pacing), with real threads and the real analysis."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from envls.core import pace
from envls.core.analysis import analyze
from envls.lsp.pacing import LARGE, Pacer

BIG = "name: big\ndependencies:\n" + "".join(f"  - pkg{i}=1.{i % 50}\n" for i in range(30_000))


def test_no_hook_no_change() -> None:
    items = list(range(5000))
    assert pace.paced(items) is items  # `envls check` and tests pay nothing
    events = iter(items)
    assert pace.ticking(events) is events


def test_the_hook_is_called_every_few_hundred_items() -> None:
    calls: list[int] = []
    with pace.pacing(lambda: calls.append(1)):
        assert list(pace.paced(list(range(2000)))) == list(range(2000))
        assert list(pace.paced([1, 2, 3])) == [1, 2, 3]  # few items: no checkpoint
    assert len(calls) == -(-2000 // pace.EVERY)
    assert pace.current_hook() is None


def test_a_superseded_analysis_stops_and_nothing_swallows_it() -> None:
    """`Superseded` is no Exception: the stages' `except Exception` (a failing stage must not take the others
    down) lets it through, and the analysis ends at the next checkpoint."""
    assert len(BIG) > LARGE
    superseded = threading.Event()
    superseded.set()
    started = time.perf_counter()
    with pytest.raises(pace.Superseded), Pacer().analysing(BIG, superseded):
        analyze(BIG)
    assert time.perf_counter() - started < 0.5  # a full analysis of BIG takes several times that


def test_a_large_analysis_waits_while_a_small_one_runs() -> None:
    pacer = Pacer()
    small_running, small_done = threading.Event(), threading.Event()
    order: list[str] = []

    def small() -> None:
        with pacer.analysing("name: small\n", threading.Event()):
            small_running.set()
            small_done.wait(5)
            order.append("small done")

    def large() -> None:
        small_running.wait(5)
        with pacer.analysing(BIG, threading.Event()):
            analyze(BIG)
        order.append("large done")

    threads = [threading.Thread(target=small), threading.Thread(target=large)]
    for thread in threads:
        thread.start()
    small_running.wait(5)
    time.sleep(0.3)  # the large one has reached a checkpoint by now, and waits there
    assert order == []
    small_done.set()
    for thread in threads:
        thread.join(30)
    assert order == ["small done", "large done"]


def test_a_large_analysis_is_never_starved() -> None:
    """Steady small analyses (typing in another file) hold it at most MAX_WAIT per checkpoint."""
    from envls.lsp import pacing

    pacer = Pacer()
    stop = threading.Event()

    def typing() -> None:
        while not stop.is_set():
            with pacer.analysing("name: small\n", threading.Event()):
                time.sleep(0.01)

    thread = threading.Thread(target=typing)
    thread.start()
    try:
        old = pacing.MAX_WAIT
        pacing.MAX_WAIT = 0.01
        started = time.perf_counter()
        with pacer.analysing(BIG, threading.Event()):
            analyze(BIG)
        assert time.perf_counter() - started < 30
    finally:
        pacing.MAX_WAIT = old
        stop.set()
        thread.join()


async def test_an_edit_of_a_large_document_during_its_analysis(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The server: the analysis of version 1 is superseded by version 2 (it stops at a checkpoint), version 2
    is published with its findings, version 1 never is, and the server keeps serving."""
    from lsp_support import VSCODE, codes, session
    from lsprotocol import types

    uri = (tmp_path / "environment.yml").as_uri()
    big = "name: big\ndependencies:\n" + "".join(f"  - pkg{i}\n" for i in range(60_000))
    async with session(VSCODE, tmp_path, initialization_options={"channelChecks": False}) as client:
        client.open(uri, big)
        await asyncio.sleep(0.3)  # its analysis is under way
        version = client.replace_all(uri, big + "  - numpy=>1.2\n")
        published = await client.wait_for_publish(uri, version, timeout=60)
        assert "suspicious-spec" in codes(published.diagnostics)
        assert [p.version for p in client.publications(uri)] == [version]
        symbols = await client.ask(client.text_document_document_symbol_async(
            types.DocumentSymbolParams(text_document=types.TextDocumentIdentifier(uri=uri))), timeout=30)
        assert symbols


def test_closing_a_document_stops_its_running_analysis() -> None:
    from envls.lsp.state import EnvlsServer

    server = EnvlsServer()
    try:
        running = server.superseded["file:///big/environment.yml"] = threading.Event()
        server.forget("file:///big/environment.yml")
        assert running.is_set() and "file:///big/environment.yml" not in server.superseded
    finally:
        server.analysis_pool.shutdown(wait=False)


def test_an_announced_small_analysis_holds_a_large_one_until_it_ends() -> None:
    """The server announces a small document's analysis when it hands it to a worker: the large analysis gives
    way from its next checkpoint, and goes on once the announcement ends (ending twice counts once)."""
    pacer = Pacer()
    assert pacer.announce(BIG) is None
    end = pacer.announce("name: small\n")
    assert end is not None
    finished = threading.Event()

    def large() -> None:
        with pacer.analysing(BIG, threading.Event()):
            analyze(BIG)
        finished.set()

    thread = threading.Thread(target=large)
    thread.start()
    time.sleep(0.3)
    assert not finished.is_set()  # waiting at a checkpoint
    end()
    end()
    thread.join(30)
    assert finished.is_set() and pacer._small == 0
