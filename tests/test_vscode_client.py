"""The VS Code extension in vscode-client/: its TypeScript unit tests and type check, and the end-to-end
run in a real VS Code (code-server with the packaged .vsix, driven by headless Chromium).

Each test skips with the reason when what it needs is missing: node and npm; vscode-client/node_modules
(`npm ci` in vscode-client); code-server (`vscode-client/scripts/install-code-server.sh`); Chromium
(Debian: `apt-get install chromium`). The end-to-end run starts this repository's envls with the Python
running these tests, and writes its screenshots to vscode-client/test-results/.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CLIENT = Path(__file__).resolve().parents[1] / "vscode-client"
# Where vscode-client/scripts/install-code-server.sh puts it (outside the checkout, shared by clones).
_CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
_PREFIX = Path(os.environ.get("ENVLS_CODE_SERVER_PREFIX") or _CACHE / "envls-dev" / "code-server-4.100.3")
CODE_SERVER = Path(os.environ.get("CODE_SERVER") or _PREFIX / "node_modules" / ".bin" / "code-server")
CHROMIUM = Path(os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium")


def _need_node() -> None:
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (Node 20 or newer runs the extension's tests)")
    if not (CLIENT / "node_modules" / ".bin" / "esbuild").exists():
        pytest.skip("vscode-client/node_modules is missing: run `npm ci` in vscode-client")


def _run(argv: list[str], timeout: float, env: dict[str, str] | None = None) -> None:
    # Its own session, so that a timeout can stop the whole tree (code-server, browser, servers).
    proc = subprocess.Popen(argv, cwd=CLIENT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        output, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        output, _ = proc.communicate()
        pytest.fail(f"{' '.join(argv)} did not finish within {timeout} s:\n{output[-6000:]}")
    assert proc.returncode == 0, f"{' '.join(argv)} exited {proc.returncode}:\n{output[-8000:]}"


def test_typescript_unit_tests() -> None:
    _need_node()
    _run(["npm", "test", "--silent"], timeout=120)


def test_typescript_type_check() -> None:
    _need_node()
    _run(["npm", "run", "--silent", "typecheck"], timeout=120)


@pytest.mark.timeout(300)
def test_end_to_end_in_code_server() -> None:
    _need_node()
    if not CODE_SERVER.exists():
        pytest.skip(f"code-server is not installed at {CODE_SERVER}: run vscode-client/scripts/install-code-server.sh")
    if not CHROMIUM.exists():
        pytest.skip("Chromium is not installed (Debian: apt-get install chromium)")
    if importlib.util.find_spec("rattler_build") is None:
        pytest.skip("py-rattler-build (the test extras) builds the test channel")
    env = {**os.environ, "ENVLS_E2E_PYTHON": sys.executable, "ENVLS_E2E_CHANNEL_PYTHON": sys.executable,
           "CODE_SERVER": str(CODE_SERVER), "CHROMIUM": str(CHROMIUM)}
    _run([shutil.which("node") or "node", "test/e2e/run.mjs"], timeout=280, env=env)
