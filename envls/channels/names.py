"""Channel names to URLs, as conda resolves them: a name under the channel alias (or a custom channel), a URL,
a local path, `defaults` and other multichannels, `nodefaults`; with the configuration read by
envls/channels/condarc.py.
"""

from __future__ import annotations

import functools
import os
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path, PureWindowsPath
from typing import Literal

from rattler import Channel, ChannelConfig, Subdir

from envls.channels.condarc import DEFAULTS, URL_SCHEME, CondaConfig

NODEFAULTS = "nodefaults"
# conda's built-in default channels: what `defaults` stands for when `default_channels` is not configured,
# whatever the channel alias (conda/base/constants.py DEFAULT_CHANNELS_UNIX / DEFAULT_CHANNELS_WIN, chosen
# in conda/base/context.py `Context.default_channels` and `Context.custom_multichannels`).
DEFAULT_CHANNELS_UNIX = ("https://repo.anaconda.com/pkgs/main", "https://repo.anaconda.com/pkgs/r")
DEFAULT_CHANNELS_WIN = (*DEFAULT_CHANNELS_UNIX, "https://repo.anaconda.com/pkgs/msys2")
ChannelKind = Literal["name", "url", "path", "multichannel", "defaults"]

# conda's `is_path`: ./x, ..x, ~x, /x, C:\x or C:/x, and UNC paths; plus the bare "." and ".\x".
_PATH = re.compile(r"^(\./|\.\.|~|/|[A-Za-z]:[/\\]|\\\\|\.\\|\.$)")
_WINDOWS_PATH = re.compile(r"^([A-Za-z]:[/\\]|\\\\)")
_TOKEN = re.compile(r"/t/[A-Za-z0-9-]+(?=/|$)")
_CREDENTIALS = re.compile(r"(?<=://)[^/@]*@")


@dataclass(frozen=True)
class ResolvedChannel:
    given: str
    name: str
    urls: tuple[str, ...]
    kind: ChannelKind
    # A subdir written after the channel (`conda-forge/linux-64`, `https://host/ch/noarch`) limits it to that subdir.
    platform: str | None = None


@functools.cache
def default_channel_alias() -> str:
    """py-rattler's channel alias (the same as conda's), read off the URL it builds for a name."""
    probe = "envls-probe"
    return Channel(probe).base_url.rstrip("/").removesuffix(probe).rstrip("/")


def effective_channel_alias(config: CondaConfig) -> str:
    return (config.channel_alias or default_channel_alias()).rstrip("/")


def resolve_channel(given: str, config: CondaConfig, root_dir: Path | None = None) -> ResolvedChannel:
    """One channel as conda reads it: a URL, a local path, a multichannel, or a name under an alias."""
    text = given.strip()
    if URL_SCHEME.match(text):
        base, platform = _split_platform(text.rstrip("/"))
        if text.lower().startswith("file:"):
            return ResolvedChannel(given, base, (base,), "path", platform)
        return ResolvedChannel(given, _canonical_name(base, config), (base,), "url", platform)
    if _PATH.match(text):
        base, platform = _split_platform(_path_url(text, root_dir))
        return ResolvedChannel(given, base, (base,), "path", platform)
    name, platform = _split_platform(text.strip("/"))
    if name == DEFAULTS:
        # conda reserves the name: a custom multichannel called `defaults` does not replace it (context.py
        # `custom_multichannels` puts the reserved ones last, "reserved overrides custom").
        members = builtin_default_channels() if config.default_channels is None else config.default_channels
        return ResolvedChannel(given, DEFAULTS, _member_urls(members, config, root_dir), "defaults", platform)
    if name in config.custom_multichannels:
        members = config.custom_multichannels[name]
        return ResolvedChannel(given, name, _member_urls(members, config, root_dir), "multichannel", platform)
    return ResolvedChannel(given, name, (_name_url(name, config),), "name", platform)


