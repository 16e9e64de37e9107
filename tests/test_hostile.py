"""Hostile files and folders: every case is a file built here (a FIFO, a device, a symlink out of the
folder, /proc/self/environ, a huge file), run against `envls check` and against the server.

Each case must end quickly: a regression shows as a failure (every wait has a timeout), never as a hang.
The performance half of the issue (long lines, big documents, bursts) lives in tests/test_hostile_perf.py.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lsp_support import SERVER_COMMAND, VSCODE, EnvClient, codes, make_client, session
from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams
from pytest_lsp import ClientServerConfig

from envls.core.files import decode, text_encoding
from envls.host.readfile import Refused, read_bytes, read_file

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="FIFOs, /dev and /proc are POSIX")

SECRET = "hunter2-s3cr3t-value"
HEAD = "name: demo\ndependencies:\n  - python=3.11\n  - pip\n  - pip:\n"
FAST = 20.0  # seconds any case may take, start-up included; they take about one


def pip_file(*lines: str) -> str:
    return HEAD + "".join(f"    - {line}\n" for line in lines)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    return project


def check(path: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "ENVLS_CHANNEL_CHECKS": "0", "ENVLS_SOLVE": "0", "SECRET_TOKEN": SECRET, **(env or {})}
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "envls", "check", "--no-channels", "--no-solve", "--cuda-version",
                           "none", *args, str(path)], capture_output=True, text=True, timeout=FAST, env=environ,
                          stdin=subprocess.DEVNULL)
    assert time.monotonic() - started < FAST
    assert SECRET not in done.stdout + done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    return done


# -- the reader itself ---------------------------------------------------------------------------------


def test_reader_refuses_what_is_no_regular_file(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    link = tmp_path / "link"
    link.symlink_to("/dev/zero")
    for path, words in ((fifo, "FIFO"), ("/dev/zero", "system file"), (link, "system file"),
                        ("/proc/self/environ", "system file"), (tmp_path, "folder")):
        with pytest.raises(Refused, match=words):
            read_bytes(path)
    big = tmp_path / "big.txt"
    big.write_bytes(b"x" * 3000)
    with pytest.raises(Refused, match="more than envls reads"):
        read_bytes(big, max_bytes=1000)
    assert read_file(tmp_path / "absent").missing
    assert read_file(tmp_path / ("x" * 5000)).refused is not None  # longer than a file name may be


def test_reader_resolves_symlinks_before_the_inside_test(tmp_path: Path, folder: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("secret\n")
    (folder / "inside.txt").write_text("fine\n")
    (folder / "link.txt").symlink_to(outside)
    assert read_file(folder / "inside.txt", within=folder).text() == "fine\n"
    via_link = read_file(folder / "link.txt", within=folder, read_outside=False)
    assert via_link.outside and via_link.data is None
    assert read_file(folder / "link.txt", within=folder).outside


def test_bad_utf16_is_called_utf16() -> None:
    data = "name: x\n".encode("utf-16") + b"\x00\xd8"  # a lone high surrogate at the end
    assert text_encoding(data) == "UTF-16"
    text, bad = decode(data)
    assert text.startswith("name: x") and bad == len("name: x\n")


# -- envls check -----------------------------------------------------------------------------------------


def test_check_on_a_fifo_returns_with_a_finding(folder: Path) -> None:
    fifo = folder / "environment.yml"
    os.mkfifo(fifo)
    done = check(fifo)
    assert done.returncode == 2
    assert "file-refused" in done.stdout and "FIFO" in done.stdout


def test_check_on_a_device_returns_with_a_finding(folder: Path) -> None:
    link = folder / "environment.yml"
    link.symlink_to("/dev/zero")
    done = check(link)
    assert done.returncode == 2 and "file-refused" in done.stdout


def test_check_reports_bad_utf16_as_utf16(folder: Path) -> None:
    path = folder / "environment.yml"
    path.write_bytes("dependencies:\n  - python\n".encode("utf-16") + b"\x00\xd8")
    done = check(path)
    assert "not valid UTF-16" in done.stdout and "UTF-8" not in done.stdout


@pytest.mark.parametrize("target", ["/proc/self/environ", "/dev/stdin", "/dev/zero", "fifo", "link-to-stdin"])
def test_check_refuses_special_requirement_files(folder: Path, target: str) -> None:
    if target == "fifo":
        os.mkfifo(folder / "fifo")
    if target == "link-to-stdin":
        (folder / target).symlink_to("/dev/stdin")
    env = folder / "environment.yml"
    env.write_text(pip_file(f"-r {target}"))
    done = check(env)
    assert "file-refused" in done.stdout, done.stdout


def test_check_never_quotes_a_file_outside_the_folder(tmp_path: Path, folder: Path) -> None:
    outside = tmp_path / "credentials.txt"
    outside.write_text(f"first line is fine-name\nTOKEN={SECRET} and more\n")
    (folder / "committed.txt").symlink_to(outside)  # a committed symlink that points out of the folder
    (folder / "mine.txt").write_text("poetry=1.2\n")
    env = folder / "environment.yml"
    env.write_text(pip_file("-r ../credentials.txt", "-r committed.txt", "-r mine.txt"))
    done = check(env)
    lines = [line for line in done.stdout.splitlines() if "invalid-pip-requirement" in line]
    assert len(lines) == 3, done.stdout
    assert "../credentials.txt:2: not a valid pip line" in lines[0]
    assert "committed.txt:2: not a valid pip line" in lines[1]
    assert "`poetry=1.2` is no pip requirement" in lines[2]  # inside the folder: quoted, with the fix


def test_check_refuses_a_huge_requirements_file(folder: Path) -> None:
    (folder / "huge.txt").write_bytes(b"numpy\n" * 400_000)
    env = folder / "environment.yml"
    env.write_text(pip_file("-r huge.txt"))
    done = check(env)
    assert "file-refused" in done.stdout and "more than envls reads" in done.stdout


def test_check_survives_an_editable_path_longer_than_a_file_name(folder: Path) -> None:
    env = folder / "environment.yml"
    env.write_text(pip_file(f"-e ./{'a' * 300}", f"-e ./{'b/' * 3000}c"))
    done = check(env)
    assert done.returncode in (0, 1) and done.stdout.count("file-refused") == 2, done.stdout


def test_check_does_not_hang_on_a_prefix_whose_records_are_devices(tmp_path: Path, folder: Path) -> None:
    prefix = tmp_path / "env"
    (prefix / "conda-meta").mkdir(parents=True)
    (prefix / "conda-meta" / "python-3.11.0-h0_0.json").symlink_to("/dev/stdin")
    os.mkfifo(prefix / "conda-meta" / "pip-23.0-py_0.json")
    (prefix / "conda-meta" / "history").symlink_to("/dev/zero")
    env = folder / "environment.yml"
    env.write_text(f"prefix: {prefix}\ndependencies:\n  - python=3.11\n  - pip\n")
    done = check(env)
    assert done.returncode in (0, 1)


def test_check_does_not_expand_environment_variables_by_default(folder: Path) -> None:
    env = folder / "environment.yml"
    env.write_text(pip_file("--extra-index-url https://${SECRET_TOKEN}@127.0.0.1:9/simple", "requests"))
    done = check(env)  # channels are off, so nothing is fetched either way; the secret is never printed
    assert "${SECRET_TOKEN}" not in done.stderr or SECRET not in done.stderr


# -- the server ----------------------------------------------------------------------------------------------


def _config(extra: dict[str, str] | None = None) -> ClientServerConfig:
    env = {k: v for k, v in os.environ.items() if k != "CONDARC"}
    env.update(ENVLS_CHANNEL_CHECKS="0", ENVLS_SOLVE="0", SECRET_TOKEN=SECRET, **(extra or {}))
    return ClientServerConfig(server_command=SERVER_COMMAND, client_factory=make_client, server_env=env)


def _messages(client: EnvClient) -> str:
    parts = [d.message for p in client.published for d in p.diagnostics]
    parts += [m.message for m in client.log_messages]
    return "\n".join(parts)


async def _published(client: EnvClient, uri: str, code: str) -> types.PublishDiagnosticsParams:
    return await client.wait_for_publish(uri, predicate=lambda p: code in codes(p.diagnostics), timeout=FAST)


@pytest.mark.parametrize("trusted", [True, False])
async def test_server_refuses_special_files_and_keeps_serving(tmp_path: Path, folder: Path, trusted: bool) -> None:
    os.mkfifo(folder / "fifo.txt")
    (folder / "stdin.txt").symlink_to("/dev/stdin")
    outside = tmp_path / "outside.txt"
    outside.write_text(f"TOKEN={SECRET}\n")
    (folder / "committed.txt").symlink_to(outside)
    text = pip_file("-r fifo.txt", "-r stdin.txt", "-r /proc/self/environ", "-r committed.txt",
                    f"-e ./{'x' * 300}")
    uri = (folder / "environment.yml").as_uri()
    (folder / "environment.yml").write_text(text)
    async with session(VSCODE, folder, initialization_options={"trusted": trusted}, config=_config()) as client:
        client.open(uri, text)
        published = await _published(client, uri, "file-refused")
        refused = [d for d in published.diagnostics if d.code == "file-refused"]
        lines = sorted(d.range.start.line for d in refused)
        # The FIFO and the long -e path always; /dev/stdin and /proc (outside the folder once resolved) only
        # where outside files are read at all: untrusted, they are not even looked at.
        assert lines == ([5, 6, 7, 9] if trusted else [5, 9]), [(d.range.start.line, d.message) for d in refused]
        invalid = [d for d in published.diagnostics if d.code == "invalid-pip-requirement"]
        if trusted:  # read (the user trusts the folder), but never quoted
            assert len(invalid) == 1 and "committed.txt:1: not a valid pip line" in invalid[0].message
        else:  # a symlink out of the folder is outside: not read at all
            assert invalid == []
        # Every request still answers, and promptly.
        doc = types.TextDocumentIdentifier(uri=uri)
        await client.ask(client.text_document_document_symbol_async(types.DocumentSymbolParams(text_document=doc)))
        await client.ask(client.text_document_hover_async(
            types.HoverParams(text_document=doc, position=types.Position(line=9, character=8))))
        assert SECRET not in _messages(client)


async def test_server_prefix_with_device_records_does_not_hang(tmp_path: Path, folder: Path) -> None:
    prefix = tmp_path / "env"
    (prefix / "conda-meta").mkdir(parents=True)
    (prefix / "conda-meta" / "python-3.11.0-h0_0.json").symlink_to("/dev/stdin")
    os.mkfifo(prefix / "conda-meta" / "numpy-1.26.0-py_0.json")
    text = f"prefix: {prefix}\ndependencies:\n  - python=3.11\n  - numpy\n"
    uri = (folder / "environment.yml").as_uri()
    async with session(VSCODE, folder, config=_config()) as client:
        client.open(uri, text)
        await client.wait_for_publish(uri, timeout=FAST)
        await client.ask(client.text_document_document_symbol_async(
            types.DocumentSymbolParams(text_document=types.TextDocumentIdentifier(uri=uri))))


async def _command_error(client: EnvClient, command: str, arguments: Any) -> JsonRpcException:
    started = time.monotonic()
    with pytest.raises(JsonRpcException) as caught:
        await client.ask(client.workspace_execute_command_async(
            types.ExecuteCommandParams(command=command, arguments=[arguments])), timeout=10)
    assert time.monotonic() - started < 5
    return caught.value


async def test_commands_refuse_devices_and_files_outside_the_workspace(tmp_path: Path, folder: Path) -> None:
    (tmp_path / "elsewhere.yml").write_text("dependencies: [python]\n")
    os.mkfifo(folder / "fifo.yml")
    (folder / "zero.yml").symlink_to("/dev/zero")
    (folder / "escape.yml").symlink_to(tmp_path / "elsewhere.yml")
    (folder / "environment.yml").write_text("name: demo\ndependencies: [python]\n")
    async with session(VSCODE, folder, config=_config()) as client:
        for command in ("envls.showSolution", "envls.exportLock", "envls.selectInterpreter", "envls.createEnvironment"):
            for uri, words in (("file:///dev/zero", "outside the workspace"), ((folder / "fifo.yml").as_uri(), "FIFO"),
                               ((folder / "zero.yml").as_uri(), "outside the workspace"),
                               ((folder / "escape.yml").as_uri(), "outside the workspace"),
                               ((tmp_path / "elsewhere.yml").as_uri(), "outside the workspace")):
                error = await _command_error(client, command, {"uri": uri})
                assert isinstance(error, JsonRpcInvalidParams) and words in error.message, (command, uri, error)
                assert error.data is None
        env_uri = (folder / "environment.yml").as_uri()
        error = await _command_error(client, "envls.createEnvironment", {"uri": env_uri, "prefix": "/etc/demo"})
        assert "outside the workspace" in error.message
        error = await _command_error(client, "envls.selectInterpreter", {"uri": env_uri, "prefix": str(tmp_path)})
        assert "outside the workspace" in error.message


async def test_error_responses_carry_no_traceback(folder: Path) -> None:
    """An unexpected failure inside a handler answers with its message; the traceback stays in the log."""
    async with session(VSCODE, folder, config=_config()) as client:
        # A hover on a document the client never opened and that is not on disk: the handler fails inside.
        uri = (folder / "never-opened" / "environment.yml").as_uri()
        try:
            await client.ask(client.text_document_hover_async(types.HoverParams(
                text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=10**6, character=0))))
        except JsonRpcException as err:
            assert err.data is None and "Traceback" not in err.message
        error = await _command_error(client, "envls.showSolution", "not an object")
        assert error.data is None


def _lsp(message: dict[str, Any]) -> bytes:
    body = json.dumps(message).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


@pytest.mark.parametrize(("shutdown", "status"), [(False, 1), (True, 0)])
def test_exit_status_follows_shutdown(folder: Path, shutdown: bool, status: int) -> None:
    messages = [{"jsonrpc": "2.0", "id": 1, "method": "initialize",
                 "params": {"capabilities": {}, "processId": None, "rootUri": folder.as_uri()}},
                {"jsonrpc": "2.0", "method": "initialized", "params": {}}]
    if shutdown:
        messages.append({"jsonrpc": "2.0", "id": 2, "method": "shutdown"})
    messages.append({"jsonrpc": "2.0", "method": "exit"})
    done = subprocess.run(SERVER_COMMAND, input=b"".join(_lsp(m) for m in messages), capture_output=True,
                          timeout=FAST, env={**os.environ, "ENVLS_CHANNEL_CHECKS": "0"})
    assert done.returncode == status, done.stderr.decode()
    assert b"Traceback" not in done.stderr


@pytest.fixture
def slow_channels() -> Iterator[Any]:
    from channel_server import CHANNELS, ChannelServer

    if not CHANNELS.is_dir():
        pytest.skip("the shared channel snapshots are not here")
    with ChannelServer(slow_seconds=5.0) as server:
        yield server


def test_exit_during_a_channel_load_is_quiet(tmp_path: Path, folder: Path, slow_channels: Any) -> None:
    """The client exits while channel data is loading: the server ends, with no traceback on stderr."""
    from channel_server import condarc

    slow_channels.fault("/channels/", "slow")
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONDA_")}
    env.update(HOME=str(home), CONDARC=str(condarc(tmp_path, slow_channels.base_url)),
               ENVLS_CACHE_DIR=str(tmp_path / "cache"), ENVLS_CHANNEL_CHECKS="1")
    text = "channels:\n" + "".join(f"  - channel-{n}\n" for n in range(40)) + "dependencies:\n  - python\n"
    uri = (folder / "environment.yml").as_uri()
    process = subprocess.Popen(SERVER_COMMAND, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env=env)
    assert process.stdin is not None
    process.stdin.write(_lsp({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "capabilities": {}, "processId": None, "rootUri": folder.as_uri(),
        "initializationOptions": {"channelChecks": True, "platforms": ["linux-64"]}}}))
    process.stdin.write(_lsp({"jsonrpc": "2.0", "method": "initialized", "params": {}}))
    process.stdin.write(_lsp({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": {
        "uri": uri, "languageId": "yaml", "version": 1, "text": text}}}))
    process.stdin.flush()
    deadline = time.monotonic() + FAST
    while not slow_channels.requests and time.monotonic() < deadline:
        time.sleep(0.05)
    assert slow_channels.requests, "the server never asked for channel data"
    process.stdin.write(_lsp({"jsonrpc": "2.0", "method": "exit"}))
    process.stdin.flush()
    _, stderr = process.communicate(timeout=FAST)
    assert process.returncode == 1  # exit without shutdown
    assert b"Traceback" not in stderr and b"Logging error" not in stderr, stderr.decode()[-3000:]
    # At most 32 channels of the 40 were asked for (the limit), each for its subdirs.
    asked = {path.split("/")[2] for path in slow_channels.requests if path.startswith("/channels/")}
    assert len(asked) <= 32


async def test_pip_index_cache_that_is_no_page_is_ignored(tmp_path: Path) -> None:
    from envls.pypi.index import IndexClient

    client = IndexClient(tmp_path, timeout=1.0)
    path = client._cache_path("http://127.0.0.1:9/simple", "requests")
    path.parent.mkdir(parents=True)
    for damage in ("[]", "{}", '{"format": 1, "state": []}', "null", "\x00"):
        path.write_text(damage)
        page = await asyncio.wait_for(client.page_async("http://127.0.0.1:9/simple", "requests"), FAST)
        assert page.state == "unreachable"  # nothing listens on port 9: the damaged page was not used
        client._pages.clear()
        client._down.clear()
