"""Reading Simple API project pages: PEP 691 JSON and PEP 503 HTML into files, files into releases.

No I/O: text in, releases out. Versions come from the file names (wheels as ``packaging`` parses
them; sdists by the project name's normalised prefix, as pip does), with PEP 592 yanking and each
file's Requires-Python. Files that are neither (installers, eggs) and versions that do not parse are left out.
Each release also keeps where the PEP 658 metadata of one of its wheels is (``<file URL>.metadata``, announced
as `core-metadata` in JSON, `data-core-metadata` in HTML, or by their PEP 714 predecessors `dist-info-metadata`).
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

from packaging.utils import InvalidSdistFilename, InvalidWheelFilename, canonicalize_name, parse_wheel_filename
from packaging.version import InvalidVersion, Version

from envls.core.pip.facts import Release

_SDIST_SUFFIXES = (".tar.gz", ".zip", ".tar.bz2", ".tgz", ".tar.xz", ".tar")


@dataclass(frozen=True)
class FileEntry:
    """One file of a project page."""

    filename: str
    requires_python: str = ""
    yanked: bool = False
    yanked_reason: str = ""
    url: str = ""  # as the page gives it: absolute, or relative to the page
    core_metadata: bool = False  # the index serves the file's METADATA at `<url>.metadata` (PEP 658)


def _announced(value: object) -> bool:
    """Whether a `core-metadata` value says the metadata file exists: true, or a dictionary of hashes (PEP 691)."""
    return value is True or isinstance(value, dict)


class _LinkParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.files: list[FileEntry] = []
        self._anchor: dict[str, str | None] | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._anchor = dict(attrs)
            self._text = []

    def handle_data(self, data: str) -> None:
        if self._anchor is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag != "a" or self._anchor is None:
            return
        anchor, self._anchor = self._anchor, None
        href = anchor.get("href") or ""
        name = "".join(self._text).strip() or urllib.parse.unquote(urllib.parse.urlsplit(href).path.rsplit("/", 1)[-1])
        if not name:
            return
        yanked = "data-yanked" in anchor
        metadata = next((anchor[k] for k in ("data-core-metadata", "data-dist-info-metadata") if k in anchor), None)
        announced = metadata is not None and metadata.strip().lower() != "false"
        self.files.append(FileEntry(name, (anchor.get("data-requires-python") or "").strip(), yanked,
                                    (anchor.get("data-yanked") or "").strip(), href, announced))


def parse_html(text: str) -> list[FileEntry]:
    """The files of a PEP 503 project page."""
    parser = _LinkParser()
    parser.feed(text)
    parser.close()
    return parser.files


def parse_json(data: Any) -> list[FileEntry]:
    """The files of a PEP 691 project page."""
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    meta = data.get("meta", {})
    version = str(meta.get("api-version", "1.0")) if isinstance(meta, dict) else "1.0"
    if not version.startswith("1."):
        raise ValueError(f"Simple API version {version} is not supported")
    files = data.get("files")
    if not isinstance(files, list):
        raise ValueError("no `files` list")
    entries = []
    for item in files:
        if not isinstance(item, dict) or not isinstance(item.get("filename"), str):
            continue
        yanked = item.get("yanked", False)
        requires = item.get("requires-python")
        url = item.get("url")
        metadata = item.get("core-metadata", item.get("dist-info-metadata", False))
        entries.append(FileEntry(item["filename"], requires.strip() if isinstance(requires, str) else "",
                                 bool(yanked), yanked if isinstance(yanked, str) else "",
                                 url if isinstance(url, str) else "", _announced(metadata)))
    return entries


def version_of(filename: str, project: str) -> Version | None:
    """The version a wheel or sdist file holds; None for other files and names that do not parse."""
    if filename.endswith(".whl"):
        try:
            name, version, _, _ = parse_wheel_filename(filename)
        except (InvalidWheelFilename, InvalidVersion):
            return None
        return version if name == project else None
    stem = next((filename[: -len(s)] for s in _SDIST_SUFFIXES if filename.lower().endswith(s)), None)
    if stem is None:
        return None
    # As pip does for sdists: the name part must normalise to the project, the rest is the version.
    for match in re.finditer("-", stem):
        if canonicalize_name(stem[: match.start()], validate=False) == project:
            try:
                return Version(stem[match.end():])
            except (InvalidVersion, InvalidSdistFilename):
                return None
    return None


def _metadata_url(entries: Iterable[FileEntry], page_url: str) -> str:
    """Where the PEP 658 metadata of one of the release's live wheels is (a pure-Python wheel first); "" if none."""
    wheels = [e for e in entries if e.core_metadata and e.url and not e.yanked and e.filename.endswith(".whl")]
    if not wheels:
        return ""
    wheel = min(wheels, key=lambda e: (not e.filename.endswith("-none-any.whl"), e.filename))
    absolute = urllib.parse.urljoin(page_url, wheel.url) if page_url else wheel.url
    url = urllib.parse.urldefrag(absolute).url
    return url + ".metadata" if url.startswith(("http://", "https://")) else ""


def releases_of(files: Iterable[FileEntry], project: str, page_url: str = "") -> tuple[Release, ...]:
    """The files grouped into releases, oldest first; ``page_url`` (credentials removed) is what relative
    file URLs are relative to."""
    grouped: dict[Version, list[FileEntry]] = {}
    for entry in files:
        version = version_of(entry.filename, project)
        if version is not None:
            grouped.setdefault(version, []).append(entry)
    releases = []
    for version in sorted(grouped):
        entries = grouped[version]
        live = [e for e in entries if not e.yanked]
        yanked = not live
        reason = next((e.yanked_reason for e in entries if e.yanked_reason), "") if yanked else ""
        requires = tuple(sorted({e.requires_python for e in (live or entries)}))
        releases.append(Release(version, len(entries), yanked, reason, requires, _metadata_url(entries, page_url)))
    return tuple(releases)
