"""The cyclic garbage collector paused while an analysis runs.

An analysis allocates a tree and findings (100,000 lines: millions of objects, nearly none in cycles);
the collector's passes over them cost about a third of the time of a large analysis and, holding the
interpreter, stall every other thread (the event loop, a small document's analysis) for 100 ms and more.
Reference counting still frees what an analysis drops; the collector resumes when no analysis runs, with
what the analyses kept moved to its oldest generation.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_running = 0
_state: dict[str, bool] = {}  # whether the collector was on when the first analysis began


@contextmanager
def gc_paused() -> Iterator[None]:
    global _running
    with _lock:
        _running += 1
        if _running == 1:
            was_enabled = gc.isenabled()
            gc.disable()
            _state["enabled"] = was_enabled
    try:
        yield
    finally:
        with _lock:
            _running -= 1
            if _running == 0 and _state.get("enabled", True):
                # What the analyses allocated and kept (a large document's tree: a million objects) would all
                # be in the youngest generation now, and the collector's next passes would scan it there and
                # again in the middle one, stalling every thread for 100 ms and more each time. Freezing and
                # unfreezing moves every tracked object to the oldest generation at once (no scan): garbage
                # in cycles among them is still collected, by the next full collection.
                gc.freeze()
                gc.unfreeze()
                gc.enable()

