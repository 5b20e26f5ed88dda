"""Review of ``[fastagi] ask_liveness`` (hagi22, session 25): the rest of a cut header block
(a blank line inside a dialplan value) can come before the liveness question's reply, so it
is known before the check is decided. It was decided anyway: an ALLOW, on arguments the
value's line breaks may have forged, recorded, sent, then withdrawn by a BLOCK saying the
tail was "seen only after the answer" (and the call placed if the withdrawal is lost). Now
refused before deciding: one BLOCK, nothing allowed or withdrawn. Fake Asterisk
(tests/fake_asterisk.py asterisk_answer), real callguard node (test_fastagi's fixture).
"""

from __future__ import annotations

import asyncio

from callguard.fronts.fastagi import contract as c
from callguard.fronts.fastagi.wire import CHECK_HANGUP
from tests.fake_asterisk import REPLY_OK, asterisk_answer, header_block
from tests.test_fastagi import compliance_records
from tests.test_fastagi22_dead_handler import ARGS, LIVE, node, plain_node

__all__ = ["node", "plain_node"]  # the fixtures


async def test_a_tail_seen_while_asking_is_refused_before_deciding(node) -> None:
    channel = {"CHANNEL(checkhangup)": "0"}
    commands: list[str] = []
    reader, writer = await asyncio.open_connection("127.0.0.1", node.port)
    try:
        writer.write(header_block(c.ROUTE_CHECK, ARGS, source=LIVE))
        async with asyncio.timeout(5):
            while line := await reader.readline():
                command = line.decode().rstrip("\n")
                commands.append(command)
                if command == CHECK_HANGUP:
                    writer.write(b"agi_late: 1\n\n")  # the cut block's rest, then the reply
                writer.write(asterisk_answer(command, channel, REPLY_OK))
    finally:
        writer.close()
    assert commands[0] == CHECK_HANGUP
    assert (channel[c.VAR_VERDICT], channel[c.VAR_RULE]) == ("BLOCK", "callguard:bad-agi-request")
    assert "seen before deciding" in channel[c.VAR_REASON]
    assert [x for x in commands if x.startswith("EXEC MSet")] == [commands[1]]  # one answer
    records = compliance_records(node)
    assert [r["verdict"] for r in records] == ["BLOCK"]
    assert node.stats.counts["allow"] == 0
    assert node.stats.counts["header_cut"] == 1
