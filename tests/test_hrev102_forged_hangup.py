"""Review of hagi23 (session 26): "a HANGUP line is believed only on close or with no cut
block around it". While callguard asks whether the channel is live (``ask_liveness``), the
rest of a cut header block can come before the question's reply (``AgiChannel.tail_seen``);
a "HANGUP" line inside that tail is a dialplan value's own line (a blank line, then
"HANGUP", inside the value), not Asterisk's: res_agi.c ``setup_env`` writes the whole
block before ``run_agi`` reads a command, and ``run_agi`` writes its HANGUP only after,
once ``ast_read`` found the channel gone. It was believed when the block's arguments were
not refused: the live channel recorded ``callguard:hung-up``. Now refused as any tail seen
before deciding (``bad-agi-request``). Fake Asterisk (tests/fake_asterisk.py
asterisk_answer), real callguard node (test_fastagi's fixture).

Also here: the write limit (hagi23 ``send_bounded``) does not abort a healthy Asterisk
that is slow to read (its thread busy): the kernel takes a few-hundred-byte command at once
(the peer's receive buffer holds it, TCP acknowledges it), so nothing waits on the limit.
"""

from __future__ import annotations

import asyncio

import pytest

from callguard.fronts.fastagi import contract as c
from callguard.fronts.fastagi.wire import CHECK_HANGUP, bound_writes, send_bounded
from tests.fake_asterisk import REPLY_OK, asterisk_answer, header_block
from tests.test_fastagi import compliance_records
from tests.test_fastagi22_dead_handler import ARGS, LIVE, node, plain_node

__all__ = ["node", "plain_node"]  # the fixtures


async def test_a_hangup_line_inside_a_late_tail_is_not_believed(node) -> None:
    channel = {"CHANNEL(checkhangup)": "0"}  # the channel is live
    commands: list[str] = []
    reader, writer = await asyncio.open_connection("127.0.0.1", node.port)
    try:
        writer.write(header_block(c.ROUTE_CHECK, ARGS, source=LIVE))
        async with asyncio.timeout(5):
            while line := await reader.readline():
                command = line.decode().rstrip("\n")
                commands.append(command)
                if command == CHECK_HANGUP:  # the cut block's rest, a forged HANGUP in it
                    writer.write(b"agi_late: 1\nHANGUP\nagi_more: 2\n\n")
                writer.write(asterisk_answer(command, channel, REPLY_OK))
    finally:
        writer.close()
    assert commands[0] == CHECK_HANGUP
    assert (channel[c.VAR_VERDICT], channel[c.VAR_RULE]) == ("BLOCK", "callguard:bad-agi-request")
    assert "seen before deciding" in channel[c.VAR_REASON]
    records = compliance_records(node)
    assert [(r["verdict"], r["rule"]) for r in records] == [("BLOCK", "callguard:bad-agi-request")]
    assert node.stats.counts["hung_up"] == 0
    assert node.stats.counts["header_cut"] == 1


@pytest.mark.xfail(strict=True, reason=(
    "known gap left by hrev102: a lone HANGUP after the block is believed after "
    "_GONE_SETTLE (0.1 s); waiting to the header deadline instead fails "
    "test_mut15_fastagi_hungup's 'hung up at once' (a design choice, not weakened here); "
    "a fix needs a probe command answered after the block (TCP order) - for the lead"))
async def test_a_hangup_line_cut_from_the_rest_of_its_block_is_not_believed(plain_node) -> None:
    """The same forgery at the header block: a value holding a blank line and "HANGUP"
    (a caller's text in ``agi_arg_2``), the rest of the block a few tenths of a second
    later (res_agi.c ``setup_env`` writes it line by line with ``ast_agi_send``; Asterisk's
    thread on a loaded box can be descheduled between two lines). The lone HANGUP is
    believed after 0.1 s (``_GONE_SETTLE``): the live channel is recorded hung up and
    nothing is answered (no MSet: the dialplan's 'unanswered' branch, no Dial() - fail
    closed, but the record names the wrong cause and header_cut is not counted).
    Shown on main: recorded [('BLOCK', 'callguard:hung-up')], no command sent."""
    args = list(ARGS)
    args[1] = args[1] + "\n\nHANGUP"
    head, rest = header_block(c.ROUTE_CHECK, args, source=LIVE).split(b"HANGUP\n", 1)
    channel: dict[str, str] = {}
    commands: list[str] = []
    reader, writer = await asyncio.open_connection("127.0.0.1", plain_node.port)
    try:
        writer.write(head + b"HANGUP\n")
        await writer.drain()
        await asyncio.sleep(0.3)  # the rest of the block, a scheduling delay later
        writer.write(rest)
        async with asyncio.timeout(5):
            while line := await reader.readline():
                commands.append(line.decode().rstrip("\n"))
                writer.write(asterisk_answer(commands[-1], channel, REPLY_OK))
    finally:
        writer.close()
    assert (channel.get(c.VAR_VERDICT), channel.get(c.VAR_RULE)) == (
        "BLOCK", "callguard:bad-agi-request"), commands
    records = compliance_records(plain_node)
    assert [(r["verdict"], r["rule"]) for r in records] == [("BLOCK", "callguard:bad-agi-request")]
    assert plain_node.stats.counts["hung_up"] == 0
    assert plain_node.stats.counts["header_cut"] == 1


async def test_a_peer_slow_to_read_does_not_trip_the_write_limit() -> None:
    """A real loopback pair, default buffers; the peer reads nothing for five times the
    limit while callguard writes each command an AGI session writes (liveness question,
    answer MSet, read-back, a withdrawing MSet, its read-back): none is aborted, and the
    peer then reads every byte, in order."""
    mset = 'EXEC MSet "CALLGUARD_VERDICT=ALLOW,CALLGUARD_REASON=' + "x" * 300 + '"'
    lines = [CHECK_HANGUP, mset, "GET VARIABLE CALLGUARD_DECISION_ID", mset,
             "GET VARIABLE CALLGUARD_DECISION_ID"]
    sent = b"".join(line.encode() + b"\n" for line in lines)
    release = asyncio.Event()
    got: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    async def slow_peer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await release.wait()  # Asterisk's thread busy elsewhere
        got.set_result(await reader.readexactly(len(sent)))
        writer.close()

    server = await asyncio.start_server(slow_peer, "127.0.0.1", 0)
    _, writer = await asyncio.open_connection("127.0.0.1", server.sockets[0].getsockname()[1])
    bound_writes(writer)
    try:
        for line in lines:
            await send_bounded(writer, line.encode() + b"\n", 0.05)
            await asyncio.sleep(0.05)  # five limits pass, the peer reading nothing
        assert not writer.transport.is_closing()
        release.set()
        async with asyncio.timeout(5):
            assert await got == sent
    finally:
        writer.close()
        server.close()
