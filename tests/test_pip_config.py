"""Which indexes pip would use (pip's configuration files, PIP_* variables, the section's options) and the
files that `-r`/`-c`/`-e` lines name, read from a temporary folder. No network."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import pytest
from pip_support import found, run, yaml

from envls.pypi.config import PipConfig, config_files, default_index_url, load_pip_config, plan_indexes
from envls.pypi.facts import MAX_FILES, read_pip_files


def test_default_index_comes_from_the_installed_pip() -> None:
    from pip._internal.models.index import PyPI

    assert default_index_url() == PyPI.simple_url


def test_config_file_locations_linux(tmp_path: Path) -> None:
    files = config_files({"XDG_CONFIG_HOME": "/x/config", "XDG_CONFIG_DIRS": "/a:/b"}, tmp_path, platform="linux")
    assert files == [Path("/a/pip/pip.conf"), Path("/b/pip/pip.conf"), Path("/etc/pip.conf"),
                     tmp_path / ".pip" / "pip.conf", Path("/x/config/pip/pip.conf")]
    assert config_files({"PIP_CONFIG_FILE": os.devnull}, tmp_path, platform="linux") == []
    chosen = tmp_path / "chosen.conf"
    chosen.write_text("")
    files = config_files({"PIP_CONFIG_FILE": str(chosen)}, tmp_path, platform="linux")
    assert files[-1] == chosen and tmp_path / ".pip" / "pip.conf" not in files  # pip then skips the user's files


def test_config_file_locations_windows(tmp_path: Path) -> None:
    files = config_files({"APPDATA": "C:/Users/a/AppData/Roaming", "PROGRAMDATA": "C:/ProgramData"}, tmp_path,
                         platform="win32")
    assert [f.name for f in files] == ["pip.ini"] * 3


def test_precedence(tmp_path: Path) -> None:
    low = tmp_path / "global.conf"
    low.write_text("[global]\nindex-url = https://global.invalid/simple\nextra-index-url =\n"
                   "  https://e1.invalid/simple\n  https://e2.invalid/simple\n")
    high = tmp_path / "user.conf"
    high.write_text("[install]\nindex_url = https://install.invalid/simple\n[global]\nindex-url = https://user.invalid\n")
    config = load_pip_config({}, tmp_path, files=[low, high, tmp_path / "absent.conf"])
    assert config.index_url == "https://install.invalid/simple"
    assert config.extra_index_urls == ("https://e1.invalid/simple", "https://e2.invalid/simple")
    assert config.sources == (str(low), str(high))
    env_wins = load_pip_config({"PIP_INDEX_URL": "https://env.invalid/simple", "PIP_NO_INDEX": "yes"}, tmp_path,
                               files=[low, high])
    assert env_wins.index_url == "https://env.invalid/simple" and env_wins.no_index


def test_broken_config_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    bad = tmp_path / "pip.conf"
    bad.write_text("index-url = no section\n")
    config = load_pip_config({}, tmp_path, files=[bad])
    assert config.problems and config.index_url is None


def _plan(text: str, config: PipConfig | None = None, trusted: bool = True,
          files: Mapping[str, str | None] | None = None, environ: dict[str, str] | None = None,
          expand: bool = False) -> list[tuple[str, bool]]:
    env = run(text).environment
    plan = plan_indexes(env, config or PipConfig(extra_index_urls=("https://extra.invalid/simple",)), files, trusted,
                        environ or {}, default="https://default.invalid/simple", expand=expand)
    return [(i.url, i.from_file) for i in plan.indexes]


SECTION = "dependencies:\n  - pip\n  - pip:\n"


def test_plan_without_options() -> None:
    assert _plan(SECTION + "    - foo\n") == [("https://default.invalid/simple", False),
                                              ("https://extra.invalid/simple", False)]


def test_plan_index_url_replaces_configured_ones() -> None:
    assert _plan(SECTION + "    - -i https://mine.invalid/simple\n    - foo\n") == [("https://mine.invalid/simple", True)]


def test_plan_extra_index_url_adds() -> None:
    assert _plan(SECTION + "    - --extra-index-url=https://more.invalid/simple\n")[-1] == \
        ("https://more.invalid/simple", True)


def test_plan_no_index_and_find_links() -> None:
    env = run(SECTION + "    - --no-index\n    - -f ./wheels\n").environment
    plan = plan_indexes(env, PipConfig(), environ={}, default="https://default.invalid/simple")
    assert plan.indexes == () and plan.other_sources


def test_plan_reads_options_of_requirement_files() -> None:
    files = {"requirements.txt": "--index-url https://from-file.invalid/simple\nfoo\n"}
    assert _plan(SECTION + "    - -r requirements.txt\n", files=files) == [("https://from-file.invalid/simple", True)]


def test_plan_expands_variables_as_pip_does_when_asked() -> None:
    text = SECTION + "    - --index-url https://${TOKEN}@mine.invalid/simple\n"
    plan = _plan(text, environ={"TOKEN": "t0k"}, expand=True)
    assert plan == [("https://t0k@mine.invalid/simple", True)]
    # By default (and always in an untrusted workspace) the variable stays, and the index is not contacted.
    assert _plan(text, environ={"TOKEN": "t0k"}) == []
    assert _plan(text, environ={"TOKEN": "t0k"}, expand=True, trusted=False) == []
    extra = SECTION + "    - --extra-index-url https://x.invalid/${TOKEN}/simple\n"
    assert ("https://x.invalid/t0k/simple", True) not in _plan(extra, environ={"TOKEN": "t0k"})


def test_plan_placeholder_is_no_index() -> None:
    env = run(SECTION + "    - --extra-index-url <URL of an index that serves +cu116 builds>\n").environment
    plan = plan_indexes(env, PipConfig(), environ={}, default="https://default.invalid/simple")
    assert [i.url for i in plan.indexes] == ["https://default.invalid/simple"] and plan.other_sources


# -- reading the files ---------------------------------------------------------------------------


ENV = yaml("""
    dependencies:
      - pip
      - pip:
        - -r requirements.txt
        - -c constraints/pins.txt
        - -e ./pkg[dev]
        - -e ./gone
        - -r ${HOME}/elsewhere.txt
        - -r https://example.invalid/requirements.txt
