#!/usr/bin/env python3
"""envls end-to-end benchmarks: one command, one table.

    python benchmarks/run.py [--quick] [--edits N] [--starts N] [--checks N] [--json FILE]

Rows:
  edit      didChange (one character) -> publishDiagnostics for that version, over stdio LSP,
            on a 200-line `conda env export` file. Target p50 <= 10 ms and p95 <= 25 ms.
  start     spawn `python -m envls serve` -> initialize -> didOpen -> first publishDiagnostics.
            Target p95 <= 1 s.
  check     `envls check` over the shared corpus (../shared/corpus/files), wall time. Target p95 <= 3 s.
  channels  the channel stage against the real conda-forge snapshot (../shared/data/channels) served by a
            loopback HTTP server started here: first check with an empty cache, completion of package
            names and of versions, an edit that makes a version-not-found appear/disappear, server RSS.
  scale     (--channels-scale) the same against a synthetic channel the size of conda-forge (30,000 names,
            1,000,000 records; benchmarks/synthetic_channel.py), once with CEP-16 shards and once with only
            repodata.json(.zst). Completion p95 <= 20 ms, channel edit p95 <= 100 ms, cold first check
            <= 5 s, RSS <= 300 MB.
  pip       the pip section (20 requirements, 60 packages with their dependencies) resolved with uv against a
            loopback index, after an edit of one pin, with uv's cache warm: the server's debounce plus the
            resolution (benchmarks/pip_resolution.py, which also times resolvelib on the same cases).
            Target p95 <= 2 s. Not in --quick runs unless asked for with --only pip.

Exit status: 0 when every row ran and met its target, 1 when a target was missed, 2 when a
measurement could not run (a row whose input is missing, such as the corpus, is skipped). With --quick (a smoke run with a few samples) a missed target is
shown but does not change the exit status.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import queue
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from exported_env import exported_environment

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = ROOT.parent / "shared" / "corpus" / "files"

Message = dict[str, Any]



@dataclass(frozen=True)
class Server:
    """How to start envls: the command, its environment, and the `envls` settings the client answers with.

    By default the rows measure the fast stages: the channel stage (repodata over the network) is
    turned off in every process started here, through the environment and through the settings.
    """

    cmd: tuple[str, ...]
    channels: bool = False
    timeout: float = 30.0  # seconds to wait for any one reply
    extra_env: tuple[tuple[str, str], ...] = ()  # set in the server's environment (after the rest)
    options: Message | None = None  # the `envls` settings (initializationOptions and workspace/configuration)
    isolated: bool = False  # drop conda's variables (CONDA_*), so that only the CONDARC in extra_env configures conda

    @property
    def env(self) -> dict[str, str]:
        env = dict(os.environ) if self.channels else {**os.environ, "ENVLS_CHANNEL_CHECKS": "0"}
        if self.isolated:
            env = {k: v for k, v in env.items() if not k.startswith("CONDA_")}
        env.update(self.extra_env)
        return env

    @property
    def settings(self) -> Message:
        if self.options is not None:
            return self.options
        return {} if self.channels else {"channelChecks": False}


# ---------------------------------------------------------------------------------------------
# A minimal JSON-RPC client over the server's stdio.


class ServerExited(RuntimeError):
    pass


class LspClient:
    """Talks to one server process. A reader thread stamps each message on arrival.

    Requests from the server (workspace/configuration, client/registerCapability, ...) are
    answered from the reader thread, the way an editor would, so they never stall the server.
    """

    def __init__(self, server: Server, stderr_path: Path) -> None:
        self.server = server
        self.timeout = server.timeout
        self._stderr = open(stderr_path, "wb")  # noqa: SIM115 - closed in close()
        self.proc = subprocess.Popen(server.cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr,
                                     cwd=ROOT, env=server.env)
        self._write_lock = threading.Lock()
        self._next_id = 1
        self._inbox: queue.Queue[tuple[float, Message | None]] = queue.Queue()
        self.server_requests: list[str] = []
        self._reader = threading.Thread(target=self._read_loop, name="lsp-reader", daemon=True)
        self._reader.start()

    # -- wire ------------------------------------------------------------------------------

    def _write(self, message: Message) -> None:
        body = json.dumps(message, separators=(",", ":")).encode("utf-8")
        assert self.proc.stdin is not None
        with self._write_lock:
            self.proc.stdin.write(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
            self.proc.stdin.flush()

    def _read_loop(self) -> None:
        stream = self.proc.stdout
        assert stream is not None
        try:
            while True:
                length = None
                while True:
                    line = stream.readline()
                    if not line:
                        raise EOFError
                    if line in (b"\r\n", b"\n"):
                        break
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                if length is None:
                    raise ValueError("a message without Content-Length")
                body = stream.read(length)
                arrived = time.perf_counter()
                message = json.loads(body)
                if "method" in message and "id" in message:
                    self._answer(message)
                else:
                    self._inbox.put((arrived, message))
        except (EOFError, OSError, ValueError):
            self._inbox.put((time.perf_counter(), None))

    def _answer(self, message: Message) -> None:
        method = message["method"]
        self.server_requests.append(method)
        result: Any = None
        if method == "workspace/configuration":
            items = message["params"]["items"]
            result = [self.server.settings if item.get("section") == "envls" else None for item in items]
        self._write({"jsonrpc": "2.0", "id": message["id"], "result": result})

    # -- protocol --------------------------------------------------------------------------

    def notify(self, method: str, params: Any) -> float:
        """Send a notification; returns the time just before it was written."""
        start = time.perf_counter()
        self._write({"jsonrpc": "2.0", "method": method, "params": params})
        return start

    def request(self, method: str, params: Any, stash: list[tuple[float, Message]] | None = None) -> Message:
        request_id = self._next_id
        self._next_id += 1
        self._write({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params})
        _, message = self.wait_for(lambda m: m.get("id") == request_id and "method" not in m, stash)
        if "error" in message:
            raise RuntimeError(f"{method} failed: {message['error']}")
        return message

    def wait_for(self, accept: Callable[[Message], bool],
                 stash: list[tuple[float, Message]] | None = None) -> tuple[float, Message]:
        """The arrival time and body of the next message ``accept`` takes; earlier ones are dropped
        (or appended to ``stash`` with their arrival time)."""
        deadline = time.perf_counter() + self.timeout
        while True:
            left = deadline - time.perf_counter()
            if left <= 0:
                raise TimeoutError(f"no matching message from the server in {self.timeout:.0f} s")
            try:
                arrived, message = self._inbox.get(timeout=left)
            except queue.Empty:
                continue
            if message is None:
                raise ServerExited(f"the server closed its output (exit status {self.proc.poll()})")
            if accept(message):
                return arrived, message
            if stash is not None:
                stash.append((arrived, message))

    def wait_diagnostics(self, uri: str, version: int | None = None) -> tuple[float, Message]:
        def accept(m: Message) -> bool:
            if m.get("method") != "textDocument/publishDiagnostics" or m["params"]["uri"] != uri:
                return False
            return version is None or m["params"].get("version") == version

        return self.wait_for(accept)

    def close(self) -> None:
        try:
            if self.proc.poll() is None:
                self.request("shutdown", None)
                self.notify("exit", None)
                self.proc.wait(timeout=5)
        except (TimeoutError, ServerExited, RuntimeError, OSError, subprocess.TimeoutExpired):
            pass
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            for pipe in (self.proc.stdin, self.proc.stdout):
                if pipe is not None:
                    try:
                        pipe.close()
                    except OSError:
                        pass
            self._stderr.close()


# VS Code's shape, trimmed to what matters here. No textDocument.diagnostic: the server pushes.
CLIENT_CAPABILITIES: Message = {
    "general": {"positionEncodings": ["utf-16"]},
    "window": {"workDoneProgress": True, "showMessage": {}},
    "workspace": {
        "applyEdit": True,
        "configuration": True,
        "didChangeConfiguration": {"dynamicRegistration": True},
        "workspaceFolders": True,
        "workspaceEdit": {"documentChanges": True},
    },
    "textDocument": {
        "synchronization": {"dynamicRegistration": True, "didSave": True, "willSave": True},
        "publishDiagnostics": {"relatedInformation": True, "versionSupport": True, "codeDescriptionSupport": True,
                               "dataSupport": True, "tagSupport": {"valueSet": [1, 2]}},
        "completion": {"completionItem": {"snippetSupport": True, "documentationFormat": ["markdown", "plaintext"]},
                       "contextSupport": True},
        "hover": {"contentFormat": ["markdown", "plaintext"]},
        "codeAction": {"codeActionLiteralSupport": {"codeActionKind": {"valueSet": ["quickfix"]}},
                       "isPreferredSupport": True},
        "documentSymbol": {"hierarchicalDocumentSymbolSupport": True},
    },
}


def start_session(server: Server, workspace: Path, uri: str, text: str) -> tuple[LspClient, float, float, Message]:
    """Spawn, initialize and open ``uri``. Returns the client, the seconds to the initialize
    result and to the first publishDiagnostics (both from spawning), and that message."""
    spawned = time.perf_counter()
    client = LspClient(server, workspace / "server.stderr")
    try:
        client.request("initialize", {
            "processId": os.getpid(),
            "clientInfo": {"name": "envls-bench"},
            "rootUri": workspace.as_uri(),
            "workspaceFolders": [{"uri": workspace.as_uri(), "name": workspace.name}],
            "capabilities": CLIENT_CAPABILITIES,
            "initializationOptions": server.settings,
        })
        initialized = time.perf_counter()
        client.notify("initialized", {})
        client.notify("textDocument/didOpen",
                      {"textDocument": {"uri": uri, "languageId": "yaml", "version": 1, "text": text}})
        arrived, message = client.wait_diagnostics(uri)
    except BaseException:
        client.close()
        raise
    return client, initialized - spawned, arrived - spawned, message


# ---------------------------------------------------------------------------------------------
# The measurements.


@dataclass
class Row:
    name: str
    target: str
    samples: list[float] = field(default_factory=list)  # in `unit`
    limits: dict[str, float] = field(default_factory=dict)  # statistic -> upper bound, in `unit`
    error: str | None = None
    skipped: str | None = None  # why the row was not measured (its input is not on this machine)
    details: dict[str, Any] = field(default_factory=dict)
    unit: str = "ms"  # "ms" or "MB" (server memory)

    def stat(self, statistic: str) -> float:
        return {"p50": percentile(self.samples, 50), "p95": percentile(self.samples, 95),
                "max": max(self.samples)}[statistic]

    @property
    def passed(self) -> bool:
        return self.error is None and bool(self.samples) and all(
            self.stat(s) <= limit for s, limit in self.limits.items())


def percentile(values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    ordered = sorted(values)
    k = (len(ordered) - 1) * q / 100
    low = int(k)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (k - low)


_VERSION_DIGIT = re.compile(r"^\s*-\s+[A-Za-z0-9_.-]+=+(\d[^=\s#]*)")


def edit_sites(text: str) -> list[tuple[int, int, str]]:
    """(line, column, digit) of the last digit of the version on each `name=version` or `name==version` line."""
    sites = []
    for number, line in enumerate(text.split("\n")):
        match = _VERSION_DIGIT.match(line)
        if match:
            version = match.group(1)
            last = max(i for i, ch in enumerate(version) if ch.isdigit())
            sites.append((number, match.start(1) + last, version[last]))
    return sites


def one_char_edit(client: LspClient, uri: str, version: int, sites: list[tuple[int, int, str]], i: int) -> float:
    """Send edit number ``i`` as version ``version``: even edits change a version's last digit, odd ones put
    it back (the file stays realistic and every change is one character); sites rotate through the file.
    Returns the time just before it was written."""
    line, column, digit = sites[(i // 2) % len(sites)]
    new_digit = str((int(digit) + 1) % 10) if i % 2 == 0 else digit
    return client.notify("textDocument/didChange", {
        "textDocument": {"uri": uri, "version": version},
        "contentChanges": [{"range": {"start": {"line": line, "character": column},
                                      "end": {"line": line, "character": column + 1}}, "text": new_digit}],
    })


def measure_edits(server: Server, text: str, edits: int, warmup: int) -> Row:
    row = Row("edit -> publishDiagnostics", "p50 <= 10 ms, p95 <= 25 ms", limits={"p50": 10.0, "p95": 25.0})
    sites = edit_sites(text)
    if not sites:
        row.error = "no `name=version` line to edit in the file"
        return row
    row.details.update(lines=len(text.splitlines()), warmup=warmup, edit_sites=len(sites))
    with tempfile.TemporaryDirectory(prefix="envls-bench-") as tmp:
        workspace = Path(tmp)
        path = workspace / "environment.yml"
        path.write_text(text, encoding="utf-8")
        client, _, _, first = start_session(server, workspace, path.as_uri(), text)
        counts = set()
        try:
            row.details["diagnostics"] = len(first["params"]["diagnostics"])
            version = 1
            for i in range(warmup + edits):
                version += 1
                sent = one_char_edit(client, path.as_uri(), version, sites, i)
                arrived, message = client.wait_diagnostics(path.as_uri(), version)
                counts.add(len(message["params"]["diagnostics"]))
                if i >= warmup:
                    row.samples.append((arrived - sent) * 1000)
            row.details["diagnostic_counts_seen"] = sorted(counts)
        except Exception as err:  # a timeout or a crash: report it in the row
            row.error = f"{type(err).__name__}: {err}"
            row.details["server_stderr_tail"] = tail(workspace / "server.stderr")
        finally:
            client.close()
    return row


def measure_starts(server: Server, text: str, starts: int) -> Row:
    row = Row("server start -> first diagnostics", "p95 <= 1 s", limits={"p95": 1000.0})
    init_ms = []
    with tempfile.TemporaryDirectory(prefix="envls-bench-") as tmp:
        workspace = Path(tmp)
        path = workspace / "environment.yml"
        path.write_text(text, encoding="utf-8")
        for _ in range(starts):
            try:
                client, to_init, to_diags, _ = start_session(server, workspace, path.as_uri(), text)
            except Exception as err:
                row.error = f"{type(err).__name__}: {err}"
                row.details["server_stderr_tail"] = tail(workspace / "server.stderr")
                break
            client.close()
            init_ms.append(to_init * 1000)
            row.samples.append(to_diags * 1000)
    if init_ms:
        row.details["spawn_to_initialize_result_ms_p50"] = round(percentile(init_ms, 50), 1)
    return row


def check_command() -> list[str]:
    script = Path(sys.executable).with_name("envls")
    return [str(script)] if script.exists() else [sys.executable, "-m", "envls"]


def measure_check(server: Server, corpus: Path, checks: int) -> Row:
    row = Row("envls check corpus", "p95 <= 3 s", limits={"p95": 3000.0})
    if not corpus.is_dir():
        row.skipped = f"no corpus at {corpus}"
        return row
    files = sum(1 for p in corpus.iterdir() if p.is_file())
    row.name = f"envls check corpus ({files} files)"
    cmd = [*check_command(), "check", str(corpus)]
    row.details["command"] = cmd
    for _ in range(checks):
        start = time.perf_counter()
        done = subprocess.run(cmd, cwd=ROOT, capture_output=True, env=server.env)
        elapsed = time.perf_counter() - start
        if done.returncode not in (0, 1):  # 1 means "found problems", which the corpus has
            row.error = f"exit status {done.returncode}: {done.stderr.decode(errors='replace')[-500:]}"
            break
        row.samples.append(elapsed * 1000)
        row.details["findings"] = done.stdout.count(b"\n")
    return row


# ---------------------------------------------------------------------------------------------
# Hostile files (--only hostile): size, pathological lines, bursts of edits, one document beside a large one.

def hostile_files() -> dict[str, str]:
    """The files of the hostile rows, built here (deterministic)."""
    deps = "name: big\ndependencies:\n" + "".join(f"  - pkg{i}\n" for i in range(100_000))
    lines, size, i = [], 0, 0
    while size < 5_000_000:
        line = f"  - package-number-{i}=1.{i % 100}.{i % 7}=py311h{i:08x}_0\n"
        lines.append(line)
        size += len(line)
        i += 1
    five = "name: big\nchannels:\n  - conda-forge\ndependencies:\n" + "".join(lines)
    limit = 10_000  # envls.core.document.LINE_LIMIT: lines up to it are checked, longer ones are not
    spaces = " " * (limit - 100)
    pathological = "".join([
        "name: hostile\ndependencies:\n",
        "  - x" + "[" * (limit - 10) + "\n",  # trailing-bracket pattern (17 s at 40k)
        "  - numpy" + ">=1" * ((limit - 20) // 3) + ".*\n",  # range-wildcard pattern (> 1 min at 200k)
        "  - " + "a" * (limit - 10) + " \n",  # a long token and a space (completion's word)
        f"  - scipy{spaces}1.2 >=3\n",  # whitespace runs
        "  - " + "x[" * 100_000 + "\n",  # a 200,000-character line: reported once, not analysed
        "  - numpy\n" * 20_000,  # duplicates (13 s before they were found by dictionary)
    ])
    return {"100k": deps, "5mb": five, "pathological": pathological}


def measure_hostile_checks(server: Server, files: dict[str, str], checks: int) -> list[Row]:
    rows = [Row("envls check, 100,000 dependencies", "<= 3 s", limits={"max": 3000.0}),
            Row("envls check, 5 MB file", "<= 5 s", limits={"max": 5000.0}),
            Row("envls check, pathological lines", "<= 2 s", limits={"max": 2000.0})]
    with tempfile.TemporaryDirectory(prefix="envls-bench-") as tmp:
        for row, key in zip(rows, ("100k", "5mb", "pathological"), strict=True):
            path = Path(tmp) / f"{key}.yml"
            path.write_text(files[key], encoding="utf-8")
            cmd = [*check_command(), "check", "--no-solve", "--cuda-version", "12.4", str(path)]
            row.details.update(bytes=path.stat().st_size, lines=files[key].count("\n"))
            for _ in range(checks):
                start = time.perf_counter()
                done = subprocess.run(cmd, cwd=ROOT, capture_output=True, env=server.env)
                elapsed = time.perf_counter() - start
                if done.returncode not in (0, 1):
                    row.error = f"exit status {done.returncode}: {done.stderr.decode(errors='replace')[-500:]}"
                    break
                row.samples.append(elapsed * 1000)
                row.details["findings"] = done.stdout.count(b"\n")
    return rows


def measure_hostile_check_with_channel(server: Server, five: str, checks: int) -> Row:
    """`envls check` of the 5 MB file with the channel checks on, against the real snapshot served on loopback:
    every one of its 100,000 made-up names is looked up (and reported). The first run fetches the repodata;
    the samples are the runs after it. No target of its own (the issue saw 27 s)."""
    row = Row("envls check, 5 MB file, channel checks on", "none (was 27 s)")
    if not (SHARED_DATA / "channels" / SNAPSHOT / "linux-64" / "repodata.json").is_file():
        row.skipped = f"no channel snapshot {SNAPSHOT} in {SHARED_DATA}"
        return row
    ChannelServer = _channel_server_class()
    with ChannelServer(SHARED_DATA) as http, tempfile.TemporaryDirectory(prefix="envls-bench-") as tmp:
        home, condarc, path = Path(tmp) / "home", Path(tmp) / "condarc.yml", Path(tmp) / "environment.yml"
        home.mkdir()
        condarc.write_text(f"channel_alias: {http.base_url}/channels\nchannels: []\n", encoding="utf-8")
        path.write_text(five.replace("conda-forge", SNAPSHOT), encoding="utf-8")
        env = {k: v for k, v in server.env.items() if not k.startswith("CONDA_")}
        env.update(HOME=str(home), CONDARC=str(condarc), ENVLS_CACHE_DIR=str(Path(tmp) / "cache"),
                   ENVLS_CHANNEL_CHECKS="1", XDG_CONFIG_HOME=str(home / ".config"))
        cmd = [*check_command(), "check", "--no-solve", "--cuda-version", "12.4", str(path)]
        for run in range(checks + 1):
            start = time.perf_counter()
            done = subprocess.run(cmd, cwd=ROOT, capture_output=True, env=env)
            elapsed = time.perf_counter() - start
            if done.returncode not in (0, 1):
                row.error = f"exit status {done.returncode}: {done.stderr.decode(errors='replace')[-500:]}"
                break
            if run:
                row.samples.append(elapsed * 1000)
            else:
                row.details["first_run_s"] = round(elapsed, 2)
            row.details["package_not_found"] = done.stdout.count(b" package-not-found ")
    return row


def measure_burst(server: Server, text: str, bursts: int, edits: int = 300) -> Row:
    """``edits`` one-character incremental edits 1 ms apart; the sample runs from the last edit to the
    publication of the last version."""
    row = Row(f"{edits} edits 1 ms apart -> last version published", "<= 300 ms", limits={"max": 300.0})
    sites = edit_sites(text)
    with tempfile.TemporaryDirectory(prefix="envls-bench-") as tmp:
        workspace = Path(tmp)
        path = workspace / "environment.yml"
        path.write_text(text, encoding="utf-8")
        client, _, _, _ = start_session(server, workspace, path.as_uri(), text)
        try:
            version = 1
            for _ in range(bursts):
                sent = 0.0
                for i in range(edits):
                    version += 1
                    sent = one_char_edit(client, path.as_uri(), version, sites, i)
                    time.sleep(0.001)
                arrived, _ = client.wait_diagnostics(path.as_uri(), version)
                row.samples.append((arrived - sent) * 1000)
                time.sleep(0.3)
        except Exception as err:
            row.error = f"{type(err).__name__}: {err}"
            row.details["server_stderr_tail"] = tail(workspace / "server.stderr")
        finally:
            client.close()
    return row


def measure_beside_large(server: Server, small: str, large: str, rounds: int) -> Row:
    """Edits of a small document while a 100,000-line one is being analysed: edit -> publication of the
    small one (the large one must not hold it up)."""
    row = Row("edit beside a 100,000-line document", "p95 <= 50 ms", limits={"p95": 50.0})
    sites = edit_sites(small)
    with tempfile.TemporaryDirectory(prefix="envls-bench-") as tmp:
        workspace = Path(tmp)
        small_path, large_path = workspace / "environment.yml", workspace / "big" / "environment.yml"
        large_path.parent.mkdir()
        small_path.write_text(small, encoding="utf-8")
        large_path.write_text(large, encoding="utf-8")
        client, _, _, _ = start_session(server, workspace, small_path.as_uri(), small)
        large_uri = large_path.as_uri()
        try:
            version, baseline = 1, []
            large_seconds = []
            for round_no in range(rounds + 1):
                if round_no:
                    opened = client.notify("textDocument/didOpen", {"textDocument": {
                        "uri": large_uri, "languageId": "yaml", "version": 1, "text": large}})
                    time.sleep(0.2)  # the open message itself is read and decoded on the event loop
                large_done = None
                for i in range(400):
                    version += 1
                    sent = one_char_edit(client, small_path.as_uri(), version, sites, i)
                    stash: list[tuple[float, Message]] = []

                    def mine(m: Message, version: int = version) -> bool:
                        return (m.get("method") == "textDocument/publishDiagnostics"
                                and m["params"]["uri"] == small_path.as_uri() and m["params"].get("version") == version)

                    arrived, _ = client.wait_for(mine, stash)
                    # The large document's own publication (not the empty one that its close sends).
                    published = [t for t, m in stash if m.get("method") == "textDocument/publishDiagnostics"
                                 and m["params"]["uri"] == large_uri and m["params"].get("version") == 1]
                    if published:
                        large_done = published[0]
                    if not round_no:
                        baseline.append((arrived - sent) * 1000)
                        if len(baseline) >= 20:
                            break
                    elif large_done is None:
                        row.samples.append((arrived - sent) * 1000)
                    else:
                        large_seconds.append(large_done - opened)
                        break
                    time.sleep(0.05)
                if round_no:
                    if large_done is None:
                        client.wait_diagnostics(large_uri)
                    client.notify("textDocument/didClose", {"textDocument": {"uri": large_uri}})
                    time.sleep(0.3)
            row.details["alone_p50_ms"] = round(percentile(baseline, 50), 1)
            row.details["large_document_published_after_s"] = [round(s, 2) for s in large_seconds]
            if not row.samples:
                row.error = "the large document was analysed before any edit of the small one"
        except Exception as err:
            row.error = f"{type(err).__name__}: {err}"
            row.details["server_stderr_tail"] = tail(workspace / "server.stderr")
        finally:
            client.close()
    return row


def measure_huge_document(server: Server) -> Row:
    """Server memory after opening a 50 MB document (past the size limit: one finding, no analysis)."""
    row = Row("server RSS, 50 MB document open", "<= 1 GB", limits={"max": 1024.0}, unit="MB")
    line = "  - package-number-0000000=1.0.0=py311h00000000_0\n"
    text = "name: big\ndependencies:\n" + line * (50_000_000 // len(line))
    with tempfile.TemporaryDirectory(prefix="envls-bench-") as tmp:
        workspace = Path(tmp)
        path = workspace / "environment.yml"
        try:
            client, _, published, message = start_session(server, workspace, path.as_uri(), text)
        except Exception as err:
            row.error = f"{type(err).__name__}: {err}"
            row.details["server_stderr_tail"] = tail(workspace / "server.stderr")
            return row
        try:
            row.samples.append(server_rss(client)[0])
            row.details.update(bytes=len(text), published_after_s=round(published, 2),
                               codes=sorted({d.get("code") for d in message["params"]["diagnostics"]}))
        finally:
            client.close()
    return row


# ---------------------------------------------------------------------------------------------
# The channel stage: channels served over HTTP on 127.0.0.1 by this process (tests/channel_server.py),
# a .condarc whose channel_alias points there, and a server with the channel checks on.

SHARED_DATA = ROOT.parent / "shared" / "data"
SNAPSHOT = "conda-forge-py39-subchannel"
CHANNEL_OPTIONS: Message = {"channelChecks": True, "platforms": ["linux-64"]}
SYNTHETIC = "synthetic-forge"  # served with its CEP-16 shards
SYNTHETIC_JSON = "synthetic-forge-json"  # the same folder with the shard index answering 404: repodata.json(.zst) only

# Real conda-forge names (every one is in the snapshot, and so in the synthetic channel); `zlib=1.2.99`
# does not exist (the version-not-found a first check waits for); python's version is what the edit row
# toggles between one that exists (3.9.19) and one that does not (3.9.29); completion types into the
# last line.
CHANNEL_DEPENDENCIES = ("python=3.9.19", "pip", "setuptools", "wheel", "openssl>=3", "ca-certificates", "certifi",
                        "zlib=1.2.99", "xz", "tk", "sqlite", "readline", "ncurses", "libffi", "bzip2", "libgcc-ng",
                        "libzlib", "expat", "six", "pyparsing", "packaging", "tzdata")
# Each matches names of the snapshot too (by prefix or inside the name); one letter is what typing starts with.
NAME_PREFIXES = ("py", "lib", "xorg-", "open", "ca", "t", "zs", "s", "l", "p", "ncu", "wh")
VERSION_ITEMS = ("python>=", "python=3.9.", "pip==", "openssl>=", "setuptools=", "tk=", "sqlite>=3.", "numpy=")


def channel_environment(channel: str) -> str:
    return (f"name: bench-channels\nchannels:\n  - {channel}\ndependencies:\n"
            + "".join(f"  - {d}\n" for d in CHANNEL_DEPENDENCIES))


def _codes_on_line(message: Message, line: int, code: str) -> int:
    return sum(1 for d in message["params"]["diagnostics"]
               if d.get("code") == code and d["range"]["start"]["line"] == line)


def _channel_server_class() -> Any:
    tests = str(ROOT / "tests")
    if tests not in sys.path:
        sys.path.insert(0, tests)
    from channel_server import ChannelServer

    return ChannelServer


def server_rss(client: LspClient) -> tuple[float, float]:
    """(RSS, file-backed part of it) in MiB of the server: the `envls serve` process itself, also
    when --server wraps it in another program."""
    import psutil

    root = psutil.Process(client.proc.pid)
    chosen = root
    for proc in [root, *root.children(recursive=True)]:
        try:
            cmdline = " ".join(proc.cmdline())
        except psutil.Error:
            continue
        if "envls" in cmdline and "serve" in cmdline and "python" in Path(proc.cmdline()[0]).name:
            chosen = proc
    info = chosen.memory_info()
    return info.rss / 2**20, getattr(info, "shared", 0) / 2**20


class ChannelSession:
    """A server with the channel checks on, one open environment file, and edits done as an editor does."""

    def __init__(self, server: Server, workspace: Path, base_url: str, channel: str, cache: Path) -> None:
        home = workspace / "home"
        home.mkdir(parents=True, exist_ok=True)
        condarc = workspace / "condarc.yml"
        condarc.write_text(f"channel_alias: {base_url}/channels\ndefault_channels:\n  - {base_url}/channels/{channel}\n"
                           "channels: []\n", encoding="utf-8")
        env = (("HOME", str(home)), ("CONDARC", str(condarc)), ("ENVLS_CACHE_DIR", str(cache)),
               ("ENVLS_CHANNEL_CHECKS", "1"), ("XDG_CONFIG_HOME", str(home / ".config")))
        self.server = replace(server, channels=True, extra_env=env, options=CHANNEL_OPTIONS, isolated=True)
        self.path = workspace / "environment.yml"
        self.text = channel_environment(channel)
        self.path.write_text(self.text, encoding="utf-8")
        self.uri = self.path.as_uri()
        self.lines = self.text.split("\n")
        self.version = 1
        self.stderr = workspace / "server.stderr"
        self.stash: list[tuple[float, Message]] = []  # messages that arrived while waiting for a reply
        self.spawned = time.perf_counter()
        self.client = LspClient(self.server, self.stderr)

    def open(self) -> dict[str, float]:
        """Initialize and open the file; returns the seconds from didOpen to the first publication and
        to the one with the channel finding (zlib=1.2.99 does not exist), and from spawning to that one."""
        client = self.client
        client.request("initialize", {
            "processId": os.getpid(), "clientInfo": {"name": "envls-bench"},
            "rootUri": self.path.parent.as_uri(), "capabilities": CLIENT_CAPABILITIES,
            "initializationOptions": self.server.settings,
        })
        client.notify("initialized", {})
        self.rss_before_open = server_rss(client)
        opened = client.notify("textDocument/didOpen", {"textDocument": {
            "uri": self.uri, "languageId": "yaml", "version": 1, "text": self.text}})
        first, _ = client.wait_diagnostics(self.uri, 1)
        zlib = self.line_of("zlib=")
        arrived, message = client.wait_for(
            lambda m: m.get("method") == "textDocument/publishDiagnostics" and m["params"]["uri"] == self.uri
            and _codes_on_line(m, zlib, "version-not-found") > 0)
        python = self.line_of("python=")
        if any(d["range"]["start"]["line"] == python for d in message["params"]["diagnostics"]
               if str(d.get("code", "")).endswith("-not-found")):
            raise RuntimeError("python=3.9.19 is reported missing: the channel does not have it")
        return {"fast": first - opened, "channel": arrived - opened, "spawn_to_channel": arrived - self.spawned,
                "diagnostics": len(message["params"]["diagnostics"])}

    def wait_publication(self, version: int) -> tuple[float, Message]:
        """The first publication of ``version``, also when it came while a request was waiting."""
        def accept(m: Message) -> bool:
            return (m.get("method") == "textDocument/publishDiagnostics" and m["params"]["uri"] == self.uri
                    and m["params"].get("version") == version)

        for i, (arrived, message) in enumerate(self.stash):
            if accept(message):
                del self.stash[:i + 1]
                return arrived, message
        self.stash.clear()
        return self.client.wait_for(accept)

    def line_of(self, prefix: str) -> int:
        return next(i for i, line in enumerate(self.lines) if line.strip().startswith(f"- {prefix}"))

    def change(self, line: int, start: int, end: int, text: str) -> tuple[int, float]:
        """One incremental didChange; returns the new version and the time just before it was sent."""
        self.version += 1
        old = self.lines[line]
        self.lines[line] = old[:start] + text + old[end:]
        sent = self.client.notify("textDocument/didChange", {
            "textDocument": {"uri": self.uri, "version": self.version},
            "contentChanges": [{"range": {"start": {"line": line, "character": start},
                                          "end": {"line": line, "character": end}}, "text": text}],
        })
        return self.version, sent

    def complete(self, line: int, character: int) -> tuple[float, int]:
        """A completion request; returns its round trip in ms and the number of items."""
        start = time.perf_counter()
        reply = self.client.request("textDocument/completion", {
            "textDocument": {"uri": self.uri}, "position": {"line": line, "character": character},
            "context": {"triggerKind": 1}}, self.stash)
        elapsed = (time.perf_counter() - start) * 1000
        result = reply.get("result")
        items = result.get("items", []) if isinstance(result, dict) else (result or [])
        return elapsed, len(items)

    def close(self) -> None:
        self.client.close()


def measure_completion(session: ChannelSession, row: Row, texts: Sequence[str], count: int, warmup: int) -> None:
    """Type ``texts`` in turn into the last dependency (one didChange each) and ask for completion at
    once, as an editor does while typing: the sample is that request's round trip. Then, with the
    document's diagnostics published, the same request again (``details.idle_*``)."""
    line = len(session.lines) - 2  # the last dependency (the text ends with a newline)
    idle: list[float] = []
    items: dict[str, int] = {}
    for i in range(warmup + count):
        text = texts[i % len(texts)]
        current = session.lines[line]
        version, _ = session.change(line, 4, len(current), text)
        elapsed, found = session.complete(line, 4 + len(text))
        session.wait_publication(version)
        again, _ = session.complete(line, 4 + len(text))
        if i >= warmup:
            row.samples.append(elapsed)
            idle.append(again)
        items[text] = found
    row.details.update(typed=list(texts), items_per_text=items, warmup=warmup,
                       idle_p50_ms=round(percentile(idle, 50), 2), idle_p95_ms=round(percentile(idle, 95), 2))
    if not all(items.get(t, 0) for t in texts if t != "numpy="):
        raise RuntimeError(f"a completion came back empty: {items}")


