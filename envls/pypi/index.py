"""A client for package indexes' Simple API: a project's releases, fetched and cached on disk.

Asks for PEP 691 JSON (``application/vnd.pypi.simple.v1+json``) and reads PEP 503 HTML when that is
what comes back (envls/pypi/pages.py reads both). Pages are fetched with urllib in worker threads,
under a total deadline per request; a project's summary (not the page) is cached under the envls
cache folder and used while fresh, and again when the index cannot be reached (with its age).
An index that fails with a network error is not asked again for a minute, so a file with many
requirements costs one timeout, not one per requirement.

The PEP 658 metadata of a release's wheel (its Requires-Dist) is fetched only when asked for, by URL, at
most ``_MAX_METADATA_BYTES``; a release's files never change, so what was read is cached on disk for good.
Credentials go only to the index's own host.
"""

from __future__ import annotations

import asyncio
import base64
import email.parser
import hashlib
import json
import logging
import os
import re
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from envls.channels.store import default_cache_dir
from envls.core.pip.facts import Release, display_url
from envls.pypi.pages import FileEntry, parse_html, parse_json, releases_of

log = logging.getLogger(__name__)

ACCEPT = ("application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, "
          "text/html;q=0.01")
_JSON_TYPES = ("application/vnd.pypi.simple.v1+json", "application/json")
_MAX_BYTES = 64 * 1024 * 1024
_MAX_METADATA_BYTES = 1024 * 1024
_CACHE_FORMAT = 2  # 2: releases carry the URL of their metadata file
_DOWN_FOR = 60.0  # seconds an index that failed with a network error is not asked again

PageState = Literal["ok", "missing", "unreachable"]


@dataclass(frozen=True)
class ProjectPage:
    """What one index answered for one project."""

    index: str  # display URL
    name: str  # canonical
    state: PageState
    releases: tuple[Release, ...] = ()
    detail: str = ""
    fetched_at: float | None = None
    from_cache: bool = False  # the index was not reached; this is the cached answer


class IndexFetchError(Exception):
    """The index gave no answer: ``network`` when it could not be reached at all (refused, timed out)."""

    def __init__(self, detail: str, network: bool = False) -> None:
        super().__init__(detail)
        self.network = network


# -- the client ------------------------------------------------------------------------------


def _split_credentials(url: str) -> tuple[str, dict[str, str]]:
    """The URL without user:password, and the Authorization header they make."""
    parts = urllib.parse.urlsplit(url)
    if not parts.username and not parts.password:
        return url, {}
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    clean = urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    user = urllib.parse.unquote(parts.username or "")
    password = urllib.parse.unquote(parts.password or "")
    token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    return clean, {"Authorization": f"Basic {token}"}


def _release_json(release: Release) -> dict[str, Any]:
    return {"v": str(release.version), "n": release.files, "y": release.yanked, "r": release.yanked_reason,
            "p": list(release.requires_python), "m": release.metadata_url}


def _release_from_json(data: dict[str, Any]) -> Release:
    return Release(Version(data["v"]), int(data["n"]), bool(data["y"]), str(data["r"]), tuple(data["p"]),
                   str(data.get("m") or ""))


def requires_dist(metadata: str) -> tuple[str, ...]:
    """The Requires-Dist fields of a core metadata file (RFC 822 headers; the body is the description)."""
    headers = email.parser.HeaderParser().parsestr(metadata, headersonly=True)
    return tuple(str(v).strip() for v in headers.get_all("Requires-Dist") or ())


_STATES = ("ok", "missing", "unreachable")  # the PageState values


