"""The channel stage against real repodata served over HTTP on 127.0.0.1 (and nothing else).

Each test gets its own loopback server (tests/channel_server.py) with the shared snapshots, a
`.condarc` that puts every channel name under that server, and its own cache folder. The I/O
layer (ChannelStore, ChannelService) builds the facts; `with_channels` turns them into findings,
which are checked by code and 1-based line.
"""

from __future__ import annotations

import asyncio
import json
import socket
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from channel_server import CHANNELS, ChannelServer, condarc

from envls.channels.condarc import CondaConfig, load_config
from envls.channels.service import ChannelService
from envls.channels.store import ChannelStore
from envls.core.analysis import Analysis, analyze, with_channels
from envls.core.conda.channel_facts import ChannelFacts
from envls.core.conda.channel_rules import channel_findings
from envls.core.findings import Finding

pytestmark = pytest.mark.skipif(not CHANNELS.is_dir(), reason="the shared channel snapshots are not here")

FORGE = "conda-forge-py39-subchannel"  # python 3.9.0..3.9.19, pip; no numpy
PYTORCH = "pytorch-rattler"  # linux-64 only: pytorch 1.5.1..2.1.0
INTEL = "intel-2023-08-28"  # linux-64, osx-64: numpy 1.14.3..1.24.3
TIMEOUT = 1.0  # seconds; the store's limit per fetch, so a hanging server costs one second


@pytest.fixture
def server() -> Iterator[ChannelServer]:
    with ChannelServer() as srv:
        yield srv


def config_for(tmp_path: Path, srv: ChannelServer, channels: list[str] | None = None) -> CondaConfig:
    rc = condarc(tmp_path, srv.base_url, channels)
    config = load_config({"CONDARC": str(rc)}, home=tmp_path / "home")
    assert config.sources == (str(rc),) and not config.problems
    return config


def service_for(tmp_path: Path, srv: ChannelServer, platforms: tuple[str, ...] = ("linux-64",),
                channels: list[str] | None = None, config: CondaConfig | None = None) -> ChannelService:
    store = ChannelStore(cache_dir=tmp_path / "cache", timeout=TIMEOUT)
    return ChannelService(config or config_for(tmp_path, srv, channels), store, platforms=platforms)


async def analyzed(service: ChannelService, text: str) -> tuple[Analysis, ChannelFacts]:
    analysis = analyze(textwrap.dedent(text).lstrip("\n"))
    facts = await service.facts(analysis.environment, None)
    return with_channels(analysis, facts), facts


CHANNEL_CODES = {"package-not-found", "version-not-found", "build-not-found", "platform-unavailable",
                 "unknown-channel", "channel-unreachable", "channel-order"}


def channel_only(analysis: Analysis) -> list[Finding]:
    """The findings of the channel stage (the fast ones are tested elsewhere)."""
    return [f for f in analysis.findings if f.code in CHANNEL_CODES]


def lines(analysis: Analysis) -> list[tuple[str, int]]:
    index = analysis.document.index
    return [(f.code, index.line_of(f.span.start) + 1) for f in channel_only(analysis)]


def message(analysis: Analysis, code: str) -> str:
    found = [f for f in analysis.findings if f.code == code]
    assert len(found) == 1, [(f.code, f.message) for f in analysis.findings]
    return found[0].message


def covered(analysis: Analysis, finding: Finding) -> str:
    return analysis.document.text[finding.span.start:finding.span.end]


# -- packages, versions, builds, platforms ---------------------------------------------------------


async def test_package_not_found_with_did_you_mean(tmp_path: Path, server: ChannelServer) -> None:
    analysis, _ = await analyzed(service_for(tmp_path, server), f"""
        channels:
          - {FORGE}
        dependencies:
          - python=3.9
          - pythn
          - pip
        """)
    assert lines(analysis) == [("package-not-found", 5)]
    finding = channel_only(analysis)[0]
    assert covered(analysis, finding) == "pythn"
    assert finding.message == f"no package `pythn` in {FORGE} for linux-64; did you mean `python`?"
    assert finding.fixes[0].title == "Change to `python`" and finding.fixes[0].preferred


