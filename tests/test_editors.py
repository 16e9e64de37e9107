"""envls driven by real editors, headless: Neovim (Debian bookworm's 0.7.2) and Emacs 28 with eglot 1.9.

Each test writes an environment.yml with known problems to tmp_path, runs the editor in batch mode
with a script from tests/editors/, and checks the JSON the script writes. The scripts only record
what the editor saw; the assertions are all here.

The editors are optional: a test is skipped when its editor is not installed. On Debian/Ubuntu:

    apt-get install -y --no-install-recommends neovim emacs-nox elpa-eglot

ENVLS_TEST_NVIM / ENVLS_TEST_EMACS name other binaries than `nvim` / `emacs` on PATH, and
ENVLS_TEST_SERVER_CMD (a JSON list) another server command than `python -m envls serve`.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

EDITORS = Path(__file__).parent / "editors"
# ENVLS_TEST_SERVER_CMD (a JSON list) runs another server command, e.g. an installed `envls serve`.
SERVER_CMD = json.loads(os.environ.get("ENVLS_TEST_SERVER_CMD") or "null") or [sys.executable, "-m", "envls", "serve"]
WAIT_MS = 40_000  # the bound of each wait inside the editor scripts (generous: CI machines are loaded)
RUN_TIMEOUT = 180  # seconds for a whole editor run; a hang fails the test instead of CI

# 0-based lines: 5 is the python line, 7 the `pip:` key.
ENVIRONMENT = """\
name: demo

channels:
  - conda-forge
dependencies:
  - python==3.9
  - numpy
  - pip:
      - requests
"""
FRESH = "name: fresh\n\n"

# the line the non-ASCII steps write: an invalid channel, then a duplicate, after an é and an emoji
NON_ASCII_LINE = 'channels: ["\u00e9-\U0001F40D", conda-forge, conda-forge]'
EDITED_LINE = 'channels: ["\u00e9-\U0001F40Dx", conda-forge, conda-forge]'  # "x" typed after the emoji

SUSPICIOUS = ("suspicious-spec", 5, 4, 5, 15)
PIP_NOT_LISTED = ("pip-not-listed", 7, 4, 7, 7)
PRESENT_KEYS = {"name", "channels", "dependencies"}
OTHER_KEYS = {"prefix", "variables", "platforms"}


@pytest.fixture
def workspace(tmp_path: Path) -> dict[str, Path]:
    root = tmp_path / "ws"
    (root / "fresh").mkdir(parents=True)
    env_file = root / "environment.yml"
    env_file.write_text(ENVIRONMENT, encoding="utf-8")
    fresh = root / "fresh" / "environment.yml"
    fresh.write_text(FRESH, encoding="utf-8")
    return {"root": root, "file": env_file, "fresh": fresh, "out": tmp_path / "result.json", "tmp": tmp_path}


def _run(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run an editor in its own process group; on a timeout kill the group (editor and server) and fail."""
    started = time.monotonic()
    proc = subprocess.Popen(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        stdout, stderr = proc.communicate(timeout=10)
        pytest.fail(f"{argv[0]} did not finish within {RUN_TIMEOUT} s\nstdout:\n{stdout}\nstderr:\n{stderr}")
    finally:
        if proc.poll() is None:  # pragma: no cover - only after an unexpected exception
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    return subprocess.CompletedProcess(argv, proc.returncode, stdout, stderr), time.monotonic() - started


def _base_env(ws: dict[str, Path]) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "ENVLS_SERVER_CMD": json.dumps(SERVER_CMD),
        "ENVLS_FILE": str(ws["file"]),
        "ENVLS_FRESH_FILE": str(ws["fresh"]),
        "ENVLS_ROOT": str(ws["root"]),
        "ENVLS_OUT": str(ws["out"]),
        "ENVLS_TIMEOUT_MS": str(WAIT_MS),
        "ENVLS_LOG_LEVEL": "info",
        # Only the fast rules: no repodata downloads from the network, so the expected
        # diagnostics and timings do not depend on which channels the machine can reach.
        "ENVLS_CHANNEL_CHECKS": "0",
    })
    return env


