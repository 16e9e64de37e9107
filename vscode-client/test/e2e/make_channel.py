"""Builds the conda channel that the end-to-end test serves on 127.0.0.1: `python make_channel.py DIR`.

It reuses the actions tests' builder (tests/actions_support.py): a `python` whose payload points
at the interpreter running this script, `e2e-lib`, which needs it, and `e2e-slow` (the test serves
it slowly, to cancel its download). Prints the channel folder.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "tests"))

from actions_support import Pkg, build_channel  # noqa: E402


def main() -> None:
    out = Path(sys.argv[1]).resolve()
    channel = build_channel(out / "channel", [Pkg("e2e-lib", depends=("python",)), Pkg("e2e-slow")])
    print(channel, flush=True)  # noqa: T201 - the caller reads it
    # py-rattler-build's threads can abort the interpreter's finalization (PyGILState_Release:
    # "thread state must be current"); the channel is complete here, so skip finalization.
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
