"""The pip rules, case by case: a YAML string in, (code, 1-based line) pairs out. Pure: snapshots of
files, index pages and channel names are written in the test, nothing is fetched."""

from __future__ import annotations

import time

import pytest
from pip_support import apply, channel_facts, found, index_facts, only, release, run, yaml

from envls.core.pip.facts import IndexFacts, IndexState
from envls.core.pip.lines import included_path, parse_pip_line, requirement_file_lines
from envls.core.pip.mapping import build, conda_names, mapping, pypi_names
from envls.core.pip.rules import pip_file_findings
from envls.core.pip.section import conda_spec_for, disjoint

HEAD = "dependencies:\n  - python=3.10\n  - pip\n"

FAST = [
    # conda-pip-duplicate
    ("same name", HEAD + "  - requests\n  - pip:\n    - requests\n", [("conda-pip-duplicate", 6)]),
    ("same name pinned alike", HEAD + "  - filelock=3.8.0\n  - pip:\n    - filelock==3.8.0\n",
     [("conda-pip-duplicate", 6)]),
    ("renamed pytorch torch", HEAD + "  - pytorch\n  - pip:\n    - torch\n", [("conda-pip-duplicate", 6)]),
    ("renamed py-opencv", HEAD + "  - py-opencv\n  - pip:\n    - opencv-python\n", [("conda-pip-duplicate", 6)]),
    ("metapackage opencv", HEAD + "  - opencv\n  - pip:\n    - opencv-python-headless\n",
     [("conda-pip-duplicate", 6)]),
    ("pep 503 names", HEAD + "  - ruamel.yaml\n  - pip:\n    - Ruamel_YAML\n", [("conda-pip-duplicate", 6)]),
    ("with a marker", HEAD + "  - pyqt\n  - pip:\n    - PyQt5; platform_system == 'Darwin'\n",
     [("conda-pip-duplicate", 6)]),
    ("direct reference", HEAD + "  - dask\n  - pip:\n    - dask @ git+https://github.com/dask/dask\n",
     [("conda-pip-duplicate", 6)]),
    ("url without a name", HEAD + "  - distributed\n  - pip:\n    - git+https://github.com/dask/distributed\n", []),
    ("conda package with no pypi distribution", HEAD + "  - ffmpeg\n  - pip:\n    - ffmpeg==1.4\n", []),
    ("vendored copies are not the package", HEAD + "  - hist-base\n  - pip:\n    - click\n", []),
    ("under other selectors", HEAD + "  - pywin32  # [win]\n  - pip:\n    - pywin32  # [linux]\n", []),
    ("under the same selector", HEAD + "  - pywin32  # [win]\n  - pip:\n    - pywin32  # [win]\n",
     [("conda-pip-duplicate", 6)]),
    # conda-pip-conflict
    ("conflict click", HEAD + "  - click=8.1\n  - pip:\n    - click<8\n", [("conda-pip-conflict", 6)]),
    ("conflict renamed", HEAD + "  - tensorflow-base=2.13.1=cuda118py39h712810b_1\n  - pip:\n"
     "    - tensorflow==2.19.0\n", [("conda-pip-conflict", 6)]),
    ("conflict range", HEAD + "  - numpy>=2\n  - pip:\n    - numpy<2\n", [("conda-pip-conflict", 6)]),
    ("no conflict when a version fits", HEAD + "  - click=8.1\n  - pip:\n    - click>=8.0,<8.2\n",
     [("conda-pip-duplicate", 6)]),
    ("unpinned conda cannot conflict", HEAD + "  - click\n  - pip:\n    - click <8\n", [("conda-pip-duplicate", 6)]),
    ("renamed to several: versions differ", HEAD + "  - py-opencv=4.9.0\n  - pip:\n    - opencv-python==4.10.0.84\n",
     [("conda-pip-duplicate", 6)]),
    ("marker keeps it a duplicate", HEAD + "  - click=8.1\n  - pip:\n    - click<8; sys_platform == 'linux'\n",
     [("conda-pip-duplicate", 6)]),
    ("odd conda version", HEAD + "  - regex=2022_09_13\n  - pip:\n    - regex==2023.1\n", [("conda-pip-duplicate", 6)]),
    # pip-duplicate
    ("pip duplicate", HEAD + "  - pip:\n    - requests\n    - requests>=2\n", [("pip-duplicate", 6)]),
    ("pip duplicate normalised", HEAD + "  - pip:\n    - Foo_Bar==1\n    - foo-bar==1\n", [("pip-duplicate", 6)]),
    ("pip duplicate across sections", HEAD + "  - pip:\n    - six\n  - pip:\n    - six\n", [("pip-duplicate", 7)]),
    ("different markers", HEAD + "  - pip:\n    - torch==1.0; sys_platform == 'linux'\n"
     "    - torch==2.0; sys_platform == 'darwin'\n", []),
    ("different selectors", HEAD + "  - pip:\n    - a==1  # [linux]\n    - a==2  # [osx]\n", []),
    # conflicting-distributions
    ("opencv twice", HEAD + "  - pip:\n    - opencv-contrib-python==4.9.0.80\n    - opencv-python==4.9.0.80\n",
     [("conflicting-distributions", 6)]),
    ("pillow simd", HEAD + "  - pip:\n    - pillow-simd\n    - Pillow\n", [("conflicting-distributions", 6)]),
    ("psycopg2", HEAD + "  - pip:\n    - psycopg2\n    - psycopg2-binary\n", [("conflicting-distributions", 6)]),
    ("tensorflow cpu and gpu", HEAD + "  - pip:\n    - tensorflow-gpu==2.10\n    - tensorflow-cpu==2.10\n",
     [("conflicting-distributions", 6)]),
    ("conda opencv and pip contrib", HEAD + "  - py-opencv\n  - pip:\n    - opencv-contrib-python\n",
     [("conflicting-distributions", 6)]),
    ("tensorflow and its mac build are no clash", HEAD + "  - pip:\n    - tensorflow; sys_platform != 'darwin'\n"
     "    - tensorflow-macos; sys_platform == 'darwin'\n", []),
    # pip-local-version
    ("local version", HEAD + "  - pip:\n    - torch==1.12.1+cu116\n", [("pip-local-version", 5)]),
    ("local version with an index", HEAD + "  - pip:\n    - --extra-index-url https://wheels.invalid/cu116\n"
     "    - torch==1.12.1+cu116\n", []),
    ("local version with find-links", HEAD + "  - pip:\n    - -f https://wheels.invalid/torch_stable.html\n"
     "    - torch==1.12.1+cu116\n", []),
    ("local version with equals form", HEAD + "  - pip:\n    - --extra-index-url=https://wheels.invalid/cu124\n"
     "    - torch==2.6.0+cu124\n", []),
    ("local version and a -r file", HEAD + "  - pip:\n    - -r requirements.txt\n    - torch==1.12.1+cu116\n", []),
    # bad input
    ("single equals", HEAD + "  - pip:\n    - poetry=1.2.2\n", [("invalid-pip-requirement", 5)]),
    ("stray quotes", HEAD + "  - pip:\n    - numpy==\"1.26\"\n", [("invalid-pip-requirement", 5)]),
    ("broken marker", HEAD + "  - pip:\n    - numpy; python_version >> '3'\n", [("invalid-pip-requirement", 5)]),
    ("nothing but options", HEAD + "  - pip:\n    - --pre\n    - --no-deps\n", []),
    ("empty section", HEAD + "  - pip: []\n", []),
    ("section not a list", HEAD + "  - pip: requests\n", []),
]


