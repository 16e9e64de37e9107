"""Conda MatchSpecs: parsing with py-rattler, what is wrong or suspicious in one, and its meaning in words.

Validity follows conda: a spec is invalid when py-rattler's lenient (conda-compatible)
parser rejects it. Strict parsing is only a hint that something is suspicious; it
rejects valid conda forms such as ``numpy=1.21.2=py38h20f2e39_0``.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from rattler import MatchSpec

_OPERATOR_CHARS = "<>=!~,|"
_EXACT_SHORT = re.compile(r"^(?P<head>\s*[^\s=<>!~]+\s*)==\s*(?P<version>\d+(?:\.\d+)?)\s*$")
_WILDCARD_AFTER_EQ = re.compile(r"^(?P<head>\s*[^\s=<>!~]+\s*=)(?P<version>[0-9][^=\s*]*?)(?P<star>\.?\*)\s*$")
# The version stops at the next operator character: without that, `numpy>=1>=1>=1...` makes every `>=`
# scan to the end of the line (quadratic).
_RANGE_WILDCARD = re.compile(r"(?P<op>>=|<=|>|<|!=)\s*(?P<version>[0-9][^,|\s*<>=!~]*?)\.\*")
_REVERSED_OPERATOR = re.compile(r"=>|=<")
_BUILD_SPACED = re.compile(r"^(?P<name>\s*[^\s=<>!~]+)\s+(?P<version>[^\s=<>!~][^\s]*)\s+(?P<build>\S+)\s*$")
_BUILD_GLOB = re.compile(r"[*?\[\]]")
_VERSION_RANGE = re.compile(r"[*<>!,|~]")
_INNER_SPACE = re.compile(r"\s")
_WHITESPACE = re.compile(r"\s+")
_MISSING_RANGE = re.compile(r"missing range specifier for '([^']*)'")


class ParsedSpec:
    """A conda dependency string as py-rattler reads it.

    Name, version and build are read from the MatchSpec once, when the spec is parsed; what strict
    parsing says is only asked when a rule needs it (most specs never do).
    """

    __slots__ = ("text", "spec", "error", "name", "version", "build", "_strict", "_channel")

    def __init__(self, text: str, spec: MatchSpec | None, error: str | None) -> None:
        self.text = text
        self.spec = spec
        self.error = error
        self.name: str | None = None
        self.version: str | None = None
        self.build: str | None = None
        if spec is not None:
            # Read through py-rattler's native object where its wrapper keeps one: the wrapper's `name` builds
            # a Python PackageNameMatcher on every read (a fifth of a large file's parse). Both answer alike
            # (tests/test_rules.py); without the native object, the public API.
            source = getattr(spec, "_match_spec", spec)
            name = source.name
            if name is not None:
                self.name = str(name.normalized)
            version, build = source.version, source.build  # each a call into py-rattler: asked once
            if version is not None:
                self.version = str(version)
            if build is not None:
                self.build = str(build)
        self._strict: tuple[str | None] | None = None
        self._channel: tuple[str | None] | None = None

    @property
    def strict_error(self) -> str | None:
        """Why a strict parser (rattler, pixi) rejects the spec; None when it accepts it or conda does not."""
        if self._strict is None:
            error = None
            if self.spec is not None:
                try:
                    MatchSpec(self.text, strict=True)
                except Exception as err:
                    error = _first_line(err)
            self._strict = (error,)
        return self._strict[0]

    @property
    def channel(self) -> str | None:
        if self._channel is None:
            channel = self.spec.channel if self.spec is not None else None
            if channel is None:
                self._channel = (None,)
            elif "::" in self.text:
                # The channel as written: py-rattler names `http://host:9/chan::pkg` and `file:///srv/ch::pkg`
                # after their last segment, which would put them under the channel alias; conda's MatchSpec
                # keeps the URL or path (conda/models/match_spec.py `_parse_spec_str`).
                self._channel = (self.text.rpartition("::")[0].strip(),)
            else:
                self._channel = (str(channel.name) if channel.name and channel.name != "None" else str(channel.base_url),)
        return self._channel[0]


SPEC_CACHE_SIZE = 65536  # parsed specs kept between versions of a document (and across documents)


@functools.lru_cache(maxsize=SPEC_CACHE_SIZE)
def parse_spec(text: str) -> ParsedSpec:
    """Parse leniently (as conda does); cached, so an unchanged line costs nothing on the next edit."""
    return parse_spec_uncached(text)


def parse_spec_uncached(text: str) -> ParsedSpec:
    """As `parse_spec`, without the cache: for a file with more specs than the cache holds, where every
    insertion would only evict another (the cache cost a fifth of the parse, and kept nothing useful)."""
    try:
        spec = MatchSpec(text, strict=False)
    except Exception as err:  # rattler raises its own exception types
        return ParsedSpec(text, None, _first_line(err))
    return ParsedSpec(text, spec, None)


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
    extras = _trailing_brackets(text)
    if extras is not None:
        return SpecIssue(
            f"`{text}` is no valid conda spec: conda brackets take key=value pairs, so `[{extras}]` "
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


def _trailing_brackets(text: str) -> str | None:
    """What the first `[` of a trailing `[...]` holds when it has no `=` (pip-style extras), else None.

    Code, not a pattern: a search for `\\[([^\\]=]*)\\]\\s*$` retries from every `[` of `x[[[[...`."""
    body = text.rstrip()
    if not body.endswith("]"):
        return None
    inner_end = len(body) - 1
    stop = max(body.rfind("]", 0, inner_end), body.rfind("=", 0, inner_end))
    opening = body.find("[", stop + 1, inner_end)
    return body[opening + 1:inner_end] if opening >= 0 else None


def _commas_tight(text: str) -> str:
    """``text`` without whitespace around its commas (as `re.sub(r"\\s*,\\s*", ",")`, in linear time)."""
    parts = text.split(",")
    if len(parts) == 1:
        return text
    last = len(parts) - 1
    return ",".join(p.rstrip() if i == 0 else p.lstrip() if i == last else p.strip() for i, p in enumerate(parts))


def _space_before_operator(match: re.Match[str]) -> str:
    after = match.string[match.end():match.end() + 1]
    return "," if after and after in "<>=!~" else match.group(0)


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
    # Each pattern runs only where its key characters are (most specs of a large file have neither).
    match = _EXACT_SHORT.match(text) if "==" in text else None
    if match:
        version = match.group("version")
        fixed = f"{match.group('head').rstrip()}={version}"
        zeros = ".0" * (3 - len(version.split(".")))
        return SpecIssue(
            f"`=={version}` is an exact match: it matches {version}{zeros} only, "
            f"not the {version}.x releases; write `{fixed.strip()}` for any {version} release",
            fixed, f"Change `=={version}` to `={version}`",
        )
    star = "*" in text
    match = _WILDCARD_AFTER_EQ.match(text) if star else None
    if match and parsed.build is None:
        fixed = match.group("head") + match.group("version")
        return SpecIssue(
            f"`={match.group('version')}{match.group('star')}`: `=` already matches every "
            f"{match.group('version')} release, so the wildcard is redundant and strict parsers (rattler, pixi) "
            f"reject it; write `{fixed.strip()}`",
            fixed, f"Write `{fixed.strip()}`",
        )
    match = _RANGE_WILDCARD.search(text) if star else None
    if match and parsed.strict_error and "incompatible" in parsed.strict_error:
        fixed = text[: match.start()] + match.group("op") + match.group("version") + text[match.end():]
        return SpecIssue(
            f"`{match.group(0)}` mixes a comparison with a wildcard; conda ignores the `.*` and strict "
            f"parsers reject it; write `{match.group('op')}{match.group('version')}`",
            fixed, f"Write `{fixed.strip()}`",
        )
    # A strict parse is only asked where its answer can matter: the space in `numpy 1.2` that strict
    # parsers read as a missing operator.
    missing = _MISSING_RANGE.search(parsed.strict_error or "") if _INNER_SPACE.search(text.strip()) else None
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
        fixed = _WHITESPACE.sub(_space_before_operator, text.strip())  # a lookahead pattern would be quadratic
        fixed = _commas_tight(fixed)
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
    return build.startswith(("pyh", "py_")) and bool(_NOARCH_BUILD.match(build))


def pinned_build(parsed: ParsedSpec) -> str | None:
    """The exact build string a spec pins (as `conda env export` writes), or None."""
    build, version = parsed.build, parsed.version
    if not build or _BUILD_GLOB.search(build) or build[0] in _OPERATOR_CHARS:
        return None
    if not version or _VERSION_RANGE.search(version):
        return None  # `pytorch=*=cuda` asks for a build by name; channel data checks that it exists
    return build


def without_build(text: str) -> str | None:
    """The spec text with its exact build string removed, as `conda env export --no-builds` writes it."""
    spec = text.strip()
    if len(spec.split(None, 1)) == 1:  # `name=version=build`, as `conda env export` writes (code: no pattern)
        keep, equals, build = spec.rpartition("=")
        head, equals_too, version = keep.rpartition("=")
        return keep if equals and build and equals_too and version and head else None
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
