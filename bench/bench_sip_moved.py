"""Bytes out over UDP per byte in, for a SIP transaction moved from a closed TCP
connection to UDP (hrev144's amplifier, bounded by hsip32).

A real front on loopback (T1 50 ms, ``max_retransmits`` 10): an INVITE over TCP (extra
Via rows make its answer large), its connection closed, then a copy of it by UDP — a
287-byte one without the rows (what a forged source can send), and the dialer's own
full copy. What comes back over 64·T1 and half a second is counted. hsip33: seven small
copies in a row (a dialer's timer A), and 10,000 UDP ACKs against a live TCP transaction.

    python bench/bench_sip_moved.py      (from the repository root)
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from callguard.fronts.sip.server import SipFront
from tests.test_hsip30_moves import _over_tcp
from tests.test_hsip32_moves import _padded
from tests.test_sip import TRUNK, Client, invite, make_runtime, tcp

T1 = 0.05


async def _run(server: SipFront, name: str, rows: int, copy_rows: int) -> None:
    big = tcp(_padded(invite(name), rows))
    copy = _padded(invite(name), copy_rows) if copy_rows else invite(name)
    first = await _over_tcp(server.port, big, 0.5)
    await asyncio.sleep(0.1)  # the close reaches the front
    client = Client(server.port)
    client.send(copy)
    replies = await client.silence(64 * T1 + 0.5)
    out = sum(len(r) for r in replies)
    statuses = [r.split(b" ", 2)[1].decode() for r in replies]
    print(f"TCP INVITE {len(big)} B (answer {len(first)} B); UDP copy {len(copy)} B in; "
          f"{len(replies)} datagrams {statuses}, {out} B out: {out / len(copy):.2f}x")


async def _copies(server: SipFront, name: str, rows: int, count: int) -> None:
    """``count`` small copies one after another, as a dialer's timer A sends them
    (hsip33: absorbed until together they pay for the answer)."""
    big = tcp(_padded(invite(name), rows))
    copy = invite(name)
    first = await _over_tcp(server.port, big, 0.5)
    await asyncio.sleep(0.1)
    client = Client(server.port)
    replies: list[bytes] = []
    for _ in range(count):
        client.send(copy)
        replies += await client.silence(0.1)
    replies += await client.silence(64 * T1 + 0.5)
    out = sum(len(r) for r in replies)
    statuses = [r.split(b" ", 2)[1].decode() for r in replies]
    print(f"TCP INVITE {len(big)} B (answer {len(first)} B); {count} UDP copies of "
          f"{len(copy)} B, {count * len(copy)} B in; {len(replies)} datagrams {statuses}, "
          f"{out} B out: {out / (count * len(copy)):.2f}x")


async def _acks(server: SipFront, name: str, count: int) -> None:
    """UDP ACKs of an INVITE answered over an open TCP connection, and of none: what
    the table holds after them (hsip33: nothing more)."""
    _reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(tcp(invite(name)))
    await writer.drain()
    await asyncio.sleep(0.3)
    before = len(server.transactions)
    client = Client(server.port)
    ack = invite(name).replace(b"INVITE", b"ACK")
    for i in range(count):
        client.send(ack if i % 2 else invite(f"{name}x{i}").replace(b"INVITE", b"ACK"))
        if i % 500 == 499:
            await asyncio.sleep(0.01)  # the socket's buffer drains
    await asyncio.sleep(0.3)
    print(f"{count} UDP ACKs (half of the live TCP branch): transactions held "
          f"{before} before, {len(server.transactions)} after")
    writer.close()


async def main() -> None:
    runtime = make_runtime(Path(tempfile.mkdtemp()))
    sip = replace(runtime.settings.sip, port=0, trunk=TRUNK, t1_ms=int(T1 * 1000),
                  max_retransmits=10)
    server = SipFront(runtime.gate, sip)
    server.runtime = runtime  # what the tests' helpers read (tests/test_sip.py)
    await server.start()
    try:
        await _run(server, "amp1", 126, 0)
        await _run(server, "amp2", 20, 20)
        await _copies(server, "amp3", 40, 7)
        await _acks(server, "amp4", 10_000)
        print({k: v for k, v in server.stats.counts.items()
               if k in ("retransmitted", "moved_answer_capped", "moved_answer_too_large",
                        "ack_other_transport", "ack_stray-ack", "udp_copy_of_stream")})
    finally:
        await server.close()
        await runtime.aclose()


if __name__ == "__main__":
    asyncio.run(main())
