"""The domain rules (envls/core/conda/domain_rules.py), each with a table of constructed cases: true positives
and look-alikes that must stay silent. Also the split packages and the precision fixes of issue 14."""

from __future__ import annotations

import pytest
from packaging.utils import canonicalize_name

from envls.core.conda.domain_knowledge import knowledge
from envls.core.findings import Severity
from envls.core.pip.mapping import mapping
from tests.core_support import found, run

PIP = "  - pip\n  - pip:\n"


def _codes(text: str, code: str) -> list[int]:
    return [line for c, line in found(text) if c == code]


MISSING_NAME = [
    ("no name", "channels: [conda-forge]\ndependencies: [numpy]\n", [1]),
    ("after comments", "# a comment\n\ndependencies: [numpy]\n", [3]),
    ("name given", "name: t\ndependencies: [numpy]\n", []),
    ("prefix instead", "prefix: /opt/env\ndependencies: [numpy]\n", []),
    ("conda-lock input", "channels: [conda-forge]\nplatforms: [linux-64]\ndependencies: [numpy]\n", []),
    ("yaml error", "dependencies:\n\t- numpy\n", []),
    ("empty file", "", []),
]


@pytest.mark.parametrize(("text", "lines"), [c[1:] for c in MISSING_NAME], ids=[c[0] for c in MISSING_NAME])
def test_missing_name(text: str, lines: list[int]) -> None:
    assert _codes(text, "missing-name") == lines


def test_missing_name_is_information() -> None:
    (finding,) = [f for f in run("dependencies: [numpy]\n").findings if f.code == "missing-name"]
    assert finding.severity == Severity.INFORMATION and "-n" in finding.message


BACKPORTS = [
    ("typing on 3.8", "python=3.8", "typing==3.7.4.3", True),
    ("typing on 3.6", "python=3.6", "typing==3.7.4.3", False),
    ("enum34 on 3.7", "python=3.7", "enum34", True),
    ("enum34 on 3.5", "python=3.5", "enum34", False),
    ("dataclasses 0.8 on 3.9", "python=3.9", "dataclasses==0.8", True),
    ("dataclasses on 3.6", "python=3.6", "dataclasses==0.8", False),
    ("futures on 3", "python>=3.8", "futures==3.0.5", True),
    ("pathlib on 3.10", "python==3.10.4", "pathlib", True),
    ("argparse on 3.9", "python=3.9", "argparse==1.4.0", True),
    ("configparser on 3.7", "python=3.7", "configparser", True),
    ("importlib-metadata on 3.11", "python=3.11", "importlib_metadata==6.0", True),
    ("importlib-metadata on 3.8", "python=3.8", "importlib-metadata==6.0", False),
    ("python range reaching 2.7", "python>=2.7", "enum34", False),
    ("no python pin", "python", "typing", False),
    ("no python at all", "numpy", "typing", False),
    ("marker gates it", "python=3.8", 'enum34; python_version < "3.4"', False),
    ("typing-extensions is no backport", "python=3.11", "typing-extensions", False),
]


@pytest.mark.parametrize(("python", "pip", "reported"), [c[1:] for c in BACKPORTS], ids=[c[0] for c in BACKPORTS])
def test_stdlib_backport(python: str, pip: str, reported: bool) -> None:
    text = f"name: t\ndependencies:\n  - {python}\n{PIP}    - '{pip}'\n"
    assert _codes(text, "stdlib-backport") == ([6] if reported else [])


def test_stdlib_backport_says_which_python() -> None:
    analysis = run(f"name: t\ndependencies:\n  - python=3.8\n{PIP}    - typing\n")
    (finding,) = [f for f in analysis.findings if f.code == "stdlib-backport"]
    assert "Python 3.5" in finding.message and finding.severity == Severity.WARNING and finding.fixes


COMPANIONS = [
    ("torchvision alone", "", "torchvision==0.6.0", [(6, Severity.INFORMATION)]),
    ("torchaudio unpinned", "", "torchaudio", [(6, Severity.INFORMATION)]),
    ("torchvision local version", "", "torchvision==0.13.1+cu113", [(6, Severity.INFORMATION)]),
    ("torch in pip", "", "torchvision==0.6.0\n    - torch==1.5.0", []),
    ("pytorch from conda", "  - pytorch=1.5\n", "torchvision==0.6.0", []),
    ("old jax alone", "", "jax==0.4.13", [(6, Severity.WARNING)]),
    ("old jax below a bound", "", "jax<0.4.20", [(6, Severity.WARNING)]),
    ("jax with extras", "", "jax[cpu]==0.4.13", []),
    ("new jax brings jaxlib", "", "jax==0.4.35", []),
    ("last jax without jaxlib", "", "jax==0.4.29", [(6, Severity.WARNING)]),
    ("first jax with jaxlib", "", "jax==0.4.30", []),  # jax-ml/jax setup.py at jax-v0.4.30
    ("jax unpinned", "", "jax", []),
    ("jax with jaxlib", "", "jax==0.4.13\n    - jaxlib==0.4.13", []),
    ("jaxlib from conda", "  - jaxlib=0.4.13\n", "jax==0.4.13", []),
]