def measure_channel_edit(session: ChannelSession, row: Row, count: int, warmup: int) -> None:
    """Toggle python=3.9.19 <-> 3.9.29 (one character); each sample runs from the didChange to the
    publication of that version that has (or no longer has) python's version-not-found."""
    line = session.line_of("python=")
    column = session.lines[line].index("3.9.19") + len("3.9.")
    without = 0
    for i in range(warmup + count):
        missing = i % 2 == 0
        version, sent = session.change(line, column, column + 1, "2" if missing else "1")

        def accept(m: Message, version: int = version, missing: bool = missing) -> bool:
            return (m.get("method") == "textDocument/publishDiagnostics" and m["params"]["uri"] == session.uri
                    and m["params"].get("version") == version
                    and (_codes_on_line(m, line, "version-not-found") > 0) == missing)

        def first_of_version(m: Message, version: int = version) -> bool:
            return (m.get("method") == "textDocument/publishDiagnostics" and m["params"]["uri"] == session.uri
                    and m["params"].get("version") == version)

        arrived, message = session.client.wait_for(lambda m: first_of_version(m))
        if not accept(message):
            without += 1  # published first without the channel finding: wait for the one with it
            arrived, message = session.client.wait_for(accept)
        if i >= warmup:
            row.samples.append((arrived - sent) * 1000)
    row.details.update(warmup=warmup, edited="python=3.9.19 <-> python=3.9.29",
                       first_publication_without_channel_finding=without)


