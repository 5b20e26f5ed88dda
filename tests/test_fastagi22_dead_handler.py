"""hagi22: a check run on a hung-up channel outside the ``h`` extension is not decided.

hrev80 made a check from the ``h`` extension a recorded BLOCK ``callguard:hung-up``, reading
``agi_extension: h``. A hangup handler (``Set(CHANNEL(hangup_handler_push)=ctx,s,1)``) or a
Gosub reached from ``h`` runs in its own context and extension, so the same check was decided
as a live call: an ALLOW on record, counted against the number's call-frequency cap, for a
call no Dial() can place.

What Asterisk 22 does there (read in its source): main/pbx_hangup_handler.c
``ast_pbx_hangup_handler_run`` marks the channel hung up (``ast_softhangup_nolock(chan,
AST_SOFTHANGUP_HANGUP_EXEC)``) before it runs the handlers; res_agi.c ``agi_exec`` then starts
``agi_exec_full`` in dead mode (``ast_check_hangup(chan)``), and ``run_agi`` never reads the
channel, so no ``HANGUP`` line is written. ``setup_env`` writes the same header block as on a
live channel (nothing in it says dead). ``agi_handle_command`` answers 511 to a command not
dead-safe (``CHANNEL STATUS``, ``ANSWER``) and runs the dead-safe ones (``GET VARIABLE``,
``SET VARIABLE``, ``EXEC``: the command table's dead column) — so the answer code of callguard's
own ``EXEC MSet`` or a ``SET VARIABLE`` says nothing. callguard now asks, before deciding,
``GET VARIABLE CHANNEL(checkhangup)``: ``handle_getvariable`` reads a name ending in ``)``
with ``ast_func_read``, and func_channel.c answers ``ast_check_hangup(chan) ? "1" : "0"``.

The fake Asterisk below answers as ``agi_handle_command`` does in dead mode (511 for a command
not dead-safe, the lab's reply text from agi-deadagi); its header block is the recorded
agi-deadagi block with the handler's context, extension and priority in place of ``h``'s.

The question is asked with ``[fastagi] ask_liveness = true`` (off by default this session:
a round trip more on every check, and the tests that script Asterisk by hand still expect
the answer as the first command); the last test shows that off, nothing changes.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from callguard.fronts.fastagi import contract as c
from callguard.fronts.fastagi.wire import CHECK_HANGUP
from tests.asterisk_replica import exec_mset_variables
from tests.fake_asterisk import REPLY_OK, asterisk_answer, header_block
from tests.test_fastagi import UT, compliance_records
from tests.test_fastagi import node as plain_node

__all__ = ["plain_node"]  # the fixture, from test_fastagi


@pytest.fixture
def node(plain_node):
    """test_fastagi's node with ``[fastagi] ask_liveness = true``."""
    plain_node.settings = replace(plain_node.settings, ask_liveness=True)
    return plain_node

DEAD = "agi-deadagi.01-in-h-exten"
LIVE = "agi-normal.01-callguard"
ARGS = ["8015550123", UT, "", "1795326461.80", ""]
# res_agi.c command table, dead column 1 (lab agi-deadagi: GET VARIABLE, GET FULL VARIABLE,
# SET VARIABLE answered 200; CHANNEL STATUS, ANSWER answered 511).
DEAD_SAFE = ("GET VARIABLE", "GET FULL VARIABLE", "SET VARIABLE", "EXEC", "NOOP", "VERBOSE")
REPLY_511 = b"511 Command Not Permitted on a dead channel or intercept routine\n"


def handler_block(context: str, extension: str, priority: str) -> bytes:
    """The recorded dead-mode block, as a hangup handler or a Gosub from h would have it."""
    block = header_block(c.ROUTE_CHECK, ARGS, source=DEAD)
    recorded = b"agi_context: agi-dead\nagi_extension: h\nagi_priority: 1\n"
    assert recorded in block
    return block.replace(recorded, (f"agi_context: {context}\nagi_extension: {extension}\n"
                                    f"agi_priority: {priority}\n").encode())


def dead_mode(command: str, channel: dict[str, str]) -> bytes:
    """res_agi.c ``agi_handle_command`` with ``dead`` set."""
    if not command.upper().startswith(DEAD_SAFE):
        return REPLY_511
    return asterisk_answer(command, channel, REPLY_OK)


async def session(port: int, block: bytes, *, dead: bool,
                  probe_reply: bytes | None = None) -> tuple[list[str], dict[str, str]]:
    """Run one session; the commands callguard sent and the variables the channel holds.
    ``probe_reply``: what Asterisk answers to the liveness question instead."""
    channel = {"CHANNEL(checkhangup)": "1" if dead else "0"}
    commands: list[str] = []
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(block)
        async with asyncio.timeout(5):
            while line := await reader.readline():
                command = line.decode().rstrip("\n")
                commands.append(command)
                if command == CHECK_HANGUP and probe_reply is not None:
                    writer.write(probe_reply)
                elif dead:
                    writer.write(dead_mode(command, channel))
                else:
                    writer.write(asterisk_answer(command, channel, REPLY_OK))
    finally:
        writer.close()
    return commands, channel


HANDLERS = {
    # Set(CHANNEL(hangup_handler_push)=callguard-hangup,s,1) before Dial().
    "hangup handler": ("callguard-hangup", "s", "1"),
    # exten => h,1,Gosub(callguard-after,s,1)
    "gosub from h": ("callguard-after", "s", "2"),
}


