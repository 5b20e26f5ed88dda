"""A real redis-server (Debian's package) on a free loopback port, for tests.

It can be killed (SIGKILL, as a crash) and started again on the same port and data dir;
AOF with appendfsync always is on, as callguard's shipped compose file asks.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A port nothing listens on right now, and never one this process was given before:
    the kernel hands a just-closed ephemeral port out again, so two calls in a row (a
    node's FastAGI and HTTP ports) could name the same one, and its second bind failed."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port in _HANDED_OUT or not _udp_free(port):  # SIP binds UDP on it as well
            continue
        _HANDED_OUT.add(port)
        return port


def _udp_free(port: int) -> bool:
    """Nothing holds ``port`` for UDP (a TCP port free may be a UDP port taken: a SIP
    node's bind then failed "address already in use", hrev46)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class RedisServer:
    """One redis-server process."""

    def __init__(self, data_dir: Path, *, appendfsync: str = "always",
                 appendonly: str = "yes", extra: tuple[str, ...] = ()) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed: run scripts/test.sh, which "
                               "installs Debian's redis-server")
        self.binary = binary
        self.data_dir = data_dir
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.appendfsync = appendfsync
        self.appendonly = appendonly
        self.extra = extra  # more redis-server arguments (e.g. a rename-command)

    @property
    def url(self) -> str:
        """redis:// URL of this server."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start and wait until it answers."""
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir",
             str(self.data_dir), "--appendonly", self.appendonly, "--appendfsync",
             self.appendfsync,
             "--save", "", "--protected-mode", "no", *self.extra],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server did not start on {self.port}")

    def kill(self) -> None:
        """SIGKILL, as a crash or a pulled cable."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None

    def stop(self) -> None:
        """Terminate."""
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None
