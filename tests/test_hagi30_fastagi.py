"""hagi30: the FastAGI front against hostile or broken peers, over real sockets.

1. A block past ``max_header_bytes`` streamed without end: read no further than
   ``max_header_bytes + SKIP_PAST_LIMIT`` bytes (on main: for the whole header deadline),
   answered BLOCK (Asterisk reads it once its writes give up: res_agi.c ``setup_env``
   ignores ``ast_agi_send``'s result), closed; other calls decided meanwhile.
2. Silent allowed connections: one ``fastagi_bad_headers`` line per kind and minute with
   a count (on main: one line each), the counters counting each.
3. A request with no script path, or no arguments: the reason says what is missing (on
   main: "no FastAGI route ''", and "campaign '' is not configured").

The peer standing for Asterisk is tests/fake_asterisk.py (the recorded Asterisk 22.10.1
block); the streaming one writes as ``ast_carefulwrite`` does (a write given 100 ms, then
given up) from a blocking socket in a thread.
"""

from __future__ import annotations

import asyncio
import socket
import time

import structlog

from callguard.fronts.fastagi import contract as c
from callguard.fronts.fastagi.kindlog import KindLog
from callguard.fronts.fastagi.wire import SKIP_PAST_LIMIT
from tests.asterisk_replica import exec_mset_variables
from tests.fake_asterisk import REPLY_OK, agi_session, asterisk_answer, header_block
from tests.test_fastagi import UT, compliance_records, node

__all__ = ["node"]  # the fixture, from test_fastagi: max_header_bytes 16 KiB, 500 ms

NUMBER = "8015550142"
_BUFFER = 16384  # each socket's buffer in the streaming test (the kernel doubles it)


def _records(node) -> list[dict]:
    path = node.runtime.settings.data_dir / "compliance.jsonl"
    return compliance_records(node) if path.exists() else []


def _stream(port: int, seconds: float) -> tuple[int, bytes, int]:
    """Asterisk's side of an endless block: the recorded block's lines, then one value
    that never ends, each send given 100 ms (``ast_carefulwrite``; setup_env goes on to
    its next line when one fails), the stream given up at a reset, after ten sends given
    up in a row, or after ``seconds``. What the kernel took, what callguard wrote back,
    and the socket's send buffer (sent bytes past callguard's reads sit in the buffers)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, _BUFFER)
    sock.connect(("127.0.0.1", port))
    sndbuf = sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)
    sock.settimeout(0.1)
    sent = 0
    chunk = b"7" * 4096
    try:
        opening = header_block(c.ROUTE_CHECK, [NUMBER, UT])[:-1] + b"agi_arg_6: "
        sock.sendall(opening)
        sent += len(opening)
        end = time.monotonic() + seconds
        stalled = 0
        while time.monotonic() < end and stalled < 10:
            try:
                sent += sock.send(chunk)
                stalled = 0
            except TimeoutError:
                # Each of setup_env's lines gets its 100 ms; ten in a row (a second) and
                # this peer goes on to read, as run_agi would. A loaded loop's pause is
                # shorter: callguard's answer and close come first (a reset).
                stalled += 1
            except OSError:
                break  # reset: callguard closed
        sock.settimeout(3)
        answer = b""
        try:
            while not answer.endswith(b"\n") and (more := sock.recv(4096)):
                answer += more
        except OSError:
            pass
        return sent, answer, sndbuf
    finally:
        sock.close()


async def test_an_endless_block_is_read_no_further_than_64k_past_the_limit(node):
    """At loopback speed the peer was read for the whole header deadline (500 ms here:
    megabytes) and closed unanswered; now reading stops ``SKIP_PAST_LIMIT`` bytes past
    ``max_header_bytes`` (logged, exact), the peer's writes stall (what it got into the
    socket is that plus the buffers), the BLOCK goes out and is read after the close's
    reset, and calls made meanwhile are decided. Fails on main: no answer, no ``skipped``,
    and the peer's bytes run to megabytes."""
    limit = node.settings.max_header_bytes
    listener = node._server.sockets[0]
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _BUFFER)  # accepted inherit
    rcvbuf = listener.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
    with structlog.testing.capture_logs() as logs:
        streaming = asyncio.create_task(asyncio.to_thread(_stream, node.port, 5.0))
        async with asyncio.timeout(5):
            while not node.stats.counts["connections"]:
                await asyncio.sleep(0.001)
        calls = await asyncio.gather(*(agi_session(node.port, c.ROUTE_CHECK, [NUMBER, UT])
                                       for _ in range(3)))
        verdicts = [call.variables.get(c.VAR_VERDICT) for call in calls]
        sent, answer, sndbuf = await streaming
    assert verdicts == ["ALLOW"] * 3  # decided while the peer streamed
    # What the peer got into the socket: callguard's reads, the StreamReader's buffer
    # (asyncio pauses reading past twice the limit, a read past it at most), the buffers.
    assert sent <= limit + SKIP_PAST_LIMIT + 2 * limit + 2 * rcvbuf + sndbuf, (sent, rcvbuf,
                                                                              sndbuf)
    assert answer.startswith(b"EXEC MSet "), answer[:80]
    variables = exec_mset_variables(answer.decode().rstrip("\n"))
    assert (variables[c.VAR_VERDICT], variables[c.VAR_RULE]) == (
        "BLOCK", "callguard:bad-agi-request")
    assert "max_header_bytes" in variables[c.VAR_REASON]
    bad = [e for e in logs if e["event"] == "fastagi_bad_headers"]
    assert [(e["kind"], e["answered"], e["skipped"]) for e in bad] == [
        ("too_large", True, limit + SKIP_PAST_LIMIT)]
    assert "read no further" in bad[0]["reason"]
    counts = node.stats.counts
    assert (counts["header_too_large"], counts["too_large_answered"]) == (1, 1)
    assert counts["allow"] == 3
    assert [r["verdict"] for r in _records(node)] == ["ALLOW"] * 3  # the block's: none


