"""hrev134: review of hagi26's oversized FastAGI header block, the cases its tests left.

``wire._skip_block`` reads past a block larger than ``max_header_bytes`` to its blank
line, within the header deadline, and the server answers BLOCK. res_agi.c ``setup_env``
writes the block line by line with ``ast_agi_send`` (each line ``"...: %s\\n"``, then
``ast_agi_send(fd, chan, "\\n")``): the blank line's two LFs are two writes, so they can
come in two reads, the first LF at the end of one and the second alone in the next.
hagi26's probes wrote each block in one write. A peer that streams for ever (no blank
line, never silent) must still be cut at the header deadline, which a 100 kB block then
silence did not show apart from a per-read bound.

Over real sockets; the block is the recorded Asterisk 22.10.1 one (tests/fake_asterisk.py)
with an oversized line put in, as a dialplan value that long would put it.
"""

from __future__ import annotations

import asyncio

from callguard.fronts.fastagi import contract as c
from tests.asterisk_replica import exec_mset_variables
from tests.fake_asterisk import agi_session, header_block
from tests.test_fastagi import UT, compliance_records, node

__all__ = ["node"]  # the fixture, from test_fastagi: max_header_bytes 16 KiB, 500 ms

NUMBER = "8015550142"


def _oversized() -> bytes:
    """A block past 16 KiB, without its final blank line's second LF."""
    block = header_block(c.ROUTE_CHECK, [NUMBER, UT, "", "1795326441.70", ""])
    return block[:-1] + b"agi_arg_9: " + b"7" * 40_000 + b"\n"


async def _others_go_on(node) -> None:
    result = await agi_session(node.port, c.ROUTE_CHECK, [NUMBER, UT])
    assert result.variables[c.VAR_VERDICT] == "ALLOW"


async def test_an_oversized_blocks_blank_line_split_across_two_reads_is_answered(node):
    """The block's last line's LF ends one read, the blank line's LF comes alone 100 ms
    later (``setup_env``'s last ``ast_agi_send``): the end is seen across the two reads,
    and the BLOCK with the reason goes out. Fails if the byte before a read is not
    carried to the next (the session waits for an end it already had, and is closed
    unanswered at the deadline)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", node.port)
    try:
        writer.write(_oversized())
        await writer.drain()
        await asyncio.sleep(0.1)
        writer.write(b"\n")
        await writer.drain()
        async with asyncio.timeout(3):
            line = await reader.readline()
    finally:
        writer.close()
    assert line.startswith(b"EXEC MSet "), line
    answer = exec_mset_variables(line.decode().rstrip("\n"))
    assert (answer[c.VAR_VERDICT], answer[c.VAR_RULE]) == ("BLOCK",
                                                           "callguard:bad-agi-request")
    assert "max_header_bytes" in answer[c.VAR_REASON]
    counts = node.stats.counts
    assert (counts["header_too_large"], counts["too_large_answered"]) == (1, 1)
    assert not (node.runtime.settings.data_dir / "compliance.jsonl").exists() or (
        compliance_records(node) == [])
    await _others_go_on(node)


async def test_an_oversized_block_streamed_for_ever_is_cut_at_the_header_deadline(node):
    """A peer that never stops sending (never a blank line) is not read past for ever: the
    header deadline (500 ms here) counts from the session's start, whatever keeps
    coming; closed unanswered, nothing recorded. Fails with a bound per read instead of
    one deadline (each read gets bytes in time, so the skip never ends)."""
    loop = asyncio.get_running_loop()
    _, writer = await asyncio.open_connection("127.0.0.1", node.port)
    started = loop.time()
    sent = 0
    # About 80 kB/s (hagi30): a faster stream meets SKIP_PAST_LIMIT before the deadline.
    line = b"agi_x: " + b"7" * 2000 + b"\n"
    try:
        writer.write(header_block(c.ROUTE_CHECK, [NUMBER, UT])[:-1])
        async with asyncio.timeout(5):
            while not node.stats.counts["header_too_large"]:
                writer.write(line)
                await writer.drain()
                sent += len(line)
                await asyncio.sleep(0.025)
    except (ConnectionError, OSError):
        pass  # the server closed (a reset: its receive buffer held unread bytes)
    finally:
        writer.transport.abort()
    elapsed = loop.time() - started
    assert 0.4 < elapsed < 2, elapsed
    assert sent > 20_000, sent  # it streamed all the while, past the 16 KiB limit
    counts = node.stats.counts
    assert (counts["header_too_large"], counts["too_large_answered"]) == (1, 0)
    assert counts["reply_failed"] == 0
    assert not (node.runtime.settings.data_dir / "compliance.jsonl").exists() or (
        compliance_records(node) == [])
    await _others_go_on(node)
