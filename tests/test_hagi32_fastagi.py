"""hagi32: the FastAGI front against hostile peers, leftovers.

1. The front's once-a-minute lines as one mechanism (``KindLog``). server.py had three
   limiters: ``KindLog`` for ``fastagi_bad_headers``, and two written by hand,
   ``_log_capped`` (``fastagi_connections_capped``) and ``_log_refused``
   (``fastagi_refused_source``, a bounded table of sources with a "*" line for the
   rest). Each line keeps its event, its field names and its arithmetic (the first at
   once, then one a minute with the count since, itself included). Fail on the parent:
   ``KindLog`` takes no field names nor bound; no ``_refused_sources_log`` /
   ``_connections_capped_log``.
2. A close with the peer's bytes unread is a reset, which drops what callguard's kernel
   still holds for the peer: ``close_bounded`` now waits (bounded, polling) until it is
   acknowledged. Real TCP sockets; the peer's window closed so the answer sits queued.
   Fail on the parent: the peer gets 1152 of 8034 bytes; ``close_bounded`` says True."""

from __future__ import annotations

import asyncio
import socket
import threading

import structlog

from callguard.config import load_settings
from callguard.fronts.fastagi import server as server_module
from callguard.fronts.fastagi import wire
from callguard.fronts.fastagi.kindlog import KindLog
from callguard.fronts.fastagi.server import FastAgiServer
from callguard.fronts.fastagi.wire import bound_writes, close_bounded


class _Lines:
    """A logger that keeps what it was asked to write, as structlog's capture does."""

    def __init__(self) -> None:
        self.lines: list[dict] = []

    def warning(self, event: str, **fields) -> None:
        self.lines.append({"event": event, **fields})


def test_kind_log_bounds_its_kinds_under_one_overflow_line():
    """``kinds`` 2: a third kind in the minute is lined and counted as "*"; a minute on,
    the stale kinds are forgotten and a new one gets its own line again. The field
    names are the caller's, and no ``period_s`` when it is not asked for."""
    clock = [0.0]
    out = _Lines()
    log = KindLog(out, "e", 60.0, clock=lambda: clock[0], kind_field="source",
                  count_field="refused", period_field=None, kinds=2)
    assert log.note("a") is True
    assert log.note("b") is True
    assert log.note("c") is True  # the first "*" line
    assert log.note("d") is False
    assert log.note("a") is False
    assert (len(log), log.pending("*"), log.pending("a")) == (3, 1, 1)
    clock[0] = 61.0
    assert log.note("e") is True  # a, b and * forgotten: e has its own line
    assert out.lines == [
        {"event": "e", "source": "a", "refused": 1},
        {"event": "e", "source": "b", "refused": 1},
        {"event": "e", "source": "*", "refused": 1},
        {"event": "e", "source": "e", "refused": 1},
    ]
    assert len(log) == 1


def test_kind_log_of_one_kind_writes_no_kind():
    """``kind_field`` None: one kind, its line without a kind field."""
    clock = [0.0]
    out = _Lines()
    log = KindLog(out, "capped", 60.0, clock=lambda: clock[0], kind_field=None,
                  count_field="refused", period_field=None)
    for step in (0.0, 1.0, 59.0):
        clock[0] = step
        log.note("", cap=2)
    clock[0] = 60.0
    log.note("", cap=2)
    assert out.lines == [{"event": "capped", "refused": 1, "cap": 2},
                         {"event": "capped", "refused": 3, "cap": 2}]


def _bare_server(tmp_path) -> FastAgiServer:
    """A server object for its minute lines only (nothing listens)."""
    server = FastAgiServer.__new__(FastAgiServer)
    server.settings = load_settings(data_dir=tmp_path).fastagi
    server._refused_log = server_module._refused_sources_log()
    server._capped_log = server_module._connections_capped_log()
    return server


def test_the_capped_line_keeps_its_fields_and_minute(tmp_path, monkeypatch):
    """``fastagi_connections_capped``: ``cap``, ``refused`` (closed since the last line,
    this one included) and ``fix``, as ``_log_capped`` wrote them; no ``kind``."""
    server = _bare_server(tmp_path)
    clock = [100.0]
    monkeypatch.setattr(server_module.time, "monotonic", lambda: clock[0])
    with structlog.testing.capture_logs() as logged:
        for step in (0, 10, 59):
            clock[0] = 100.0 + step
            server._log_capped()
        clock[0] = 161.0
        server._log_capped()
    lines = [e for e in logged if e["event"] == "fastagi_connections_capped"]
    cap = server.settings.max_connections
    assert [(e["cap"], e["refused"]) for e in lines] == [(cap, 1), (cap, 3)]
    assert all("max_connections" in e["fix"] and "kind" not in e and "period_s" not in e
               for e in lines), lines


def test_the_refused_line_names_the_address_as_written(tmp_path, monkeypatch):
    """``fastagi_refused_source``: the address as ``allowed_sources`` lists it (an IPv4
    peer on a dual-stack socket is its IPv4 address), counted under it."""
    server = _bare_server(tmp_path)
    monkeypatch.setattr(server_module.time, "monotonic", lambda: 7.0)
    with structlog.testing.capture_logs() as logged:
        server._log_refused("::ffff:10.1.2.3")
        server._log_refused("10.1.2.3")
    assert [(e["source"], e["refused"]) for e in logged] == [("10.1.2.3", 1)]
    assert server._refused_log.pending("10.1.2.3") == 1
    assert "allowed_sources" in logged[0]["fix"]