async def test_did_you_mean_for_the_first_unknown_names_only(tmp_path: Path, server: ChannelServer) -> None:
    """Past MAX_SUGGESTED unknown names a file holds no typos (each suggestion is a search of the channel's
    names): every name is still reported, the later ones without suggestions."""
    from envls.core.conda.channel_rules import MAX_SUGGESTED

    unknown = "".join(f"  - made-up-{i}\n" for i in range(MAX_SUGGESTED + 5))
    analysis, _ = await analyzed(service_for(tmp_path, server), f"channels: [{FORGE}]\ndependencies:\n{unknown}"
                                 "  - pythn\n")
    found = channel_only(analysis)
    assert len(found) == MAX_SUGGESTED + 6 and {f.code for f in found} == {"package-not-found"}
    assert found[-1].message == f"no package `pythn` in {FORGE} for linux-64" and not found[-1].fixes
    early, _ = await analyzed(service_for(tmp_path, server), f"channels: [{FORGE}]\ndependencies:\n  - pythn\n{unknown}")
    assert channel_only(early)[0].message.endswith("did you mean `python`?")


async def test_version_not_found_lists_nearest_versions(tmp_path: Path, server: ChannelServer) -> None:
    analysis, _ = await analyzed(service_for(tmp_path, server), f"""
        channels: [{INTEL}]
        dependencies:
          - numpy=1.25
          - python>=3.10
        """)
    assert lines(analysis) == [("version-not-found", 3)]
    text = message(analysis, "version-not-found")
    assert text.startswith("no version of `numpy` matches `1.25.*`; nearest: 1.24.3")
    assert channel_only(analysis)[0].fixes[0].title == "Change to `numpy=1.24.3`"


async def test_build_not_found_lists_builds(tmp_path: Path, server: ChannelServer) -> None:
    analysis, _ = await analyzed(service_for(tmp_path, server), f"""
        channels: [{FORGE}]
        dependencies:
          - python=3.9.0=h2a148a8_4_cpython
          - python=3.9.0=nosuchbuild
        """)
    assert [c for c in lines(analysis)] == [("build-not-found", 4)]
    text = message(analysis, "build-not-found")
    assert "version ==3.9.0 exists, but no build matches `nosuchbuild`" in text
    assert "`h2a148a8_4_cpython`" in text


async def test_platform_unavailable(tmp_path: Path, server: ChannelServer) -> None:
    analysis, _ = await analyzed(service_for(tmp_path, server), f"""
        channels:
          - {PYTORCH}
        platforms: [linux-64, osx-arm64]
        dependencies:
          - pytorch=2.1
        """)
    assert lines(analysis) == [("platform-unavailable", 5)]
    assert message(analysis, "platform-unavailable") == (
        "`pytorch=2.1` has no build for osx-arm64 (it has builds for linux-64); the environment cannot be created there")


async def test_configured_platforms_used_when_file_has_none(tmp_path: Path, server: ChannelServer) -> None:
    service = service_for(tmp_path, server, platforms=("linux-64", "osx-arm64"))
    analysis, facts = await analyzed(service, f"""
        channels: [{PYTORCH}]
        dependencies:
          - pytorch
        """)
    assert facts.platforms == ("linux-64", "osx-arm64")
    assert lines(analysis) == [("platform-unavailable", 3)]


async def test_selector_limits_platforms(tmp_path: Path, server: ChannelServer) -> None:
    analysis, _ = await analyzed(service_for(tmp_path, server), f"""
        channels: [{PYTORCH}]
        platforms: [linux-64, osx-arm64]
        dependencies:
          - pytorch  # [linux]
          - torchvision  # [osx]
        """)
    # pytorch is meant for linux only: no platform-unavailable. torchvision is asked for on osx-arm64 alone.
    assert lines(analysis) == [("package-not-found", 5)]
    assert message(analysis, "package-not-found") == f"`torchvision` exists in {PYTORCH}, but not for osx-arm64"


async def test_noarch_packages_count_for_every_platform(tmp_path: Path, server: ChannelServer) -> None:
    analysis, _ = await analyzed(service_for(tmp_path, server, platforms=("linux-64", "osx-arm64", "win-64")), f"""
        channels: [{FORGE}]
        dependencies:
          - python=3.9
          - pip
          - pip>=20
        """)
    assert lines(analysis) == []


