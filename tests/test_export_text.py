"""Export text: a fresh file, and the merge onto an existing one that changes only what differs."""

from __future__ import annotations

from pathlib import Path

import pytest

from envls.core.workflow.export_text import Exported, merge, render, scalar


def exported(conda: tuple[str, ...], pip: tuple[str, ...] = (), channels: tuple[str, ...] = ("conda-forge",),
             name: str = "demo") -> Exported:
    return Exported(name, channels, conda, pip, subdir="linux-64")


def test_render_never_writes_a_prefix_and_quotes_only_when_needed() -> None:
    text = render(Exported("my env", ("conda-forge", "https://x.test/ch"), ("numpy=1.26.4", "yes=1"), ("a==1",),
                           nodefaults=True))
    assert text == ('name: my env\nchannels:\n  - conda-forge\n  - https://x.test/ch\n  - nodefaults\n'
                    'dependencies:\n  - numpy=1.26.4\n  - yes=1\n  - pip:\n      - a==1\n')
    assert scalar("true") == '"true"' and scalar("a: b") == '"a: b"' and scalar("x # y") == '"x # y"'


def test_an_identical_export_changes_nothing() -> None:
    text = "# top\nname: demo  # n\nchannels:\n  - conda-forge\ndependencies:\n  - numpy=1.26.4  # why\n"
    assert merge(text, exported(("numpy=1.26.4",))).text == text


def test_versions_change_in_place_keeping_comments_selectors_and_channel_prefixes() -> None:
    text = ("name: demo\nchannels:\n  - conda-forge\ndependencies:\n  - conda-forge::numpy=1.25  # pinned\n"
            "  - pywin32  # [win]\n  - scipy  # [linux]\n  - removed-now\n  - python 3.11.*\n")
    result = merge(text, exported(("numpy=1.26.4", "python=3.11.7", "pandas=2.2")))
    assert not result.rewritten
    assert result.text == ("name: demo\nchannels:\n  - conda-forge\ndependencies:\n"
                           "  - conda-forge::numpy=1.26.4  # pinned\n  - pywin32  # [win]\n"
                           "  - python=3.11.7\n  - pandas=2.2\n")


def test_pip_section_entries_and_options() -> None:
    text = ("name: demo\ndependencies:\n  - python=3.11\n  - pip:\n    - --index-url https://x.test/simple\n"
            "    - requests==2.0  # api\n    - gone==1\n  - numpy=2\n")
    result = merge(text, exported(("python=3.11", "numpy=2"), ("requests==2.31", "rich==13.0"), channels=()))
    assert result.text == ("name: demo\ndependencies:\n  - python=3.11\n  - pip:\n"
                           "    - --index-url https://x.test/simple\n    - requests==2.31  # api\n    - rich==13.0\n"
                           "  - numpy=2\n")


def test_a_pip_section_and_channels_are_added_when_missing() -> None:
    text = "name: demo\nchannels:\n  - nodefaults\ndependencies:\n  - python=3.11\n"
    result = merge(text, exported(("python=3.11", "numpy=2"), ("rich==13.0",)))
    assert result.text == ("name: demo\nchannels:\n  - conda-forge\n  - nodefaults\ndependencies:\n"
                           "  - python=3.11\n  - numpy=2\n  - pip:\n      - rich==13.0\n")


def test_windows_line_endings_are_kept() -> None:
    text = "name: demo\r\ndependencies:\r\n  - a=1\r\n  - b=1\r\n"
    assert merge(text, exported(("a=2", "c=1"), channels=())).text == "name: demo\r\ndependencies:\r\n  - a=2\r\n  - c=1\r\n"


@pytest.mark.parametrize("text", ["name: [unclosed\n", "dependencies: [a, b]\n", "- just a list\n"])
def test_shapes_it_cannot_edit_are_written_fresh(text: str) -> None:
    result = merge(text, exported(("a=1",)))
    assert result.rewritten and result.reason
    assert result.text == render(exported(("a=1",)))


def test_the_name_changes_only_when_asked() -> None:
    text = "name: old\ndependencies:\n  - a=1\n"
    assert merge(text, exported(("a=1",), channels=(), name="new")).text == text
    assert merge(text, exported(("a=1",), channels=(), name="new"), keep_name=False).text == text.replace("old", "new")


def test_channels_of_records_are_named_as_conda_names_them(tmp_path: Path) -> None:
    from envls.actions.export import ExportRequest, export_environment
    from envls.channels.condarc import CondaConfig

    meta = tmp_path / "env" / "conda-meta"
    meta.mkdir(parents=True)
    records = {
        "numpy-1.26.4-py311_0": "https://conda.anaconda.org/conda-forge/linux-64",
        "pandas-2.2.0-py311_0": "https://conda.anaconda.org/conda-forge/linux-64",
        "zlib-1.2.13-h0_0": "https://repo.example.test/pkgs/main/linux-64",
        "mine-0.1-0": "https://example.test/private/noarch",
    }
    for stem, channel in records.items():
        name, version, build = stem.rsplit("-", 2)
        (meta / f"{stem}.json").write_text(
            f'{{"name": "{name}", "version": "{version}", "build": "{build}", "channel": "{channel}"}}')
    (meta / "history").write_text("==> 2026-01-01 00:00:00 <==\n# cmd: conda create\n"
                                  "# update specs: ['numpy', 'https://conda.anaconda.org/conda-forge::pandas>=2']\n"
                                  "==> 2026-01-02 00:00:00 <==\n# update specs: ['numpy>=1.26', 'zlib']\n"
                                  "# remove specs: ['zlib']\n")
    config = CondaConfig(channels=("conda-forge",))
    full = export_environment(ExportRequest(tmp_path / "env"), config)
    assert full.channels == ("conda-forge", "defaults", "https://example.test/private") and not full.nodefaults
    assert full.conda == ("mine=0.1", "numpy=1.26.4", "pandas=2.2.0", "zlib=1.2.13") and full.name == "env"
    asked = export_environment(ExportRequest(tmp_path / "env", from_history=True), config)
    assert asked.conda == ("numpy>=1.26", "conda-forge::pandas>=2")


def test_a_hostile_history_is_not_read(tmp_path: Path) -> None:
    """A prefix may be one that a document names: a FIFO (or a link to /dev/stdin) as conda-meta/history
    must not hang the export (nor the "Sync from environment" lens, which asks the same); it reads as no history."""
    import os

    from envls.actions.export import ExportRequest, export_environment
    from envls.actions.request import ActionError
    from envls.channels.condarc import CondaConfig

    meta = tmp_path / "env" / "conda-meta"
    meta.mkdir(parents=True)
    (meta / "numpy-1.26.4-py311_0.json").write_text(
        '{"name": "numpy", "version": "1.26.4", "build": "py311_0", '
        '"channel": "https://conda.anaconda.org/conda-forge/linux-64"}')
    config = CondaConfig(channels=("conda-forge",))
    for make in (os.mkfifo, lambda path: path.symlink_to("/dev/stdin")):
        (meta / "history").unlink(missing_ok=True)
        make(meta / "history")
        with pytest.raises(ActionError, match="no conda-meta/history with requested specs"):
            export_environment(ExportRequest(tmp_path / "env", from_history=True), config)
        assert export_environment(ExportRequest(tmp_path / "env"), config).conda == ("numpy=1.26.4",)
