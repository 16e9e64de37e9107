"""`envls create` and `envls update` end to end: the embedded installer against a channel built here and
served on loopback, run as a real `python -m envls` process (Ctrl-C included)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from actions_support import Wheel, build_channel, build_pip_index, installed
from channel_server import ChannelServer
from workflow_support import PACKAGES, Site, add_ipykernel, cli_environ, env_yaml, envls

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux") or os.uname().machine != "x86_64",
                                reason="the test channel is built for linux-64")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("site")
    build_channel(root / "channel", PACKAGES)
    add_ipykernel(root / "channel")
    build_pip_index(root / "pypi", [Wheel("envls-demo")])
    server = ChannelServer(root=root, slow_seconds=60)
    try:
        yield Site(server, f"{server.base_url}/channel", f"{server.base_url}/pypi/simple/", root)
    finally:
        server.stop()


def test_create_then_update_and_prune(tmp_path: Path, site: Site) -> None:
    env = cli_environ(tmp_path, site)
    file = tmp_path / "environment.yml"
    file.write_text(env_yaml(site, "demo", ["app"]))
    prefix = tmp_path / "envs" / "demo"
    created = envls("create", "-f", str(file), "-p", str(prefix), "--backend", "embedded", env=env)
    assert created.returncode == 0, created.stderr
    assert installed(prefix) == {"app", "liba", "libc", "python"}
    assert f"Created the environment {prefix} (with embedded)" in created.stdout
    assert "envls activate -p" in created.stdout
    steps = created.stderr.splitlines()
    assert [s for s in steps if s.startswith("Solving")] and [s for s in steps if s.startswith("Linking")]
    assert "\x1b" not in created.stderr  # no terminal: plain lines, no bar
    again = envls("create", "-f", str(file), "-p", str(prefix), "--backend", "embedded", env=env)
    assert again.returncode == 1 and "already exists" in again.stderr
    file.write_text(env_yaml(site, "demo", ["extra"]))
    updated = envls("update", "-f", str(file), "-p", str(prefix), "--backend", "embedded", env=env)
    assert updated.returncode == 0, updated.stderr
    assert installed(prefix) == {"app", "liba", "libc", "python", "extra"}
    pruned = envls("update", "-f", str(file), "-p", str(prefix), "--backend", "embedded", "--prune", env=env)
    assert pruned.returncode == 0, pruned.stderr
    assert installed(prefix) == {"extra"}


def test_create_by_name_lands_in_envls_data_folder(tmp_path: Path, site: Site) -> None:
    env = cli_environ(tmp_path, site)
    file = tmp_path / "environment.yml"
    file.write_text(env_yaml(site, "named", ["liba"]))
    created = envls("create", "-f", str(file), "--backend", "embedded", env=env)
    assert created.returncode == 0, created.stderr
    assert installed(tmp_path / ".local" / "share" / "envls" / "envs" / "named") == {"liba", "libc"}


def test_failures_exit_1_with_the_reason(tmp_path: Path, site: Site) -> None:
    env = cli_environ(tmp_path, site)
    missing = envls("create", "-f", str(tmp_path / "nope.yml"), "-n", "x", "--backend", "embedded", env=env)
    assert missing.returncode == 1 and "no such file" in missing.stderr
    file = tmp_path / "environment.yml"
    file.write_text(env_yaml(site, "bad", ["app", "libc >=2"]))
    unsolvable = envls("create", "-f", str(file), "--backend", "embedded", env=env)
    assert unsolvable.returncode == 1 and "could not solve" in unsolvable.stderr
    no_env = envls("update", "-f", str(file), "-n", "never", "--backend", "embedded", env=env)
    assert no_env.returncode == 1 and "create it first" in no_env.stderr
    assert envls("create", "-f", str(file), "-n", "a", "-p", "/tmp/b", env=env).returncode == 2


def test_ctrl_c_cancels_and_leaves_nothing(tmp_path: Path, site: Site) -> None:
    env = cli_environ(tmp_path, site)
    file = tmp_path / "environment.yml"
    file.write_text(env_yaml(site, "halfway", ["app", "slowpkg"]))
    prefix = tmp_path / "envs" / "halfway"
    site.server.fault("/channel/noarch/slowpkg-", "slow")
    try:
        proc = subprocess.Popen([sys.executable, "-m", "envls", "create", "-f", str(file), "-p", str(prefix),
                                 "--backend", "embedded"], env=env, stderr=subprocess.PIPE, stdout=subprocess.PIPE,
                                text=True)
        assert proc.stderr is not None
        seen = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            seen.append(line)
            if line.startswith("Linking") or not line:
                break
        assert any(s.startswith("Linking") for s in seen), seen
        assert prefix.exists()
        proc.send_signal(signal.SIGINT)
        rest = proc.communicate(timeout=30)[1]
    finally:
        site.server.fault("/channel/noarch/slowpkg-", None)
    assert proc.returncode == 1
    assert "cancelled" in rest and "Traceback" not in rest
    assert not prefix.exists()
    assert not (tmp_path / ".conda" / "environments.txt").exists()


def test_the_bar_on_a_terminal_redraws_one_line() -> None:
    import io

    from envls.workflow_cli import TerminalReporter

    out = io.StringIO()
    reporter = TerminalReporter(out, tty=True)
    reporter.progress("Downloading 1 of 4 packages, 0.5 of 2.0 MB", 22)
    reporter.progress("Linking 4 of 4 packages", 85)
    reporter.finish()
    text = out.getvalue()
    assert text.count("\r\x1b[K") == 3 and "\n" not in text
    assert "[####################    ]  85% Linking 4 of 4 packages" in text


def _pip_set(prefix: Path) -> set[str]:
    site = next(prefix.glob("lib/python*/site-packages"))
    return {p.name.split("-")[0] for p in site.glob("*.dist-info")}


@pytest.mark.parametrize("mode", [[], ["--from-history"], ["--with-builds"]])
def test_export_and_recreate_to_the_same_packages(tmp_path: Path, site: Site, mode: list[str]) -> None:
    env = cli_environ(tmp_path, site)
    file = tmp_path / "environment.yml"
    file.write_text(env_yaml(site, "orig", ["app", "pip"], pip=["envls-demo==1.0"]))
    prefix = tmp_path / "envs" / "orig"
    assert envls("create", "-f", str(file), "-p", str(prefix), "--backend", "embedded", env=env).returncode == 0
    exported = envls("export", "-p", str(prefix), *mode, env=env)
    assert exported.returncode == 0, exported.stderr
    text = exported.stdout
    assert "prefix:" not in text
    assert text.startswith("name: orig\nchannels:\n") and f"  - {site.channel}\n  - nodefaults\n" in text
    assert "  - pip:\n      - envls-demo==1.0\n" in text
    if mode == ["--from-history"]:
        assert "  - app\n  - pip\n" in text and "liba" not in text
    elif mode == ["--with-builds"]:
        assert "  - liba=1.0=0\n" in text and "  - libc=1.5=0\n" in text
    else:
        assert "  - app=1.0\n  - liba=1.0\n  - libc=1.5\n  - pip=24.0\n" in text
    copy = tmp_path / "exported.yml"
    copy.write_text(text)
    again = tmp_path / "envs" / "again"
    made = envls("create", "-f", str(copy), "-p", str(again), "--backend", "embedded", env=env)
    assert made.returncode == 0, made.stderr
    assert installed(again) == installed(prefix)
    assert _pip_set(again) == _pip_set(prefix) and "envls_demo" in _pip_set(again)


def test_export_onto_an_existing_file_changes_only_what_differs(tmp_path: Path, site: Site) -> None:
    env = cli_environ(tmp_path, site)
    file = tmp_path / "environment.yml"
    file.write_text(env_yaml(site, "kept", ["app", "liba"]))
    prefix = tmp_path / "envs" / "kept"
    assert envls("create", "-f", str(file), "-p", str(prefix), "--backend", "embedded", env=env).returncode == 0
    original = (f"# The project's environment\nname: kept\nchannels:\n  - {site.channel}  # ours\n  - nodefaults\n"
                "dependencies:\n  - app=1.0  # the app\n  - liba >=0.5  # loose on purpose\n"
                "  - pywin32  # [win]\n  - gone=2.0\n")
    file.write_text(original)
    result = envls("export", "-p", str(prefix), "--from-history", "-o", str(file), env=env)
    assert result.returncode == 0, result.stderr
    assert file.read_text() == original.replace("  - app=1.0  # the app\n", "  - app  # the app\n") \
        .replace("  - liba >=0.5", "  - liba").replace("  - gone=2.0\n", "")
    unchanged = envls("export", "-p", str(prefix), "--from-history", "-o", str(file), env=env)
    assert "unchanged" in unchanged.stderr
    missing = envls("export", "-n", "no-such-env", env=env)
    assert missing.returncode == 1 and "no environment named `no-such-env`" in missing.stderr


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory, site: Site) -> tuple[Path, Path, dict[str, str]]:
    """An environment with python, a variable in conda-meta/state and an activate.d script."""
    home = tmp_path_factory.mktemp("home")
    env = cli_environ(home, site)
    file = home / "project" / "environment.yml"
    file.parent.mkdir()
    file.write_text(env_yaml(site, "work", ["app"]))
    created = envls("create", "-f", str(file), "--backend", "embedded", env=env)
    assert created.returncode == 0, created.stderr
    prefix = home / ".local" / "share" / "envls" / "envs" / "work"
    (prefix / "conda-meta" / "state").write_text('{"env_vars": {"ENVLS_STATE_VAR": "from state"}}')
    (prefix / "etc" / "conda" / "activate.d").mkdir(parents=True)
    (prefix / "etc" / "conda" / "activate.d" / "hello.sh").write_text(
        'export ENVLS_FROM_SCRIPT="script ran"\necho "activate.d says hi"\n')
    return prefix, file, env


def test_activate_in_a_real_bash(made: tuple[Path, Path, dict[str, str]]) -> None:
    prefix, _, env = made
    script = (f'eval "$("{sys.executable}" -m envls activate -n work --shell bash)" >/dev/null; which python; '
              'echo "$CONDA_PREFIX|$CONDA_DEFAULT_ENV|$ENVLS_STATE_VAR|$ENVLS_FROM_SCRIPT"')
    result = subprocess.run(["bash", "--noprofile", "--norc", "-c", script], capture_output=True, text=True, env=env,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [str(prefix / "bin" / "python"), f"{prefix}|work|from state|script ran"]


@pytest.mark.parametrize("shell", ["zsh", "fish", "powershell", "cmd"])
def test_activation_scripts_for_other_shells(made: tuple[Path, Path, dict[str, str]], shell: str) -> None:
    prefix, _, env = made
    result = envls("activate", "-p", str(prefix), "--shell", shell, env=env)
    assert result.returncode == 0, result.stderr
    assert str(prefix) in result.stdout and "ENVLS_STATE_VAR" in result.stdout and "CONDA_PREFIX" in result.stdout


def test_run_passes_arguments_and_the_exit_status(made: tuple[Path, Path, dict[str, str]]) -> None:
    prefix, file, env = made
    code = "import os, sys; print(sys.argv[1:], os.environ['CONDA_PREFIX'], os.environ['ENVLS_FROM_SCRIPT']); sys.exit(3)"
    result = envls("run", "-n", "work", "--", "python", "-c", code, "a b", "$(no shell)", env=env)
    assert result.returncode == 3, result.stderr
    assert result.stdout == f"['a b', '$(no shell)'] {prefix} script ran\n"
    by_file = envls("run", "-f", str(file), "--", "python", "-c", "import sys; print(sys.prefix)", env=env)
    assert by_file.returncode == 0 and by_file.stdout.strip() == str(prefix)
    missing = envls("run", "-p", str(prefix), "--", "no-such-program-envls", env=env)
    assert missing.returncode == 127 and "no-such-program-envls" in missing.stderr


def test_kernel_refused_without_ipykernel(made: tuple[Path, Path, dict[str, str]], tmp_path: Path) -> None:
    _, _, env = made
    result = envls("kernel", "-n", "work", env={**env, "JUPYTER_DATA_DIR": str(tmp_path / "jupyter")})
    assert result.returncode == 1
    assert "has no ipykernel" in result.stderr and "add `ipykernel` to the file" in result.stderr
    assert not (tmp_path / "jupyter").exists()


def test_kernel_registered_with_the_activation_environment(tmp_path: Path, site: Site) -> None:
    env = cli_environ(tmp_path, site, {"JUPYTER_DATA_DIR": str(tmp_path / "jupyter data")})
    file = tmp_path / "environment.yml"
    file.write_text(env_yaml(site, "lab", ["app", "ipykernel"]))
    prefix = tmp_path / "envs" / "lab"
    assert envls("create", "-f", str(file), "-p", str(prefix), "--backend", "embedded", env=env).returncode == 0
    (prefix / "etc" / "conda" / "activate.d").mkdir(parents=True)
    (prefix / "etc" / "conda" / "activate.d" / "x.sh").write_text("export ENVLS_FROM_SCRIPT=yes\n")
    result = envls("kernel", "-p", str(prefix), "--display-name", "Lab (envls)", env=env)
    assert result.returncode == 0, result.stderr
    spec_file = tmp_path / "jupyter data" / "kernels" / "envls-lab" / "kernel.json"
    spec = json.loads(spec_file.read_text())
    assert spec["display_name"] == "Lab (envls)" and spec["language"] == "python"
    assert spec["argv"] == [str(prefix / "bin" / "python"), "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    assert spec["env"]["CONDA_PREFIX"] == str(prefix) and spec["env"]["ENVLS_FROM_SCRIPT"] == "yes"
    assert spec["env"]["PATH"].startswith(str(prefix / "bin"))
    # Jupyter would start the kernel like this: the module comes from the ipykernel package.
    argv = [a.replace("{connection_file}", "conn.json") for a in spec["argv"]]
    started = subprocess.run(argv, env={**env, **spec["env"]}, capture_output=True, text=True, timeout=60)
    assert started.stdout == "kernel ['-f', 'conn.json'] yes\n", started.stderr


def test_dockerfile_text(tmp_path: Path, site: Site) -> None:
    env = cli_environ(tmp_path, site)
    folder = tmp_path / "my project"
    folder.mkdir()
    file = folder / "environment.yml"
    file.write_text("name: svc\nchannels:\n  - conda-forge\nplatforms:\n  - linux-aarch64\n  - osx-arm64\n"
                    "dependencies:\n  - python=3.12\n  - pip\n  - pip:\n    - rich\n")
    result = envls("dockerfile", "-f", str(file), "-o", str(folder / "Dockerfile"), env=env)
    assert result.returncode == 0, result.stderr
    text = (folder / "Dockerfile").read_text()
    assert "FROM --platform=linux/arm64 mambaorg/micromamba:" in text
    assert "COPY --chown=$MAMBA_USER:$MAMBA_USER environment.yml /tmp/environment.yml" in text
    assert "micromamba install --yes --name base --file /tmp/environment.yml" in text
    assert "micromamba clean --all" in text and "ARG MAMBA_DOCKERFILE_ACTIVATE=1" in text
    assert "#   .git\n" in text  # the .dockerignore suggestion
    run_lines = [line for line in text.splitlines() if line.startswith("RUN") or line.startswith("    &&")]
    assert run_lines and not any("activate" in line for line in run_lines)
    printed = envls("dockerfile", "-f", "environment.yml", env=env, cwd=folder)
    assert printed.stdout == text
    outside = envls("dockerfile", "-f", str(file), env=env, cwd=tmp_path)
    assert "COPY --chown=$MAMBA_USER:$MAMBA_USER [\"my project/environment.yml\", \"/tmp/environment.yml\"]" \
        in outside.stdout
