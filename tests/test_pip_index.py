"""The index stage against a real package index on 127.0.0.1 (tests/index_server.py) and nothing else.

The index serves wheels built by the tests; IndexClient reads its pages (JSON, or HTML when that is all
it gets), PipService turns them into IndexFacts, and ``with_pip`` into findings. Each test has its own
server and cache folder. Faults: 500, a stopped server, a slow one, HTML only.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from index_server import IndexServer, build_wheel
from pip_support import (
    found,
    loopback_only,  # noqa: F401 - an autouse fixture: no proxy for the loopback index
    only,
    run,
    yaml,
)

from envls.core.pip.facts import IndexFacts
from envls.pypi.config import PipConfig, plan_indexes
from envls.pypi.index import IndexClient
from envls.pypi.pages import parse_html, releases_of, version_of
from envls.pypi.service import PipService

TIMEOUT = 0.5  # seconds per request; a slow server costs this once


@pytest.fixture
def index() -> Iterator[IndexServer]:
    with IndexServer() as server:
        server.add_wheel("requests", "2.30.0", ">=3.7")
        server.add_wheel("requests", "2.31.0", ">=3.7")
        server.add_wheel("requests", "2.32.0", ">=3.8", yanked="breaks proxies")
        server.add_wheel("modern", "1.0", ">=3.7")
        server.add_wheel("modern", "2.0", ">=3.10")
        server.add_file("modern", "modern-2.0.tar.gz", b"sdist", ">=3.10")
        server.add_file("oldtimer", "oldtimer-0.9.tar.bz2", b"sdist")
        server.add_file("oldtimer", "oldtimer-setup.exe", b"")
        yield server


def service(tmp_path: Path, server: IndexServer, trusted: bool = True, refresh_after: float = 3600.0,
            cache: str = "cache") -> PipService:
    client = IndexClient(cache_dir=tmp_path / cache, refresh_after=refresh_after, timeout=TIMEOUT)
    return PipService(client, PipConfig(index_url=server.url), trusted=trusted, environ={}, default_index="")


def facts_for(svc: PipService, text: str) -> IndexFacts:
    analysis = run(text)
    return asyncio.run(svc.facts(analysis.environment))


ENV = """
dependencies:
  - python=3.8
  - pip
  - pip:
    - requests==2.29
    - requests-nope
    - modern==2.0
    - oldtimer
