"""The embedded installer end to end: a real channel and a pip index on loopback, built by the test.

The channel has packages with dependencies between them (noarch and linux-64) and a `python`
whose payload points at the interpreter running the tests, so the `pip:` step really runs pip.
Nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from actions_support import Pkg, RecordingReporter, Wheel, build_channel, build_pip_index, build_wheel, installed
from channel_server import ChannelServer

from envls.actions.create import create_environment
from envls.actions.embedded import EmbeddedOptions
from envls.actions.request import ActionError, Cancelled, CreateRequest
from envls.channels.condarc import CondaConfig

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux") or os.uname().machine != "x86_64",
                                reason="the test channel is built for linux-64")

PACKAGES = [
    Pkg("app", depends=("liba >=1", "libb", "python")),
    Pkg("liba", depends=("libc <2",)),
    Pkg("libb", subdir="linux-64", depends=("libc",)),
    Pkg("libc", version="1.5"),
    Pkg("libc", version="2.0"),
    Pkg("pip", version="24.0", depends=("python",)),
    Pkg("extra"),
    Pkg("slowpkg"),
    # A 20-package tree for the timing: bench-00 needs bench-01 ... bench-18, and python.
    *(Pkg(f"bench-{i:02d}", depends=(f"bench-{i + 1:02d}",) if i < 18 else ("python",), files=30)
      for i in range(19)),
]


@dataclass
class Site:
    server: ChannelServer
    channel: str
    index: str
    root: Path


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("site")
    build_channel(root / "channel", PACKAGES)
    build_pip_index(root / "pypi", [Wheel("envls-demo")])
    server = ChannelServer(root=root, slow_seconds=60)
    try:
        yield Site(server, f"{server.base_url}/channel", f"{server.base_url}/pypi/simple/", root)
    finally:
        server.stop()


@dataclass
class Setup:
    home: Path
    project: Path
    envs: Path
    registry: Path
    options: EmbeddedOptions
    reporter: RecordingReporter

    def write(self, text: str, name: str = "environment.yml") -> Path:
        path = self.project / name
        path.write_text(text, encoding="utf-8")
        return path


@pytest.fixture
def setup(tmp_path: Path, site: Site) -> Setup:
    project = tmp_path / "my project"
    project.mkdir()
    envs = tmp_path / "envs"
    registry = tmp_path / ".conda" / "environments.txt"
    environ = {**os.environ, "PIP_INDEX_URL": site.index, "PIP_CONFIG_FILE": os.devnull,
               "PIP_CACHE_DIR": str(tmp_path / "pip-cache"), "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    options = EmbeddedOptions(config=CondaConfig(channels=()), cache_dir=tmp_path / "cache",
                              environments_txt=registry, environ=environ)
    return Setup(tmp_path, project, envs, registry, options, RecordingReporter())


def env_yaml(site: Site, name: str, deps: list[str], pip: list[str] | None = None) -> str:
    lines = [f"name: {name}", "channels:", f"  - {site.channel}", "dependencies:"]
    lines += [f"  - {dep}" for dep in deps]
    if pip:
        lines += ["  - pip:"] + [f"    - {line}" for line in pip]
    return "\n".join(lines) + "\n"


async def test_create_with_dependencies_and_the_pip_section(setup: Setup, site: Site) -> None:
    local = build_wheel(setup.project, Wheel("envls-local", module_text="NAME = 'local'\n"))
    path = setup.write(env_yaml(site, "demo", ["app", "pip", "libc  # [win]"],
                                pip=["envls-demo==1.0", f"./{local.name}"]))
    request = CreateRequest(path, backend="embedded")
    result = await create_environment(request, envs_dirs=[setup.envs], reporter=setup.reporter, options=setup.options)
    prefix = setup.envs / "demo"
    assert result.prefix == str(prefix) and result.backend == "embedded"
    assert result.python_path == str(prefix / "bin" / "python")
    assert installed(prefix) == {"app", "liba", "libb", "libc", "pip", "python"}
    assert (prefix / "conda-meta" / "libc-1.5-0.json").exists()  # liba needs libc <2
    history = (prefix / "conda-meta" / "history").read_text()
    assert history.startswith("==> ") and "/linux-64::libb-1.0-0" in history
    assert "# update specs: ['app', 'pip']" in history
    assert setup.registry.read_text().splitlines() == [str(prefix)]
    # pip ran with the environment's own Python, from the file's folder, and cleaned up after itself.
    check = subprocess.run([str(prefix / "bin" / "python"), "-c",
                            "import envls_demo, envls_local, sys; print(envls_demo.VALUE, envls_local.NAME, sys.prefix)"],
                           capture_output=True, text=True, check=True)
    assert check.stdout.split() == ["42", "local", str(prefix)]
    pip = subprocess.run([str(prefix / "bin" / "python"), "-m", "pip", "--version"], capture_output=True, text=True)
    assert pip.returncode == 0 and pip.stdout.startswith("pip ")
    assert not list(setup.project.glob("condaenv.*.requirements.txt"))
    messages = [m for m, _ in setup.reporter.messages]
    order = [next(i for i, m in enumerate(messages) if m.startswith(word))
             for word in ("Solving", "Downloading", "Linking", "Installing 2 pip requirements", "Done")]
    assert order == sorted(order)
    assert any(m.startswith("Downloading 6 of 6 packages") for m in messages)
    assert not (setup.envs / ".demo.envls-lock").exists()
    # Backup tools skip a folder with CACHEDIR.TAG: only the caches carry one, never the environment.
    assert [str(p) for p in prefix.rglob("CACHEDIR.TAG")] == []


async def test_a_failing_pip_step_is_reported_and_nothing_is_left(setup: Setup, site: Site) -> None:
    path = setup.write(env_yaml(site, "broken", ["python", "pip"], pip=["envls-missing==9.9"]))
    with pytest.raises(ActionError) as caught:
        await create_environment(CreateRequest(path, backend="embedded"), envs_dirs=[setup.envs],
                                 reporter=setup.reporter, options=setup.options)
    message = caught.value.message
    assert message.startswith("pip failed (exit status 1)")
    assert "No matching distribution found for envls-missing==9.9" in message
    assert "was removed" in message
    assert not (setup.envs / "broken").exists()
    assert not setup.registry.exists() or str(setup.envs / "broken") not in setup.registry.read_text()
    assert not list(setup.project.glob("condaenv.*"))


async def test_unsolvable_and_missing_packages(setup: Setup, site: Site) -> None:
    path = setup.write(env_yaml(site, "nope", ["app", "libc >=2"]))
    with pytest.raises(ActionError, match="could not solve the environment"):
        await create_environment(CreateRequest(path, backend="embedded"), envs_dirs=[setup.envs],
                                 reporter=setup.reporter, options=setup.options)
    assert not (setup.envs / "nope").exists()


@pytest.mark.parametrize("name", ["my env", "it's", 'say"hi"', "a;b", "$(touch x)", "base", "root"])
async def test_bad_names_are_refused_before_anything_happens(setup: Setup, site: Site, name: str) -> None:
    path = setup.write(env_yaml(site, "fine", ["app"]))
    with pytest.raises(ActionError):
        await create_environment(CreateRequest(path, name=name, backend="embedded"), envs_dirs=[setup.envs],
                                 reporter=setup.reporter, options=setup.options)
    assert not setup.envs.exists() or not any(setup.envs.iterdir())
    assert setup.reporter.messages == []


async def test_existing_environment_is_refused_without_force(setup: Setup, site: Site) -> None:
    path = setup.write(env_yaml(site, "twice", ["liba"]))
    request = CreateRequest(path, backend="embedded")
    await create_environment(request, envs_dirs=[setup.envs], reporter=setup.reporter, options=setup.options)
    with pytest.raises(ActionError, match="already exists"):
        await create_environment(request, envs_dirs=[setup.envs], reporter=setup.reporter, options=setup.options)
    setup.write(env_yaml(site, "twice", ["extra"]))
    forced = CreateRequest(path, backend="embedded", force=True)
    await create_environment(forced, envs_dirs=[setup.envs], reporter=setup.reporter, options=setup.options)
    assert installed(setup.envs / "twice") == {"extra"}
    assert setup.registry.read_text().splitlines() == [str(setup.envs / "twice")]


async def test_update_keeps_or_prunes(setup: Setup, site: Site) -> None:
    path = setup.write(env_yaml(site, "upd", ["liba"]))
    await create_environment(CreateRequest(path, backend="embedded"), envs_dirs=[setup.envs],
                             reporter=setup.reporter, options=setup.options)
    setup.write(env_yaml(site, "upd", ["extra"]))
    await create_environment(CreateRequest(path, backend="embedded", update=True), envs_dirs=[setup.envs],
                             reporter=setup.reporter, options=setup.options)
    assert installed(setup.envs / "upd") == {"liba", "libc", "extra"}
    await create_environment(CreateRequest(path, backend="embedded", update=True, prune=True),
                             envs_dirs=[setup.envs], reporter=setup.reporter, options=setup.options)
    assert installed(setup.envs / "upd") == {"extra"}
    assert (setup.envs / "upd" / "conda-meta" / "history").read_text().count("==> ") == 3
    assert not (setup.envs / "upd" / "CACHEDIR.TAG").exists()


async def _cancel_when(setup: Setup, task: asyncio.Task[object], seen: str, cancel: asyncio.Event) -> None:
    deadline = time.monotonic() + 20
    while not setup.reporter.saw(seen):
        assert not task.done(), task.exception() if task.done() else None
        assert time.monotonic() < deadline, setup.reporter.messages
        await asyncio.sleep(0.02)
    cancel.set()


async def test_cancel_during_the_download_leaves_nothing(setup: Setup, site: Site) -> None:
    site.server.fault("/channel/noarch/slowpkg-", "slow")
    try:
        path = setup.write(env_yaml(site, "cancelled", ["app", "slowpkg"]))
        cancel = asyncio.Event()
        task = asyncio.ensure_future(create_environment(
            CreateRequest(path, backend="embedded"), envs_dirs=[setup.envs], reporter=setup.reporter,
            options=setup.options, cancel=cancel))
        # Cancel once the other packages are linked: the prefix then really exists, half made.
        await _cancel_when(setup, task, "Linking", cancel)
        assert (setup.envs / "cancelled").exists()
        with pytest.raises(Cancelled, match="removed"):
            await asyncio.wait_for(task, 20)
    finally:
        site.server.fault("/channel/noarch/slowpkg-", None)
    await asyncio.sleep(0.5)
    assert not (setup.envs / "cancelled").exists()
    assert not setup.registry.exists()
    assert not (setup.envs / ".cancelled.envls-lock").exists()


async def test_cancel_during_the_solve(setup: Setup, site: Site) -> None:
    site.server.fault("/channel/", "slow")
    try:
        path = setup.write(env_yaml(site, "unsolved", ["app"]))
        cancel = asyncio.Event()
        task = asyncio.ensure_future(create_environment(
            CreateRequest(path, backend="embedded"), envs_dirs=[setup.envs], reporter=setup.reporter,
            options=setup.options, cancel=cancel))
        await _cancel_when(setup, task, "Solving", cancel)
        started = time.monotonic()
        with pytest.raises(Cancelled):
            await asyncio.wait_for(task, 10)
        assert time.monotonic() - started < 5
    finally:
        site.server.fault("/channel/", None)
    assert not (setup.envs / "unsolved").exists()


async def test_two_creates_of_one_prefix_at_once(setup: Setup, site: Site) -> None:
    site.server.fault("/channel/noarch/slowpkg-", "slow")
    try:
        path = setup.write(env_yaml(site, "busy", ["slowpkg"]))
        cancel = asyncio.Event()
        first = asyncio.ensure_future(create_environment(
            CreateRequest(path, backend="embedded"), envs_dirs=[setup.envs], reporter=setup.reporter,
            options=setup.options, cancel=cancel))
        await _wait_for(lambda: setup.reporter.saw("Downloading"), first)
        with pytest.raises(ActionError, match="another create or update of .* is running"):
            await create_environment(CreateRequest(path, backend="embedded"), envs_dirs=[setup.envs],
                                     reporter=RecordingReporter(), options=setup.options)
        cancel.set()
        with pytest.raises(Cancelled):
            await asyncio.wait_for(first, 20)
    finally:
        site.server.fault("/channel/noarch/slowpkg-", None)
    assert not (setup.envs / "busy").exists()


async def _wait_for(condition: object, task: asyncio.Future[object]) -> None:
    deadline = time.monotonic() + 20
    while not condition():  # type: ignore[operator]
        assert not task.done()
        assert time.monotonic() < deadline
        await asyncio.sleep(0.02)


async def test_twenty_packages_from_a_warm_cache_within_ten_seconds(setup: Setup, site: Site) -> None:
    path = setup.write(env_yaml(site, "bench", ["bench-00"]))
    request = CreateRequest(path, backend="embedded")
    await create_environment(request, envs_dirs=[setup.envs], reporter=setup.reporter, options=setup.options)
    assert len(installed(setup.envs / "bench")) == 20
    started = time.perf_counter()
    await create_environment(CreateRequest(path, backend="embedded", force=True), envs_dirs=[setup.envs],
                             reporter=setup.reporter, options=setup.options)
    elapsed = time.perf_counter() - started
    print(f"\n20-package environment from a warm package cache: {elapsed:.2f} s")
    assert len(installed(setup.envs / "bench")) == 20
    assert elapsed <= 10


async def test_a_package_the_channel_fails_to_serve_leaves_nothing(setup: Setup, site: Site) -> None:
    site.server.fault("/channel/noarch/slowpkg-", "404")
    try:
        path = setup.write(env_yaml(site, "dies", ["app", "slowpkg"]))
        with pytest.raises(ActionError) as caught:
            await create_environment(CreateRequest(path, backend="embedded"), envs_dirs=[setup.envs],
                                     reporter=setup.reporter, options=setup.options)
    finally:
        site.server.fault("/channel/noarch/slowpkg-", None)
    assert caught.value.message.startswith(f"installing into {setup.envs / 'dies'} failed")
    assert "slowpkg" in caught.value.message and "was removed" in caught.value.message
    assert not (setup.envs / "dies").exists()
    assert not setup.registry.exists()
