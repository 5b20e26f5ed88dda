"""hagi23: a peer that stops reading while callguard writes cannot park a session for ever.

Before, ``AgiChannel._send`` awaited ``writer.drain()`` with no limit, and the session's
last act was ``writer.close()``, which asyncio holds open until every buffered byte reached
the kernel. A peer (or a wedged Asterisk) that stops reading left the session coroutine
parked in ``drain`` (past 64 KiB pending) or its socket open for good (below it). Now every
write waits for the kernel at most ``reply_timeout`` (``send_bounded``: the session keeps
no write buffer of its own, high-water mark 0), and the connection is aborted on expiry;
closing is bounded the same way (``close_bounded``).

The peer here is a real TCP socket with the smallest receive buffer the kernel grants, that
never reads. The server-level tests stand for "callguard already wrote more than the peer
read" by filling the accepted socket's kernel send buffer (raw non-blocking sends until
EAGAIN) before the session runs: the state a peer that stopped reading leaves behind.
Asterisk's header blocks are the recorded lab ones (``tests/fake_asterisk.header_block``).
"""

from __future__ import annotations

import asyncio
import socket
import time
from dataclasses import replace

import structlog

from callguard.fronts.fastagi import contract as c
from callguard.fronts.fastagi.wire import AgiChannel, WriteStalled
from tests.fake_asterisk import agi_session, header_block
from tests.test_fastagi import UT, compliance_records, node

__all__ = ["node"]  # the fixture, from test_fastagi

ARGS = ["8015550123", UT, "", "1795326461.80", ""]
REPLY_S = 0.3


def _non_reading_peer(port: int) -> socket.socket:
    """A connected socket with the smallest receive buffer, which will never read."""
    peer = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    peer.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1)  # set before connect: the window
    peer.connect(("127.0.0.1", port))
    peer.setblocking(False)
    return peer


def _fill(transport_socket) -> int:
    """Send on the accepted socket (a dup of its fd, non-blocking) until the kernel takes
    no more; bytes sent."""
    sent = 0
    chunk = b"x" * 65536
    with socket.fromfd(transport_socket.fileno(), socket.AF_INET, socket.SOCK_STREAM) as dup:
        # A fixed send buffer: the kernel no longer grows it (autotuning) once it is full.
        dup.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        dup.setblocking(False)
        while True:
            try:
                sent += dup.send(chunk)
            except BlockingIOError:
                return sent