"""


def test_json_pages(tmp_path: Path, index: IndexServer) -> None:
    facts = facts_for(service(tmp_path, index), ENV)
    requests = facts.project("requests")
    assert requests is not None and requests.state == "ok"
    assert [(str(r.version), r.yanked, r.yanked_reason, r.requires_python) for r in requests.releases] == [
        ("2.30.0", False, "", (">=3.7",)), ("2.31.0", False, "", (">=3.7",)), ("2.32.0", True, "breaks proxies", (">=3.8",))]
    assert facts.project("requests-nope").state == "missing"  # type: ignore[union-attr]
    assert [str(r.version) for r in facts.project("oldtimer").releases] == ["0.9"]  # type: ignore[union-attr]
    accepts = {headers.get("accept", "") for path, headers in index.requests}
    assert accepts == {"application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, "
                       "text/html;q=0.01"}


def test_html_only_index_gives_the_same_facts(tmp_path: Path, index: IndexServer) -> None:
    json_facts = facts_for(service(tmp_path, index, cache="a"), ENV)
    index.mode = "html"
    html_facts = facts_for(service(tmp_path, index, cache="b"), ENV)
    assert html_facts.projects == json_facts.projects
    assert html_facts.indexes[0].state == "ok"


def test_findings_from_the_index(tmp_path: Path, index: IndexServer) -> None:
    facts = facts_for(service(tmp_path, index), ENV)
    analysis = run(ENV, index=facts)
    assert found(ENV, index=facts) == [
        ("pip-version-not-found", 5), ("pip-package-not-found", 6), ("pip-python-incompatible", 7)]
    assert "2.32.0 (yanked: breaks proxies)" in only(analysis, "pip-version-not-found").message
    incompatible = only(analysis, "pip-python-incompatible")
    assert "`modern` 2.0 requires Python `>=3.10`" in incompatible.message
    assert incompatible.fixes[0].title == "Change to `modern==1.0`"


def test_at_most_max_index_names_are_looked_up(tmp_path: Path, index: IndexServer,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """A file with more projects than the limit asks the index about the first ones (file order) only, and says
    so once, on the first one left out; a name asked about already is still judged where it comes again."""
    from envls.core.pip import section

    monkeypatch.setattr(section, "MAX_INDEX_NAMES", 3)
    text = ENV + "    - made-up-1\n    - made-up-2\n    - requests==2.29\n"
    facts = facts_for(service(tmp_path, index), text)
    asked = {path.rstrip("/").rsplit("/", 1)[-1] for path, _ in index.requests}
    assert {"requests", "requests-nope", "modern"} <= asked and not asked & {"oldtimer", "made-up-1", "made-up-2"}
    assert found(text, index=facts) == [("pip-version-not-found", 5), ("pip-package-not-found", 6),
                                        ("pip-python-incompatible", 7), ("too-many-requirements", 8),
                                        ("pip-version-not-found", 11), ("pip-duplicate", 11)]
    limit = only(run(text, index=facts), "too-many-requirements")
    assert limit.message.endswith("`oldtimer` and the 2 after it are not checked there")


def test_server_error_is_information_only(tmp_path: Path, index: IndexServer) -> None:
    index.mode = "500"
    facts = facts_for(service(tmp_path, index), ENV)
    assert facts.indexes[0].state == "unreachable" and "server error 500" in facts.indexes[0].detail
    assert found(ENV, index=facts) == [("index-unreachable", 4)]


def test_down_index_then_the_cache(tmp_path: Path, index: IndexServer) -> None:
    warm = facts_for(service(tmp_path, index, refresh_after=0.0), ENV)
    index.stop()
    start = time.monotonic()
    facts = facts_for(service(tmp_path, index, refresh_after=0.0), ENV)
    assert time.monotonic() - start < 2 * TIMEOUT
    assert facts.indexes[0].state == "ok" and facts.indexes[0].from_cache_age is not None
    assert "connection refused" in facts.indexes[0].detail
    assert facts.projects == warm.projects
    analysis = run(ENV, index=facts)
    assert "using its cached pages" in only(analysis, "index-unreachable").message
    assert "pip-package-not-found" in [f.code for f in analysis.findings]


def test_down_index_without_cache(tmp_path: Path, index: IndexServer) -> None:
    index.stop()
    facts = facts_for(service(tmp_path, index), ENV)
    assert facts.indexes[0].state == "unreachable" and facts.indexes[0].detail == "connection refused"
    assert all(p.state == "unknown" for p in facts.projects.values())
    assert found(ENV, index=facts) == [("index-unreachable", 4)]


def test_slow_index_costs_one_timeout(tmp_path: Path, index: IndexServer) -> None:
    index.mode = "slow"
    text = ENV + "".join(f"    - extra{n}\n" for n in range(20))
    start = time.monotonic()
    facts = facts_for(service(tmp_path, index), text)
    elapsed = time.monotonic() - start
    assert facts.indexes[0].state == "unreachable" and facts.indexes[0].detail == "timed out"
    assert elapsed < 4 * TIMEOUT, elapsed  # 24 requests, 8 at a time; the first timeouts mark the index down
    assert found(text, index=facts) == [("index-unreachable", 4)]


def test_fresh_cache_asks_nothing(tmp_path: Path, index: IndexServer) -> None:
    first = facts_for(service(tmp_path, index), ENV)
    asked = len(index.requests)
    again = facts_for(service(tmp_path, index), ENV)  # a new client: from the disk cache
    assert len(index.requests) == asked and again.projects == first.projects


def test_stale_cache_is_revalidated_with_etag(tmp_path: Path, index: IndexServer) -> None:
    facts_for(service(tmp_path, index, refresh_after=0.0), ENV)
    index.requests.clear()
    facts = facts_for(service(tmp_path, index, refresh_after=0.0), ENV)
    assert all(headers.get("if-none-match") for path, headers in index.requests if "nope" not in path)
    assert facts.project("requests").state == "ok"  # type: ignore[union-attr]


def test_untrusted_file_never_contacts_the_index_it_names(tmp_path: Path, index: IndexServer) -> None:
    text = f"dependencies:\n  - pip\n  - pip:\n    - --index-url {index.url}\n    - requests-nope\n"
    client = IndexClient(cache_dir=tmp_path / "cache", timeout=TIMEOUT)
    svc = PipService(client, PipConfig(), trusted=False, environ={}, default_index="")
    facts = asyncio.run(svc.facts(run(text).environment))
    assert index.requests == []
    assert facts.untrusted_skipped == (index.url,) and not facts.conclusive
    assert found(text, index=facts) == []
    trusted = PipService(client, PipConfig(), trusted=True, environ={}, default_index="")
    assert found(text, index=asyncio.run(trusted.facts(run(text).environment))) == [("pip-package-not-found", 5)]


def test_file_index_and_extra_index(tmp_path: Path, index: IndexServer) -> None:
    with IndexServer() as extra:
        extra.add_wheel("torch", "1.12.1+cu116", ">=3.7")
        text = (f"dependencies:\n  - python=3.8\n  - pip\n  - pip:\n    - --extra-index-url {extra.url}\n"
                "    - torch==1.12.1+cu116\n    - requests==2.31.0\n")
        facts = facts_for(service(tmp_path, index), text)
        assert [i.url for i in facts.indexes] == [index.url, extra.url]
        assert found(text, index=facts) == []
        extra.stop()
        facts = facts_for(service(tmp_path, index, cache="other"), text)
        assert found(text, index=facts) == [("index-unreachable", 5)]


def test_credentials_are_sent_and_never_shown(tmp_path: Path, index: IndexServer) -> None:
    url = index.url.replace("http://", "http://alice:s3cret@")
    client = IndexClient(cache_dir=tmp_path / "cache", timeout=TIMEOUT)
    svc = PipService(client, PipConfig(index_url=url), environ={}, default_index="")
    facts = asyncio.run(svc.facts(run(ENV).environment))
    assert all(headers.get("authorization") == "Basic YWxpY2U6czNjcmV0" for _, headers in index.requests)
    assert facts.indexes[0].url == index.url.replace("http://", "http://****@")
    assert "s3cret" not in "".join(f.message for f in run(ENV, index=facts).findings)


def test_service_reuses_facts_and_loads_what_was_typed(tmp_path: Path, index: IndexServer) -> None:
    svc = service(tmp_path, index)
    env = run(ENV).environment
    assert svc.cached(env) is None and svc.needs_refresh(env)
    first = asyncio.run(svc.facts(env))
    assert svc.cached(env) is first and not svc.needs_refresh(env)
    typed = run(ENV + "    - modern\n    - brand-new\n").environment
    assert svc.needs_refresh(typed)
    second = asyncio.run(svc.facts(typed))
    assert second.project("brand-new").state == "missing"  # type: ignore[union-attr]
    assert not svc.needs_refresh(typed)


def test_completion_names_are_loaded_too(tmp_path: Path, index: IndexServer) -> None:
    svc = service(tmp_path, index)
    facts = asyncio.run(svc.facts(run("dependencies:\n  - pip:\n    - x\n").environment, extra_names=["Modern"]))
    assert facts.project("modern").state == "ok"  # type: ignore[union-attr]


def test_real_pip_accepts_this_index(tmp_path: Path, index: IndexServer) -> None:
    """The server is a valid index and its wheels are valid wheels: pip itself downloads from it."""
    result = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "--no-cache-dir",
         "--index-url", index.url, "--dest", str(tmp_path / "dl"), "--python-version", "3.8", "--only-binary=:all:",
         "requests==2.31.0"],
        capture_output=True, text=True, timeout=120,
        env={"PATH": "/usr/bin:/bin", "no_proxy": "127.0.0.1", "PIP_CONFIG_FILE": "/dev/null"})
    assert result.returncode == 0, result.stderr
    assert [p.name for p in (tmp_path / "dl").iterdir()] == ["requests-2.31.0-py3-none-any.whl"]


# -- reading pages, without a server ---------------------------------------------------------------


def test_versions_from_file_names() -> None:
    assert str(version_of("numpy-1.26.4-cp311-cp311-manylinux_2_17_x86_64.whl", "numpy")) == "1.26.4"
    assert str(version_of("Django-4.2.tar.gz", "django")) == "4.2"
    assert str(version_of("python-dateutil-2.9.0.post0.tar.gz", "python-dateutil")) == "2.9.0.post0"
    assert str(version_of("zope.interface-6.0.zip", "zope-interface")) == "6.0"
    assert version_of("numpy-1.26.4.exe", "numpy") is None
    assert version_of("other-1.0-py3-none-any.whl", "numpy") is None
    assert version_of("numpy-not.a.version.tar.gz", "numpy") is None


def test_html_attributes() -> None:
    page = ('<a href="/f/a-1.0-py3-none-any.whl#sha256=00" data-requires-python="&gt;=3.8" '
            'data-yanked="">a-1.0-py3-none-any.whl</a><a href="/f/a-2.0.tar.gz">a-2.0.tar.gz</a><a>stray</a>')
    files = parse_html(page)
    assert [(f.filename, f.requires_python, f.yanked) for f in files][:2] == [
        ("a-1.0-py3-none-any.whl", ">=3.8", True), ("a-2.0.tar.gz", "", False)]
    releases = releases_of(files, "a")
    assert [(str(r.version), r.yanked) for r in releases] == [("1.0", True), ("2.0", False)]


def test_wheel_builder_makes_wheels() -> None:
    name, data = build_wheel("demo-pkg", "1.0", ">=3.9")
    assert name == "demo_pkg-1.0-py3-none-any.whl" and data[:2] == b"PK"


def test_plan_for_untrusted_extra_index() -> None:
    env = run(yaml("""
        dependencies:
          - pip:
            - --extra-index-url https://extra.invalid/simple
            - foo
    """)).environment
    plan = plan_indexes(env, PipConfig(index_url="https://configured.invalid/simple"), trusted=False, environ={})
    assert [i.url for i in plan.indexes] == ["https://configured.invalid/simple"]
    assert plan.skipped == ("https://extra.invalid/simple",) and plan.other_sources
