"""Lines of a `pip:` subsection, read as pip reads a requirements file.

conda writes the subsection verbatim into a requirements file next to the environment
file and runs ``pip install -r`` on it, so each line is a PEP 508 requirement, a URL or
VCS reference, a local path, or a pip option.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Literal

from packaging.requirements import InvalidRequirement, Requirement

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
    for option in re.split(r"\s+(?=-)", options) if options else ():
        checked = _option(option)
        if checked.kind == "invalid":
            return checked
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
        message = str(err).splitlines()[0]
        match = _SINGLE_EQUALS.match(bare)
        if match:
            fixed = f"{match.group('name')}=={match.group('version')}{match.group('rest')}"
            return PipLine(
                text, "invalid", error=f"`{bare}` is no pip requirement: pip's operator is `==`, not `=`",
                suggestion=line.replace(bare, fixed, 1),
            )
        return PipLine(text, "invalid", error=f"`{bare}` is no pip requirement: {message}")
    return PipLine(text, "requirement", name=requirement.name, requirement=requirement)
