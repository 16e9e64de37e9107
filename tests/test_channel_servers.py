"""Channels served as real servers serve them: sharded, zst and plain JSON, revalidated with conditional requests.

Two servers on loopback answer a conditional GET with 304: Python's http.server (a 304 without
validators, which py-rattler 0.28 cannot use for a sharded index) and nginx (ETag and Last-Modified,
as mirrors and CDNs). The checks, the solve and the embedded installer must work against both, in
the first session and in every later one (which starts from the disk cache: every request is then
conditional). nginx runs as a private, unprivileged process (tests/nginx_server.py); without it
those cases skip with the reason.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from actions_support import Pkg, RecordingReporter, build_channel
from channel_server import ChannelServer
from nginx_server import NginxServer, public_folder, why_no_nginx

from envls.actions.create import create_environment
from envls.actions.embedded import EmbeddedOptions
from envls.actions.request import CreateRequest
from envls.channels.condarc import CondaConfig
from envls.channels.service import ChannelService
from envls.channels.store import ChannelStore
from envls.core.analysis import analyze, with_channels
from envls.solve.service import SolveService

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux") or os.uname().machine != "x86_64",
                                reason="the test channel is built for linux-64")

PACKAGES = [Pkg("app", depends=("liba", "libb", "python")), Pkg("liba"), Pkg("libb", subdir="linux-64"),
            Pkg("extra")]
KINDS = {"sharded": {"zst": True, "shards": True}, "zst": {"zst": True}, "json": {}}


@pytest.fixture(scope="module")
def site() -> Iterator[Path]:
    """Three channels with the same packages: `sharded` (shards, .zst and .json), `zst` and `json`."""
    root = public_folder("envls-channels-")
    try:
        for kind, files in KINDS.items():
            build_channel(root / kind, PACKAGES, **files)
            shutil.rmtree(root / f".{kind}-stage", ignore_errors=True)
        shutil.copytree(root / "json", root / "extras")  # a channel reached through custom_channels
        subprocess.run(["chmod", "-R", "a+rX", str(root)], check=True)
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


@dataclass
class Served:
    kind: str
    base_url: str
    server: ChannelServer | NginxServer

    def answers(self) -> list[tuple[str, int]]:
        if isinstance(self.server, ChannelServer):
            return list(self.server.answers)
        return [(path, status) for _, path, status in self.server.requests()]


@pytest.fixture(params=["http.server", "nginx"])
def served(request: pytest.FixtureRequest, site: Path) -> Iterator[Served]:
    if request.param == "http.server":
        with ChannelServer(root=site) as server:
            yield Served("http.server", server.base_url, server)
        return
    reason = why_no_nginx()
    if reason:
        pytest.skip(reason)
    with NginxServer({"/": site}) as nginx:
        yield Served("nginx", nginx.base_url, nginx)


def env_text(base_url: str, *deps: str) -> str:
    channels = "".join(f"  - {base_url}/{kind}\n" for kind in KINDS)
    return f"name: demo\nchannels:\n{channels}  - nodefaults\ndependencies:\n" + "".join(f"  - {d}\n" for d in deps)


def service(cache: Path) -> ChannelService:
    """A new session: a new store on the same disk cache, so every cached file is revalidated."""
    return ChannelService(CondaConfig(channels=()), ChannelStore(cache_dir=cache, timeout=10), platforms=("linux-64",))


async def test_every_repodata_kind_survives_revalidation(tmp_path: Path, served: Served) -> None:
    text = env_text(served.base_url, "app", "liba", "libb >=2")
    for session in range(3):
        channels = service(tmp_path / "cache")
        analysis = analyze(text)
        facts = await channels.facts(analysis.environment, None)
        assert [c.state for c in facts.channels] == ["ok"] * 3, (session, facts.channels)
        assert all(c.from_cache_age is None for c in facts.channels), (session, facts.channels)
        found = [(f.code, f.message) for f in with_channels(analysis, facts).findings]
        assert [code for code, _ in found] == ["version-not-found"], found
        # The records asked for come from every kind of channel.
        assert {str(r.channel).rstrip("/").rsplit("/", 1)[-1] for r in facts.records["liba"]} == set(KINDS)
        # After py-rattler let go of what it held in memory, the disk cache is read again (and revalidated).
        channels.store.release_memory()
        again = await channels.store.records(f"{served.base_url}/sharded", "noarch", ["extra"])
        assert again is not None and [r.name.normalized for r in again["extra"]] == ["extra"]
        solved = await SolveService(channels, timeout=30).solve(analysis.environment, None, None)
        assert [s.status for s in solved.solves] == ["unsatisfiable"]  # libb >=2 does not exist; the data was read
        # nginx repeats the validators in its 304, so its sharded channel keeps being read through shards.
        sharded = {f"{served.base_url}/sharded"}
        assert channels.store.gateways.without_shards == (sharded if served.kind == "http.server" else set())
    statuses = served.answers()
    assert ("/sharded/noarch/repodata_shards.msgpack.zst", 304) in statuses, statuses
    assert any(path.startswith("/json/") and status == 304 for path, status in statuses), statuses


async def test_create_after_check_works_in_every_session(tmp_path: Path, served: Served) -> None:
    project = tmp_path / "project"
    project.mkdir()
    env_file = project / "environment.yml"
    env_file.write_text(textwrap.dedent(f"""\
        name: demo
        channels:
          - {served.base_url}/sharded
          - nodefaults
        dependencies:
          - app
        """), encoding="utf-8")
    cache = tmp_path / "cache"
    for session in range(2):
        channels = service(cache)
        analysis = analyze(env_file.read_text(encoding="utf-8"))
        facts = await channels.facts(analysis.environment, None)  # the file is checked first, as in the editor
        assert [c.state for c in facts.channels] == ["ok"]
        options = EmbeddedOptions(config=channels.config, cache_dir=cache,
                                  environments_txt=tmp_path / "environments.txt")
        prefix = tmp_path / f"env{session}"
        result = await create_environment(CreateRequest(env_file, prefix=str(prefix), backend="embedded"),
                                          reporter=RecordingReporter(), options=options)
        assert result.prefix == str(prefix)
        installed = {p.name.rsplit("-", 2)[0] for p in (prefix / "conda-meta").glob("*.json")}
        assert installed == {"app", "liba", "libb", "python"}


MIRROR_FILE = """\
name: demo
channels:
  - sharded
  - extras
  - nodefaults