@pytest.mark.parametrize(("text", "expected"), [(c[1], c[2]) for c in FAST], ids=[c[0] for c in FAST])
def test_fast_pip_rules(text: str, expected: list[tuple[str, int]]) -> None:
    assert found(text) == expected


def test_duplicate_points_at_conda_and_offers_both_removals() -> None:
    text = HEAD + "  - pytorch=2.1\n  - pip:\n    - torch==2.1.0\n"
    analysis = run(text)
    finding = only(analysis, "conda-pip-duplicate")
    source = analysis.document.text
    assert source[finding.related[0].span.start:finding.related[0].span.end] == "pytorch=2.1"
    assert "pip runs after conda" in finding.message and "PyPI's `torch`" in finding.message
    assert [f.title for f in finding.fixes] == ["Remove the pip requirement `torch==2.1.0`",
                                                "Remove the conda dependency `pytorch=2.1`"]
    assert "torch==2.1.0" not in apply(source, finding.fixes[0])
    assert "pytorch=2.1" not in apply(source, finding.fixes[1])


def test_conflict_message_names_both_sides() -> None:
    finding = only(run(HEAD + "  - click=8.1\n  - pip:\n    - click<8\n"), "conda-pip-conflict")
    assert "`click=8.1` (conda) and `click<8` (pip) cannot both hold" in finding.message


