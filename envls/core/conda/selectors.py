"""Platform selectors (`# [win]`, `sel(linux)`): which target platforms an entry applies to.

Only platform words are understood (linux, osx, win, unix, the architectures and their
combinations with and/or/not); a selector that names anything else (python versions, say)
is taken to apply everywhere, so no check is made that could be wrong.
"""

from __future__ import annotations

import ast
import functools


def _words(subdir: str) -> dict[str, bool]:
    os_name, _, arch = subdir.partition("-")
    words = {
        "linux": os_name == "linux",
        "osx": os_name == "osx",
        "win": os_name == "win",
        "unix": os_name in ("linux", "osx"),
        "x86_64": arch == "64",
        "x86": arch in ("32", "64"),
        "aarch64": arch == "aarch64",
        "arm64": arch in ("arm64", "aarch64"),
        "ppc64le": arch == "ppc64le",
        "s390x": arch == "s390x",
        "armv7l": arch == "armv7l",
        "linux64": subdir == "linux-64",
        "linux32": subdir == "linux-32",
        "win64": subdir == "win-64",
        "win32": subdir == "win-32",
        "osx64": subdir == "osx-64",
        "emscripten": os_name == "emscripten",
    }
    words["64bit"] = arch in ("64", "aarch64", "arm64", "ppc64le", "s390x")
    return words


def _evaluate(node: ast.AST, words: dict[str, bool]) -> bool | None:
    if isinstance(node, ast.Name):
        return words.get(node.id)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        inner = _evaluate(node.operand, words)
        return None if inner is None else not inner
    if isinstance(node, ast.BoolOp):
        values = [_evaluate(v, words) for v in node.values]
        if any(v is None for v in values):
            return None
        return all(values) if isinstance(node.op, ast.And) else any(values)
    return None


@functools.lru_cache(maxsize=1024)
def applies(selector: str | None, subdir: str) -> bool | None:
    """True or False when the selector decides for ``subdir``; None when it names something else."""
    if not selector:
        return True
    if subdir == "noarch":
        return True
    try:
        tree = ast.parse(selector.strip(), mode="eval")
    except SyntaxError:
        return None
    return _evaluate(tree.body, _words(subdir))


def platforms_for(selector: str | None, platforms: tuple[str, ...]) -> tuple[str, ...]:
    """The target platforms an entry under ``selector`` is meant for (all of them when unsure)."""
    decided = [p for p in platforms if applies(selector, p) is not False]
    if any(applies(selector, p) is None for p in platforms):
        return platforms
    return tuple(decided)