async def test_virtual_packages_and_pip_section_are_not_looked_up(tmp_path: Path, server: ChannelServer) -> None:
    analysis, _ = await analyzed(service_for(tmp_path, server), f"""
        channels: [{FORGE}]
        dependencies:
          - __glibc>=2.17
          - pip
          - pip:
              - not-a-conda-package
        """)
    assert lines(analysis) == []


# -- channels ----------------------------------------------------------------------------------------


async def test_unknown_channel_suggests_defaults(tmp_path: Path, server: ChannelServer) -> None:
    analysis, facts = await analyzed(service_for(tmp_path, server), f"""
        channels:
          - {FORGE}
          - default
          - no-such-channel
        dependencies:
          - python
        """)
    assert lines(analysis) == [("unknown-channel", 3), ("unknown-channel", 4)]
    typo, missing = channel_only(analysis)
    assert typo.message.endswith("did you mean `defaults`?")
    assert typo.fixes[0].title == "Change to `defaults`"
    assert f"{server.base_url}/channels/no-such-channel" in missing.message
    assert "did you mean" not in missing.message
    assert [c.state for c in facts.channels] == ["ok", "missing", "missing"]


@pytest.mark.parametrize("fault", ["500", "truncate", "hang", "stopped"])
async def test_unreachable_channel_hides_package_findings(tmp_path: Path, server: ChannelServer, fault: str) -> None:
    service = service_for(tmp_path, server)
    if fault == "stopped":
        server.stop()
    else:
        server.fault(PYTORCH, fault)  # type: ignore[arg-type]
    started = time.monotonic()
    analysis, facts = await analyzed(service, f"""
        channels:
          - {PYTORCH}
        dependencies:
          - pytorch=99
          - pytorchh
        """)
    assert time.monotonic() - started < TIMEOUT + 3
    # Nothing true can be said about the packages: no package-not-found, no version-not-found.
    assert lines(analysis) == [("channel-unreachable", 2)]
    finding = channel_only(analysis)[0]
    assert finding.severity.label == "information"
    detail = {"500": "server error 500", "truncate": "invalid repodata", "hang": "timed out",
              "stopped": "connection refused"}[fault]
    assert finding.message == f"channel `{PYTORCH}` could not be reached ({detail}); its packages are not checked"
    assert facts.channels[0].state == "unreachable"


async def test_one_unreachable_channel_silences_only_what_it_could_provide(tmp_path: Path,
                                                                          server: ChannelServer) -> None:
    server.fault(PYTORCH, "500")
    analysis, _ = await analyzed(service_for(tmp_path, server), f"""
        channels:
          - {FORGE}
          - {PYTORCH}
        dependencies:
          - python=3.8
          - {FORGE}::pythn
          - {PYTORCH}::pytorch=99
        """)
    # python could come from the unreachable channel too; the qualified `pythn` could not.
    assert lines(analysis) == [("channel-unreachable", 3), ("package-not-found", 6)]


async def test_unreachable_without_channels_is_reported_at_dependencies(tmp_path: Path, server: ChannelServer) -> None:
    service = service_for(tmp_path, server, channels=[FORGE])
    server.stop()
    analysis, _ = await analyzed(service, """
        name: demo
        dependencies:
          - pythn
        """)
    assert lines(analysis) == [("channel-unreachable", 2)]
    assert covered(analysis, channel_only(analysis)[0]) == "dependencies"


async def test_fault_cleared_after_recovery_is_not_remembered_for_a_new_store(tmp_path: Path,
                                                                              server: ChannelServer) -> None:
    server.fault(FORGE, "500")
    first, _ = await analyzed(service_for(tmp_path, server), f"channels: [{FORGE}]\ndependencies: [pythn]\n")
    assert lines(first) == [("channel-unreachable", 1)]
    server.fault(FORGE, None)
    second, _ = await analyzed(service_for(tmp_path, server), f"channels: [{FORGE}]\ndependencies: [pythn]\n")
    assert lines(second) == [("package-not-found", 2)]


