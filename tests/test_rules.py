"""The fast rules, one small YAML case at a time: (file, expected (code, line) findings)."""

from __future__ import annotations

import pytest
from core_support import found, run, spans

DEPS = "dependencies:\n  - python\n"

CASES: list[tuple[str, str, list[tuple[str, int]]]] = [
    ("clean file", "name: ok\nchannels:\n  - conda-forge\ndependencies:\n  - python=3.11\n  - numpy>=1.26,<2\n", []),
    ("yaml syntax", "name: x\ndependencies:\n  - a\n  - [b\n", [("yaml-syntax", 4)]),  # at the unclosed `[`
    ("tab indentation", "dependencies:\n\t- numpy\n", [("yaml-syntax", 2)]),
    ("empty file", "", [("empty-file", 1)]),
    ("only comments", "# nothing here\n# at all\n", [("empty-file", 1)]),
    ("only whitespace", "  \n\n", [("empty-file", 1)]),
    ("top level list", "- numpy\n- scipy\n", [("schema", 1)]),
    ("top level scalar", "hello\n", [("schema", 1)]),
    ("no dependencies", "name: x\nchannels: [conda-forge]\n", [("schema", 1)]),
    ("dependencies not a list", "dependencies: numpy\n", [("schema", 1)]),
    ("channels not a list", "channels: conda-forge\n" + DEPS, [("schema", 1)]),
    ("number in channels", "channels:\n  - 3\n" + DEPS, [("schema", 2)]),
    ("mapping where string belongs", "name: {a: b}\n" + DEPS, [("schema", 1)]),
    ("number dependency", "dependencies:\n  - 1.5\n", [("schema", 2)]),
    ("unknown key", "chanels:\n  - conda-forge\n" + DEPS, [("unknown-key", 1)]),
    ("unknown key, no near", "zzzzzz: 1\n" + DEPS, [("unknown-key", 1)]),
    ("platforms accepted", "platforms:\n  - linux-64\n  - osx-arm64\ncategory: main\n" + DEPS, []),
    ("bad platform", "platforms:\n  - linux64\n" + DEPS, [("schema", 2)]),
    ("variables accepted", "variables:\n  A: 1\n  B: text\n  C: true\n" + DEPS, []),
    ("name base", "name: base\n" + DEPS, [("invalid-env-name", 1)]),
    ("name root", "name: root\n" + DEPS, [("invalid-env-name", 1)]),
    ("name with slash", "name: my/env\n" + DEPS, [("invalid-env-name", 1)]),
    ("name with space", "name: my env\n" + DEPS, [("invalid-env-name", 1)]),
    ("name with colon", "name: 'a:b'\n" + DEPS, [("invalid-env-name", 1)]),
    ("name with hash", "name: 'a#b'\n" + DEPS, [("invalid-env-name", 1)]),
    ("prefix", "name: x\nprefix: /home/me/miniconda3/envs/x\n" + DEPS, [("machine-prefix", 2)]),
    ("windows prefix", "prefix: D:\\Anaconda3\\envs\\py35\n" + DEPS, [("machine-prefix", 1)]),
    ("unknown channel marker", "channels:\n  - <unknown>\n" + DEPS, [("invalid-channel", 2)]),
    ("channel with space", "channels:\n  - conda forge\n" + DEPS, [("invalid-channel", 2)]),
    ("channel url and path ok", "channels:\n  - https://example.invalid/conda/x\n  - file:///srv/ch\n  - ./local\n"
     "  - nvidia/label/cuda-12.1.0\n  - nodefaults\n" + DEPS, []),
    ("duplicate channel", "channels:\n  - conda-forge\n  - pytorch\n  - conda-forge\n" + DEPS, [("duplicate-channel", 4)]),
    ("default for defaults", "channels:\n  - conda-forge\n  - default\n" + DEPS, [("unknown-channel", 3)]),
    ("defaults and nodefaults fine", "channels:\n  - defaults\n  - nodefaults\n  - default-ish\n" + DEPS, []),
    ("duplicate channel slash", "channels:\n  - https://m.invalid/c/\n  - https://m.invalid/c\n" + DEPS,
     [("duplicate-channel", 3)]),
    ("invalid spec extras", "dependencies:\n  - jaxlib=0.4.23[cuda118]\n", [("invalid-spec", 2)]),
    ("invalid spec quotes", "dependencies:\n  - python='3.10'\n", [("invalid-spec", 2)]),
    ("invalid spec name", "dependencies:\n  - 'numpy!'\n", [("invalid-spec", 2)]),
    ("valid conda forms", "dependencies:\n  - numpy=1.21.2=py38h20f2e39_0\n  - pytorch=*=*cuda*\n  - libblas=*=*openblas\n"
     "  - conda-forge::scipy>=1.2\n  - nvidia/label/cuda-12.1.0::cuda\n  - python >= 3.8\n  - libcurand=10.3.9.55-0\n"
     "  - https://104.17.92.24:443::flask=1.0.2\n  - jaxlib[build=*cuda*]\n  - pandas 2.1.*|2.2.*\n",
     [("pinned-build", 2)]),
    ("exact short pin", "dependencies:\n  - python==3.9\n", [("suspicious-spec", 2)]),
    ("exact long pin ok", "dependencies:\n  - python==3.9.7\n", []),
    ("range with wildcard", "dependencies:\n  - python>=1.8.*\n", [("suspicious-spec", 2)]),
    ("eq with star", "dependencies:\n  - python=3.6*\n", [("suspicious-spec", 2)]),
    ("space in name", "dependencies:\n  - num py\n", [("suspicious-spec", 2)]),
    ("reversed operator", "dependencies:\n  - python=>3.11\n", [("suspicious-spec", 2)]),
    ("space separated range", "dependencies:\n  - numpy >=1.2 <2\n", [("suspicious-spec", 2)]),
    ("duplicate package", "dependencies:\n  - numpy\n  - scipy\n  - numpy>=1\n", [("duplicate-package", 4)]),
    ("duplicate package other case", "dependencies:\n  - NumPy\n  - numpy\n", [("duplicate-package", 3)]),
    ("duplicates under different selectors", "dependencies:\n  - pywin32  # [win]\n  - pywin32  # [linux]\n", []),
    ("duplicates with sel()", "dependencies:\n  - sel(linux): pyinotify\n  - sel(osx): pyinotify\n", []),
    ("pinned build", "dependencies:\n  - _libgcc_mutex=0.1=main\n", [("pinned-build", 2)]),
    ("pinned build spaced", "dependencies:\n  - numpy 1.2 py39_0\n", [("pinned-build", 2)]),
    ("noarch build is portable", "dependencies:\n  - numpy 1.2 py_0\n  - six=1.16.0=pyhd8ed1ab_0\n", []),
    ("build glob not pinned", "dependencies:\n  - pytorch=2.1=*cuda*\n", []),
    ("pip not listed", "dependencies:\n  - python\n  - pip:\n    - requests\n", [("pip-not-listed", 3)]),
    ("pip listed", "dependencies:\n  - python\n  - pip\n  - pip:\n    - requests\n", []),
    ("pip listed with version", "dependencies:\n  - pip>=23\n  - pip:\n    - requests\n", []),
    ("empty pip section", "dependencies:\n  - pip\n  - pip: []\n", []),
    ("invalid pip single equals", "dependencies:\n  - pip\n  - pip:\n    - poetry=1.2.2\n", [("invalid-pip-requirement", 4)]),
    ("invalid pip option", "dependencies:\n  - pip\n  - pip:\n    - --no-such-option\n", [("invalid-pip-requirement", 4)]),
    ("valid pip lines", "dependencies:\n  - pip\n  - pip:\n    - requests[socks]>=2.31 ; python_version >= '3.8'\n"
     "    - -r requirements.txt\n    - -e .\n    - --extra-index-url https://download.example.invalid/whl/cu118\n"
     "    - git+https://github.com/a/b.git@main#egg=b\n    - ./local/pkg\n    - flit-core === 3.9.0 --hash=sha256:1234\n"
     "    - torch==2.1.0+cu118\n    - dipy --only-binary dipy\n    - name @ https://x.invalid/p-1.0-py3-none-any.whl\n"
     "    - --pre\n    - submodules/diff-gaussian-rasterization\n", []),
    ("unknown installer", "dependencies:\n  - python\n  - npm:\n    - left-pad\n", [("unknown-installer", 3)]),
    ("selector item ok", "dependencies:\n  - sel(linux): pyinotify\n", []),
    ("python tag", "name: !!python/object/apply:os.system ['echo hi']\n" + DEPS, [("yaml-syntax", 1)]),
    ("two documents", DEPS + "---\nname: x\n", [("yaml-syntax", 3)]),
    ("undefined alias", "dependencies:\n  - *nope\n", [("yaml-syntax", 2)]),
    ("column zero items", "dependencies:\n- python\n- pip\n- pip:\n  - requests\n", []),
    ("crlf", "name: x\r\ndependencies:\r\n  - python==3.9\r\n", [("suspicious-spec", 3)]),
    ("bom", "\ufeffname: base\n" + DEPS, [("invalid-env-name", 1)]),
]


