"""Long-running actions on environments: creating and updating them from an environment file.

Everything here does I/O or runs processes; nothing here knows LSP. The language server (or a CLI)
builds a `CreateRequest`, passes a `Reporter` and a cancel `asyncio.Event`, and awaits
`create.create_environment`, which answers a `Result` or raises `ActionError` with a message
meant for the user.

- `process.py`: one child process from an argument list, its output streamed line by line, and
  cancel that ends the whole process tree.
- `request.py`: the request, the result, the error and the reporter protocol.
- `target.py`: which prefix a request means, and what may not be touched.
- `prefix.py`: the lock, conda-meta/history, environments.txt and removing a half-made prefix.
- `envfile.py`: the environment file read for installing (specs for this platform, pip lines).
- `conda_output.py`: conda's, mamba's and micromamba's `--json` output read into progress and errors.
- `conda_backend.py`: the argument lists for conda, mamba and micromamba, and running them.
- `embedded.py`: the installer that needs no conda: py-rattler solves, downloads and links.
- `pip_step.py`: the `pip:` section, run with the environment's own Python.
- `create.py`: picks the backend (`auto`) and runs it.
"""