def test_pip_duplicate_fix_removes_the_second() -> None:
    text = yaml(HEAD + "  - pip:\n    - requests\n    - requests>=2\n")
    analysis = run(text)
    finding = only(analysis, "pip-duplicate")
    assert apply(analysis.document.text, finding.fixes[0]) == yaml(HEAD + "  - pip:\n    - requests\n")


def test_local_version_fix_adds_an_index_line_to_fill_in() -> None:
    analysis = run(HEAD + "  - pip:\n    - numpy\n    - torch==1.12.1+cu116\n")
    finding = only(analysis, "pip-local-version")
    fixed = apply(analysis.document.text, finding.fixes[0])
    assert "    - --extra-index-url <URL of an index that serves +cu116 builds>\n    - numpy\n" in fixed
    assert "pypi.org" not in fixed and "pytorch.org" not in fixed
    assert parse_pip_line("--extra-index-url <URL of an index that serves +cu116 builds>").kind == "option"


def test_invalid_line_suggestions() -> None:
    assert parse_pip_line("poetry=1.2.2").suggestion == "poetry==1.2.2"
    assert parse_pip_line('numpy=="1.26"').suggestion == "numpy==1.26"
    assert parse_pip_line("'torch>=2'; sys_platform == 'linux'").suggestion == "torch>=2; sys_platform == 'linux'"
    broken = parse_pip_line("numpy; python_version >> '3'")
    assert broken.kind == "invalid" and "marker" in (broken.error or "") and broken.suggestion is None
    assert parse_pip_line("dipy --only-binary dipy").options == (("--only-binary", "dipy"),)
    assert parse_pip_line("-rreq.txt").long_option == "--requirement"


def test_suppression_comment_silences_a_pip_rule() -> None:
    assert found(HEAD + "  - requests\n  - pip:\n    - requests  # envls: disable=conda-pip-duplicate\n") == []


# -- the mapping -----------------------------------------------------------------------------


def test_mapping_both_ways() -> None:
    assert pypi_names("pytorch") == ("torch",)
    assert pypi_names("py-opencv") == ("opencv-python", "opencv-python-headless")
    assert pypi_names("python") == ()
    assert pypi_names("some-unknown-package") == ("some-unknown-package",)
    assert pypi_names("hist-base") == ("hist",)  # not the click and numpy it vendors
    assert pypi_names("ansible") == ("ansible", "ansible-base")
    assert "pytorch" in conda_names("torch") and "py-opencv" in conda_names("opencv-python")
    assert conda_names("ffmpeg") == ()
    assert conda_names("PyQt5")[0] == "pyqt5" and "pyqt" in conda_names("pyqt5")
    assert mapping().same_versions("matplotlib-base", "matplotlib")
    assert not mapping().same_versions("py-opencv", "opencv-python")
    assert "conda-forge/compressed_mapping.json" in mapping().sources


