"""`envls check` and the entry points, run as a user runs them: as processes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ENVLS = [sys.executable, "-m", "envls"]


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*ENVLS, *args], capture_output=True, text=True, timeout=60, cwd=cwd)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "environment.yml").write_text("name: demo\ndependencies:\n  - python==3.9\n  - pip:\n    - x\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "env-dev.yaml").write_text("name: base\ndependencies:\n  - python\n")
    (tmp_path / "sub" / "ci.yml").write_text("on: push\njobs: {}\n")  # not an environment file
    (tmp_path / "sub" / "deps.yml").write_text("dependencies:\n  - numpy==1\n")  # found by content
    (tmp_path / "clean.yml").write_text("name: ok\ndependencies:\n  - python=3.11\n")
    return tmp_path


def test_version() -> None:
    result = run("--version")
    assert result.returncode == 0 and result.stdout.startswith("envls ")


def test_text_output(project: Path) -> None:
    result = run("check", "environment.yml", cwd=project)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert "environment.yml:3:5: warning suspicious-spec " in lines[0]
    assert lines[1].startswith("environment.yml:4:5: warning pip-not-listed ")


def test_text_output_columns_in_code_points(tmp_path: Path) -> None:
    """Lines and columns from the line starts: `\r\n` ends a line, and a column counts code points."""
    (tmp_path / "environment.yml").write_bytes(
        "name: é😀\r\ndependencies: [\"é😀\", python==3.9]\r\n".encode())
    result = run("check", "environment.yml", cwd=tmp_path)
    assert "environment.yml:2:22: warning suspicious-spec " in result.stdout, result.stdout


def test_json_output_is_lsp(project: Path) -> None:
    result = run("check", "--format", "json", "environment.yml", cwd=project)
    report = json.loads(result.stdout)
    assert report[0]["path"] == "environment.yml"
    first = report[0]["diagnostics"][0]
    assert first["range"]["start"] == {"line": 2, "character": 4}
    assert first["source"] == "envls" and first["code"] == "suspicious-spec" and first["severity"] == 2


def test_json_columns_are_utf16(tmp_path: Path) -> None:
    (tmp_path / "environment.yml").write_text('{name: "😀", channels: ["<unknown>"], dependencies: [python]}\n',
                                              encoding="utf-8")
    report = json.loads(run("check", "--format", "json", str(tmp_path / "environment.yml")).stdout)
    (diag,) = report[0]["diagnostics"]
    assert diag["code"] == "invalid-channel"
    assert diag["range"]["start"]["character"] == len('{name: "') + 2 + len('", channels: [')


def test_directories_are_searched(project: Path) -> None:
    result = run("check", "--format", "json", ".", cwd=project)
    paths = sorted(Path(entry["path"]).as_posix() for entry in json.loads(result.stdout))
    assert paths == ["clean.yml", "environment.yml", "sub/deps.yml", "sub/env-dev.yaml"]


@pytest.mark.parametrize(
    ("fail_on", "file", "code"),
    [
        ("warning", "clean.yml", 0),
        ("warning", "environment.yml", 1),
        ("error", "environment.yml", 0),
        ("error", "sub/env-dev.yaml", 1),
        ("information", "environment.yml", 1),
    ],
)
def test_exit_codes(project: Path, fail_on: str, file: str, code: int) -> None:
    assert run("check", "--fail-on", fail_on, file, cwd=project).returncode == code


def test_unreadable_file_exits_2(project: Path) -> None:
    result = run("check", "missing.yml", "environment.yml", cwd=project)
    assert result.returncode == 2
    assert "missing.yml" in result.stderr
    assert "suspicious-spec" in result.stdout  # the readable file is still checked


def test_usage_error_exits_2() -> None:
    assert run("check").returncode == 2
    assert run("check", "--format", "xml", "x.yml").returncode == 2


def test_disable_option(project: Path) -> None:
    result = run("check", "--disable", "suspicious-spec,pip-not-listed", "environment.yml", cwd=project)
    assert result.returncode == 0 and result.stdout == ""


def test_not_utf8(tmp_path: Path) -> None:
    (tmp_path / "environment.yml").write_bytes(b"name: x\ndependencies:\n  - caf\xe9\n")
    result = run("check", str(tmp_path / "environment.yml"))
    assert ":3:" in result.stdout and "yaml-syntax" in result.stdout and "UTF-8" in result.stdout


def test_console_script_and_module_agree(project: Path) -> None:
    script = Path(sys.executable).with_name("envls")
    if not script.exists():
        pytest.skip("the envls console script is not installed beside this Python")
    a = subprocess.run([str(script), "check", "environment.yml"], capture_output=True, text=True, cwd=project,
                       timeout=60)
    b = run("check", "environment.yml", cwd=project)
    assert a.stdout == b.stdout and a.returncode == b.returncode


def test_serve_accepts_stdio_flag() -> None:
    # The server reads LSP from stdin; closing stdin at once must end it cleanly, also with --stdio.
    proc = subprocess.run([*ENVLS, "serve", "--stdio"], input="", capture_output=True, text=True, timeout=30)
    assert proc.stdout == ""


def test_an_unknown_code_in_disable_is_an_error(project: Path) -> None:
    result = run("check", "--disable", "suspicious-spec,pip-not-listd", "environment.yml", cwd=project)
    assert result.returncode == 2 and result.stdout == ""
    assert "unknown code `pip-not-listd` in --disable; did you mean `pip-not-listed`?" in result.stderr


def test_a_directory_without_environment_files_says_so(project: Path) -> None:
    (project / "docs").mkdir()
    (project / "docs" / "mkdocs.yml").write_text("site_name: x\n")
    alone = run("check", "docs", cwd=project)
    assert alone.returncode == 2 and alone.stdout == ""
    assert alone.stderr.startswith("envls: no environment file in docs ")
    with_file = run("check", "docs", "clean.yml", cwd=project)  # the file is checked; the folder is still told
    assert with_file.returncode == 0 and "no environment file in docs" in with_file.stderr


def test_help_texts() -> None:
    check = run("check", "--help").stdout
    assert "--format {text,json}" in check and "LSP diagnostics" in check
    assert "exit status:" in check and "1  findings at or above --fail-on" in check
    assert "LSP over stdin/stdout" in run("--help").stdout
    assert "--log-level" in run("serve", "--help").stdout


def test_the_readme_lists_every_code() -> None:
    import re

    from envls.core.codes import CODES

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    assert set(re.findall(r"^\| `([a-z][a-z-]*)` \|", readme, re.MULTILINE)) == CODES


def test_the_readme_sample_output_is_real() -> None:
    """The README's `envls check examples/environment.yml` block, less its offline channel lines, is the output."""
    root = Path(__file__).resolve().parents[1]
    readme = (root / "README.md").read_text(encoding="utf-8")
    block = readme.split("$ envls check examples/environment.yml\n", 1)[1].split("```", 1)[0]
    expected = [line for line in block.splitlines() if " channel-unreachable " not in line]
    result = run("check", "--no-channels", "--no-solve", "examples/environment.yml", cwd=root)
    assert result.stdout.splitlines() == expected
    assert result.returncode == 1
    assert (root / "LICENSE").read_text(encoding="utf-8").startswith("MIT License")
