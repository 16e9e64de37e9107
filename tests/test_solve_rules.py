"""The solve stage's pure parts: reading the solver's explanation, the rules, the code lens text.

Explanations are real py-rattler 0.28 output for the shared channel snapshots (intel, conda-forge
py39 subchannel) and a synthetic pigeonhole channel. The rules get hand-made SolveFacts.
"""

from __future__ import annotations

import pytest
from core_support import run

from envls.core.analysis import Analysis, AnalysisOptions, add_findings
from envls.core.cuda.implied import CudaTarget
from envls.core.cuda.stage import with_cuda
from envls.core.findings import Finding, Severity, Span
from envls.core.solve.explain import condense, mentioned, tree
from envls.core.solve.facts import PlatformSolve, SolvedPackage, SolveFacts
from envls.core.solve.stage import with_solve
from envls.core.solve.summary import format_size, lens_title, solution, solution_table

TENSORFLOW = """Cannot solve the request because of: tensorflow 2.13.* cannot be installed because there are no viable options:
└─ tensorflow 2.13.0 would require
   └─ absl-py >=1.3.0, for which no candidates were found.
"""
OPENSSL = """Cannot solve the request because of: python 3.9.16.* cannot be installed because there are no viable options:
└─ python 3.9.16 would require
   └─ openssl >=3.0.7,<4.0a0, for which no candidates were found.
"""
NUMPY = """Cannot solve the request because of: numpy 1.14.* cannot be installed because there are no viable options:
├─ numpy 1.14.3 would require
│  └─ python >=2.7,<2.8.0a0, for which no candidates were found.
├─ numpy 1.14.3 would require
│  └─ python >=3.6,<3.7.0a0, for which no candidates were found.
└─ numpy 1.14.3 would require
   └─ python 2.7.*, for which no candidates were found.
"""
MISSING = "Cannot solve the request because of: No candidates were found for numpy *.\n"
INCOMPATIBLE = """Cannot solve the request because of: The following packages are incompatible
├─ argon2_cffi * can be installed with any of the following options:
│  └─ argon2_cffi 19.1.0
└─ argon2-cffi * cannot be installed because there are no viable options:
   └─ argon2-cffi 20.1.0 would constrain
      └─ argon2_cffi ==999999999, which conflicts with any installable versions previously reported
"""
CHANNEL = """Cannot solve the request because of: The following packages are incompatible
└─ pytorch [channel="http://127.0.0.1:1/channels/pytorch-rattler/"] cannot be installed because there are no viable options:
   └─ pytorch 1.5.0 | 1.7.0 | ... | 2.0.1 is excluded because candidate not in requested channel: 'channels/pytorch-rattler'
"""
CUDA = """Cannot solve the request because of: pytorch-cuda 11.8.* cannot be installed because there are no viable options:
└─ pytorch-cuda 11.8 would require
   └─ __cuda >=11.8, for which no candidates were found.
"""
MANY = """Cannot solve the request because of: tensorflow * cannot be installed because there are no viable options:
├─ tensorflow 2.13.0 would require
│  └─ absl-py >=1.3.0, for which no candidates were found.
├─ tensorflow 2.9.1 | 2.10.0 would require
│  └─ icu >=58.2,<59.0, for which no candidates were found.
├─ tensorflow 2.5.0 | 2.6.0 | ... | 2.12.0 would require
│  └─ python >=3.9,<3.10.0a0, for which no candidates were found.
├─ tensorflow 2.2.0 | 2.3.0 would require
│  └─ gast ==0.3.3, for which no candidates were found.
└─ tensorflow 1.3.1 would require
   └─ python 2.7.*, for which no candidates were found.
"""


# -- the explanation ----------------------------------------------------------------------------


