"""Finding conda, mamba and micromamba, and the environments they know, in fake install trees.

Every test builds its own home, installations and PATH under tmp_path and passes them in: the machine's
own conda (if any) is never looked at.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from envls.channels.condarc import CondaConfig
from envls.host import environments
from envls.host.conda_tools import CondaTool, choose_tool, find_conda_tools, micromamba_root, usual_install_folders
from envls.host.environments import InstalledEnv, envs_dirs, find_environment, list_environments


def tool_file(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n", encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def prefix(path: Path, *, python: bool = True, history: bool = True, windows: bool = False) -> Path:
    """A fake environment: conda-meta (with history), and a python executable."""
    (path / "conda-meta").mkdir(parents=True, exist_ok=True)
    if history:
        (path / "conda-meta" / "history").write_text("", encoding="utf-8")
    if python:
        tool_file(path / "python.exe" if windows else path / "bin" / "python")
    return path


def install(root: Path, *tools: str, windows: bool = False) -> Path:
    """A fake installation (a root prefix) holding the given tool files, e.g. "bin/conda"."""
    prefix(root, windows=windows)
    for relative in tools:
        tool_file(root / relative)
    return root


def fake_which(mapping: Mapping[str, Path]) -> Callable[[str], str | None]:
    def which(name: str) -> str | None:
        found = mapping.get(name)
        return str(found) if found is not None else None

    return which


def find(home: Path, environ: Mapping[str, str] | None = None, *, setting: str | None = None,
         path: Mapping[str, Path] | None = None, folders: list[Path] | None = None,
         binaries: list[Path] | None = None, windows: bool = False) -> list[CondaTool]:
    return find_conda_tools(setting, environ=dict(environ or {}), home=home, which=fake_which(path or {}),
                            windows=windows, install_folders=folders or [], micromamba_binaries=binaries or [])


# -- discovery order --------------------------------------------------------------------------------------


def test_nothing_found(tmp_path: Path) -> None:
    assert find(tmp_path) == []


def test_conda_exe_gives_tool_and_root(tmp_path: Path) -> None:
    root = install(tmp_path / "miniconda3", "bin/conda", "condabin/conda")
    tools = find(tmp_path, {"CONDA_EXE": str(root / "bin/conda")})
    assert tools == [CondaTool("conda", str(root / "bin/conda"), str(root), "CONDA_EXE")]


def test_order_setting_env_path_folders(tmp_path: Path) -> None:
    custom = install(tmp_path / "custom", "bin/conda")
    active = install(tmp_path / "active", "bin/conda")
    forge = install(tmp_path / "miniforge3", "bin/mamba", "bin/conda", "condabin/conda")
    micromamba = tool_file(tmp_path / "bin" / "micromamba")
    folder = install(tmp_path / "anaconda3", "bin/conda")
    tools = find(
        tmp_path,
        {"CONDA_EXE": str(active / "bin/conda"), "MAMBA_EXE": str(micromamba),
         "MAMBA_ROOT_PREFIX": str(tmp_path / "mm")},
        setting=str(custom / "bin/conda"),
        path={"mamba": forge / "bin/mamba", "conda": forge / "condabin/conda"},
        folders=[tmp_path / "nothing-here", forge, folder],
    )
    assert [(t.kind, t.source, t.path) for t in tools] == [
        ("conda", "setting", str(custom / "bin/conda")),
        ("conda", "CONDA_EXE", str(active / "bin/conda")),
        ("micromamba", "MAMBA_EXE", str(micromamba)),
        ("mamba", "PATH", str(forge / "bin/mamba")),
        ("conda", "PATH", str(forge / "condabin/conda")),
        # miniforge3's bin/mamba was found on PATH already; its bin/conda is another file.
        ("conda", "install folder", str(forge / "bin/conda")),
        ("conda", "install folder", str(folder / "bin/conda")),
    ]
    assert tools[2].root_prefix == str(tmp_path / "mm")
    assert tools[3].root_prefix == str(forge)


def test_path_order_is_mamba_micromamba_conda(tmp_path: Path) -> None:
    root = install(tmp_path / "root", "bin/conda", "bin/mamba", "bin/micromamba")
    tools = find(tmp_path, path={"conda": root / "bin/conda", "micromamba": root / "bin/micromamba",
                                 "mamba": root / "bin/mamba"})
    assert [t.kind for t in tools] == ["mamba", "micromamba", "conda"]


def test_symlinked_tool_on_path_finds_its_root(tmp_path: Path) -> None:
    root = install(tmp_path / "opt" / "conda", "bin/conda")
    link = tmp_path / "usr" / "bin" / "conda"
    link.parent.mkdir(parents=True)
    link.symlink_to(root / "bin/conda")
    tools = find(tmp_path, path={"conda": link})
    assert tools == [CondaTool("conda", str(link), str(root), "PATH")]


def test_same_file_twice_is_listed_once(tmp_path: Path) -> None:
    root = install(tmp_path / "miniforge3", "bin/conda")
    tools = find(tmp_path, {"CONDA_EXE": str(root / "bin/conda")}, path={"conda": root / "bin/conda"},
                 folders=[root])
    assert [t.source for t in tools] == ["CONDA_EXE"]


def test_setting_may_name_an_installation_folder(tmp_path: Path) -> None:
    root = install(tmp_path / "my-conda", "condabin/mamba", "condabin/conda")
    tools = find(tmp_path, setting=str(root))
    assert [(t.kind, t.source, t.root_prefix) for t in tools] == [("mamba", "setting", str(root)),
                                                                  ("conda", "setting", str(root))]


def test_bad_setting_is_logged_and_ignored(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    root = install(tmp_path / "miniconda3", "bin/conda")
    with caplog.at_level(logging.DEBUG, logger="envls.host.conda_tools"):
        tools = find(tmp_path, setting=str(tmp_path / "no-such-conda"), path={"conda": root / "bin/conda"})
    assert [t.source for t in tools] == ["PATH"]
    assert "no-such-conda" in caplog.text and "ignored" in caplog.text
    # Every step says what it found or did not find.
    assert "CONDA_EXE is not set" in caplog.text and "mamba is not on PATH" in caplog.text


def test_unnamed_setting_is_taken_for_conda(tmp_path: Path) -> None:
    wrapper = tool_file(tmp_path / "tools" / "my-conda-wrapper")
    assert [t.kind for t in find(tmp_path, setting=str(wrapper))] == ["conda"]


@pytest.mark.skipif(os.name == "nt", reason="the executable bit is a POSIX notion")
def test_file_without_executable_bit_is_no_tool(tmp_path: Path) -> None:
    root = install(tmp_path / "miniconda3")
    (root / "bin" / "conda").write_text("not executable", encoding="utf-8")
    assert find(tmp_path, {"CONDA_EXE": str(root / "bin/conda")}, folders=[root]) == []


def test_conda_exe_outside_an_installation_has_no_root(tmp_path: Path) -> None:
    lone = tool_file(tmp_path / "somewhere" / "bin" / "conda")
    assert find(tmp_path, {"CONDA_EXE": str(lone)}) == [CondaTool("conda", str(lone), None, "CONDA_EXE")]


def test_mamba_exe_named_mamba_is_mamba(tmp_path: Path) -> None:
    root = install(tmp_path / "miniforge3", "bin/mamba")
    tools = find(tmp_path, {"MAMBA_EXE": str(root / "bin/mamba")})
    assert tools == [CondaTool("mamba", str(root / "bin/mamba"), str(root), "MAMBA_EXE")]


def test_micromamba_binary_in_usual_place_with_default_root(tmp_path: Path) -> None:
    binary = tool_file(tmp_path / ".local" / "bin" / "micromamba")
    (tmp_path / "micromamba" / "envs").mkdir(parents=True)
    tools = find(tmp_path, binaries=[binary])
    assert tools == [CondaTool("micromamba", str(binary), str(tmp_path / "micromamba"), "install folder")]


def test_micromamba_root_order(tmp_path: Path) -> None:
    home = tmp_path
    assert micromamba_root({"MAMBA_ROOT_PREFIX": "/x/mm"}, home, False) == Path("/x/mm")
    assert micromamba_root({}, home, False) is None
    (home / ".local/share/mamba/pkgs").mkdir(parents=True)
    assert micromamba_root({}, home, False) == home / ".local/share/mamba"
    (home / "micromamba/conda-meta").mkdir(parents=True)
    assert micromamba_root({}, home, False) == home / "micromamba"  # the 1.x place is checked first
    assert micromamba_root({"XDG_DATA_HOME": str(home / "data")}, home / "other", False) is None


# -- Windows layouts (file names only: the executable bit does not count on Windows) -------------------------


def test_windows_install_folder_layout(tmp_path: Path) -> None:
    profile = tmp_path / "Users" / "alice"
    root = install(profile / "miniconda3", "Scripts/conda.exe", "condabin/conda.bat", windows=True)
    forge = install(profile / "miniforge3", "Library/bin/mamba.exe", "Scripts/conda.exe", windows=True)
    environ = {"USERPROFILE": str(profile), "LOCALAPPDATA": str(profile / "AppData/Local"),
               "PROGRAMDATA": str(tmp_path / "ProgramData")}
    folders = usual_install_folders(profile, environ, windows=True)
    assert profile / "miniconda3" in folders and tmp_path / "ProgramData" / "anaconda3" in folders
    assert profile / "AppData/Local" / "miniforge3" in folders
    tools = find(profile, environ, folders=folders, windows=True)
    assert [(t.kind, Path(t.path).relative_to(profile).as_posix(), t.root_prefix) for t in tools] == [
        ("mamba", "miniforge3/Library/bin/mamba.exe", str(forge)),
        ("conda", "miniforge3/Scripts/conda.exe", str(forge)),
        ("conda", "miniconda3/Scripts/conda.exe", str(root)),
    ]


def test_windows_conda_exe(tmp_path: Path) -> None:
    root = install(tmp_path / "anaconda3", "Scripts/conda.exe", windows=True)
    (root / "Scripts" / "conda.exe").chmod(0o644)  # Windows has no executable bit
    tools = find(tmp_path, {"CONDA_EXE": str(root / "Scripts" / "conda.exe")}, windows=True)
    assert tools == [CondaTool("conda", str(root / "Scripts" / "conda.exe"), str(root), "CONDA_EXE")]


def test_windows_micromamba_and_python_exe(tmp_path: Path) -> None:
    local = tmp_path / "AppData" / "Local"
    binary = tool_file(local / "micromamba" / "micromamba.exe")
    root = tmp_path / "micromamba"
    prefix(root / "envs" / "proj", windows=True)
    environ = {"LOCALAPPDATA": str(local), "MAMBA_ROOT_PREFIX": str(root)}
    tools = find_conda_tools(None, environ=environ, home=tmp_path, which=fake_which({}), windows=True,
                             install_folders=[])
    assert [(t.kind, t.path, t.root_prefix) for t in tools] == [("micromamba", str(binary), str(root))]
    envs = list_environments(CondaConfig(), tools, environ, tmp_path, windows=True)
    assert envs == [InstalledEnv("proj", str(root / "envs/proj"), str(root / "envs/proj/python.exe"), "micromamba")]


# -- choosing a tool ------------------------------------------------------------------------------------------


def test_choose_tool(tmp_path: Path) -> None:
    conda = CondaTool("conda", "/r/bin/conda", "/r", "CONDA_EXE")
    mamba = CondaTool("mamba", "/r/bin/mamba", "/r", "install folder")
    micro = CondaTool("micromamba", "/u/bin/micromamba", "/u/micromamba", "PATH")
    assert choose_tool([conda, micro, mamba]) == mamba  # mamba of the same installation as the first found
    assert choose_tool([micro, conda, mamba]) == micro
    assert choose_tool([conda, micro, mamba], "conda") == conda
    assert choose_tool([conda], "micromamba") is None
    assert choose_tool([]) is None
    setting = CondaTool("conda", "/s/bin/conda", "/r", "setting")
    assert choose_tool([setting, mamba]) == setting


def test_conda_path_is_honoured_over_another_installations_mamba(tmp_path: Path) -> None:
    """condaPath=/x/bin/conda with a mamba of another installation on PATH: `auto` and `mamba` never run
    that other mamba while /x has its own; `conda` runs the setting's."""
    from envls.actions.create import backend_tool
    from envls.actions.request import CreateRequest

    x = install(tmp_path / "x", "bin/conda")
    other = install(tmp_path / "other", "bin/mamba", "bin/conda")
    path = {"mamba": other / "bin/mamba", "conda": other / "bin/conda"}
    request = lambda backend: CreateRequest(tmp_path / "environment.yml", backend=backend)  # noqa: E731
    tools = find(tmp_path, setting=str(x / "bin/conda"), path=path)
    assert backend_tool(request("auto"), tools) == tools[0] and tools[0].path == str(x / "bin/conda")
    assert backend_tool(request("conda"), tools).path == str(x / "bin/conda")  # type: ignore[union-attr]
    tool_file(x / "bin/mamba")  # a mamba beside that conda is the one a named `mamba` runs
    tools = find(tmp_path, setting=str(x / "bin/conda"), path=path)
    chosen = backend_tool(request("mamba"), tools)
    assert chosen is not None and chosen.root_prefix == str(x)
    assert backend_tool(request("auto"), tools).root_prefix == str(x)  # type: ignore[union-attr]
    assert backend_tool(request("embedded"), tools) is None


