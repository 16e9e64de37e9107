"""The workflow commands through the real server: activation variables, export (to text, onto a file on disk,
and through the editor for an open file, which the "Sync from environment" lens does), kernels, Dockerfiles,
and the refusals of an untrusted workspace. The environment is made by the server's own create command with
the embedded installer, from the loopback channel of tests/test_lsp_commands.py."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import AsyncIterator
from typing import Any

import pytest
from channel_server import ChannelServer
from lsp_support import apply_edits
from lsprotocol import types
from pygls.protocol import default_converter
from pytest_lsp.client import DEFAULT_CLIENT_FEATURES, register_lsp_features
from test_lsp_commands import (
    CREATE,
    LensClient,
    Setup,
    _lens_refresh,
    _record_publication,
    env_text,
    failure,
    lenses,
    run,
    setup,
    site,
    titles,
)
from test_lsp_commands import (
    session as lsp_session,
)

pytestmark = [
    pytest.mark.skipif(not sys.platform.startswith("linux") or os.uname().machine != "x86_64",
                       reason="the test channel is built for linux-64"),
    pytest.mark.filterwarnings("error::pytest_lsp.LspSpecificationWarning"),
]
__all__ = ["setup", "site"]  # fixtures, used by name

EXPORT = "envls.exportEnvironment"
ACTIVATION = "envls.activationEnvironment"
KERNEL = "envls.registerKernel"
DOCKERFILE = "envls.generateDockerfile"


class EditingClient(LensClient):
    """The test client, applying `workspace/applyEdit` to the texts it has open (as an editor would)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.texts: dict[str, str] = {}
        self.applied: list[types.WorkspaceEdit] = []


def _apply_edit(client: EditingClient, params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
    client.applied.append(params.edit)
    for uri, edits in (params.edit.changes or {}).items():
        client.texts[uri] = apply_edits(client.texts[uri], edits)
    return types.ApplyWorkspaceEditResult(applied=True)


def make_client() -> EditingClient:
    client = EditingClient(converter_factory=default_converter)
    register_lsp_features(client, {**DEFAULT_CLIENT_FEATURES,
                                   types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS: _record_publication,
                                   types.WORKSPACE_CODE_LENS_REFRESH: _lens_refresh,
                                   types.WORKSPACE_APPLY_EDIT: _apply_edit})
    return client


@contextlib.asynccontextmanager
async def session(setup: Setup, site: ChannelServer, options: Any = None,
                  extra_env: dict[str, str] | None = None) -> AsyncIterator[EditingClient]:
    async with lsp_session(setup, site, options, client_factory=make_client, extra_env=extra_env) as client:
        assert isinstance(client, EditingClient)
        yield client


async def test_workflow_commands(setup: Setup, site: ChannelServer) -> None:
    text = setup.write(env_text("flow", "python", "tool  # the tool"))
    uri = setup.uri
    prefix = setup.envs / "flow"
    jupyter = setup.root.parent / "jupyter"
    async with session(setup, site, extra_env={"JUPYTER_DATA_DIR": str(jupyter)}) as client:
        client.open(uri, text)
        client.texts[uri] = text
        await client.wait_for_publish(uri, 1)
        await run(client, CREATE, {"uri": uri}, timeout=60)

        activated = await run(client, ACTIVATION, {"uri": uri})
        assert activated["prefix"] == str(prefix) and activated["name"] == "flow"
        variables = activated["variables"]
        assert variables["CONDA_PREFIX"] == str(prefix) and variables["CONDA_DEFAULT_ENV"] == "flow"
        assert variables["PATH"].split(os.pathsep)[0] == str(prefix / "bin")
        assert any(str(token).startswith("envls-activating") for token in client.progress_reports)

        exported = await run(client, EXPORT, {"uri": uri})
        assert exported["changed"] is False
        # The test's .condarc makes the channel a member of `defaults` too: conda calls it `defaults` then.
        assert exported["text"].startswith("name: flow\nchannels:\n  - defaults\ndependencies:\n")
        assert "  - tool=2.0\n" in exported["text"] and "prefix" not in exported["text"]

        # Onto a file on disk: only what differs changes.
        other = setup.root / "exported.yml"
        other.write_text("# mine\nname: flow\ndependencies:\n  - tool=1.0  # old\n")
        written = await run(client, EXPORT, {"uri": uri, "output": other.as_uri(), "fromHistory": True})
        assert written["changed"] is True
        assert other.read_text() == ("# mine\nname: flow\nchannels:\n  - defaults\ndependencies:\n"
                                     "  - tool  # old\n  - python\n")

        # Something installed by hand (here: its record in conda-meta/history) makes a lens to sync the file.
        assert not any(t.startswith("Sync") for t in titles(await lenses(client, uri)))
        with open(prefix / "conda-meta" / "history", "a") as history:
            history.write("==> 2026-01-01 00:00:00 <==\n# cmd: conda install slowpkg\n+x::slowpkg-1.0-0\n"
                          "# update specs: ['slowpkg']\n")
        sync = [lens for lens in await lenses(client, uri) if lens.command and lens.command.title.startswith("Sync")]
        assert [lens.command.title for lens in sync if lens.command] == [
            "Sync from environment (1 package not in the file)"]
        command = sync[0].command
        assert command is not None and command.arguments is not None
        synced = await run(client, command.command, *command.arguments)
        assert synced["changed"] is True
        # Through the editor (undoable), only adding: the comment and the rest stay.
        assert client.texts[uri] == text + "  - slowpkg\n"
        assert setup.env_file.read_text() == text  # the editor saves, not the server

        refused = await failure(client, KERNEL, {"uri": uri})
        assert "has no ipykernel" in refused.message and "add `ipykernel`" in refused.message
        assert not jupyter.exists()

        docker = await run(client, DOCKERFILE, {"uri": uri})
        assert "FROM mambaorg/micromamba:" in docker["text"] and "environment.yml /tmp/environment.yml" in docker["text"]
        target = setup.root / "Dockerfile"
        await run(client, DOCKERFILE, {"uri": uri, "output": target.as_uri()})
        assert target.read_text() == docker["text"]
        again = await failure(client, DOCKERFILE, {"uri": uri, "output": target.as_uri()})
        assert "exists" in again.message
        await run(client, DOCKERFILE, {"uri": uri, "output": target.as_uri(), "overwrite": True})

        missing = await failure(client, ACTIVATION, {"name": "never-made"})
        assert "does not exist" in missing.message


async def test_untrusted_workspace_runs_none(setup: Setup, site: ChannelServer) -> None:
    text = setup.write(env_text("flow", "python", "tool"))
    async with session(setup, site, {"trusted": False}) as client:
        client.open(setup.uri, text)
        for command in (EXPORT, ACTIVATION, KERNEL, DOCKERFILE):
            error = await failure(client, command, {"uri": setup.uri})
            assert "untrusted" in error.message, command
        assert client.progress_reports == {}