def test_mapping_from_data() -> None:
    table = build({"renamed": {"isce2": ["pip", "setuptools", "wheel"], "foo-base": ["foo"], "bar": ["baz", "qux"]},
                   "none": ["libfoo"]})
    assert table.pypi_names("isce2") == ()  # build tools a package happens to ship are not the package
    assert table.pypi_names("foo-base") == ("foo",) and table.conda_names("foo") == ("foo", "foo-base")
    assert table.pypi_names("libfoo") == () and table.conda_names("libfoo") == ()
    assert table.conda_names("qux") == ("qux", "bar")


def test_mapping_loads_fast() -> None:
    mapping.cache_clear()
    start = time.perf_counter()
    mapping()
    assert time.perf_counter() - start < 0.5  # the target is 50 ms; generous here for slow CI machines


# -- version arithmetic and translation ---------------------------------------------------------


@pytest.mark.parametrize(("conda", "pip", "expected"), [
    ("8.1.*", "<8", True), (None, "<8", False), ("==2.13.1", "==2.19.0", True), (">=1.2,<1.3", ">1.2.5,<1.2.6", False),
    ("8.1.*", ">=8.1.3", False), ("==1.0", "==1.0.0", False), (">=2", "<2", True), ("2.*", "~=2.0", False),
    ("8.1.*|==8.2", "==8.2.0", False), (">=1.0", "!=1.0", False), ("1.1.1q.*", "==1.1.1", False),
    ("3.7.13.*", "==3.7.13", False), ("<1.0a1", ">=1.0", True),
])
def test_disjoint(conda: str | None, pip: str, expected: bool) -> None:
    from packaging.specifiers import SpecifierSet

    assert disjoint(conda, SpecifierSet(pip)) is expected


@pytest.mark.parametrize(("pip", "conda"), [
    ("x", "c"), ("x<8", "c<8"), ("x==1.2", "c==1.2.0"), ("x==1.2.3", "c==1.2.3"), ("x~=1.4.2", "c>=1.4.2,<1.5"),
    ("x>=1,<2", "c>=1,<2"), ("x==1.*", "c=1"), ("x[y]==1", None), ("x; sys_platform == 'linux'", None),
    ("x==1.0+cu1", None), ("x===1.0", "c==1.0.0"),
])
def test_conda_spec_for(pip: str, conda: str | None) -> None:
    from packaging.requirements import Requirement

    assert conda_spec_for("c", Requirement(pip), keep_version=True) == conda


# -- files named by -r, -c and -e --------------------------------------------------------------


def test_requirement_file_lines() -> None:
    text = "a==1 # note\n# only a comment\n\nb \\\n  >=2\n-r x.txt\n"
    assert requirement_file_lines(text) == [(1, "a==1"), (4, "b   >=2"), (6, "-r x.txt")]


def test_included_paths() -> None:
    assert included_path(None, "requirements.txt") == "requirements.txt"
    assert included_path("sub/a.txt", "../b.txt") == "b.txt"
    assert included_path("sub/a.txt", "c/d.txt") == "sub/c/d.txt"
    assert included_path(None, ".[cuda]") == "."
    assert included_path(None, "https://x.invalid/r.txt") is None
    assert included_path(None, "${HOME}/r.txt") is None


FILES = HEAD + "  - pip:\n    - -r requirements.txt\n    - -c constraints.txt\n    - -e .\n    - -e ./missing[dev]\n"