async def test_channel_order(tmp_path: Path, server: ChannelServer) -> None:
    # bioconda is not on the loopback server (it reads as unknown); the order rules need no data.
    service = service_for(tmp_path, server)
    alone, _ = await analyzed(service, """
        channels:
          - bioconda
        dependencies:
          - samtools
        """)
    assert ("channel-order", 2) in lines(alone)
    order = [f for f in channel_only(alone) if f.code == "channel-order"][0]
    assert order.message.startswith("bioconda needs conda-forge")
    assert order.fixes[0].title == "Add `conda-forge` before `bioconda`"
    assert order.fixes[0].edits[0].new_text == "  - conda-forge\n"

    after, _ = await analyzed(service, """
        channels:
          - bioconda
          - conda-forge
        dependencies:
          - samtools
        """)
    late = [f for f in channel_only(after) if f.code == "channel-order"]
    assert len(late) == 1 and covered(after, late[0]) == "conda-forge"
    assert after.document.index.line_of(late[0].span.start) + 1 == 3
    assert late[0].related[0].message == "bioconda is listed here"

    fine, _ = await analyzed(service, "channels: [conda-forge, bioconda]\ndependencies: [samtools]\n")
    assert "channel-order" not in [c for c, _ in lines(fine)]


async def test_channel_qualified_specs(tmp_path: Path, server: ChannelServer) -> None:
    analysis, facts = await analyzed(service_for(tmp_path, server), f"""
        channels:
          - {FORGE}
        dependencies:
          - python=3.9
          - {PYTORCH}::pytorch=2.1
          - {PYTORCH}::pytorchh
          - {PYTORCH}::pytorch=9.9
          - pytorch
        """)
    assert lines(analysis) == [("package-not-found", 6), ("version-not-found", 7), ("package-not-found", 8)]
    qualified, version, plain = channel_only(analysis)
    assert qualified.message.startswith(f"no package `pytorchh` in {PYTORCH} for linux-64; did you mean `pytorch`")
    assert version.fixes[0].edits[0].new_text == f"{PYTORCH}::pytorch=2.1.0"
    # Without the channel prefix, pytorch is looked for in the file's channels only.
    # (the channel of the qualified specs is named as the one that has it)
    assert plain.message == f"no package `pytorch` in {FORGE} for linux-64; channel `{PYTORCH}` has it"
    assert [fix.title for fix in plain.fixes] == [f"Add channel `{PYTORCH}`",
                                                  f"Take it from `{PYTORCH}`: `{PYTORCH}::pytorch`"]
    assert [c.given for c in facts.channels] == [FORGE]
    assert [c.given for c in facts.other_channels] == [PYTORCH]


async def test_nodefaults_drops_the_configured_channels(tmp_path: Path, server: ChannelServer) -> None:
    service = service_for(tmp_path, server, channels=[PYTORCH])
    text = "channels:\n  - {forge}\n{extra}dependencies:\n  - python=3.9\n  - pytorch=2.1\n"
    with_defaults, facts = await analyzed(service, text.format(forge=FORGE, extra=""))
    assert lines(with_defaults) == []
    assert [c.given for c in facts.channels] == [FORGE, PYTORCH]
    without, facts = await analyzed(service, text.format(forge=FORGE, extra="  - nodefaults\n"))
    assert lines(without) == [("package-not-found", 6)]
    assert [c.given for c in facts.channels] == [FORGE]


async def test_file_without_channels_uses_the_configured_ones(tmp_path: Path, server: ChannelServer) -> None:
    service = service_for(tmp_path, server, channels=[FORGE, PYTORCH])
    analysis, facts = await analyzed(service, """
        name: demo
        dependencies:
          - python=3.9
          - pytorch=2.1
          - pythn
        """)
    assert [c.given for c in facts.channels] == [FORGE, PYTORCH]
    assert lines(analysis) == [("package-not-found", 5)]
    assert message(analysis, "package-not-found").startswith(f"no package `pythn` in {FORGE}, {PYTORCH} for linux-64")


