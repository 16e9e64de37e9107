"""An environment file read for installing it: its name, channels, the specs for one platform, pip lines.

The editor shows every problem of a file; an installer only needs to know whether the file can
be installed at all. A file that does not parse, a spec conda would reject or an installer other
than pip stops the action here with a message that names the line, before anything is created.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from envls.actions.request import ActionError
from envls.core.conda.selectors import applies
from envls.core.document import parse
from envls.core.environment import environment_of
from envls.host.readfile import DOCUMENT_MAX_BYTES, Refused, read_bytes


@dataclass(frozen=True)
class EnvironmentFile:
    path: Path
    name: str | None
    prefix: str | None
    # None when the file has no `channels:` (then the configured channels apply, as in conda).
    channels: tuple[str, ...] | None
    conda_specs: tuple[str, ...]
    pip_lines: tuple[str, ...]


def read_environment_file(path: Path, subdir: str) -> EnvironmentFile:
    """Read ``path`` and keep the dependencies that apply to ``subdir`` (selectors honoured)."""
    try:  # the guarded reader: a FIFO or a device named as the file is refused, never waited on
        data = read_bytes(path, max_bytes=DOCUMENT_MAX_BYTES)
        text = data.decode("utf-8-sig")
    except FileNotFoundError:
        raise ActionError(f"{path}: no such file") from None
    except Refused as err:
        raise ActionError(err.reason) from None
    except (OSError, UnicodeDecodeError) as err:
        reason = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
        raise ActionError(f"{path}: cannot read the file: {reason}") from None
    document = parse(text)
    if document.problems:
        problem = document.problems[0]
        line = document.index.line_of(min(problem.start, len(text))) + 1
        raise ActionError(f"{path}:{line}: the file is not valid YAML: {problem.message}")
    env = environment_of(document)
    if env.dependencies is None:
        raise ActionError(f"{path}: the file has no `dependencies:` list")

    def where(offset: int) -> str:
        return f"{path}:{document.index.line_of(offset) + 1}"

    for key, _ in env.installers:
        raise ActionError(f"{where(key.start)}: `{key.value}:` is no installer conda knows; only `pip:` is")
    specs: list[str] = []
    for entry in env.conda:
        if applies(entry.selector, subdir) is False:
            continue
        parsed = entry.parsed
        if parsed.spec is None:
            raise ActionError(f"{where(entry.start)}: `{entry.text}` is no valid conda spec: {parsed.error}")
        specs.append(entry.text.strip())
    pip_lines = tuple(e.text.strip() for section in env.pip for e in section.entries
                      if applies(e.selector, subdir) is not False)
    channels = tuple(e.text.strip() for e in env.channels) if env.channels_key is not None else None
    return EnvironmentFile(
        path=path,
        name=env.name.text.strip() if env.name is not None else None,
        prefix=env.prefix.text.strip() if env.prefix is not None else None,
        channels=channels,
        conda_specs=tuple(specs),
        pip_lines=pip_lines,
    )
