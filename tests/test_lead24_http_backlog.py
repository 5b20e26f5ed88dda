"""The HTTP port's listen backlog is [http] max_connections, as FastAGI's (hagi21).

A dialer opening one connection per /v1/check, met while the event loop is busy (a GC
pause, a slow synchronous step), had the handshakes past asyncio's default backlog of 100
dropped by Linux (net.ipv4.tcp_abort_on_overflow 0): the SYN is retransmitted only after
1 s, past many dialers' timeouts, and those calls were BLOCKed by the dialer as
"callguard not reached" for a node that was up."""

from __future__ import annotations

import select
import socket
import time
from pathlib import Path

import pytest
from aiohttp import web

from callguard.fronts.http.limits import ConnectionLimits, GuardedSite, HttpLimitSettings


def _somaxconn() -> int:
    try:
        return int(Path("/proc/sys/net/core/somaxconn").read_text())
    except (OSError, ValueError):
        return 0


@pytest.mark.skipif(_somaxconn() < 400, reason="the kernel caps every backlog below 300 "
                    "(net.core.somaxconn; 4096 since Linux 5.4)")
async def test_a_burst_of_connects_during_a_stall_is_queued_not_dropped() -> None:
    limits = ConnectionLimits(HttpLimitSettings(max_connections=512,
                                                max_connections_per_source=512))
    runner = web.AppRunner(web.Application(), access_log=None)
    await runner.setup()
    site = GuardedSite(runner, "127.0.0.1", 0, limits)
    await site.start()
    socks = []
    try:
        # This coroutine holds the loop: nothing is accepted, as in a stall; only the
        # kernel's queue takes the handshakes (loopback: at once).
        for _ in range(300):
            sock = socket.socket()
            sock.setblocking(False)
            sock.connect_ex(("127.0.0.1", site.port))
            socks.append(sock)
        deadline = time.monotonic() + 0.5  # well inside a retransmitted SYN's 1 s
        pending = list(socks)
        while pending and time.monotonic() < deadline:
            _, ready, _ = select.select([], pending, [], 0.05)
            pending = [s for s in pending if s not in ready]
        refused = [s for s in socks if s not in pending
                   and s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)]
        assert (len(pending), len(refused)) == (0, 0)
    finally:
        for sock in socks:
            sock.close()
        await site.stop()
        await runner.cleanup()