async def test_defaults_resolve_through_default_channels(tmp_path: Path, server: ChannelServer) -> None:
    # defaults-main-2021-07-01 has linux-aarch64 and noarch.
    service = service_for(tmp_path, server, platforms=("linux-aarch64",))
    analysis, facts = await analyzed(service, """
        channels: [defaults]
        dependencies:
          - python=3.9
          - pytorch=1.8.1
          - tensorflw
        """)
    assert facts.channels[0].urls == (f"{server.base_url}/channels/defaults-main-2021-07-01",)
    assert lines(analysis) == [("package-not-found", 5)]
    assert "did you mean `tensorflow`" in message(analysis, "package-not-found")


async def test_channel_url_in_file(tmp_path: Path, server: ChannelServer) -> None:
    analysis, _ = await analyzed(service_for(tmp_path, server), f"""
        channels:
          - {server.channel(PYTORCH)}
        dependencies:
          - pytorch=2.1
          - torchvison
        """)
    assert lines(analysis) == [("package-not-found", 5)]
    assert "did you mean `torchvision`" in message(analysis, "package-not-found")


# -- the cache ---------------------------------------------------------------------------------------

CACHED_FILE = f"""
channels:
  - {FORGE}
dependencies:
  - python=3.8
  - pythn
  - pip
"""


async def test_offline_from_the_cache(tmp_path: Path, server: ChannelServer) -> None:
    config = config_for(tmp_path, server)
    online, _ = await analyzed(service_for(tmp_path, server, config=config), CACHED_FILE)
    assert lines(online) == [("version-not-found", 4), ("package-not-found", 5)]
    server.stop()
    offline, facts = await analyzed(service_for(tmp_path, server, config=config), CACHED_FILE)
    # The same package findings, from the cached repodata.
    assert [f for f in lines(offline) if f[0] != "channel-unreachable"] == lines(online)
    state = facts.channels[0]
    assert state.state == "ok" and state.from_cache_age is not None and state.from_cache_age < 60
    assert state.detail == "connection refused"


