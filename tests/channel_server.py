"""A real HTTP server on 127.0.0.1 serving the shared channel snapshots, with faults switchable per path.

Channel tests talk HTTP to this server and to nothing else. Faults are set per URL path prefix
(``/channels/<name>/...``): answer 500, answer the first half of the file (truncated JSON),
hang longer than the client's timeout, answer 404, or answer correctly after ``slow_seconds``.
``stop()`` closes the port entirely, so a client then sees "connection refused" at the same URL,
which is what the offline tests need. Every request path is recorded in ``requests``, and every answer
as (path, status) in ``answers``. Like Python's http.server it answers a conditional GET (If-Modified-Since)
with a 304 that repeats no validators.
"""

from __future__ import annotations

import functools
import os
import sys
import threading
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal

import yaml

SHARED = Path(__file__).resolve().parents[2] / "shared"
DATA = SHARED / "data"
CHANNELS = DATA / "channels"

Fault = Literal["500", "truncate", "hang", "404", "slow"]


class _Handler(SimpleHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        pass  # quiet: tests read `requests` instead

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        status = int(code) if isinstance(code, int) or str(code).isdigit() else 0
        self.server.owner.answers.append((self.path.split("?", 1)[0], status))

    def _fault(self) -> Fault | None:
        path = self.path.split("?", 1)[0]
        self.server.owner.requests.append(path)
        for prefix, fault in self.server.owner.faults.items():
            if path.startswith(prefix):
                return fault
        return None

    def _serve(self, head: bool) -> None:
        fault = self._fault()
        if fault == "hang":
            # Longer than any client timeout the tests use; stop() ends the wait at once.
            self.server.owner.stopping.wait(self.server.owner.hang_seconds)
            self.close_connection = True
            return
        if fault == "slow":
            self.server.owner.stopping.wait(self.server.owner.slow_seconds)
        if fault == "500":
            self.send_error(HTTPStatus.INTERNAL_SERVER_ERROR, "injected fault")
            return
        if fault == "404":
            self.send_error(HTTPStatus.NOT_FOUND, "injected fault")
            return
        if fault == "truncate":
            path = Path(self.translate_path(self.path))
            if not path.is_file():
                self.send_error(HTTPStatus.NOT_FOUND)
                return
            if path.suffix != ".json":
                # Only the plain JSON is offered, cut in half: no .zst/.bz2/shards to fall back on.
                self.send_error(HTTPStatus.NOT_FOUND)
                return
            data = path.read_bytes()
            body = data[: len(data) // 2]
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if not head:
                self.wfile.write(body)
            return
        if head:
            super().do_HEAD()
        else:
            super().do_GET()

    def do_GET(self) -> None:
        self._serve(head=False)

    def do_HEAD(self) -> None:
        self._serve(head=True)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    # The gateway opens many connections at once (every subdir, .zst/.bz2/shard probes); the default
    # backlog of 5 drops some of them, and the client then waits out its timeout.
    request_queue_size = 256
    owner: ChannelServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up mid-answer (envls stops waiting for a channel past its limit) is normal:
        # socketserver would print its traceback to the test run's stderr.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class ChannelServer:
    """``/work/shared/data`` over HTTP on 127.0.0.1 (an ephemeral port), in a background thread."""

    def __init__(self, root: Path = DATA, hang_seconds: float = 30.0, slow_seconds: float = 1.0,
                 port: int = 0) -> None:
        self.root = root
        self.hang_seconds = hang_seconds
        self.slow_seconds = slow_seconds
        self.faults: dict[str, Fault] = {}
        self.requests: list[str] = []
        self.answers: list[tuple[str, int]] = []
        self.stopping = threading.Event()
        handler = functools.partial(_Handler, directory=os.fspath(root))
        self._httpd = _Server(("127.0.0.1", port), handler)
        self._httpd.owner = self
        self.port = int(self._httpd.server_address[1])
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="channel-server", daemon=True)
        self._thread.start()
        self.running = True

    def channel(self, name: str) -> str:
        """The URL of a channel folder under ``shared/data/channels``."""
        return f"{self.base_url}/channels/{name}"

    def fault(self, channel_or_prefix: str, fault: Fault | None) -> None:
        """Set (or clear, with None) a fault for a channel name or for any URL path prefix."""
        prefix = channel_or_prefix if channel_or_prefix.startswith("/") else f"/channels/{channel_or_prefix}/"
        if fault is None:
            self.faults.pop(prefix, None)
        else:
            self.faults[prefix] = fault

    def stop(self) -> None:
        """Close the port: from now on a client is refused."""
        if not self.running:
            return
        self.running = False
        self.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)

    def __enter__(self) -> ChannelServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def condarc(tmp_path: Path, base_url: str, channels: list[str] | None = None, **extra: object) -> Path:
    """Write a `.condarc` that puts every channel name (and `defaults`) on the loopback server."""
    data: dict[str, object] = {
        "channel_alias": f"{base_url}/channels",
        "default_channels": [f"{base_url}/channels/defaults-main-2021-07-01"],
        "channels": channels if channels is not None else [],
        **extra,
    }
    path = tmp_path / "condarc.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path