@pytest.mark.parametrize(("explanation", "asked", "summary"), [
    (TENSORFLOW, {"python": "python=3.10", "tensorflow": "tensorflow=2.13"},
     "tensorflow 2.13.0 requires absl-py >=1.3.0, which none of the channels has"),
    (OPENSSL, {"python": "python=3.9.16", "openssl": "openssl=1.1"},
     "python 3.9.16 requires openssl >=3.0.7,<4.0a0, which `openssl=1.1` rules out"),
    (OPENSSL, {"python": "python=3.9.16", "openssl": "openssl"},  # an unpinned spec rules nothing out
     "python 3.9.16 requires openssl >=3.0.7,<4.0a0, which none of the channels has"),
    (NUMPY, {"python": "python=3.10", "numpy": "numpy=1.14"},
     "numpy 1.14.3 requires python >=2.7,<2.8.0a0 or >=3.6,<3.7.0a0 or 2.7.*, which `python=3.10` rules out"),
    (MISSING, {"numpy": "numpy"}, "no package in the channels matches `numpy`"),
    (INCOMPATIBLE, {},
     "argon2-cffi 20.1.0 constrains argon2_cffi ==999999999, which conflicts with what the other requirements allow"),
    (CHANNEL, {}, "pytorch 1.5.0 | 1.7.0 | ... | 2.0.1 is excluded: candidate not in requested channel: "
                  "'channels/pytorch-rattler'"),
    (CUDA, {"pytorch-cuda": "pytorch-cuda=11.8"},
     "pytorch-cuda 11.8 requires __cuda >=11.8, which this platform's virtual packages do not provide"),
    (MANY, {"python": "python=3.10"},
     "tensorflow 2.13.0 requires absl-py >=1.3.0, which none of the channels has; tensorflow 2.9.1 | 2.10.0 "
     "requires icu >=58.2,<59.0, which none of the channels has; tensorflow 2.5.0 | 2.6.0 | ... | 2.12.0 requires "
     "python >=3.9,<3.10.0a0, which `python=3.10` rules out; and 2 more reasons"),
    ("Solve operation has been cancelled", {}, "Solve operation has been cancelled"),
    ("", {}, "the solver found no solution"),
])
def test_condense(explanation: str, asked: dict[str, str], summary: str) -> None:
    assert condense(explanation, asked) == summary


def test_tree_depths_and_names() -> None:
    assert [(n.depth, n.text) for n in tree(OPENSSL)] == [
        (0, "python 3.9.16.* cannot be installed because there are no viable options:"),
        (1, "python 3.9.16 would require"),
        (2, "openssl >=3.0.7,<4.0a0, for which no candidates were found."),
    ]
    assert mentioned(OPENSSL) == {"python", "openssl"}
    assert mentioned(MISSING) == {"numpy"}
    assert mentioned(INCOMPATIBLE) == {"argon2_cffi", "argon2-cffi"}
    assert mentioned(CUDA) == {"pytorch-cuda", "__cuda"}


# -- unsatisfiable --------------------------------------------------------------------------------

FILE = """\
channels: [conda-forge]
platforms: [linux-64, osx-arm64]
dependencies:
  - python=3.9.16
  - pip
  - openssl=1.1
"""


def _solved(platform: str, *packages: SolvedPackage, cuda: str | None = None) -> PlatformSolve:
    return PlatformSolve(platform, "solved", packages=packages, cuda=cuda)


def _unsat(platform: str, involved: tuple[str, ...], explanation: str = OPENSSL) -> PlatformSolve:
    return PlatformSolve(platform, "unsatisfiable", specs=("python=3.9.16", "pip", "openssl=1.1"),
                         explanation=explanation, involved=involved)


def _found(analysis: Analysis, code: str | None = None) -> list[tuple[str, int, str]]:
    index = analysis.document.index
    return [(f.code, index.line_of(f.span.start) + 1, f.message) for f in analysis.findings if code in (None, f.code)]


def test_unsatisfiable_on_every_spec_of_the_conflict_for_one_platform() -> None:
    analysis = with_solve(run(FILE), SolveFacts((_solved("linux-64"), _unsat("osx-arm64", ("python=3.9.16", "openssl=1.1")))))
    reason = "python 3.9.16 requires openssl >=3.0.7,<4.0a0, which `openssl=1.1` rules out (it solves for linux-64)"
    assert _found(analysis) == [
        ("unsatisfiable", 4, f"does not solve for osx-arm64: `python=3.9.16` conflicts with `openssl=1.1`: {reason}"),
        ("unsatisfiable", 6, f"does not solve for osx-arm64: `openssl=1.1` conflicts with `python=3.9.16`: {reason}"),
    ]
    first, second = analysis.findings
    assert first.severity == Severity.ERROR
    text = analysis.document.text
    assert [(text[r.span.start:r.span.end], r.message) for r in first.related] == [
        ("openssl=1.1", "`openssl=1.1` is part of the conflict for osx-arm64")]
    assert [text[r.span.start:r.span.end] for r in second.related] == ["python=3.9.16"]


