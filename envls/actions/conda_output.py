"""conda's, mamba's and micromamba's output read into progress and into an error message for the user.

What these tools print with `--json` differs by tool and version (see
tests/data/conda_output/README.md for the recorded examples this follows):

- conda >= 4.4 writes one JSON object per download update, `{"fetch": "<name> | <size> | ",
  "finished": false, "maxval": 1, "progress": 0.3}`, each followed by a NUL byte, so the next line
  starts with `\\0`; conda 4.1-4.3 counted bytes in `progress`/`maxval` and had link bars
  `{"name": "openssl", "progress": 0, "maxval": 10}`.
- At the end, one document: `{"success": true, "prefix": ..., "actions": {...}}`, or an error
  `{"exception_name": ..., "message": ..., "error": ...}` (old conda: `"error_type"`;
  micromamba: `{"solver_problems": [...], "success": false}`), indented over many lines.
- Some versions ignore `--json` and print their human output (conda 24.1-24.3 `conda env`),
  and micromamba prints its errors to stderr as `critical libmamba ...` / `error    libmamba ...`
  with indented continuation lines, sometimes with no JSON at all.

So: JSON objects are recognised whether on one line or indented over many, other lines are kept as
text (and the known stage lines of the human output still give progress), and the failure message
comes from the error document, else from libmamba's error lines, else from the last lines printed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_LIBMAMBA = re.compile(r"^(critical|error)\s+libmamba\s+(.*)$")
# The stage lines of conda's human output (older conda and the versions that ignore --json).
_STAGES: tuple[tuple[str, str], ...] = (
    ("Fetching package metadata", "Collecting package metadata"),
    ("Collecting package metadata", "Collecting package metadata"),
    ("Solving package specifications", "Solving"),
    ("Solving environment", "Solving"),
    ("Downloading and Extracting Packages", "Downloading packages"),
    ("Preparing transaction", "Preparing transaction"),
    ("Verifying transaction", "Verifying transaction"),
    ("Executing transaction", "Linking"),
    ("Installing pip dependencies", "Installing pip dependencies"),
    ("Ran pip subprocess", "Installing pip dependencies"),
)
_MAX_BLOCK_LINES = 500_000


@dataclass(frozen=True)
class ProgressEvent:
    message: str
    percent: int | None


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


class ToolOutput:
    """The output of one conda / mamba / micromamba run, fed line by line as it arrives."""

    def __init__(self, tool: str) -> None:
        self.tool = tool
        self.documents: list[dict[str, Any]] = []
        self.text: list[str] = []
        self.stderr: list[str] = []
        self.prefix: str | None = None
        self.success: bool | None = None
        self.error: str | None = None
        self._block: list[str] | None = None
        self._fetch: dict[str, float] = {}
        self._stages: set[str] = set()

    # -- feeding -----------------------------------------------------------------------------

    def feed(self, stream: str, line: str) -> list[ProgressEvent]:
        if stream == "stderr":
            self.stderr.append(strip_ansi(line))
            return []
        return self._stdout(line.lstrip("\0"))

    def close(self) -> None:
        """The run ended: a JSON document still open was cut off and counts as text."""
        if self._block is not None:
            self.text += self._block
            self._block = None

    def _stdout(self, line: str) -> list[ProgressEvent]:
        stripped = line.strip()
        if self._block is not None:
            self._block.append(line)
            # Indented documents (json.dumps(indent=...), nlohmann's dump(4)) close with `}` in column 0.
            if line.startswith("}"):
                block, self._block = self._block, None
                parsed = _object("\n".join(block))
                if parsed is None:
                    self.text += block
                    return []
                return self._document(parsed)
            if len(self._block) > _MAX_BLOCK_LINES:
                self.text += self._block
                self._block = None
            return []
        if stripped.startswith("{"):
            parsed = _object(stripped)
            if parsed is not None:
                return self._document(parsed)
            self._block = [line]
            return []
        if stripped:
            self.text.append(strip_ansi(line))
            return self._stage(stripped)
        return []

    def _stage(self, line: str) -> list[ProgressEvent]:
        for marker, message in _STAGES:
            if line.startswith(marker) and message not in self._stages:
                self._stages.add(message)
                return [ProgressEvent(message, None)]
        return []

    # -- documents ---------------------------------------------------------------------------

    def _document(self, doc: dict[str, Any]) -> list[ProgressEvent]:
        self.documents.append(doc)
        if "fetch" in doc:
            return [self._download(doc)]
        if "maxval" in doc and "progress" in doc:
            return self._link(doc)
        error = _error_text(doc)
        if error is not None:
            self.error = error
            self.success = False
            return []
        if "success" in doc or "actions" in doc:
            self.success = doc.get("success") is not False
            actions = doc.get("actions")
            prefix = doc.get("prefix") or (actions.get("PREFIX") if isinstance(actions, dict) else None)
            if isinstance(prefix, str) and prefix:
                self.prefix = prefix
        return []

    def _download(self, doc: dict[str, Any]) -> ProgressEvent:
        name = str(doc.get("fetch") or "").split("|")[0].strip() or "packages"
        maxval = _number(doc.get("maxval")) or 1.0
        fraction = 1.0 if doc.get("finished") else min(1.0, max(0.0, (_number(doc.get("progress")) or 0.0) / maxval))
        self._fetch[name] = fraction
        percent = round(100 * sum(self._fetch.values()) / len(self._fetch))
        return ProgressEvent(f"Downloading {name}", percent)

    def _link(self, doc: dict[str, Any]) -> list[ProgressEvent]:
        maxval = _number(doc.get("maxval")) or 0.0
        done = _number(doc.get("progress")) or 0.0
        percent = round(100 * done / maxval) if maxval else None
        name = doc.get("name")
        if isinstance(name, str) and name:
            return [ProgressEvent(f"Linking {name} ({int(done) + 1} of {int(maxval)})", percent)]
        if doc.get("finished"):
            return []
        return [ProgressEvent(f"Linking {int(maxval)} packages", percent)]

    # -- the verdict -------------------------------------------------------------------------

    def failure_message(self, returncode: int, command: str) -> str:
        """What to tell the user when the run failed (non-zero exit or an error document)."""
        if self.error:
            return f"{self.tool} failed: {self.error}"
        libmamba = _libmamba_errors(self.stderr)
        if libmamba:
            return f"{self.tool} failed: {libmamba}"
        tail = _tail(self.stderr) or _tail(self.text)
        if tail:
            return f"{self.tool} failed (exit status {returncode}):\n{tail}"
        return f"{self.tool} failed with exit status {returncode} and printed no reason; run `{command}` in a terminal to see why"


def _object(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _error_text(doc: dict[str, Any]) -> str | None:
    problems = doc.get("solver_problems")
    if isinstance(problems, list) and problems:
        return "could not solve the environment:\n" + "\n".join(f"  - {p}" for p in problems)
    if not any(key in doc for key in ("error", "exception_name", "error_type")):
        return None
    name = doc.get("exception_name") or doc.get("error_type")
    message = doc.get("message") or doc.get("error")
    text = str(message).strip() if message not in (None, "") else ""
    if isinstance(name, str) and name and not text.startswith(name):
        return f"{name}: {text}" if text else name
    return text or "an error without a message"


def _libmamba_errors(lines: list[str]) -> str | None:
    """libmamba's `error`/`critical` lines with their indented continuation lines, once each."""
    blocks: list[list[str]] = []
    current: list[str] | None = None
    for line in lines:
        match = _LIBMAMBA.match(line)
        if match:
            current = [match.group(2).strip()]
            blocks.append(current)
        elif current is not None and line.startswith((" ", "\t")) and line.strip():
            current.append(line.rstrip())
        else:
            current = None
    found = ["\n".join(block) for block in blocks]
    unique = list(dict.fromkeys(found))
    # micromamba repeats the headline of a detailed `error` as the final `critical` line.
    unique = [u for u in unique if not any(o != u and o.startswith(u) for o in unique)]
    return "\n".join(unique) if unique else None


def _tail(lines: list[str], count: int = 15) -> str:
    kept = [line.rstrip() for line in lines if line.strip()]
    return "\n".join(kept[-count:])
