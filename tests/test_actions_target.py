"""Which prefix a request means, and the names, prefixes and environments that are refused."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from envls.actions.request import ActionError, CreateRequest
from envls.actions.target import default_envs_dir, resolve_target, validate_name


@pytest.mark.parametrize("name", ["demo", "py3.11-ml", "a_b+c", "Ünïcode", "x1"])
def test_good_names(name: str) -> None:
    validate_name(name)


@pytest.mark.parametrize(("name", "reason"), [
    ("base", "base environment"), ("root", "base environment"), ("my env", "a space"), ("a/b", "`/`"),
    ("a:b", "`:`"), ("a#b", "`#`"), ("it's", "a quote"), ('say"x"', "a quote"), ("x;rm", "`;`"),
    ("$(id)", "`$`"), ("`id`", "a backquote"), ("a\tb", "white space"), ("-n", "starts with `-`"), ("", "empty"),
    ("..", "no valid"), ("a\\b", "`\\`"),
])
def test_bad_names(name: str, reason: str) -> None:
    with pytest.raises(ActionError) as caught:
        validate_name(name)
    assert reason in caught.value.message


def _env(path: Path) -> Path:
    (path / "conda-meta").mkdir(parents=True)
    (path / "conda-meta" / "history").write_text("")
    return path


def _request(tmp_path: Path, **kwargs: object) -> CreateRequest:
    return CreateRequest(tmp_path / "project" / "environment.yml", **kwargs)  # type: ignore[arg-type]


def test_a_name_lands_in_the_first_writable_envs_dir(tmp_path: Path) -> None:
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where a folder would have to be")
    target = resolve_target(_request(tmp_path), "demo", None, [blocked / "envs", tmp_path / "envs"])
    assert target.prefix == tmp_path / "envs" / "demo" and target.name == "demo" and not target.exists


def test_the_request_name_wins_and_existing_envs_are_found_in_any_envs_dir(tmp_path: Path) -> None:
    _env(tmp_path / "two" / "mine")
    target = resolve_target(_request(tmp_path, name="mine", update=True), "from-file", None,
                            [tmp_path / "one", tmp_path / "two"])
    assert target.prefix == tmp_path / "two" / "mine" and target.exists


def test_without_conda_envs_dirs_names_go_to_the_data_folder(tmp_path: Path) -> None:
    environ = {"XDG_DATA_HOME": str(tmp_path / "data"), "HOME": str(tmp_path)}
    assert default_envs_dir(environ) == tmp_path / "data" / "envls" / "envs"
    target = resolve_target(_request(tmp_path), "demo", None, [], environ=environ)
    assert target.prefix == tmp_path / "data" / "envls" / "envs" / "demo"


def test_a_relative_prefix_counts_from_the_file(tmp_path: Path) -> None:
    target = resolve_target(_request(tmp_path, prefix="./.env with space; $(x)"), "ignored", None, [])
    assert target.prefix == tmp_path / "project" / ".env with space; $(x)" and target.name is None
    target = resolve_target(_request(tmp_path), None, "../from-file", [])
    assert target.prefix == tmp_path / "from-file"


def test_no_name_and_no_prefix(tmp_path: Path) -> None:
    with pytest.raises(ActionError, match="no `name:`"):
        resolve_target(_request(tmp_path), None, None, [tmp_path])


def test_existing_environment_needs_force_or_update(tmp_path: Path) -> None:
    _env(tmp_path / "envs" / "demo")
    with pytest.raises(ActionError, match="already exists"):
        resolve_target(_request(tmp_path), "demo", None, [tmp_path / "envs"])
    assert resolve_target(_request(tmp_path, force=True), "demo", None, [tmp_path / "envs"]).exists
    with pytest.raises(ActionError, match="no environment `other` to update"):
        resolve_target(_request(tmp_path, update=True), "other", None, [tmp_path / "envs"])


def test_base_installations_are_never_touched(tmp_path: Path) -> None:
    root = _env(tmp_path / "miniforge3")
    (root / "envs").mkdir()
    (root / "condabin").mkdir()
    for request in (_request(tmp_path, prefix=str(root), force=True), _request(tmp_path, prefix=str(root), update=True)):
        with pytest.raises(ActionError, match="base installation"):
            resolve_target(request, None, None, [])
    with pytest.raises(ActionError, match="base installation"):
        resolve_target(_request(tmp_path, prefix=sys.prefix, update=True), None, None, [])
    micromamba_root = tmp_path / "micromamba"
    micromamba_root.mkdir()
    with pytest.raises(ActionError, match="base installation"):
        resolve_target(_request(tmp_path, prefix=str(micromamba_root), force=True), None, None, [],
                       protected=[micromamba_root])
    # <root>/envs/NAME is where named environments live: allowed.
    target = resolve_target(_request(tmp_path), "demo", None, [root / "envs"])
    assert target.prefix == root / "envs" / "demo"


def test_a_prefix_inside_another_environment_is_refused(tmp_path: Path) -> None:
    outer = _env(tmp_path / "outer")
    with pytest.raises(ActionError, match="inside the environment"):
        resolve_target(_request(tmp_path, prefix=str(outer / "lib" / "inner")), None, None, [])


def test_a_folder_that_is_no_environment_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "stuff"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    with pytest.raises(ActionError, match="no conda environment"):
        resolve_target(_request(tmp_path, prefix=str(folder), force=True), None, None, [])
    (tmp_path / "empty").mkdir()
    assert not resolve_target(_request(tmp_path, prefix=str(tmp_path / "empty")), None, None, []).exists


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX path separator")
def test_a_prefix_with_the_path_separator_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ActionError, match="cannot be in a folder on PATH"):
        resolve_target(_request(tmp_path, prefix=str(tmp_path / "a:b")), None, None, [])
