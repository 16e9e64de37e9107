"""The fast analysis of one environment file: text in, findings out, in stages.

Syntax first, then structure (empty file, schema), then the rules. A rule that fails
is logged and skipped; the others still report. Suppression comments are applied last.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

from envls.core.conda.channel_facts import ChannelFacts
from envls.core.conda.channel_rules import channel_findings
from envls.core.conda.domain_rules import DOMAIN_RULES
from envls.core.conda.split_packages import published_exact_pins
from envls.core.document import LINE_LIMIT, Document, parse
from envls.core.environment import Environment, environment_of
from envls.core.findings import Finding, Related, Severity, Span, with_clipped_messages
from envls.core.pip.rules import FAST_PIP_RULES
from envls.core.rules import FAST_RULES, unknown_keys
from envls.core.schema import validate
from envls.core.text import LineIndex

log = logging.getLogger(__name__)

_SUPPRESS = re.compile(r"(?:^|[ \t])#[ \t]*envls:[ \t]*(disable|disable-file)[ \t]*=[ \t]*([A-Za-z0-9_,-]+(?:[ \t]*,[ \t]*[A-Za-z0-9_-]+)*)")


@dataclass(frozen=True)
class AnalysisOptions:
    """What the user turned off: codes never to report."""

    disabled_codes: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Analysis:
    document: Document
    environment: Environment
    findings: tuple[Finding, ...]


def analyze(text: str, options: AnalysisOptions | None = None) -> Analysis:
    """Every fast finding for ``text``; never raises."""
    options = options or AnalysisOptions()
    if len(text) > DOCUMENT_LIMIT:
        return _too_large(text, options)
    document = parse(text)
    environment = environment_of(document)
    findings: list[Finding] = []
    for stage in (_syntax, _structure, _rules):
        try:
            findings.extend(stage(document, environment))
        except Exception:  # a failing stage must not take the others down
            log.exception("envls: the %s stage failed", stage.__name__.strip("_"))
    findings = _suppressed(document, findings, options)
    findings.sort(key=lambda f: (f.span.start, f.severity, f.code))
    return Analysis(document, environment, tuple(findings))


# Documents larger than this are not analysed (one `file-too-large` finding): an environment file is a
# few kilobytes; 10 MB keeps the server's memory for one document well under a gigabyte.
DOCUMENT_LIMIT = 10_000_000


def _too_large(text: str, options: AnalysisOptions) -> Analysis:
    index = LineIndex(text)
    document = Document(text=text, index=index, root=None, problems=[])
    finding = Finding("file-too-large", Severity.INFORMATION,
                      f"this file is {len(text) / 1e6:.1f} million characters long: envls checks files of up to "
                      f"{DOCUMENT_LIMIT / 1e6:.0f} million characters and leaves this one alone",
                      Span(0, index.line_span(0)[1]))
    return Analysis(document, environment_of(document), tuple(_suppressed(document, [finding], options)))


def add_findings(analysis: Analysis, stage: str, compute: Callable[[], Iterable[Finding]],
                 options: AnalysisOptions | None = None, replaces: frozenset[str] = frozenset()) -> Analysis:
    """The analysis with a later stage's findings added (suppression comments honoured).

    ``replaces`` are the codes the stage owns: findings of an earlier run of it are dropped. A finding
    already present (same code, same place) is not added twice. A stage that fails is logged and skipped.
    """
    options = options or AnalysisOptions()
    try:
        extra = list(compute())
    except Exception:
        log.exception("envls: the %s stage failed", stage)
        return analysis
    if not extra and (not replaces or not any(f.code in replaces for f in analysis.findings)):
        return analysis  # nothing to add or drop (a large file's 100,000 findings are not rehashed)
    kept = [f for f in analysis.findings if f.code not in replaces] if replaces else list(analysis.findings)
    present = {(f.code, f.span) for f in kept}
    extra = [f for f in extra if (f.code, f.span) not in present]
    if not extra and len(kept) == len(analysis.findings):
        return analysis
    findings = [*kept, *_suppressed(analysis.document, extra, options)]
    findings.sort(key=lambda f: (f.span.start, f.severity, f.code))
    return Analysis(analysis.document, analysis.environment, tuple(findings))


def with_channels(analysis: Analysis, facts: ChannelFacts, options: AnalysisOptions | None = None) -> Analysis:
    """The analysis with the channel stage added: every spec checked against the channels' data (a `==X.Y` is
    no longer called suspicious when the package publishes exactly X.Y), one squiggle per spec."""
    result = add_findings(analysis, "channel", lambda: channel_findings(analysis.environment, facts), options)
    try:
        exact = published_exact_pins(analysis.environment, facts.records)
    except Exception:
        log.exception("envls: the channel stage failed")
        exact = frozenset()
    if exact:
        kept = tuple(f for f in result.findings if not (f.code == "suspicious-spec" and f.span in exact))
        result = Analysis(result.document, result.environment, kept)
    return _fold_explained(result)


def _fold_explained(analysis: Analysis) -> Analysis:
    """One squiggle per spec: a spec with no matching version that is also suspicious (`python==3.10`, an
    exact match) gets one error, whose message ends with the warning's explanation and whose first fix is
    the warning's; the warning itself goes."""
    errors = {f.span: f for f in analysis.findings if f.code == "version-not-found"}
    folded = {f.span: f for f in analysis.findings if f.code == "suspicious-spec" and f.span in errors}
    if not folded:
        return analysis
    findings = []
    for finding in analysis.findings:
        warning = folded.get(finding.span)
        if warning is None:
            findings.append(finding)
        elif finding.code == "version-not-found":
            fixes = (*warning.fixes, *(replace(f, preferred=False) for f in finding.fixes)) if warning.fixes \
                else finding.fixes
            findings.append(replace(finding, message=f"{finding.message}; {warning.message}",
                                    fixes=fixes))
        elif finding is not warning:
            findings.append(finding)
    return Analysis(analysis.document, analysis.environment, tuple(findings))


