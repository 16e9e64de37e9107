"""The uv executable that comes with envls (the `uv` package), found once."""

from __future__ import annotations

import logging
import threading

log = logging.getLogger(__name__)

_UV_LOCK = threading.Lock()
_uv_found: tuple[str | None] | None = None


def uv_binary() -> str | None:
    """The uv executable of the `uv` package installed with envls; None without it. Looked up once, under a
    lock: `uv.find_uv_bin` reads `sysconfig`, whose first use is not thread-safe before Python 3.12 (a
    second thread saw `get_config_var("EXE")` as None while the first was filling it in)."""
    global _uv_found
    with _UV_LOCK:
        if _uv_found is None:
            _uv_found = (_find_uv(),)
        return _uv_found[0]


def _find_uv() -> str | None:
    try:
        from uv import find_uv_bin
    except ImportError:
        return None
    try:
        return str(find_uv_bin())
    except Exception as err:  # a third party's lookup: whatever it raises, there is no uv to run
        log.warning("the uv executable was not found (%s); the pip section is not resolved", err)
        return None
