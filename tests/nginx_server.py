"""nginx on 127.0.0.1 serving channel folders the way mirrors do: ETag, Last-Modified, 304 on a conditional GET.

The channel tests use it next to tests/channel_server.py (Python's http.server, whose 304 carries no
validators) because real servers answer conditional requests differently, and py-rattler's caches
must survive both. Each server is a private nginx process with its own configuration, logs and temp
folders in a folder of its own, listening on a free loopback port: never the system's service.
When the tests run as root, nginx runs as `nobody` (an unprivileged process), so everything it serves
must be readable by everyone: `public_folder()` makes such a folder.

``locations`` maps URL prefixes to folders, e.g. ``{"/anaconda/cloud/": channels, "/anaconda/pkgs/": main}``,
so one server can stand in for a mirror's path layout.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

_CANDIDATES = ("/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/local/nginx/sbin/nginx")


def nginx_binary() -> str | None:
    found = shutil.which("nginx")
    if found:
        return found
    return next((path for path in _CANDIDATES if os.access(path, os.X_OK)), None)


def why_no_nginx() -> str | None:
    """None when nginx can run here; else the reason (for pytest.skip)."""
    if os.name != "posix":
        return "nginx tests run on POSIX systems only"
    if nginx_binary() is None:
        return "nginx is not installed (scripts/test installs the Debian package nginx-light)"
    return None


def public_folder(prefix: str = "envls-nginx-") -> Path:
    """A new folder that an unprivileged nginx can read (tempfile makes them private)."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    return path


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _config(home: Path, port: int, locations: Mapping[str, Path]) -> str:
    blocks = "\n".join(
        f"        location {prefix} {{\n            alias {Path(folder).resolve()}/;\n        }}"
        for prefix, folder in locations.items()
    )
    temp = "\n".join(f"    {kind}_temp_path {home / 'temp' / kind};"
                     for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    return f"""daemon off;
master_process off;
worker_processes 1;
pid {home / 'nginx.pid'};
error_log {home / 'error.log'} warn;
events {{
    worker_connections 512;
}}
http {{
    access_log {home / 'access.log'};
{temp}
    types {{
        application/json json;
        application/zstd zst;
        application/x-bzip2 bz2;
    }}
    default_type application/octet-stream;
    sendfile on;
    etag on;
    keepalive_requests 10000;
    server {{
        listen 127.0.0.1:{port};
{blocks}
    }}
}}
"""


class NginxServer:
    """A private nginx; ``base_url`` is its root, ``requests()`` the (method, path, status) lines it logged."""

    def __init__(self, locations: Mapping[str, Path], home: Path | None = None) -> None:
        binary = nginx_binary()
        if binary is None:
            raise RuntimeError(why_no_nginx() or "no nginx")
        self.home = home if home is not None else public_folder("envls-nginx-conf-")
        (self.home / "temp").mkdir(exist_ok=True)
        user = self._user()
        if user is not None:
            for path in (self.home, self.home / "temp"):
                os.chown(path, user.pw_uid, user.pw_gid)
        last_error = ""
        for _ in range(5):  # another process may take the free port between probing and binding it
            self.port = _free_port()
            config = self.home / "nginx.conf"
            config.write_text(_config(self.home, self.port, locations), encoding="utf-8")
            config.chmod(0o644)
            self._process = subprocess.Popen(
                [binary, "-c", str(config), "-p", str(self.home), "-e", str(self.home / "error.log")],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                user=user.pw_uid if user is not None else None, group=user.pw_gid if user is not None else None)
            if self._wait_listening():
                break
            last_error = self._stop_process()
        else:
            raise RuntimeError(f"nginx did not start: {last_error}")
        self.base_url = f"http://127.0.0.1:{self.port}"

    @staticmethod
    def _user() -> pwd.struct_passwd | None:
        if os.geteuid() != 0:
            return None
        try:
            return pwd.getpwnam("nobody")
        except KeyError:
            return None

    def _wait_listening(self) -> bool:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                return False
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return True
            except OSError:
                time.sleep(0.02)
        return False

    def _stop_process(self) -> str:
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(5)
        stderr = self._process.stderr.read().decode(errors="replace") if self._process.stderr else ""
        if self._process.stderr:
            self._process.stderr.close()
        log = self.home / "error.log"
        tail = log.read_text(errors="replace")[-400:] if log.is_file() else ""
        return (stderr + tail).strip()

    def requests(self) -> list[tuple[str, str, int]]:
        """(method, path, status) of every request so far, from nginx's access log."""
        log = self.home / "access.log"
        lines = log.read_text(errors="replace").splitlines() if log.is_file() else []
        found = []
        for line in lines:
            try:
                request = line.split('"')[1]
                status = int(line.split('"')[2].split()[0])
            except (IndexError, ValueError):
                continue
            method, _, rest = request.partition(" ")
            found.append((method, rest.rsplit(" ", 1)[0], status))
        return found

    def stop(self) -> None:
        self._stop_process()
        shutil.rmtree(self.home, ignore_errors=True)

    def __enter__(self) -> NginxServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
