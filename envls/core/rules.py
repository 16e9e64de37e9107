"""The fast rules: structure, names, channels, conda specs and pip lines of one environment file.

Each rule takes the Environment and yields Findings. They need no I/O and run on every edit.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Iterator

from envls.core.conda.specs import invalid_reason, is_noarch_build, pinned_build, suspicious, without_build
from envls.core.document import Node
from envls.core.environment import Entry, Environment
from envls.core.findings import Edit, Finding, Fix, Related, Severity, Span, brief
from envls.core.pace import paced
from envls.core.schema import top_level_keys

Rule = Callable[[Environment], Iterable[Finding]]

_CHANNEL_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+-]*(/[A-Za-z0-9_.+-]+)*/?$")
_CHANNEL_URL = re.compile(r"^[a-z][a-z0-9+.-]*://\S+$", re.IGNORECASE)
_CHANNEL_PATH = re.compile(r"^(~|\.{1,2}|/|[A-Za-z]:[\\/]|\\\\)\S*$")
_COMMENT_START = re.compile(r"\s#")
_BAD_NAME_CHARS = ("/", " ", ":", "#")


def is_valid_channel(text: str) -> bool:
    """A channel name, URL or path, as conda accepts them."""
    text = text.strip()
    return bool(_CHANNEL_NAME.match(text) or _CHANNEL_URL.match(text) or _CHANNEL_PATH.match(text))


def span_of(node: Node | Entry) -> Span:
    return Span(node.start, node.end)


def line_removal(env: Environment, node: Node | Entry) -> Edit:
    """An edit that deletes ``node``: its whole line(s) when it stands alone on them (a block item or key),
    else the item and one comma next to it (an item of a flow list such as `[a, b]`)."""
    text = env.document.text
    index = env.document.index
    first = index.line_of(node.start)
    last = index.line_of(max(node.start, node.end - 1))
    start = index.line_starts[first]
    line_end = index.line_span(last)[1]
    before = text[start:node.start].strip()
    after = text[node.end:line_end]
    comment = _COMMENT_START.search(after)
    after = (after[:comment.start()] if comment else after).strip()
    if before in ("", "-") or re.fullmatch(r"-?\s*[\w.-]+\s*:", before):
        if not after:
            end = index.line_starts[last + 1] if last + 1 < index.line_count else len(text)
            return Edit(start, end, "")
    right = re.match(r"\s*,\s*", text[node.end:])
    if right:
        return Edit(node.start, node.end + right.end(), "")
    left = len(text[:node.start].rstrip()) - 1  # bounded: no pattern over everything before the node
    if left >= 0 and text[left] == ",":
        return Edit(left, node.end, "")
    return Edit(node.start, node.end, "")


def unknown_keys(env: Environment, key: Node, message: str) -> Finding:
    valid = list(top_level_keys())
    nearest = difflib.get_close_matches(key.value, valid, n=1, cutoff=0.6)
    if nearest:
        message += f"; did you mean `{nearest[0]}`?"
        fixes: tuple[Fix, ...] = (Fix(f"Rename to `{nearest[0]}`", (Edit(key.start, key.end, nearest[0]),), True),)
    else:
        message += f"; conda ignores it (valid keys: {', '.join(valid)})"
        fixes = ()
    return Finding("unknown-key", Severity.WARNING, message, span_of(key), fixes=fixes)


def env_name(env: Environment) -> Iterator[Finding]:
    entry = env.name
    if entry is None:
        return
    name = entry.text
    if name in ("base", "root"):
        yield Finding(
            "invalid-env-name", Severity.ERROR,
            f"`{name}` is conda's own base environment: creating it from a file is refused; choose another name",
            span_of(entry),
        )
        return
    bad = [ch for ch in _BAD_NAME_CHARS if ch in name]
    if bad or not name.strip():
        shown = ", ".join("space" if ch == " " else f"`{ch}`" for ch in bad) or "nothing but spaces"
        yield Finding(
            "invalid-env-name", Severity.ERROR,
            f"environment name `{name}` contains {shown}: conda refuses names with `/`, spaces, `:` or `#`",
            span_of(entry),
        )


def machine_prefix(env: Environment) -> Iterator[Finding]:
    entry = env.prefix
    if entry is None:
        return
    yield Finding(
        "machine-prefix", Severity.WARNING,
        f"`prefix: {entry.text}` is a path on one machine: `conda env create` installs there on every machine "
        "(or fails); remove it and rely on `name`, or pass `-p` when creating",
        span_of(entry),
        fixes=(Fix("Remove `prefix`", (line_removal(env, entry),), True),),
    )


# A known slip: conda takes `default` as one more channel name under the alias, never as `defaults`.
MISTYPED_DEFAULTS = "default"


def channels(env: Environment) -> Iterator[Finding]:
    seen: dict[str, Entry] = {}
    for entry in env.channels:
        text = entry.text.strip()
        if not is_valid_channel(text):
            hint = " (`conda env export` writes `<unknown>` for packages of unknown origin)" if "<" in text else ""
            yield Finding(
                "invalid-channel", Severity.ERROR,
                f"`{text}` is no channel name, URL or path{hint}; remove it or name the real channel",
                span_of(entry), fixes=(Fix(f"Remove channel `{text}`", (line_removal(env, entry),)),),
            )
            continue
        if text == MISTYPED_DEFAULTS:
            yield Finding(
                "unknown-channel", Severity.ERROR,
                "channel `default` does not exist: conda reads it as a channel name, not as its default "
                "channels; did you mean `defaults`?",
                span_of(entry), fixes=(Fix("Change to `defaults`", (Edit(entry.start, entry.end, "defaults"),), True),),
            )
        key = text.rstrip("/").lower()
        if key in seen:
            first = seen[key]
            yield Finding(
                "duplicate-channel", Severity.WARNING,
                f"channel `{text}` is listed twice; the second entry has no effect",
                span_of(entry),
                related=(Related(span_of(first), f"`{first.text}` is first listed here"),),
                fixes=(Fix(f"Remove the second `{text}`", (line_removal(env, entry),), True),),
            )
        else:
            seen[key] = entry


class _FirstSeen:
    """The first entry of each name, in all and per selector: which earlier entry a duplicate repeats,
    by dictionary (a list per name made 20,000 copies of one line quadratic)."""

    def __init__(self) -> None:
        self.any: dict[str, Entry] = {}
        self.unconditional: dict[str, Entry] = {}
        self.by_selector: dict[tuple[str, str], Entry] = {}

    def first_overlapping(self, name: str, entry: Entry) -> Entry | None:
        """The earliest entry before ``entry`` of ``name`` whose selector can hold together with ``entry``'s;
        then ``entry`` is recorded (one call per entry: a large file has 100,000)."""
        selector = entry.selector
        first = self.any.setdefault(name, entry)
        if selector is None:
            self.unconditional.setdefault(name, entry)
            return first if first is not entry else None
        by_selector = self.by_selector.setdefault((name, selector), entry)
        candidates = [e for e in (self.unconditional.get(name), by_selector) if e is not None and e is not entry]
        return min(candidates, key=lambda e: e.start) if candidates else None


def conda_specs(env: Environment) -> Iterator[Finding]:
    seen = _FirstSeen()
    builds = _pinned_builds(env)
    strip_all = _strip_builds_fix(builds)
    strip_all_fixes = (strip_all,) if strip_all is not None else ()
    for entry, pinned in zip(paced(env.conda), builds, strict=True):
        parsed = entry.parsed
        invalid = invalid_reason(parsed) if parsed.error is not None else None
        if invalid is not None:
            fixes = (Fix(invalid.fix_title or "Fix", (Edit(entry.start, entry.end, invalid.replacement),), True),) \
                if invalid.replacement else ()
            yield Finding("invalid-spec", Severity.ERROR, invalid.message, span_of(entry), fixes=fixes)
            continue
        odd = suspicious(parsed)
        if odd is not None:
            fixes = (Fix(odd.fix_title or "Fix", (Edit(entry.start, entry.end, odd.replacement.strip()),), True),) \
                if odd.replacement else ()
            yield Finding("suspicious-spec", Severity.WARNING, odd.message, span_of(entry), fixes=fixes)
        if pinned is not None:  # every line of an exported file: kept lean
            build, edit = pinned
            yield Finding(
                "pinned-build", Severity.INFORMATION,
                f"build `{build}` is an exact build from `conda env export`: the file will not solve on another "
                "platform; drop build strings (`conda env export --no-builds`) for a portable file",
                Span(entry.node.start, entry.node.end),
                fixes=(Fix("Remove this build string", (edit,)), *strip_all_fixes) if edit else strip_all_fixes,
            )
        name = parsed.name
        if name is None:
            continue
        first = seen.first_overlapping(name, entry)
        if first is not None:
            yield Finding(
                "duplicate-package", Severity.WARNING,
                f"`{name}` is listed twice (`{brief(first.text.strip())}` and `{brief(entry.text.strip())}`); conda needs both "
                "specs to hold: keep one",
                span_of(entry),
                related=(Related(span_of(first), f"`{name}` is first listed here"),),
                fixes=(Fix(f"Remove this `{name}` line", (line_removal(env, entry),)),),
            )


def _pinned_builds(env: Environment) -> list[tuple[str, Edit | None] | None]:
    """For each entry, in file order: None, or the exact build it pins and the edit that removes it (None when
    the spec cannot be written without it)."""
    found: list[tuple[str, Edit | None] | None] = []
    for entry in paced(env.conda):
        parsed = entry.parsed
        build = pinned_build(parsed) if parsed.error is None else None
        if build is None or is_noarch_build(build):  # a noarch build installs everywhere
            found.append(None)
            continue
        stripped = without_build(entry.text)
        found.append((build, Edit(entry.node.start, entry.node.end, stripped) if stripped else None))
    return found


def _strip_builds_fix(builds: list[tuple[str, Edit | None] | None]) -> Fix | None:
    edits = [pinned[1] for pinned in builds if pinned is not None and pinned[1] is not None]
    if not edits:
        return None
    return Fix("Remove all build strings (as `conda env export --no-builds`)", tuple(edits))


def pip_section(env: Environment) -> Iterator[Finding]:
    if not env.pip:
        return
    has_pip = any(e.parsed.name == "pip" for e in env.conda)
    if not has_pip:
        section = env.pip[0]
        yield Finding(
            "pip-not-listed", Severity.WARNING,
            "a `pip:` subsection, but `pip` is not among the conda dependencies: conda then uses whatever pip "
            "it finds (or none); add `pip` to the dependencies",
            span_of(section.key), fixes=(_add_pip_fix(env, section.key),),
        )
    for section in env.pip:
        for entry in section.entries:
            line = entry.pip_line
            if line.kind != "invalid":
                continue
            fixes = (Fix(f"Write `{line.suggestion}`", (Edit(entry.start, entry.end, line.suggestion),), True),) \
                if line.suggestion else ()
            yield Finding("invalid-pip-requirement", Severity.ERROR, line.error or "invalid pip line",
                          span_of(entry), fixes=fixes)


def _add_pip_fix(env: Environment, key: Node) -> Fix:
    index = env.document.index
    line = index.line_of(key.start)
    line_start = index.line_starts[line]
    prefix = env.document.text[line_start:key.start]
    dash = prefix.rfind("-")
    newline = "\r\n" if "\r\n" in env.document.text else "\n"
    if dash >= 0 and not prefix[:dash].strip() and not prefix[dash + 1:].strip():
        indent = prefix[:dash]
        return Fix("Add `pip` to the dependencies", (Edit(line_start, line_start, f"{indent}- pip{newline}"),), True)
    brace = env.document.text.rfind("{", 0, key.start)
    if brace >= 0 and not env.document.text[brace + 1:key.start].strip():
        return Fix("Add `pip` to the dependencies", (Edit(brace, brace, "pip, "),), True)
    return Fix("Add `pip` to the dependencies", (Edit(key.start, key.start, f"pip{newline}{prefix}"),), True)


def installers(env: Environment) -> Iterator[Finding]:
    for key, _ in env.installers:
        name = key.value if key.kind == "scalar" else "?"
        yield Finding(
            "unknown-installer", Severity.ERROR,
            f"conda has no installer `{name}`: it fails with \"Unable to load installer for {name}\"; "
            "only `pip:` subsections (and micromamba's `sel(...)`) may appear among the dependencies",
            span_of(key),
        )


FAST_RULES: tuple[Rule, ...] = (env_name, machine_prefix, channels, conda_specs, pip_section, installers)
