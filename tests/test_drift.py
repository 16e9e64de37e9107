"""Drift: fake prefixes with conda-meta records (as conda, mamba and pixi write them) against environment files."""

from __future__ import annotations

import json
import os
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
import rattler

from envls.core.analysis import AnalysisOptions, analyze
from envls.core.conda.drift import InstalledPackage, InstalledSnapshot, drift_findings
from envls.core.conda.drift_stage import with_drift
from envls.host.installed import read_installed, stamp

FORGE = "https://conda.anaconda.org/conda-forge"


def record(name: str, version: str, build: str = "h0_0", *, subdir: str = "linux-64", channel: str | None = None,
           files: int = 3, build_number: int = 0, style: str = "conda") -> dict[str, Any]:
    paths = [f"lib/{name}/file_{i}.py" for i in range(files)]
    data: dict[str, Any] = {
        "name": name, "version": version, "build": build, "build_number": build_number, "subdir": subdir,
        "depends": ["libzlib >=1.2.13,<2.0a0"], "md5": "0123456789abcdef0123456789abcdef",
        "url": f"{FORGE}/{subdir}/{name}-{version}-{build}.conda", "fn": f"{name}-{version}-{build}.conda",
        "files": paths,
        "paths_data": {"paths_version": 1, "paths": [
            {"_path": p, "path_type": "hardlink", "sha256": "f" * 64, "size_in_bytes": 10} for p in paths]},
        "link": {"source": f"/pkgs/{name}-{version}-{build}", "type": 1},
    }
    if style == "conda":  # conda: the channel URL with its subdir, keys sorted
        data["channel"] = channel if channel is not None else f"{FORGE}/{subdir}"
    else:  # py-rattler / pixi / micromamba 2: the channel's base URL, record fields first
        data["channel"] = channel if channel is not None else f"{FORGE}/"
    return data


def rattler_record(data: dict[str, Any]) -> rattler.PrefixRecord:
    """The record as py-rattler (pixi, rattler-based installers) writes it."""
    package = rattler.PackageRecord(data["name"], data["version"], rattler.BuildString(data["build"]),
                                    data["build_number"], data["subdir"], depends=data["depends"],
                                    md5=bytes.fromhex(data["md5"]))
    repodata = rattler.RepoDataRecord(package, data["fn"], data["url"], data["channel"])
    return rattler.PrefixRecord(repodata, rattler.PrefixPaths(), files=data["files"], requested_spec=data["name"])


def write_prefix(path: Path, records: list[dict[str, Any]], *, style: str = "conda",
                 pip: dict[str, str] | None = None, python: str = "3.11") -> Path:
    meta = path / "conda-meta"
    meta.mkdir(parents=True, exist_ok=True)
    (meta / "history").write_text("==> 2024-01-01 00:00:00 <==\n", encoding="utf-8")
    for data in records:
        name = f"{data['name']}-{data['version']}-{data['build']}.json"
        if style == "rattler":
            rattler_record(data).write_to_path(meta / name, pretty=True)
            continue
        if style == "conda":
            text = json.dumps(data, indent=2, sort_keys=True)
        else:  # the worst case: one line, the bulk lists first
            text = json.dumps({"files": data["files"], "paths_data": data["paths_data"], **data})
        (meta / name).write_text(text, encoding="utf-8")
    if pip is not None:
        site = path / "lib" / f"python{python}" / "site-packages"
        site.mkdir(parents=True, exist_ok=True)
        for name, version in pip.items():
            (site / f"{name}-{version}.dist-info").mkdir()
    return path


def drift(text: str, installed: InstalledSnapshot) -> list[tuple[str, str]]:
    """(the entry each finding is on, its message) for the file `text`."""
    analysis = analyze(textwrap.dedent(text).lstrip("\n"))
    return [(analysis.document.text[f.span.start:f.span.end], f.message)
            for f in drift_findings(analysis.environment, installed)]


def snapshot(*packages: InstalledPackage, pip: dict[str, str] | None = None,
             platform: str | None = "linux-64") -> InstalledSnapshot:
    return InstalledSnapshot("/envs/demo", {p.name: p for p in packages}, pip, platform)


NUMPY = InstalledPackage("numpy", "1.24.3", "py311h64a7726_0", f"{FORGE}/linux-64", 0, "linux-64")
PYTHON = InstalledPackage("python", "3.11.5", "hab00c5b_0_cpython", f"{FORGE}/linux-64", 0, "linux-64")