def builtin_default_channels(platform: str = sys.platform) -> tuple[str, ...]:
    """conda's default channels on this operating system (conda/base/constants.py `DEFAULT_CHANNELS`)."""
    return DEFAULT_CHANNELS_WIN if platform == "win32" else DEFAULT_CHANNELS_UNIX


def effective_channels(
    file_channels: Sequence[str] | None, config: CondaConfig, root_dir: Path | None = None
) -> list[ResolvedChannel]:
    """The channels `conda env create` searches for a file that lists `file_channels`, highest priority first.

    As conda does: the file's channels, then the configured `channels` unless the file lists `nodefaults`
    (which is not a channel). A URL already searched through an earlier channel is not searched again.
    """
    written = [text for text in file_channels or () if text.strip() != NODEFAULTS]
    nodefaults = len(written) < len(file_channels or ())
    result: list[ResolvedChannel] = []
    seen: set[str] = set()
    for text in written if nodefaults else [*written, *config.channels]:
        channel = resolve_channel(text, config, root_dir)
        fresh = tuple(url for url in channel.urls if url not in seen)
        if not fresh:
            continue
        seen.update(fresh)
        result.append(channel if fresh == channel.urls else replace(channel, urls=fresh))
    return result


def _name_url(name: str, config: CondaConfig) -> str:
    # conda tries the whole name, then drops path segments from the end: `pkgs/main/x` can match `pkgs/main`.
    parts = name.split("/")
    for end in range(len(parts), 0, -1):
        base = config.custom_channels.get("/".join(parts[:end]))
        if base is not None:
            return f"{base.rstrip('/')}/{name}"
    return f"{effective_channel_alias(config)}/{name}"


def _member_urls(members: Sequence[str], config: CondaConfig, root_dir: Path | None) -> tuple[str, ...]:
    """Members of `defaults` or a custom multichannel: conda puts their names under the alias only."""
    urls: list[str] = []
    for member in members:
        text = member.strip()
        if URL_SCHEME.match(text):
            urls.append(text.rstrip("/"))
        elif _PATH.match(text):
            urls.append(_path_url(text, root_dir))
        elif text.strip("/"):
            urls.append(f"{effective_channel_alias(config)}/{text.strip('/')}")
    return tuple(dict.fromkeys(urls))


def _canonical_name(url: str, config: CondaConfig) -> str:
    """conda's display name for a URL: the channel name when it sits under a custom channel or the alias."""
    bare = _CREDENTIALS.sub("", _TOKEN.sub("", url, count=1), count=1)
    for name in sorted(config.custom_channels, key=len, reverse=True):
        base = f"{config.custom_channels[name].rstrip('/')}/{name}"
        if bare == base or bare.startswith(base + "/"):
            return name + bare[len(base):]
    alias = _CREDENTIALS.sub("", effective_channel_alias(config), count=1)
    return bare[len(alias) + 1:] if bare.startswith(alias + "/") else bare


def _split_platform(text: str) -> tuple[str, str | None]:
    head, _, last = text.rpartition("/")
    if head and last in _known_subdirs():
        return head.rstrip("/"), last
    return text, None


@functools.cache
def _known_subdirs() -> frozenset[str]:
    return frozenset(str(subdir) for subdir in Subdir.all())


def _path_url(text: str, root_dir: Path | None) -> str:
    """A local channel as a `file://` URL; relative paths count from `root_dir` (the environment file's folder)."""
    root = root_dir if root_dir is not None else Path.cwd()
    # py-rattler reads "." and "~" as channel names, and mangles UNC paths on POSIX: those take the fallback.
    if text not in (".", "~") and not text.startswith("\\\\"):
        try:
            url = Channel(text, ChannelConfig(root_dir=str(root))).base_url
        except Exception:  # py-rattler raises its own error types for text it cannot parse.
            url = ""
        if url.startswith("file://"):
            return url.rstrip("/")
    if _WINDOWS_PATH.match(text):
        return PureWindowsPath(text).as_uri().rstrip("/")
    path = Path(os.path.expanduser(text))
    return Path(os.path.normpath(path if path.is_absolute() else root / path)).as_uri()