@pytest.mark.parametrize(("text", "expected"), [(c[1], c[2]) for c in CASES], ids=[c[0] for c in CASES])
def test_rules(text: str, expected: list[tuple[str, int]]) -> None:
    # Most cases leave out `name` for brevity; `missing-name` has its own cases (tests/test_domain_rules.py).
    assert [f for f in found(text) if f[0] != "missing-name"] == expected


def test_every_finding_has_source_fields() -> None:
    analysis = run("name: base\nprefix: /x\ndependencies:\n  - python==3.9\n")
    for finding in analysis.findings:
        assert finding.message and finding.code and finding.span.end >= finding.span.start


@pytest.mark.parametrize(
    ("text", "code", "covered"),
    [
        ("chanels: []\n" + DEPS, "unknown-key", "chanels"),
        ("name: 3\n" + DEPS, "schema", "3"),
        ("name: base\n" + DEPS, "invalid-env-name", "base"),
        ("dependencies:\n  - python==3.9\n", "suspicious-spec", "python==3.9"),
        ("dependencies:\n  - python\n  - pip:\n    - x\n", "pip-not-listed", "pip"),
        ("name: x\n", "schema", "name"),
    ],
)
def test_blame_the_right_node(text: str, code: str, covered: str) -> None:
    assert (code, covered) in spans(text)


