"""hrev146: review of hagi30's FastAGI changes, over real sockets (tests/fake_asterisk.py
stands for Asterisk, replaying the recorded Asterisk 22.10.1 block).

1. ``fastagi_bad_headers`` is one line per kind a minute (hagi30's ``KindLog``), but a
   too-large block answered BLOCK and one closed unanswered are the same kind
   (``too_large``): the answered one's line stood for the unanswered ones of its minute,
   so the log said nothing of the sessions whose dialplan got no answer at all
   ("gave no usable answer"). They are logged apart now.
2. A block past ``max_header_bytes`` the size a real Asterisk can write (its blank line
   well short of ``SKIP_PAST_LIMIT``) is read whole, answered, and closed cleanly (a FIN,
   not hagi30's reset after a capped read): the capped path is for peers that are not
   Asterisk.
"""

from __future__ import annotations

import asyncio

import structlog

from callguard.fronts.fastagi import contract as c
from callguard.fronts.fastagi.kindlog import KindLog
from callguard.fronts.fastagi.wire import SKIP_PAST_LIMIT
from tests.asterisk_replica import exec_mset_variables
from tests.fake_asterisk import agi_session, header_block
from tests.test_fastagi import UT, compliance_records, node

__all__ = ["node"]  # the fixture, from test_fastagi: max_header_bytes 16 KiB, 500 ms

NUMBER = "8015550142"


def _oversized(extra: int, *, ended: bool) -> bytes:
    """The recorded block with one ``extra``-byte line before its blank line (or none)."""
    block = header_block(c.ROUTE_CHECK, [NUMBER, UT, "", "1795326441.70", ""])
    line = b"agi_arg_9: " + b"7" * extra + b"\n"
    return block[:-1] + line + (b"\n" if ended else b"")


async def _send(port: int, block: bytes) -> tuple[bytes, bytes | str]:
    """Send ``block``, read no command back: the first line callguard wrote (b"" if
    none), then what ended the connection (b"" for a FIN, "reset" for an RST)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    first, end = b"", b""
    try:
        writer.write(block)
        async with asyncio.timeout(5):
            try:
                first = await reader.readline()
                end = await reader.read()
            except ConnectionResetError:
                end = "reset"
    finally:
        writer.close()
    return first, end


async def test_a_too_large_block_left_unanswered_is_logged_apart_from_answered_ones(node):
    """An answered too-large block, then (in the same minute) one whose blank line never
    came: two lines, one ``answered`` True, one False. Fails on hagi30: one line (the
    answered one's), the unanswered session unlogged."""
    limit = node.settings.max_header_bytes
    with structlog.testing.capture_logs() as logs:
        answered = await _send(node.port, _oversized(2 * limit, ended=True))
        unanswered = await _send(node.port, _oversized(2 * limit, ended=False))
    assert answered[0].startswith(b"EXEC MSet "), answered
    assert unanswered[0] == b"", unanswered
    lines = [(e["kind"], e["answered"], e["count"]) for e in logs
             if e["event"] == "fastagi_bad_headers"]
    assert lines == [("too_large", True, 1), ("too_large", False, 1)], lines
    counts = node.stats.counts
    assert (counts["header_too_large"], counts["too_large_answered"]) == (2, 1)


async def test_an_asterisk_sized_oversized_block_is_answered_and_closed_cleanly(node):
    """40 KB past the 16 KiB limit, its blank line short of ``SKIP_PAST_LIMIT``: read to
    its end, answered BLOCK bad-agi-request, then a FIN (nothing left unread, so no
    reset), the log's reason without "read no further". Guards the path a real Asterisk
    takes against the cap's reset (passes on hagi30 too)."""
    limit = node.settings.max_header_bytes
    assert limit + SKIP_PAST_LIMIT > 40_000 + 2_000
    with structlog.testing.capture_logs() as logs:
        first, end = await _send(node.port, _oversized(40_000, ended=True))
    assert first.startswith(b"EXEC MSet "), first
    variables = exec_mset_variables(first.decode().rstrip("\n"))
    assert (variables[c.VAR_VERDICT], variables[c.VAR_RULE]) == (
        "BLOCK", "callguard:bad-agi-request")
    assert end == b"", end
    bad = [e for e in logs if e["event"] == "fastagi_bad_headers"]
    assert [(e["kind"], e["answered"]) for e in bad] == [("too_large", True)]
    assert "read no further" not in bad[0]["reason"]
    assert (await agi_session(node.port, c.ROUTE_CHECK, [NUMBER, UT])).variables[
        c.VAR_VERDICT] == "ALLOW"


def test_kind_log_keeps_lines_apart_by_apart():
    """The pure part, on a synthetic clock: one kind, ``apart`` values logged apart, each
    its own minute and count."""
    clock = [0.0]
    seen: list[tuple[str, int, bool]] = []

    class Logger:
        def warning(self, event, **fields):
            seen.append((fields["kind"], fields["count"], fields["answered"]))

    log = KindLog(Logger(), "e", 60.0, clock=lambda: clock[0])
    assert log.note("too_large", apart="answered", answered=True) is True
    assert log.note("too_large", apart="", answered=False) is True
    assert log.note("too_large", apart="", answered=False) is False
    clock[0] = 60.0
    assert log.note("too_large", apart="", answered=False) is True
    assert seen == [("too_large", 1, True), ("too_large", 1, False),
                    ("too_large", 2, False)]


async def test_a_request_with_no_arguments_records_what_it_answers(node):
    """``AGI(agi://HOST:4573/callguard)``, no argument: setup_env writes no
    ``agi_arg_N`` line at all (``for (count = 1; count < argc; count++)``). The record
    holds the verdict, rule and reason Asterisk was told; the opt-out route alike is
    FAILED and records nothing (its reason says so)."""
    from tests.test_hagi30_fastagi import _raw_session

    block = header_block(c.ROUTE_CHECK, [])
    assert b"agi_arg_" not in block
    channel = await _raw_session(node.port, block)
    records = compliance_records(node)
    assert [(r["verdict"], r["rule"], r["reason"]) for r in records] == [
        (channel[c.VAR_VERDICT], channel[c.VAR_RULE], channel[c.VAR_REASON])]
    assert channel[c.VAR_VERDICT] == "BLOCK"
    channel = await _raw_session(node.port, header_block(c.ROUTE_OPTOUT, []))
    assert channel[c.OPTOUT_RESULT] == "FAILED"
    assert "nothing recorded" in channel[c.VAR_REASON]
    assert len(compliance_records(node)) == 1
