"""The solve commands as plain async functions (the LSP layer registers them as `envls.showSolution` and
`envls.exportLock`): each takes the session, the environment file and its current text.

Both solve (or take the cached solve of) the text as it is now, for the file's target platforms.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from envls.channels.service import ChannelService
from envls.core.document import parse
from envls.core.environment import Environment, environment_of
from envls.core.solve.facts import SolveFacts
from envls.core.solve.summary import solution, solution_table
from envls.solve.export import write_explicit, write_rattler_lock
from envls.solve.service import SolveUnavailable


class Session(Protocol):
    """What the commands need of envls.session.Session (which sits above this layer)."""

    async def solve(self, env: Environment, root: Path | None) -> SolveFacts | None: ...

    @property
    def channels(self) -> ChannelService | None: ...


class SolveCommandError(Exception):
    """A command that cannot do what was asked; the message says why, for the user."""


async def _solve(session: Session, env_file: Path, text: str) -> tuple[Environment, SolveFacts]:
    env = environment_of(parse(text))
    if env.document.top is None:
        raise SolveCommandError(f"{env_file.name} is no environment file that can be solved (it does not parse)")
    try:
        facts = await session.solve(env, env_file.parent)
    except SolveUnavailable as err:
        raise SolveCommandError(str(err)) from None
    if facts is None:
        raise SolveCommandError("solving is off: it needs the channel checks (the `channelChecks` setting, "
                                "ENVLS_CHANNEL_CHECKS) and ENVLS_SOLVE not set to 0")
    return env, facts


async def show_solution(session: Session, env_file: Path, text: str, platform: str | None = None,
                        show: Callable[[str], None] | None = None) -> dict[str, Any]:
    """The solved packages (name, version, build, channel, size) per target platform, or why there are none;
    ``show`` gets each platform's solution as a text table."""
    _, facts = await _solve(session, env_file, text)
    solves = [s for s in facts.solves if platform is None or s.platform == platform]
    if platform is not None and not solves:
        targets = ", ".join(s.platform for s in facts.solves)
        raise SolveCommandError(f"{platform} is not a target platform of {env_file.name} ({targets})")
    if show is not None:
        for solve in solves:
            show(solution_table(solve))
    return {"file": str(env_file), "platforms": [solution(s) for s in solves]}


async def export_lock(session: Session, env_file: Path, text: str, platforms: Sequence[str] | None = None,
                      rattler_lock: bool = False) -> dict[str, Any]:
    """Write `<stem>.<platform>.lock.txt` for each target platform that solves (and `<stem>.rattler.lock`
    with ``rattler_lock``); platforms that do not solve are listed with the reason, nothing is written for them."""
    env, facts = await _solve(session, env_file, text)
    solves = [s for s in facts.solves if not platforms or s.platform in platforms]
    if platforms and not solves:
        raise SolveCommandError(f"none of {', '.join(platforms)} is a target platform of {env_file.name}")
    written: list[str] = []
    failed: dict[str, str] = {}
    for solve in solves:
        if solve.status != "solved":
            failed[solve.platform] = solution(solve)["title"]
            continue
        written.append(str(write_explicit(env_file, solve)))
    ok = [s for s in solves if s.status == "solved"]
    if rattler_lock and ok:
        plan = session.channels.plan(env, env_file.parent) if session.channels is not None else None
        channels = [u for c in (*plan.channels, *plan.qualified) for u in c.urls] if plan is not None else []
        written.append(str(write_rattler_lock(env_file, ok, channels)))
    if not written:
        reasons = "; ".join(f"{p}: {why}" for p, why in failed.items())
        raise SolveCommandError(f"nothing to export: {reasons}")
    return {"files": written, "failed": failed}
