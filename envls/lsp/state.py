"""The server's state: settings, client facts, and one analysis per open document version."""

from __future__ import annotations

import asyncio
import logging
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
from envls.lsp.convert import encoding_of
from envls.lsp.settings import Settings
from envls.session import Session

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Snapshot:
    """One document version and its analysis."""

    uri: str
    version: int | None
    analysis: Analysis


class EnvlsServer(LanguageServer):
    """pygls' server plus what envls keeps between requests."""

    def __init__(self) -> None:
        super().__init__("envls", __version__)
        self.settings = Settings()
        self.snapshots: dict[str, Snapshot] = {}
        self.generation = 0  # bumped when settings change, so cached results are not reused
        self.pending: dict[str, asyncio.Task[None]] = {}
        # One worker: analyses queue behind each other, and a queued one that is
        # superseded by a newer edit is cancelled before it starts.
        self.analysis_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="envls-analysis")
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
        analysis = analyze(text, options)
        return self.session.enrich(analysis, self.root_dir(uri), options)

    def snapshot(self, uri: str) -> Snapshot:
        """The analysis of the document's current version, computed now if it is not cached."""
        doc = self.workspace.get_text_document(uri)
        cached = self.snapshots.get(uri)
        if cached is not None and cached.version == doc.version and doc.version is not None:
            return cached
        try:
            text = doc.source
        except OSError:  # neither open nor on disk: an empty document
            text = ""
        snap = Snapshot(uri, doc.version, self._analyze(uri, text))
        self.snapshots[uri] = snap
        return snap

    async def snapshot_async(self, uri: str) -> Snapshot | None:
        """Like snapshot(), with the analysis in the worker thread; None if the document moved on."""
        doc = self.workspace.get_text_document(uri)
        version, text = doc.version, doc.source
        cached = self.snapshots.get(uri)
        if cached is not None and cached.version == version and version is not None:
            return cached
        loop = asyncio.get_running_loop()
        analysis = await loop.run_in_executor(self.analysis_pool, self._analyze, uri, text)
        if self.workspace.get_text_document(uri).version != version:
            return None
        snap = Snapshot(uri, version, analysis)
        self.snapshots[uri] = snap
        return snap

    def apply_settings(self, settings: Settings) -> None:
        if settings.session_options() != self.session.options:
            self.session = Session(settings.session_options())  # a new setup: channels, CUDA target, tools
        self.settings = settings
        self.generation += 1
        self.snapshots.clear()
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

    def show_problems(self, problems: tuple[str, ...]) -> None:
        for problem in problems:
            log.warning(problem)
            self.window_show_message(types.ShowMessageParams(type=types.MessageType.Warning, message=problem))