@pytest.mark.parametrize(("conda", "pip", "expected"), [c[1:] for c in COMPANIONS], ids=[c[0] for c in COMPANIONS])
def test_companion_missing(conda: str, pip: str, expected: list[tuple[int, Severity]]) -> None:
    text = f"name: t\ndependencies:\n  - python=3.10\n{conda}{PIP}    - {pip}\n"
    analysis = run(text)
    index = analysis.document.index
    got = [(index.line_of(f.span.start) + 1, f.severity) for f in analysis.findings if f.code == "companion-missing"]
    offset = conda.count("\n")
    assert got == [(line + offset, severity) for line, severity in expected]


def test_companion_missing_names_the_release_and_pins_it() -> None:
    analysis = run(f"name: t\ndependencies:\n{PIP}    - torchvision==0.6.0\n")
    (finding,) = [f for f in analysis.findings if f.code == "companion-missing"]
    assert "torch==1.5.0" in finding.message
    (edit,) = finding.fixes[0].edits
    assert "torch==1.5.0" in edit.new_text


def test_companion_missing_silent_when_a_file_is_included() -> None:
    assert _codes(f"name: t\ndependencies:\n{PIP}    - -r requirements.txt\n    - torchvision\n",
                  "companion-missing") == []


METAPACKAGES = [
    ("anaconda with pins", "  - anaconda=2020.02\n  - numpy=1.19\n", [3]),
    ("anaconda alone", "  - anaconda=2020.02\n  - requests\n", []),
    ("anaconda custom", "  - anaconda=custom\n  - numpy=1.19\n", []),
    ("anaconda unversioned", "  - anaconda\n  - numpy=1.19\n", []),
    ("python pin is fine", "  - anaconda=2020.02\n  - python=3.8\n", []),
    ("exported environment", "  - anaconda=2020.02=py38_0\n  - numpy=1.18.1=py38h4f9e942_0\n", []),
]


@pytest.mark.parametrize(("deps", "lines"), [c[1:] for c in METAPACKAGES], ids=[c[0] for c in METAPACKAGES])
def test_metapackage_pin(deps: str, lines: list[int]) -> None:
    assert _codes(f"name: t\ndependencies:\n{deps}", "metapackage-pin") == lines


CUDA_UNUSED = [
    ("pip torch", "  - cudatoolkit=10.2\n", "torch==1.8.1", [3]),
    ("qualified toolkit", "  - nvidia::cudatoolkit=11.1\n", "torch", [3]),
    ("conda pytorch links it", "  - cudatoolkit=10.2\n  - pytorch=1.8\n", "torchvision", []),
    ("cupy links it", "  - cudatoolkit=11.2\n  - cupy\n", "torch", []),
    ("pip tensorflow uses it", "  - cudatoolkit=11.2\n  - cudnn=8.1\n", "tensorflow==2.10", []),
    ("pip cupy wheel uses it", "  - cudatoolkit=11.2\n", "torch\n    - cupy-cuda112", []),
    ("no torch", "  - cudatoolkit=11.2\n", "requests", []),
    ("toolkit for building", "  - cudatoolkit=11.7\n  - cudatoolkit-dev=11.7\n", "torch", []),
]


@pytest.mark.parametrize(("conda", "pip", "lines"), [c[1:] for c in CUDA_UNUSED], ids=[c[0] for c in CUDA_UNUSED])
def test_cuda_unused(conda: str, pip: str, lines: list[int]) -> None:
    assert _codes(f"name: t\ndependencies:\n{conda}{PIP}    - {pip}\n", "cuda-unused") == lines


