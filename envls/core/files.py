"""Which files are environment files: by name, or by content (a top-level `dependencies` list)."""

from __future__ import annotations

import fnmatch
import json
import re
from pathlib import Path

# The rule is shared with the VS Code extension, which bundles the same file.
RULES_FILE = Path(__file__).resolve().parent.parent / "data" / "environment_files.json"
_RULES = json.loads(RULES_FILE.read_text(encoding="utf-8"))
NAME_PATTERNS: tuple[str, ...] = tuple(_RULES["namePatterns"])
WORKSPACE_GLOB: str = _RULES["workspaceGlob"]
_DEPENDENCIES_LINE = re.compile(_RULES["dependenciesLine"], re.MULTILINE)
_DEPENDENCIES_FLOW = re.compile(_RULES["dependenciesFlow"], re.MULTILINE)
_YAML = re.compile(r"\.ya?ml$", re.IGNORECASE)


def is_environment_name(filename: str) -> bool:
    """True for names like ``environment.yml``, ``env-dev.yaml`` or ``conda.yml``."""
    base = filename.replace("\\", "/").rsplit("/", 1)[-1].lower()
    return any(fnmatch.fnmatchcase(base, pattern) for pattern in NAME_PATTERNS)


def is_yaml_name(filename: str) -> bool:
    return _YAML.search(filename) is not None


def looks_like_environment(text: str) -> bool:
    """True when the text's top level has a `dependencies` key holding a list (checked cheaply, by lines)."""
    match = _DEPENDENCIES_LINE.search(text)
    if match is None:
        return _DEPENDENCIES_FLOW.search(text) is not None
    after = text[match.end():].lstrip("\r\n")
    for line in after.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        return stripped.startswith("-")
    return False


def is_environment_file(filename: str, text: str | None) -> bool:
    if is_environment_name(filename):
        return True
    return is_yaml_name(filename) and text is not None and looks_like_environment(text)


def text_encoding(data: bytes) -> str:
    """The encoding ``decode`` reads ``data`` in, for messages: UTF-16 with its byte-order mark, else UTF-8."""
    return "UTF-16" if data.startswith((b"\xff\xfe", b"\xfe\xff")) else "UTF-8"


def decode(data: bytes) -> tuple[str, int | None]:
    """The text of a file's bytes, and the offset of the first byte that is not valid text (or None).

    UTF-8 is what conda reads; a UTF-16 or UTF-8 byte-order mark is honoured (``text_encoding`` says
    which one was used). Invalid bytes become U+FFFD so that the rest of the file can still be checked.
    """
    if text_encoding(data) == "UTF-16":
        codec = "utf-16-le" if data.startswith(b"\xff\xfe") else "utf-16-be"
        body = data[2:]
        try:
            return body.decode(codec), None
        except UnicodeDecodeError as err:
            return body.decode(codec, errors="replace"), len(body[: err.start].decode(codec, errors="replace"))
    body = data[3:] if data.startswith(b"\xef\xbb\xbf") else data
    try:
        return body.decode("utf-8"), None
    except UnicodeDecodeError as err:
        return body.decode("utf-8", errors="replace"), len(body[: err.start].decode("utf-8", errors="replace"))
