"""A decision that ends while its connection lingers past the limit — hrev46.

A TCP peer past ``max_datagram_bytes`` is answered 513, its INVITEs under way waited for
twice the budget, then the server shuts its sending side (FIN) and reads what the peer
still sends, up to 2 s (``_linger``). A decision slower than that wait (a stalled record
write) then wrote its answer after the FIN: ``write()`` after ``write_eof()`` raises, the
INVITE was counted ``internal_error`` and logged ``sip_invite_failed`` twice over (its
500 raised too). Nothing is written once the side is shut.
"""

from __future__ import annotations

import asyncio

from tests.test_hostile18_sip import _read_to_close
from tests.test_sip import _Slowed, front, invite, tcp

__all__ = ["front"]


async def _trickle(writer: asyncio.StreamWriter, seconds: float) -> None:
    """A body sent slowly, 4 KiB every 0.1 s, for ``seconds``."""
    loop = asyncio.get_running_loop()
    until = loop.time() + seconds
    try:
        while loop.time() < until:
            writer.write(b"v" * 4096)
            await writer.drain()
            await asyncio.sleep(0.1)
    except (ConnectionError, OSError):
        return


async def test_a_decision_ending_during_the_linger_is_not_written_after_the_fin(front):
    server = await front(budget_ms=100)
    server.gate = _Slowed(server.gate, 0.8)  # slower than the wait (2 x budget)
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(tcp(invite("slow-one")))
    writer.write(tcp(invite("big")).replace(b"Content-Length: 0",
                                            b"Content-Length: 1000000"))
    trickle = asyncio.create_task(_trickle(writer, 2.0))
    try:
        data = await _read_to_close(reader)  # to the server's FIN
        await trickle  # still sending: the server lingers, reading it
    finally:
        trickle.cancel()
        writer.close()
    assert b"SIP/2.0 513 Message Too Large" in data
    deciding = server._deciding  # the decision under way: its end waited for
    loop = asyncio.get_running_loop()
    until = loop.time() + 10
    while deciding and loop.time() < until:
        await asyncio.sleep(0.05)
    assert not deciding
    assert server.stats.counts["internal_error"] == 0, server.stats.counts