MIXED = [
    ("pytorch::torchtriton beside conda-forge pytorch", ["conda-forge"],
     "  - conda-forge::pytorch\n  - pytorch::torchtriton\n", [5]),
    ("pytorch-cuda beside conda-forge first", ["conda-forge", "pytorch"], "  - pytorch\n  - pytorch-cuda=12.1\n", [5]),
    ("conda-forge torchvision beside pytorch::pytorch", ["conda-forge"],
     "  - pytorch::pytorch\n  - torchvision\n", [5]),
    ("all from the pytorch channel", ["pytorch", "conda-forge"], "  - pytorch\n  - pytorch-cuda=12.1\n", []),
    ("all qualified", ["conda-forge"], "  - pytorch::pytorch\n  - pytorch::torchvision\n", []),
    ("all from conda-forge", ["conda-forge"], "  - pytorch\n  - torchvision\n", []),
    ("no channels known", [], "  - pytorch\n  - torchvision\n", []),
]


@pytest.mark.parametrize(("channels", "deps", "lines"), [c[1:] for c in MIXED], ids=[c[0] for c in MIXED])
def test_mixed_pytorch_channels(channels: list[str], deps: str, lines: list[int]) -> None:
    text = f"name: t\nchannels: [{', '.join(channels)}]\ndependencies:\n{deps}"
    assert _codes(text, "mixed-pytorch-channels") == lines


SPLIT = [
    ("numpy-base", "numpy", True), ("matplotlib-base", "matplotlib", True), ("tensorflow-base", "tensorflow", True),
    ("libtorch", "torch", False), ("py-opencv", "opencv-python", False), ("libopencv", "opencv-python", False),
    ("pyqt5-sip", "pyqt5-sip", True), ("py-xgboost", "xgboost", True),
]


@pytest.mark.parametrize(("conda", "pypi", "same"), SPLIT, ids=[c[0] for c in SPLIT])
def test_split_packages_are_their_distribution(conda: str, pypi: str, same: bool) -> None:
    table = mapping()
    assert canonicalize_name(pypi) in table.pypi_names(conda)
    assert table.same_versions(conda, pypi) is same


def test_split_conda_pip_conflict() -> None:
    text = f"name: t\ndependencies:\n  - numpy-base=1.19.2\n{PIP}    - numpy==1.18.5\n"
    assert ("conda-pip-conflict", 6) in found(text)


def test_part_of_a_distribution_is_no_conflict() -> None:
    # conda's libtorch is the C++ library; pip's torch carries its own copy: a duplicate, never a conflict.
    text = f"name: t\ndependencies:\n  - libtorch=2.1\n{PIP}    - torch==2.3.0\n"
    codes = [c for c, _ in found(text)]
    assert "conda-pip-conflict" not in codes and "conda-pip-duplicate" in codes


DUPLICATE_SEVERITY = [
    ("same exported release", "pyqt5-sip=12.9.0=py39h2531618_0", "pyqt5-sip==12.9.0", Severity.INFORMATION),
    ("same exact release", "filelock==3.8.0", "filelock==3.8.0", Severity.INFORMATION),
    ("same three-part prefix", "filelock=3.8.0", "filelock==3.8", Severity.INFORMATION),
    ("two-part conda prefix", "numpy=1.19", "numpy==1.19.2", Severity.WARNING),
    ("other release", "filelock=3.8.0", "filelock>=3.8", Severity.WARNING),
]


@pytest.mark.parametrize(("conda", "pip", "severity"), [c[1:] for c in DUPLICATE_SEVERITY],
                         ids=[c[0] for c in DUPLICATE_SEVERITY])
def test_conda_pip_duplicate_of_the_same_release(conda: str, pip: str, severity: Severity) -> None:
    analysis = run(f"name: t\ndependencies:\n  - {conda}\n{PIP}    - {pip}\n")
    (finding,) = [f for f in analysis.findings if f.code == "conda-pip-duplicate"]
    assert finding.severity == severity
    if severity == Severity.INFORMATION:
        assert "changes nothing" in finding.message


def test_every_knowledge_entry_names_a_source() -> None:
    table = knowledge()
    entries = [*table.split_packages, *table.backports.values(), *table.companions.values(),
               *table.metapackages.values()]
    assert entries and all(e.source.strip() for e in entries)


def test_published_exact_pins() -> None:
    from types import SimpleNamespace

    from envls.core.conda.split_packages import published_exact_pins

    analysis = run("name: t\ndependencies:\n  - sysroot_linux-64==2.17\n  - numpy==1.11\n  - six==1.16.0\n")
    records = {"sysroot_linux-64": (SimpleNamespace(version="2.17"),),
               "numpy": (SimpleNamespace(version="1.11.0"), SimpleNamespace(version="1.11.1")),
               "six": (SimpleNamespace(version="1.16.0"),)}
    spans = published_exact_pins(analysis.environment, records)
    source = analysis.document.text
    assert sorted(source[s.start:s.end] for s in spans) == ["sysroot_linux-64==2.17"]