def test_unknown_key_suggests_nearest() -> None:
    analysis = run("prefis: /x\n" + DEPS)
    (finding,) = [f for f in analysis.findings if f.code == "unknown-key"]
    assert "`prefix`" in finding.message
    assert finding.fixes[0].edits[0].new_text == "prefix"


def test_duplicate_package_points_at_first() -> None:
    analysis = run("name: t\ndependencies:\n  - numpy\n  - numpy=1\n")
    (finding,) = analysis.findings
    related = finding.related[0]
    assert analysis.document.text[related.span.start:related.span.end] == "numpy"


def test_suppression_comments() -> None:
    assert found("name: t\ndependencies:\n  - python==3.9  # envls: disable=suspicious-spec\n") == []
    assert found("# envls: disable-file=pinned-build\nname: t\ndependencies:\n  - a=1=b\n  - c=2=d\n") == []
    assert found("name: t\ndependencies:\n  - python==3.9  # envls: disable=pinned-build\n") == [("suspicious-spec", 3)]


def test_half_typed_file_keeps_other_findings() -> None:
    # The broken line is reported, and the rest of the file is still checked.
    result = found("name: base\ndependencies:\n  - numpy\n  - [scipy\n")
    assert ("yaml-syntax", 5) in result or ("yaml-syntax", 4) in result
    assert ("invalid-env-name", 1) in result


def test_default_is_reported_without_channel_data_with_a_fix() -> None:
    analysis = run("channels:\n  - default\ndependencies:\n  - numpy\n")
    (finding,) = [f for f in analysis.findings if f.code == "unknown-channel"]
    assert finding.message.endswith("did you mean `defaults`?")
    assert analysis.document.text[finding.span.start:finding.span.end] == "default"
    (fix,) = finding.fixes
    assert fix.preferred and [e.new_text for e in fix.edits] == ["defaults"]


@pytest.mark.parametrize(("spec", "stripped"), [
    ("numpy=1.2=py39_0", "numpy=1.2"),
    ("  numpy=1.2=py39_0  ", "numpy=1.2"),
    ("a==1=b", "a==1"),  # the build after the last `=`, as conda env export writes
    ("numpy 1.2 py39_0", "numpy=1.2"),
    ("=1=2", None),
    ("a=1=", None),
    ("a==b", None),
    ("a=1 =b", None),
])
def test_without_build(spec: str, stripped: str | None) -> None:
    from envls.core.conda.specs import without_build

    assert without_build(spec) == stripped


def test_clipped_messages() -> None:
    from envls.core.findings import MESSAGE_LIMIT, QUOTE_LIMIT, clipped

    short = "`" + "n" * 300 + "` is listed twice"
    assert clipped(short) is short
    long_quote = "`" + "a" * 500 + "` is odd; write `b`"
    assert clipped(long_quote) == "`" + "a" * (QUOTE_LIMIT - 1) + "…` is odd; write `b`"
    unpaired = "an odd ` backquote and " + "c" * 5000
    assert len(clipped(unpaired)) == MESSAGE_LIMIT and clipped(unpaired).endswith("…")


@pytest.mark.parametrize("text", ["numpy", "Numpy_Base>=1.2,<2", "pytorch=2.1=*cuda*", "conda-forge::scipy 1.11 py311h_0",
                                  "python[version='>=3.9']", "pip >=24.0", "numpy==1.2=py39_0", "libgcc-ng"])
def test_parsed_spec_reads_what_the_public_api_says(text: str) -> None:
    """ParsedSpec reads name, version and build through py-rattler's native object: the same as `MatchSpec`'s."""
    from rattler import MatchSpec

    from envls.core.conda.specs import ParsedSpec

    spec = MatchSpec(text, strict=False)
    public = (str(spec.name.normalized), spec.version, spec.build)
    assert (ParsedSpec(text, spec, None).name, ParsedSpec(text, spec, None).version,
            ParsedSpec(text, spec, None).build) == public


def test_schema_errors_in_a_pip_list_point_at_their_lines() -> None:
    """Strings are left out of the validator (each is valid); the errors of the rest keep their places."""
    text = "name: x\ndependencies:\n  - pip\n  - a\n  - pip:\n    - ok\n    - [1]\n    - fine\n    - {a: 1}\n"
    analysis = run(text)
    schema = [(f.message, analysis.document.index.line_of(f.span.start) + 1)
              for f in analysis.findings if f.code == "schema"]
    assert schema == [("`dependencies[2].pip[1]` must be a string, not a list", 7),
                      ("`dependencies[2].pip[3]` must be a string, not a mapping", 9)]