def test_the_same_conflict_on_several_platforms_is_one_finding_per_spec() -> None:
    facts = SolveFacts((_unsat("linux-64", ("openssl=1.1", "python=3.9.16")), _unsat("osx-arm64", ("python=3.9.16", "openssl=1.1"))))
    found = _found(with_solve(run(FILE), facts))
    assert [(code, line) for code, line, _ in found] == [("unsatisfiable", 4), ("unsatisfiable", 6)]
    assert found[0][2].startswith("does not solve for linux-64 and osx-arm64: `python=3.9.16` conflicts with")
    assert "it solves for" not in found[0][2]


def test_one_spec_alone_and_no_spec_named() -> None:
    alone = with_solve(run(FILE), SolveFacts((_unsat("linux-64", ("python=3.9.16",), TENSORFLOW),)))
    assert _found(alone) == [("unsatisfiable", 4, "does not solve for linux-64: `python=3.9.16` cannot be installed: "
                                                   "tensorflow 2.13.0 requires absl-py >=1.3.0, which none of the channels has")]
    nobody = with_solve(run(FILE), SolveFacts((_unsat("linux-64", ()),)))
    assert [(c, line) for c, line, _ in _found(nobody)] == [("unsatisfiable", 3)]  # on `dependencies:`
    assert _found(nobody)[0][2].startswith("the environment does not solve for linux-64: python 3.9.16 requires")


def test_selectors_keep_a_conflict_to_its_platforms() -> None:
    text = FILE.replace("  - openssl=1.1", "  - openssl=1.1  # [osx]\n  - openssl=1.1  # [linux]")
    found = _found(with_solve(run(text), SolveFacts((_unsat("osx-arm64", ("python=3.9.16", "openssl=1.1")),))))
    assert [(c, line) for c, line, _ in found] == [("unsatisfiable", 4), ("unsatisfiable", 6)]


def test_what_the_channel_stage_explained_is_not_repeated() -> None:
    analysis = run(FILE)
    spec = analysis.environment.conda[0]
    missing = Finding("version-not-found", Severity.ERROR, "no python 3.9.16", Span(spec.start, spec.end))
    analysis = add_findings(analysis, "channel", lambda: [missing])
    alone = SolveFacts((_unsat("linux-64", ("python=3.9.16",), MISSING),))
    assert [c for c, _, _ in _found(with_solve(analysis, alone))] == ["version-not-found"]
    both = SolveFacts((_unsat("linux-64", ("python=3.9.16", "openssl=1.1")),))  # not all of it explained
    assert [(c, line) for c, line, _ in _found(with_solve(analysis, both))] == [
        ("unsatisfiable", 4), ("version-not-found", 4), ("unsatisfiable", 6)]


def test_suppressed_and_disabled_and_replaced() -> None:
    facts = SolveFacts((_unsat("linux-64", ("python=3.9.16", "openssl=1.1")),))
    quiet = FILE.replace("  - openssl=1.1", "  - openssl=1.1  # envls: disable=unsatisfiable")
    assert [line for _, line, _ in _found(with_solve(run(quiet), facts))] == [4]
    assert _found(with_solve(run(FILE), facts, AnalysisOptions(frozenset({"unsatisfiable"})))) == []
    twice = with_solve(with_solve(run(FILE), facts), SolveFacts((_solved("linux-64"),)))
    assert _found(twice) == []  # a later solve replaces the earlier findings


# -- gpu-build-not-selected -------------------------------------------------------------------------

TORCH = """\
channels: [pytorch, intel]
dependencies:
  - python=3.9
  - pytorch=1.12
"""


def _torch(build: str = "py3.9_cpu_0") -> tuple[SolvedPackage, ...]:
    return (SolvedPackage("pytorch", "1.12.1", build, "pytorch", "linux-64", "u", "f", 80_000_000),
            SolvedPackage("pytorch-mutex", "1.0", "cpu" if "cpu" in build else "cuda", "intel", "noarch", "u", "f", 3000),
            SolvedPackage("python", "3.9.16", "hef7c979_23", "intel", "linux-64", "u", "f", 26_000_000))


def test_cpu_build_although_the_target_has_a_gpu() -> None:
    found = _found(with_solve(run(TORCH), SolveFacts((_solved("linux-64", *_torch(), cuda="12.2"),))))
    assert [f for f in found if f[0] != "missing-name"] == [("gpu-build-not-selected", 4,
                      "the solution for linux-64 installs pytorch 1.12.1 `py3.9_cpu_0`, a CPU build (and "
                      "`pytorch-mutex cpu`), although the target machine has CUDA 12.2 (`__cuda`): no CUDA build of "
                      "pytorch fits the rest of the file and its channels, or the solver preferred the CPU build; "
                      "ask for one (`pytorch=*=*cuda*`) to see what stands in the way")]