MISSPELT = (("pyparsing", "pyparsnig"), ("setuptools", "setuptols"))  # for the edit row on a file with mistakes


def misspell(session: ChannelSession) -> None:
    """Put two misspelt package names in the file (each then has a package-not-found with a did-you-mean)."""
    for right, wrong in MISSPELT:
        line = session.line_of(right)
        version, _ = session.change(line, 4, len(session.lines[line]), wrong)
    session.client.wait_for(
        lambda m: m.get("method") == "textDocument/publishDiagnostics" and m["params"].get("version") == version
        and sum(d.get("code") == "package-not-found" for d in m["params"]["diagnostics"]) == len(MISSPELT))


@dataclass
class ChannelSetup:
    label: str  # shown in the row names
    root: Path  # served at http://127.0.0.1:PORT/ (channels under root/channels/)
    channel: str
    hide: tuple[str, ...] = ()  # URL path prefixes answered 404 (the shard index, for the json-only variant)
    usage: bool = True  # also measure completion and edits in the first session
    details: dict[str, Any] = field(default_factory=dict)


def measure_channel_setup(server: Server, setup: ChannelSetup, args: argparse.Namespace,
                          cold_limit_ms: float = 5000.0) -> list[Row]:
    """Cold first checks (each in a new server with an empty cache), then in the first session: completion of
    names and versions, channel edits, and the server's RSS at the end."""
    label = setup.label
    cold = Row(f"first check, cold cache ({label})", "<= 5 s", limits={"max": cold_limit_ms})
    names = Row(f"completion: package names ({label})", "p95 <= 20 ms", limits={"p95": 20.0})
    versions = Row(f"completion: versions ({label})", "p95 <= 20 ms", limits={"p95": 20.0})
    edit = Row(f"channel edit -> publishDiagnostics ({label})", "p95 <= 100 ms", limits={"p95": 100.0})
    edit_misspelt = Row(f"channel edit, 2 misspelt names in the file ({label})", "p95 <= 100 ms", limits={"p95": 100.0})
    memory = Row(f"server RSS, channel loaded ({label})", "<= 300 MB", limits={"max": 300.0}, unit="MB")
    rows = [cold, *([names, versions, edit, edit_misspelt] if setup.usage else []), memory]
    cold.details.update(setup.details)
    ChannelServer = _channel_server_class()
    fast, spawn = [], []
    current: Row = cold
    with ChannelServer(setup.root) as http, tempfile.TemporaryDirectory(prefix="envls-bench-ch-") as tmp:
        for prefix in setup.hide:
            http.fault(prefix, "404")
        for run in range(args.cold_checks):
            workspace = Path(tmp) / f"run{run}"
            workspace.mkdir()
            cache = workspace / "cache"
            # Dirty pages left by the generator or by the previous run's cache would be written back
            # during this run (on this machine's disk that adds up to 1.5 s to a 430 MB cold load).
            if hasattr(os, "sync"):
                os.sync()
            session = ChannelSession(server, workspace, http.base_url, setup.channel, cache)
            current = cold
            try:
                before = len(http.requests)
                timings = session.open()
                cold.samples.append(timings["channel"] * 1000)
                fast.append(timings["fast"] * 1000)
                spawn.append(timings["spawn_to_channel"] * 1000)
                cold.details.setdefault("http_requests", len(http.requests) - before)
                cold.details.setdefault("cache_bytes", sum(f.stat().st_size for f in cache.rglob("*") if f.is_file()))
                if run == 0:
                    if setup.usage:
                        current = names
                        measure_completion(session, names, NAME_PREFIXES, args.completions, args.completion_warmup)
                        current = versions
                        measure_completion(session, versions, VERSION_ITEMS, args.completions, args.completion_warmup)
                        current = edit
                        measure_channel_edit(session, edit, args.channel_edits, args.warmup)
                        current = edit_misspelt
                        misspell(session)
                        measure_channel_edit(session, edit_misspelt, args.channel_edits, args.warmup)
                        edit_misspelt.details["misspelt"] = [wrong for _, wrong in MISSPELT]
                    current = memory
                    rss, file_backed = server_rss(session.client)
                    memory.samples.append(rss)
                    memory.details.update(rss_mb=round(rss, 1), file_backed_mb=round(file_backed, 1),
                                          anonymous_mb=round(rss - file_backed, 1),
                                          rss_before_open_mb=round(session.rss_before_open[0], 1))
            except Exception as err:
                current.error = f"{type(err).__name__}: {err}"
                current.details["server_stderr_tail"] = tail(session.stderr)
                break
            finally:
                session.close()
                shutil.rmtree(cache, ignore_errors=True)  # up to 430 MB per run
    if fast:
        cold.details.update(did_open_to_fast_publication_ms_p50=round(percentile(fast, 50), 1),
                            spawn_to_channel_publication_ms_p50=round(percentile(spawn, 50), 1))
    return rows


