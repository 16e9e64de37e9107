"""The pip rules: the pip section against the conda dependencies, against itself, and against the files it names.

Pure. ``FAST_PIP_RULES`` need nothing but the Environment and run on every edit. The functions
below them take immutable snapshots that the I/O layer (envls/pypi) makes: ``pip_file_findings``
the text of the `-r`/`-c` files and whether `-e` paths exist; ``index_findings`` and
``prefer_conda_findings`` (in envls/core/pip/index_rules.py, re-exported here) what the package
indexes and the channels hold.

conda installs the conda dependencies first, then writes the pip section into a requirements file
next to the environment file and runs pip on it there; pip therefore replaces whatever conda
installed under the same distribution name, and relative paths are relative to the environment file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass

from envls.core.environment import Environment
from envls.core.findings import Finding, Fix, Related, Severity
from envls.core.pip.facts import is_outside_key, refusal
from envls.core.pip.index_rules import dependency_duplicate_findings, index_findings, prefer_conda_findings
from envls.core.pip.lines import has_env_vars, included_path, parse_pip_line, requirement_file_lines
from envls.core.pip.mapping import PypiMapping, mapping
from envls.core.pip.section import (
    CondaItem,
    PipItem,
    conda_provided,
    disjoint,
    has_index_options,
    insert_before_entry,
    iter_requirement_pairs,
    local_versions,
    named_requirements,
    pip_items,
    same_release,
    selectors_overlap,
)
from envls.core.rules import line_removal, span_of

__all__ = ["FAST_PIP_RULES", "CONFLICTING_DISTRIBUTIONS", "MAX_INCLUDE_DEPTH", "dependency_duplicate_findings",
           "index_findings", "pip_file_findings", "prefer_conda_findings"]

PipRule = Callable[[Environment], Iterable[Finding]]

# Distributions that install the same import package, so that one overwrites the other's files
# (pip does not know they clash). The first word is the module they share.
CONFLICTING_DISTRIBUTIONS: tuple[tuple[str, frozenset[str]], ...] = (
    ("cv2", frozenset({"opencv-python", "opencv-python-headless", "opencv-contrib-python",
                       "opencv-contrib-python-headless"})),
    ("tensorflow", frozenset({"tensorflow", "tensorflow-cpu", "tensorflow-gpu", "tf-nightly", "tf-nightly-cpu",
                              "tf-nightly-gpu"})),
    ("PIL", frozenset({"pillow", "pillow-simd"})),
    ("psycopg2", frozenset({"psycopg2", "psycopg2-binary"})),
    ("Crypto", frozenset({"pycrypto", "pycryptodome"})),
    ("jwt", frozenset({"jwt", "pyjwt"})),
    ("bson", frozenset({"bson", "pymongo"})),
    ("faiss", frozenset({"faiss-cpu", "faiss-gpu"})),
    ("onnxruntime", frozenset({"onnxruntime", "onnxruntime-gpu"})),
    ("fitz", frozenset({"fitz", "pymupdf"})),
    ("serial", frozenset({"serial", "pyserial"})),
    ("msgpack", frozenset({"msgpack", "msgpack-python"})),
)
_GROUP_OF = {name: (module, group) for module, group in CONFLICTING_DISTRIBUTIONS for name in group}

MAX_INCLUDE_DEPTH = 10  # `-r` files within `-r` files deeper than this are not followed
_MAX_FILE_PROBLEMS = 5  # problems inside one `-r` file shown on its line


def _remove_fix(env: Environment, item: PipItem | CondaItem, what: str, preferred: bool = False) -> Fix:
    return Fix(f"Remove {what} `{item.text}`", (line_removal(env, item.entry),), preferred)


def conda_pip(env: Environment, table: PypiMapping | None = None) -> Iterator[Finding]:
    """The same distribution from conda and from pip: a duplicate, or a conflict when no version fits both.
    ``table``: the conda <-> PyPI mapping to go by (the shipped one by default)."""
    if not env.pip:
        return
    provided = conda_provided(env, table)  # with the shipped mapping: built once per environment
    table = table or mapping()
    for item in named_requirements(env):
        assert item.name is not None and item.requirement is not None
        matches = [c for c in provided.get(item.name, ()) if selectors_overlap(c.entry.selector, item.entry.selector)]
        if not matches:
            continue
        requirement = item.requirement
        comparable = requirement.marker is None and requirement.url is None
        conflicting = [c for c in matches if comparable and table.same_versions(c.name, item.name)
                       and disjoint(c.parsed.version, requirement.specifier)]
        conda = conflicting[0] if conflicting else matches[0]
        renamed = "" if conda.name == item.name else f" (conda's `{conda.name}` is PyPI's `{item.name}`)"
        related = (Related(span_of(conda.entry), f"`{conda.text}` is a conda dependency here"),)
        fixes = (_remove_fix(env, item, "the pip requirement", True), _remove_fix(env, conda, "the conda dependency"))
        if conflicting:
            yield Finding(
                "conda-pip-conflict", Severity.ERROR,
                f"`{conda.text}` (conda) and `{item.text}` (pip) cannot both hold: no version of `{item.name}` "
                f"satisfies both{renamed}; pip runs after conda and replaces conda's copy with one that conda's other "
                "packages were not solved against",
                span_of(item.entry), related=related, fixes=fixes,
            )
            continue
        same = same_release(conda, requirement) if comparable and table.same_versions(conda.name, item.name) else None
        where = f" where `{requirement.marker}` holds" if requirement.marker is not None else ""
        spec = str(requirement.specifier)
        matching = f" with a release matching `{spec}`" if spec else ""
        effect = (f", both at {same}: pip finds it installed and changes nothing (an artifact of `conda env export`); "
                  "the pip line can go") if same is not None else \
            (f": pip runs after conda and replaces conda's copy{where}{matching}, so conda's other packages may get "
             "a version they were not solved against; keep one")
        yield Finding(
            "conda-pip-duplicate", Severity.WARNING if same is None else Severity.INFORMATION,
            f"`{item.name}` comes from conda (`{conda.text}`) and from pip (`{item.text}`){renamed}{effect}",
            span_of(item.entry), related=related, fixes=fixes,
        )


def pip_duplicates(env: Environment) -> Iterator[Finding]:
    by_name: dict[str, list[PipItem]] = {}
    for item in named_requirements(env):
        assert item.name is not None
        by_name.setdefault(item.name, []).append(item)
    reported: set[int] = set()
    for items in by_name.values():
        for earlier, later in iter_requirement_pairs(items) if len(items) > 1 else ():
            if id(later) in reported:
                continue
            reported.add(id(later))
            yield Finding(
                "pip-duplicate", Severity.WARNING,
                f"`{later.name}` is listed twice in the pip section (`{earlier.text}` and `{later.text}`); pip needs "
                "both to hold: keep one",
                span_of(later.entry), related=(Related(span_of(earlier.entry), f"`{earlier.text}` is listed here"),),
                fixes=(_remove_fix(env, later, "this duplicate", True),),
            )


def conflicting_distributions(env: Environment) -> Iterator[Finding]:
    """Distributions that install the same module, from pip twice or from conda and pip."""
    items = [i for i in named_requirements(env) if i.name in _GROUP_OF]
    reported: set[int] = set()
    for earlier, later in iter_requirement_pairs(items):
        assert earlier.name is not None and later.name is not None
        if earlier.name == later.name or _GROUP_OF[earlier.name] != _GROUP_OF[later.name] or id(later) in reported:
            continue
        reported.add(id(later))
        module = _GROUP_OF[later.name][0]
        yield Finding(
            "conflicting-distributions", Severity.WARNING,
            f"`{later.name}` and `{earlier.name}` both install the module `{module}`: the one pip installs last "
            "overwrites the other's files, and uninstalling either breaks the other; keep one",
            span_of(later.entry), related=(Related(span_of(earlier.entry), f"`{earlier.text}` is listed here"),),
            fixes=(_remove_fix(env, later, "the pip requirement", True),),
        )
    if not items:
        return
    provided = conda_provided(env)
    for item in items:
        if id(item) in reported:
            continue
        assert item.name is not None
        module, group = _GROUP_OF[item.name]
        if item.name in provided:
            continue  # the same distribution: conda_pip reports it
        for other in sorted(group - {item.name}):
            conda = [c for c in provided.get(other, ()) if selectors_overlap(c.entry.selector, item.entry.selector)]
            if conda:
                yield Finding(
                    "conflicting-distributions", Severity.WARNING,
                    f"`{item.name}` (pip) and conda's `{conda[0].name}` (PyPI's `{other}`) both install the module "
                    f"`{module}`: pip installs last and overwrites conda's files; keep one",
                    span_of(item.entry), related=(Related(span_of(conda[0].entry), f"`{conda[0].text}` is here"),),
                    fixes=(_remove_fix(env, item, "the pip requirement", True),),
                )
                break


def pip_local_version(env: Environment) -> Iterator[Finding]:
    """`torch==1.12.1+cu116` with nothing in the section that says where pip finds local versions."""
    items = pip_items(env)
    if has_index_options(env) or any(i.line.long_option in ("--requirement", "--constraint") for i in items):
        return  # an index or a file that may name one
    for item in named_requirements(env):
        assert item.requirement is not None
        versions = local_versions(item.requirement)
        if not versions:
            continue
        label = versions[0].split("+", 1)[1]
        first = item.section.entries[0]
        placeholder = f"<URL of an index that serves +{label} builds>"
        yield Finding(
            "pip-local-version", Severity.WARNING,
            f"`{item.text}` asks for the local version `{versions[0]}`: PyPI does not host local versions (`+{label}`), "
            "so pip finds it only on an index that serves them, and the pip section names none; add that index with "
            "`--extra-index-url` (or `--find-links`)",
            span_of(item.entry),
            fixes=(Fix("Add an `--extra-index-url` line (then fill in the index's URL)",
                       (insert_before_entry(env, first, f"--extra-index-url {placeholder}"),)),),
        )


FAST_PIP_RULES: tuple[PipRule, ...] = (conda_pip, pip_duplicates, conflicting_distributions, pip_local_version)


# -- files named by `-r`, `-c` and `-e` -----------------------------------------------------


@dataclass(frozen=True)
class _Problem:
    code: str
    where: str  # "file:line"
    message: str


def pip_file_findings(env: Environment, files: Mapping[str, str | None]) -> list[Finding]:
    """`-r`, `-c` and `-e` lines checked against ``files``: for each path key (see
    ``envls.core.pip.lines.included_path``) the file's text, "" for an existing folder, or None when
    nothing is there (``PipFiles`` adds which files are outside the folder and which were refused). Paths
    not in ``files`` were not looked at and are not judged. The content of a file outside the environment
    file's folder is never quoted: its problems name the file and the line."""
    findings: list[Finding] = []
    for item in pip_items(env):
        option = item.line.long_option
        argument = item.line.argument or ""
        if item.line.kind != "option" or option not in ("--requirement", "--constraint", "--editable"):
            continue
        key = included_path(None, argument)
        if key is None or key not in files:
            continue
        text = files[key]
        span = span_of(item.entry)
        refused = refusal(key, files)
        if refused is not None:
            findings.append(Finding("file-refused", Severity.WARNING, f"`{item.text}`: {refused}", span))
            continue
        if text is None:
            what = "folder" if option == "--editable" else "file"
            findings.append(Finding(
                "pip-file-missing", Severity.ERROR,
                f"`{item.text}`: no {what} `{key}` relative to the environment file (conda runs pip in the "
                "environment file's folder)", span))
            continue
        if option == "--editable":
            continue
        problems = _file_problems(key, files, (key,))
        for code in ("pip-file-missing", "invalid-pip-requirement", "file-refused"):
            chosen = [p for p in problems if p.code == code]
            if not chosen:
                continue
            shown = "; ".join(f"{p.where}: {p.message}" for p in chosen[:_MAX_FILE_PROBLEMS])
            more = f"; and {len(chosen) - _MAX_FILE_PROBLEMS} more" if len(chosen) > _MAX_FILE_PROBLEMS else ""
            severity = Severity.WARNING if code == "file-refused" else Severity.ERROR
            findings.append(Finding(code, severity, f"`{item.text}`: {shown}{more}", span))
    return findings