@pytest.mark.parametrize(("text", "cuda", "build", "expected"), [
    (TORCH, None, "py3.9_cpu_0", []),  # no GPU, no CUDA pin: a CPU build is what is wanted
    (TORCH, "12.2", "py3.9_cuda11.6_cudnn8.3.2_0", []),  # a CUDA build was chosen
    (TORCH + "  - cpuonly\n", "12.2", "py3.9_cpu_0", []),  # the file asks for CPU
    (TORCH + "  - cudatoolkit=11.6\n", None, "py3.9_cpu_0", [("gpu-build-not-selected", 4)]),  # a CUDA pin
    (TORCH.replace("platforms", "x") + "platforms: [osx-64]\n", "12.2", "py3.9_cpu_0", []),
])
def test_gpu_intent(text: str, cuda: str | None, build: str, expected: list[tuple[str, int]]) -> None:
    platform = "osx-64" if "osx" in text else "linux-64"
    found = _found(with_solve(run(text), SolveFacts((_solved(platform, *_torch(build), cuda=cuda),))))
    assert [(c, line) for c, line, _ in found if c == "gpu-build-not-selected"] == expected


def test_pin_is_related_and_static_findings_are_not_repeated() -> None:
    text = TORCH.replace("pytorch=1.12", "pytorch=1.13") + "  - cudatoolkit=11.7\n"
    facts = SolveFacts((_solved("linux-64", *_torch(), cuda=None),))
    solved_only = with_solve(run(text), facts)
    finding = next(f for f in solved_only.findings if f.code == "gpu-build-not-selected")
    assert [solved_only.document.text[r.span.start:r.span.end] for r in finding.related] == ["cudatoolkit=11.7"]
    # The CUDA stage already says that cudatoolkit does not select a GPU build of pytorch 1.13 (related: the
    # pytorch line): the solve adds nothing on that line.
    target = CudaTarget("12.2", "setting", ("linux-64",))
    with_static = with_cuda(run(text.replace("[pytorch, intel]", "[pytorch, nvidia]")), target)
    static = [f for f in with_static.findings if f.code == "gpu-build-not-selected"]
    assert len(static) == 1
    assert with_solve(with_static, facts).findings == with_static.findings


# -- words ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("size", "text"), [(950, "950 B"), (4474, "4 kB"), (85_592_222, "85.6 MB"),
                                            (123_400_000, "123 MB"), (1_234_567_890, "1.2 GB")])
def test_format_size(size: int, text: str) -> None:
    assert format_size(size) == text


def test_lens_titles_and_solution() -> None:
    packages = tuple(SolvedPackage(f"p{i}", "1.0", "0", "intel", "linux-64", f"u{i}", f"p{i}-1.0-0.tar.bz2", 13_800_000)
                     for i in range(87))
    solved = _solved("linux-64", *packages)
    assert lens_title(solved) == "Solves for linux-64: 87 packages, 1.2 GB to download"
    assert lens_title(PlatformSolve("osx-arm64", "unsatisfiable")) == "Does not solve for osx-arm64"
    assert lens_title(PlatformSolve("linux-64", "timeout", detail="no answer within 10 s")) == (
        "Solving for linux-64 took too long: no answer within 10 s")
    assert lens_title(PlatformSolve("win-64", "skipped", detail="no conda dependencies")) == (
        "Not solved for win-64: no conda dependencies")
    assert lens_title(PlatformSolve("linux-64", "solved", packages=packages[:1], priority="flexible")) == (
        "Solves for linux-64 (only with flexible channel priority): 1 package, 13.8 MB to download")
    unknown = PlatformSolve("linux-64", "solved", packages=(SolvedPackage("a", "1", "0", "c", "noarch", "u", "f"),))
    assert lens_title(unknown) == "Solves for linux-64: 1 package, at least 0 B to download"
    shown = solution(solved)
    assert shown["status"] == "solved" and shown["downloadSize"] == 87 * 13_800_000
    assert shown["packages"][0] == {"name": "p0", "version": "1.0", "build": "0", "channel": "intel",
                                    "subdir": "linux-64", "size": 13_800_000, "url": "u0"}
    assert solution_table(solved).splitlines()[1] == "p0   1.0  0  intel  13.8 MB"
