"""hrev158 (review of hagi32): a socket waiting in ``close_bounded`` is still counted.

hagi32's ``close_bounded`` waits (at most 300 ms) before a close that would be a reset,
until the peer acknowledged the answer. The handler took the socket off
``stats.connected`` before that wait: a socket still open, not counted against
``max_connections``, which ``callguard serve`` sizes under the open-files limit. Peers
that do not acknowledge (their window closed, or ACKs dropped on their host) and cycle
fast could hold ``max_connections`` counted sockets plus every one still waiting:
descriptors past the cap (EMFILE refuses Asterisk's calls, the stores' files). And the
stop's drain (``_drain_fastagi``) reads ``stats.connected``: it ended while sockets still
waited. Real TCP sockets, callguard's own handler; the peer's window closed by bytes
queued before its block (it reads only later). Fails on hagi32: ``connected`` is 0 while
the socket waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from dataclasses import replace

from callguard.fronts.fastagi import wire
from callguard.fronts.fastagi.wire import close_bounded
from tests.test_fastagi import node
from tests.test_hagi32_fastagi import _flood, _pair, _reader_after

__all__ = ["node"]  # the fixture, from test_fastagi: max_header_bytes 16 KiB


async def test_a_socket_waiting_for_its_ack_still_counts_against_max_connections(
        node, monkeypatch):
    """A block read no further (past ``max_header_bytes`` + 64 KiB), answered BLOCK into a
    closed window: while ``close_bounded`` waits for the acknowledgement the socket is
    open, and counted; once the peer reads, it gets the BLOCK, and the count is 0."""
    monkeypatch.setattr(wire, "_ACK_WAIT", 30.0)  # the wait ends on the ack, not a clock
    node.settings = replace(node.settings, reply_timeout_ms=30000)
    accepted: asyncio.Queue = asyncio.Queue()

    async def take(reader, writer):
        await accepted.put((reader, writer))

    listener = await asyncio.start_server(take, "127.0.0.1", 0,
                                          limit=node.settings.max_header_bytes)
    peer = socket.socket()
    peer.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1)  # its window the smallest
    peer.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)  # past the 64 KiB
    go = threading.Event()
    try:
        await asyncio.to_thread(peer.connect, listener.sockets[0].getsockname())
        reader, writer = await accepted.get()
        await asyncio.to_thread(_flood, peer, 0.5)
        filler = b"x" * 8000  # what the peer's window cannot take before it reads
        writer.write(filler)
        serving = asyncio.create_task(node.handler(reader, writer))
        reading = asyncio.create_task(asyncio.to_thread(_reader_after, peer, go))
        async with asyncio.timeout(20):
            while not node.stats.counts["too_large_answered"]:
                await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)
        assert not serving.done()  # waiting for the peer's acknowledgement
        assert not writer.transport.is_closing()
        assert node.stats.connected == 1  # hagi32: 0, an open socket not counted
        go.set()
        async with asyncio.timeout(30):
            await serving
        got = await reading
    finally:
        go.set()
        peer.close()
        listener.close()
    assert node.stats.connected == 0
    assert node.stats.counts["close_aborted"] == 0
    assert got.startswith(filler), len(got)
    assert b"CALLGUARD_VERDICT=BLOCK" in got[len(filler):], got[-300:]


async def test_a_close_cancelled_while_it_waits_still_closes_the_socket():
    """The stop cancels a session still waiting in ``close_bounded`` (the drain's cap
    reached): the socket is closed all the same. On hagi32 the cancellation came before
    ``writer.close()``: the socket stayed open until the transport was collected."""
    peer, _reader, writer, server = await _pair(1)
    try:
        await asyncio.to_thread(_flood, peer, 0.5)
        writer.write(b"x" * 8000 + b"\n")  # queued behind the peer's closed window
        closing = asyncio.create_task(close_bounded(writer, 30.0))
        await asyncio.sleep(0.05)
        assert not closing.done()  # waiting for the acknowledgement
        closing.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await closing
        assert writer.transport.is_closing()
    finally:
        peer.close()
        server.close()


async def test_a_peer_that_reset_is_not_waited_for(monkeypatch):
    """The peer reset the connection (Asterisk closed with callguard's bytes unread:
    a caller who hung up while callguard answered). Its kernel acknowledges nothing
    more, yet TIOCOUTQ and FIONREAD keep their counts after the reset (Linux: the
    socket in TCP_CLOSE keeps ``write_seq - snd_una`` and its receive queue): on hagi32
    the close waited its whole bound for nothing (300 ms, the slot held) and counted
    ``close_aborted``. It closes at once now. The bound raised so that the old wait
    shows as a timeout here, not as 300 ms."""
    monkeypatch.setattr(wire, "_ACK_WAIT", 30.0)
    peer, _reader, writer, server = await _pair(1)
    try:
        await asyncio.to_thread(_flood, peer, 0.5)
        writer.write(b"x" * 8000 + b"\n")  # queued behind the peer's closed window
        peer.close()  # its receive queue unread: a reset
        async with asyncio.timeout(10):
            while writer.get_extra_info("socket").getsockopt(
                    socket.IPPROTO_TCP, socket.TCP_INFO, 1)[0] != 7:  # TCP_CLOSE
                await asyncio.sleep(0.01)
        async with asyncio.timeout(10):  # hagi32: waits the 30 s
            assert await close_bounded(writer, 30.0) is True
        assert writer.transport.is_closing()
    finally:
        server.close()