async def test_400_silent_connections_log_one_line_with_a_count(node):
    """400 allowed peers that never send (a broken dialer's, or an attacker's): each
    counted (``header_timeout``), one warning for the kind, and after the minute the
    next line counts what came since. Fails on main: 400 lines."""
    clock = [0.0]
    node._bad_headers = KindLog(structlog.get_logger("callguard.fastagi"),
                                "fastagi_bad_headers", 60.0, clock=lambda: clock[0])
    with structlog.testing.capture_logs() as logs:
        peers = [await asyncio.open_connection("127.0.0.1", node.port) for _ in range(400)]
        async with asyncio.timeout(20):
            while node.stats.counts["header_timeout"] < 400:
                await asyncio.sleep(0.05)
        for _, writer in peers:
            writer.close()
        clock[0] = 61.0
        _, writer = await asyncio.open_connection("127.0.0.1", node.port)
        async with asyncio.timeout(5):
            while node.stats.counts["header_timeout"] < 401:
                await asyncio.sleep(0.05)
        writer.close()
    lines = [(e["kind"], e["count"]) for e in logs if e["event"] == "fastagi_bad_headers"]
    assert lines == [("timeout", 1), ("timeout", 400)]
    counts = node.stats.counts
    assert (counts["bad_headers"], counts["header_timeout"]) == (401, 401)
    assert (await agi_session(node.port, c.ROUTE_CHECK, [NUMBER, UT])).variables[
        c.VAR_VERDICT] == "ALLOW"


def test_kind_log_counts_each_kind_apart():
    """The pure part, on a synthetic clock: a kind's first line at once, the rest of its
    minute counted into its next line; kinds apart."""
    clock = [0.0]
    seen: list[tuple[str, str, int]] = []

    class Logger:
        def warning(self, event, **fields):
            seen.append((event, fields["kind"], fields["count"]))

    log = KindLog(Logger(), "e", 60.0, clock=lambda: clock[0])
    assert [log.note("timeout"), log.note("timeout"), log.note("closed")] == [True, False,
                                                                               True]
    clock[0] = 59.9
    assert log.note("timeout") is False
    clock[0] = 60.0
    assert log.note("timeout") is True
    assert log.note("closed") is True  # 60 s after its first line too
    assert seen == [("e", "timeout", 1), ("e", "closed", 1), ("e", "timeout", 3),
                    ("e", "closed", 1)]


async def _raw_session(port: int, block: bytes) -> dict[str, str]:
    """Send ``block``, answer as a live channel; the variables the channel holds."""
    channel: dict[str, str] = {}
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(block)
        async with asyncio.timeout(5):
            while line := await reader.readline():
                writer.write(asterisk_answer(line.decode().rstrip("\n"), channel, REPLY_OK))
    finally:
        writer.close()
    return channel


async def test_a_url_with_no_script_path_says_the_path_is_missing(node):
    """``AGI(agi://127.0.0.1:4573)``: launch_netscript sends no agi_network_script line
    and the request has no path. Was "no FastAGI route ''"."""
    block = header_block(c.ROUTE_CHECK, [])
    lines = [line for line in block[:-2].split(b"\n")
             if not line.startswith(b"agi_network_script")]
    lines = [b"agi_request: agi://127.0.0.1:4573" if line.startswith(b"agi_request")
             else line for line in lines]
    channel = await _raw_session(node.port, b"\n".join(lines) + b"\n\n")
    assert (channel[c.VAR_VERDICT], channel[c.VAR_RULE]) == ("BLOCK",
                                                             "callguard:unknown-route")
    assert "names no script" in channel[c.VAR_REASON]
    assert f"agi://HOST:PORT/{c.ROUTE_CHECK}" in channel[c.VAR_REASON]
    assert channel[c.OPTOUT_RESULT] == "FAILED"


async def test_a_check_with_no_arguments_says_the_arguments_are_missing(node):
    """``AGI(agi://HOST:4573/callguard)``, the arguments forgotten: BLOCK
    bad-agi-request naming them all, recorded. Was "campaign '' is not configured"
    (unknown-campaign), as if only the campaign were missing."""
    channel = await _raw_session(node.port, header_block(c.ROUTE_CHECK, []))
    assert (channel[c.VAR_VERDICT], channel[c.VAR_RULE]) == ("BLOCK",
                                                             "callguard:bad-agi-request")
    reason = channel[c.VAR_REASON]
    assert "passed no arguments" in reason
    assert "NUMBER,CAMPAIGN,MODE,LINKEDID,LOCATION" in reason
    assert "is not configured" not in reason
    assert [(r["verdict"], r["rule"]) for r in _records(node)] == [
        ("BLOCK", "callguard:bad-agi-request")]


async def test_an_opt_out_with_no_arguments_says_the_arguments_are_missing(node):
    """The opt-out route alike: FAILED, nothing recorded, the missing arguments named."""
    channel = await _raw_session(node.port, header_block(c.ROUTE_OPTOUT, []))
    assert channel[c.OPTOUT_RESULT] == "FAILED"
    assert "passed no arguments" in channel[c.VAR_REASON]
    assert "NUMBER,CAMPAIGN,MODE,LINKEDID" in channel[c.VAR_REASON]
    assert "nothing recorded" in channel[c.VAR_REASON]