def _load_result(ws: dict[str, Path], run: subprocess.CompletedProcess[str], log: str = "") -> dict[str, Any]:
    context = f"exit status {run.returncode}\nstdout:\n{run.stdout[-4000:]}\nstderr:\n{run.stderr[-4000:]}\n{log}"
    if not ws["out"].exists():
        pytest.fail(f"the editor script wrote no result\n{context}")
    result = json.loads(ws["out"].read_text(encoding="utf-8"))
    if result.get("error") or run.returncode != 0:
        pytest.fail(
            f"the editor script failed: {result.get('error')}\n{result.get('events', '')}\n"
            f"steps so far:\n{json.dumps(result.get('steps'), indent=1, ensure_ascii=False)[-4000:]}\n"
            f"server stderr:\n{result.get('server_stderr', '')[-4000:]}\n{context}"
        )
    return result


def _version(text: str) -> tuple[int, ...]:
    match = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", text)
    return tuple(int(part) for part in match.groups("0")) if match else ()


def _column(line: str, index: int, encoding: str) -> int:
    """Column of code point ``index`` of ``line`` in an LSP position encoding (or "utf-32" = code points)."""
    if encoding == "utf-16":
        return len(line[:index].encode("utf-16-le")) // 2
    if encoding == "utf-8":
        return len(line[:index].encode("utf-8"))
    return index


def _channel_problems(line: str, line_no: int, encoding: str) -> list[tuple[str, int, int, int, int]]:
    """invalid-channel on the quoted first entry, duplicate-channel on the last, in ``encoding`` columns."""
    quoted = (line.index('"'), line.index('"', line.index('"') + 1) + 1)
    duplicate = (line.rindex("conda-forge"), line.rindex("conda-forge") + len("conda-forge"))
    return [(code, line_no, _column(line, a, encoding), line_no, _column(line, b, encoding))
            for code, (a, b) in (("invalid-channel", quoted), ("duplicate-channel", duplicate))]