def snapshot_setup() -> ChannelSetup | None:
    if not (SHARED_DATA / "channels" / SNAPSHOT / "linux-64" / "repodata.json").is_file():
        return None
    return ChannelSetup("real snapshot", SHARED_DATA, SNAPSHOT,
                        details={"channel": SNAPSHOT, "records_linux64_noarch": 2914})


def synthetic_setups(args: argparse.Namespace, serve_root: Path) -> tuple[list[ChannelSetup], dict[str, Any]]:
    """Make (or reuse) the synthetic channel and a folder that serves it under two names."""
    import synthetic_channel

    out = args.synthetic_dir or default_synthetic_dir(args.scale_names, args.scale_records)
    summary = synthetic_channel.ensure(out, args.scale_names, args.scale_records)
    channels = serve_root / "channels"
    channels.mkdir(parents=True, exist_ok=True)
    for name in (SYNTHETIC, SYNTHETIC_JSON):
        (channels / name).symlink_to(out.resolve(), target_is_directory=True)
    label = f"{args.scale_names:,} names, {args.scale_records:,} records"
    info = {"channel_dir": str(out), "reused": summary.reused, "generation_seconds": summary.seconds,
            "per_subdir": summary.per_subdir}
    setups = []
    if summary.shards:
        setups.append(ChannelSetup(f"{label}, shards", serve_root, SYNTHETIC, usage=False, details=info))
    hide = tuple(f"/channels/{SYNTHETIC_JSON}/{sub}/repodata_shards" for sub in synthetic_channel.SUBDIRS)
    setups.append(ChannelSetup(f"{label}, repodata.json{'.zst' if summary.zst else ''}", serve_root, SYNTHETIC_JSON,
                               hide=hide, details=info))
    return setups, {**info, "zst": summary.zst, "shards": summary.shards}


