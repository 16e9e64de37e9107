"""Which files are environment files: one rule (envls/data/environment_files.json) for the server and the
VS Code extension (whose unit tests check its side: vscode-client/test/unit/selector.test.ts)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from envls.core.files import RULES_FILE, WORKSPACE_GLOB, is_environment_file, is_environment_name

CLIENT = Path(__file__).resolve().parents[1] / "vscode-client"


@pytest.mark.parametrize("name", ["environment.yml", "environment-dev.yaml", "env.yml", "conda.yaml",
                                  "ci/my-environment.yml", "ENVIRONMENT.YML", "C:\\ws\\env-gpu.yml"])
def test_names_of_environment_files(name: str) -> None:
    assert is_environment_name(name)


@pytest.mark.parametrize("name", ["environment.txt", "requirements.yml", "docker-compose.yml", "mkdocs.yml"])
def test_names_of_other_files(name: str) -> None:
    assert not is_environment_name(name)


@pytest.mark.parametrize(("text", "expected"), [
    ("dependencies:\n  - python\n", True),
    ("dependencies:  # the packages\n\n  # first\n  - python\n", True),
    ("dependencies: [python, pip]\n", True),
    ("dependencies:\n  python: 3\n", False),
    ("on: push\njobs: {}\n", False),
    ("  dependencies:\n  - python\n", False),
])
def test_other_yaml_files_by_content(text: str, expected: bool) -> None:
    assert is_environment_file("/ws/deps/requirements.yml", text) is expected
    assert not is_environment_file("/ws/notes.txt", text)


def test_the_extension_activates_on_the_same_files() -> None:
    """package.json cannot read the rules file: its activation glob must be the rules' workspace glob."""
    rules = json.loads(RULES_FILE.read_text(encoding="utf-8"))
    assert rules["workspaceGlob"] == WORKSPACE_GLOB
    manifest = json.loads((CLIENT / "package.json").read_text(encoding="utf-8"))
    assert f"workspaceContains:{WORKSPACE_GLOB}" in manifest["activationEvents"]
    selector = (CLIENT / "src" / "selector.ts").read_text(encoding="utf-8")
    assert "from '../../envls/data/environment_files.json'" in selector
