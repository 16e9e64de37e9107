"""Split packages confirmed by channel data: the records of real repodata snapshots (../shared/data/channels,
served over HTTP on 127.0.0.1 by tests/channel_server.py) show that a package depends on its `-base`/`py-`/`lib`
part at its own version; the conda/pip rules then see the part as the distribution (envls/core/conda/split_packages.py,
``confirmed_splits`` and ``split_package_findings``)."""

from __future__ import annotations

import asyncio
import textwrap
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from channel_server import CHANNELS, ChannelServer, condarc
from pip_support import pip_found, run

from envls.channels.condarc import load_config
from envls.channels.service import ChannelService
from envls.channels.store import ChannelStore
from envls.core.analysis import Analysis
from envls.core.conda.channel_facts import ChannelFacts
from envls.core.conda.split_packages import confirmed_splits, split_wholes
from envls.core.findings import Severity

pytestmark = pytest.mark.skipif(not CHANNELS.is_dir(), reason="the shared channel snapshots are not here")

DEFAULTS_2021 = ("linux-aarch64",)  # `defaults` of the test .condarc: defaults-main-2021-07-01 (keras, keras-base)


@pytest.fixture
def server() -> Iterator[ChannelServer]:
    with ChannelServer() as srv:
        yield srv


def service(tmp_path: Path, srv: ChannelServer, platforms: tuple[str, ...]) -> ChannelService:
    config = load_config({"CONDARC": str(condarc(tmp_path, srv.base_url))}, home=tmp_path / "home")
    return ChannelService(config, ChannelStore(cache_dir=tmp_path / "cache", timeout=1.0), platforms=platforms)


def analysed(svc: ChannelService, text: str) -> tuple[Analysis, ChannelFacts]:
    text = textwrap.dedent(text).lstrip("\n")
    env = run(text).environment
    facts = asyncio.run(svc.facts(env, None))
    return run(text, channels=facts), facts


KERAS = """
    name: t
    channels: [defaults]
    dependencies:
      - python=3.8
      - keras-base=2.4.3
      - pip
      - pip:
        - {pip}
    """


def test_a_part_confirmed_by_the_records_conflicts_with_pip(tmp_path: Path, server: ChannelServer) -> None:
    text = KERAS.format(pip="keras==2.3.1")
    assert "conda-pip-conflict" not in [c for c, _ in pip_found(run(text))]  # the tables do not know keras-base
    analysis, facts = analysed(service(tmp_path, server, DEFAULTS_2021), text)
    assert "keras" in facts.records  # loaded for keras-base: `keras` depends on `keras-base 2.4.3.*`
    assert ("conda-pip-conflict", 8) in pip_found(analysis)
    (finding,) = [f for f in analysis.findings if f.code == "conda-pip-conflict"]
    assert "conda's `keras-base` is PyPI's `keras`" in finding.message


def test_the_same_release_is_an_export_artifact(tmp_path: Path, server: ChannelServer) -> None:
    analysis, _ = analysed(service(tmp_path, server, DEFAULTS_2021), KERAS.format(pip="keras==2.4.3"))
    (finding,) = [f for f in analysis.findings if f.code == "conda-pip-duplicate"]
    assert finding.severity == Severity.INFORMATION and "changes nothing" in finding.message


def test_loading_the_whole_adds_no_refresh(tmp_path: Path, server: ChannelServer) -> None:
    svc = service(tmp_path, server, DEFAULTS_2021)
    text = textwrap.dedent(KERAS.format(pip="keras==2.3.1")).lstrip("\n")
    env = run(text).environment
    asyncio.run(svc.facts(env, None))
    assert not svc.needs_refresh(env, None)


def test_table_entries_are_confirmed_by_real_records(tmp_path: Path, server: ChannelServer) -> None:
    svc = service(tmp_path, server, ("linux-64",))
    _, facts = analysed(svc, """
        name: t
        channels: [defaults-2018-conda-index4]
        dependencies:
          - numpy-base=1.11.3
        """)
    env = run("name: t\ndependencies:\n  - numpy-base=1.11.3\n").environment
    assert confirmed_splits(env, facts.records) == (("numpy-base", "numpy", True),)


LOOK_ALIKES = [
    # (conda line, pip line): parts that must stay what they are
    ("libcurl=7.71.1", "curl==1.0"),  # a C library: installs no PyPI distribution
    ("keras-base=2.4.3", "keras-preprocessing==1.1.0"),  # another distribution
]


@pytest.mark.parametrize(("conda", "pip"), LOOK_ALIKES, ids=[c[0] for c in LOOK_ALIKES])
def test_look_alikes_stay_silent(tmp_path: Path, server: ChannelServer, conda: str, pip: str) -> None:
    text = f"name: t\nchannels: [defaults]\ndependencies:\n  - {conda}\n  - pip\n  - pip:\n    - {pip}\n"
    analysis, _ = analysed(service(tmp_path, server, DEFAULTS_2021), text)
    assert not [f for f in analysis.findings if f.code in ("conda-pip-conflict", "conda-pip-duplicate")]


def _record(name: str, version: str, *depends: str) -> SimpleNamespace:
    return SimpleNamespace(name=name, version=version, depends=list(depends))


CONFIRMATIONS = [
    ("own version with build", "numpy-base", [_record("numpy", "1.19.2", "numpy-base 1.19.2 py38h_0")], True),
    ("own series", "tensorflow-base", [_record("tensorflow", "2.10.0", "tensorflow-base 2.10.*")], True),
    ("exact ==", "py-xgboost", [_record("xgboost", "1.3.3", "py-xgboost ==1.3.3")], True),
    ("another version", "matplotlib-base", [_record("matplotlib", "3.4.2", "matplotlib-base >=3.4")], False),
    ("unpinned", "keras-base", [_record("keras", "2.4.3", "keras-base")], False),
    ("as many disagree", "keras-base", [_record("keras", "2.4.3", "keras-base 2.4.3.*"),
                                        _record("keras", "2.4.0", "keras-base 2.3.*")], False),
    ("a few builds with a range", "numpy-base", [_record("numpy", "1.14.3", "numpy-base 1.14.3 py36_1"),
                                                 _record("numpy", "1.14.4", "numpy-base 1.14.4 py36_0"),
                                                 _record("numpy", "1.14.3", "numpy-base >=1.14.3,<2.0a0")], True),
    ("older records without the part", "numpy-base", [_record("numpy", "1.11.3", "numpy-base 1.11.3 py27_8"),
                                                      _record("numpy", "1.9.3", "python 2.7*")], True),
    ("no records", "keras-base", [], False),
]


@pytest.mark.parametrize(("part", "records", "confirmed"), [c[1:] for c in CONFIRMATIONS],
                         ids=[c[0] for c in CONFIRMATIONS])
def test_what_confirms_a_part(part: str, records: list[SimpleNamespace], confirmed: bool) -> None:
    env = run(f"name: t\ndependencies:\n  - {part}\n").environment
    whole = records[0].name if records else part.removesuffix("-base")
    got = confirmed_splits(env, {whole: tuple(records)})
    assert bool(got) is confirmed


def test_wholes_by_naming_convention() -> None:
    assert split_wholes(["numpy-base", "py-xgboost", "keras-base", "libtorch", "lib", "requests"]) == \
        {"numpy", "xgboost", "keras", "torch"}
    assert split_wholes(["libgcc-ng", "r-base", "libcurl", "py-boost"]) == set()  # no PyPI distribution either side
