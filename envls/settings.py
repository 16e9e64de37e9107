"""Typed settings: from `initializationOptions`, the `envls` section of `workspace/configuration`, or the CLI.

Each option is a dataclass field that carries its check; the JSON key is the field's name in camelCase
(`log_level` -> `logLevel`; the snake_case name is accepted too). A bad value is reported and ignored,
and the default stays in force (jedi-language-server's way). Neutral ground: the LSP layer and the
command line both read it.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from envls.core.analysis import AnalysisOptions
from envls.host.cuda import check_cuda_setting
from envls.session import SessionOptions, channel_checks_default, solve_default, solve_timeout_default

log = logging.getLogger(__name__)

LOG_LEVELS = ("debug", "info", "warning", "error")


class BadSetting(ValueError):
    """A value an option refuses; the message completes "envls.KEY ..." (or is whole, with ``whole``)."""

    def __init__(self, message: str, whole: bool = False) -> None:
        super().__init__(message)
        self.whole = whole


Check = Callable[[Any], Any]  # the value as the option holds it, or BadSetting


def _codes(value: Any) -> tuple[str, ...]:
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise BadSetting("must be a list of diagnostic codes")


def _log_level(value: Any) -> str:
    if isinstance(value, str) and value.lower() in LOG_LEVELS:
        return value.lower()
    raise BadSetting(f"must be one of {', '.join(LOG_LEVELS)}")


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise BadSetting("must be true or false")


def _subdirs(value: Any) -> tuple[str, ...]:
    if isinstance(value, list) and all(isinstance(v, str) and "-" in v for v in value):
        return tuple(value)
    raise BadSetting("must be a list of conda subdirs such as linux-64")


def _positive(unit: str) -> Check:
    def check(value: Any) -> float:
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
            return float(value)
        raise BadSetting(f"must be a positive number of {unit}")

    return check


def _path(value: Any) -> str:
    if isinstance(value, str):
        return value
    raise BadSetting("must be a path")


def _cuda(value: Any) -> str:
    problem = check_cuda_setting(value)
    if problem is not None:
        raise BadSetting(problem, whole=True)
    return str(value).strip()


def option(default: Any, check: Check, *, aliases: tuple[str, ...] = (),
           default_factory: Callable[[], Any] | None = None) -> Any:
    """A dataclass field for one option: its default, its check, and other keys it is known by."""
    metadata = {"check": check, "aliases": aliases}
    if default_factory is not None:
        return field(default_factory=default_factory, metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass(frozen=True)
class Settings:
    """Every option envls reads, with its default. The README documents each one."""

    disable: tuple[str, ...] = option((), _codes, aliases=("disabledCodes",))
    log_level: str = option("info", _log_level)
    trusted: bool = option(True, _bool)
    channel_checks: bool = option(None, _bool, default_factory=channel_checks_default)
    platforms: tuple[str, ...] = option((), _subdirs)
    channel_refresh_hours: float = option(6.0, _positive("hours"))
    cache_dir: str = option("", _path)
    cuda_version: str = option("", _cuda)
    conda_path: str = option("", _path)
    solve: bool = option(None, _bool, default_factory=solve_default)
    solve_timeout: float = option(None, _positive("seconds"), default_factory=solve_timeout_default)
    expand_environment_variables: bool = option(False, _bool)
    problems: tuple[str, ...] = field(default=(), compare=False)

    def analysis_options(self) -> AnalysisOptions:
        return AnalysisOptions(disabled_codes=frozenset(self.disable))

    def session_options(self) -> SessionOptions:
        return SessionOptions(
            channel_checks=self.channel_checks, platforms=self.platforms, trusted=self.trusted,
            cache_dir=self.cache_dir, channel_refresh_hours=self.channel_refresh_hours,
            cuda_version=self.cuda_version, conda_path=self.conda_path, solve=self.solve,
            solve_timeout=self.solve_timeout, expand_environment_variables=self.expand_environment_variables,
        )


def _camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(part.title() for part in rest)


# Every key a client may use, derived from the fields: camelCase, snake_case and the aliases.
_OPTIONS: dict[str, dataclasses.Field[Any]] = {
    key: f for f in dataclasses.fields(Settings) if "check" in f.metadata
    for key in (_camel(f.name), f.name, *f.metadata["aliases"])
}


def parse_settings(raw: Any, base: Settings | None = None) -> Settings:
    """Settings from a client's JSON value; problems are collected in ``Settings.problems``."""
    base = base or Settings()
    if raw is None:
        return dataclasses.replace(base, problems=())
    if not isinstance(raw, dict):
        return dataclasses.replace(base, problems=(f"envls settings must be an object, not {type(raw).__name__}",))
    if isinstance(raw.get("envls"), dict):
        raw = raw["envls"]
    values: dict[str, Any] = {}
    problems: list[str] = []
    for key, value in raw.items():
        option_field = _OPTIONS.get(key)
        if option_field is None:
            log.debug("ignoring unknown setting envls.%s", key)
            continue
        try:
            values[option_field.name] = option_field.metadata["check"](value)
        except BadSetting as bad:
            problems.append(str(bad) if bad.whole else f"envls.{key} {bad}; ignored")
    return dataclasses.replace(base, **values, problems=tuple(problems))
