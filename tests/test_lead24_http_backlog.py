"""The HTTP port's listen backlog is [http] max_connections, as FastAGI's (hagi21).

A dialer opening one connection per /v1/check, met while the event loop is busy (a GC
pause, a slow synchronous step), had the handshakes past asyncio's default backlog of 100
dropped by Linux (net.ipv4.tcp_abort_on_overflow 0): the SYN is retransmitted only after
1 s, past many dialers' timeouts, and those calls were BLOCKed by the dialer as
"callguard not reached" for a node that was up."""

from __future__ import annotations

from aiohttp import web

from callguard.fronts.http.limits import ConnectionLimits, GuardedSite, HttpLimitSettings
from tests.listen_burst import burst, needs_somaxconn


@needs_somaxconn
async def test_a_burst_of_connects_during_a_stall_is_queued_not_dropped() -> None:
    limits = ConnectionLimits(HttpLimitSettings(max_connections=512,
                                                max_connections_per_source=512))
    runner = web.AppRunner(web.Application(), access_log=None)
    await runner.setup()
    site = GuardedSite(runner, "127.0.0.1", 0, limits)
    await site.start()
    try:
        with burst(site.port) as (pending, refused):
            assert (pending, refused) == (0, 0)
    finally:
        await site.stop()
        await runner.cleanup()
