"""Conda MatchSpecs: parsing with py-rattler, what is wrong or suspicious in one, and its meaning in words.

Validity follows conda: a spec is invalid when py-rattler's lenient (conda-compatible)
parser rejects it. Strict parsing is only a hint that something is suspicious; it
rejects valid conda forms such as ``numpy=1.21.2=py38h20f2e39_0``.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from functools import cached_property

from rattler import MatchSpec

_OPERATOR_CHARS = "<>=!~,|"
_EXACT_SHORT = re.compile(r"^(?P<head>\s*[^\s=<>!~]+\s*)==\s*(?P<version>\d+(?:\.\d+)?)\s*$")
_WILDCARD_AFTER_EQ = re.compile(r"^(?P<head>\s*[^\s=<>!~]+\s*=)(?P<version>[0-9][^=\s*]*?)(?P<star>\.?\*)\s*$")
_RANGE_WILDCARD = re.compile(r"(?P<op>>=|<=|>|<|!=)\s*(?P<version>[0-9][^,|\s*]*?)\.\*")
_REVERSED_OPERATOR = re.compile(r"=>|=<")
_BUILD_EXPORT = re.compile(r"^(?P<keep>\s*\S+?=[^=\s]+)=[^=\s]+\s*$")
_BUILD_SPACED = re.compile(r"^(?P<name>\s*[^\s=<>!~]+)\s+(?P<version>[^\s=<>!~][^\s]*)\s+(?P<build>\S+)\s*$")
_MISSING_RANGE = re.compile(r"missing range specifier for '([^']*)'")


@dataclass(frozen=True)
class ParsedSpec:
    """A conda dependency string as py-rattler reads it."""

    text: str
    spec: MatchSpec | None
    error: str | None
    strict_error: str | None

    @cached_property
    def name(self) -> str | None:
        if self.spec is None or self.spec.name is None:
            return None
        return str(self.spec.name.normalized)

    @cached_property
    def version(self) -> str | None:
        return str(self.spec.version) if self.spec is not None and self.spec.version is not None else None

    @cached_property
    def build(self) -> str | None:
        return str(self.spec.build) if self.spec is not None and self.spec.build is not None else None

    @cached_property
    def channel(self) -> str | None:
        if self.spec is None or self.spec.channel is None:
            return None
        channel = self.spec.channel
        return str(channel.name) if channel.name and channel.name != "None" else str(channel.base_url)


@functools.lru_cache(maxsize=65536)
def parse_spec(text: str) -> ParsedSpec:
    """Parse leniently (as conda does), and note what strict parsing says about it."""
    try:
        spec = MatchSpec(text, strict=False)
    except Exception as err:  # rattler raises its own exception types
        return ParsedSpec(text, None, _first_line(err), None)
    try:
        MatchSpec(text, strict=True)
        strict_error = None
    except Exception as err:
        strict_error = _first_line(err)
    return ParsedSpec(text, spec, None, strict_error)


def _first_line(err: Exception) -> str:
    text = str(err).strip() or type(err).__name__
    return text.splitlines()[0]


@dataclass(frozen=True)
class SpecIssue:
    """Something wrong or suspicious in one spec, with a replacement text when there is an obvious one."""

    message: str
    replacement: str | None = None
    fix_title: str | None = None


def invalid_reason(parsed: ParsedSpec) -> SpecIssue | None:
    """Why conda would reject the spec, with a suggestion where one is clear; None if it is valid."""
    if parsed.error is None:
        return None
    text = parsed.text.strip()
    if _REVERSED_OPERATOR.search(text):
        return None  # conda accepts `=>` by accident; suspicious() explains it
    bracket = re.search(r"\[([^\]=]*)\]\s*$", text)
    if bracket and "=" not in bracket.group(1):
        return SpecIssue(
            f"`{text}` is no valid conda spec: conda brackets take key=value pairs, so `[{bracket.group(1)}]` "
            "is not pip-style extras; to select a build write `name=version=*cuda*` or `name[build=*cuda*]`"
        )
    quoted = re.search(r"""['"]""", text)
    if quoted:
        unquoted = re.sub(r"""['"]""", "", text)
        if parse_spec(unquoted).error is None:
            return SpecIssue(
                f"`{text}` is no valid conda spec: the quotes are part of the version; write `{unquoted}`",
                unquoted, f"Remove the quotes: `{unquoted}`",
            )
    return SpecIssue(f"`{text}` is no valid conda spec: {parsed.error}")


def suspicious(parsed: ParsedSpec) -> SpecIssue | None:
    """Accepted by conda, but almost surely not what was meant."""
    text = parsed.text
    if parsed.error is not None:
        if _REVERSED_OPERATOR.search(text):
            fixed = _REVERSED_OPERATOR.sub(lambda m: m.group(0)[::-1], text)
            op = _REVERSED_OPERATOR.search(text)
            assert op is not None
            return SpecIssue(
                f"`{op.group(0)}` is not an operator; conda only accepts `{text.strip()}` by accident "
                f"(it reads it as `{op.group(0)[1:]}`); write `{fixed.strip()}`",
                fixed, f"Change `{op.group(0)}` to `{op.group(0)[::-1]}`",
            )
        return None
    match = _EXACT_SHORT.match(text)
    if match:
        version = match.group("version")
        fixed = f"{match.group('head').rstrip()}={version}"
        zeros = ".0" * (3 - len(version.split(".")))
        return SpecIssue(
            f"`=={version}` is an exact match: it matches {version}{zeros} only, "
            f"not the {version}.x releases; write `{fixed.strip()}` for any {version} release",
            fixed, f"Change `=={version}` to `={version}`",
        )
    match = _WILDCARD_AFTER_EQ.match(text)
    if match and parsed.build is None:
        fixed = match.group("head") + match.group("version")
        return SpecIssue(
            f"`={match.group('version')}{match.group('star')}`: `=` already matches every "
            f"{match.group('version')} release, so the wildcard is redundant and strict parsers (rattler, pixi) "
            f"reject it; write `{fixed.strip()}`",
            fixed, f"Write `{fixed.strip()}`",
        )
    match = _RANGE_WILDCARD.search(text)
    if match and parsed.strict_error and "incompatible" in parsed.strict_error:
        fixed = text[: match.start()] + match.group("op") + match.group("version") + text[match.end():]
        return SpecIssue(
            f"`{match.group(0)}` mixes a comparison with a wildcard; conda ignores the `.*` and strict "
            f"parsers reject it; write `{match.group('op')}{match.group('version')}`",
            fixed, f"Write `{fixed.strip()}`",
        )
    missing = _MISSING_RANGE.search(parsed.strict_error or "")
    if missing and not re.match(r"[0-9*]", missing.group(1)):
        token = missing.group(1)
        joined = re.sub(r"\s+", "", text.strip())
        return SpecIssue(
            f"`{text.strip()}`: the space makes `{token}` the version of `{parsed.name}`; "
            f"did you mean `{joined}`?",
            joined, f"Write `{joined}`",
        )
    build = parsed.build
    if build and build[0] in _OPERATOR_CHARS:
        fixed = re.sub(r"\s+(?=[<>=!~])", ",", text.strip())
        fixed = re.sub(r"\s*,\s*", ",", fixed)
        name = parsed.name or ""
        fixed = name + " " + fixed[len(name):].lstrip(" ,") if fixed.startswith(name) else fixed
        return SpecIssue(
            f"`{build}` is read as a build string, not as a version constraint; "
            "join version constraints with a comma, e.g. `numpy >=1.2,<2`",
            fixed if parse_spec(fixed).error is None else None, f"Write `{fixed}`",
        )
    return None


# Build strings of noarch packages (`pyhd8ed1ab_0`, `py_0`, `pyh...`, `pyhd3eb1b0_0`): the same build
# installs on every platform, so pinning one keeps the file portable.
_NOARCH_BUILD = re.compile(r"^(?:pyh[0-9a-f]*|py)_\d+$")


def is_noarch_build(build: str) -> bool:
    """True for the build strings conda-build gives noarch packages (`pyhd8ed1ab_0`, `py_0`)."""
    return bool(_NOARCH_BUILD.match(build))


def pinned_build(parsed: ParsedSpec) -> str | None:
    """The exact build string a spec pins (as `conda env export` writes), or None."""
    build, version = parsed.build, parsed.version
    if not build or any(ch in build for ch in "*?[]") or build[0] in _OPERATOR_CHARS:
        return None
    if not version or "*" in version or any(op in version for op in "<>!,|~"):
        return None  # `pytorch=*=cuda` asks for a build by name; channel data checks that it exists
    return build


def without_build(text: str) -> str | None:
    """The spec text with its exact build string removed, as `conda env export --no-builds` writes it."""
    match = _BUILD_EXPORT.match(text)
    if match:
        return match.group("keep").strip()
    match = _BUILD_SPACED.match(text)
    if match:
        return f"{match.group('name').strip()}={match.group('version')}"
    return None


def describe(parsed: ParsedSpec) -> str:
    """The spec in words, for hover: name, version constraint, build, channel."""
    if parsed.spec is None:
        return f"`{parsed.text.strip()}` is no valid conda spec: {parsed.error}"
    lines = [f"**{parsed.name}** (conda package)", ""]
    version = parsed.version
    lines.append(f"- version: {describe_version(version)}" if version else "- version: any")
    if parsed.build:
        lines.append(f"- build: `{parsed.build}`" + (" (glob)" if "*" in parsed.build else " (exact)"))
    if parsed.channel:
        lines.append(f"- channel: `{parsed.channel}`")
    if parsed.spec.subdir:
        lines.append(f"- subdir: `{parsed.spec.subdir}`")
    return "\n".join(lines)


def describe_version(version: str) -> str:
    words = []
    for alternative in version.split("|"):
        parts = []
        for constraint in alternative.split(","):
            parts.append(_constraint_words(constraint.strip()))
        words.append(" and ".join(parts))
    return " or ".join(words)


def _constraint_words(constraint: str) -> str:
    for op, word in ((">=", "at least"), ("<=", "at most"), ("!=", "not"), ("==", "exactly"), ("~=", "compatible with"),
                     (">", "newer than"), ("<", "older than")):
        if constraint.startswith(op):
            return f"{word} `{constraint[len(op):]}`"
    if constraint == "*":
        return "any"
    if constraint.endswith(".*"):
        return f"any `{constraint[:-2]}` release (`{constraint}`)"
    return f"exactly `{constraint}`"
