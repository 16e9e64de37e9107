"""Lines of a `pip:` subsection, read as pip reads a requirements file.

conda writes the subsection verbatim into a requirements file next to the environment
file and runs ``pip install -r`` on it, so each line is a PEP 508 requirement, a URL or
VCS reference, a local path, or a pip option.
"""

from __future__ import annotations

import functools
import posixpath
import re
from dataclasses import dataclass
from typing import Literal

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

PipKind = Literal["requirement", "option", "url", "path", "invalid"]

# Options pip accepts in a requirements file, and whether each takes an argument.
_FILE_OPTIONS: dict[str, bool] = {
    "-r": True, "--requirement": True, "-c": True, "--constraint": True, "-e": True, "--editable": True,
    "-i": True, "--index-url": True, "--extra-index-url": True, "--no-index": False, "-f": True,
    "--find-links": True, "--pre": False, "--trusted-host": True, "--prefer-binary": False,
    "--only-binary": True, "--no-binary": True, "--require-hashes": False, "--use-feature": True,
    "--config-settings": True, "--global-option": True, "--install-option": True, "--hash": True,
    "--no-deps": False, "--upgrade": False, "-U": False, "--no-build-isolation": False,
}
_OPTIONS_START = re.compile(r"(^|\s)-")
_VCS = re.compile(r"^(git|hg|svn|bzr)\+[a-z]+://", re.IGNORECASE)
_URL = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)
_SINGLE_EQUALS = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*(\[[^\]]*\])?)\s*=\s*(?P<version>[0-9][^=<>!~;\s]*)(?P<rest>.*)$")
_ARCHIVE = re.compile(r"\.(whl|tar\.gz|tgz|tar\.bz2|zip)$", re.IGNORECASE)
_QUOTES = re.compile(r"""['"]""")
_ENV_VAR = re.compile(r"\$\{[A-Z0-9_]+\}")  # what pip expands in requirement files
_COMMENT = re.compile(r"(^|\s+)#.*$")
_EXTRAS_SUFFIX = re.compile(r"\[[^\]]*\]$")

# The long name of each short option, so that rules need to know one spelling only.
OPTION_NAMES: dict[str, str] = {
    "-r": "--requirement", "-c": "--constraint", "-e": "--editable", "-i": "--index-url", "-f": "--find-links",
    "-U": "--upgrade",
}


@dataclass(frozen=True)
class PipLine:
    """One pip line: what kind it is and its parts."""

    text: str
    kind: PipKind
    name: str | None = None
    requirement: Requirement | None = None
    option: str | None = None
    argument: str | None = None
    error: str | None = None
    suggestion: str | None = None
    options: tuple[tuple[str, str | None], ...] = ()  # options after a requirement, such as `--hash`

    @property
    def canonical_name(self) -> str | None:
        """The distribution's name as PEP 503 normalises it (for requirements and `#egg=` URLs)."""
        return str(canonicalize_name(self.name)) if self.name else None

    @property
    def long_option(self) -> str | None:
        """The option's long spelling (`-r` is `--requirement`)."""
        return OPTION_NAMES.get(self.option, self.option) if self.option else None


def _option(text: str) -> PipLine:
    head, sep, tail = text.partition("=") if text.startswith("--") and "=" in text.split()[0] else ("", "", "")
    if sep:
        option, argument = head, tail.strip()
    else:
        parts = text.split(None, 1)
        option = parts[0]
        argument = parts[1].strip() if len(parts) > 1 else ""
        if not text.startswith("--") and len(option) > 2 and option[:2] in _FILE_OPTIONS:
            option, argument = option[:2], option[2:] + (" " + argument if argument else "")
            argument = argument.strip()
    takes_argument = _FILE_OPTIONS.get(option)
    if takes_argument is None:
        return PipLine(text, "invalid", option=option, error=f"`{option}` is not an option pip accepts in a requirements file")
    if takes_argument and not argument:
        return PipLine(text, "invalid", option=option, error=f"`{option}` needs an argument")
    if not takes_argument and argument:
        return PipLine(text, "invalid", option=option, error=f"`{option}` takes no argument, but got `{argument}`")
    return PipLine(text, "option", option=option, argument=argument or None)


