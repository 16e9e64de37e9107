"""The command line: `envls serve` (the language server on stdio) and `envls check` (the same findings, for CI)."""

from __future__ import annotations

import argparse
import asyncio
import bisect
import difflib
import json
import logging
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

from envls import __version__, workflow_cli
from envls.core.analysis import Analysis, AnalysisOptions, analyze
from envls.core.codes import CODES
from envls.core.environment import Environment
from envls.core.files import decode, is_environment_file, is_environment_name, is_yaml_name, text_encoding
from envls.core.findings import Finding, Severity, Span
from envls.core.pip.resolution_facts import PipResolutionFacts
from envls.core.solve.facts import SolveFacts
from envls.core.text import LineIndex
from envls.gc_pause import gc_paused
from envls.host.readfile import DOCUMENT_MAX_BYTES, Refused, read_bytes
from envls.session import Session, SessionOptions, channel_checks_default, solve_default
from envls.solve.service import SolveUnavailable

_SKIP_DIRS = {".git", ".hg", ".svn", "node_modules", ".venv", "venv", "__pycache__", ".tox", ".nox", ".mypy_cache",
              ".pytest_cache", "site-packages", ".pixi"}


CHECK_EPILOG = """exit status:
  0  no finding at or above --fail-on
  1  findings at or above --fail-on (default: warning)
  2  a usage error, an unreadable file, or no environment file to check"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="envls", description="Language server and checker for conda environment files.")
    parser.add_argument("--version", action="version", version=f"envls {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the language server (LSP over stdin/stdout, for editors)",
                           description="Run the envls language server, speaking LSP over stdin and stdout; an editor "
                                       "starts it. Logs go to stderr.")
    serve.add_argument("--stdio", action="store_true", help="use stdio (the default and only transport)")
    serve.add_argument("--log-level", default=os.environ.get("ENVLS_LOG_LEVEL", "info"),
                       choices=["debug", "info", "warning", "error"],
                       help="the least severe log records to send to stderr and the editor (default: info, "
                            "or ENVLS_LOG_LEVEL)")
    check = sub.add_parser("check", help="check environment files and print the findings",
                           description="Check conda environment files (the same findings as in the editor) and print "
                                       "them, one per line, as PATH:LINE:COLUMN: SEVERITY CODE MESSAGE.",
                           epilog=CHECK_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    check.set_defaults(check_parser=check)
    check.add_argument("paths", nargs="+", metavar="PATH", help="files, or directories to search for environment files")
    check.add_argument("--format", choices=["text", "json"], default="text",
                       help="text: one line per finding (default); json: per file, its path and its LSP diagnostics")
    check.add_argument("--fail-on", choices=["error", "warning", "information"], default="warning",
                       help="exit 1 when a finding is at least this severe (default: warning)")
    check.add_argument("--disable", action="append", default=[], metavar="CODE",
                       help="never report this code (repeatable, or comma-separated); an unknown code is an error")
    check.add_argument("--platform", action="append", default=[], metavar="SUBDIR",
                       help="target platform when the file has no `platforms:` (repeatable; default: this machine's)")
    check.add_argument("--cuda-version", metavar="VERSION",
                       help="the target machine's CUDA driver version (e.g. 12.2, or none); default: detected here")
    check.add_argument("--no-channels", action="store_true",
                       help="skip the checks that need channel data (also ENVLS_CHANNEL_CHECKS=0)")
    check.add_argument("--no-solve", action="store_true",
                       help="do not solve the environment for its platforms (also ENVLS_SOLVE=0)")
    check.add_argument("--expand-environment-variables", action="store_true",
                       help="fill ${VAR} in the index URLs of a pip section from this environment, as pip does "
                            "(off by default: a checked file could send a CI secret to a URL it names)")
    workflow_cli.add_parsers(sub)
    return parser


def disabled_codes(values: Sequence[str]) -> frozenset[str]:
    """The codes of --disable; ValueError naming the first unknown one (and the nearest known code)."""
    codes = frozenset(c.strip() for group in values for c in group.split(",") if c.strip())
    for code in sorted(codes - CODES):
        near = difflib.get_close_matches(code, sorted(CODES), n=1)
        raise ValueError(f"unknown code `{code}` in --disable" + (f"; did you mean `{near[0]}`?" if near else ""))
    return codes


def find_files(paths: Sequence[str]) -> Iterator[tuple[str, str | None]]:
    """(path, the directory searched or None for a file given explicitly) for each file to check."""
    for given in paths:
        path = Path(given)
        if not path.is_dir():
            yield given, None
            continue
        for root, dirs, files in os.walk(path):
            dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS and not d.startswith("."))
            for name in sorted(files):
                if is_yaml_name(name):
                    yield os.path.join(root, name), given


def _session(args: argparse.Namespace) -> Session:
    options = SessionOptions(channel_checks=not args.no_channels and channel_checks_default(),
                             platforms=tuple(args.platform), cuda_version=args.cuda_version or "",
                             solve=not args.no_solve and solve_default(),
                             expand_environment_variables=args.expand_environment_variables)
    session = Session(options)
    if not options.cuda_version:
        session.cuda_probe.start()
        session.cuda_probe.result()  # the command line waits for the answer (bounded by the probe's timeout)
    return session


async def _load_and_solve(session: Session, env: Environment,
                          root: Path) -> tuple[SolveFacts | None, PipResolutionFacts | None]:
    await session.load_all(env, root)
    try:
        solved = await session.solve(env, root)
    except SolveUnavailable as err:
        sys.stderr.write(f"envls: not solved: {err}\n")
        solved = None
    return solved, await session.resolve_pip(env, root, solved)


def _refused(reason: str) -> tuple[None, list[Finding]]:
    """A file that is not read (a FIFO, a device, too large): one finding at its start, and nothing else."""
    return None, [Finding("file-refused", Severity.ERROR, reason, Span(0, 0))]


async def _check_file(path: str, options: AnalysisOptions, explicit: bool,
                      session: Session) -> tuple[Analysis | None, list[Finding]] | None:
    """The file's analysis and findings; no analysis when the file was refused (then one finding says why)."""
    try:
        data = read_bytes(path, max_bytes=DOCUMENT_MAX_BYTES)
    except Refused as err:
        if not explicit and not is_environment_name(path):
            return None
        return _refused(err.reason)
    text, bad_offset = decode(data)
    if not explicit and not is_environment_file(path, text):
        return None
    analysis = analyze(text, options)
    root = Path(path).resolve().parent
    solved = pip_resolution = None
    if analysis.document.top is not None:
        solved, pip_resolution = await _load_and_solve(session, analysis.environment, root)
        for solve in solved.solves if solved is not None else ():
            if solve.status in ("timeout", "error"):
                sys.stderr.write(f"envls: {path}: not solved for {solve.platform}: {solve.detail}\n")
    analysis = session.enrich(analysis, root, options, solve_facts=solved, pip_resolution=pip_resolution)
    findings = list(analysis.findings)
    if bad_offset is not None:
        findings.insert(0, Finding("yaml-syntax", Severity.ERROR,
                                   f"the file is not valid {text_encoding(data)} text: conda cannot read it",
                                   Span(bad_offset, bad_offset + 1)))
    return analysis, findings


