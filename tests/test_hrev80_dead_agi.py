"""hrev80: AGI() run from the ``h`` extension is a check on a channel already hung up.

The lab recording ``agi-deadagi.01-in-h-exten`` (Asterisk 22.10.1, ``exten => h,1,AGI(...)``
after ``Hangup(16)``) shows what Asterisk sends: the usual header block, with
``agi_extension: h``, and no HANGUP line (res_agi.c ``agi_exec`` starts ``agi_exec_full`` in
dead mode, and ``run_agi`` then never reads the channel, so never writes HANGUP); commands
that need a live channel are answered 511, ``EXEC`` and ``GET VARIABLE`` run as usual, and
AGI() ends SUCCESS. No ``Dial()`` can follow on the hung-up channel, yet the check was
decided as a call: an ALLOW on record, counted against the number's call-frequency cap.
The ``h`` extension is run only on a channel being hung up, so ``agi_extension: h`` is the
signal, in what Asterisk already sends: no command added to any session.
"""

from __future__ import annotations

import asyncio

from callguard.fronts.fastagi import contract as c
from tests.asterisk_replica import exec_mset_variables
from tests.fake_asterisk import REPLY_OK, asterisk_answer, header_block
from tests.test_fastagi import UT, compliance_records, node

__all__ = ["node"]  # the fixture, from test_fastagi

DEAD = "agi-deadagi.01-in-h-exten"  # the recorded block: agi_extension h
ARGS = ["8015550123", UT, "", "1795326461.80", ""]


async def _session(port: int, source: str) -> dict[str, str]:
    """One session with ``source``'s recorded header block; the variables set."""
    channel: dict[str, str] = {}
    variables: dict[str, str] = {}
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(header_block(c.ROUTE_CHECK, ARGS, source=source, port=port))
        async with asyncio.timeout(5):
            while line := await reader.readline():
                command = line.decode().rstrip("\n")
                if command.upper().startswith("EXEC MSET"):
                    variables.update(exec_mset_variables(command))
                writer.write(asterisk_answer(command, channel, REPLY_OK))
    finally:
        writer.close()
    return variables


async def test_a_check_from_the_h_extension_is_a_hung_up_block_not_an_allow(node):
    answered = await _session(node.port, DEAD)
    assert (answered[c.VAR_VERDICT], answered[c.VAR_RULE]) == ("BLOCK", "callguard:hung-up")
    assert "h extension" in answered[c.VAR_REASON]
    records = compliance_records(node)
    assert [(r["verdict"], r["rule"]) for r in records] == [("BLOCK", "callguard:hung-up")]
    assert node.stats.counts["allow"] == 0
    assert node.stats.counts["dead_channel"] == 1


async def test_the_same_check_from_a_live_extension_is_decided(node):
    """The control: the recorded live block (``agi_extension: normal``) is decided."""
    answered = await _session(node.port, "agi-normal.01-callguard")
    assert answered[c.VAR_VERDICT] == "ALLOW"
    assert node.stats.counts["dead_channel"] == 0


async def test_an_opt_out_from_the_h_extension_is_still_recorded(node):
    """A do-not-call request made on a call that has ended is still a request (an agent's
    disposition run at hangup): only the check is refused."""
    channel: dict[str, str] = {}
    reader, writer = await asyncio.open_connection("127.0.0.1", node.port)
    try:
        writer.write(header_block(c.ROUTE_OPTOUT, ARGS[:4], source=DEAD, port=node.port))
        async with asyncio.timeout(5):
            while line := await reader.readline():
                writer.write(asterisk_answer(line.decode().rstrip("\n"), channel, REPLY_OK))
    finally:
        writer.close()
    assert channel[c.OPTOUT_RESULT] == "OK"