def test_envs_dirs_order(tmp_path: Path) -> None:
    home = tmp_path / "home"
    root = install(tmp_path / "miniforge3", "bin/conda")
    tools = find(home, {"CONDA_EXE": str(root / "bin/conda")})
    config = CondaConfig(envs_dirs=(str(tmp_path / "configured"),))
    assert envs_dirs(config, tools, {}, home, windows=False) == [
        tmp_path / "configured", root / "envs", home / ".conda" / "envs"]
    environ = {"MAMBA_ROOT_PREFIX": str(tmp_path / "mm"), "LOCALAPPDATA": str(tmp_path / "local")}
    assert envs_dirs(CondaConfig(), tools, environ, home, windows=True) == [
        root / "envs", home / ".conda" / "envs", tmp_path / "mm" / "envs", tmp_path / "local/conda/conda/envs"]


def test_read_only_root_comes_after_the_users_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    root = install(tmp_path / "shared-conda", "bin/conda")
    # conda asks whether `<root>/conda-meta/history` can be appended to; root may write anything, so ask it here.
    monkeypatch.setattr(environments, "_root_writable", lambda candidate: candidate != root)
    tools = find(home, {"CONDA_EXE": str(root / "bin/conda")})
    assert envs_dirs(CondaConfig(), tools, {}, home, windows=False) == [home / ".conda" / "envs", root / "envs"]


