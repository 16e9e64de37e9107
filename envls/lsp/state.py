"""The server's state: settings, client facts, and one analysis per open document version."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from lsprotocol import types
from pygls.lsp.server import LanguageServer

from envls import __version__
from envls.channels.service import ChannelService
from envls.core.analysis import Analysis, AnalysisOptions, analyze
from envls.core.files import is_environment_file
from envls.core.text import Encoding
from envls.gc_pause import gc_paused
from envls.lsp.convert import diagnostics as diagnostics_of
from envls.lsp.convert import encoding_of
from envls.lsp.pacing import Pacer
from envls.lsp.protocol import EnvlsProtocol
from envls.session import Session
from envls.settings import Settings

log = logging.getLogger(__name__)

ANALYSIS_WORKERS = 4


@dataclass(frozen=True)
class Snapshot:
    """One document version and its analysis."""

    uri: str
    version: int | None
    analysis: Analysis
    diagnostics: list[types.Diagnostic]  # the findings in LSP terms, converted in the worker too


class EnvlsServer(LanguageServer):
    """pygls' server plus what envls keeps between requests."""

    def __init__(self) -> None:
        super().__init__("envls", __version__, protocol_cls=EnvlsProtocol)
        self.settings = Settings()
        self.snapshots: dict[str, Snapshot] = {}
        self.generation = 0  # bumped when settings change, so cached results are not reused
        self.pending: dict[str, asyncio.Task[None]] = {}
        # Analyses run in worker threads, never on the event loop. Several workers: a 100,000-line document
        # being analysed does not hold up another document's diagnostics. A queued analysis that a newer
        # edit supersedes is cancelled before it starts.
        self.analysis_pool = ThreadPoolExecutor(max_workers=ANALYSIS_WORKERS, thread_name_prefix="envls-analysis")
        self.inflight: dict[str, tuple[tuple[int | None, int],
                                       asyncio.Future[tuple[Analysis, list[types.Diagnostic]]]]] = {}
        self.running: dict[str, concurrent.futures.Future[tuple[Analysis, list[types.Diagnostic]]]] = {}
        # Set when a newer version supersedes the analysis running for a document: a large one stops at its
        # next checkpoint instead of finishing work nobody will see (envls.lsp.pacing).
        self.superseded: dict[str, threading.Event] = {}
        self.pacer = Pacer()
        self.session = Session(self.settings.session_options())
        self.channel_tasks: dict[str, asyncio.Task[None]] = {}
        self.channel_keys: dict[str, object] = {}
        self.solve_tasks: dict[str, tuple[object, asyncio.Task[None]]] = {}
        self.pip_tasks: dict[str, tuple[object, asyncio.Task[None]]] = {}  # pip resolutions in flight, and of what
        self.watcher: asyncio.Future[None] | None = None  # looks for changed environments now and then  # the solve in flight, and of what
        # What the client shows for each document: (version, diagnostics) of the last publication.
        self.published: dict[str, tuple[int | None, list[types.Diagnostic]]] = {}

    @property
    def encoding(self) -> Encoding:
        return encoding_of(self.workspace.position_encoding)

    @property
    def pull_diagnostics(self) -> bool:
        """True when the client asks for diagnostics itself (`textDocument/diagnostic`)."""
        caps = self.client_capabilities.text_document
        return caps is not None and caps.diagnostic is not None

    def snippet_support(self) -> bool:
        caps = self.client_capabilities.text_document
        item = caps.completion.completion_item if caps and caps.completion else None
        return bool(item and item.snippet_support)

    def is_environment(self, uri: str) -> bool:
        doc = self.workspace.get_text_document(uri)
        try:
            return is_environment_file(doc.filename or uri, doc.source)
        except OSError:
            return False

    def channel_service(self) -> ChannelService | None:
        """The channel data service (None when channel checks are off)."""
        return self.session.channels

    def root_dir(self, uri: str) -> Path | None:
        path = self.workspace.get_text_document(uri).path
        return Path(path).parent if path else None

    def _analyze(self, uri: str, text: str) -> Analysis:
        """Fast stages, then the channel, CUDA and drift stages from what the session has at hand."""
        options: AnalysisOptions = self.settings.analysis_options()
        with gc_paused():
            analysis = analyze(text, options)
            return self.session.enrich(analysis, self.root_dir(uri), options)

    async def snapshot_async(self, uri: str) -> Snapshot | None:
        """The analysis of the document's current version, made in a worker thread (never on the event
        loop); None when the document moved on before it was done.

        Every waiter for one version shares one analysis (shielded: a waiter that gives up does not cancel
        it for the others); a newer version cancels the older one's analysis if it has not started yet, and
        waits for it if it has: one document never has two analyses running (they would only slow each
        other down, and every other document with them).
        """
        doc = self.workspace.get_text_document(uri)
        version, text = doc.version, doc.source
        cached = self.snapshots.get(uri)
        if cached is not None and cached.version == version and version is not None:
            return cached
        generation = self.generation
        key = (version, generation)
        inflight = self.inflight.get(uri)
        if inflight is None or inflight[0] != key or version is None:
            if inflight is not None and version is not None:
                inflight[1].cancel()  # a queued analysis of an older version is not wanted any more
                stale = self.superseded.get(uri)
                if stale is not None:
                    stale.set()  # nor a running one: a large one stops at its next checkpoint
            future: asyncio.Future[tuple[Analysis, list[types.Diagnostic]]] = asyncio.ensure_future(
                self._analysis_after_running(uri, text, self.encoding))
            inflight = (key, future)
            self.inflight[uri] = inflight
            future.add_done_callback(lambda done: self._analysed(uri, done))
        future = inflight[1]
        del cached, text  # a cancelled await keeps this frame alive until the collector runs: not the data
        try:
            analysis, diagnostics = await asyncio.shield(future)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            cancelling = getattr(task, "cancelling", None)  # Python 3.11+
            superseded = future.cancelled() and not (cancelling is not None and cancelling())
            del future, inflight, task, cancelling
            if superseded:
                return None  # superseded by a newer version, not cancelled ourselves
            raise
        if self.workspace.get_text_document(uri).version != version or self.generation != generation:
            return None
        snap = Snapshot(uri, version, analysis, diagnostics)
        self.snapshots[uri] = snap
        return snap

    async def _analysis_after_running(self, uri: str, text: str,
                                      encoding: Encoding) -> tuple[Analysis, list[types.Diagnostic]]:
        running = self.running.get(uri)
        if running is not None and not running.done():
            previous = asyncio.wrap_future(running)
            await asyncio.wait([previous])
            if not previous.cancelled():
                previous.exception()  # retrieved: a superseded analysis that stopped early is no error
            del previous
        superseded = self.superseded[uri] = threading.Event()
        work = self.analysis_pool.submit(self._analyze_and_convert, uri, text, encoding, superseded)
        end = self.pacer.announce(text)
        if end is not None:
            work.add_done_callback(lambda _: end())
        self.running[uri] = work
        waiting = asyncio.wrap_future(work)  # cancelled while queued: cancelled in the pool too
        # When this task is cancelled, its exception's traceback keeps this frame (in a cycle with the task)
        # until the collector runs: it must not hold the text, nor the work whose result is the analysis.
        del work, text
        return await waiting

    def _analyze_and_convert(self, uri: str, text: str, encoding: Encoding,
                             superseded: threading.Event | None = None) -> tuple[Analysis, list[types.Diagnostic]]:
        with self.pacer.analysing(text, superseded or threading.Event()):
            analysis = self._analyze(uri, text)
            return analysis, diagnostics_of(analysis.findings, analysis.document.index, encoding, uri)

    def _analysed(self, uri: str, done: asyncio.Future[tuple[Analysis, list[types.Diagnostic]]]) -> None:
        inflight = self.inflight.get(uri)
        if inflight is not None and inflight[1] is done:
            del self.inflight[uri]
        if not done.cancelled():
            done.exception()  # retrieved: the waiters see and log it

    def apply_settings(self, settings: Settings) -> None:
        if settings.session_options() != self.session.options:
            self.session = Session(settings.session_options())  # a new setup: channels, CUDA target, tools
        self.settings = settings  # the callers invalidate (envls.lsp.invalidation) what the settings change
        logging.getLogger("envls").setLevel(settings.log_level.upper())
        self.show_problems(settings.problems)

    def forget(self, uri: str) -> None:
        self.snapshots.pop(uri, None)
        self.published.pop(uri, None)
        for tasks in (self.pending, self.channel_tasks):
            task = tasks.pop(uri, None)
            if task is not None:
                task.cancel()
        for running in (self.solve_tasks, self.pip_tasks):
            solving = running.pop(uri, None)
            if solving is not None:
                solving[1].cancel()
        inflight = self.inflight.pop(uri, None)
        if inflight is not None:
            inflight[1].cancel()
        self.running.pop(uri, None)
        stale = self.superseded.pop(uri, None)
        if stale is not None:
            stale.set()  # a large document's analysis still running stops at its next checkpoint

    def show_problems(self, problems: tuple[str, ...]) -> None:
        for problem in problems:
            log.warning(problem)
            self.window_show_message(types.ShowMessageParams(type=types.MessageType.Warning, message=problem))
