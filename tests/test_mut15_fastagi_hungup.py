"""Mutation-testing gaps in the FastAGI hung-up detection (hmut15).

Each test here failed on one hand-made mutant of ``fronts/fastagi/server.py`` or
``wire.py`` that every other test let pass:

- a HANGUP read while a BLOCK is answered must not add a second, withdrawing BLOCK (only
  an ALLOW is withdrawn: the BLOCK already says "call not placed");
- the hung-up BLOCK is counted as a block (``callguard_decisions``), and its reason says
  which of the two cases it was (before the answer, or withdrawing one);
- a ``HANGUP`` line cut between two reads is still Asterisk's HANGUP, not the tail of a
  cut block (``_cut_tail``'s "read its end" loop);
- a lone ``HANGUP`` with no close (AGIEXITONHANGUP=no: ``run_agi`` writes it and goes on
  reading commands) is a hung-up session at once, not after the header timeout;
- a peer that closes after part of a HANGUP line ends the session (the loop must not spin
  on an EOF: ``StreamReader.read`` at EOF returns without yielding).

Real sockets against the ``node`` fixture of ``test_fastagi``; the spinning case is a pure
``read_headers`` run in a child process that is killed if it does not return.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from dataclasses import replace

import pytest

from callguard.fronts.fastagi import contract as c
from tests.fake_asterisk import header_block
from tests.test_fastagi import UT, compliance_records, node

__all__ = ["node"]  # the fixture, from test_fastagi


async def _answer_then_hangup(port: int, number: str) -> bytes:
    """Send a check's block, wait for callguard's ``EXEC MSet``, then answer it as a channel
    that just hung up does with AGIEXITONHANGUP (HANGUP, HANGUP, close): the MSet line."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(header_block(c.ROUTE_CHECK, [number, UT]))
        await writer.drain()
        command = await asyncio.wait_for(reader.readline(), timeout=2)
        writer.write(b"HANGUP\nHANGUP\n")
        writer.write_eof()
        await asyncio.wait_for(reader.read(), timeout=2)
        return command
    finally:
        writer.close()


async def test_a_hangup_while_a_block_is_answered_adds_no_second_block(node):
    """Only an ALLOW is withdrawn: a BLOCK whose channel went stays the one record."""
    command = await _answer_then_hangup(node.port, "8015550199")
    assert b"CALLGUARD_VERDICT=BLOCK" in command
    await asyncio.sleep(0.1)
    records = compliance_records(node)
    assert len(records) == 1, records
    assert records[0]["rule"] == "us-federal:64.1200(c)(2)"
    assert node.stats.counts["hung_up"] == 0
    assert node.stats.counts["withdrawn"] == 0


async def test_a_hangup_after_an_allow_is_sent_withdraws_it_and_counts_a_block(node):
    """The HANGUP comes as the reply to the ALLOW's MSet: withdrawn, counted once as a
    BLOCK, with the reason that says the answer is withdrawn."""
    command = await _answer_then_hangup(node.port, "8015550123")
    assert b"CALLGUARD_VERDICT=ALLOW" in command
    await asyncio.sleep(0.1)
    allow, block = compliance_records(node)[-2:]
    assert block["rule"] == "callguard:hung-up"
    assert block["withdraws"] == allow["decision_id"]
    assert "withdrawn" in block["reason"]
    assert "before callguard answered" not in block["reason"]
    assert node.stats.counts["block"] == 1
    assert node.stats.counts["allow"] == 1


async def _session(port: int, *parts: bytes, close: bool = True,
                   pause: float = 0.05) -> bytes:
    """Write ``parts`` as separate segments (``pause`` apart; asyncio sets TCP_NODELAY),
    close our side if ``close``, and return what callguard wrote before it closed."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for i, part in enumerate(parts):
            if i:
                await asyncio.sleep(pause)
            writer.write(part)
            await writer.drain()
        if close:
            writer.write_eof()
        return await asyncio.wait_for(reader.read(), timeout=3)
    finally:
        writer.close()


async def test_a_hung_up_check_counts_a_block_and_says_before_the_answer(node):
    sent = await _session(node.port, header_block(c.ROUTE_CHECK, ["8015550123", UT])
                          + b"HANGUP\nHANGUP\n")
    assert sent == b""
    record = compliance_records(node)[-1]
    assert record["rule"] == "callguard:hung-up"
    assert "before callguard answered" in record["reason"]
    assert "withdrawn" not in record["reason"]
    assert record.get("withdraws") is None
    assert node.stats.counts["block"] == 1
    assert node.stats.counts["withdrawn"] == 0


async def test_a_hangup_line_cut_between_two_reads_is_still_a_hangup(node):
    """``HANG`` in the block's segment, ``UP`` in the next: no cut block (that would be a
    BLOCK ``bad-agi-request`` answered to a closed channel), a hung-up session."""
    sent = await _session(node.port,
                          header_block(c.ROUTE_CHECK, ["8015550123", UT]) + b"HANG",
                          b"UP\nHANGUP\n")
    assert sent == b""
    assert compliance_records(node)[-1]["rule"] == "callguard:hung-up"
    assert node.stats.counts["header_cut"] == 0
    assert node.stats.counts["hung_up"] == 1


@pytest.mark.parametrize("hangups", [1, 2])
async def test_hangup_lines_without_close_are_hung_up_at_once(node, hangups):
    """AGIEXITONHANGUP=no, AGISIGHUP=yes: ``run_agi`` writes one HANGUP and keeps reading
    commands, the socket open (two: AGIEXITONHANGUP=yes, its close not yet read). No wait
    for more bytes up to the header timeout (2 s here): recorded at once, nothing sent,
    and callguard closes."""
    node.settings = replace(node.settings, header_timeout_ms=2000)
    started = time.perf_counter()
    sent = await _session(node.port, header_block(c.ROUTE_CHECK, ["8015550123", UT])
                          + b"HANGUP\n" * hangups, close=False)
    elapsed = time.perf_counter() - started
    assert sent == b""
    assert compliance_records(node)[-1]["rule"] == "callguard:hung-up"
    assert elapsed < 1.0, elapsed


def test_a_close_inside_a_hangup_line_does_not_spin():
    """Block, ``HANG``, EOF: ``read_headers`` returns (a cut block: AmbiguousHeaders). A
    loop that waited for the line's end on an EOF would spin without yielding, taking the
    whole server with it: run in a child process, killed if it does not return."""
    block = header_block(c.ROUTE_CHECK, ["8015550123", UT])
    code = (
        "import asyncio\n"
        "from callguard.fronts.fastagi.wire import AmbiguousHeaders, read_headers\n"
        "async def main():\n"
        "    reader = asyncio.StreamReader()\n"
        f"    reader.feed_data({block + b'HANG'!r})\n"
        "    reader.feed_eof()\n"
        "    try:\n"
        "        await read_headers(reader, 0.5)\n"
        "    except AmbiguousHeaders as exc:\n"
        "        print(exc.kind)\n"
        "asyncio.run(main())\n"
    )
    done = subprocess.run([sys.executable, "-c", code], timeout=10, check=True,
                          capture_output=True, text=True)
    assert done.stdout.strip() == "cut"
