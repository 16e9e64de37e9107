"""The typed settings model (envls/settings.py): each option's check, its keys, and polite failure."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest

from envls.settings import Settings, parse_settings

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")

# key, a good value, what the option then holds, a bad value, the problem's words
CASES: list[tuple[str, Any, Any, Any, str]] = [
    ("disable", ["env-drift"], ("env-drift",), "env-drift", "must be a list of diagnostic codes"),
    ("logLevel", "DEBUG", "debug", "loud", "must be one of debug, info, warning, error"),
    ("trusted", False, False, "no", "must be true or false"),
    ("channelChecks", False, False, 0, "must be true or false"),
    ("platforms", ["linux-64", "osx-arm64"], ("linux-64", "osx-arm64"), ["linux"], "must be a list of conda subdirs"),
    ("channelRefreshHours", 2, 2.0, -1, "must be a positive number of hours"),
    ("cacheDir", "/tmp/c", "/tmp/c", 3, "must be a path"),
    ("cudaVersion", " 12.2 ", "12.2", "twelve", "must be a CUDA version"),
    ("condaPath", "/opt/conda/bin/conda", "/opt/conda/bin/conda", ["x"], "must be a path"),
    ("solve", False, False, "off", "must be true or false"),
    ("solveTimeout", 3, 3.0, True, "must be a positive number of seconds"),
    ("expandEnvironmentVariables", True, True, "yes", "must be true or false"),
]


def _field(key: str) -> str:
    return re.sub(r"[A-Z]", lambda m: "_" + m.group(0).lower(), key)


@pytest.mark.parametrize(("key", "good", "held", "bad", "words"), CASES)
def test_each_option(key: str, good: Any, held: Any, bad: Any, words: str) -> None:
    name = _field(key)
    assert getattr(parse_settings({"envls": {key: good}}), name) == held
    assert getattr(parse_settings({name: good}), name) == held  # the snake_case name works too
    refused = parse_settings({key: bad})
    assert getattr(refused, name) == getattr(Settings(), name)  # the default stays
    assert len(refused.problems) == 1 and words in refused.problems[0] and f"envls.{key}" in refused.problems[0]


def test_every_option_is_tested_and_documented() -> None:
    names = {f.name for f in dataclasses.fields(Settings)} - {"problems"}
    assert {_field(key) for key, *_ in CASES} == names
    for key, *_ in CASES:
        assert f"### `{key}`" in README


def test_alias_unknown_keys_and_bad_shapes() -> None:
    assert parse_settings({"disabledCodes": ["a"]}).disable == ("a",)
    assert parse_settings({"noSuchOption": 1}) == Settings()
    assert parse_settings([1]).problems == ("envls settings must be an object, not list",)
    base = parse_settings({"logLevel": "debug"})
    assert parse_settings({"trusted": False}, base).log_level == "debug"  # a change keeps the rest
    assert parse_settings(None, base) == base


def test_a_bad_watch_interval_is_logged_not_fatal(caplog: pytest.LogCaptureFixture) -> None:
    import subprocess
    import sys

    from envls.lsp.server import watch_seconds

    assert watch_seconds({"ENVLS_WATCH_SECONDS": "0.5"}) == 0.5
    assert watch_seconds({}) == 5.0
    for bad in ("soon", "-1", "0", "nan", "inf"):
        assert watch_seconds({"ENVLS_WATCH_SECONDS": bad}) == 5.0
    assert "ignoring ENVLS_WATCH_SECONDS='soon'" in caplog.text
    # The server module imports whatever the variable holds.
    env = {"ENVLS_WATCH_SECONDS": "soon", "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", "import envls.lsp.server"], env=env, capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
