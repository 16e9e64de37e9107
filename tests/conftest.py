"""Test-wide setup: no test reaches beyond loopback.

Channel checks are off by default (ENVLS_CHANNEL_CHECKS=0, inherited by every server and CLI
process a test starts); the channel tests turn them on against the loopback channel server,
with their own CONDARC and cache folder.
"""

from __future__ import annotations

import os

os.environ["ENVLS_CHANNEL_CHECKS"] = "0"
os.environ.pop("CONDARC", None)
