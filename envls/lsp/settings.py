"""Typed settings: from `initializationOptions` and the `envls` section of `workspace/configuration`.

A bad value is reported and ignored; the default stays in force (jedi-language-server's way).
"""

from __future__ import annotations

import dataclasses
import logging
import os
from dataclasses import dataclass, field
from typing import Any

from envls.core.analysis import AnalysisOptions
from envls.host.cuda import check_cuda_setting
from envls.session import SessionOptions, solve_default, solve_timeout_default

log = logging.getLogger(__name__)

_LOG_LEVELS = ("debug", "info", "warning", "error")


@dataclass(frozen=True)
class Settings:
    """Every option envls reads, with its default. The README documents each one."""

    disable: tuple[str, ...] = ()
    log_level: str = "info"
    trusted: bool = True
    channel_checks: bool = field(default_factory=lambda: channel_checks_default())
    platforms: tuple[str, ...] = ()
    channel_refresh_hours: float = 6.0
    cache_dir: str = ""
    cuda_version: str = ""
    conda_path: str = ""
    solve: bool = field(default_factory=lambda: solve_default())
    solve_timeout: float = field(default_factory=lambda: solve_timeout_default())
    expand_environment_variables: bool = False
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


def channel_checks_default(environ: dict[str, str] | None = None) -> bool:
    """Channel checks are on unless ENVLS_CHANNEL_CHECKS=0 (for machines with no channel to reach)."""
    value = (environ if environ is not None else os.environ).get("ENVLS_CHANNEL_CHECKS", "1")
    return value.strip().lower() not in ("0", "false", "no", "off")


_ALIASES = {"logLevel": "log_level", "disabledCodes": "disable", "channelChecks": "channel_checks",
            "channelRefreshHours": "channel_refresh_hours", "cacheDir": "cache_dir", "cudaVersion": "cuda_version",
            "condaPath": "conda_path", "solveTimeout": "solve_timeout",
            "expandEnvironmentVariables": "expand_environment_variables"}
_BOOLS = ("trusted", "channel_checks", "solve", "expand_environment_variables")


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
        name = _ALIASES.get(key, key)
        if name == "disable":
            if isinstance(value, list) and all(isinstance(v, str) for v in value):
                values["disable"] = tuple(value)
            else:
                problems.append(f"envls.{key} must be a list of diagnostic codes; ignored")
        elif name == "log_level":
            if isinstance(value, str) and value.lower() in _LOG_LEVELS:
                values["log_level"] = value.lower()
            else:
                problems.append(f"envls.{key} must be one of {', '.join(_LOG_LEVELS)}; ignored")
        elif name in _BOOLS:
            if isinstance(value, bool):
                values[name] = value
            else:
                problems.append(f"envls.{key} must be true or false; ignored")
        elif name == "platforms":
            if isinstance(value, list) and all(isinstance(v, str) and "-" in v for v in value):
                values["platforms"] = tuple(value)
            else:
                problems.append(f"envls.{key} must be a list of conda subdirs such as linux-64; ignored")
        elif name == "solve_timeout":
            if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
                values[name] = float(value)
            else:
                problems.append(f"envls.{key} must be a positive number of seconds; ignored")
        elif name == "channel_refresh_hours":
            if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
                values[name] = float(value)
            else:
                problems.append(f"envls.{key} must be a positive number of hours; ignored")
        elif name in ("cache_dir", "conda_path"):
            if isinstance(value, str):
                values[name] = value
            else:
                problems.append(f"envls.{key} must be a path; ignored")
        elif name == "cuda_version":
            problem = check_cuda_setting(value)
            if problem is None:
                values[name] = str(value).strip()
            else:
                problems.append(problem)
        else:
            log.debug("ignoring unknown setting envls.%s", key)
    return dataclasses.replace(base, **values, problems=tuple(problems))
