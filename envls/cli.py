"""The command line: `envls serve` (the language server on stdio) and `envls check` (the same findings, for CI)."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

from envls import __version__
from envls.core.analysis import Analysis, AnalysisOptions, analyze
from envls.core.environment import Environment
from envls.core.files import decode, is_environment_file, is_yaml_name
from envls.core.findings import Finding, Severity, Span
from envls.core.pip_resolution_facts import PipResolutionFacts
from envls.core.solve_facts import SolveFacts
from envls.session import Session, SessionOptions, solve_default
from envls.solve.service import SolveUnavailable

_SKIP_DIRS = {".git", ".hg", ".svn", "node_modules", ".venv", "venv", "__pycache__", ".tox", ".nox", ".mypy_cache",
              ".pytest_cache", "site-packages", ".pixi"}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="envls", description="Language server and checker for conda environment files.")
    parser.add_argument("--version", action="version", version=f"envls {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the language server on stdio")
    serve.add_argument("--stdio", action="store_true", help="use stdio (the default and only transport)")
    serve.add_argument("--log-level", default=os.environ.get("ENVLS_LOG_LEVEL", "info"),
                       choices=["debug", "info", "warning", "error"])
    check = sub.add_parser("check", help="check environment files and print the findings")
    check.add_argument("paths", nargs="+", metavar="PATH", help="files, or directories to search for environment files")
    check.add_argument("--format", choices=["text", "json"], default="text")
    check.add_argument("--fail-on", choices=["error", "warning", "information"], default="warning",
                       help="exit 1 when a finding is at least this severe (default: warning)")
    check.add_argument("--disable", action="append", default=[], metavar="CODE",
                       help="never report this code (repeatable, or comma-separated)")
    check.add_argument("--platform", action="append", default=[], metavar="SUBDIR",
                       help="target platform when the file has no `platforms:` (repeatable; default: this machine's)")
    check.add_argument("--cuda-version", metavar="VERSION",
                       help="the target machine's CUDA driver version (e.g. 12.2, or none); default: detected here")
    check.add_argument("--no-channels", action="store_true",
                       help="skip the checks that need channel data (also ENVLS_CHANNEL_CHECKS=0)")
    check.add_argument("--no-solve", action="store_true",
                       help="do not solve the environment for its platforms (also ENVLS_SOLVE=0)")
    return parser


def find_files(paths: Sequence[str]) -> Iterator[tuple[str, bool]]:
    """(path, given explicitly) for each file to check; directories are searched for environment files."""
    for given in paths:
        path = Path(given)
        if not path.is_dir():
            yield given, True
            continue
        for root, dirs, files in os.walk(path):
            dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS and not d.startswith("."))
            for name in sorted(files):
                if is_yaml_name(name):
                    yield os.path.join(root, name), False


def _session(args: argparse.Namespace) -> Session:
    from envls.lsp.settings import channel_checks_default

    options = SessionOptions(channel_checks=not args.no_channels and channel_checks_default(),
                             platforms=tuple(args.platform), cuda_version=args.cuda_version or "",
                             solve=not args.no_solve and solve_default())
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


def _check_file(path: str, options: AnalysisOptions, explicit: bool,
                session: Session) -> tuple[Analysis, list[Finding]] | None:
    data = Path(path).read_bytes()
    text, bad_offset = decode(data)
    if not explicit and not is_environment_file(path, text):
        return None
    analysis = analyze(text, options)
    root = Path(path).resolve().parent
    solved = pip_resolution = None
    if analysis.document.top is not None:
        solved, pip_resolution = asyncio.run(_load_and_solve(session, analysis.environment, root))
        for solve in solved.solves if solved is not None else ():
            if solve.status in ("timeout", "error"):
                sys.stderr.write(f"envls: {path}: not solved for {solve.platform}: {solve.detail}\n")
    analysis = session.enrich(analysis, root, options, solve_facts=solved, pip_resolution=pip_resolution)
    findings = list(analysis.findings)
    if bad_offset is not None:
        findings.insert(0, Finding("yaml-syntax", Severity.ERROR,
                                   "the file is not valid UTF-8 text: conda cannot read it",
                                   Span(bad_offset, bad_offset + 1)))
    return analysis, findings


def check(args: argparse.Namespace) -> int:

    codes = frozenset(c.strip() for group in args.disable for c in group.split(",") if c.strip())
    options = AnalysisOptions(disabled_codes=codes)
    threshold = Severity.parse(args.fail_on)
    worst: Severity | None = None
    unreadable = False
    report = []
    session = _session(args)
    for path, explicit in find_files(args.paths):
        try:
            result = _check_file(path, options, explicit, session)
        except OSError as err:
            sys.stderr.write(f"envls: cannot read {path}: {err.strerror or err}\n")
            unreadable = True
            continue
        if result is None:
            continue
        analysis, findings = result
        for finding in findings:
            worst = finding.severity if worst is None else min(worst, finding.severity)
        if args.format == "json":
            from lsprotocol import converters

            from envls.lsp.convert import diagnostics

            diags = diagnostics(findings, analysis.document.index, "utf-16", Path(path).resolve().as_uri())
            report.append({"path": path, "diagnostics": converters.get_converter().unstructure(diags)})
        else:
            for finding in findings:
                pos = analysis.document.index.position(finding.span.start)
                message = finding.message.replace("\n", " ")
                sys.stdout.write(f"{path}:{pos.line + 1}:{pos.column + 1}: {finding.severity.label} {finding.code} {message}\n")
    if args.format == "json":
        sys.stdout.write(json.dumps(report, indent=2) + "\n")
    if unreadable:
        return 2
    return 1 if worst is not None and worst <= threshold else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "serve":
        logging.basicConfig(stream=sys.stderr, level=logging.WARNING,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        logging.getLogger("envls").setLevel(args.log_level.upper())
        from envls.lsp.server import serve

        serve()
        return 0
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="envls: %(levelname)s %(message)s")
    code = check(args)
    sys.stdout.flush()
    # py-rattler's runtime threads can abort the interpreter at finalization; the work is done.
    os._exit(code)


if __name__ == "__main__":
    sys.exit(main())