# The last file's analysis, kept: `main` ends the process with os._exit right after the report, so it is
# never freed. Freeing a 5 MB file's million objects one by one took a quarter of a second.
_last: list[object] = []


def check(args: argparse.Namespace) -> int:
    """Check every file in one event loop (the channel store and its caches serve them all)."""
    return asyncio.run(_check_all(args))


async def _check_all(args: argparse.Namespace) -> int:
    options = AnalysisOptions(disabled_codes=disabled_codes(args.disable))
    threshold = Severity.parse(args.fail_on)
    worst: Severity | None = None
    unreadable = False
    report = []
    session = _session(args)
    searched = {given: 0 for given in args.paths if Path(given).is_dir()}
    for path, directory in find_files(args.paths):
        # The collector waits until the file is checked and reported: its passes would scan a large file's
        # million objects again and again.
        with gc_paused():
            try:
                result = await _check_file(path, options, directory is None, session)
            except OSError as err:
                sys.stderr.write(f"envls: cannot read {path}: {err.strerror or err}\n")
                unreadable = True
                continue
            if result is None:
                continue
            _last[:] = [result]  # the previous file's analysis is freed here; the last one never is (see _last)
            if directory is not None:
                searched[directory] += 1
            analysis, findings = result
            unreadable = unreadable or analysis is None
            index = analysis.document.index if analysis is not None else LineIndex("")
            for finding in findings:
                worst = finding.severity if worst is None else min(worst, finding.severity)
            if args.format == "json":
                from lsprotocol import converters

                from envls.lsp.convert import diagnostics

                diags = diagnostics(findings, index, "utf-16", Path(path).resolve().as_uri())
                report.append({"path": path, "diagnostics": converters.get_converter().unstructure(diags)})
            else:
                sys.stdout.write("".join(_report_lines(path, findings, index)))
    if args.format == "json":
        sys.stdout.write(json.dumps(report, indent=2) + "\n")
    empty = [given for given, found in searched.items() if found == 0]
    for given in empty:
        sys.stderr.write(f"envls: no environment file in {given} (environment*.yml, env*.yml, conda*.yml, "
                         "or a YAML file with a top-level `dependencies:` list)\n")
    if unreadable or (empty and len(empty) == len(args.paths)):
        return 2  # nothing could be checked
    return 1 if worst is not None and worst <= threshold else 0


def _report_lines(path: str, findings: Sequence[Finding], index: LineIndex) -> Iterator[str]:
    """`path:line:column: severity code message` per finding, columns in code points (a large file has
    100,000 of them: line and column come straight from the line starts, no Position built)."""
    starts, size, labels = index.line_starts, len(index.text), {s: s.label for s in Severity}
    for finding in findings:
        offset = min(max(finding.span.start, 0), size)
        line = bisect.bisect_right(starts, offset) - 1
        message = finding.message.replace("\n", " ")
        yield f"{path}:{line + 1}:{offset - starts[line] + 1}: {labels[finding.severity]} {finding.code} {message}\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "serve":
        logging.basicConfig(stream=sys.stderr, level=logging.WARNING,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        logging.getLogger("envls").setLevel(args.log_level.upper())
        from envls.lsp.server import serve

        return serve()
    if args.command == "check":
        try:
            disabled_codes(args.disable)
        except ValueError as err:
            args.check_parser.error(str(err))  # usage, the message, exit 2
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="envls: %(levelname)s %(message)s")
    code = workflow_cli.run(args) if args.command in workflow_cli.COMMANDS else check(args)
    sys.stdout.flush()
    # py-rattler's runtime threads can abort the interpreter at finalization; the work is done.
    os._exit(code)


if __name__ == "__main__":
    sys.exit(main())
