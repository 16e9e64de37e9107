"""The environment workflow on the command line: create, update, export, activate, run, kernel, dockerfile.

Each subcommand calls the same engine as the language server's commands (`envls/actions/`); this
module only turns arguments into requests, shows progress on the terminal, and maps the outcome to an
exit status: 0 when done, 1 with the reason on stderr otherwise (`envls run` passes the command's own
status through). Ctrl-C during create or update cancels the action cleanly: a new environment that was
half made is removed again.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import signal
import sys
from pathlib import Path
from typing import TextIO

from envls.actions.request import BACKENDS, ActionError, Cancelled

COMMANDS = ("create", "update", "export", "activate", "run", "kernel", "dockerfile")


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the workflow's subcommands on the main parser."""
    for verb, text in (("create", "create the environment an environment file describes"),
                       ("update", "update an existing environment from its environment file")):
        parser = sub.add_parser(verb, help=text, description=text.capitalize() + ".")
        parser.add_argument("-f", "--file", required=True, metavar="FILE", help="the environment file")
        _add_target(parser, required=False)
        parser.add_argument("--backend", choices=BACKENDS, default="auto",
                            help="the installer: mamba, micromamba or conda when found (auto), else envls' embedded one")
        if verb == "create":
            parser.add_argument("--force", action="store_true", help="replace an existing environment")
        else:
            parser.add_argument("--prune", action="store_true",
                                help="remove the packages the file no longer asks for")
        parser.add_argument("-v", "--verbose", action="store_true", help="show the installer's output")
    text = "write an installed environment as a portable environment file"
    export = sub.add_parser("export", help=text, description=text.capitalize() + " (never with `prefix:`).")
    _add_target(export, required=True)
    export.add_argument("--from-history", action="store_true",
                        help="only the packages that were asked for (conda-meta/history), not every installed one")
    export.add_argument("--with-builds", action="store_true", help="pin build strings too (`name=version=build`)")
    export.add_argument("-o", "--output", metavar="FILE",
                        help="write to FILE; an existing file keeps its comments, order and selectors")
    text = "print the script that activates an environment, for eval (no conda init needed)"
    act = sub.add_parser("activate", help=text, description=text.capitalize() + ': eval "$(envls activate -n NAME)"')
    _add_target(act, required=True)
    act.add_argument("--shell", choices=("bash", "zsh", "fish", "powershell", "cmd"),
                     help="the shell the script is for (default: from $SHELL)")
    text = "run a command in an activated environment"
    runner = sub.add_parser("run", help=text, description=text.capitalize() + " (no shell: the arguments as given; "
                            "the command's exit status is envls'): envls run -n NAME -- python -V")
    group = runner.add_mutually_exclusive_group(required=True)
    group.add_argument("-n", "--name", metavar="NAME", help="the environment's name")
    group.add_argument("-p", "--prefix", metavar="PREFIX", help="the environment's folder")
    group.add_argument("-f", "--file", metavar="FILE", help="the environment the environment file names")
    runner.add_argument("argv", nargs=argparse.REMAINDER, metavar="-- CMD ARGS", help="the command and its arguments")
    text = "register an environment as a Jupyter kernel"
    kernel = sub.add_parser("kernel", help=text, description=text.capitalize() + " (in the Jupyter data folder, "
                            "JUPYTER_DATA_DIR honoured; the environment needs ipykernel).")
    _add_target(kernel, required=True)
    kernel.add_argument("--display-name", metavar="TEXT", help="the kernel's name in Jupyter (default: Python (NAME))")
    text = "write a Dockerfile that builds the environment of an environment file"
    docker = sub.add_parser("dockerfile", help=text, description=text.capitalize() + ".")
    docker.add_argument("-f", "--file", required=True, metavar="FILE", help="the environment file")
    docker.add_argument("-o", "--output", metavar="FILE", help="write the Dockerfile here (default: print it)")



