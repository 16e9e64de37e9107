"""Rules on the solver's answer: a file that does not solve, and a solution that quietly picks a CPU build.

Pure: an Environment and a SolveFacts snapshot in, findings out.

`unsatisfiable` (error) goes on every spec of the conflict the solve service narrowed down, each with
related information pointing at the others, and says for which platforms the file does not solve
(and for which it does). `gpu-build-not-selected` (warning) is the solution's side of the CUDA rule of
the same code: the solution installs a CPU build of PyTorch, TensorFlow or JAX although the file pins
CUDA packages or the target machine has a GPU. A conflict that the channel stage has already explained
on the same lines (a package, version or build that does not exist), or a CPU build the static CUDA
rules already warn about on that line, is not reported twice.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from envls.core.conda.selectors import applies
from envls.core.conda.specs import parse_spec
from envls.core.cuda.implied import Implication, build_meaning, family_of, implications
from envls.core.environment import Entry, Environment
from envls.core.findings import Finding, Related, Severity, Span
from envls.core.solve.explain import condense
from envls.core.solve.facts import PlatformSolve, SolvedPackage, SolveFacts

SOLVE_CODES = frozenset({"unsatisfiable"})
# Channel findings that already say why a spec cannot be installed.
EXPLAINED_BY_CHANNELS = frozenset({"package-not-found", "version-not-found", "build-not-found", "platform-unavailable",
                                   "unknown-channel", "invalid-spec"})
_FRAMEWORKS = ("pytorch", "tensorflow", "jax")


def _span(entry: Entry) -> Span:
    return Span(entry.start, entry.end)


def words(items: Sequence[str]) -> str:
    """`a`, `a and b`, `a, b and c`."""
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} and {items[-1]}"


def _applies(entry: Entry, platforms: Sequence[str]) -> bool:
    return any(applies(entry.selector, p) is not False for p in platforms)


def _quoted(entries: Sequence[Entry]) -> list[str]:
    return [f"`{e.text.strip()}`" for e in entries]


# -- unsatisfiable -------------------------------------------------------------------------------


def unsatisfiable(env: Environment, facts: SolveFacts, existing: Sequence[Finding] = ()) -> Iterator[Finding]:
    """One error per spec of each conflict, grouped over the platforms with the same conflict."""
    groups: dict[tuple[tuple[str, ...], str], list[PlatformSolve]] = {}
    for solve in facts.solves:
        if solve.status != "unsatisfiable":
            continue
        asked = {name: text for text in solve.specs if (name := parse_spec(text).name) is not None}
        summary = condense(solve.explanation, asked)
        groups.setdefault((tuple(sorted(set(solve.involved))), summary), []).append(solve)
    solved = [s.platform for s in facts.solves if s.status == "solved"]
    explained = {(f.span.start, f.span.end) for f in existing if f.code in EXPLAINED_BY_CHANNELS}
    for (involved, summary), solves in groups.items():
        platforms = [s.platform for s in solves]
        entries = [e for e in env.conda if e.text.strip() in involved and _applies(e, platforms)]
        if entries and all((e.start, e.end) in explained for e in entries):
            continue  # the channel stage has said why
        where = words(platforms)
        tail = f" (it solves for {words(solved)})" if solved else ""
        if not entries:
            if env.dependencies_key is not None:
                node = env.dependencies_key
                yield Finding("unsatisfiable", Severity.ERROR,
                              f"the environment does not solve for {where}: {summary}{tail}", Span(node.start, node.end))
            continue
        for entry in entries:
            others = [e for e in entries if e is not entry]
            text = f"`{entry.text.strip()}`"
            clause = f"{text} conflicts with {words(_quoted(others))}" if others else f"{text} cannot be installed"
            related = tuple(Related(_span(o), f"`{o.text.strip()}` is part of the conflict for {where}") for o in others)
            yield Finding("unsatisfiable", Severity.ERROR, f"does not solve for {where}: {clause}: {summary}{tail}",
                          _span(entry), related=related)


# -- gpu-build-not-selected ----------------------------------------------------------------------


def _cpu_build(package: SolvedPackage) -> bool:
    meaning = build_meaning(package.build)
    return meaning is not None and meaning[0]


def _entry_for(env: Environment, package: SolvedPackage, family: str, platform: str) -> Entry | None:
    """The line that brought the package in: the spec of the same name, else one of the same framework."""
    candidates = [e for e in env.conda if applies(e.selector, platform) is not False]
    for entry in candidates:
        if entry.parsed.name == package.name:
            return entry
    for entry in candidates:
        name = entry.parsed.name
        if name and family_of(name) == family and not name.endswith("-mutex"):
            return entry
    return None


@dataclass
class _CpuPick:
    entry: Entry
    package: SolvedPackage
    mutex: SolvedPackage | None
    reason: str
    pin: Entry | None
    platforms: list[str] = field(default_factory=list)


def _gpu_reason(pins: Sequence[Implication], solve: PlatformSolve) -> tuple[str, Entry | None] | None:
    pins = [p for p in pins if applies(p.entry.selector, solve.platform) is not False]
    if pins:
        return pins[0].reason, pins[0].entry
    if solve.cuda:
        return f"the target machine has CUDA {solve.cuda} (`__cuda`)", None
    return None


def gpu_build_not_selected(env: Environment, facts: SolveFacts, existing: Sequence[Finding] = ()) -> Iterator[Finding]:
    """A CPU build of a framework in a solution, although CUDA is pinned or the target has a GPU."""
    implied = implications(env)
    cpu_families = {i.family for i in implied if i.cpu}
    pins = [i for i in implied if not i.cpu and i.manager == "conda"]
    index = env.document.index
    covered = {index.line_of(s.start) for f in existing if f.code == "gpu-build-not-selected"
               for s in (f.span, *(r.span for r in f.related))}
    picks: dict[tuple[int, str], _CpuPick] = {}
    for solve in facts.solved:
        if solve.platform.startswith("osx"):
            continue  # no CUDA on macOS
        why = _gpu_reason(pins, solve)
        if why is None:
            continue
        for family in _FRAMEWORKS:
            if family in cpu_families:
                continue  # the file asks for a CPU build
            cpu = [p for p in solve.packages if family_of(p.name) == family and _cpu_build(p)]
            if not cpu:
                continue
            main = next((p for p in cpu if not p.name.endswith("-mutex")), cpu[0])
            mutex = next((p for p in cpu if p.name.endswith("-mutex") and p is not main), None)
            entry = _entry_for(env, main, family, solve.platform)
            if entry is None or index.line_of(entry.start) in covered:
                continue
            pick = picks.setdefault((entry.start, main.name), _CpuPick(entry, main, mutex, why[0], why[1]))
            pick.platforms.append(solve.platform)
    for pick in picks.values():
        package = pick.package
        with_mutex = f" (and `{pick.mutex.name} {pick.mutex.build}`)" if pick.mutex else ""
        message = (f"the solution for {words(pick.platforms)} installs {package.name} {package.version} "
                   f"`{package.build}`, a CPU build{with_mutex}, although {pick.reason}: no CUDA build of "
                   f"{package.name} fits the rest of the file and its channels, or the solver preferred the CPU "
                   f"build; ask for one (`{package.name}=*=*cuda*`) to see what stands in the way")
        related = (Related(_span(pick.pin), pick.reason),) if pick.pin is not None and pick.pin is not pick.entry else ()
        yield Finding("gpu-build-not-selected", Severity.WARNING, message, _span(pick.entry), related=related)


def solve_findings(env: Environment, facts: SolveFacts, existing: Sequence[Finding] = ()) -> list[Finding]:
    """Every finding from the solver's answer; ``existing`` are the other stages' findings (for deduplication)."""
    return [*unsatisfiable(env, facts, existing), *gpu_build_not_selected(env, facts, existing)]