# -- reading the prefix ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("style", ["conda", "rattler", "compact"])
def test_read_installed_in_each_writers_layout(tmp_path: Path, style: str) -> None:
    prefix = write_prefix(tmp_path / "env", [
        record("numpy", "1.26.4", "py311h64a7726_0", build_number=2, files=500, style=style),
        record("python-dateutil", "2.9.0", "pyhd8ed1ab_0", subdir="noarch", style=style),
        record("python", "3.11.8", "hab00c5b_0_cpython", style=style),
    ], style=style)
    installed = read_installed(prefix)
    assert installed.prefix == str(prefix)
    numpy = installed.packages["numpy"]
    assert (numpy.name, numpy.version, numpy.build) == ("numpy", "1.26.4", "py311h64a7726_0")
    assert installed.packages["python-dateutil"].version == "2.9.0"
    if style != "compact":  # every writer puts these before the bulk lists; a record that does not, loses them
        assert installed.platform == "linux-64"
        assert numpy.build_number == 2
        assert numpy.channel.startswith(FORGE)
        assert numpy.subdir == "linux-64" and installed.packages["python-dateutil"].subdir == "noarch"


def test_broken_and_partial_records(tmp_path: Path) -> None:
    prefix = write_prefix(tmp_path / "env", [record("numpy", "1.26.4", "py311_0")])
    meta = prefix / "conda-meta"
    # A record cut off in the middle of writing, an empty one, garbage, and a file named like no package.
    full = json.dumps(record("scipy", "1.12.0", "py311_1"), indent=2, sort_keys=True)
    (meta / "scipy-1.12.0-py311_1.json").write_text(full[: len(full) // 3], encoding="utf-8")
    (meta / "pandas-2.2.0-py311_0.json").write_text("", encoding="utf-8")
    (meta / "zlib-1.3-h0_0.json").write_bytes(b"\x00\xff{{{ not json")
    (meta / "junk.json").write_text("[1, 2]", encoding="utf-8")
    (meta / "notes.txt").write_text("not a record", encoding="utf-8")
    installed = read_installed(prefix)
    assert sorted(installed.packages) == ["numpy", "pandas", "scipy", "zlib"]
    assert installed.packages["scipy"].version == "1.12.0" and installed.packages["scipy"].build == "py311_1"
    assert installed.packages["pandas"] == InstalledPackage("pandas", "2.2.0", "py311_0")


def test_record_fields_win_over_the_file_name(tmp_path: Path) -> None:
    prefix = tmp_path / "env"
    (prefix / "conda-meta").mkdir(parents=True)
    data = {"name": "ruamel.yaml", "version": "0.18.6", "build": "py311_0", "channel": "pkgs/main"}
    (prefix / "conda-meta" / "renamed.json").write_text(json.dumps(data), encoding="utf-8")
    package = read_installed(prefix).packages["ruamel.yaml"]
    assert (package.version, package.build, package.channel) == ("0.18.6", "py311_0", "pkgs/main")


def test_no_environment_gives_an_empty_snapshot(tmp_path: Path) -> None:
    installed = read_installed(tmp_path / "nothing")
    assert installed.packages == {} and installed.pip_packages is None and installed.platform is None
    assert not installed.exists
    assert drift("dependencies:\n  - numpy\n", installed) == []
    empty = write_prefix(tmp_path / "empty", [])
    assert read_installed(empty).exists
    assert len(drift("dependencies:\n  - numpy\n", read_installed(empty))) == 1


def test_pip_distributions_from_site_packages(tmp_path: Path) -> None:
    prefix = write_prefix(tmp_path / "env", [record("python", "3.12.1", "h0_0_cpython")],
                          pip={"Django": "5.0.1", "typing_extensions": "4.9.0"}, python="3.12")
    site = prefix / "lib/python3.12/site-packages"
    (site / "legacy_pkg-0.3-py3.12.egg-info").mkdir()
    (site / "django").mkdir()
    installed = read_installed(prefix)
    assert dict(installed.pip_packages or {}) == {"django": "5.0.1", "typing-extensions": "4.9.0", "legacy-pkg": "0.3"}
    assert read_installed(prefix, read_pip=False).pip_packages is None


def test_windows_site_packages(tmp_path: Path) -> None:
    prefix = write_prefix(tmp_path / "env", [record("python", "3.11.5", "h0_0_cpython", subdir="win-64")])
    (prefix / "Lib" / "site-packages" / "requests-2.31.0.dist-info").mkdir(parents=True)
    installed = read_installed(prefix)
    assert installed.platform == "win-64" and installed.pip_packages == {"requests": "2.31.0"}


def test_no_python_means_pip_is_not_read(tmp_path: Path) -> None:
    prefix = write_prefix(tmp_path / "env", [record("zlib", "1.3", "h0_0")])
    assert read_installed(prefix).pip_packages is None


def test_stamp_changes_with_the_environment(tmp_path: Path) -> None:
    prefix = write_prefix(tmp_path / "env", [record("python", "3.11.5", "h0_0")], pip={})
    first = stamp(prefix)
    assert stamp(prefix) == first
    (prefix / "conda-meta" / "history").write_text("==> more <==\n+numpy\n", encoding="utf-8")
    second = stamp(prefix)
    assert second != first
    site = prefix / "lib/python3.11/site-packages"
    os.utime(site, ns=(1, 1))
    assert stamp(prefix) != second
    assert stamp(tmp_path / "nothing") == (-1, -1, -1, -1, -1)


# -- the rule --------------------------------------------------------------------------------------------------


def test_missing_and_outside_the_spec() -> None:
    found = drift("""
        dependencies:
          - python=3.11
          - numpy>=1.26
          - scipy
        """, snapshot(NUMPY, PYTHON))
    assert found == [
        ("numpy>=1.26", "installed numpy 1.24.3 (py311h64a7726_0) does not match `numpy>=1.26`; run Update environment"),
        ("scipy", "`scipy` is not installed in the environment (/envs/demo); run Update environment"),
    ]


@pytest.mark.parametrize(("spec", "drifts"), [
    ("numpy", False),
    ("numpy=1.24", False),
    ("numpy==1.24.3", False),
    ("numpy 1.24.*", False),
    ("numpy>=1.2,<2", False),
    ("numpy=1.24.3=py311*", False),
    ("numpy=1.24.3=py311h64a7726_0", False),
    ("NumPy>=1.24", False),
    ("numpy=1.25", True),
    ("numpy<1.24", True),
    ("numpy=1.24.3=py310*", True),
    ("numpy[build_number=3]", True),
    ("numpy 1.23|1.25", True),
    ("conda-forge::numpy=1.24", False),
    ("pkgs/main::numpy", True),
    ("defaults::numpy", False),  # what `defaults` stands for is configuration: not judged
    ("https://mirror.example/conda/conda-forge::numpy", False),
    ("__cuda>=12", False),  # a virtual package is no installed package
])
def test_specs(spec: str, drifts: bool) -> None:
    found = drift(f"dependencies:\n  - {spec}\n", snapshot(NUMPY))
    assert bool(found) is drifts, found


def test_channel_message() -> None:
    main = InstalledPackage("numpy", "1.26.4", "py311_0", "https://repo.anaconda.com/pkgs/main/linux-64", 0, "linux-64")
    assert drift("dependencies:\n  - conda-forge::numpy\n", snapshot(main)) == [(
        "conda-forge::numpy",
        "installed numpy 1.26.4 comes from `pkgs/main`, not from `conda-forge` as `conda-forge::numpy` asks; "
        "run Update environment",
    )]
    unknown = InstalledPackage("numpy", "1.26.4", "py311_0")
    assert drift("dependencies:\n  - conda-forge::numpy\n", snapshot(unknown)) == []


def test_selectors_follow_the_environments_platform() -> None:
    text = """
        dependencies:
          - pywin32  # [win]
          - libgcc-ng  # [linux]
          - sel(osx): libcxx
          - numpy  # [py>38]
        """
    on_linux = drift(text, snapshot(NUMPY, platform="linux-64"))
    assert [entry for entry, _ in on_linux] == ["libgcc-ng"]
    on_windows = drift(text, snapshot(NUMPY, platform="win-64"))
    assert [entry for entry, _ in on_windows] == ["pywin32"]
    assert drift(text, snapshot(NUMPY, platform=None)) == []  # unknown platform: no selector is judged


def test_invalid_specs_and_empty_files_give_no_drift() -> None:
    assert drift("dependencies:\n  - jaxlib=0.4.23[cuda118]\n  - 42\n", snapshot()) == []
    assert drift("", snapshot()) == []
    assert drift("dependencies: [\n", snapshot()) == []


def test_version_conda_cannot_read_is_not_judged() -> None:
    odd = InstalledPackage("numpy", "not a version!", "0")
    assert drift("dependencies:\n  - numpy>=1.26\n", snapshot(odd)) == []


def test_hash_specs_are_judged_by_version() -> None:
    assert drift("dependencies:\n  - numpy[md5=0123456789abcdef0123456789abcdef]\n", snapshot(NUMPY)) == []
    assert len(drift("dependencies:\n  - numpy[md5=0123456789abcdef0123456789abcdef,version='>=2']\n",
                     snapshot(NUMPY))) == 1


def test_pip_requirements() -> None:
    text = """
        dependencies:
          - pip
          - pip:
            - requests>=2.31
            - Django==4.2
            - typing_extensions
            - missing-dist
            - pywin32; sys_platform == "win32"
            - tomli; python_version < "3.11"
            - --index-url https://example.invalid/simple
            - git+https://example.invalid/repo.git#egg=repo
            - ./local/path
        """
    pip = {"requests": "2.31.0", "django": "5.0.1", "typing-extensions": "4.9.0", "pip": "24.0"}
    found = drift(text, snapshot(PYTHON, InstalledPackage("pip", "24.0", "pyhd8ed1ab_0"), pip=pip))
    assert found == [
        ("Django==4.2", "installed pip package Django 5.0.1 does not match `Django==4.2`; run Update environment"),
        ("missing-dist", "pip package `missing-dist` is not installed in the environment (/envs/demo); "
                         "run Update environment"),
    ]
    # Without a site-packages reading, pip lines are not judged.
    assert drift(text, snapshot(PYTHON, InstalledPackage("pip", "24.0", "pyhd8ed1ab_0"))) == []


def test_pip_markers_follow_the_environments_python_and_platform() -> None:
    text = "dependencies:\n  - pip:\n    - tomli; python_version < '3.11'\n    - pywin32; sys_platform == 'win32'\n"
    old_python = InstalledPackage("python", "3.10.13", "h0_cpython")
    found = drift(text, snapshot(old_python, pip={}, platform="win-64"))
    assert [entry for entry, _ in found] == ["tomli; python_version < '3.11'", "pywin32; sys_platform == 'win32'"]


# -- the stage -------------------------------------------------------------------------------------------------


def test_with_drift_adds_sorted_suppressible_findings() -> None:
    text = "name: t\ndependencies:\n  - scipy  # envls: disable=env-drift\n  - numpy>=2\n  - pip:\n    - nothere\n"
    analysis = analyze(text)
    assert [f.code for f in analysis.findings] == ["pip-not-listed"]
    result = with_drift(analysis, snapshot(NUMPY, pip={}))
    assert [(f.code, text[f.span.start:f.span.end]) for f in result.findings] == [
        ("env-drift", "numpy>=2"), ("pip-not-listed", "pip"), ("env-drift", "nothere")]
    assert all(f.severity == 3 for f in result.findings if f.code == "env-drift")
    quiet = with_drift(analysis, snapshot(NUMPY), AnalysisOptions(frozenset({"env-drift"})))
    assert quiet.findings == analysis.findings


@pytest.mark.logs_errors  # a failing part is logged as an ERROR and contained
def test_with_drift_survives_a_failing_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    import envls.core.conda.drift_stage as stage

    def broken(*args: object) -> list[object]:
        raise RuntimeError("boom")

    monkeypatch.setattr(stage, "drift_findings", broken)
    analysis = analyze("dependencies:\n  - numpy\n")
    assert with_drift(analysis, snapshot()) is analysis


# -- end to end, and the time it takes -------------------------------------------------------------------------


def test_end_to_end_from_a_prefix(tmp_path: Path) -> None:
    prefix = write_prefix(tmp_path / "env", [
        record("python", "3.11.8", "hab00c5b_0_cpython"),
        record("numpy", "1.24.3", "py311h64a7726_0"),
        record("pip", "24.0", "pyhd8ed1ab_0", subdir="noarch"),
    ], pip={"requests": "2.25.0"})
    text = "dependencies:\n  - python=3.11\n  - numpy>=1.26\n  - pip\n  - pip:\n    - requests>=2.31\nname: t\n"
    analysis = with_drift(analyze(text), read_installed(prefix))
    assert [(f.code, text[f.span.start:f.span.end]) for f in analysis.findings] == [
        ("env-drift", "numpy>=1.26"), ("env-drift", "requests>=2.31")]


def test_drift_check_of_200_packages_is_fast(tmp_path: Path) -> None:
    records = [record("python", "3.11.8", "hab00c5b_0_cpython", files=3000), record("pip", "24.0", "py_0", files=800)]
    records += [record(f"pkg{i}", f"1.{i}.0", "py311h0_0", files=1500 if i % 20 == 0 else 150) for i in range(198)]
    prefix = write_prefix(tmp_path / "env", records, pip={f"dist{i}": f"1.{i}" for i in range(150)})
    deps = "\n".join(f"  - pkg{i}>=1.{i}" for i in range(150))
    analysis = analyze(f"dependencies:\n  - python=3.11\n{deps}\n  - pip\n  - pip:\n    - dist3>=1\n")
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        installed = read_installed(prefix)
        findings = drift_findings(analysis.environment, installed)
        best = min(best, time.perf_counter() - started)
    assert len(installed.packages) == 200 and findings == []
    assert best < 0.05, f"drift check took {best * 1000:.1f} ms"
