"""Which analysis gives way: a large document's analysis waits, at its checkpoints, while smaller documents are
analysed, and stops once a newer version of it is wanted (see envls.core.pace).

Worker threads share one interpreter lock: without this, a 100,000-line document being analysed (2 s of work)
doubles or triples every other document's time to diagnostics. Small analyses are short (milliseconds), so
the large one is never held for long; it waits at most `MAX_WAIT` at a checkpoint, so that steady typing in
another file cannot starve it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from envls.core.pace import Superseded, pacing

LARGE = 200_000  # characters: about 10,000 lines of an environment file; smaller ones never wait
MAX_WAIT = 0.5  # seconds a large analysis waits at one checkpoint for the small ones to finish


class Pacer:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._small = 0

    def announce(self, text: str) -> Callable[[], None] | None:
        """On the event loop, when a small document's analysis is handed to a worker: large analyses give way
        from their next checkpoint, before the worker has even started it. Returns the call that ends the
        announcement (when the analysis is done or cancelled); None for a large document."""
        if len(text) >= LARGE:
            return None
        with self._cond:
            self._small += 1
        ended = False

        def end() -> None:
            nonlocal ended
            with self._cond:
                if ended:
                    return
                ended = True
                self._small -= 1
                if not self._small:
                    self._cond.notify_all()

        return end

    @contextmanager
    def analysing(self, text: str, superseded: threading.Event) -> Iterator[None]:
        """Around one analysis in a worker thread: a small one counts as running, a large one is paced."""
        end = self.announce(text)
        if end is not None:
            try:
                yield
            finally:
                end()
            return

        def checkpoint() -> None:
            if superseded.is_set():
                raise Superseded
            if self._small:  # read without the lock: a stale answer costs one checkpoint, nothing more
                with self._cond:
                    self._cond.wait_for(lambda: not self._small or superseded.is_set(), MAX_WAIT)
                if superseded.is_set():
                    raise Superseded

        with pacing(checkpoint):
            yield