class IndexClient:
    """Project pages from Simple API indexes, shared by every open document."""

    def __init__(self, cache_dir: Path | None = None, refresh_after: float = 6 * 3600, timeout: float = 10.0,
                 workers: int = 8) -> None:
        self.cache_dir = (cache_dir or default_cache_dir()) / "pypi"
        self.refresh_after = refresh_after
        self.timeout = timeout
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="envls-pypi")
        self._pages: dict[tuple[str, str], ProjectPage] = {}
        self._loading: dict[tuple[str, str], tuple[asyncio.AbstractEventLoop, asyncio.Future[ProjectPage]]] = {}
        self._down: dict[str, tuple[float, str]] = {}
        self._metadata: dict[str, tuple[str, ...] | None] = {}
        self._lock = threading.Lock()

    # -- cache -------------------------------------------------------------------------------

    def _cache_path(self, index: str, name: str) -> Path:
        clean, _ = _split_credentials(index)
        digest = hashlib.sha256(clean.rstrip("/").encode("utf-8")).hexdigest()[:16]
        return self.cache_dir / digest / f"{name}.json"

    def _read_cache(self, index: str, name: str) -> tuple[ProjectPage, str] | None:
        path = self._cache_path(index, name)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, dict) or data.get("format") != _CACHE_FORMAT or data.get("state") not in _STATES:
                raise ValueError("not a page envls wrote")
            releases = tuple(_release_from_json(r) for r in data["releases"])
            page = ProjectPage(display_url(index), name, data["state"], releases, fetched_at=float(data["fetched_at"]))
            return page, str(data.get("etag") or "")
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError, AttributeError, InvalidVersion) as err:
            # Damaged (or written by someone else): ignored, and replaced by the next fetch.
            log.debug("ignoring the cached page %s: %s", path, err)
            return None

    def _write_cache(self, index: str, page: ProjectPage, etag: str) -> None:
        path = self._cache_path(index, page.name)
        data = {"format": _CACHE_FORMAT, "index": display_url(index), "state": page.state, "fetched_at": page.fetched_at,
                "etag": etag, "releases": [_release_json(r) for r in page.releases]}
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
            tmp.write_text(json.dumps(data, separators=(",", ":")), encoding="utf-8")
            tmp.replace(path)
        except OSError as err:
            log.debug("cannot write %s: %s", path, err)

    def _fresh(self, page: ProjectPage) -> bool:
        if page.fetched_at is None or page.from_cache:
            return False
        limit = self.refresh_after if page.state == "ok" else min(self.refresh_after, 3600.0)
        return time.time() - page.fetched_at <= limit

    # -- fetching ----------------------------------------------------------------------------

    def known(self, index: str, name: str) -> ProjectPage | None:
        """What is in memory, without any I/O."""
        return self._pages.get((index, str(canonicalize_name(name))))

    def page(self, index: str, name: str) -> ProjectPage:
        """The project's page from ``index`` (blocking: run it in a thread)."""
        name = str(canonicalize_name(name))
        key = (index, name)
        known = self._pages.get(key)
        if known is not None and self._fresh(known):
            return known
        cached = self._read_cache(index, name)
        if cached is not None and self._fresh(cached[0]):
            self._pages[key] = cached[0]
            return cached[0]
        page = self._fetch(index, name, cached)
        self._pages[key] = page
        return page

    async def page_async(self, index: str, name: str) -> ProjectPage:
        """Like page(), in the client's worker threads; concurrent callers share one request."""
        key = (index, str(canonicalize_name(name)))
        known = self._pages.get(key)
        if known is not None and self._fresh(known):
            return known
        loop = asyncio.get_running_loop()
        pending = self._loading.get(key)
        if pending is None or pending[0] is not loop or pending[1].done():
            future = loop.run_in_executor(self._pool, self.page, index, name)
            self._loading[key] = (loop, future)
            future.add_done_callback(lambda done: self._loading.pop(key, None)
                                     if self._loading.get(key, (None, None))[1] is done else None)
            pending = (loop, future)
        # A cancelled caller leaves the request running: the next keystroke wants the same page.
        return await asyncio.shield(pending[1])

    def _fetch(self, index: str, name: str, cached: tuple[ProjectPage, str] | None) -> ProjectPage:
        shown = display_url(index)
        down = self._down.get(index)
        if down is not None and time.time() - down[0] < _DOWN_FOR:
            return self._fallback(shown, name, cached, down[1])
        etag = cached[1] if cached is not None else ""
        try:
            status, content_type, body, new_etag = self._request(index, name, etag)
        except IndexFetchError as err:
            detail = str(err)
            if err.network:
                with self._lock:
                    self._down[index] = (time.time(), detail)
            log.info("index %s: %s: %s", shown, name, detail)
            return self._fallback(shown, name, cached, detail)
        with self._lock:
            self._down.pop(index, None)
        now = time.time()
        if status == 304 and cached is not None:
            page = ProjectPage(shown, name, cached[0].state, cached[0].releases, fetched_at=now)
            self._write_cache(index, page, etag)
            return page
        if status in (404, 410):
            page = ProjectPage(shown, name, "missing", fetched_at=now)
            self._write_cache(index, page, "")
            return page
        try:
            files = self._files(content_type, body)
        except (ValueError, UnicodeDecodeError) as err:
            detail = f"unreadable answer for `{name}` ({err})"
            return self._fallback(shown, name, cached, detail)
        page_url = _split_credentials(index)[0].rstrip("/") + "/" + urllib.parse.quote(name) + "/"
        page = ProjectPage(shown, name, "ok", releases_of(files, name, page_url), fetched_at=now)
        self._write_cache(index, page, new_etag)
        return page

    @staticmethod
    def _fallback(shown: str, name: str, cached: tuple[ProjectPage, str] | None, detail: str) -> ProjectPage:
        if cached is not None:
            old = cached[0]
            return ProjectPage(shown, name, old.state, old.releases, detail, old.fetched_at, from_cache=True)
        return ProjectPage(shown, name, "unreachable", detail=detail, fetched_at=time.time())

    @staticmethod
    def _files(content_type: str, body: bytes) -> list[FileEntry]:
        kind = content_type.split(";", 1)[0].strip().lower()
        charset = re.search(r"charset=([\w.-]+)", content_type)
        text = body.decode(charset.group(1) if charset else "utf-8", errors="strict")
        if kind in _JSON_TYPES:
            return parse_json(json.loads(text))
        if kind in ("text/html", "application/vnd.pypi.simple.v1+html", "") or "html" in kind:
            return parse_html(text)
        raise ValueError(f"content type {kind}")

    def _request(self, index: str, name: str, etag: str) -> tuple[int, str, bytes, str]:
        clean, headers = _split_credentials(index)
        url = clean.rstrip("/") + "/" + urllib.parse.quote(name) + "/"
        headers = {**headers, "Accept": ACCEPT, "User-Agent": "envls"}
        if etag:
            headers["If-None-Match"] = etag
        request = urllib.request.Request(url, headers=headers)
        deadline = time.monotonic() + self.timeout
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                chunks: list[bytes] = []
                size = 0
                while True:
                    if time.monotonic() > deadline:
                        raise _network("timed out")
                    chunk = response.read(65536)
                    if not chunk:
                        break
                    size += len(chunk)
                    if size > _MAX_BYTES:
                        raise IndexFetchError(f"the page of `{name}` is larger than {_MAX_BYTES // 2 ** 20} MiB")
                    chunks.append(chunk)
                return (response.status, response.headers.get("Content-Type", ""), b"".join(chunks),
                        response.headers.get("ETag", "") or "")
        except urllib.error.HTTPError as err:
            if err.code in (304, 404, 410):
                return err.code, "", b"", ""
            if err.code >= 500:
                raise IndexFetchError(f"server error {err.code}") from None
            hint = " (credentials?)" if err.code in (401, 403) else ""
            raise IndexFetchError(f"HTTP status {err.code}{hint}") from None
        except TimeoutError:
            raise _network("timed out") from None
        except urllib.error.URLError as err:
            raise _network(_reason(err.reason)) from None
        except (ConnectionError, OSError) as err:
            raise _network(_reason(err)) from None

    # -- metadata (PEP 658) ------------------------------------------------------------------

    def _metadata_path(self, url: str) -> Path:
        return self.cache_dir / "metadata" / f"{hashlib.sha256(url.encode('utf-8')).hexdigest()[:32]}.json"

    def metadata(self, url: str, indexes: tuple[str, ...] = ()) -> tuple[str, ...] | None:
        """The Requires-Dist of the metadata file at ``url`` (blocking: run it in a thread); None when it cannot
        be had. ``indexes``: the index URLs (with credentials) whose host may be sent them."""
        known = self._metadata.get(url)
        if known is not None or url in self._metadata:
            return known
        path = self._metadata_path(url)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(data, dict) and isinstance(data.get("requires"), list):
                cached = tuple(str(r) for r in data["requires"])
                self._metadata[url] = cached
                return cached
        except (OSError, ValueError):
            pass
        found = self._fetch_metadata(url, indexes)
        if found is not None:
            self._metadata[url] = found
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
                tmp.write_text(json.dumps({"requires": list(found)}), encoding="utf-8")
                tmp.replace(path)
            except OSError as err:
                log.debug("cannot write %s: %s", path, err)
        return found

    async def metadata_async(self, url: str, indexes: tuple[str, ...] = ()) -> tuple[str, ...] | None:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self.metadata, url, indexes)

    def _fetch_metadata(self, url: str, indexes: tuple[str, ...]) -> tuple[str, ...] | None:
        host = urllib.parse.urlsplit(url)[:2]
        headers = {"User-Agent": "envls"}
        for index in indexes:
            clean, auth = _split_credentials(index)
            if auth and urllib.parse.urlsplit(clean)[:2] == host:
                headers.update(auth)
                break
        deadline = time.monotonic() + self.timeout
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=self.timeout) as response:
                body = response.read(_MAX_METADATA_BYTES + 1)
                if len(body) > _MAX_METADATA_BYTES or time.monotonic() > deadline:
                    return None
            return requires_dist(body.decode("utf-8", errors="replace"))
        except (urllib.error.URLError, OSError, ValueError) as err:
            log.info("metadata %s: %s", display_url(url), err)
            return None

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def _network(detail: str) -> IndexFetchError:
    return IndexFetchError(detail, network=True)


def _reason(reason: object) -> str:
    if isinstance(reason, TimeoutError):
        return "timed out"
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    if isinstance(reason, socket.gaierror):
        return "name not resolved"
    text = str(reason) or type(reason).__name__
    return text.splitlines()[0][:160]