async def _dead_check(node, how: str) -> None:
    commands, channel = await session(node.port, handler_block(*HANDLERS[how]), dead=True)
    assert (channel[c.VAR_VERDICT], channel[c.VAR_RULE]) == ("BLOCK", "callguard:hung-up")
    assert commands[0] == CHECK_HANGUP, commands
    assert "hung up" in channel[c.VAR_REASON]
    records = compliance_records(node)
    assert [(r["verdict"], r["rule"]) for r in records] == [("BLOCK", "callguard:hung-up")]
    assert "checkhangup" in records[0]["reason"]
    assert node.stats.counts["allow"] == 0
    assert node.stats.counts["dead_channel"] == 1


async def test_a_check_from_a_hangup_handler_is_a_hung_up_block(node):
    await _dead_check(node, "hangup handler")


async def test_a_check_from_a_gosub_reached_from_h_is_a_hung_up_block(node):
    await _dead_check(node, "gosub from h")


async def test_a_live_channel_is_asked_once_and_decided_as_before(node):
    """The control: the recorded live block, CHANNEL(checkhangup) 0: decided ALLOW, one
    question before the answer, then the answer and its read-back as before."""
    block = header_block(c.ROUTE_CHECK, ARGS, source=LIVE)
    commands, channel = await session(node.port, block, dead=False)
    assert channel[c.VAR_VERDICT] == "ALLOW", channel
    assert commands[0] == CHECK_HANGUP
    assert commands[1].startswith("EXEC MSet ")
    assert commands[2] == f"GET VARIABLE {c.VAR_DECISION_ID}"
    assert len(commands) == 3, commands
    assert node.stats.counts["dead_channel"] == 0


async def test_the_h_extension_is_not_asked(node):
    """``agi_extension: h`` says it already: no round trip (hrev80's reason stands)."""
    commands, channel = await session(node.port, header_block(c.ROUTE_CHECK, ARGS,
                                                              source=DEAD), dead=True)
    assert CHECK_HANGUP not in commands
    assert channel[c.VAR_RULE] == "callguard:hung-up"
    assert "h extension" in channel[c.VAR_REASON]


async def test_an_unreadable_answer_blocks_naming_func_channel(node):
    """``200 result=0``: ``ast_func_read`` failed (func_channel not loaded): callguard cannot
    tell, so the call is BLOCKed with the way out, never decided."""
    block = header_block(c.ROUTE_CHECK, ARGS, source=LIVE)
    _, channel = await session(node.port, block, dead=False, probe_reply=b"200 result=0\n")
    assert (channel[c.VAR_VERDICT], channel[c.VAR_RULE]) == (
        "BLOCK", "callguard:bad-agi-request")
    assert "func_channel" in channel[c.VAR_REASON]
    assert node.stats.counts["allow"] == 0
    assert compliance_records(node)[-1]["verdict"] == "BLOCK"


async def test_asterisks_hangup_and_close_while_asked_is_a_recorded_hangup(node):
    """The caller gives up as callguard asks (AGIEXITONHANGUP: HANGUP, HANGUP, then EOF,
    lab agi-callerhangup-exitonhangup): the question is never answered; recorded BLOCK
    hung-up, nothing more sent."""
    reader, writer = await asyncio.open_connection("127.0.0.1", node.port)
    try:
        writer.write(header_block(c.ROUTE_CHECK, ARGS, source=LIVE))
        assert (await asyncio.wait_for(reader.readline(), 2)).decode().rstrip() == CHECK_HANGUP
        writer.write(b"HANGUP\nHANGUP\n")
        writer.write_eof()
        assert await asyncio.wait_for(reader.read(), timeout=2) == b""
    finally:
        writer.close()
    await asyncio.sleep(0.05)
    records = compliance_records(node)
    assert [(r["verdict"], r["rule"]) for r in records] == [("BLOCK", "callguard:hung-up")]
    assert node.stats.counts["allow"] == 0
    assert node.stats.counts["hung_up"] == 1


async def test_the_answer_of_set_variable_does_not_tell_dead_from_live():
    """Why a question is asked, not an answer code read: in dead mode the answer and its
    read-back run as on a live channel (dead-safe), so nothing callguard already sent
    tells the two apart."""
    channel = {"CHANNEL(checkhangup)": "1"}
    assert dead_mode('EXEC MSet "A=1"', channel) == REPLY_OK
    assert dead_mode("SET VARIABLE A 1", channel) == REPLY_OK
    assert dead_mode("GET VARIABLE A", channel) == b"200 result=1 (1)\n"
    assert dead_mode("CHANNEL STATUS", channel) == REPLY_511
    assert exec_mset_variables('EXEC MSet "A=1"') == {"A": "1"}


async def test_without_ask_liveness_nothing_is_asked(plain_node):
    """The default: no question, the session as before (the hangup handler's check is
    still decided: the gap this setting closes)."""
    block = header_block(c.ROUTE_CHECK, ARGS, source=LIVE)
    commands, channel = await session(plain_node.port, block, dead=False)
    assert CHECK_HANGUP not in commands
    assert commands[0].startswith("EXEC MSet ")
    assert channel[c.VAR_VERDICT] == "ALLOW"
