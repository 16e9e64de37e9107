"""The solver's answer in words: the code lens title per platform and the rows `envls.showSolution` returns.

Pure. Sizes are the records' download sizes (the package archives), in decimal units as conda shows them.
"""

from __future__ import annotations

from typing import Any

from envls.core.solve.facts import PlatformSolve


def format_size(size: int) -> str:
    """`950 B`, `85 kB`, `12.3 MB`, `1.2 GB`."""
    if size < 1000:
        return f"{size} B"
    for unit, scale in (("kB", 1e3), ("MB", 1e6), ("GB", 1e9), ("TB", 1e12)):
        value = size / scale
        if value < 1000 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "kB" or value >= 100 else f"{value:.1f} {unit}"
    return f"{size} B"  # not reached


def lens_title(solve: PlatformSolve) -> str:
    """"Solves for linux-64: 87 packages, 1.2 GB to download", or why it does not."""
    platform = solve.platform
    if solve.status == "solved":
        count = len(solve.packages)
        size = format_size(solve.download_size)
        size = size if solve.sizes_known else f"at least {size}"
        flexible = " (only with flexible channel priority)" if solve.priority == "flexible" else ""
        return f"Solves for {platform}{flexible}: {count} package{'s' if count != 1 else ''}, {size} to download"
    if solve.status == "unsatisfiable":
        return f"Does not solve for {platform}"
    if solve.status == "timeout":
        return f"Solving for {platform} took too long: {solve.detail}" if solve.detail else f"Solving for {platform} took too long"
    if solve.status == "error":
        return f"Could not solve for {platform}: {solve.detail}" if solve.detail else f"Could not solve for {platform}"
    return f"Not solved for {platform}: {solve.detail}" if solve.detail else f"Not solved for {platform}"


def solution(solve: PlatformSolve) -> dict[str, Any]:
    """One platform's answer as plain JSON: status, packages (name, version, build, channel, size), why not."""
    result: dict[str, Any] = {
        "platform": solve.platform,
        "status": solve.status,
        "title": lens_title(solve),
        "packages": [{"name": p.name, "version": p.version, "build": p.build, "channel": p.channel,
                      "subdir": p.subdir, "size": p.size, "url": p.url}
                     for p in sorted(solve.packages, key=lambda p: p.name)],
        "downloadSize": solve.download_size,
        "virtualPackages": list(solve.virtual_packages),
        "channelPriority": solve.priority,
        "seconds": round(solve.seconds, 3),
    }
    if solve.status == "unsatisfiable":
        result["involved"] = list(solve.involved)
        result["explanation"] = solve.explanation
    if solve.detail:
        result["detail"] = solve.detail
    return result


def solution_table(solve: PlatformSolve) -> str:
    """The packages of one solution as a text table, for a log or an output channel."""
    lines = [lens_title(solve)]
    if solve.status == "unsatisfiable":
        lines.append(solve.explanation.rstrip())
    rows = [(p.name, p.version, p.build, p.channel, format_size(p.size) if p.size is not None else "?")
            for p in sorted(solve.packages, key=lambda p: p.name)]
    if rows:
        widths = [max(len(r[i]) for r in rows) for i in range(4)]
        for row in rows:
            lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:4])) + "  " + row[4])
    return "\n".join(lines)