@pytest.mark.parametrize(("files", "expected"), [
    ({}, []),
    ({"requirements.txt": None}, [("pip-file-missing", 5)]),
    ({"requirements.txt": "numpy\n", "constraints.txt": None}, [("pip-file-missing", 6)]),
    ({".": "", "missing": None}, [("pip-file-missing", 8)]),
    ({"requirements.txt": "numpy\npoetry=1.2\n"}, [("invalid-pip-requirement", 5)]),
    ({"requirements.txt": "-r requirements.txt\n"}, [("invalid-pip-requirement", 5)]),
    ({"requirements.txt": "-r sub/a.txt\n", "sub/a.txt": "-r ../requirements.txt\n"}, [("invalid-pip-requirement", 5)]),
    ({"requirements.txt": "-r dev.txt\n", "dev.txt": None}, [("pip-file-missing", 5)]),
    ({"requirements.txt": "-r dev.txt\n"}, []),  # not looked at: not judged
    ({"requirements.txt": "foo==${FOO_VERSION}\n"}, []),  # pip expands the variable first
])
def test_pip_files(files: dict[str, str | None], expected: list[tuple[str, int]]) -> None:
    assert found(FILES, files=files) == expected


def test_problems_inside_a_file_say_where() -> None:
    analysis = run(FILES, files={"requirements.txt": "numpy\n\npoetry=1.2\n-r requirements.txt\n"})
    finding = only(analysis, "invalid-pip-requirement")
    assert "requirements.txt:3: `poetry=1.2` is no pip requirement" in finding.message
    assert "requirements.txt:4: `-r requirements.txt` includes `requirements.txt` again" in finding.message


def test_deep_include_chain_ends() -> None:
    files: dict[str, str | None] = {"requirements.txt": "-r r1.txt\n"}
    for n in range(1, 40):
        files[f"r{n}.txt"] = f"-r r{n + 1}.txt\n"
    assert pip_file_findings(run(FILES).environment, files) == []


# -- against index data -------------------------------------------------------------------------


INDEX = "dependencies:\n  - python=3.8\n  - pip\n  - pip:\n"


@pytest.mark.parametrize(("lines", "projects", "expected"), [
    (["requests==2.31.0"], {"requests": [release("2.31.0")]}, []),
    (["nosuchproject"], {"nosuchproject": None}, [("pip-package-not-found", 5)]),
    (["requests==9.9"], {"requests": [release("2.31.0"), release("2.30.0")]}, [("pip-version-not-found", 5)]),
    (["requests>=3"], {"requests": [release("2.31.0")]}, [("pip-version-not-found", 5)]),
    (["foo==1.0"], {"foo": [release("1.0", yanked="broken")]}, []),  # pip installs a pinned yanked release
    (["foo>=2.0rc1"], {"foo": [release("1.0"), release("2.0rc1")]}, []),  # a pre-release asked for by name
    (["--pre", "foo>=1.5"], {"foo": [release("1.0"), release("2.0rc1")]}, []),  # pre-releases allowed
    (["foo==2.0"], {"foo": [release("2.0", requires_python=">=3.9")]}, [("pip-python-incompatible", 5)]),
    (["foo>=1"], {"foo": [release("1.0", ">=3.7"), release("2.0", ">=3.9")]}, []),  # pip picks 1.0
    (["foo>=2"], {"foo": [release("1.0", ">=3.7"), release("2.0", ">=3.9")]}, [("pip-python-incompatible", 5)]),
    (["foo==2.0"], {"foo": [release("2.0", requires_python=">=3.8.1")]}, []),  # 3.8.2 and later are fine
    (["torch==1.12.1+cu116"], {"torch": [release("1.12.1")]}, [("pip-local-version", 5)]),
    (["git+https://github.com/a/b"], {}, []),
    (["pending"], {}, []),  # not asked for yet: the next snapshot has it
    (["foo==9; python_version < '3'"], {"foo": [release("1.0")]}, []),  # pip skips the line on Python 3
])
def test_index_findings(lines: list[str], projects: dict[str, list | None], expected: list[tuple[str, int]]) -> None:
    text = INDEX + "".join(f"    - {line}\n" for line in lines)
    assert found(text, index=index_facts(projects)) == expected


