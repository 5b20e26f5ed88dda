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
"""

from __future__ import annotations

import asyncio

from callguard.fronts.fastagi import contract as c
from callguard.fronts.fastagi.wire import CHECK_HANGUP
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
