"""`envls check` with channel checks on, as a process, against the loopback channel server only."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from channel_server import CHANNELS, ChannelServer, condarc

pytestmark = pytest.mark.skipif(not CHANNELS.is_dir(), reason="the shared channel snapshots are not here")

ENVLS = [sys.executable, "-m", "envls"]
FORGE = "conda-forge-py39-subchannel"
PYTORCH = "pytorch-rattler"

PROBLEMS = f"""name: demo
channels:
  - {FORGE}
  - default
dependencies:
  - python=3.8
  - pythn
  - pip
"""

CLEAN = f"""name: demo
channels:
  - {FORGE}
dependencies:
  - python=3.9
  - pip
"""


@pytest.fixture
def server() -> Iterator[ChannelServer]:
    with ChannelServer() as srv:
        yield srv


def environ(tmp_path: Path, srv: ChannelServer, checks: str = "1") -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("CONDA_PREFIX", "CONDA_EXE", "MAMBA_ROOT_PREFIX", "XDG_CONFIG_HOME")
           and not k.startswith("CONDA_")}
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env.update(HOME=str(home), ENVLS_CHANNEL_CHECKS=checks, CONDARC=str(condarc(tmp_path, srv.base_url)),
               ENVLS_CACHE_DIR=str(tmp_path / "cache"))
    return env


def check(tmp_path: Path, srv: ChannelServer, text: str, *args: str, checks: str = "1",
          ) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "environment.yml"
    path.write_text(text, encoding="utf-8")
    return subprocess.run([*ENVLS, "check", *args, "environment.yml"], capture_output=True, text=True, timeout=60,
                          cwd=tmp_path, env=environ(tmp_path, srv, checks))


def findings(result: subprocess.CompletedProcess[str]) -> list[tuple[int, str, str]]:
    """(line, severity, code) of each printed finding."""
    out = []
    for line in result.stdout.splitlines():
        where, _, rest = line.partition(": ")
        severity, code, _ = rest.split(" ", 2)
        out.append((int(where.split(":")[1]), severity, code))
    return out


def test_text_findings(tmp_path: Path, server: ChannelServer) -> None:
    result = check(tmp_path, server, PROBLEMS, "--platform", "linux-64")
    assert result.returncode == 1, result.stderr
    assert findings(result) == [(4, "error", "unknown-channel"), (6, "error", "version-not-found"),
                                (7, "error", "package-not-found")]
    lines = result.stdout.splitlines()
    assert lines[0].startswith("environment.yml:4:5: error unknown-channel channel `default` does not exist")
    assert lines[0].endswith("did you mean `defaults`?")
    assert lines[2] == (f"environment.yml:7:5: error package-not-found no package `pythn` in {FORGE} "
                        "for linux-64; did you mean `python`?")
    assert result.stderr == ""
    assert any(p.startswith(f"/channels/{FORGE}/linux-64/") for p in server.requests)


def test_clean_file_exits_zero(tmp_path: Path, server: ChannelServer) -> None:
    result = check(tmp_path, server, CLEAN, "--platform", "linux-64", "--platform", "osx-arm64")
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_platforms_of_the_file(tmp_path: Path, server: ChannelServer) -> None:
    text = f"channels: [{PYTORCH}]\nplatforms: [linux-64, osx-arm64]\ndependencies:\n  - pytorch=2.1\n"
    result = check(tmp_path, server, text, "--fail-on", "error")
    assert findings(result) == [(4, "warning", "platform-unavailable")]
    assert result.returncode == 0  # a warning, below --fail-on error
    assert check(tmp_path, server, text).returncode == 1  # the default threshold is warning


def test_json_output(tmp_path: Path, server: ChannelServer) -> None:
    result = check(tmp_path, server, PROBLEMS, "--platform", "linux-64", "--format", "json")
    assert result.returncode == 1
    (report,) = json.loads(result.stdout)
    diags = {d["code"]: d for d in report["diagnostics"]}
    assert set(diags) == {"unknown-channel", "version-not-found", "package-not-found"}
    assert diags["package-not-found"]["range"] == {"start": {"line": 6, "character": 4},
                                                   "end": {"line": 6, "character": 9}}


def test_disable_and_no_channels(tmp_path: Path, server: ChannelServer) -> None:
    disabled = check(tmp_path, server, PROBLEMS, "--platform", "linux-64", "--disable",
                     "unknown-channel,version-not-found")
    assert findings(disabled) == [(7, "error", "package-not-found")]
    for args, checks in ((("--no-channels",), "1"), ((), "0")):
        server.requests.clear()
        result = check(tmp_path, server, PROBLEMS, "--platform", "linux-64", *args, checks=checks)
        # `default` (for `defaults`) is a known slip, reported without channel data.
        assert findings(result) == [(4, "error", "unknown-channel")]
        assert result.returncode == 1
        assert server.requests == []


def test_server_down(tmp_path: Path, server: ChannelServer) -> None:
    server.stop()
    result = check(tmp_path, server, CLEAN, "--platform", "linux-64", "--fail-on", "error")
    assert result.returncode == 0, result.stdout
    assert findings(result) == [(3, "information", "channel-unreachable")]
    assert f"channel `{FORGE}` could not be reached (connection refused); its packages are not checked" in result.stdout
    # With the default threshold (warning) an information finding does not fail either.
    assert check(tmp_path, server, CLEAN, "--platform", "linux-64").returncode == 0
    assert check(tmp_path, server, CLEAN, "--platform", "linux-64", "--fail-on", "information").returncode == 1
    # `default` needs no channel data: it is an error even with the server down.
    result = check(tmp_path, server, PROBLEMS, "--platform", "linux-64", "--fail-on", "error")
    assert findings(result) == [(3, "information", "channel-unreachable"), (4, "error", "unknown-channel")]
    assert result.returncode == 1


def test_server_down_after_a_run_uses_the_cache(tmp_path: Path, server: ChannelServer) -> None:
    online = check(tmp_path, server, CLEAN.replace("pip", "pythn"), "--platform", "linux-64")
    assert findings(online) == [(6, "error", "package-not-found")]
    server.stop()
    offline = check(tmp_path, server, CLEAN.replace("pip", "pythn"), "--platform", "linux-64")
    assert [f for f in findings(offline) if f[2] != "channel-unreachable"] == findings(online)
    assert offline.returncode == 1


def test_a_hanging_channeldata_never_delays_check(tmp_path: Path, server: ChannelServer) -> None:
    """channeldata.json is hover's (package summaries): `envls check` never asks for it."""
    def timed() -> float:
        start = time.monotonic()
        result = check(tmp_path, server, CLEAN, "--platform", "linux-64", "--no-solve")
        assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
        return time.monotonic() - start

    timed()  # warm the cache: both runs below read repodata alike
    plain = timed()
    server.fault(f"/channels/{FORGE}/channeldata.json", "hang")
    hanging = timed()
    assert hanging <= plain + 1.0
    assert not any(p.endswith("channeldata.json") for p in server.requests)
