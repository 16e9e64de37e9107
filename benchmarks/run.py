#!/usr/bin/env python3
"""envls end-to-end benchmarks: one command, one table.

    python benchmarks/run.py [--quick] [--edits N] [--starts N] [--checks N] [--json FILE]

Rows:
  edit      didChange (one character) -> publishDiagnostics for that version, over stdio LSP,
            on a 200-line `conda env export` file. Target p50 <= 10 ms and p95 <= 25 ms.
  start     spawn `python -m envls serve` -> initialize -> didOpen -> first publishDiagnostics.
            Target p95 <= 1 s.
  check     `envls check` over the shared corpus (../shared/corpus/files), wall time. Target p95 <= 3 s.

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
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
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

    @property
    def env(self) -> dict[str, str]:
        return dict(os.environ) if self.channels else {**os.environ, "ENVLS_CHANNEL_CHECKS": "0"}

    @property
    def settings(self) -> Message:
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

    def request(self, method: str, params: Any) -> Message:
        request_id = self._next_id
        self._next_id += 1
        self._write({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params})
        _, message = self.wait_for(lambda m: m.get("id") == request_id and "method" not in m)
        if "error" in message:
            raise RuntimeError(f"{method} failed: {message['error']}")
        return message

    def wait_for(self, accept: Callable[[Message], bool]) -> tuple[float, Message]:
        """The arrival time and body of the next message ``accept`` takes; earlier ones are dropped."""
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
    samples_ms: list[float] = field(default_factory=list)
    limits_ms: dict[str, float] = field(default_factory=dict)  # statistic -> upper bound
    error: str | None = None
    skipped: str | None = None  # why the row was not measured (its input is not on this machine)
    details: dict[str, Any] = field(default_factory=dict)

    def stat(self, statistic: str) -> float:
        return {"p50": percentile(self.samples_ms, 50), "p95": percentile(self.samples_ms, 95),
                "max": max(self.samples_ms)}[statistic]

    @property
    def passed(self) -> bool:
        return self.error is None and bool(self.samples_ms) and all(
            self.stat(s) <= limit for s, limit in self.limits_ms.items())


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


def measure_edits(server: Server, text: str, edits: int, warmup: int) -> Row:
    row = Row("edit -> publishDiagnostics", "p50 <= 10 ms, p95 <= 25 ms", limits_ms={"p50": 10.0, "p95": 25.0})
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
                # Even edits change a version's last digit, odd ones put it back: the file stays
                # realistic and every change is one character. Sites rotate through the file.
                line, column, digit = sites[(i // 2) % len(sites)]
                new_digit = str((int(digit) + 1) % 10) if i % 2 == 0 else digit
                version += 1
                sent = client.notify("textDocument/didChange", {
                    "textDocument": {"uri": path.as_uri(), "version": version},
                    "contentChanges": [{"range": {"start": {"line": line, "character": column},
                                                  "end": {"line": line, "character": column + 1}},
                                        "text": new_digit}],
                })
                arrived, message = client.wait_diagnostics(path.as_uri(), version)
                counts.add(len(message["params"]["diagnostics"]))
                if i >= warmup:
                    row.samples_ms.append((arrived - sent) * 1000)
            row.details["diagnostic_counts_seen"] = sorted(counts)
        except Exception as err:  # a timeout or a crash: report it in the row
            row.error = f"{type(err).__name__}: {err}"
            row.details["server_stderr_tail"] = tail(workspace / "server.stderr")
        finally:
            client.close()
    return row


def measure_starts(server: Server, text: str, starts: int) -> Row:
    row = Row("server start -> first diagnostics", "p95 <= 1 s", limits_ms={"p95": 1000.0})
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
            row.samples_ms.append(to_diags * 1000)
    if init_ms:
        row.details["spawn_to_initialize_result_ms_p50"] = round(percentile(init_ms, 50), 1)
    return row


def check_command() -> list[str]:
    script = Path(sys.executable).with_name("envls")
    return [str(script)] if script.exists() else [sys.executable, "-m", "envls"]


def measure_check(server: Server, corpus: Path, checks: int) -> Row:
    row = Row("envls check corpus", "p95 <= 3 s", limits_ms={"p95": 3000.0})
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
        row.samples_ms.append(elapsed * 1000)
        row.details["findings"] = done.stdout.count(b"\n")
    return row


def tail(path: Path, size: int = 2000) -> str:
    try:
        return path.read_bytes()[-size:].decode("utf-8", errors="replace")
    except OSError:
        return ""


# ---------------------------------------------------------------------------------------------
# Output.


def fmt_ms(ms: float) -> str:
    return f"{ms / 1000:.2f} s" if ms >= 1000 else f"{ms:.1f} ms"


def table(rows: Sequence[Row]) -> str:
    lines = ["| measurement | n | p50 | p95 | max | target | result |", "|---|---:|---:|---:|---:|---|---|"]
    for row in rows:
        if row.samples_ms:
            stats = [fmt_ms(row.stat(s)) for s in ("p50", "p95", "max")]
        else:
            stats = ["-", "-", "-"]
        result = "error" if row.error else "skip" if row.skipped else "pass" if row.passed else "FAIL"
        lines.append(f"| {row.name} | {len(row.samples_ms)} | {' | '.join(stats)} | {row.target} | {result} |")
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 20 edits, 2 starts, 1 check; a missed target does not fail the run")
    parser.add_argument("--edits", type=int, help="measured edits (default 200, --quick 20)")
    parser.add_argument("--warmup", type=int, help="edits before the measured ones (default 10, --quick 2)")
    parser.add_argument("--starts", type=int, help="server starts (default 10, --quick 2)")
    parser.add_argument("--checks", type=int, help="`envls check` runs (default 5, --quick 1)")
    parser.add_argument("--only", choices=["edit", "start", "check"], action="append",
                        help="run only this row (repeatable)")
    parser.add_argument("--file", type=Path, help="edit this environment file instead of the generated 200-line export")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help=f"folder for the check row (default {DEFAULT_CORPUS})")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write every sample and detail to FILE")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for any one server reply (default 30)")
    parser.add_argument("--server", help="server command line (default: this Python with -m envls serve)")
    parser.add_argument("--channels", action="store_true",
                        help="leave the channel stage on (it needs the network or a local channel in CONDARC)")
    args = parser.parse_args(argv)
    defaults = {"edits": (200, 20), "warmup": (10, 2), "starts": (10, 2), "checks": (5, 1)}
    for name, (full, quick) in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, quick if args.quick else full)
        if getattr(args, name) < (0 if name == "warmup" else 1):
            parser.error(f"--{name} is too small")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    cmd = args.server.split() if args.server else [sys.executable, "-m", "envls", "serve"]
    server = Server(tuple(cmd), channels=args.channels, timeout=args.timeout)
    text = args.file.read_text(encoding="utf-8") if args.file else exported_environment()
    wanted = args.only or ["edit", "start", "check"]

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
            "rows": [{**asdict(row), "passed": row.passed,
                      **({s: row.stat(s) for s in ("p50", "p95", "max")} if row.samples_ms else {})}
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
