"""A real package index on 127.0.0.1 for the pip tests: PEP 503 HTML and PEP 691 JSON project pages,
serving wheels and sdists that the tests build themselves, with each wheel's METADATA also served on its
own as a PEP 658 file (`<file>.metadata`, announced as `core-metadata` in JSON and `data-core-metadata`
in HTML) and each file's size (PEP 700), so a resolver can work from metadata alone.

``/simple/<project>/`` answers JSON when the client's Accept header asks for
``application/vnd.pypi.simple.v1+json`` and HTML otherwise, with each file's sha256, its
Requires-Python (read from the wheel's METADATA, as an index does) and PEP 592 yanking. ``/files/<name>``
serves the files. Modes switch the whole server: ``html`` (HTML whatever was asked), ``500``, ``slow``
(answer after ``slow_seconds``), ``404``; ``stop()`` closes the port ("down"). ETags are sent and
``If-None-Match`` answered with 304. Requests are recorded with their headers.
"""

from __future__ import annotations

import base64
import email.parser
import hashlib
import html
import io
import json
import os
import threading
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Literal

from packaging.utils import canonicalize_name

Mode = Literal["normal", "html", "500", "slow", "404"]


class _Server(ThreadingHTTPServer):
    request_queue_size = 64  # the client opens 8 connections at once; socketserver's 5 would drop some SYNs
    daemon_threads = True


def build_wheel(name: str, version: str, requires_python: str | None = None, tag: str = "py3-none-any",
                requires: Sequence[str] = (), extras: Sequence[str] = (), padding: int = 0) -> tuple[str, bytes]:
    """A minimal valid wheel: one module, and dist-info with METADATA (Requires-Dist, Provides-Extra),
    WHEEL and RECORD; ``padding`` bytes of incompressible data make it that much larger."""
    dist = f"{str(canonicalize_name(name)).replace('-', '_')}-{version}"
    module = str(canonicalize_name(name)).replace("-", "_")
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    if requires_python:
        metadata += f"Requires-Python: {requires_python}\n"
    metadata += "".join(f"Provides-Extra: {extra}\n" for extra in extras)
    metadata += "".join(f"Requires-Dist: {requirement}\n" for requirement in requires)
    contents = {
        f"{module}/__init__.py": f"__version__ = {version!r}\n".encode(),
        f"{dist}.dist-info/METADATA": metadata.encode(),
        f"{dist}.dist-info/WHEEL": f"Wheel-Version: 1.0\nGenerator: envls-tests\nRoot-Is-Purelib: true\nTag: {tag}\n"
        .encode(),
    }
    if padding:
        contents[f"{module}/data.bin"] = os.urandom(padding)
    record = []
    for path, data in contents.items():
        encoded = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={encoded},{len(data)}")
    record.append(f"{dist}.dist-info/RECORD,,")
    contents[f"{dist}.dist-info/RECORD"] = ("\n".join(record) + "\n").encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, data in contents.items():
            archive.writestr(path, data)
    return f"{dist}-{tag}.whl", buffer.getvalue()


def wheel_metadata(data: bytes) -> bytes:
    """A wheel's METADATA file, as an index extracts it for PEP 658."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        return archive.read(name)


def wheel_requires_python(data: bytes) -> str | None:
    """Requires-Python from a wheel's METADATA, as an index reads it."""
    message = email.parser.Parser().parsestr(wheel_metadata(data).decode())
    return message.get("Requires-Python")


@dataclass
class Hosted:
    filename: str
    data: bytes
    requires_python: str | None = None
    yanked: str | bool = False  # a reason, True, or False
    metadata: bytes | None = None  # the PEP 658 file, for wheels


