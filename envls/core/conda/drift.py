"""Drift: where the installed environment no longer matches its file.

Pure: an Environment and an InstalledSnapshot (what `envls.host.installed` read from the prefix's
conda-meta and site-packages) in, `env-drift` findings out. A dependency is reported when the environment
lacks it or holds a version, build or channel outside its spec. Whatever cannot be decided (a selector
that names no platform, a version py-rattler or packaging cannot read, a channel the record does not name)
is not reported: drift is a hint, and a wrong hint is worse than none.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from packaging.markers import Marker
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version
from rattler import BuildString, PackageRecord, VersionSpec
from rattler import Version as CondaVersion

from envls.core.conda.selectors import applies
from envls.core.conda.specs import ParsedSpec
from envls.core.environment import Entry, Environment
from envls.core.findings import Finding, Severity, Span

log = logging.getLogger(__name__)

CODE = "env-drift"
_ADVICE = "run Update environment"


@dataclass(frozen=True)
class InstalledPackage:
    """One conda package as its conda-meta record names it."""

    name: str
    version: str
    build: str
    channel: str = ""  # a URL (`https://conda.anaconda.org/conda-forge/linux-64`), a name, or "" when unknown
    build_number: int = 0
    subdir: str = ""
    md5: str = ""


def _no_packages() -> Mapping[str, InstalledPackage]:
    return MappingProxyType({})


@dataclass(frozen=True)
class InstalledSnapshot:
    """What one prefix holds: conda packages by lower-case name, pip distributions by PEP 503 name.

    `pip_packages` is None when site-packages was not read (no Python, or not looked at): then pip
    requirements are not checked. `platform` is the subdir the environment was built for, when known.
    `exists` is False when the prefix holds no environment: then nothing is reported, since there is
    nothing to drift from (creating it is another matter).
    """

    prefix: str
    packages: Mapping[str, InstalledPackage] = field(default_factory=_no_packages, hash=False)
    pip_packages: Mapping[str, str] | None = field(default=None, hash=False)
    platform: str | None = None
    exists: bool = True


def drift_findings(env: Environment, installed: InstalledSnapshot) -> list[Finding]:
    """An `env-drift` finding for each dependency the installed environment does not satisfy."""
    if not installed.exists:
        return []
    findings = list(_conda(env, installed))
    if installed.pip_packages is not None:
        findings.extend(_pip(env, installed, installed.pip_packages))
    return findings


def _applies_here(entry: Entry, installed: InstalledSnapshot) -> bool:
    if not entry.selector:
        return True
    # Without the environment's platform, or with a selector about something else, nothing sure can be said.
    return installed.platform is not None and applies(entry.selector, installed.platform) is True


def _conda(env: Environment, installed: InstalledSnapshot) -> Iterator[Finding]:
    for entry in env.conda:
        parsed = entry.parsed
        name = parsed.name
        if parsed.spec is None or name is None or name.startswith("__") or not _applies_here(entry, installed):
            continue
        spec_text = entry.text.strip()
        package = installed.packages.get(name)
        if package is None:
            yield Finding(CODE, Severity.INFORMATION,
                          f"`{name}` is not installed in the environment ({installed.prefix}); {_ADVICE}",
                          Span(entry.start, entry.end))
            continue
        matches = _matches(parsed, package)
        if matches is False:
            yield Finding(CODE, Severity.INFORMATION,
                          f"installed {package.name} {package.version} ({package.build}) does not match "
                          f"`{spec_text}`; {_ADVICE}", Span(entry.start, entry.end))
        elif matches and parsed.channel and not _same_channel(parsed.channel, package.channel):
            yield Finding(CODE, Severity.INFORMATION,
                          f"installed {package.name} {package.version} comes from `{_channel_name(package.channel)}`, "
                          f"not from `{parsed.channel}` as `{spec_text}` asks; {_ADVICE}", Span(entry.start, entry.end))


def _matches(parsed: ParsedSpec, package: InstalledPackage) -> bool | None:
    """Whether the installed record satisfies the spec; None when that cannot be told."""
    spec = parsed.spec
    assert spec is not None
    try:
        if spec.sha256 is not None or (spec.md5 is not None and not package.md5):
            # The prefix record's hashes are not read (see envls.host.installed): judge the version alone.
            return spec.version is None or VersionSpec(str(spec.version)).matches(CondaVersion(package.version))
        record = PackageRecord(package.name, package.version, BuildString(package.build), package.build_number,
                               package.subdir or "noarch", md5=bytes.fromhex(package.md5) if package.md5 else None)
        return bool(spec.matches(record))
    except Exception as error:  # py-rattler raises its own types for versions and builds it cannot read
        log.debug("drift: cannot compare %s %s with `%s`: %s", package.name, package.version, parsed.text, error)
        return None


def _channel_path(text: str) -> str:
    """A channel URL or name without scheme, host, credentials, token and trailing subdir: `conda-forge`."""
    path = text.strip().rstrip("/")
    if "://" in path:
        path = path.split("://", 1)[1]
        path = path.split("/", 1)[1] if "/" in path else ""
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 2 and parts[0] == "t":
        parts = parts[2:]  # a token: /t/<token>/conda-forge
    if parts and (parts[-1] == "noarch" or ("-" in parts[-1] and parts[-1].split("-")[0] in _SUBDIR_OS)):
        parts = parts[:-1]
    return "/".join(parts)


_SUBDIR_OS = ("linux", "osx", "win", "emscripten", "wasi", "freebsd", "zos")


def _channel_name(channel: str) -> str:
    return _channel_path(channel) or channel


def _same_channel(wanted: str, installed: str) -> bool:
    """True unless the record plainly comes from another channel (`defaults` and unknown records always pass)."""
    if not installed.strip() or installed.strip() == "<unknown>" or wanted.strip() in ("defaults", ""):
        return True
    want, have = _channel_path(wanted), _channel_path(installed)
    if not want or not have:
        return True
    # A mirror under another channel alias keeps the channel's name at the end of the path.
    return have == want or have.endswith("/" + want) or want.endswith("/" + have)


def _pip(env: Environment, installed: InstalledSnapshot, distributions: Mapping[str, str]) -> Iterator[Finding]:
    marker_environment = _marker_environment(installed)
    for section in env.pip:
        for entry in section.entries:
            line = entry.pip_line
            requirement = line.requirement
            if line.kind != "requirement" or requirement is None or requirement.url:
                continue
            if requirement.marker is not None and not _marker_holds(requirement.marker, marker_environment):
                continue
            name = str(canonicalize_name(requirement.name))
            version = distributions.get(name)
            text = entry.text.split("#", 1)[0].strip()
            if version is None:
                yield Finding(CODE, Severity.INFORMATION,
                              f"pip package `{requirement.name}` is not installed in the environment "
                              f"({installed.prefix}); {_ADVICE}", Span(entry.start, entry.end))
                continue
            if not requirement.specifier:
                continue
            try:
                ok = requirement.specifier.contains(Version(version), prereleases=True)
            except InvalidVersion:
                continue
            if not ok:
                yield Finding(CODE, Severity.INFORMATION,
                              f"installed pip package {requirement.name} {version} does not match `{text}`; {_ADVICE}",
                              Span(entry.start, entry.end))


_MARKER_PLATFORM = {"linux": ("linux", "Linux", "posix"), "osx": ("darwin", "Darwin", "posix"),
                    "win": ("win32", "Windows", "nt")}
_MARKER_MACHINE = {"64": "x86_64", "aarch64": "aarch64", "arm64": "arm64", "ppc64le": "ppc64le", "s390x": "s390x"}


def _marker_environment(installed: InstalledSnapshot) -> dict[str, str]:
    """The marker variables the environment's own Python would report, as far as the snapshot tells them."""
    values: dict[str, str] = {}
    python = installed.packages.get("python")
    if python is not None:
        values["python_full_version"] = python.version
        values["python_version"] = ".".join(python.version.split(".")[:2])
    if installed.platform:
        system, _, arch = installed.platform.partition("-")
        if system in _MARKER_PLATFORM:
            values["sys_platform"], values["platform_system"], values["os_name"] = _MARKER_PLATFORM[system]
        if arch in _MARKER_MACHINE:
            values["platform_machine"] = "AMD64" if system == "win" and arch == "64" else _MARKER_MACHINE[arch]
    return values


def _marker_holds(marker: Marker, values: dict[str, str]) -> bool:
    """Whether the requirement applies; variables the snapshot does not tell come from the running Python."""
    try:
        return bool(marker.evaluate(values))
    except Exception:  # an undefined variable or a comparison packaging cannot make
        return False