dependencies:
  - app
  - liba=9
  - nosuchpkg
  - extras::extra
"""


def _check_through(condarc_text: str, home: Path, project: Path) -> tuple[int, str]:
    """`envls check` of MIRROR_FILE with this .condarc, as a user runs it (a process of its own)."""
    home.mkdir(parents=True)
    (home / ".condarc").write_text(condarc_text, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONDA", "ENVLS_"))}
    env.update(HOME=str(home), CONDARC=str(home / ".condarc"), ENVLS_CACHE_DIR=str(home / "cache"))
    done = subprocess.run([sys.executable, "-m", "envls", "check", "--no-solve", "--platform", "linux-64",
                           "environment.yml"], cwd=project, env=env, capture_output=True, text=True, timeout=120)
    return done.returncode, done.stdout


def test_check_reads_the_same_from_http_server_nginx_and_a_folder(tmp_path: Path, site: Path) -> None:
    """The same channels behind a mirror-style layout (TUNA's: channel_alias for names, custom_channels for
    one more) on nginx, on http.server and as a local folder: `envls check` says the same, word for word."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "environment.yml").write_text(MIRROR_FILE, encoding="utf-8")

    def condarc(alias: str) -> str:
        return f"channel_alias: {alias}\ncustom_channels:\n  extras: {alias}\n"

    outputs = {}
    with ChannelServer(root=site) as server:
        # `extras` under the alias is the folder `extras`: make it the `json` channel's copy.
        outputs["http.server"] = _check_through(condarc(server.base_url), tmp_path / "h1", project)
    outputs["folder"] = _check_through(condarc(site.as_uri()), tmp_path / "h2", project)
    reason = why_no_nginx()
    if not reason:
        with NginxServer({"/anaconda/cloud/": site}) as nginx:
            outputs["nginx"] = _check_through(condarc(f"{nginx.base_url}/anaconda/cloud"), tmp_path / "h3", project)
    first = outputs["http.server"]
    assert first[0] == 1 and "version-not-found" in first[1] and "package-not-found" in first[1], first
    assert "channel-unreachable" not in first[1] and "unknown-channel" not in first[1], first
    for where, output in outputs.items():
        assert output == first, (where, output, first)
    if reason:
        pytest.skip(f"http.server and the folder agree; nginx: {reason}")