def _syntax(document: Document, environment: Environment) -> Iterable[Finding]:
    for problem in document.problems:
        related = tuple(Related(Span(start, end), words) for start, end, words in problem.related)
        yield Finding("yaml-syntax", Severity.ERROR, problem.message, Span(problem.start, problem.end), related=related)
    for start, end in document.long_lines:
        yield Finding("line-too-long", Severity.INFORMATION,
                      f"this line is {end - start:,} characters long: envls leaves lines longer than "
                      f"{LINE_LIMIT:,} characters out of its checks", Span(start, end))
    for duplicate in document.duplicate_keys:
        first, second = duplicate.first, duplicate.second
        shown = first.value if len(first.value) <= 60 else first.value[:57] + "..."
        yield Finding("duplicate-key", Severity.ERROR,
                      f"`{shown}` is already a key of this mapping: conda refuses the file (DuplicateKeyError); "
                      "merge the two or remove one",
                      Span(second.start, second.end),
                      related=(Related(Span(first.start, first.end), f"`{shown}` is first used here"),))


def _structure(document: Document, environment: Environment) -> Iterable[Finding]:
    if document.problems and document.root is None:
        return
    root = document.root
    if root is None or (root.is_null and not document.problems):
        first_line_end = document.index.line_span(0)[1]
        yield Finding("empty-file", Severity.ERROR,
                      "the environment file is empty: conda fails with \"Environment file is empty\"",
                      Span(0, first_line_end))
        return
    for problem in validate(root):
        if problem.unknown_key:
            yield unknown_keys(environment, problem.node, problem.message)
        elif not document.problems:
            yield Finding("schema", Severity.ERROR, problem.message, Span(problem.node.start, problem.node.end))


def _rules(document: Document, environment: Environment) -> Iterable[Finding]:
    for rule in (*FAST_RULES, *FAST_PIP_RULES, *DOMAIN_RULES):
        try:
            yield from list(rule(environment))
        except Exception:
            log.exception("envls: rule %s failed", rule.__name__)


def _suppressed(document: Document, findings: list[Finding], options: AnalysisOptions) -> list[Finding]:
    """The findings that no suppression comment or disabled code turns off, their messages clipped (every
    stage's findings pass through here)."""
    findings = [with_clipped_messages(f) for f in findings]
    file_codes: set[str] = set(options.disabled_codes)
    line_codes: dict[int, set[str]] = {}
    if "envls:" in document.text:
        for match in _SUPPRESS.finditer(document.text):
            codes = {c.strip() for c in match.group(2).split(",") if c.strip()}
            if match.group(1) == "disable-file":
                file_codes |= codes
            else:
                line_codes.setdefault(document.index.line_of(match.start(2)), set()).update(codes)
    if not file_codes and not line_codes:
        return findings
    kept = []
    for finding in findings:
        on_line = line_codes.get(document.index.line_of(finding.span.start), set())
        if finding.code in file_codes or "all" in file_codes or finding.code in on_line or "all" in on_line:
            continue
        kept.append(finding)
    return kept