def _add_target(parser: argparse.ArgumentParser, *, required: bool) -> None:
    group = parser.add_mutually_exclusive_group(required=required)
    group.add_argument("-n", "--name", metavar="NAME", help="the environment's name")
    group.add_argument("-p", "--prefix", metavar="PREFIX", help="the environment's folder")


def run(args: argparse.Namespace) -> int:
    """Run the workflow subcommand ``args.command``; the exit status."""
    try:
        if args.command in ("create", "update"):
            return asyncio.run(_create_or_update(args))
        if args.command == "export":
            return _export(args)
        if args.command == "activate":
            return _activate(args)
        if args.command == "run":
            return _run(args)
        if args.command == "kernel":
            return _kernel(args)
        if args.command == "dockerfile":
            return _dockerfile(args)
    except ActionError as err:
        _error(err.message)
        return 1
    raise AssertionError(f"not a workflow command: {args.command}")


def _error(message: str) -> None:
    sys.stderr.write(f"envls: error: {message}\n")


# -- create and update --------------------------------------------------------------------------------


class TerminalReporter:
    """Progress on a terminal: one bar redrawn in place; without a terminal, one plain line per step."""

    def __init__(self, stream: TextIO, *, tty: bool | None = None, verbose: bool = False) -> None:
        self.stream = stream
        self.tty = stream.isatty() if tty is None else tty
        self.verbose = verbose
        self.last = ""
        self.drawn = False

    def progress(self, message: str, percent: int | None) -> None:
        if self.tty:
            width = max(shutil.get_terminal_size((80, 24)).columns, 40)
            done = max(0, min(100, percent or 0))
            bar = "#" * (done * 24 // 100)
            head = f"[{bar:<24}] {done:3d}% " if percent is not None else ""
            text = (head + message)[: width - 1]
            self.stream.write(f"\r\x1b[K{text}")
            self.drawn = True
        elif message != self.last:
            suffix = f" ({percent}%)" if percent is not None else ""
            self.stream.write(f"{message}{suffix}\n")
        self.last = message
        self.stream.flush()

    def log(self, line: str) -> None:
        if not self.verbose:
            return
        self._clear()
        self.stream.write(line + "\n")
        self.stream.flush()

    def note(self, line: str) -> None:
        self._clear()
        self.stream.write(line + "\n")
        self.stream.flush()

    def finish(self) -> None:
        self._clear()

    def _clear(self) -> None:
        if self.tty and self.drawn:
            self.stream.write("\r\x1b[K")
            self.drawn = False


def _install_interrupt(cancel: asyncio.Event, reporter: TerminalReporter) -> None:
    """The first Ctrl-C cancels the action (which then cleans up); it is not a KeyboardInterrupt."""
    loop = asyncio.get_running_loop()

    def interrupted() -> None:
        if not cancel.is_set():
            reporter.note("Cancelling (cleaning up what was started)...")
        cancel.set()

    try:
        loop.add_signal_handler(signal.SIGINT, interrupted)
    except (NotImplementedError, RuntimeError):  # Windows: no loop signal handlers
        signal.signal(signal.SIGINT, lambda *_: loop.call_soon_threadsafe(interrupted))


async def _create_or_update(args: argparse.Namespace) -> int:
    from envls.actions.create import create_environment
    from envls.actions.request import CreateRequest
    from envls.actions.target import envs_dirs_for_create
    from envls.session import Session, SessionOptions

    update = args.command == "update"
    env_file = Path(args.file).absolute()
    prefix = str(Path(args.prefix).absolute()) if args.prefix else None
    request = CreateRequest(env_file=env_file, name=args.name, prefix=prefix, backend=args.backend,
                            prune=bool(getattr(args, "prune", False)), force=bool(getattr(args, "force", False)),
                            update=update)
    session = Session(SessionOptions())
    reporter = TerminalReporter(sys.stderr, verbose=args.verbose)
    cancel = asyncio.Event()
    _install_interrupt(cancel, reporter)
    tools = await asyncio.to_thread(lambda: session.tools)
    try:
        result = await create_environment(request, tools=tools, envs_dirs=envs_dirs_for_create(session.config, tools),
                                          reporter=reporter, cancel=cancel)
    except Cancelled as err:
        reporter.finish()
        detail = err.message if err.message != "cancelled" else "cancelled"
        _error(f"{detail}" if "removed" in detail or update else f"{detail}; nothing was left behind")
        return 1
    except ActionError as err:
        reporter.finish()
        _error(err.message)
        return 1
    finally:
        reporter.finish()
    verb = "Updated" if update else "Created"
    sys.stdout.write(f"{verb} the environment {result.prefix} (with {result.backend}).\n")
    if not update:
        shell = "powershell" if os.name == "nt" else "bash"
        sys.stdout.write(f'Activate it with:  eval "$(envls activate -p {_quoted(result.prefix)} --shell {shell})"\n')
    return 0


def _quoted(text: str) -> str:
    import shlex

    return shlex.quote(text)



# -- looking up an installed environment ----------------------------------------------------------------


def find_prefix(name: str | None, prefix: str | None) -> tuple[Path, str | None]:
    """The installed environment ``-n NAME`` or ``-p PREFIX`` means, and its name; ActionError when none."""
    from envls.session import Session, SessionOptions

    session = Session(SessionOptions())
    from envls.host.environments import find_environment

    if prefix:
        path = Path(os.path.expanduser(prefix)).absolute()
        if not (path / "conda-meta").is_dir():
            raise ActionError(f"{path} is no conda environment (it has no conda-meta folder)")
        return path, None
    assert name is not None
    found = find_environment(name, session.config, session.tools)
    if found is None:
        raise ActionError(f"there is no environment named `{name}`; create it first, or give its folder with -p")
    return Path(found.prefix), found.name


# -- export -------------------------------------------------------------------------------------------

_MAX_FILE = 5 * 1024 * 1024


def read_existing(path: Path) -> str | None:
    """The text of an existing environment file to merge onto; None when there is none."""
    if not path.exists():
        return None
    if not path.is_file():
        raise ActionError(f"{path} is not a regular file")
    if path.stat().st_size > _MAX_FILE:
        raise ActionError(f"{path} is larger than {_MAX_FILE // (1024 * 1024)} MB; not an environment file")
    try:
        return path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        raise ActionError(f"cannot read {path}: {err}") from None


def write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.envls-tmp")
    try:
        with open(tmp, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except OSError as err:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise ActionError(f"cannot write {path}: {err.strerror or err}") from None


def _export(args: argparse.Namespace) -> int:
    from envls.actions.export import ExportRequest, channel_urls, export_environment
    from envls.channels.condarc import load_config
    from envls.core.workflow.export_text import merge, render

    prefix, name = find_prefix(args.name, args.prefix)
    config = load_config()
    exported = export_environment(ExportRequest(prefix, name or args.name, args.from_history, args.with_builds),
                                  config)
    if not args.output:
        sys.stdout.write(render(exported))
        return 0
    output = Path(args.output)
    existing = read_existing(output)
    if existing is None:
        write_atomically(output, render(exported))
        sys.stderr.write(f"Wrote {output}\n")
        return 0
    merged = merge(existing, exported, keep_name=args.name is None,
                   channel_urls=channel_urls(config, output.absolute().parent))
    if merged.rewritten:
        sys.stderr.write(f"envls: {output}: {merged.reason}; writing it fresh\n")
    if merged.text == existing:
        sys.stderr.write(f"{output} already describes the environment; unchanged\n")
        return 0
    write_atomically(output, merged.text)
    sys.stderr.write(f"Updated {output}\n")
    return 0


# -- activate and run ---------------------------------------------------------------------------------


def _activate(args: argparse.Namespace) -> int:
    from envls.actions.activation import activation_script, default_shell

    prefix, name = find_prefix(args.name, args.prefix)
    sys.stdout.write(activation_script(prefix, args.shell or default_shell(), name=name or args.name))
    return 0


def prefix_of_file(path: Path) -> tuple[Path, str | None]:
    """The installed environment an environment file names (its `prefix:`, else its `name:`)."""
    from envls.actions.embedded import host_subdir
    from envls.actions.envfile import read_environment_file

    env_file = read_environment_file(path.absolute(), host_subdir())
    if env_file.prefix:
        prefix = Path(os.path.expanduser(env_file.prefix))
        return find_prefix(None, str(prefix if prefix.is_absolute() else path.absolute().parent / prefix))
    if env_file.name:
        return find_prefix(env_file.name, None)
    raise ActionError(f"{path} has no `name:` or `prefix:`: give the environment with -n or -p")


def _run(args: argparse.Namespace) -> int:
    from envls.actions.activation import activated_environment

    argv = list(args.argv)
    if argv and argv[0] == "--":
        argv = argv[1:]
    if not argv:
        raise ActionError("no command given: envls run -n NAME -- CMD ARGS...")
    prefix, name = prefix_of_file(Path(args.file)) if args.file else find_prefix(args.name, args.prefix)
    env = asyncio.run(activated_environment(prefix, name=name or args.name))
    program = shutil.which(argv[0], path=env.get("PATH")) or argv[0]
    sys.stdout.flush()
    sys.stderr.flush()
    if os.name != "nt":
        try:
            os.execve(program, [argv[0], *argv[1:]], env)
        except OSError as err:
            _error(f"cannot run {argv[0]}: {err.strerror or err}")
            return 127 if isinstance(err, FileNotFoundError) else 126
    import subprocess

    try:
        return subprocess.run([program, *argv[1:]], env=env).returncode
    except OSError as err:
        _error(f"cannot run {argv[0]}: {err.strerror or err}")
        return 127 if isinstance(err, FileNotFoundError) else 126


# -- Jupyter and Docker -------------------------------------------------------------------------------


def _kernel(args: argparse.Namespace) -> int:
    from envls.actions.activation import activated_environment, changed_variables
    from envls.actions.kernel import has_ipykernel, register_kernel

    prefix, name = find_prefix(args.name, args.prefix)
    if not has_ipykernel(prefix):  # before activating: the refusal needs no shell
        register_kernel(prefix, name or args.name, {})
    variables = changed_variables(os.environ, asyncio.run(activated_environment(prefix, name=name or args.name)))
    kernel = register_kernel(prefix, name or args.name, variables, display_name=args.display_name)
    sys.stdout.write(f"Registered the Jupyter kernel \"{kernel.display_name}\" ({kernel.name}) in {kernel.path}\n")
    return 0


def dockerfile_for(env_file: Path, context: Path) -> tuple[str, tuple[str, ...]]:
    """The Dockerfile text for ``env_file`` built in the folder ``context``, and notes for the user."""
    from envls.core.workflow.dockerfile import dockerfile

    text = read_existing(env_file)
    if text is None:
        raise ActionError(f"{env_file}: no such file")
    try:
        relative = os.path.relpath(env_file.absolute(), context.absolute())
    except ValueError:  # another drive (Windows)
        relative = os.path.join("..", env_file.name)
    notes: list[str] = []
    if relative.startswith(".."):
        notes.append(f"{env_file} is outside the build context {context}: copy it there as {env_file.name}")
        relative = env_file.name
    result = dockerfile(text, Path(relative).as_posix(), file_label=env_file.name)
    return result.text, (*notes, *result.notes)


def _dockerfile(args: argparse.Namespace) -> int:
    output = Path(args.output) if args.output else None
    context = output.absolute().parent if output is not None else Path.cwd()
    text, notes = dockerfile_for(Path(args.file), context)
    for note in notes:
        sys.stderr.write(f"envls: note: {note}\n")
    if output is None:
        sys.stdout.write(text)
        return 0
    write_atomically(output, text)
    sys.stderr.write(f"Wrote {output}\n")
    return 0
