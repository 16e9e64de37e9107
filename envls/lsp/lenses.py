"""Code lenses: at the top of an environment file, create it, or update it and use its Python; on
`dependencies:`, whether it solves for each target platform (and what), once the solve is at hand; on `pip:`,
whether the pip section resolves on top of it (and what pip would download)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from lsprotocol import types
from pygls.uris import to_fs_path

from envls.core.findings import Finding, Severity
from envls.lsp import commands, workflow
from envls.lsp.features import document_request
from envls.lsp.state import EnvlsServer, Snapshot
from envls.session import described_target


def _environment_lenses(server: EnvlsServer, params: types.CodeLensParams,
                        snap: Snapshot) -> list[types.CodeLens] | None:
    uri = params.text_document.uri
    path = to_fs_path(uri)
    if not path or snap.analysis.document.top is None:
        return None
    where = types.Range(start=types.Position(line=0, character=0), end=types.Position(line=0, character=0))
    # From the snapshot and the session's lookup of installed environments: no disk scan per request.
    target = described_target(snap.analysis.environment)
    found = server.session.find_installed(target, Path(path).parent) if target else None
    argument: list[object] = [{"uri": uri}]
    if found is None:
        title = _create_title(server, target, snap.analysis.findings)
        return [types.CodeLens(range=where, command=types.Command(title=title, command=commands.CREATE, arguments=argument))]
    drift = sum(1 for f in snap.analysis.findings if f.code == "env-drift")
    state = "in sync with this file" if drift == 0 else f"{drift} package{'s' if drift != 1 else ''} out of date"
    return [
        types.CodeLens(range=where, command=types.Command(title=f"Update environment ({state})", command=commands.UPDATE, arguments=argument)),
        types.CodeLens(range=where, command=types.Command(title="Use as Python interpreter", command=commands.SELECT, arguments=argument)),
        *workflow.sync_lenses(server, uri, found, snap.analysis.environment, where),
    ]


def _create_title(server: EnvlsServer, target: str | None, findings: Sequence[Finding]) -> str:
    """"Create environment `demo`", with why it would fail now when it would: an untrusted workspace runs no
    conda, and a file with errors does not make an environment."""
    title = f"Create environment `{target}`" if target else "Create environment"
    if not server.settings.trusted:
        return f"{title}: trust the workspace first"
    errors = sum(1 for f in findings if f.severity == Severity.ERROR)
    if errors:
        return f"{title}: fix {errors} error{'s' if errors != 1 else ''} first"
    return title


@document_request(None)
def code_lenses(server: EnvlsServer, params: types.CodeLensParams, snap: Snapshot) -> list[types.CodeLens] | None:
    lenses = _environment_lenses(server, params, snap)
    if lenses is None:
        return None
    return [*lenses, *_solve_lenses(server, params.text_document.uri, snap), *_pip_lenses(server, params.text_document.uri, snap)]


def _solve_lenses(server: EnvlsServer, uri: str, snap: Snapshot) -> list[types.CodeLens]:
    """"Solves for linux-64: 87 packages, 1.2 GB to download" per platform, on the `dependencies:` key."""
    from envls.core.solve.summary import lens_title

    env = snap.analysis.environment
    if env.dependencies_key is None:
        return []
    facts = server.session.cached_solve(env, server.root_dir(uri))
    if facts is None:
        return []
    line = snap.analysis.document.index.line_of(env.dependencies_key.start)
    where = types.Range(start=types.Position(line=line, character=0), end=types.Position(line=line, character=0))
    return [types.CodeLens(range=where, command=types.Command(
        title=lens_title(solve), command=commands.SHOW_SOLUTION, arguments=[{"uri": uri, "platform": solve.platform}]))
        for solve in facts.solves]


def _pip_lenses(server: EnvlsServer, uri: str, snap: Snapshot) -> list[types.CodeLens]:
    """"pip on linux-64: 12 packages from the index, 48 MB; adds idna (not listed)" per platform, on `pip:`."""
    from envls.core.pip.resolution_rules import lens_title

    env = snap.analysis.environment
    if not env.pip:
        return []
    facts = server.session.cached_pip_resolution(env, server.root_dir(uri))
    if facts is None:
        return []
    line = snap.analysis.document.index.line_of(env.pip[0].key.start)
    where = types.Range(start=types.Position(line=line, character=0), end=types.Position(line=line, character=0))
    return [types.CodeLens(range=where, command=types.Command(title=lens_title(r), command=""))
            for r in facts.resolutions]