def default_synthetic_dir(names: int, records: int) -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "envls-bench" / f"synthetic-forge-{names}-{records}"


def tail(path: Path, size: int = 2000) -> str:
    try:
        return path.read_bytes()[-size:].decode("utf-8", errors="replace")
    except OSError:
        return ""


# ---------------------------------------------------------------------------------------------
# Output.


def fmt_ms(ms: float) -> str:
    return f"{ms / 1000:.2f} s" if ms >= 1000 else f"{ms:.1f} ms"


def fmt(value: float, unit: str) -> str:
    return fmt_ms(value) if unit == "ms" else f"{value:.0f} {unit}"


def table(rows: Sequence[Row]) -> str:
    lines = ["| measurement | n | p50 | p95 | max | target | result |", "|---|---:|---:|---:|---:|---|---|"]
    for row in rows:
        if row.samples:
            stats = [fmt(row.stat(s), row.unit) for s in ("p50", "p95", "max")]
        else:
            stats = ["-", "-", "-"]
        result = "error" if row.error else "skip" if row.skipped else "pass" if row.passed else "FAIL"
        lines.append(f"| {row.name} | {len(row.samples)} | {' | '.join(stats)} | {row.target} | {result} |")
    return "\n".join(lines)


def measure_pip(samples: int) -> Row:
    """Edit -> pip resolution result for a 20-requirement section, uv's cache warm (benchmarks/pip_resolution.py)."""
    from pip_resolution import measure

    from envls.lsp.diagnostics import SOLVE_DELAY
    from envls.pypi.uvbin import uv_binary

    row = Row("pip resolve, 20 reqs (warm)", "p95 <= 2 s", limits={"p95": 2000.0})
    if uv_binary() is None:
        row.skipped = "uv is not installed"
        return row
    try:
        result = measure(samples, SOLVE_DELAY)
    except Exception as err:  # a row that cannot run says why; the others still run
        row.error = f"{type(err).__name__}: {err}"
        return row
    row.samples = result["uv"]["warm_ms"]
    row.details = result
    return row


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 20 edits, 2 starts, 1 check; a missed target does not fail the run")
    parser.add_argument("--edits", type=int, help="measured edits (default 200, --quick 20)")
    parser.add_argument("--warmup", type=int, help="edits before the measured ones (default 10, --quick 2)")
    parser.add_argument("--starts", type=int, help="server starts (default 10, --quick 2)")
    parser.add_argument("--checks", type=int, help="`envls check` runs (default 5, --quick 1)")
    parser.add_argument("--only", choices=["edit", "start", "check", "channels", "scale", "hostile", "pip"], action="append",
                        help="run only these rows (repeatable); `scale` implies --channels-scale")
    parser.add_argument("--hostile", action="store_true",
                        help="also run the hostile-file rows (100k dependencies, 5 MB, pathological lines, a burst "
                             "of 300 edits, an edit beside a 100,000-line document, a 50 MB document), about 60 s")
    parser.add_argument("--file", type=Path, help="edit this environment file instead of the generated 200-line export")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help=f"folder for the check row (default {DEFAULT_CORPUS})")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write every sample and detail to FILE")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for any one server reply (default 30)")
    parser.add_argument("--server", help="server command line (default: this Python with -m envls serve)")
    parser.add_argument("--channels", action="store_true",
                        help="leave the channel stage on in the edit/start/check rows (it needs the network or a "
                             "local channel in CONDARC); the channel rows always have it on")
    group = parser.add_argument_group("channel rows")
    group.add_argument("--channels-scale", action="store_true",
                       help="also run the rows against the synthetic conda-forge-size channel (generated once, "
                            "about 7 s and 0.9 GB on disk; then reused)")
    group.add_argument("--completions", type=int, help="measured completion requests per row (default 100, --quick 10)")
    group.add_argument("--completion-warmup", type=int, help="completion requests before those (default 8, --quick 8)")
    group.add_argument("--channel-edits", type=int, help="measured channel edits (default 100, --quick 10)")
    group.add_argument("--cold-checks", type=int, help="cold first checks per channel (default 3, --quick 1)")
    group.add_argument("--scale-names", type=int, default=30_000, help="synthetic channel: package names (default 30,000)")
    group.add_argument("--scale-records", type=int, default=1_000_000,
                       help="synthetic channel: records in linux-64 + noarch (default 1,000,000)")
    group.add_argument("--synthetic-dir", type=Path,
                       help="where the synthetic channel is kept (default $XDG_CACHE_HOME/envls-bench/...)")
    args = parser.parse_args(argv)
    defaults = {"edits": (200, 20), "warmup": (10, 2), "starts": (10, 2), "checks": (5, 1), "completions": (100, 10),
                "completion_warmup": (8, 8), "channel_edits": (100, 10), "cold_checks": (3, 1)}
    for name, (full, quick) in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, quick if args.quick else full)
        if getattr(args, name) < (0 if name in ("warmup", "completion_warmup") else 1):
            parser.error(f"--{name.replace('_', '-')} is too small")
    if args.only and "scale" in args.only:
        args.channels_scale = True
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    cmd = args.server.split() if args.server else [sys.executable, "-m", "envls", "serve"]
    server = Server(tuple(cmd), channels=args.channels, timeout=args.timeout)
    text = args.file.read_text(encoding="utf-8") if args.file else exported_environment()
    wanted = args.only or ["edit", "start", "check", "channels", *(["scale"] if args.channels_scale else []),
                           *(["hostile"] if args.hostile else []), *([] if args.quick else ["pip"])]

    from envls import __version__

    print(f"envls {__version__} | Python {platform.python_version()} | {platform.system()} {platform.machine()} | "
          f"{os.cpu_count()} CPUs{' | quick run' if args.quick else ''}")
    print(f"edited file: {args.file or 'generated conda env export'}, {len(text.splitlines())} lines; "
          f"channel stage {'on' if args.channels else 'off (fast stages only)'}")
    print()
    rows = []
    if "edit" in wanted:
        rows.append(measure_edits(server, text, args.edits, args.warmup))
    if "start" in wanted:
        rows.append(measure_starts(server, text, args.starts))
    if "check" in wanted:
        rows.append(measure_check(server, args.corpus, args.checks))
    channel_server = Server(tuple(cmd), timeout=args.timeout)
    if "channels" in wanted:
        setup = snapshot_setup()
        if setup is None:
            rows.append(Row("channel rows (real snapshot)", "-", skipped=f"no snapshot under {SHARED_DATA / 'channels'}"))
        else:
            rows.extend(measure_channel_setup(channel_server, setup, args))
    synthetic: dict[str, Any] = {}
    if "scale" in wanted:
        with tempfile.TemporaryDirectory(prefix="envls-bench-serve-") as serve_root:
            started = time.perf_counter()
            try:
                setups, synthetic = synthetic_setups(args, Path(serve_root))
            except FileNotFoundError as err:
                rows.append(Row("channel rows (synthetic)", "-", skipped=f"cannot make the synthetic channel: {err}"))
                setups = []
            if setups:
                made = "reused" if synthetic["reused"] else f"generated in {time.perf_counter() - started:.1f} s"
                sizes = ", ".join(f"{sub} {v['records']:,} records / {v['names']:,} names / "
                                  f"{v['repodata_json_bytes'] / 1e6:.0f} MB json"
                                  + (f" ({v['repodata_zst_bytes'] / 1e6:.0f} MB zst)" if "repodata_zst_bytes" in v else "")
                                  for sub, v in synthetic["per_subdir"].items())
                print(f"synthetic channel {synthetic['channel_dir']}: {made}; {sizes}")
                print()
            for setup in setups:
                rows.extend(measure_channel_setup(channel_server, setup, args))
    if "hostile" in wanted:
        files = hostile_files()
        rows.extend(measure_hostile_checks(server, files, args.checks))
        rows.append(measure_hostile_check_with_channel(server, files["5mb"], 1 if args.quick else 3))
        rows.append(measure_burst(server, text, 1 if args.quick else 5))
        rows.append(measure_beside_large(server, text, files["100k"], 1 if args.quick else 3))
        rows.append(measure_huge_document(server))
    if "pip" in wanted:
        rows.append(measure_pip(args.checks * 4))
    print(table(rows))
    for row in rows:
        if row.error or row.skipped:
            print(f"\n{row.name}: {row.error or row.skipped}")
            if row.details.get("server_stderr_tail"):
                print(row.details["server_stderr_tail"])

    if args.json:
        report = {
            "envls": __version__, "python": platform.python_version(), "platform": platform.platform(),
            "cpus": os.cpu_count(), "quick": args.quick, "server": cmd, "channels": args.channels,
            "synthetic_channel": synthetic,
            "rows": [{**asdict(row), "passed": row.passed,
                      **({s: row.stat(s) for s in ("p50", "p95", "max")} if row.samples else {})}
                     for row in rows],
        }
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")

    if any(row.error for row in rows):
        return 2
    if not args.quick and not all(row.passed for row in rows if not row.skipped):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
