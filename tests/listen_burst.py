"""A burst of TCP connects made while the event loop is held (a stall): how many the
kernel's listen queue did not take. Shared by the FastAGI and HTTP backlog tests (hagi21,
lead): both fronts listen with a backlog of their max_connections, not asyncio's 100."""

from __future__ import annotations

import contextlib
import select
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest


def somaxconn() -> int:
    """net.core.somaxconn: the kernel's cap on any listen backlog (0 when unreadable)."""
    try:
        return int(Path("/proc/sys/net/core/somaxconn").read_text())
    except (OSError, ValueError):
        return 0


needs_somaxconn = pytest.mark.skipif(
    somaxconn() < 400, reason="the kernel caps every backlog below 300 "
    "(net.core.somaxconn; 4096 since Linux 5.4)")


@contextlib.contextmanager
def burst(port: int, count: int = 300) -> Iterator[tuple[int, int]]:
    """Open ``count`` non-blocking connects to ``port`` without yielding to the loop
    (nothing is accepted, as in a stall; only the kernel's queue takes the handshakes)
    and yield (still pending after 0.5 s, refused); the sockets close on exit."""
    socks = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.setblocking(False)
            sock.connect_ex(("127.0.0.1", port))
            socks.append(sock)
        deadline = time.monotonic() + 0.5  # well inside a retransmitted SYN's 1 s
        pending = list(socks)
        while pending and time.monotonic() < deadline:
            _, ready, _ = select.select([], pending, [], 0.05)
            pending = [s for s in pending if s not in ready]
        refused = [s for s in socks if s not in pending
                   and s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)]
        yield len(pending), len(refused)
    finally:
        for sock in socks:
            sock.close()