async def test_a_large_write_to_a_peer_that_stops_reading_is_bounded():
    """AgiChannel over a real socket: a command far larger than both kernel buffers, to a
    peer that never reads. On main ``_send`` never returned (drain with no limit)."""
    accepted: asyncio.Future[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = (
        asyncio.get_running_loop().create_future())

    async def accept(reader, writer):
        accepted.set_result((reader, writer))
        await asyncio.sleep(3600)

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    peer = _non_reading_peer(server.sockets[0].getsockname()[1])
    try:
        reader, writer = await asyncio.wait_for(accepted, 5)
        channel = AgiChannel({}, reader, writer, reply_timeout=REPLY_S)
        started = time.monotonic()
        try:
            async with asyncio.timeout(5):  # the test's own bound: main hangs here
                await channel._send("VERBOSE " + "y" * 4_000_000)
        except WriteStalled:
            pass
        else:
            raise AssertionError("4 MB reached a peer that never reads")
        assert time.monotonic() - started < 2
        assert writer.transport.is_closing()
        await asyncio.sleep(0)  # abort's connection_lost runs on the next turn
        assert writer.get_extra_info("socket").fileno() == -1  # the fd is given back
    finally:
        peer.close()
        server.close()


async def _fill_settled(transport_socket) -> int:
    """``_fill``, again after each pause until the kernel takes nothing more: bytes sent.

    One ``_fill`` is not the state of a peer that stopped reading: the peer's delayed ACK
    (Linux: 40 ms at least) of the last segments comes after it and frees their room in
    the send buffer (a probe here: 5,760 bytes, then 576 more 50 ms later, then nothing
    for 4 s). A session whose decision took longer than that (a loaded machine) wrote its
    ALLOW whole into that room, waited for a reply in vain and withdrew it: the BLOCK's
    write stalled instead (``answer_delivery_unknown`` 0, the flake of session 28)."""
    sent = _fill(transport_socket)
    for _ in range(50):
        await asyncio.sleep(0.1)
        more = _fill(transport_socket)
        if not more:
            return sent
        sent += more
    raise AssertionError("the kernel kept taking bytes the peer never read")


async def _start_wedged(node, transports: list):
    """A server like ``node``'s whose accepted sockets start with a full send buffer,
    settled (``_fill_settled``): the session's first write stalls however long its
    decision takes. The transport is listed only then, as the session starts."""
    handler = node.handler

    async def wedged(reader, writer):
        await _fill_settled(writer.get_extra_info("socket"))
        transports.append(writer.transport)
        await handler(reader, writer)

    return await asyncio.start_server(wedged, "127.0.0.1", 0)


async def test_a_session_whose_peer_stops_reading_ends_aborted_and_others_go_on(node):
    """The session ends within its bound, its socket is aborted (fd given back), the
    ALLOW decided before the write stays on record and the log says its delivery is
    unknown, with no number in clear; a normal session is answered afterwards. On main
    the ALLOW's MSet sat in asyncio's buffer and ``writer.close()`` kept the socket open
    for as long as the peer did not read (here: for ever)."""
    # A decision as slow as a loaded machine's (the store answers in 0.2 s), inside a
    # budget no load reaches: the ALLOW is decided, and written only once the peer's
    # delayed ACKs are long in (on a single ``_fill`` it went out whole: the flake).
    node.settings = replace(node.settings, reply_timeout_ms=int(REPLY_S * 1000),
                            budget_ms=10_000)
    node.records.delay = 0.2
    transports: list = []
    wedged = await _start_wedged(node, transports)
    peer = _non_reading_peer(wedged.sockets[0].getsockname()[1])
    try:
        with structlog.testing.capture_logs() as logged:
            peer.send(header_block(c.ROUTE_CHECK, ARGS))
            async with asyncio.timeout(5):
                while node.stats.connected or not transports:
                    await asyncio.sleep(0.02)
            await asyncio.sleep(0.05)
        transport = transports[0]
        assert transport.is_closing()
        assert transport.get_extra_info("socket").fileno() == -1, "socket still held"
        counts = node.stats.counts
        assert counts["write_stalled"] == 1, counts
        assert counts["answer_delivery_unknown"] == 1
        assert counts["reply_failed"] == 0
        records = compliance_records(node)
        assert [r["verdict"] for r in records] == ["ALLOW"]
        stalled = [e for e in logged if e["event"] == "fastagi_write_stalled"]
        assert len(stalled) == 1, logged
        assert stalled[0]["decision_id"] == records[0]["decision_id"]
        assert "may have read it" in stalled[0]["effect"]
        assert "5550123" not in repr(logged)
        # Others go on: a normal session on the node's own port is answered.
        result = await agi_session(node.port, c.ROUTE_CHECK, ARGS)
        assert result.variables[c.VAR_VERDICT] == "ALLOW"
    finally:
        peer.close()
        wedged.close()


async def test_a_busy_answer_to_a_peer_that_stops_reading_is_bounded_too(node):
    """At the session cap the BLOCK goes out without a decision; to a peer that stopped
    reading it no longer holds the socket (main: written, then ``close`` waited for it)."""
    node.settings = replace(node.settings, reply_timeout_ms=int(REPLY_S * 1000),
                            max_sessions=0)
    transports: list = []
    wedged = await _start_wedged(node, transports)
    peer = _non_reading_peer(wedged.sockets[0].getsockname()[1])
    try:
        peer.send(header_block(c.ROUTE_CHECK, ARGS))
        async with asyncio.timeout(5):
            while node.stats.connected or not transports:
                await asyncio.sleep(0.02)
        await asyncio.sleep(0.05)
        assert transports[0].get_extra_info("socket").fileno() == -1, "socket still held"
        assert node.stats.counts["refused_busy"] == 1
        assert node.stats.counts["write_stalled"] == 1
        assert node.stats.counts["answer_delivery_unknown"] == 0
    finally:
        peer.close()
        wedged.close()
