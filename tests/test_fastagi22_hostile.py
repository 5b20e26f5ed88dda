"""hagi22: hostile FastAGI peers the earlier tests did not name.

Each over a real socket against the node of tests/test_fastagi.py, the header block the
recorded Asterisk 22.10.1 one (tests/fake_asterisk.py) with the hostile part put in; a real
call is served after each. Asterisk itself never writes these (res_agi.c ``setup_env``
writes each value with ``%s``, so no NUL; ``launch_netscript`` takes the script from the URL
as written, percent signs and all): they come from a peer inside ``allowed_sources`` that
is not Asterisk, or a dialplan value gone wrong.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace

import pytest

from callguard.fronts.fastagi import contract as c
from callguard.fronts.fastagi.wire import CHECK_HANGUP
from tests.asterisk_replica import exec_mset_variables
from tests.fake_asterisk import REPLY_OK, asterisk_answer, header_block
from tests.test_fastagi import UT, compliance_records, node, real_call_latency

__all__ = ["node"]  # the fixture, from test_fastagi


@pytest.fixture
def asking_node(node):
    """test_fastagi's node with ``[fastagi] ask_liveness = true``."""
    node.settings = replace(node.settings, ask_liveness=True)
    return node


async def _answered(port: int, block: bytes) -> tuple[list[str], dict[str, str]]:
    """Send ``block``, answer every command as a live channel; commands and variables."""
    channel: dict[str, str] = {}
    commands: list[str] = []
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(block)
        async with asyncio.timeout(5):
            while line := await reader.readline():
                commands.append(line.decode().rstrip("\n"))
                writer.write(asterisk_answer(commands[-1], channel, REPLY_OK))
    finally:
        writer.close()
    return commands, channel


async def test_a_nul_inside_the_number_is_a_recorded_block_named(node):
    """``8015550123\\0`` (``strtol``-style readers stop at the NUL and see a clean number):
    refused as a control character, named, the number not quoted; recorded BLOCK."""
    commands, channel = await _answered(
        node.port, header_block(c.ROUTE_CHECK, ["8015550123\x00", UT]))
    assert CHECK_HANGUP not in commands  # refused before anything is asked
    assert (channel[c.VAR_VERDICT], channel[c.VAR_RULE]) == (
        "BLOCK", "callguard:bad-agi-request")
    assert "U+0000" in channel[c.VAR_REASON]
    assert "8015550123" not in channel[c.VAR_REASON]
    assert compliance_records(node)[-1]["verdict"] == "BLOCK"
    assert node.stats.counts["allow"] == 0


async def test_a_percent_escaped_route_is_no_route(node):
    """``callguard%2Doptout`` (a URL-encoding dialer template): Asterisk sends the script as
    written, callguard does not decode it; no route, so BLOCK and opt-out FAILED, both
    routes named, nothing decided or recorded as an opt-out."""
    commands, channel = await _answered(
        node.port, header_block("callguard%2Doptout", ["8015550123", UT, "", "1.1"]))
    assert CHECK_HANGUP not in commands
    assert channel[c.VAR_RULE] == "callguard:unknown-route"
    assert channel[c.OPTOUT_RESULT] == "FAILED"
    assert "callguard-optout" in channel[c.VAR_REASON]
    assert node.stats.counts["optout"] == 0
    assert node.stats.counts["allow"] == 0


async def test_a_liveness_reply_dripped_a_byte_at_a_time_is_bounded(asking_node):
    """Slowloris on the new question: its reply trickles in, a byte every 200 ms. The wait
    is ``reply_timeout`` (2 s), then the call is BLOCKed (not decided: callguard could not
    tell whether the channel is live), the session ends, and a real call meanwhile is
    served at its usual speed (``[fastagi] ask_liveness = true``)."""
    node = asking_node
    started = time.perf_counter()
    reader, writer = await asyncio.open_connection("127.0.0.1", node.port)
    channel: dict[str, str] = {}
    commands: list[str] = []

    async def drip() -> None:
        for byte in b"200 result=1 (0)\n":  # 17 bytes: whole only after 3.4 s
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(0.2)

    try:
        writer.write(header_block(c.ROUTE_CHECK, ["8015550123", UT]))
        first = (await asyncio.wait_for(reader.readline(), 2)).decode().rstrip("\n")
        assert first == CHECK_HANGUP
        dripping = asyncio.ensure_future(drip())
        latency = await real_call_latency(node.port)
        async with asyncio.timeout(15):
            while line := await reader.readline():
                commands.append(line.decode().rstrip("\n"))
                await dripping  # then answer as Asterisk would, in order
                writer.write(asterisk_answer(commands[-1], channel, REPLY_OK))
    finally:
        writer.close()
    assert latency < 0.5
    assert time.perf_counter() - started < 12
    msets = [exec_mset_variables(m) for m in commands if m.startswith("EXEC MSet ")]
    assert msets, commands
    assert all(m[c.VAR_VERDICT] == "BLOCK" for m in msets), msets
    assert "func_channel" in msets[0][c.VAR_REASON]
    assert node.stats.counts["liveness_unknown"] == 1
    assert node.stats.counts["allow"] == 1  # the real call only