# -- 2. The BLOCK, then a close with unread input (a reset) ------------------------------

def _flood(sock: socket.socket, wait: float = 0.2) -> int:
    """The peer writes until callguard's side stops taking bytes for ``wait`` s (asyncio
    has stopped reading, the kernel's buffers are full): what it got in."""
    sock.settimeout(wait)
    sent = 0
    try:
        while True:
            sent += sock.send(b"7" * 65536)
    except TimeoutError:
        pass
    sock.settimeout(None)
    return sent


def _reader_after(sock: socket.socket, go: threading.Event) -> bytes:
    """The peer: reads nothing until ``go``, then everything until the end (an RST after
    the data is kept on Linux: ``recv`` gives the data, then the reset)."""
    go.wait(30)
    sock.settimeout(30)
    got = b""
    try:
        while more := sock.recv(65536):
            got += more
    except (ConnectionResetError, TimeoutError):
        pass
    return got


async def _pair(rcvbuf: int) -> tuple[socket.socket, asyncio.StreamReader,
                                       asyncio.StreamWriter, asyncio.Server]:
    """A real TCP connection: a blocking peer socket (its receive buffer ``rcvbuf``) and
    callguard's side as the FastAGI handler gets it (``bound_writes``)."""
    accepted: asyncio.Queue = asyncio.Queue()

    async def handler(reader, writer):
        await accepted.put((reader, writer))

    # The reader's limit small, as the front's is against a block: asyncio stops reading
    # at twice it, so what the peer sends past that stays unread in the kernel.
    server = await asyncio.start_server(handler, "127.0.0.1", 0, limit=1024)
    peer = socket.socket()
    peer.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    await asyncio.to_thread(peer.connect, server.sockets[0].getsockname())
    reader, writer = await accepted.get()
    bound_writes(writer)
    return peer, reader, writer, server


async def test_a_close_with_unread_input_waits_until_the_answer_is_acknowledged(
        monkeypatch):
    """The peer sent bytes callguard never read (a block read no further), and the
    answer is still in callguard's send queue (the peer's window is closed: its receive
    buffer the smallest, and it reads only later). A close with unread input is a reset
    (tcp_close: ``tcp_send_active_reset``), and what the queue held is dropped: on the
    parent the peer got the first part only, never the answer's line. Now
    ``close_bounded`` waits, bounded and without blocking the loop, until the kernel's
    queue is acknowledged (``TIOCOUTQ`` 0), then closes: the peer reads it all. The bound
    is raised (hrev158): at 300 ms the peer's thread had to read the answer through its
    smallest window, a round trip each 1152 bytes, within ~250 ms, a rate under CI load
    (a loaded runner ended the wait first: False, the answer cut)."""
    monkeypatch.setattr(wire, "_ACK_WAIT", 30.0)  # the wait ends on the ack, not a clock
    peer, _reader, writer, server = await _pair(1)
    try:
        await asyncio.to_thread(_flood, peer)  # left unread by callguard
        answer = b"x" * 8000 + b"EXEC MSet CALLGUARD_VERDICT=BLOCK\n"
        writer.write(answer)
        assert writer.transport.get_write_buffer_size() == 0  # all in the kernel
        go = threading.Event()
        reading = asyncio.create_task(asyncio.to_thread(_reader_after, peer, go))
        closing = asyncio.create_task(close_bounded(writer, 30.0))
        await asyncio.sleep(0.05)  # the close has begun (on the parent: done, a reset)
        go.set()  # only now the peer reads
        assert await closing is True
        got = await reading
    finally:
        peer.close()
        server.close()
    assert got == answer, (len(got), len(answer))


async def test_a_peer_that_never_acknowledges_is_closed_within_the_bound():
    """The same, the peer reading nothing at all: the wait ends at its bound (the loop
    goes on meanwhile), the connection closed, and ``close_bounded`` says bytes were
    lost (False: the handler counts ``close_aborted``)."""
    peer, _reader, writer, server = await _pair(1)
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    ticking = asyncio.create_task(tick())
    try:
        await asyncio.to_thread(_flood, peer)
        writer.write(b"x" * 8000 + b"\n")
        async with asyncio.timeout(5):
            assert await close_bounded(writer, 2.0) is False
        assert writer.transport.is_closing()
        assert ticks > 1  # the loop was not blocked while waiting
    finally:
        ticking.cancel()
        peer.close()
        server.close()


async def test_a_peer_that_never_acknowledges_is_looked_at_a_few_times_not_every_10_ms(
        monkeypatch):
    """Each waiting socket polls the kernel; a flood of peers that shut their window on
    purpose (up to ``max_connections`` at once) polled every 10 ms was ~400,000 wakeups
    a second on the loop (hrev158). The pause doubles from ``_ACK_POLL``: about 9 looks
    in the 0.3 s wait, not 30. (A slower loop only makes fewer.)"""
    peer, _reader, writer, server = await _pair(1)
    looks = 0
    queued = wire._queued

    def counting(w, request):  # type: ignore[no-untyped-def]
        nonlocal looks
        if request == wire.termios.TIOCOUTQ:
            looks += 1
        return queued(w, request)

    monkeypatch.setattr(wire, "_queued", counting)
    try:
        await asyncio.to_thread(_flood, peer)
        writer.write(b"x" * 8000 + b"\n")
        async with asyncio.timeout(5):
            assert await close_bounded(writer, 2.0) is False
        assert 2 <= looks <= 12, looks
    finally:
        peer.close()
        server.close()