def test_nothing_concluded_without_every_index() -> None:
    down = (IndexState("https://index.invalid/simple", "ok"),
            IndexState("https://extra.invalid/simple", "unreachable", "timed out", from_file=True))
    text = INDEX + "    - --extra-index-url https://extra.invalid/simple\n    - nosuchproject\n    - requests==9\n"
    facts = index_facts({"nosuchproject": None, "requests": [release("2.31.0")]}, down)
    assert found(text, index=facts) == [("index-unreachable", 5)]
    assert found(text, index=index_facts({"nosuchproject": None}, other_sources=True)) == []


def test_unreachable_configured_index_is_reported_on_the_pip_key() -> None:
    facts = IndexFacts((IndexState("https://index.invalid/simple", "unreachable", "connection refused"),))
    analysis = run(INDEX + "    - requests\n", index=facts)
    finding = only(analysis, "index-unreachable")
    assert analysis.document.text[finding.span.start:finding.span.end] == "pip"
    assert "connection refused" in finding.message and finding.severity.label == "information"


def test_cached_index_says_how_old() -> None:
    facts = index_facts({"requests": [release("2.31.0")]},
                        (IndexState("https://index.invalid/simple", "ok", "timed out", from_cache_age=7200.0),))
    assert "cached pages from 2 h ago" in only(run(INDEX + "    - requests\n", index=facts), "index-unreachable").message


def test_version_not_found_lists_nearest_and_yanked() -> None:
    facts = index_facts({"foo": [release("1.2.0"), release("1.2.1", yanked="bad build"), release("1.3.0")]})
    analysis = run(INDEX + "    - foo==1.2.5\n", index=facts)
    finding = only(analysis, "pip-version-not-found")
    assert "1.2.1 (yanked: bad build)" in finding.message and "1.2.0" in finding.message
    assert finding.fixes[0].title == "Change to `foo==1.2.0`"
    assert "    - foo==1.2.0\n" in apply(analysis.document.text, finding.fixes[0])


def test_python_incompatible_offers_the_newest_release_that_fits() -> None:
    facts = index_facts({"foo": [release("1.0", ">=3.7"), release("1.5", ">=3.7"), release("2.0", ">=3.9")]})
    analysis = run(INDEX + "    - foo==2.0\n", index=facts)
    finding = only(analysis, "pip-python-incompatible")
    assert "requires Python `>=3.9`" in finding.message and "`python=3.8`" in finding.message
    assert "    - foo==1.5\n" in apply(analysis.document.text, finding.fixes[0])


def test_not_found_suggests_the_pypi_name_of_a_conda_name() -> None:
    analysis = run(INDEX + "    - py-opencv\n", index=index_facts({"py-opencv": None}))
    finding = only(analysis, "pip-package-not-found")
    assert "did you mean `opencv-python`" in finding.message
    assert "    - opencv-python\n" in apply(analysis.document.text, finding.fixes[0])


def test_no_python_checks_without_a_pin() -> None:
    text = "dependencies:\n  - python>=3.6\n  - pip\n  - pip:\n    - foo==2.0\n"
    assert found(text, index=index_facts({"foo": [release("2.0", ">=3.9")]})) == []


# -- against the channels ----------------------------------------------------------------------


def test_prefer_conda_and_its_move() -> None:
    text = yaml(HEAD + "  - pip:\n    - requests>=2.31\n    - torch==2.1.0  # [linux]\n    - not-in-conda\n")
    analysis = run(text, channels=channel_facts({"requests", "pytorch", "python", "pip"}))
    findings = [f for f in analysis.findings if f.code == "prefer-conda"]
    assert [analysis.document.index.line_of(f.span.start) + 1 for f in findings] == [5, 6]
    moved = apply(analysis.document.text, findings[0].fixes[0])
    assert moved == yaml(HEAD + "  - requests>=2.31\n  - pip:\n    - torch==2.1.0  # [linux]\n    - not-in-conda\n")
    assert "`pytorch` (PyPI's `torch`)" in findings[1].message
    assert "  - pytorch==2.1.0  # [linux]\n  - pip:\n" in apply(analysis.document.text, findings[1].fixes[0])