def _file_problems(key: str, files: Mapping[str, str | None], chain: tuple[str, ...]) -> list[_Problem]:
    """What is wrong inside the requirements file ``key`` and the files it includes. A file outside the
    environment file's folder (`-r /proc/self/environ`, a symlink out of the folder) may hold anything,
    secrets included: its problems say where, never what the line holds."""
    problems: list[_Problem] = []
    text = files.get(key)
    if not text:
        return problems
    hidden = is_outside_key(key, files)
    for number, line_text in requirement_file_lines(text):
        where = f"{key}:{number}"
        line = parse_pip_line(line_text)
        if line.kind == "invalid" and not has_env_vars(line_text):  # pip expands `${VAR}` before reading
            message = "not a valid pip line (the content of a file outside the environment file's folder " \
                "is not shown)" if hidden else line.error or "invalid pip line"
            problems.append(_Problem("invalid-pip-requirement", where, message))
            continue
        if line.kind != "option" or line.long_option not in ("--requirement", "--constraint"):
            continue
        nested = included_path(key, line.argument or "")
        if nested is None:
            continue
        shown = "this line" if hidden else f"`{line_text}`"
        if nested in chain:
            loop = "" if hidden else f" ({' → '.join((*chain[chain.index(nested):], nested))})"
            what = "a file of the chain" if hidden else f"`{nested}`"
            problems.append(_Problem("invalid-pip-requirement", where,
                                     f"{shown} includes {what} again{loop}: pip reads it over and over "
                                     "until it fails"))
            continue
        if len(chain) >= MAX_INCLUDE_DEPTH or nested not in files:
            continue
        refused = refusal(nested, files)
        if refused is not None:
            problems.append(_Problem("file-refused", where, "the file this line names was not read" if hidden
                                     else f"{shown}: {refused}"))
            continue
        if files[nested] is None:
            problems.append(_Problem("pip-file-missing", where,
                                     "the file this line names does not exist" if hidden
                                     else f"{shown}: no file `{nested}`"))
            continue
        problems.extend(_file_problems(nested, files, (*chain, nested)))
    return problems