@pytest.mark.skipif(os.name == "nt" or os.geteuid() == 0, reason="needs POSIX permissions that apply to this user")
def test_root_writable_is_the_history_file(tmp_path: Path) -> None:
    root = install(tmp_path / "shared-conda", "bin/conda")
    assert environments._root_writable(root)
    (root / "conda-meta" / "history").chmod(0o444)
    assert not environments._root_writable(root)


def test_list_environments(tmp_path: Path) -> None:
    home = tmp_path / "home"
    root = install(tmp_path / "miniforge3", "bin/conda", "bin/mamba")
    prefix(root / "envs" / "vision")
    prefix(root / "envs" / "analysis", python=False)
    (root / "envs" / "not-an-env").mkdir()
    prefix(root / "envs" / "only-meta", history=False, python=False)
    prefix(home / ".conda" / "envs" / "mine")
    elsewhere = prefix(tmp_path / "projects" / "app" / ".env")
    gone = tmp_path / "deleted-env"
    (home / ".conda").mkdir(parents=True, exist_ok=True)
    (home / ".conda" / "environments.txt").write_text(
        f"{root}\n{root / 'envs' / 'vision'}\n{elsewhere}\n{gone}\n\n", encoding="utf-8")
    tools = find(home, {"CONDA_EXE": str(root / "bin/conda")}, folders=[root])
    envs = list_environments(CondaConfig(), tools, {}, home, windows=False)
    assert [(e.name, Path(e.prefix), e.python_path is not None, e.manager) for e in envs] == [
        ("base", root, True, "mamba"),
        ("analysis", root / "envs/analysis", False, "mamba"),
        ("only-meta", root / "envs/only-meta", False, "mamba"),
        ("vision", root / "envs/vision", True, "mamba"),
        ("mine", home / ".conda/envs/mine", True, "mamba"),
        (None, elsewhere, True, "mamba"),
    ]
    assert envs[3].python_path == str(root / "envs/vision/bin/python")