def _raw(diagnostics: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """Published LSP diagnostics as (code, line, character, end line, end character), in order."""
    return [(d["code"], d["line"], d["character"], d["end_line"], d["end_character"])
            for d in sorted(diagnostics, key=lambda d: (d["line"], d["character"]))]


def _error_messages(result: dict[str, Any]) -> list[str]:
    """window/showMessage or logMessage of type Error: pygls reports a failing handler that way."""
    return [m["message"] for m in result.get("messages", []) if m.get("type") == 1]


# --- Neovim ---------------------------------------------------------------------------------------

def _nvim() -> str:
    nvim = os.environ.get("ENVLS_TEST_NVIM") or shutil.which("nvim")
    if not nvim:
        pytest.skip("Neovim is not installed (nvim not on PATH; apt-get install neovim, or set ENVLS_TEST_NVIM)")
    try:
        out = subprocess.run([nvim, "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired) as err:
        pytest.skip(f"cannot run {nvim} --version: {err}")
    if _version(out.split("\n", 1)[0]) < (0, 7):
        pytest.skip(f"Neovim 0.7 or later is needed, found {out.splitlines()[0] if out else 'nothing'}")
    return nvim


def _nvim_diags(step: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [(d["code"], d["lnum"], d["col"], d["end_lnum"], d["end_col"]) for d in step["diagnostics"]]


def test_neovim(workspace: dict[str, Path]) -> None:
    nvim = _nvim()
    env = _base_env(workspace)
    xdg = workspace["tmp"] / "xdg"
    for name in ("CONFIG", "DATA", "STATE", "CACHE"):
        (xdg / name.lower()).mkdir(parents=True)
        env[f"XDG_{name}_HOME"] = str(xdg / name.lower())  # keeps lsp.log (server stderr) in tmp_path
    script = EDITORS / "nvim_lsp.lua"
    run, elapsed = _run([nvim, "--headless", "-u", "NONE", "-i", "NONE", "-n", "-c", f"luafile {script}"],
                        env, workspace["root"])
    log_files = glob.glob(str(xdg / "cache" / "**" / "lsp.log"), recursive=True)
    lsp_log = Path(log_files[0]).read_text(encoding="utf-8", errors="replace") if log_files else ""
    result = _load_result(workspace, run, f"lsp.log:\n{lsp_log[-6000:]}")
    steps = {step["name"]: step for step in result["steps"]}
    print(f"nvim {result['nvim_version']}: run {elapsed:.2f} s; initialize {result['initialize_ms']} ms; "
          + "; ".join(f"{s['name']} {s.get('ms')} ms" for s in result["steps"]))

    assert result["initialized"], result
    assert result["filetype"] == "yaml"
    caps = result["capabilities"]
    assert caps["completion"] and caps["hover"] and caps["code_action"] and caps["document_symbol"], caps
    assert caps["text_document_sync"]["change"] == 2  # incremental: nvim sends ranges, not the whole text

    # diagnostics after didOpen, for the version nvim opened the buffer with
    opened = steps["open"]
    assert opened["ok"], f"no publishDiagnostics within {WAIT_MS} ms: {opened}"
    assert opened["published"]["version"] == opened["version"]
    assert _nvim_diags(opened) == [SUSPICIOUS, PIP_NOT_LISTED]
    for d in opened["diagnostics"]:
        assert d["source"] == "envls" and d["severity"] == 2  # Warning
    assert "python=3.9" in opened["diagnostics"][0]["message"]
    assert "`pip`" in opened["diagnostics"][1]["message"]

    # completion at column 0 of an empty line: the keys the file lacks (those it has are left out)
    existing = result["completion_existing"]
    assert "error" not in existing, existing
    assert OTHER_KEYS <= set(existing["labels"]), existing
    assert not PRESENT_KEYS & set(existing["labels"]), existing
    fresh = result["completion_fresh"]
    assert "error" not in fresh, fresh
    assert {"dependencies", "channels"} | OTHER_KEYS <= set(fresh["labels"]), fresh
    assert "name" not in fresh["labels"], fresh

    # hover on the `channels` key
    hover = result["hover"]
    assert "error" not in hover, hover
    assert "`channels`" in (hover.get("markdown") or ""), hover
    assert hover.get("range") == {"start": {"line": 2, "character": 0}, "end": {"line": 2, "character": 8}}

    # edits: each publication carries the new version, and the diagnostics follow the text
    for name, expected in (("fix-python-spec", [PIP_NOT_LISTED]),
                           ("insert-comment-line", [("pip-not-listed", 8, 4, 8, 7)]),
                           ("apply-quick-fix", [])):
        step = steps[name]
        assert step["ok"], f"{name}: no publishDiagnostics for version {step.get('version')} within {WAIT_MS} ms: {step}"
        assert _nvim_diags(step) == expected, step
    fixed = steps["apply-quick-fix"]
    assert fixed["applied"] == "Add `pip` to the dependencies", fixed
    assert fixed["buffer"][6:10] == ["  - python=3.9", "  - numpy", "  - pip", "  - pip:"], fixed["buffer"]

    # non-ASCII before the diagnostics: LSP columns in the negotiated encoding (UTF-16 with nvim 0.7),
    # and nvim places them on the right bytes
    encoding = result["offset_encoding"]
    for name, line in (("non-ascii-line", NON_ASCII_LINE), ("insert-after-emoji", EDITED_LINE)):
        step = steps[name]
        assert step["ok"], f"{name}: no publishDiagnostics for version {step.get('version')} within {WAIT_MS} ms: {step}"
        assert step["buffer"][3] == line
        assert _raw(step["published"]["diagnostics"]) == _channel_problems(line, 3, encoding), (name, step)
        assert _nvim_diags(step) == _channel_problems(line, 3, "utf-8"), (name, step)  # vim.diagnostic: bytes

    # stop: shutdown + exit, and the server ends by itself with status 0
    assert result["stop"]["ok"], result["stop"]
    assert result["exit"] == {"code": 0, "signal": 0}
    assert result["stop"]["client_gone"]

    assert not _error_messages(result), result["messages"]
    assert "Traceback" not in lsp_log, lsp_log[-6000:]


# --- Emacs + eglot --------------------------------------------------------------------------------

def _emacs() -> str:
    emacs = os.environ.get("ENVLS_TEST_EMACS") or shutil.which("emacs")
    if not emacs:
        pytest.skip("Emacs is not installed (emacs not on PATH; apt-get install emacs-nox elpa-eglot, "
                    "or set ENVLS_TEST_EMACS)")
    probe = ('(progn (dolist (d (file-expand-wildcards "/usr/share/emacs/site-lisp/elpa/*")) '
             '(add-to-list (quote load-path) d)) (princ (if (locate-library "eglot") "eglot" "none")))')
    try:
        out = subprocess.run([emacs, "--batch", "-Q", "--eval", probe], capture_output=True, text=True,
                             timeout=30, stdin=subprocess.DEVNULL).stdout
    except (OSError, subprocess.TimeoutExpired) as err:
        pytest.skip(f"cannot run {emacs}: {err}")
    if "eglot" not in out:
        pytest.skip("eglot is not available to Emacs (apt-get install elpa-eglot; Emacs 29+ bundles it)")
    return emacs


def _flymake(step: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [(d["code"], d["line"], d["col"], d["end_line"], d["end_col"]) for d in step["diagnostics"]]


def test_emacs_eglot(workspace: dict[str, Path]) -> None:
    emacs = _emacs()
    env = _base_env(workspace)
    home = workspace["tmp"] / "home"
    home.mkdir()
    env["HOME"] = str(home)  # nothing from the user's ~/.emacs.d, nothing written there
    script = EDITORS / "eglot.el"
    run, elapsed = _run([emacs, "--batch", "-Q", "-l", str(script)], env, workspace["root"])
    result = _load_result(workspace, run)
    steps = {step["name"]: step for step in result["steps"]}
    print(f"emacs {result['emacs_version']} ({result['eglot_library']}): run {elapsed:.2f} s; "
          f"connect {result['connect_ms']} ms; " + "; ".join(f"{s['name']} {s['ms']} ms" for s in result["steps"]))

    assert result["managed"] is True
    assert result["server_info"]["name"] == "envls"
    caps = result["capabilities"]
    assert caps["completion"] is True and caps["hover"] is True and caps["code_action"] is True, caps

    # diagnostics arrive through Flymake, with eglot's "source [code]: message" texts
    opened = steps["open"]
    assert opened["ok"], f"no publishDiagnostics within {WAIT_MS} ms: {opened}"
    assert opened["published_version"] == opened["version"]
    assert _flymake(opened) == [SUSPICIOUS, PIP_NOT_LISTED]
    texts = [d["text"] for d in opened["diagnostics"]]
    assert texts[0].startswith("envls [suspicious-spec]: `==3.9` is an exact match"), texts
    assert "write `python=3.9`" in texts[0]
    assert texts[1].startswith("envls [pip-not-listed]: a `pip:` subsection, but `pip` is not among"), texts
    assert {d["type"] for d in opened["diagnostics"]} == {"eglot-warning"}

    # after fixing the python line in the buffer, only the pip problem is left
    fixed = steps["fix-python-spec"]
    assert fixed["ok"], f"no publishDiagnostics for version {fixed['version']} within {WAIT_MS} ms: {fixed}"
    assert fixed["published_version"] == fixed["version"]
    assert _flymake(fixed) == [PIP_NOT_LISTED]

    # non-ASCII before the diagnostics: LSP columns in the negotiated encoding (eglot 1.9 offers none,
    # so UTF-16), and Flymake puts them on the right characters
    encoding = result["capabilities"]["position_encoding"] or "utf-16"
    pip_moved = ("pip-not-listed", 6, 4, 6, 7)  # two lines became one
    for name, line in (("non-ascii-line", NON_ASCII_LINE), ("insert-after-emoji", EDITED_LINE)):
        step = steps[name]
        assert step["ok"], f"{name}: no publishDiagnostics for version {step['version']} within {WAIT_MS} ms: {step}"
        assert _raw(step["published"]) == [*_channel_problems(line, 2, encoding), pip_moved], (name, step)
        assert _flymake(step) == [*_channel_problems(line, 2, "utf-32"), pip_moved], (name, step)

    # completion through eglot's completion-at-point function
    existing = result["completion_existing"]
    assert existing["ok"] is True, existing
    assert OTHER_KEYS <= set(existing["labels"]), existing
    assert not PRESENT_KEYS & set(existing["labels"]), existing
    assert result["fresh_managed"] is True  # the second file joined the same server
    fresh = result["completion_fresh"]
    assert {"dependencies", "channels"} | OTHER_KEYS <= set(fresh["labels"]), fresh

    assert "`channels`" in (result["hover"]["markdown"] or "")

    stop = result["stop"]
    assert stop["ok"] and stop["error"] is None, stop
    assert (stop["status"], stop["exit_code"]) == ("exit", 0), stop

    assert not _error_messages(result), result["messages"]
    assert "Traceback" not in result["server_stderr"], result["server_stderr"]