def test_prefer_conda_move_of_the_only_line_removes_the_section() -> None:
    text = yaml(HEAD + "  - pip:\n    - requests\n")
    analysis = run(text, channels=channel_facts({"requests"}))
    finding = only(analysis, "prefer-conda")
    assert apply(analysis.document.text, finding.fixes[0]) == yaml(HEAD + "  - requests\n")


def test_prefer_conda_without_version_for_other_numbering() -> None:
    analysis = run(HEAD + "  - pip:\n    - opencv-python==4.9.0.80\n", channels=channel_facts({"py-opencv"}))
    assert only(analysis, "prefer-conda").fixes[0].title == "Move to the conda dependencies as `py-opencv`"


@pytest.mark.parametrize(("text", "names", "state"), [
    (HEAD + "  - requests\n  - pip:\n    - requests\n", {"requests"}, "ok"),  # a duplicate, said elsewhere
    (HEAD + "  - pip:\n    - requests\n", {"requests"}, "unreachable"),
    (HEAD + "  - pip:\n    - ffmpeg==1.4\n", {"ffmpeg"}, "ok"),  # conda's ffmpeg is not PyPI's
    (HEAD + "  - pip:\n    - requests @ https://x.invalid/requests-2.0-py3-none-any.whl\n", {"requests"}, "ok"),
])
def test_no_prefer_conda(text: str, names: set[str], state: str) -> None:
    assert "prefer-conda" not in [c for c, _ in found(text, channels=channel_facts(names, state=state))]


def _record(name: str, version: str, depends: list[str]) -> object:
    import rattler

    return rattler.PackageRecord(name, version, rattler.BuildString("pyhd8ed1ab_0"), 0, "noarch", depends=depends)


def test_dependency_installed_by_conda_and_replaced_by_pip() -> None:
    records = {"pytorch-lightning": (_record("pytorch-lightning", "2.1.0", ["python >=3.8", "pytorch >=1.12"]),
                                     _record("pytorch-lightning", "2.0.0", ["pytorch >=1.11", "tqdm"]))}
    text = HEAD + "  - pytorch-lightning\n  - pip:\n    - torch==2.1.0\n    - tqdm\n"
    analysis = run(text, channels=channel_facts({"pytorch-lightning"}, records))
    finding = only(analysis, "conda-pip-duplicate")
    assert analysis.document.index.line_of(finding.span.start) + 1 == 6  # torch; tqdm is not in every build
    assert "dependency of `pytorch-lightning`" in finding.message


@pytest.mark.logs_errors  # a failing part is logged as an ERROR and contained
def test_pip_stage_failure_is_contained(caplog: pytest.LogCaptureFixture) -> None:
    class Broken(dict):  # type: ignore[type-arg]
        def get(self, *args: object) -> object:
            raise RuntimeError("boom")

        def __contains__(self, key: object) -> bool:
            return True

        def __getitem__(self, key: object) -> object:
            raise RuntimeError("boom")

    analysis = run(FILES, files=Broken())
    assert "pip-file-missing" not in [f.code for f in analysis.findings]
    assert "the pip files stage failed" in caplog.text


@pytest.mark.parametrize(("text", "moved"), [
    ("dependencies:\n  - pip\n  - {pip: [requests]}\n", "dependencies:\n  - pip\n  - requests\n  - {pip: []}\n"),
    ("dependencies: [pip, {pip: [requests, six]}]\n", "dependencies: [pip, requests, {pip: [six]}]\n"),
])
def test_prefer_conda_move_in_flow_style(text: str, moved: str) -> None:
    analysis = run(text, channels=channel_facts({"requests"}))
    finding = only(analysis, "prefer-conda")
    assert apply(analysis.document.text, finding.fixes[0]) == moved
