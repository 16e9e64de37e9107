"""Code lenses at the top of an environment file: create it, or update it and use its Python."""

from __future__ import annotations

from pathlib import Path

from lsprotocol import types
from pygls.uris import to_fs_path

from envls.lsp import commands
from envls.lsp.state import EnvlsServer


def code_lenses(server: EnvlsServer, params: types.CodeLensParams) -> list[types.CodeLens] | None:
    uri = params.text_document.uri
    path = to_fs_path(uri)
    if not path or not server.is_environment(uri):
        return None
    snap = server.snapshot(uri)
    if snap.analysis.document.top is None:
        return None
    where = types.Range(start=types.Position(line=0, character=0), end=types.Position(line=0, character=0))
    target, found = commands.described_environment(server, Path(path))
    argument: list[object] = [{"uri": uri}]
    if found is None:
        title = f"Create environment `{target}`" if target else "Create environment"
        return [types.CodeLens(range=where, command=types.Command(title=title, command=commands.CREATE, arguments=argument))]
    drift = sum(1 for f in snap.analysis.findings if f.code == "env-drift")
    state = "in sync with this file" if drift == 0 else f"{drift} package{'s' if drift != 1 else ''} out of date"
    return [
        types.CodeLens(range=where, command=types.Command(title=f"Update environment ({state})", command=commands.UPDATE, arguments=argument)),
        types.CodeLens(range=where, command=types.Command(title="Use as Python interpreter", command=commands.SELECT, arguments=argument)),
    ]