""")


def test_read_files(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("numpy\n-r dev/extra.txt\n")
    (tmp_path / "dev").mkdir()
    (tmp_path / "dev" / "extra.txt").write_text("pytest\n-r ../requirements.txt\n-r missing.txt\n")
    (tmp_path / "pkg").mkdir()
    files = read_pip_files(run(ENV).environment, tmp_path)
    assert files == {"requirements.txt": "numpy\n-r dev/extra.txt\n",
                     "dev/extra.txt": "pytest\n-r ../requirements.txt\n-r missing.txt\n",
                     "dev/missing.txt": None, "constraints/pins.txt": None, "pkg": "", "gone": None}
    assert found(ENV, files=files) == [("invalid-pip-requirement", 4), ("pip-file-missing", 4),
                                       ("pip-file-missing", 5), ("pip-file-missing", 7)]


def test_self_including_file_ends(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("numpy\n-r requirements.txt\n-r ./requirements.txt\n")
    text = SECTION + "    - -r requirements.txt\n"
    files = read_pip_files(run(text).environment, tmp_path)
    assert list(files) == ["requirements.txt"]
    analysis = run(text, files=files)
    (finding,) = [f for f in analysis.findings if f.code == "invalid-pip-requirement"]
    assert "requirements.txt:2: `-r requirements.txt` includes `requirements.txt` again" in finding.message


def test_many_files_are_bounded(tmp_path: Path) -> None:
    for n in range(200):
        (tmp_path / f"r{n}.txt").write_text(f"-r r{n + 1}.txt\n")
    files = read_pip_files(run(SECTION + "    - -r r0.txt\n").environment, tmp_path)
    assert len(files) <= MAX_FILES


def test_untrusted_reads_only_inside_the_folder(tmp_path: Path) -> None:
    inside = tmp_path / "project"
    inside.mkdir()
    (tmp_path / "secret.txt").write_text("token\n")
    (inside / "requirements.txt").write_text("-r ../secret.txt\n")
    text = SECTION + f"    - -r requirements.txt\n    - -r {tmp_path / 'secret.txt'}\n"
    env = run(text).environment
    assert set(read_pip_files(env, inside, trusted=False)) == {"requirements.txt"}
    assert set(read_pip_files(env, inside, trusted=True)) == {"requirements.txt", "../secret.txt",
                                                               str(tmp_path / "secret.txt")}


def test_a_folder_given_to_r_is_not_missing(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").mkdir()
    files = read_pip_files(run(SECTION + "    - -r requirements.txt\n").environment, tmp_path)
    assert files == {"requirements.txt": ""}


@pytest.mark.parametrize("root", [None])
def test_unsaved_document_reads_nothing(root: Path | None) -> None:
    assert read_pip_files(run(ENV).environment, root) == {}
