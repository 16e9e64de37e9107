"""The session's cached lookups: what code lenses and drift ask on every request costs no disk scan."""

from __future__ import annotations

from pathlib import Path

import pytest

from envls import session as session_module
from envls.core.analysis import analyze
from envls.host.environments import InstalledEnv
from envls.session import Session, SessionOptions, described_target


def test_installed_environments_are_looked_up_once_until_they_change(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    found = InstalledEnv("demo", str(tmp_path / "demo"), None, "conda")

    def find_environment(target: str, *args: object, **kwargs: object) -> InstalledEnv | None:
        calls.append(target)
        return found if target == "demo" else None

    monkeypatch.setattr(session_module, "find_environment", find_environment)
    session = Session(SessionOptions(channel_checks=False, cuda_version="none"))
    session._tools = []
    for _ in range(5):  # five lens requests
        assert session.find_installed("demo", tmp_path) == found
        assert session.find_installed("other", tmp_path) is None
    assert calls == ["demo", "other"]
    session.environments_changed()  # after a create or update, or when the watcher saw a change
    assert session.find_installed("demo", tmp_path) == found
    assert calls == ["demo", "other", "demo"]


@pytest.mark.parametrize(("text", "target"), [
    ("name: a\ndependencies: [python]\n", "a"),
    ("name: a\nprefix: /opt/envs/b\ndependencies: [python]\n", "/opt/envs/b"),
    ("dependencies: [python]\n", None),
])
def test_described_target(text: str, target: str | None) -> None:
    assert described_target(analyze(text).environment) == target
