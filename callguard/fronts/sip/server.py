"""The SIP redirect front: an INVITE in, 302 to the trunk or 603 with the rule out.

Thin like the FastAGI front: source checks and parsing at the edge, the server
transaction table (``transactions.py``) for retransmissions, the gate for the decision.
aiosipua's rules parse the messages (``wire.parse``, a faster copy held to the library by
tests/test_sip_wire.py) and its message objects carry them; responses are written straight
to bytes (``mapping.build_response``); aiosipua owns the TCP listener. Over UDP the socket
is ours end to end (see ``_Udp``): a large ``SO_RCVBUF``, many datagrams read per wake-up
into a buffer sized to the limit, and no asyncio datagram transport (whose 256 KiB read
buffer cost more than a parse, and whose protocol aiosipua's ``connection_made`` could not
take on Python 3.11, cpython issue 90352).

What the SIP front cannot do, and says so in the README: it does not see the call it
allowed (no line-release enforcement), and a dialer may ignore the caller ID it suggests.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import logging
import math
import os
import re
import socket
import ssl
import time
from collections import Counter
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol, cast

import structlog
from aiosipua import SipRequest
from aiosipua.headers import CSeq, parse_via, stringify_via
from aiosipua.message import missing_required_headers
from aiosipua.transport import TcpSipTransport, UdpSipTransport

from callguard.decision import Decision
from callguard.fronts.dual_stack import (
    StrangerLog,
    as_written,
    dual_stack_listener,
    plain_address,
    source_holder,
)
from callguard.fronts.sip import stun
from callguard.fronts.sip.mapping import (
    ALLOW_METHODS,
    WITHHOLDING_HEADERS,
    build_response,
    decision_headers,
    number_of,
)
from callguard.fronts.sip.protection import Allowlist, RateLimiter
from callguard.fronts.sip.settings import SipSettings
from callguard.fronts.sip.transactions import (
    Receipt,
    ServerTransactions,
    cancelled_key,
    transaction_key,
)
from callguard.fronts.sip.wire import (
    Identity,
    header_tag,
    max_forwards_ok,
    parse,
    peek,
    request_line_ok,
    sent_by,
)
from callguard.gate import TIME_BUDGET, CheckRequest, Withdrawal
from callguard.logredact import redacted_error
from callguard.numbers.redact import redact_digits

__all__ = ["SipFront", "SipSettings", "SipStats"]

TIMEOUT_RULE = TIME_BUDGET
_TICK_S = 0.02
_READ_BATCH = 32  # datagrams read per wake-up of the UDP socket at most
_SEND_QUEUE = 4096  # UDP responses waiting for a writable socket at most
_SWEEP_S = 0.25  # how often idle TCP connections are looked for
_CAP_LOG_S = 60.0  # a source held at its TCP connection cap is logged this often at most
_DRAIN_CAP_S = 5.0  # SIGTERM: INVITEs under way waited for at most (systemd stops at 20 s)
_DRAIN_READ = 4096  # and the datagrams waiting in the kernel read at most
_FLUSH_S = 0.2  # and then the UDP answers the kernel could not take yet
_TCP_BACKLOG_BYTES = 1 << 20  # answers a TCP peer has not read, at most; then it is closed
_LENGTH_NAMES = frozenset({"content-length", "l"})
_KNOWN = frozenset({"INVITE", "ACK", "CANCEL", "OPTIONS", "BYE", "REGISTER"})
_EVENTS = {(method, receipt): f"{method.lower()}_{receipt.value}"
           for method in _KNOWN for receipt in Receipt}  # counter names, made once
_log = structlog.get_logger("callguard.sip")
# aiosipua's parse logs one plain-text warning per datagram whose body and Content-Length
# disagree: a peer could fill the log at the rate limit. The front refuses or trims such
# datagrams itself and counts them (``truncated``, /metrics), so those lines are dropped.
logging.getLogger("aiosipua.message").setLevel(logging.ERROR)


class Gatekeeper(Protocol):
    """The gate as the front uses it (the benchmark's null gate is one too)."""

    async def check(self, request: CheckRequest, *,
                    budget_s: float | None = None) -> Decision: ...


@dataclass
class SipStats:
    """Counters for operators and ``/metrics`` (``callguard_sip_events_total``)."""

    counts: Counter[str] = field(default_factory=Counter)


class _Udp(UdpSipTransport):
    """aiosipua's UDP transport, its socket read and written by us.

    asyncio's datagram transport reads one datagram per wake-up, each into a fresh
    256 KiB buffer (8-14 us a datagram, more than parsing it); here a wake-up reads up to
    ``_READ_BATCH`` datagrams into ``max_datagram_bytes + 1`` (a longer one arrives cut,
    still over the limit, and is dropped as before). A send the kernel refuses for now
    waits in a bounded queue for the socket to be writable; past the bound it is dropped
    and counted — UDP may lose it anyway, and the retransmission timers cover both.
    """

    reliable = False
    _sock: socket.socket | None = None
    _front: SipFront | None = None
    _waiting: collections.deque[tuple[bytes, tuple[str, int]]] | None = None

    async def open(self, front: SipFront, receive_buffer: int) -> int:
        family = socket.AF_INET6 if ":" in self.local_addr[0] else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
            if self.local_addr[0] == "::":  # IPv4 dialers too, as the TCP and TLS
                # listeners (dual_stack_listener): not left to net.ipv6.bindv6only,
                # which some hosts set to 1 (hrev19)
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            sock.setblocking(False)
            sock.bind(self.local_addr)
        except OSError:
            sock.close()
            raise
        self._sock, self._front, self._waiting = sock, front, collections.deque()
        asyncio.get_running_loop().add_reader(sock.fileno(), self._read, sock, front,
                                              front.settings.max_datagram_bytes + 1)
        granted = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) // 2  # Linux doubles
        if granted < receive_buffer:
            _log.warning("sip_receive_buffer_capped", asked=receive_buffer, got=granted,
                         fix="sysctl -w net.core.rmem_max=<bytes> (see README)")
        return int(sock.getsockname()[1])

    def _read(self, sock: socket.socket, front: SipFront, size: int) -> bool:
        """The datagrams waiting, up to ``_READ_BATCH`` (the loop's other work waits);
        False when none is left."""
        for _ in range(_READ_BATCH):
            try:
                data, addr = sock.recvfrom(size)
            except (BlockingIOError, InterruptedError):
                return False
            except OSError:  # e.g. an ICMP error for an earlier send
                front.stats.counts["udp_error"] += 1
                continue
            try:
                front.received(data, (str(addr[0]), int(addr[1])), self)
            except Exception as exc:  # noqa: BLE001 - a bug must not stop the reading
                front.stats.counts["internal_error"] += 1
                _log.error("sip_datagram_failed", source=str(addr[0]),
                           error=redacted_error(exc))
        return True

    def send_bytes(self, data: bytes, addr: tuple[str, int]) -> None:
        sock, waiting = self._sock, self._waiting
        if sock is None or waiting is None:
            return
        if not waiting:
            try:
                sock.sendto(data, addr)
            except (BlockingIOError, InterruptedError):
                asyncio.get_running_loop().add_writer(sock.fileno(), self._flush)
            except OSError:
                self._count("udp_error")
                return
            else:
                return
        if len(waiting) >= _SEND_QUEUE:
            self._count("udp_send_dropped")
            return
        waiting.append((data, addr))

    def _flush(self) -> None:
        sock, waiting = self._sock, self._waiting
        while sock is not None and waiting:
            data, addr = waiting[0]
            try:
                sock.sendto(data, addr)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                self._count("udp_error")
            waiting.popleft()
        if sock is not None:
            asyncio.get_running_loop().remove_writer(sock.fileno())

    def read_waiting(self, most: int) -> None:
        """Read the datagrams the kernel holds now (``most`` at most), as the loop would:
        at a stop, those not read before the socket closed were lost unanswered."""
        sock, front = self._sock, self._front
        if sock is None or front is None:
            return
        size = front.settings.max_datagram_bytes + 1
        for _ in range(0, most, _READ_BATCH):
            if not self._read(sock, front, size):
                return

    async def flushed(self, within: float) -> None:
        """Wait, ``within`` at most, for the answers queued for a writable socket."""
        loop = asyncio.get_running_loop()
        until = loop.time() + within
        while self._waiting and loop.time() < until:
            await asyncio.sleep(0.01)

    def _count(self, event: str) -> None:
        if self._front is not None:
            self._front.stats.counts[event] += 1

    async def stop(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            loop = asyncio.get_running_loop()
            loop.remove_reader(sock.fileno())
            loop.remove_writer(sock.fileno())
            sock.close()


@dataclass
class _Tcp(TcpSipTransport):
    """aiosipua's TCP transport, its messages handed to the front unparsed.

    A connection that delivers no whole message for ``tcp_idle_timeout_ms`` is closed
    (``sweep``): otherwise silent connections from an allowed source fill
    ``max_tcp_connections`` and lock every new dialer out.

    A peer that shuts only its sending side after an INVITE (``shutdown(SHUT_WR)``)
    still gets the answer: RFC 3261 §18.2.2 sends a response over the connection the
    request came on "if that connection is still open", and a half-closed one is open
    for writing (asyncio's ``StreamReaderProtocol.eof_received`` returns True, which keeps
    the transport open). aiosipua's reader dropped the connection at the end of input,
    before the decision was made: the decision was recorded, its answer lost. Here the
    connection waits for the decisions it asked for (at most ``tcp_idle_timeout_ms``),
    then closes.

    Messages are framed by ``_Framer``, not aiosipua's reader (which read bodies of up
    to 1 MiB that the front then dropped); answers a peer does not read are bounded by
    ``backlog_bytes`` (the peer is closed past it, counted ``tcp_backlog``).
    """

    front: SipFront | None = None
    backlog_bytes: int = _TCP_BACKLOG_BYTES
    tls: ssl.SSLContext | None = None  # the TLS listener's (``[sip] tls``)
    handshakes: int = field(default=0, init=False, repr=False)  # TLS ones under way
    # connection -> when its last whole message arrived (or it opened)
    last_message: dict[tuple[str, int], float] = field(default_factory=dict, init=False,
                                                        repr=False)
    # source (an address; an IPv6 one's /64) -> its connections and TLS handshakes
    by_source: Counter[str] = field(default_factory=Counter, init=False, repr=False)
    # source -> when its refusal at the cap was last logged
    capped: dict[str, float] = field(default_factory=dict, init=False, repr=False)
    # connections answered 513 (a message past the limit), closing
    answered_past_limit: set[tuple[str, int]] = field(default_factory=set, init=False,
                                                      repr=False)
    # connections whose sending side is shut (lingering past the limit): nothing written
    shut: set[tuple[str, int]] = field(default_factory=set, init=False, repr=False)
    # connection -> the INVITEs it sent whose decisions are under way
    answering: dict[tuple[str, int], set[asyncio.Task[None]]] = field(
        default_factory=dict, init=False, repr=False)

    async def start(self) -> None:
        """aiosipua's listener, or with ``tls`` a TLS one (``_TlsGate``): the allowlist and
        the connection cap act before the handshake, which runs within
        ``tcp_idle_timeout_ms``; one that fails or stalls is closed. The TCP rules then
        apply to the TLS stream (``_handle_connection``)."""
        sock = dual_stack_listener(*self.local_addr)
        if self.tls is None:
            if sock is None:
                await super().start()
            else:
                self._server = await asyncio.start_server(self._handle_connection, sock=sock)
            return
        loop = asyncio.get_running_loop()
        if sock is None:
            self._server = await loop.create_server(
                lambda: _TlsGate(self), host=self.local_addr[0], port=self.local_addr[1])
        else:
            self._server = await loop.create_server(lambda: _TlsGate(self), sock=sock)

    def admit(self, transport: asyncio.Transport) -> None:
        """A TLS connection accepted, not a byte read: a stranger, or one past the cap
        (connections in their handshake count), is closed without a handshake: a
        handshake costs a private-key operation and holds its socket up to
        ``tcp_idle_timeout_ms``, and asyncio's ``ssl=`` listener gave both to anyone."""
        peer = transport.get_extra_info("peername")
        if self._refuses(peer):
            transport.abort()
            return
        self.handshakes += 1
        self._spawn(self._handshake(transport, self._hold_source(str(peer[0]))))

    def _refuses(self, peer: tuple[str, int] | None) -> bool:
        """A stranger, a connection past ``max_tcp_connections`` (TLS handshakes under
        way count), or one past its source's ``max_tcp_connections_per_source``:
        counted (``tcp_refused``, ``tcp_source_capped``), to be closed unread."""
        front = self.front
        if front is None:
            return False
        if not (peer and str(peer[0]) in front.allowed_sources):
            front.stats.counts["tcp_refused"] += 1
            front.strangers.refused(str(peer[0]) if peer else "")
            return True
        if len(self._connections) + self.handshakes >= front.settings.max_tcp_connections:
            front.stats.counts["tcp_refused"] += 1
            return True
        source = source_holder(str(peer[0]))
        cap = front.settings.max_tcp_connections_per_source
        if self.by_source.get(source, 0) < cap:
            return False
        front.stats.counts["tcp_source_capped"] += 1
        now = time.monotonic()
        if now - self.capped.get(source, -_CAP_LOG_S) >= _CAP_LOG_S:  # a line a minute
            self.capped[source] = now  # at most, not one per connection a flood opens
            _log.warning("sip_tcp_source_capped", source=source, cap=cap,
                         fix="raise [sip] max_tcp_connections_per_source if this "
                             "source is many dialers behind one address")
        return True

    def _hold_source(self, address: str) -> str:
        """Count a connection (or TLS handshake) against its source; its key returned."""
        source = source_holder(address)
        self.by_source[source] += 1
        return source

    def _release(self, source: str) -> None:
        """A connection (or handshake) of ``source`` ended."""
        left = self.by_source[source] - 1
        if left > 0:
            self.by_source[source] = left
            return
        self.by_source.pop(source, None)
        self.capped.pop(source, None)

    async def _handshake(self, transport: asyncio.Transport, source: str) -> None:
        """The TLS handshake on an admitted connection, then ``_handle_connection``."""
        context = self.tls
        if context is None:  # only the TLS listener admits
            self.handshakes -= 1
            self._release(source)
            transport.abort()
            return
        loop = asyncio.get_running_loop()
        idle = self.front.settings.tcp_idle_timeout_ms / 1000 if self.front else 30.0
        reader = asyncio.StreamReader()
        protocol = asyncio.StreamReaderProtocol(reader, self._handle_connection)
        try:
            secure = await loop.start_tls(transport, protocol, context, server_side=True,
                                          ssl_handshake_timeout=idle)
        except Exception:  # noqa: BLE001 - a failed or stalled handshake: closed
            if not transport.is_closing():
                transport.abort()
            if self.front is not None:
                self.front.stats.counts["tls_handshake_failed"] += 1
            return
        finally:
            self.handshakes -= 1
            self._release(source)
        if secure is None:
            transport.abort()
            return
        protocol.connection_made(secure)  # start_tls leaves the stream's start to us

    def hold(self, addr: tuple[str, int], task: asyncio.Task[None]) -> None:
        """Keep the connection open (after the peer's end of input) until ``task`` ends."""
        tasks = self.answering.setdefault(addr, set())
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    async def _handle_connection(self, reader: asyncio.StreamReader,
                                 writer: asyncio.StreamWriter) -> None:
        """Strangers and connections past the cap are closed before anything is read;
        aiosipua's loop otherwise, but a connection whose peer ended its input stays
        open until the answers it waits for are written."""
        front = self.front
        peer = writer.get_extra_info("peername")
        if self._refuses(peer):
            writer.close()
            return
        addr = (str(peer[0]), int(peer[1])) if peer else ("0.0.0.0", 0)  # noqa: S104
        source = self._hold_source(addr[0])
        self.last_message[addr] = time.monotonic()
        self._connections[addr] = (reader, writer)
        limit = front.settings.max_datagram_bytes if front is not None else 1 << 16
        waits: str | None = None
        try:
            # the peer ended its input (its half is still open), or a message's end was
            # lost (answered): the answers its requests wait for are written, then closed
            waits = await self._read_all(_Framer(reader, limit), addr)
        finally:
            answering = self.answering.get(addr)
            if waits is not None and answering and front is not None:
                front.stats.counts[waits] += 1
                idle = front.settings.tcp_idle_timeout_ms / 1000
                # a peer past the limit is held no longer than a decision takes (the
                # gate's budget, twice): its answers go out, the peer is not served on
                await asyncio.wait(set(answering), timeout=min(idle, (
                    2 * front.settings.budget_ms / 1000 if waits == _PAST_LIMIT else idle)))
            if waits == _PAST_LIMIT and (answering or addr in self.answered_past_limit):
                # our side ends with the answers written: one still being decided is not
                # written after the FIN (write() after write_eof() raises: internal_error)
                self.shut.add(addr)
                await _linger(reader, writer)  # answers written: not lost to a reset
            self.shut.discard(addr)
            self.answered_past_limit.discard(addr)
            self.answering.pop(addr, None)
            self.last_message.pop(addr, None)
            self._connections.pop(addr, None)
            self._release(source)
            writer.close()  # what was written is sent first
            # OSError: a TLS record that did not decrypt raises (ssl.SSLError) here again,
            # after _read_all counted it: out of this task, asyncio's handler logged it
            with contextlib.suppress(OSError, TimeoutError):
                async with asyncio.timeout(5):
                    await writer.wait_closed()

    async def _read_all(self, framer: _Framer, addr: tuple[str, int]) -> str | None:
        """The connection's messages until its end: ``tcp_half_closed`` (the end of input),
        ``tcp_framing_lost`` (a message answered 400 whose end is unknown),
        ``tcp_past_limit`` (a message past the limit: the decisions under way are
        answered, briefly waited for), or None (a reset, a bug: closed without waiting)."""
        counts = self.front.stats.counts if self.front is not None else Counter[str]()
        handled = 0
        try:
            while True:
                handled += 1
                if handled % _READ_BATCH == 0:
                    # the loop's other work runs between batches, as over UDP: a reader
                    # holding whole messages returns them without waiting, and one peer
                    # pipelining OPTIONS held the loop 150 ms (every decision waiting)
                    await asyncio.sleep(0)
                framed = await framer.next()
                if framed is None:  # the end of input: the answers still go out
                    if framer.cut:
                        counts["tcp_cut_at_close"] += 1
                    return "tcp_half_closed"
                if not framed:  # a keep-alive: RFC 5626 §4.4.1's pong, the flow is live
                    self.last_message[addr] = time.monotonic()
                    # a message of its source, as a UDP keep-alive is: past the bucket
                    # dropped, not a pong (a system call) per ping of a flood (hrev35)
                    if self.front is None or self.front.rate_allows(addr[0]):
                        counts["tcp_keepalive"] += 1
                        self.send_bytes(b"\r\n", addr)
                    continue
                data, refusal = cast(tuple[bytes, "_Refusal | None"], framed)
                self._dispatch(data, addr, refusal)
                if refusal is not None:  # the stream's framing is lost: answered, closed
                    return "tcp_framing_lost"
        except _FramingError as exc:  # past the limit: the earlier requests' answers
            counts[exc.event] += 1  # still go out (their decisions are recorded) (hrev35)
            if exc.head is not None:  # and this one is answered 513, not dropped (hsip18)
                self._dispatch(exc.head, addr, _TOO_LARGE)
                self.answered_past_limit.add(addr)
            return _PAST_LIMIT
        except OSError:  # reset, or a TLS record that does not decrypt (ssl.SSLError)
            counts["tcp_error"] += 1
        except Exception as exc:  # noqa: BLE001 - a bug closes this connection alone, and
            # is logged redacted, not by asyncio's handler in plain text with what it read
            counts["internal_error"] += 1
            with contextlib.suppress(Exception):
                _log.error("sip_tcp_failed", source=addr[0], error=redacted_error(exc))
        return None

    def _dispatch(self, data: bytes, addr: tuple[str, int],
                  framing: _Refusal | None = None) -> None:
        self.last_message[addr] = time.monotonic()
        if self.front is not None:
            self.front.received(data, addr, self, framing)

    def sweep(self, now: float, idle_seconds: float) -> int:
        """Close every connection silent for ``idle_seconds``; return how many."""
        closed = 0
        for addr, last in list(self.last_message.items()):
            if now - last >= idle_seconds:
                connection = self._connections.get(addr)
                if connection is not None:
                    connection[1].close()
                    closed += 1
                self.last_message.pop(addr, None)
        return closed

    def is_open(self, addr: tuple[str, int]) -> bool:
        """Whether an answer written to the connection ``addr`` can reach its peer."""
        connection = self._connections.get(addr)
        return connection is not None and not connection[1].is_closing() and (
            addr not in self.shut)

    def send_bytes(self, data: bytes, addr: tuple[str, int]) -> None:
        if not self.is_open(addr):
            return
        connection = self._connections[addr]
        transport = connection[1].transport
        if transport.get_write_buffer_size() + len(data) > self.backlog_bytes:
            # The peer sends and does not read: its answers would pile up without bound.
            if self.front is not None:
                self.front.stats.counts["tcp_backlog"] += 1
            transport.abort()
            return
        connection[1].write(data)


_PAST_LIMIT = "tcp_past_limit"  # a connection closed past the limit, answers waited for
_LINGER_S = 2.0  # how long a peer past the limit may go on sending before the close,
_LINGER_QUIET_S = 0.25  # how long it may be silent meanwhile,
_LINGER_BYTES = 1 << 20  # and how much of it is read and dropped


async def _linger(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Before closing a connection past the limit: our side shut (FIN after the answers),
    and what the peer still sends (the body of the message answered 513) read and dropped
    until it is quiet ``_LINGER_QUIET_S`` (``_LINGER_S``, ``_LINGER_BYTES`` at most).
    Closed with unread input, the kernel resets the connection, and a peer still sending
    may lose the answers before reading them (the lingering close of RFC 9112 §9.6). Not
    for TLS (no half-close)."""
    if not writer.can_write_eof() or writer.is_closing():
        return
    with contextlib.suppress(OSError, TimeoutError):
        writer.write_eof()
        read = 0
        async with asyncio.timeout(_LINGER_S):
            while read < _LINGER_BYTES and (chunk := await asyncio.wait_for(
                    reader.read(65536), _LINGER_QUIET_S)):
                read += len(chunk)


class _FramingError(Exception):
    """A TCP message whose end cannot be found within the limit: the connection goes.
    ``head``: the request's head as far as it was read within the limit (whole lines),
    answered 513 before the close; None when there is no start line to answer."""

    def __init__(self, event: str, head: bytes | None = None) -> None:
        super().__init__(event)
        self.event = event  # counted: oversized
        self.head = head


def _head_within(buffer: bytearray, limit: int) -> bytes | None:
    """The whole lines of a head that runs past ``limit``, ended as a head (the lines an
    answer echoes kept, ``_answerable``), or None without a first line break."""
    end = buffer.rfind(b"\n", 0, limit)
    return _answerable(bytes(buffer[:end + 1])) if end > 0 else None


# The end of a head: an empty line after lines ended by CRLF or LF alone (the robustness
# HTTP/1.1 allows, RFC 9112 §2.2, and ``wire.parse`` already reads over UDP), or two CRs
# alone (a head of CR-ended lines, answered 400 below rather than waited on forever).
_HEAD_END = re.compile(rb"\r?\n\r?\n|\r\r")
_LINE_BREAKS = b"\r\n"
_PING = re.compile(rb"\r*\n\r*\n")  # RFC 5626's CRLFCRLF, any CRs, up to its second LF
_BREAKS = re.compile(rb"[\r\n]+")
_MAX_LENGTH_DIGITS = 10  # no SIP message is 10 GB; past it ``int`` is not even asked


class _Framer:
    """Messages off one stream, in its own buffer (RFC 3261 §18.3: framed by
    Content-Length), each at most ``limit`` bytes.

    ``next`` gives None at the end of input (``cut`` if it ended inside a message, which is
    dropped: the peer may still read, so the answers to its whole requests are written
    before the connection closes — closed at once, a decision was recorded and its
    answer lost); b"" for a keep-alive (only
    line breaks: RFC 5626's double CRLF); else ``(message, refusal)``. A refusal says the
    message's end is unknown (§18.3 lost): it is answered 400 with the refusal, then the
    connection is closed, as what follows would be read as a request of the peer's
    choosing — a head with a line ended by CR alone (§7: CRLF; the parse would read CR as
    a break the framing did not), no Content-Length (§18.3, §20.14: "MUST" on a stream;
    read as "no body", a body became the next request), or a Content-Length that is not
    ASCII digits or is given twice with two values.

    Line breaks before the start line are not part of the message: §7.5, a stream's
    reader "MUST ignore any CRLF appearing before the start-line". A dialer's single-CRLF
    keep-alive went in front of its next INVITE, which then had no request line: dropped
    as malformed and never answered, the dialer waiting out its Timer B (32 s).

    A head whose lines end in LF alone is framed at its empty line and answered: framed
    at CRLFCRLF only, it was never answered, the dialer waiting for its Timer B (hhos16).
    Content-Length is read as ``wire.parse`` reads headers (name stripped, compact ``l``)
    so the framing and the parse agree on where the body ends."""

    __slots__ = ("_buffer", "_limit", "_reader", "_scanned", "cut")

    def __init__(self, reader: asyncio.StreamReader, limit: int) -> None:
        self._reader = reader
        self._limit = limit
        self._buffer = bytearray()
        self._scanned = 0  # how much of the buffer was searched for the head's end
        self.cut = False  # the input ended inside a message (never read as one)

    async def _more(self) -> bool:
        chunk = await self._reader.read(65536)
        self._buffer += chunk
        return bool(chunk)

    async def next(self) -> bytes | tuple[bytes, _Refusal | None] | None:
        """The next message, keep-alive or end of input (see the class)."""
        buffer = self._buffer
        while True:
            if buffer and buffer[0] in _LINE_BREAKS:
                # read from the front, never the run behind: a pipelined run of pings
                # copied and counted all of it per ping, holding the loop (hrev35)
                ping = _PING.match(buffer)
                if ping is not None:  # a ping: up to its second LF
                    del buffer[:ping.end()]
                    return b""
                run = cast(re.Match[bytes], _BREAKS.match(buffer)).end()
                if run < len(buffer):
                    del buffer[:run]  # §7.5: CRLFs before the start line
                    self._scanned = 0
                elif run > self._limit:  # CRs (one LF at most), no start line: bounded
                    raise _FramingError("oversized")  # as a head is, not kept to the sweep
            if buffer and buffer[0] not in _LINE_BREAKS:
                # searched once per byte however the peer cuts its head (slowloris)
                end = _HEAD_END.search(buffer, max(0, self._scanned - 3))
                if end is not None:
                    self._scanned = 0
                    return await self._message(end.end())
                if len(buffer) > self._limit:
                    raise _FramingError("oversized", _head_within(buffer, self._limit))
                self._scanned = len(buffer)
            if not await self._more():
                self.cut = bool(buffer.strip(_LINE_BREAKS))
                return None

    async def _message(self, head_end: int) -> tuple[bytes, _Refusal | None] | None:
        buffer = self._buffer
        if head_end > self._limit:
            raise _FramingError("oversized", _head_within(buffer, self._limit))
        head = bytes(buffer[:head_end])
        refusal = _head_refusal(head)
        if refusal is not None:
            del buffer[:head_end]
            return head, refusal
        lengths = set()
        for line in head.split(b"\n")[1:]:  # CR alone was refused: the parse's lines
            name, colon, value = line.partition(b":")
            # as the parse files them: a continuation line (SP, HT) is part of the value
            # above it, and a name is stripped of Unicode blanks too (U+001C, U+00A0)
            if colon and line[:1] not in b" \t" and name.decode(
                    "utf-8", errors="replace").strip().lower() in _LENGTH_NAMES:
                lengths.add(value.strip())
        if not lengths:
            del buffer[:head_end]
            return head, _NO_LENGTH
        length = lengths.pop()
        if lengths or not length.isdigit() or len(length) > _MAX_LENGTH_DIGITS:
            del buffer[:head_end]
            return head, _bad("malformed", "Content-Length is not one number")
        size = head_end + int(length)
        if size > self._limit:  # the head is answered 513; the body is never read
            raise _FramingError("oversized", head)
        while len(buffer) < size:
            if not await self._more():
                self.cut = True
                return None
        message = bytes(buffer[:size])
        del buffer[:size]
        return message, None


def _head_refusal(head: bytes) -> _Refusal | None:
    """A head with a CR that ends no CRLF: §7 ends every line with CRLF, §7.1: "No CR or
    LF are allowed except in the end-of-line CRLF sequence" (§25.1: TEXT-UTF8, LWS). The
    parse reads a CR alone as a line break that the framing, the identity and the peek
    do not: refused 400, not decided. (A lone LF is tolerated, as HTTP/1.1 tolerates it,
    RFC 9112 §2.2; RFC 3261 itself requires CRLF.)"""
    if b"\r" in head and head.count(b"\r") != head.count(b"\r\n"):
        return _BARE_CR
    return None


_Transport = _Udp | _Tcp
_Answer = tuple[int, tuple[tuple[str, str], ...]]  # a status and the headers that go with it
# Requests the transaction table refuses, answered statelessly, nothing decided:
_REFUSALS: dict[Receipt, _Answer] = {
    Receipt.FULL: (503, (("Retry-After", "1"),)),
    # never the other request's answer (its 302)
    Receipt.REUSED: (400, (("Warning",
                            '399 callguard "branch already used by another request"'),)),
    # §8.2.2.2: the request decided once, on the path it came by first
    Receipt.MERGED: (482, ()),
    # (a datagram asking for more than a moved transaction may send is absorbed, not
    # refused 513: the refusal reached the real dialer's transaction, ``_known``)
}


class _TlsGate(asyncio.Protocol):
    """A TLS listener's connection until ``_Tcp.admit`` lets its handshake start. Reading
    is paused at once, so the ClientHello stays in the socket for ``loop.start_tls``
    (asyncio's ``start_tls`` pauses it too, but only when it runs)."""

    def __init__(self, tcp: _Tcp) -> None:
        self._tcp = tcp

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        stream = cast(asyncio.Transport, transport)
        stream.pause_reading()
        self._tcp.admit(stream)


class SipFront:
    """A SIP redirect server over UDP (and TCP, and TLS) in front of the gate."""

    def __init__(self, gate: Gatekeeper, settings: SipSettings) -> None:
        self.gate = gate
        self.settings = settings
        self.stats = SipStats()
        self.mapping = settings.mapping()
        # and what withholds the caller ID (``withheld_presentation``): a request under a
        # reused branch that adds ``Privacy: id`` is another request, never the first's 302
        self._identity = Identity((settings.campaign_header, settings.mode_header,
                                   settings.location_header, *WITHHOLDING_HEADERS))
        self.transactions = ServerTransactions(settings.timers(), self.stats.counts)
        self.allowed_sources = Allowlist(settings.allowed_sources)
        self.strangers = StrangerLog("sip_source_refused", "[sip] allowed_sources")
        self._rate = RateLimiter(settings.rate_per_source, settings.burst_per_source)
        # when a source past its rate has a token again, in whole seconds (§20.33)
        self._retry_after = (("Retry-After", str(min(3600, max(1, math.ceil(
            1 / settings.rate_per_source))) if settings.rate_per_source > 0 else 3600)),)
        self._udp: _Udp | None = None
        self._tcp: _Tcp | None = None
        self._tls: _Tcp | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        # INVITE being decided -> its withdrawal (for a CANCEL) and the To tag it will get
        self._deciding: dict[Hashable, tuple[Withdrawal, str]] = {}
        self._deciding_by: Counter[str] = Counter()  # source (``source_holder``) -> how many
        self._busy_logged = -_CAP_LOG_S  # when max_in_flight was last logged
        self._source_busy_logged = -_CAP_LOG_S  # and max_in_flight_per_source
        self._downgrade_logged = -_CAP_LOG_S  # and a TLS answer kept from clear text
        self._draining = False  # stopping: no new INVITE is decided (``drain``)
        self._ticker: asyncio.Task[None] | None = None
        self.port = 0
        self.tls_port = 0

    async def start(self) -> None:
        """Listen on UDP (and TCP, same port; TLS on ``tls_port``) and start the
        retransmission timer; ConfigError before anything listens if the TLS files do
        not load."""
        context = self.settings.tls_context()
        for attempt in range(8):
            self._udp = _Udp(local_addr=(self.settings.host, self.settings.port))
            self.port = await self._udp.open(self, self.settings.receive_buffer_bytes)
            if not self.settings.tcp:
                break
            self._tcp = _Tcp(local_addr=(self.settings.host, self.port))
            self._tcp.front = self
            try:
                await self._tcp.start()
                break
            except OSError:
                await self._udp.stop()
                # port 0: the kernel's free UDP port may be taken on TCP; pick again
                if self.settings.port != 0 or attempt == 7:
                    raise
        if context is not None:
            self._tls = _Tcp(local_addr=(self.settings.host, self.settings.tls_port),
                             front=self, tls=context)
            try:
                await self._tls.start()
            except OSError:
                await self.close()
                raise
            server = self._tls._server  # noqa: SLF001 - aiosipua keeps it there
            self.tls_port = int(server.sockets[0].getsockname()[1]) if server else 0
        self._ticker = asyncio.create_task(self._tick())
        _log.info("sip_listening", host=self.settings.host, port=self.port,
                  tcp=self.settings.tcp, tls_port=self.tls_port or None)
        if self.settings.block_status != 603:
            # RFC 3261 §16.7, §21.6: only a 6xx stops a proxy's other branches. A 403 is
            # one branch's refusal: pjsip's handle_uac_call_rejection tries its next target
            # on a 4xx, OpenSIPS's tm blocks new branches only on a 6xx, and a failover
            # route may take the BLOCKed call to the next gateway (README, "The SIP
            # redirect front", What the dialer does with each answer).
            _log.warning("sip_block_status_not_global", block_status=self.settings.block_status,
                         fix="a 403 lets a proxy or dialer try its next route; use "
                             "block_status = 603 unless every route after callguard "
                             "treats the 403 as final")

    async def drain(self, within: float | None = None) -> int:
        """SIGTERM: take no new call, answer the calls being decided, then return (how
        many are still undecided). The TCP and TLS listeners stop accepting (a dialer's
        new connection is refused: it fails over at once); a new INVITE on a connection
        still open, or by UDP, is answered ``503 Retry-After`` (``refused_stopping``,
        nothing decided); retransmissions, CANCELs and ACKs are still served, and timer
        G's copies and the 100 (Trying) still go out. The sockets stay open until the
        INVITEs under way are answered, within ``within`` (default twice ``budget_ms``
        and a second, at most ``_DRAIN_CAP_S``). Closed first, as before, every INVITE
        under way was decided and recorded with its answer lost (the UDP socket shut, the
        connections closed): its dialer heard nothing and waited out Timer B, 32 s."""
        self._draining = True
        for stream in (self._tcp, self._tls):
            server = stream._server if stream is not None else None  # noqa: SLF001
            if server is not None:
                server.close()  # the listener only: connections open stay (3.11, 3.12)
        pending = set(self._tasks)
        if pending:
            if within is None:
                within = min(_DRAIN_CAP_S, 2 * self.settings.budget_ms / 1000 + 1.0)
            _log.info("sip_draining", invites=len(pending), within_s=round(within, 2))
            _, pending = await asyncio.wait(pending, timeout=within)
            if pending:
                _log.warning("sip_drain_timed_out", invites=len(pending),
                             detail="their answers may be lost: the dialer waits out "
                                    "Timer B")
        if self._udp is not None:  # what arrived meanwhile: answered (an INVITE 503),
            self._udp.read_waiting(_DRAIN_READ)  # not lost with the socket
            await self._udp.flushed(_FLUSH_S)  # answers the kernel could not take yet
        return len(pending)

    async def close(self) -> None:
        """Stop listening after the calls being decided are answered (``drain``)."""
        if not self._draining:
            await self.drain()
        if self._ticker is not None:
            self._ticker.cancel()
        if self._udp is not None:
            await self._udp.stop()
        if self._tcp is not None:
            await self._tcp.stop()
        if self._tls is not None:
            await self._tls.stop()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    # --- the datagram path ------------------------------------------------------------------

    def received(self, data: bytes, addr: tuple[str, int], transport: _Transport,
                 framing: _Refusal | None = None) -> None:
        """One message from the wire; nothing in here may raise. ``framing``: why the
        stream's framing could not find the message's end (``_Framer``): the request is
        answered with it, read from the head alone, never as a retransmission."""
        counts = self.stats.counts
        if addr[0] not in self.allowed_sources:
            counts["refused_source"] += 1
            self.strangers.refused(addr[0])
            return
        if not self.rate_allows(addr[0]):
            if transport.reliable:
                self._rate_limited(data, addr, transport)
            return
        if len(data) > self.settings.max_datagram_bytes:
            counts["oversized"] += 1
            self._too_large(data, addr, transport)
            return
        if data and data[0] < 0x40 and not transport.reliable and (  # not a letter
                self._keepalive(data, addr, transport)):
            return
        if framing is not None:
            self._unframed(data, addr, transport, framing)
            return
        peeked = peek(data)
        if peeked is not None and peeked[0] == "ACK":
            self._known("ACK", peeked[1], addr, transport)  # no parse needed
            return
        ident = self._identity(data)
        if peeked is not None and self.transactions.answered(peeked[1]) is not None and (
                self.transactions.repeats(peeked[1], ident)) and (
                transport.reliable or (not self._moving(peeked[1], addr)
                                       and self.transactions.bounded(peeked[1]) is None)):
            # a datagram that moves its transaction's answers is read whole: they go where
            # its Via says (§18.2.2, ``_stamp_via``), as a first answer does (hsip30); and
            # one of a moved transaction, which may be absorbed (``_over_budget``)
            self._known(peeked[0], peeked[1], addr, transport, ident)  # a retransmission
            return
        try:
            message = parse(data)
        except Exception:  # noqa: BLE001 - anything unparseable is dropped and counted
            counts["malformed"] += 1
            self._unparsed(data, addr, transport)
            return
        if not isinstance(message, SipRequest):
            counts["response_ignored"] += 1
            return
        self._guarded(message, peeked[1] if peeked else None, addr, transport,
                      _refusal(data, message, transport.reliable), ident,
                      at_most=len(data) + _ANSWER_OWN_BYTES)

    def _guarded(self, message: SipRequest, key: Hashable | None, addr: tuple[str, int],
                 transport: _Transport, refusal: _Refusal | None,
                 ident: int | None = None, *, at_most: int | None = None) -> None:
        """``_request``, whose failure on a hostile header drops that request alone
        (counted ``malformed``, logged redacted): it must not stop the server."""
        try:
            self._request(message, key, addr, transport, refusal, ident, at_most=at_most)
        except Exception as exc:  # noqa: BLE001 - a hostile header must not stop the server
            self.stats.counts["malformed"] += 1
            _log.warning("sip_request_dropped", source=addr[0], error=redacted_error(exc))

    def rate_allows(self, source: str) -> bool:
        """A token from ``source``'s bucket (``rate_per_source``); else ``rate_limited``.
        An IPv6 source is its /64 (``source_holder``), as for every other per-source bound:
        keyed by address, a dialer sending from a new address of its /64 each time had a
        fresh bucket each time (hsip26). An IPv4 one is its address, read as is."""
        if ":" in source:
            source = _holder(source)
        if self._rate.allow(source, time.monotonic()):
            return True
        self.stats.counts["rate_limited"] += 1
        return False

    def _rate_limited(self, data: bytes, addr: tuple[str, int], transport: _Transport
                      ) -> None:
        """A stream's request past ``rate_per_source``: a stateless 503 with Retry-After
        (RFC 3261 §21.5.4), nothing decided, read from its request line and echoed headers
        alone. Dropped, an INVITE's dialer waited out Timer B (32 s) on a connection that
        stayed open. Over TCP the source is no spoofed address and the answer goes back on
        its own connection (bounded by ``_TCP_BACKLOG_BYTES``): no amplifier. Over UDP a
        request past the rate is still dropped unanswered (``protection.py``)."""
        if not data or data[0] < 0x40:  # not a request line
            return
        with contextlib.suppress(Exception):  # unreadable: dropped, as before
            message = parse(_answerable(data))
            if (isinstance(message, SipRequest) and message.method != "ACK"
                    and message.headers.get("via") and _sip_2_0(data)):
                addr = _stamp_via(message, addr, transport.reliable)
                self._stateless(message, 503, addr, transport, self._retry_after)
                self.stats.counts["rate_limited_answered"] += 1

    def _unparsed(self, data: bytes, addr: tuple[str, int], transport: _Transport) -> None:
        """A request the parse refused (more than aiosipua's 256 header lines) answered
        400 from its request line and the headers an answer echoes, when they read:
        dropped unanswered, the dialer waited out Timer B (32 s) on its INVITE, over TCP
        on a connection that stayed open. Nothing decided; the parse's error (which may
        quote the request line, a number) is not echoed."""
        end = _BLANK_LINE.search(data)
        refusal = _head_refusal(data[:end.end()] if end else data) or _UNREADABLE
        with contextlib.suppress(Exception):  # unreadable even so: dropped, as before
            message = parse(_answerable(data))
            if (isinstance(message, SipRequest) and message.method != "ACK"
                    and message.headers.get("via") and _sip_2_0(data)):
                self._request(message, None, addr, transport, refusal, at_most=len(data))

    def _unframed(self, head: bytes, addr: tuple[str, int], transport: _Transport,
                  refusal: _Refusal) -> None:
        """A stream's message whose end is unknown: its head answered with ``refusal``
        (stateless, nothing decided); the stream closes after it (``_Tcp``)."""
        counts = self.stats.counts
        try:
            message = parse(_NO_BODY.sub(b"Content-Length: 0", head))
        except Exception:  # noqa: BLE001 - unparseable: read as an answer reads it
            try:  # (a CR alone inside the request line: ``_answerable``)
                message = parse(_answerable(head))
            except Exception:  # noqa: BLE001 - unparseable: counted, as any such message
                counts["malformed"] += 1
                return
        if not isinstance(message, SipRequest):
            counts["response_ignored"] += 1
            return
        self._guarded(message, None, addr, transport, refusal)

    def _too_large(self, data: bytes, addr: tuple[str, int], transport: _Transport) -> None:
        """A request past ``max_datagram_bytes`` (read cut one byte over it) is answered a
        stateless 513 Message Too Large (RFC 3261 §21.5.7) when its header block arrived
        whole, nothing decided: dropped unanswered, a dialer's INVITE with a large SDP
        (video, ICE, SRTP lines; pjsip does not switch to TCP by default) waited out Timer
        B, 32 s (hsip13). The answer echoes only the request's own headers, and is not
        sent when larger than what was read (``_stateless``'s ``at_most``). A header
        block ended by LF alone, or cut at the limit (its whole lines: ``_head_within``),
        is answered too, as over TCP (hsip18): both were dropped, their dialers waiting
        out Timer B. A response or an ACK: dropped."""
        if not _sip_2_0(data):
            return
        head = (_answerable(data) if _BLANK_LINE.search(data) is not None
                else _head_within(bytearray(data), len(data)))
        if head is None:
            return
        try:
            message = parse(head)
        except Exception:  # noqa: BLE001 - unparseable: dropped, as any such datagram
            return
        if (not isinstance(message, SipRequest) or message.method == "ACK"
                or not message.headers.get("via")):
            return
        with contextlib.suppress(Exception):  # a hostile Via must not stop the server
            addr = _stamp_via(message, addr, transport.reliable,
                              force_rport=self.settings.force_rport)
            if self._stateless(message, 513, addr, transport, at_most=len(data)):
                self.stats.counts["too_large_answered"] += 1

    def _keepalive(self, data: bytes, addr: tuple[str, int], transport: _Transport) -> bool:
        """A UDP keep-alive (``stun.py``): line breaks (nothing sent back) or STUN (a
        Binding request answered); False for anything else, left to the SIP parse."""
        counts = self.stats.counts
        if stun.is_line_breaks(data):
            counts["udp_keepalive"] += 1
            return True
        if not stun.is_stun(data):
            return False
        reply = stun.answer(data, addr)
        counts["stun_answered" if reply is not None else "stun_dropped"] += 1
        if reply is not None:
            transport.send_bytes(reply, addr)
        return True

    def _known(self, method: str, key: Hashable, addr: tuple[str, int],
               transport: _Transport, ident: int | None = None,
               merge: str | None = None, *, credit: int | None = None) -> Receipt:
        """The transaction table's answer to a request; a retransmission is answered.

        A copy in clear of a request first sent over TLS is refused before the table
        sees it (``_downgrade_refused``): nothing is sent to it, so it must not count as
        a retransmission answered. hsip30 counted it (``receive`` before ``_answered_at``):
        ``max_retransmits`` clear copies, a dialer falling back from TLS or anyone
        repeating the request in clear, and the dialer's own copy over a new TLS
        connection was absorbed, its INVITE decided and never answered (hrev144).

        So is an ACK in clear of an INVITE first sent over TLS, the first connection open
        or not: §17.1.1.3 sends the ACK of a non-2xx over the INVITE's own transport, and
        the clear one ended the transaction, the dialer's copy over a new TLS connection
        then decided and recorded a second time (hrev144).

        ``credit``: over UDP, what the datagram may be sent (its size and
        ``_ANSWER_OWN_BYTES``, as ``_stateless``): a transaction moved to UDP sends no
        more than its datagrams brought (``_over_budget``)."""
        if method == "ACK":
            if self._tls_begun(key) and not _is_tls(transport):
                self._downgrade_refused(addr[0])
                return Receipt.ABSORBED
            if not transport.reliable and self._stream_bound(key):
                # a datagram's ACK of answers that go over a stream, never of the
                # answer: forged, or (before hsip33) the ACK of a 513 (a client ACKs
                # every non-2xx, §17.1.1.3). It ended the transaction, and the copy over
                # TCP was decided a second time (hrev153). Absorbed, it holds nothing:
                # the transaction lives to its own ACK or timer H as it would have.
                self.stats.counts["ack_other_transport"] += 1
                return Receipt.ABSORBED
        elif self.transactions.repeats(key, ident):
            if self._downgrading(key, addr, transport):
                self._downgrade_refused(addr[0])
                return Receipt.ABSORBED
            if not transport.reliable and self._stream_bound(key) and not self._moving(
                    key, addr):
                # a datagram copy of a request whose connection is open: its answers go
                # over that connection (§18.2.2), and the datagram may be forged. Each
                # was sent the answer there again (a 287-byte copy, the 7 KB answer of an
                # 8 KB INVITE, ``max_retransmits`` times) and its 100 while deciding:
                # what the TCP peer got was a forger's to choose (hsip33)
                self.stats.counts["udp_copy_of_stream"] += 1
                return Receipt.ABSORBED
            if not transport.reliable:
                over = self._over_budget(key, addr, credit or 0)
                self.transactions.credit(key, credit or 0, addr)
                if over:
                    # absorbed, its bytes kept for the copies to come (``credit``): no
                    # 513. A response is matched to its client transaction by branch and
                    # CSeq method alone, not by transport (RFC 3261 §17.1.3), and any
                    # datagram naming the dialer's host sends it to the dialer's own
                    # port: a forged copy's 513 failed the real call begun over TCP
                    # (§17.1.1.2: a final response ends Calling/Proceeding), and the
                    # real dialer's copy got a refusal, never its 302 (hsip33)
                    self.stats.counts["moved_answer_too_large"] += 1
                    return Receipt.ABSORBED
        receipt, again = self.transactions.receive(key, method, reliable=transport.reliable,
                                                   now=time.monotonic(), identity=ident,
                                                   merge=merge)
        self.stats.counts[_EVENTS.get((method, receipt)) or
                          f"other_{receipt.value}"] += 1
        if again is not None or receipt is Receipt.PENDING:
            # the final response, or the 100 (Trying) while deciding, where the first copy
            # went (§18.2.2: the request that made the transaction), or here
            addr, transport = self._answered_at(key, addr, transport, credit or 0)
            if again is not None and receipt is Receipt.PENDING and (
                    self.transactions.bounded(key) is not None):
                # moved to UDP just now: its 100 withheld, as ``due`` withholds it (hrev153)
                self.stats.counts["moved_trying_withheld"] += 1
                again = None
            if again is not None and self.transactions.spend(key, len(again)):
                transport.send_bytes(again, addr)
        return receipt

    def _over_budget(self, key: Hashable, addr: tuple[str, int], credit: int) -> bool:
        """Whether a UDP copy of ``key``'s request, bringing ``credit``, asks for more
        than its transaction moved (or moving) to UDP may send (``move``'s bound).

        The datagram is a spoofable source, and may be much smaller than the request
        over TCP that made the answer (its echoed Via rows, its To and From): a 287-byte
        copy of an 8 KB INVITE was sent the 7 KB answer, then timer G's copies of it,
        220 times what came in, to the TCP peer's address (hrev144). Such a copy is
        absorbed and the transaction is not moved; its bytes wait (``credit``), and the
        copies after it move the transaction when together they pay for the answer.
        hsip32 answered it a stateless 513, which reached the real dialer's transaction
        (a response is matched by branch, not transport: RFC 3261 §17.1.3) and failed
        its call, forged or not (hsip33). The dialer's own copy by UDP is the same
        request, answered in about as many bytes (§8.2.6.2: the response echoes its
        Via, From, To, Call-ID, CSeq), and
        each of its retransmissions brings as much again."""
        if self._moving(key, addr):
            # the copies before it naming the same address (``credit``)
            budget = self.transactions.waiting(key, addr)
        else:
            bound = self.transactions.bounded(key)
            if bound is None:
                return False
            budget = bound
        return self.transactions.resend_size(key) > budget + credit

    def _answered_at(self, key: Hashable, addr: tuple[str, int], transport: _Transport,
                     credit: int = 0) -> tuple[tuple[str, int], _Transport]:
        """Where a transaction's answers go, a retransmission of its request having come
        from ``addr`` on ``transport``: where the first request came from (§18.2.2), unless
        that was a connection now closed — then here, from now on. §18.2.2 has the server
        open a connection to the source when the first is gone; a dialer that sent the
        INVITE again on a new connection (its first one broken) got nothing, the answer
        (sent, or still being decided) written to the closed one, and waited out Timer B
        for a call decided and recorded (hsip26).

        Only a copy from the host the first came from (its address, read plain) moves
        them: §18.2.2 sends to the ``received`` address, the first request's source. Any
        other allowed host sending the same request, or a forged UDP source, was given
        the answer and kept it (a datagram source is never closed), the dialer's own
        copy afterwards unanswered (hrev135).

        A copy by UDP has ``addr`` from its Via, as a first request's answers (``received``
        reads such a copy whole, ``_moving``), and starts timer G (``move``). An answer to
        a request first sent over TLS never moves to clear text (``_downgrade_refused``):
        only to a new TLS connection (hsip30). Moved to UDP, it sends there ``credit``
        bytes at most, and as many more for each copy (``_over_budget``)."""
        dest = self.transactions.destination(key)
        if dest is None:
            return addr, transport
        first_addr, first = cast(tuple[tuple[str, int], _Transport], dest)
        if not self._moving(key, addr, transport):
            return first_addr, first
        if self._downgrading(key, addr, transport):  # refused in ``_known``: not reached
            self._downgrade_refused(addr[0])
            return first_addr, first
        # ``credit`` is in the table already (``_known``): the bound is what the copies
        # brought, this one's with them
        self.transactions.move(key, (addr, transport), reliable=transport.reliable,
                               now=time.monotonic(), budget=0)
        return addr, transport

    def _moving(self, key: Hashable, addr: tuple[str, int],
                transport: _Transport | None = None) -> bool:
        """Whether a copy of ``key``'s request from ``addr`` takes its answers
        (``_answered_at``): its first came on a connection now closed, from ``addr``'s
        host. Over UDP ``addr`` is where the copy's Via sends answers (``_stamp_via``).

        A copy over a stream (``transport`` reliable) from that host also takes back the
        answers of a transaction begun over a stream and moved to UDP (``bounded``): the
        datagram that moved them may be forged (any source, any Via port on the
        dialer's host), and the real dialer's copy over its new connection got nothing,
        its answers going to that port (hsip33)."""
        dest = self.transactions.destination(key)
        if dest is None:
            return False
        first_addr, first = cast(tuple[tuple[str, int], _Transport], dest)
        if as_written(addr[0]) != as_written(first_addr[0]):
            return False
        if isinstance(first, _Tcp):
            return not first.is_open(first_addr)
        return (transport is not None and transport.reliable
                and self.transactions.bounded(key) is not None)

    def _downgrading(self, key: Hashable, addr: tuple[str, int], transport: _Transport
                     ) -> bool:
        """Whether a copy of ``key``'s request from ``addr`` on ``transport`` would move
        answers of a request first sent over TLS to clear text (``_answered_at``)."""
        return self._moving(key, addr) and self._tls_begun(key) and not _is_tls(transport)

    def _stream_bound(self, key: Hashable) -> bool:
        """Whether ``key``'s answers go over TCP or TLS (not moved to UDP)."""
        dest = self.transactions.destination(key)
        return dest is not None and isinstance(
            cast(tuple[tuple[str, int], _Transport], dest)[1], _Tcp)

    def _tls_begun(self, key: Hashable) -> bool:
        """Whether ``key``'s answers go over TLS (its request came so: they never move
        to clear text)."""
        dest = self.transactions.destination(key)
        return dest is not None and _is_tls(cast(tuple[tuple[str, int], _Transport], dest)[1])

    def _downgrade_refused(self, source: str) -> None:
        """A request first sent over TLS came again in clear (TCP, UDP): its answer is
        not moved there. It carries the decision and the caller ID to present, which the
        dialer chose TLS to keep off the network, and a clear copy is what a path
        attacker can send (hsip30: main answered it in clear). Counted
        ``tls_downgrade_refused``; logged at most once a minute."""
        self.stats.counts["tls_downgrade_refused"] += 1
        now = time.monotonic()
        if now - self._downgrade_logged >= _CAP_LOG_S:
            self._downgrade_logged = now
            _log.warning("sip_tls_downgrade_refused", source=source,
                         fix="the dialer sent again in clear a request it first sent "
                             "over TLS; its answer waits for a new TLS connection")

    def _request(self, request: SipRequest, key: Hashable | None, addr: tuple[str, int],
                 transport: _Transport, refusal: _Refusal | None = None,
                 ident: int | None = None, *, at_most: int | None = None) -> None:
        counts = self.stats.counts
        # §7.1: "The method names are case-sensitive" (§25.1: INVITE is %x49.4E.56.49.54.45):
        # ``invite`` is an extension method (405), not an INVITE decided and recorded
        method = request.method
        if request.headers.get("via"):  # every answer, the 400s too, goes where §18.2.2 says
            addr = _stamp_via(request, addr, transport.reliable,
                              force_rport=self.settings.force_rport)
        refusal = refusal or self._unreadable(request, method)
        if refusal is not None:  # nothing is decided; an ACK is never answered
            counts[refusal.event] += 1
            if request.headers.get("via") and method != "ACK":
                self._stateless(request, refusal.status, addr, transport, refusal.headers,
                                reason=refusal.reason, at_most=at_most)
            return
        cseq = cast(CSeq, request.cseq)  # read by _unreadable
        key = key if key is not None else self._key(request, method)
        receipt = self._known(method, key, addr, transport, ident,
                              _merge_id(request, cseq.seq) if method == "INVITE" else None,
                              credit=at_most)
        answer = _REFUSALS.get(receipt)
        if answer is not None:
            self._stateless(request, answer[0], addr, transport, answer[1], at_most=at_most)
            return
        if receipt is Receipt.NEW:
            self._new(request, method, key, addr, transport)

    def _unreadable(self, request: SipRequest, method: str) -> _Refusal | None:
        """Why a request cannot be read as one question (400, nothing decided): a header
        §8.1.1 requires missing, an identifying header given twice (``_SINGLE``), a To or
        From whose ``tag`` has no value (``;tag=``: the grammar's tag is a token of one
        character or more, §25.1; neither "in a dialog" (481) nor "no tag"), a CSeq
        that is not a number and this method, or an INVITE's question header repeated."""
        headers = request.headers
        missing = missing_required_headers(request)
        if missing:
            return _bad("missing_headers", f"missing {', '.join(missing)}")
        twice = next((name for name in _SINGLE if len(headers.get(name)) > 1), None)
        if twice is not None:
            return _bad("repeated_header", f"{_SINGLE[twice]} given more than once")
        empty = next((_SINGLE[name] for name in ("to", "from")
                      if header_tag(headers.get_first(name) or "") == ""), None)
        if empty is not None:  # §25.1: tag-param = "tag" EQUAL token, a token 1 char or more
            return _bad("empty_tag", f"{empty} has a tag with no value")
        try:
            cseq = request.cseq
        except ValueError:
            cseq = None
        if cseq is None or cseq.method != method:  # §8.1.1.5: the request's method
            return _bad("malformed", "CSeq does not match")
        if not _cseq_number(headers.get_first("cseq") or ""):
            return _bad("malformed", "CSeq number is not 1*DIGIT below 2**31")
        if not max_forwards_ok(headers.get("max-forwards")):
            return _BAD_MAX_FORWARDS  # 0 is answered: a redirect server forwards nothing
        repeated = self.mapping.repeated(request) if method == "INVITE" else None
        if repeated is not None:
            return _bad("repeated_header", f"{repeated} given more than once")
        return None

    def _new(self, request: SipRequest, method: str, key: Hashable, addr: tuple[str, int],
             transport: _Transport) -> None:
        """A new transaction: an INVITE is decided (a task), anything else answered now."""
        answer = self._unsupported(request, method)
        if answer is None and method == "INVITE":
            if self._draining:
                self.stats.counts["refused_stopping"] += 1
                self._final(request, key, 503, addr, transport, _STOPPING_HEADERS)
                return
            if len(self._deciding) >= self.settings.max_in_flight:
                self._busy(request, key, addr, transport)
                return
            source = source_holder(addr[0])
            if self._deciding_by[source] >= self.settings.max_in_flight_per_source:
                self._busy(request, key, addr, transport, source=source)
                return
            self._deciding_by[source] += 1
            self._deciding[key] = (Withdrawal(), _to_tag())
            self.transactions.proceeding(key, functools.partial(self._trying, request),
                                         (addr, transport), now=time.monotonic())
            task = asyncio.create_task(self._invite(request, key, addr, transport))
            task.add_done_callback(functools.partial(self._done_deciding, source))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            if isinstance(transport, _Tcp):
                transport.hold(addr, task)
            return
        if answer is None and method == "CANCEL":
            status, headers, tag = self._cancel(key)
            self._final(request, key, status, addr, transport, headers, to_tag=tag)
            return
        status, headers = answer or self._other(request, method)
        self._final(request, key, status, addr, transport, headers)

    def _done_deciding(self, source: str, _task: asyncio.Task[None]) -> None:
        """An INVITE of ``source`` is answered: its place is free."""
        left = self._deciding_by[source] - 1
        if left > 0:
            self._deciding_by[source] = left
        else:
            self._deciding_by.pop(source, None)

    def _busy(self, request: SipRequest, key: Hashable, addr: tuple[str, int],
              transport: _Transport, *, source: str | None = None) -> None:
        """An INVITE past ``max_in_flight``: 503 with Retry-After, nothing decided or
        recorded — the dialer places no call (fail closed) and may try again; the calls
        being decided, and FastAGI's, keep their tasks, memory and descriptors. Answered
        in its transaction, so a retransmission gets the 503 again, not a decision. Without
        the cap a flood of INVITEs against a stalled store held one task and up to two
        Redis connections each, up to ``max_transactions`` (65,536): past the descriptors
        ``fdlimit`` had left for the node's files and FastAGI's calls.

        ``source``: the INVITE is past ``max_in_flight_per_source`` (``refused_source_busy``):
        one dialer's INVITEs held every place, and every other dialer got this 503."""
        if source is not None:
            self.stats.counts["refused_source_busy"] += 1
            self._final(request, key, 503, addr, transport, _SOURCE_BUSY_HEADERS)
            now = time.monotonic()
            if now - self._source_busy_logged >= _CAP_LOG_S:
                self._source_busy_logged = now
                _log.warning("sip_in_flight_source_capped", source=source,
                             cap=self.settings.max_in_flight_per_source,
                             fix="the store is slow or this source floods; raise [sip] "
                                 "max_in_flight_per_source if it is many dialers behind "
                                 "one address")
            return
        self.stats.counts["refused_busy"] += 1
        self._final(request, key, 503, addr, transport, _BUSY_HEADERS)
        now = time.monotonic()
        if now - self._busy_logged >= _CAP_LOG_S:  # a line a minute at most, not one per
            self._busy_logged = now  # INVITE of a flood
            _log.warning("sip_in_flight_capped", cap=self.settings.max_in_flight,
                         fix="the store is slow or the node is flooded; raise [sip] "
                             "max_in_flight only if the open-files limit allows it")

    @staticmethod
    def _unsupported(request: SipRequest, method: str) -> _Answer | None:
        """481 for an INVITE with a To tag; 416 for an INVITE whose URI scheme names no
        number; 420 for an OPTIONS that requires an extension (we support none).

        An INVITE's Require is ignored: RFC 3261 §8.3 — "Redirect servers MUST ignore
        features that are not understood (including unrecognized header fields, any
        unknown option tags in Require, or even method names) and proceed with the
        redirection of the request in question." A 302 or 603 uses no extension. An
        OPTIONS is answered as a UAS answers it (§11), so §8.2.2.3's 420 holds there."""
        required = request.headers.get("require")
        if required and method == "OPTIONS":
            return 420, (("Unsupported", ", ".join(required)),)
        if method == "INVITE":
            if header_tag(request.headers.get_first("to") or "") is not None:
                # §12.2.2: a request inside a dialog this server never had (a re-INVITE, a
                # session refresh misrouted here): 481, nothing decided, recorded or
                # counted for a call nobody placed (hsip13).
                return 481, ()
            try:
                number_of(request.uri)
            except ValueError:
                return 416, ()
        return None

    def _other(self, request: SipRequest, method: str) -> _Answer:
        if method == "OPTIONS":
            return 200, (("Allow", ALLOW_METHODS), ("Accept", "application/sdp"))
        if method == "BYE":  # §15.1.2: a BYE matching no dialog (a redirect server has none)
            return 481, ()
        self.stats.counts["method_not_allowed"] += 1
        return 405, (("Allow", ALLOW_METHODS),)

    def _cancel(self, key: Hashable) -> tuple[int, tuple[tuple[str, str], ...], str | None]:
        """RFC 3261 §9.2: 481 when no INVITE transaction matches; otherwise 200, with the
        To tag the INVITE's answer gets or got ("SHOULD be the same"). An INVITE still
        being decided is withdrawn: if its decision is not final yet (not being
        recorded), it is recorded as withdrawn and answered 487; if it is, the INVITE gets
        the recorded answer (the record and the answer agree): a CANCEL only "attempts to
        force a non-2xx response" (§15)."""
        key = cancelled_key(key)
        state = self.transactions.answered(key)
        if state is None:
            return 481, (), None
        deciding = self._deciding.get(key) if state is False else None
        if deciding is None:  # no effect on an INVITE already answered; its answer's tag
            self.stats.counts["cancel_after_answer"] += 1
            return 200, (), self.transactions.final_tag(key)
        withdrawal, tag = deciding
        if not withdrawal.withdrawn:
            self.stats.counts["cancel_in_time" if withdrawal.withdraw()
                              else "cancel_too_late"] += 1
        return 200, (), tag

    async def _invite(self, request: SipRequest, key: Hashable, addr: tuple[str, int],
                      transport: _Transport) -> None:
        withdrawal, tag = self._deciding.get(key) or (Withdrawal(), _to_tag())
        try:
            check = self.mapping.check_request(request, addr[0], withdrawal)
            decision = await self._decide(check)
            # A CANCEL honoured before the decision was final: the recorded BLOCK (the
            # withdrawal, or the rule that blocked anyway) is answered 487 (RFC 3261 §9.2).
            cancelled = withdrawal.honoured
            status, headers = decision_headers(
                decision, trunk=self.settings.trunk,
                identity_header=self.settings.identity_header,
                block_status=487 if cancelled else self.settings.block_status)
            self.stats.counts["cancelled" if cancelled else
                              "allow" if decision.allowed else "block"] += 1
            self._final(request, key, status, addr, transport, headers, to_tag=tag)
        except Exception as exc:  # noqa: BLE001 - answer something; never leave the dialer waiting
            self.stats.counts["internal_error"] += 1
            # The answer first, the log line after and never raising: with stderr on a
            # full disk (ENOSPC) the log line raised here, and the dialer heard nothing
            # until its Timer B (32 s) — on every INVITE while the disk was full (hhos15).
            with contextlib.suppress(Exception):
                self._final(request, key, 500, addr, transport, to_tag=tag)
            with contextlib.suppress(Exception):
                _log.error("sip_invite_failed",
                           call_id=redact_digits(request.call_id or "")[:80],
                           error=redacted_error(exc))
        finally:
            self._deciding.pop(key, None)
            if self.transactions.answered(key) is False:
                self.transactions.forget(key)  # never answered: let a retransmission retry

    async def _decide(self, request: CheckRequest) -> Decision:
        # The gate owns the budget: past it the decision is a recorded BLOCK, so the
        # record and the answer agree.
        decision = await self.gate.check(request, budget_s=self.settings.budget_ms / 1000)
        deciding = decision.verdict.deciding
        if deciding is not None and deciding.rule_id == TIMEOUT_RULE:
            self.stats.counts["over_budget"] += 1
        return decision

    # --- answers ----------------------------------------------------------------------------

    def _final(self, request: SipRequest, key: Hashable, status: int, addr: tuple[str, int],
               transport: _Transport, headers: tuple[tuple[str, str], ...] = (), *,
               to_tag: str | None = None) -> None:
        tag = to_tag or _to_tag()
        data = build_response(request, status, to_tag=tag, headers=headers)
        dest = self.transactions.destination(key)  # moved by a retransmission (_answered_at)
        if dest is not None:
            addr, transport = cast(tuple[tuple[str, int], _Transport], dest)
        if self.transactions.spend(key, len(data)):  # moved to UDP: within what it may send
            transport.send_bytes(data, addr)
        # a 503 (max_in_flight, stopping) decided nothing: a retry under another branch
        # is decided, not merged (482)
        self.transactions.respond(key, data, (addr, transport), now=time.monotonic(),
                                  tag=tag, undecided=status == 503)

    def _trying(self, request: SipRequest) -> bytes | None:
        """The INVITE's 100 (Trying), made only when its decision is slow (§17.2.1): no To
        tag (SHOULD NOT), the request's Timestamp copied (§8.2.6.1: MUST)."""
        stamp = request.headers.get_first("timestamp")
        try:
            return build_response(request, 100, to_tag="",
                                  headers=(("Timestamp", stamp),) if stamp else ())
        except ValueError:
            self.stats.counts["unanswerable"] += 1
            return None

    def _stateless(self, request: SipRequest, status: int, addr: tuple[str, int],
                   transport: _Transport, headers: tuple[tuple[str, str], ...] = (), *,
                   reason: str | None = None, at_most: int | None = None) -> bool:
        """A stateless answer. ``at_most``: over UDP, the bytes read of the request (a
        513, a 400 past the parse's 256 lines, any refusal before a transaction): an answer
        larger is not sent (``answer_too_large``) — a forged source must not get back more
        than was sent. Its echoed lines grow (``t:`` becomes ``To: ``, LF becomes CRLF,
        each To line gets the tag): many short To lines made a 513 1.6 times, a 400 1.5
        times, the datagram (hrev46); the 400s of a request that parses (two
        Content-Length values, cut short, a To given twice) 2.4 times, bounded now at what
        was read and ``_ANSWER_OWN_BYTES`` (hrev126). Whether it was sent."""
        try:
            data = build_response(request, status, to_tag=_to_tag(), headers=headers,
                                  reason=reason)
            if at_most is not None and not transport.reliable and len(data) > at_most:
                self.stats.counts["answer_too_large"] += 1
                return False
            transport.send_bytes(data, addr)
        except ValueError:
            self.stats.counts["unanswerable"] += 1
            return False
        return True

    @staticmethod
    def _key(request: SipRequest, method: str) -> Hashable:
        via = parse_via(request.headers.get("via")[0])
        cseq = request.cseq
        from_addr = request.from_addr
        return transaction_key(
            branch=via.branch, method=method,
            sent_by=sent_by(f"{via.host}:{via.port}" if via.port else via.host),
            call_id=request.call_id or "", cseq=cseq.seq if cseq else 0,
            from_tag=(from_addr.tag or "") if from_addr else "")

    async def _tick(self) -> None:
        next_sweep = 0.0
        while True:
            await asyncio.sleep(_TICK_S)
            now = time.monotonic()
            if now >= next_sweep:
                next_sweep = now + _SWEEP_S
                for stream in (self._tcp, self._tls):
                    if stream is not None:
                        closed = stream.sweep(now, self.settings.tcp_idle_timeout_ms / 1000)
                        self.stats.counts["tcp_idle_closed"] += closed
            for data, dest in self.transactions.due(now):
                addr, transport = cast(tuple[tuple[str, int], _Transport], dest)
                transport.send_bytes(data, addr)


def _is_tls(transport: _Transport) -> bool:
    return isinstance(transport, _Tcp) and transport.tls is not None


class _Tags:
    """To tags (§19.3: globally unique, cryptographically random, ≥ 32 bits): 48 bits
    each, cut from one ``os.urandom`` read per 1,024 tags instead of a system call each."""

    _SIZE = 6
    _BATCH = 1024

    def __init__(self) -> None:
        self._pool = ""
        self._at = 0
        os.register_at_fork(after_in_child=self._forget)  # a child must not repeat ours

    def _forget(self) -> None:
        self._pool, self._at = "", 0

    def __call__(self) -> str:
        at = self._at
        if at >= len(self._pool):
            self._pool = os.urandom(self._SIZE * self._BATCH).hex()
            at = 0
        self._at = at + 2 * self._SIZE
        return self._pool[at:at + 2 * self._SIZE]


_to_tag = _Tags()
# an IPv6 source's /64 (or a mapped IPv4 one's address), remembered: parsed once per source
_holder = functools.lru_cache(maxsize=4096)(source_holder)


# What a stateless answer to a request that parsed may add to it over UDP (its Warning
# and reason, the Via's received and rport, one To tag): a dialer's INVITE without a body
# is answered 400 in a few more bytes than it sent. What scales with the datagram (an echoed
# line per line sent, each To line tagged) does not pass: 240 short To lines were answered
# 2.4 times the datagram (hrev126). The paths hrev46 bounded stay at what was read.
_ANSWER_OWN_BYTES = 512


def _cut(data: bytes, message: SipRequest) -> str | None:
    """Why a datagram is not a whole message, or None. Over UDP a message cut short (a
    sender's buffer, a middlebox) may have lost the headers the decision reads; RFC 3261
    §7.5: the empty line after the headers MUST be present; §18.3: a body shorter than
    Content-Length is an error, and a request SHOULD get a 400. Two Content-Length values
    (§7.3.1: not a list) say two bodies: refused as the TCP framing refuses them (the
    first was read and the call decided, the second left to the next element)."""
    if b"\r\n\r\n" not in data and b"\n\n" not in data:
        return "no empty line after the headers: the datagram was cut"
    values = message.headers.get("content-length")
    if not values:
        return None
    if len({value.strip() for value in values}) > 1:  # as ``_Framer`` refuses it on TCP
        return "Content-Length is not one number"
    declared = values[0].strip()
    if not declared.isdigit() or not declared.isascii():
        return "Content-Length is not a number"
    # past 4,300 digits ``int`` raises (the datagram went unanswered, internal_error)
    if len(declared) > _MAX_LENGTH_DIGITS or int(declared) > len(message.body):
        return "body shorter than Content-Length: the datagram was cut"
    return None


class _Refusal(NamedTuple):
    """A request refused before its transaction: the event counted, the status, its
    headers, and a reason phrase when the status's own would not say why (§21.4.1)."""

    event: str
    status: int
    headers: tuple[tuple[str, str], ...] = ()
    reason: str | None = None


_BAD_VERSION = _Refusal("bad_version", 505)
_BUSY_HEADERS = (("Retry-After", "1"),
                 ("Warning", '399 callguard "too many calls being decided ([sip] '
                             'max_in_flight); nothing decided"'))
_SOURCE_BUSY_HEADERS = (("Retry-After", "1"),
                        ("Warning", '399 callguard "too many calls from this source being '
                                    'decided ([sip] max_in_flight_per_source); nothing '
                                    'decided"'))
_STOPPING_HEADERS = (("Retry-After", "1"),
                     ("Warning", '399 callguard "this node is stopping; nothing '
                                 'decided"'))
# a stream's request past ``max_datagram_bytes``: its head answered, then the close (§18.3's
# framing cannot skip a body it will not read); over UDP ``_too_large`` answers the same
_TOO_LARGE = _Refusal("too_large_answered", 513)


def _bad(event: str, why: str, reason: str | None = None) -> _Refusal:
    """A 400 whose Warning says why (§21.4.1, §20.43: code 399, "miscellaneous")."""
    return _Refusal(event, 400, (("Warning", f'399 callguard "{why}"'),), reason)


_UNREADABLE = _bad("unreadable_answered", "the header block could not be read")
# the headers a response echoes (§8.2.6.2), long and compact: all a 400 needs
_ECHOED_LINE = re.compile(rb"(?:via|v|from|f|to|t|call-id|i|cseq)[ \t]*:", re.IGNORECASE)


def _answerable(data: bytes) -> bytes:
    """The request line and the echoed header lines of a request's head, no body.

    A CR alone inside the request line (``INVITE sip:80155<CR>50123@gw SIP/2.0``, §7.1:
    "No CR or LF are allowed except in the end-of-line CRLF sequence") is read as a blank:
    the parse took it for a line break, found no request line and the request went
    unanswered (its dialer waited out Timer B). Only for an answer: what is read here is
    never decided, and the request line is never echoed."""
    end = _BLANK_LINE.search(data)
    lines = (data[:end.start()] if end else data).replace(b"\r\n", b"\n").split(b"\n")
    kept = [lines[0].replace(b"\r", b" "),
            *(line for line in lines[1:] if _ECHOED_LINE.match(line))]
    return b"\r\n".join(kept) + b"\r\nContent-Length: 0\r\n\r\n"


_BAD_REQUEST_LINE = _bad("bad_request_line", "the request line is not Method SP Request-URI "
                         "SP SIP-Version, one space each (RFC 3261 sections 7.1, 25.1)",
                         "Malformed Request-Line")
_BAD_MAX_FORWARDS = _bad("bad_max_forwards", "Max-Forwards is not one number in 0-255 "
                         "(RFC 3261 sections 20.22, 25.1)")
_BARE_CR = _bad("bare_cr", "a line ends in CR alone, not CRLF (RFC 3261 section 7)")
_NO_LENGTH = _bad("no_content_length", "Content-Length is required over TCP "
                  "(RFC 3261 sections 18.3, 20.14)", "Missing Content-Length")


# The headers that identify a request and its dialog (§8.1.1), each a single value: given
# twice (two rows, or "t:" and "To:"), the front and the next element could each read
# another one — the front decided a new call on the first To while the second carried a
# tag, and recorded the first Call-ID as the reference. Refused 400 (§7.3.1, §21.4.1).
_SINGLE = {"to": "To", "from": "From", "call-id": "Call-ID", "cseq": "CSeq"}


# A Content-Length header (or its compact form) whose body was not read: set to 0 so the
# header block of an oversized datagram parses alone (``_too_large``).
_NO_BODY = re.compile(rb"(?im)^(?:content-length|l)[ \t]*:[ \t]*\d+[ \t]*$")


def _refusal(data: bytes, message: SipRequest, reliable: bool) -> _Refusal | None:
    """Why a request is answered without a decision, before its transaction: a line
    ended by CR alone (400, ``_head_refusal``: read as the request line, a CR-only head
    was answered 505), a version that is not SIP/2.0 (505, §21.5.18: another protocol's
    rules), a Via sent-by port not in ASCII digits (400, ``_via_port_ok``), or over UDP a
    datagram cut short (400, ``_cut``: what is missing may be what
    the decision reads)."""
    end = _BLANK_LINE.search(data)
    refusal = _head_refusal(data[:end.end()] if end else data)
    if refusal is not None:
        return refusal
    if end is not None and end.end() != _parsed_head_end(data):
        return _BODY_AS_HEADERS
    if not _sip_2_0(data):
        return _BAD_VERSION
    if not request_line_ok(data):  # §7.1, §25.1: single SPs; parse read any blanks
        return _BAD_REQUEST_LINE
    vias = message.headers.get("via")
    if vias and not _via_port_ok(vias[0]):  # read before ``_stamp_via`` rewrites it
        return _BAD_VIA_PORT
    cut = None if reliable else _cut(data, message)
    if cut is None:
        return None
    return _bad("truncated", cut)


# the first empty line, lines ended by CRLF or LF alone (where ``_Framer`` ends a head)
_BLANK_LINE = re.compile(rb"\r?\n\r?\n")
# ``wire.parse`` (aiosipua's rule) ends a head at the first CRLFCRLF, else at the first
# LFLF: a head of LF-ended lines whose body holds a CRLFCRLF had its body's lines read as
# headers (an SDP's, or an X-Callguard-Mode the head did not carry), and over TCP the
# body the framing measured was not the body the parse read
_BODY_AS_HEADERS = _bad("malformed", "lines after the empty line would be read as headers")


def _parsed_head_end(data: bytes) -> int:
    at = data.find(b"\r\n\r\n")
    if at >= 0:
        return at + 4
    at = data.find(b"\n\n")
    return at + 2 if at >= 0 else -1


def _sip_2_0(data: bytes) -> bool:
    """Whether the request line ends in the version SIP/2.0 (RFC 3261 §7.1; the token
    compares case-insensitively, §25.1). ``wire.parse`` reads no version: an
    ``INVITE sip:… SIP/3.0`` or an HTTP request line was decided as a SIP/2.0 INVITE."""
    end = data.find(b"\n")
    line = (data[:end] if end >= 0 else data).rstrip(b"\r \t")
    return line[-7:].upper() == b"SIP/2.0" and line[-8:-7] in (b" ", b"\t")


def _cseq_number(value: str) -> bool:
    """Whether a CSeq's sequence number is as §25.1 and §8.1.1.5 write it: ASCII digits
    (``1*DIGIT``), below 2**31. aiosipua reads it with ``int``, which also takes ``-1``,
    ``+1``, ``1_0`` and other scripts' digits (U+0661, an Arabic-Indic one): each was
    decided as a number."""
    number = value.strip(" \t").split(None, 1)[0] if value.strip() else ""
    return number.isascii() and number.isdigit() and int(number) < 2**31


def _merge_id(request: SipRequest, cseq: int) -> str | None:
    """§8.2.2.2: what a request without a To tag shares with its copies on other paths
    (Call-ID, From tag, CSeq number), and the Request-URI: a copy asks for the same
    number, while a client that reuses one Call-ID, tag and CSeq for calls to other
    numbers (a hand-made dialer) asks a new question each time, decided as such. None
    for a request with a To tag."""
    headers = request.headers
    if header_tag(headers.get_first("to") or "") is not None:
        return None
    tag = header_tag(headers.get_first("from") or "")
    return f"{request.call_id}\n{tag or ''}\n{cseq}\n{request.uri}"


def _stamp_via(request: SipRequest, addr: tuple[str, int], reliable: bool = False, *,
               force_rport: bool = False) -> tuple[str, int]:
    """RFC 3581 / §18.2.1: the top Via learns where the request really came from; the
    address its responses go to (§18.2.2, RFC 3581 §4), returned.

    Over TCP the request's connection (``addr``). Over UDP the source address (the
    ``received`` value) and: the source port when the Via asks for it (``rport``); else
    the port of the Via's sent-by, 5060 if none — §18.2.2 "MUST be sent to the address in
    the received parameter, using the port indicated in the sent-by value". A client that
    sends from one port and listens on another says so in its Via; answering the source
    port left it waiting out Timer B. ``maddr`` is not followed (§18.2.2 would send there):
    the front answers only its allowed sources, at their own address, so no request can
    aim its answers at a third host. A sent-by port outside 1-65535 cannot be answered at:
    the source port is used.

    ``force_rport`` (``[sip] force_rport``, Kamailio's ``force_rport()``, sofia-sip's
    ``NTATAG_SERVER_RPORT(2)``): every UDP request is treated as if its Via carried
    ``rport``, for dialers behind a NAT that do not ask for it."""
    vias = request.headers.get("via")
    plain = _PLAIN_VIA.fullmatch(vias[0])
    if plain is not None:  # the common case, without aiosipua's Via codec
        host, params = plain.group(1), _plain_params(plain.group(3))
        port = int(plain.group(2)) if plain.group(2) else None
        head = vias[0][:plain.start(3)]
    else:
        top = parse_via(vias[0])
        host, params, port, head = top.host, top.params, top.port, ""
        if not _via_port_ok(vias[0]):  # not ASCII digits (refused 400): the source port
            port = 0
    wants_rport = (force_rport and "rport" not in params) or (
        "rport" in params and not params["rport"])
    # an IPv4 dialer of a dual-stack socket (host "::") is 10.1.2.3, not the socket's
    # ::ffff:10.1.2.3: ``received`` tells the dialer its address (RFC 3581 §4)
    source = addr[0]
    if source.startswith("::ffff:"):  # as the kernel writes it; no parse per request
        seen = plain_address(source)
        source = str(seen) if seen is not None else source
    if host != source or wants_rport:
        params["received"] = source
        if wants_rport:
            params["rport"] = str(addr[1])
        if plain is None:
            vias[0] = stringify_via(top)
        else:
            vias[0] = head + "".join(f";{k}={v}" if v is not None else f";{k}"
                                     for k, v in params.items())
    if reliable or "rport" in params:
        return addr
    if port is None:
        port = 5060
    return (addr[0], port if 0 < port < 65536 else addr[1])


# A Via that aiosipua's codec writes back unchanged: upper-case transport, a host name
# or IPv4 address, a port without leading zero, lower-case parameters, no blanks, no quotes.
_PLAIN_VIA = re.compile(r"SIP/2\.0/[A-Z]+ ([A-Za-z0-9.\-]+)(?::([1-9][0-9]*))?"
                        r"((?:;[a-z0-9.!%*_+`'~\-]+(?:=[A-Za-z0-9.!%*_+`'~\-:\[\]]+)?)*)")


def _via_port_ok(via: str) -> bool:
    """Whether the sent-by port of a Via value, when given, is ASCII digits (RFC 3261
    §25.1: ``port = 1*DIGIT``). aiosipua reads it with ``int``, which also takes other
    scripts' digits (``127.0.0.1:`` then U+0665 U+0669 U+0669 U+0669 was port 5999): the
    INVITE was decided and, without rport, answered at a port the dialer never wrote."""
    parts = via.split(";", 1)[0].split(",", 1)[0].split()
    if len(parts) < 2:
        return True  # no sent-by: aiosipua's codec and ``missing`` judge it
    sent = parts[-1]
    if sent.startswith("["):
        sent = sent.partition("]")[2]
    _, colon, port = sent.rpartition(":")
    return not colon or (port.isascii() and port.isdigit())


_BAD_VIA_PORT = _bad("malformed", "the Via's sent-by port is not ASCII digits "
                     "(RFC 3261 section 25.1)")


def _plain_params(text: str) -> dict[str, str | None]:
    """``;a=1;b`` as the codec reads it: a repeated name keeps its place, the last value."""
    params: dict[str, str | None] = {}
    for part in text.split(";")[1:]:
        name, equals, value = part.partition("=")
        params[name] = value if equals else None
    return params