async def test_offline_from_the_cache_says_how_old(tmp_path: Path, server: ChannelServer) -> None:
    config = config_for(tmp_path, server)
    await analyzed(service_for(tmp_path, server, config=config), CACHED_FILE)
    server.stop()
    stamps_path = tmp_path / "cache" / "fetched.json"
    stamps = json.loads(stamps_path.read_text(encoding="utf-8"))
    stamps_path.write_text(json.dumps({k: v - 3 * 3600 for k, v in stamps.items()}), encoding="utf-8")
    offline, _ = await analyzed(service_for(tmp_path, server, config=config), CACHED_FILE)
    assert ("channel-unreachable", 2) in lines(offline)
    assert message(offline, "channel-unreachable") == (
        f"channel `{FORGE}` could not be reached (connection refused); using its cached data from 3 h ago")


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
@pytest.mark.parametrize("online", [True, False], ids=["online", "offline"])
async def test_corrupt_cache(tmp_path: Path, server: ChannelServer, damage: str, online: bool) -> None:
    config = config_for(tmp_path, server)
    first, _ = await analyzed(service_for(tmp_path, server, config=config), CACHED_FILE)
    expected = lines(first)
    files = [p for p in (tmp_path / "cache").rglob("*") if p.is_file() and p.stat().st_size]
    assert any(p.suffix == ".json" and p.stat().st_size > 100_000 for p in files)
    for path in files:
        data = path.read_bytes()
        path.write_bytes({"truncate": data[: len(data) // 2], "garbage": b"\x00{not json", "empty": b""}[damage])
    if not online:
        server.stop()
    analysis, facts = await analyzed(service_for(tmp_path, server, config=config), CACHED_FILE)
    if online:
        assert lines(analysis) == expected  # fetched again
        assert facts.channels[0].state == "ok"
    else:
        # The cache cannot be read and the server is gone: no package is judged.
        assert lines(analysis) == [("channel-unreachable", 2)]


async def test_cache_stamps_survive_a_corrupt_file(tmp_path: Path, server: ChannelServer) -> None:
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "fetched.json").write_text("[1, 2", encoding="utf-8")
    service = service_for(tmp_path, server)
    analysis, _ = await analyzed(service, CACHED_FILE)
    assert lines(analysis) == [("version-not-found", 4), ("package-not-found", 5)]
    stamps = json.loads((tmp_path / "cache" / "fetched.json").read_text(encoding="utf-8"))
    assert f"{server.channel(FORGE)}|linux-64" in stamps


# -- the keystroke path ------------------------------------------------------------------------------


async def test_cached_never_does_io(tmp_path: Path, server: ChannelServer) -> None:
    service = service_for(tmp_path, server)
    text = f"channels: [{FORGE}]\ndependencies:\n  - python=3.9\n"
    env = analyze(text).environment
    assert service.cached(env, None) is None
    assert service.needs_refresh(env, None)
    assert server.requests == []  # nothing was fetched to answer
    assert service.store.known(server.channel(FORGE), "linux-64") is None

    facts = await service.facts(env, None)
    assert server.requests
    server.stop()  # from now on any fetch would fail
    assert service.cached(env, None) is facts
    assert not service.needs_refresh(env, None)
    # A package just typed that the channel has: its records are pending, so a refresh is needed.
    typed = analyze(text + "  - pip\n").environment
    assert service.cached(typed, None) is facts
    assert facts.pending("pip") and service.needs_refresh(typed, None)
    # A name no channel has is not pending: the cached facts already say it is missing.
    unknown = analyze(text + "  - pythn\n")
    assert not service.needs_refresh(unknown.environment, None)
    assert [f.code for f in channel_only(with_channels(unknown, facts))] == ["package-not-found"]


async def test_concurrent_loads_share_one_fetch(tmp_path: Path, server: ChannelServer) -> None:
    store = ChannelStore(cache_dir=tmp_path / "cache", timeout=TIMEOUT)
    url = server.channel(PYTORCH)
    infos = await asyncio.gather(*(store.subdir(url, "linux-64") for _ in range(5)))
    assert all(info is infos[0] for info in infos) and infos[0].state == "ok"
    assert "pytorch" in infos[0].names
    assert server.requests.count(f"/channels/{PYTORCH}/linux-64/repodata.json") <= 1


# -- bugs found while writing these tests ------------------------------------------------------------


def _free_port_containing(digits: str) -> int:
    for port in range(10000, 65535):
        if digits not in str(port):
            continue
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    pytest.skip(f"no free port with {digits} in it")


async def test_server_down_on_port_with_404_is_unreachable(tmp_path: Path) -> None:
    srv = ChannelServer(port=_free_port_containing("404"))
    service = service_for(tmp_path, srv)
    srv.stop()
    analysis, _ = await analyzed(service, f"channels: [{FORGE}]\ndependencies: [python]\n")
    assert lines(analysis) == [("channel-unreachable", 1)]


async def test_unparsable_records_give_no_package_not_found(tmp_path: Path, server: ChannelServer) -> None:
    analysis, _ = await analyzed(service_for(tmp_path, server), """
        channels: [conda-forge-numpy-mamba]
        dependencies:
          - python=3.12
          - numpy
          - pip
        """)
    assert "package-not-found" not in [c for c, _ in lines(analysis)]


async def test_missing_package_names_the_configured_channel_that_has_it(tmp_path: Path,
                                                                       server: ChannelServer) -> None:
    service = service_for(tmp_path, server, channels=[PYTORCH])
    analysis, _ = await analyzed(service, f"""
        channels:
          - {FORGE}
          - nodefaults
        dependencies:
          - pytorch
        """)
    assert lines(analysis) == [("package-not-found", 5)]
    assert f"channel `{PYTORCH}` has it" in message(analysis, "package-not-found")


async def test_qualified_spec_with_unknown_channel(tmp_path: Path, server: ChannelServer) -> None:
    analysis, facts = await analyzed(service_for(tmp_path, server), f"""
        channels: [{FORGE}]
        dependencies:
          - python=3.9
          - no-such-channel::python
        """)
    state = facts.channel("no-such-channel")
    assert state is not None and state.state == "missing"
    assert [line for code, line in lines(analysis) if code in ("unknown-channel", "package-not-found")] == [4]


async def test_qualified_spec_with_unreachable_channel(tmp_path: Path, server: ChannelServer) -> None:
    server.fault(PYTORCH, "500")
    analysis, _ = await analyzed(service_for(tmp_path, server), f"""
        channels: [{FORGE}]
        dependencies:
          - python=3.9
          - {PYTORCH}::pytorch=99
        """)
    assert lines(analysis) == [("channel-unreachable", 4)]


async def test_released_memory_is_read_again_when_needed(tmp_path: Path, server: ChannelServer) -> None:
    service = service_for(tmp_path, server)
    text = f"channels:\n  - {FORGE}\ndependencies:\n  - python=3.9\n"
    await analyzed(service, text)
    service.store.release_memory()  # what a quiet minute does
    analysis, facts = await analyzed(service, text + "  - pip=20.0.2\n  - python=3.7\n")
    assert ("version-not-found", 6) in lines(analysis)  # python=3.7, checked against records read again
    assert facts.records["pip"]


async def test_summaries_from_channeldata(tmp_path: Path, server: ChannelServer) -> None:
    from envls.channels.store import ChannelStore

    url = f"{server.base_url}/formats/conda-sharded-cep16"
    store = ChannelStore(tmp_path / "cache", timeout=5)
    summaries = await store.summaries(url)
    assert summaries["libgcc-ng"] == "The GCC low-level runtime library"
    server.stop()  # offline: the cached copy answers
    again = await ChannelStore(tmp_path / "cache", timeout=1).summaries(url)
    assert again == summaries
    assert await ChannelStore(tmp_path / "other", timeout=1).summaries(url) == {}


async def test_hover_summaries_are_a_session_lookup(tmp_path: Path, server: ChannelServer) -> None:
    from envls.core.features.hover import hover
    from envls.session import Session, SessionOptions

    service = service_for(tmp_path, server)
    url = f"{server.base_url}/formats/conda-sharded-cep16"
    text = f"channels:\n  - {url}\ndependencies:\n  - libgcc-ng\n"
    analysis, facts = await analyzed(service, text)
    assert not any(p.endswith("channeldata.json") for p in server.requests)  # the snapshot never starts it
    session = Session(SessionOptions(cuda_version="none"))
    session._channels = service
    assert "libgcc-ng" not in session.summaries(facts)  # asking starts the load; nothing waits for it
    for _ in range(200):
        if "libgcc-ng" in session.summaries(facts):
            break
        await asyncio.sleep(0.02)
    offset = analysis.document.text.index("libgcc-ng") + 2
    found = hover(analysis.environment, offset, facts, session.summaries(facts))
    assert found is not None and "The GCC low-level runtime library" in found.markdown
    plain = hover(analysis.environment, offset, facts)
    assert plain is not None and "GCC" not in plain.markdown


async def test_exact_match_that_explains_a_missing_version_is_one_error(tmp_path: Path, server: ChannelServer) -> None:
    # intel has python 3.10.8, 3.10.11 and 3.10.12 but no 3.10.0, which is all `==3.10` matches.
    analysis, _ = await analyzed(service_for(tmp_path, server), f"""
        channels: [{INTEL}]
        dependencies:
          - python==3.10
        """)
    [finding] = [f for f in analysis.findings if f.code in ("version-not-found", "suspicious-spec")]
    assert finding.code == "version-not-found" and covered(analysis, finding) == "python==3.10"
    assert finding.message.startswith("no version of `python` matches `==3.10`; nearest: 3.10.12")
    assert finding.message.endswith("`==3.10` is an exact match: it matches 3.10.0 only, not the 3.10.x releases; "
                                    "write `python=3.10` for any 3.10 release")
    assert [(f.title, f.preferred) for f in finding.fixes][:2] == [
        ("Change `==3.10` to `=3.10`", True), ("Change to `python=3.10.12`", False)]


async def test_exact_two_part_pin_of_a_published_release_is_not_suspicious(tmp_path: Path,
                                                                          server: ChannelServer) -> None:
    # The channel publishes `ld_impl_linux-64` 2.39 (two parts): `==2.39` asks for exactly what exists.
    # `python==3.9` still matches 3.9.0 only (python publishes 3.9.x), and stays a warning.
    service = service_for(tmp_path, server, channels=[FORGE])
    analysis, _ = await analyzed(service, """
        name: t
        dependencies:
          - ld_impl_linux-64==2.39
          - python==3.9
        """)
    index = analysis.document.index
    suspicious = [index.line_of(f.span.start) + 1 for f in analysis.findings if f.code == "suspicious-spec"]
    assert suspicious == [4]


async def test_url_and_path_qualified_specs_name_their_channel(tmp_path: Path, server: ChannelServer) -> None:
    # `http://host:port/chan::pkg` and `/path/chan::pkg`: the channel is the URL or the path, never `chan`
    # under the channel alias (which points at the same server here, where `chan` would also exist).
    config = CondaConfig(channel_alias=f"{server.base_url}/elsewhere", channels=())
    service = service_for(tmp_path, server, config=config)
    local = CHANNELS / PYTORCH
    analysis, facts = await analyzed(service, f"""
        channels: [nodefaults]
        dependencies:
          - {server.channel(PYTORCH)}::pytorch=2.1
          - {server.channel(PYTORCH)}::torchvison
          - {local}::pytorch=2.1
        """)
    assert {c.given: c.urls for c in facts.other_channels} == {
        server.channel(PYTORCH): (server.channel(PYTORCH),), str(local): (local.as_uri(),)}
    assert lines(analysis) == [("package-not-found", 4)]
    assert not any(p.startswith("/elsewhere") for p in server.requests)


DUPLICATE_CASES = [
    # conda's built-in defaults (no default_channels): explicit URLs of its members, with or without a slash.
    ("defaults\n  - https://repo.anaconda.com/pkgs/main/\n  - https://repo.anaconda.com/pkgs/r",
     [("information", 3), ("information", 4)]),
    ("https://repo.anaconda.com/pkgs/main\n  - conda-forge\n  - defaults", [("information", 2)]),
    # the same single channel by name and by URL under the alias: the second has no effect.
    ("conda-forge\n  - http://127.0.0.1:9/alias/conda-forge/", [("warning", 3)]),
    # equal as text: the fast rule's finding only (not reported twice).
    ("conda-forge\n  - conda-forge", [("warning", 3)]),
    ("conda-forge\n  - conda-forge/linux-64\n  - defaults\n  - nodefaults", []),
]


@pytest.mark.parametrize(("channels", "expected"), DUPLICATE_CASES)
def test_duplicate_channels_after_resolution(channels: str, expected: list[tuple[str, int]]) -> None:
    config = CondaConfig(channel_alias="http://127.0.0.1:9/alias", channels=())
    service = ChannelService(config, ChannelStore(cache_dir=Path("/nonexistent")), platforms=("linux-64",))
    analysis = analyze(f"channels:\n  - {channels}\ndependencies:\n  - python\n")
    env = analysis.environment
    # Resolution only (no fetch): the plan says what each written channel stands for.
    facts = ChannelFacts(channels=(), platforms=("linux-64",), written=service.plan(env, None).written)
    index = analysis.document.index
    found = [f for f in (*channel_findings(env, facts), *analysis.findings) if f.code == "duplicate-channel"]
    assert sorted((f.severity.name.lower(), index.line_of(f.span.start) + 1) for f in found) == expected


async def test_explicit_member_of_defaults_is_reported_end_to_end(tmp_path: Path, server: ChannelServer) -> None:
    service = service_for(tmp_path, server, platforms=("linux-aarch64",))
    text = f"""
        channels:
          - defaults
          - {server.channel("defaults-main-2021-07-01")}/
        dependencies:
          - python=3.9
        """
    analysis, facts = await analyzed(service, text)
    found = [f for f in analysis.findings if f.code == "duplicate-channel"]
    assert [(f.severity.name, analysis.document.index.line_of(f.span.start) + 1) for f in found] == [("INFORMATION", 3)]
    assert "member of `defaults`" in found[0].message
    # Same data, another channel list: the cached facts follow the list.
    again, _ = await analyzed(service, text.replace("- defaults\n", "- nodefaults\n"))
    assert [f for f in again.findings if f.code == "duplicate-channel"] == []