@dataclass
class IndexServer:
    projects: dict[str, list[Hosted]] = field(default_factory=dict)
    mode: Mode = "normal"
    slow_seconds: float = 3.0
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.stopping = threading.Event()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                owner.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
                try:
                    owner.answer(self)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (the slow mode's point)

        self._server = _Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/simple"

    def add_wheel(self, name: str, version: str, requires_python: str | None = None,
                  yanked: str | bool = False, requires: Sequence[str] = (), extras: Sequence[str] = (),
                  padding: int = 0) -> None:
        filename, data = build_wheel(name, version, requires_python, requires=requires, extras=extras,
                                     padding=padding)
        self.projects.setdefault(str(canonicalize_name(name)), []).append(
            Hosted(filename, data, wheel_requires_python(data), yanked, wheel_metadata(data)))

    def add_file(self, name: str, filename: str, data: bytes = b"", requires_python: str | None = None) -> None:
        self.projects.setdefault(str(canonicalize_name(name)), []).append(Hosted(filename, data, requires_python))

    def project_requests(self) -> list[str]:
        return [path for path, _ in self.requests if path.startswith("/simple/")]

    # -- answers ------------------------------------------------------------------------------

    def answer(self, handler: BaseHTTPRequestHandler) -> None:
        if self.mode == "slow":
            self.stopping.wait(self.slow_seconds)
        if self.mode == "500":
            handler.send_error(HTTPStatus.INTERNAL_SERVER_ERROR, "injected fault")
            return
        path = handler.path.split("?", 1)[0]
        if path.startswith("/files/"):
            self._file(handler, path[len("/files/"):])
            return
        parts = [p for p in path.split("/") if p]
        if len(parts) != 2 or parts[0] != "simple" or self.mode == "404":
            handler.send_error(HTTPStatus.NOT_FOUND)
            return
        name = parts[1]
        if name != canonicalize_name(name):
            handler.send_response(HTTPStatus.MOVED_PERMANENTLY)
            handler.send_header("Location", f"/simple/{canonicalize_name(name)}/")
            handler.end_headers()
            return
        files = self.projects.get(name)
        if files is None:
            handler.send_error(HTTPStatus.NOT_FOUND)
            return
        wants_json = "application/vnd.pypi.simple.v1+json" in (handler.headers.get("Accept") or "")
        if wants_json and self.mode != "html":
            body = json.dumps(self._json(name, files)).encode()
            content_type = "application/vnd.pypi.simple.v1+json"
        else:
            body = self._html(name, files).encode()
            content_type = "text/html; charset=utf-8"
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        if handler.headers.get("If-None-Match") == etag:
            handler.send_response(HTTPStatus.NOT_MODIFIED)
            handler.send_header("ETag", etag)
            handler.end_headers()
            return
        handler.send_response(HTTPStatus.OK)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        handler.send_header("ETag", etag)
        handler.end_headers()
        handler.wfile.write(body)

    def _file(self, handler: BaseHTTPRequestHandler, filename: str) -> None:
        for files in self.projects.values():
            for hosted in files:
                data = hosted.data if hosted.filename == filename else None
                if hosted.metadata is not None and f"{hosted.filename}.metadata" == filename:
                    data = hosted.metadata
                if data is not None:
                    handler.send_response(HTTPStatus.OK)
                    handler.send_header("Content-Type", "application/octet-stream")
                    handler.send_header("Content-Length", str(len(data)))
                    handler.end_headers()
                    handler.wfile.write(data)
                    return
        handler.send_error(HTTPStatus.NOT_FOUND)

    @staticmethod
    def _json(name: str, files: list[Hosted]) -> dict[str, object]:
        return {
            "meta": {"api-version": "1.1"},
            "name": name,
            "files": [{
                "filename": f.filename, "url": f"/files/{f.filename}",
                "hashes": {"sha256": hashlib.sha256(f.data).hexdigest()}, "size": len(f.data),
                **({"core-metadata": {"sha256": hashlib.sha256(f.metadata).hexdigest()}} if f.metadata else {}),
                **({"requires-python": f.requires_python} if f.requires_python else {}),
                **({"yanked": f.yanked} if f.yanked else {}),
            } for f in files],
        }

    @staticmethod
    def _html(name: str, files: list[Hosted]) -> str:
        links = []
        for f in files:
            attrs = f'href="/files/{f.filename}#sha256={hashlib.sha256(f.data).hexdigest()}"'
            if f.requires_python:
                attrs += f' data-requires-python="{html.escape(f.requires_python)}"'
            if f.metadata is not None:
                attrs += f' data-core-metadata="sha256={hashlib.sha256(f.metadata).hexdigest()}"'
            if f.yanked:
                attrs += f' data-yanked="{html.escape(f.yanked) if isinstance(f.yanked, str) else ""}"'
            links.append(f"    <a {attrs}>{html.escape(f.filename)}</a><br/>")
        return ("<!DOCTYPE html>\n<html><head><meta name=\"pypi:repository-version\" content=\"1.0\">"
                f"<title>Links for {name}</title></head>\n<body><h1>Links for {name}</h1>\n" + "\n".join(links)
                + "\n</body></html>\n")

    def stop(self) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> IndexServer:
        return self

    def __exit__(self, *exc: object) -> None:
        if not self.stopping.is_set():
            self.stop()
