"""Checkpoints in long analyses, where the analysis of a large document gives way to others or stops.

An analysis is pure and runs on one thread; the server runs several at once in worker threads, which share
one interpreter lock, so a 100,000-line document being analysed would slow every other document's
diagnostics by half or more. The loops over a file's entries pass through `paced`, and the YAML parser's
events through `ticking`: with no hook installed (`envls check`, tests, small documents) they cost nothing.
For a large document the server installs a hook in that worker thread which waits while smaller
documents are being analysed, and raises `Superseded` once a newer version of the document is wanted (as
rust-analyzer's analyses check for cancellation in their long loops).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")
Hook = Callable[[], None]

EVERY = 128  # items (or parser events) between two checkpoints: about a millisecond of work, at most

_local = threading.local()


class Superseded(BaseException):  # noqa: N818 - as asyncio.CancelledError: no `except Exception` may swallow it
    """The document moved on: this analysis is not wanted any more."""


def current_hook() -> Hook | None:
    hook: Hook | None = getattr(_local, "hook", None)
    return hook


@contextmanager
def pacing(hook: Hook) -> Iterator[None]:
    """Run the analyses of this thread with ``hook`` called at their checkpoints."""
    previous = current_hook()
    _local.hook = hook
    try:
        yield
    finally:
        _local.hook = previous


def paced(items: Sequence[T]) -> Iterable[T]:
    """``items`` themselves when no hook is installed (or they are few); else the same items, with the hook
    called every `EVERY` of them."""
    hook = current_hook()
    if hook is None or len(items) <= EVERY:
        return items
    return _ticking(items, hook)


def ticking(items: Iterable[T]) -> Iterable[T]:
    """As `paced`, for an iterable of unknown length (the parser's events)."""
    hook = current_hook()
    return items if hook is None else _ticking(items, hook)


def _ticking(items: Iterable[T], hook: Hook) -> Iterator[T]:
    for i, item in enumerate(items):
        if not i % EVERY:
            hook()
        yield item