@functools.lru_cache(maxsize=16384)
def parse_pip_line(text: str) -> PipLine:
    """Classify and parse one pip line; never raises."""
    line = text.strip()
    if not line:
        return PipLine(text, "invalid", error="empty pip line")
    if line.startswith("-"):
        return _option(line)
    # As pip does: the requirement is what comes before the first option on the line.
    split = _OPTIONS_START.search(line)
    bare, options = (line[: split.start()].strip(), line[split.start():].strip()) if split else (line, "")
    line_options: list[tuple[str, str | None]] = []
    for option in re.split(r"\s+(?=-)", options) if options else ():
        checked = _option(option)
        if checked.kind == "invalid":
            return checked
        line_options.append((checked.option or option, checked.argument))
    if _VCS.match(bare) or _URL.match(bare):
        egg = re.search(r"[#&]egg=([A-Za-z0-9._-]+)", bare)
        return PipLine(text, "url", name=egg.group(1) if egg else None, argument=bare)
    if bare.startswith((".", "/", "~")) or "\\" in bare or (
        "/" in bare and "@" not in bare and ";" not in bare
    ) or (_ARCHIVE.search(bare) and " " not in bare):
        return PipLine(text, "path", argument=bare)
    try:
        requirement = Requirement(bare)
    except InvalidRequirement as err:
        return _invalid(text, line, bare, str(err).splitlines()[0])
    return PipLine(text, "requirement", name=requirement.name, requirement=requirement, options=tuple(line_options))


def _parses(text: str) -> bool:
    try:
        Requirement(text)
    except InvalidRequirement:
        return False
    return True


def _invalid(text: str, line: str, bare: str, message: str) -> PipLine:
    """Why a line is no requirement, with the obvious correction where there is one."""
    match = _SINGLE_EQUALS.match(bare)
    if match:
        fixed = f"{match.group('name')}=={match.group('version')}{match.group('rest')}"
        return PipLine(
            text, "invalid", error=f"`{bare}` is no pip requirement: pip's operator is `==`, not `=`",
            suggestion=line.replace(bare, fixed, 1),
        )
    head, semicolon, marker = bare.partition(";")
    if _QUOTES.search(head):
        unquoted = _QUOTES.sub("", head).strip() + (f"; {marker.strip()}" if semicolon else "")
        if unquoted and _parses(unquoted):
            return PipLine(
                text, "invalid", error=f"`{bare}` is no pip requirement: the quotes are part of the line "
                f"(pip reads it literally); write `{unquoted}`", suggestion=line.replace(bare, unquoted, 1),
            )
    if semicolon and _parses(head):
        return PipLine(text, "invalid", error=f"`{bare}`: the environment marker `{marker.strip()}` does not parse "
                       f"({message[0].lower() + message[1:]}); pip rejects the line")
    return PipLine(text, "invalid", error=f"`{bare}` is no pip requirement: {message}")


def requirement_file_lines(text: str) -> list[tuple[int, str]]:
    """The logical lines of a requirements file, as pip reads them: comments removed, lines ending in
    a backslash joined to the next, blank lines dropped. Each comes with its first line's 1-based number."""
    lines: list[tuple[int, str]] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        if not pending:
            start = number
        if raw.endswith("\\") and not _COMMENT.match(raw):
            pending.append(raw[:-1])
            continue
        pending.append(raw)
        joined = _COMMENT.sub("", "".join(pending)).strip()
        pending = []
        if joined:
            lines.append((start, joined))
    if pending:
        joined = _COMMENT.sub("", "".join(pending)).strip()
        if joined:
            lines.append((start, joined))
    return lines


def has_env_vars(text: str) -> bool:
    """True when the text names environment variables (`${VAR}`), which pip expands when it reads the line."""
    return _ENV_VAR.search(text) is not None


def is_url(text: str) -> bool:
    return bool(_URL.match(text.strip()) or _VCS.match(text.strip()))


def local_path(argument: str) -> str | None:
    """The local path of a `-r`, `-c` or `-e` argument (extras such as `.[cuda]` removed); None when it
    is a URL, names environment variables or starts with `~`: then nothing is known about it here."""
    argument = argument.strip()
    if not argument or is_url(argument) or has_env_vars(argument) or argument.startswith("~"):
        return None
    if argument.lower().startswith("file:"):
        return None
    return _EXTRAS_SUFFIX.sub("", argument) or None


def included_path(including: str | None, argument: str) -> str | None:
    """Where pip looks for a file that a `-r`/`-c` line names: relative to the folder of the file that
    includes it (``including``: a key as returned here, or None for the environment file, whose
    requirements conda writes next to it). Keys are normalised POSIX paths; absolute paths stay so."""
    path = local_path(argument)
    if path is None:
        return None
    path = path.replace("\\", "/")
    if posixpath.isabs(path) or re.match(r"^[A-Za-z]:/", path):
        return posixpath.normpath(path)
    base = posixpath.dirname(including) if including else ""
    return posixpath.normpath(posixpath.join(base, path))