def test_micromamba_root_environments(tmp_path: Path) -> None:
    home = tmp_path / "home"
    binary = tool_file(home / ".local/bin/micromamba")
    mm = tmp_path / "mm"
    prefix(mm / "envs" / "dev")
    environ = {"MAMBA_ROOT_PREFIX": str(mm)}
    tools = find(home, environ, path={"micromamba": binary})
    envs = list_environments(CondaConfig(), tools, environ, home, windows=False)
    assert envs == [InstalledEnv("dev", str(mm / "envs/dev"), str(mm / "envs/dev/bin/python"), "micromamba")]


def test_same_environment_through_a_link_is_listed_once(tmp_path: Path) -> None:
    home = tmp_path / "home"
    root = install(tmp_path / "miniconda3", "bin/conda")
    prefix(root / "envs" / "a")
    (home / ".conda").mkdir(parents=True)
    (home / ".conda" / "envs").symlink_to(root / "envs")
    tools = find(home, {"CONDA_EXE": str(root / "bin/conda")})
    assert [e.name for e in list_environments(CondaConfig(), tools, {}, home, windows=False)] == ["base", "a"]


def test_find_environment(tmp_path: Path) -> None:
    home = tmp_path / "home"
    root = install(tmp_path / "miniconda3", "bin/conda")
    first = prefix(tmp_path / "configured" / "dup")
    prefix(root / "envs" / "dup")
    outside = prefix(tmp_path / "project" / "env")
    tools = find(home, {"CONDA_EXE": str(root / "bin/conda")})
    config = CondaConfig(envs_dirs=(str(tmp_path / "configured"),))

    def look(text: str) -> InstalledEnv | None:
        return find_environment(text, config, tools, {}, home, windows=False, base_dir=tmp_path / "project")

    found = look("dup")
    assert found is not None and found.prefix == str(first)  # the first envs directory wins, as in conda
    base = look("base")
    assert base is not None and base.prefix == str(root) and look("root") == base
    by_prefix = look(str(root / "envs" / "dup"))
    assert by_prefix is not None and by_prefix.name == "dup"
    unregistered = look("./env")
    assert unregistered is not None and unregistered.name is None and unregistered.prefix == str(outside)
    assert look("missing") is None and look(str(tmp_path / "nowhere")) is None and look("  ") is None


def test_default_discovery_reads_the_given_environment_only(tmp_path: Path) -> None:
    # With no `which`, PATH comes from the environment passed in, not from the process.
    root = install(tmp_path / "miniforge3", "bin/conda")
    tools = find_conda_tools(None, environ={"PATH": str(root / "bin")}, home=tmp_path, windows=False,
                             install_folders=[], micromamba_binaries=[])
    assert [(t.kind, t.path, t.source) for t in tools] == [("conda", str(root / "bin/conda"), "PATH")]
