"""A withdrawal Asterisk confirmed is confirmed, whatever late reply came before it.

hast17 gives the late-tail withdrawal's reservation back only once ``GET VARIABLE`` reads
back the withdrawing BLOCK's own decision id. ``AgiChannel.confirm`` answered False when
ANY line came before that reply — right for the first answer (a tail line there means
its arguments may be forged), wrong for the BLOCK: the common way to reach it is an
Asterisk slower than ``reply_timeout`` on the ALLOW's MSet. Its late reply is then read
as the BLOCK's, the BLOCK's own reply comes before the read-back, and the read-back —
which only our BLOCK's MSet can have set, run after the ALLOW's on the same channel
(res_agi.c ``run_agi`` runs one socket's commands in order; ``handle_getvariable``) —
was discarded: the count stayed (a lawful capped call refused, 501.616(6)(b)), and the
log told the compliance officer "the ALLOW may stand on the channel and be dialled" for
a call Asterisk had confirmed BLOCKed.

Over real sockets, Asterisk's side played as in ``test_asterisk16_withdrawn``.
"""

from __future__ import annotations

import asyncio

import structlog

from callguard.fronts.fastagi import contract as c
from tests.asterisk_replica import exec_mset_variables
from tests.fake_asterisk import REPLY_OK, asterisk_answer, header_block
from tests.test_asterisk16_withdrawn import (
    FLORIDA,
    UT,
    node,  # noqa: F401 - the fixture
    verdicts_of_three_more,
)
from tests.test_fastagi import compliance_records


async def slow_first_reply(node, delay: float) -> list[str]:  # noqa: F811
    """Asterisk answers the first MSet ``delay`` s late (past reply_timeout, 500 ms),
    every later command at once, in order, as Asterisk would."""
    reader, writer = await asyncio.open_connection("127.0.0.1", node.port)
    commands: list[str] = []
    channel: dict[str, str] = {}
    try:
        writer.write(header_block(c.ROUTE_CHECK, [FLORIDA, UT], port=node.port))
        await writer.drain()
        while line := await asyncio.wait_for(reader.readline(), timeout=3):
            command = line.decode().rstrip("\n")
            commands.append(command)
            if len(commands) == 1:
                assert exec_mset_variables(command)[c.VAR_VERDICT] == "ALLOW"
                await asyncio.sleep(delay)
            writer.write(asterisk_answer(command, channel, REPLY_OK))
            await writer.drain()
    finally:
        writer.close()
    await asyncio.sleep(0.1)
    assert channel[c.VAR_VERDICT] == "BLOCK"  # Asterisk holds the withdrawing BLOCK
    return commands


async def test_a_block_read_back_after_a_late_reply_gives_back(node):  # noqa: F811
    with structlog.testing.capture_logs() as logs:
        commands = await slow_first_reply(node, 0.7)
    allow, block = compliance_records(node)[-2:]
    assert block["withdraws"] == allow["decision_id"]
    assert commands[-1] == f"GET VARIABLE {c.VAR_DECISION_ID}"
    assert exec_mset_variables(commands[-2])[c.VAR_DECISION_ID] == block["decision_id"]
    assert node.stats.counts["cap_kept_unconfirmed"] == 0
    assert node.stats.counts["cap_released"] == 1
    assert not [e for e in logs if e["event"] == "fastagi_withdrawal_unconfirmed"]
    assert node._answering == {}
    assert await verdicts_of_three_more(node) == ["ALLOW"] * 3
