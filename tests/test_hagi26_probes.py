"""hagi26: hostile input to the FastAGI front, over real sockets, each failing closed.

For each: the answer Asterisk gets (or none), what is recorded, the counters, the log
(never the number in clear), and a normal call served right after. Asterisk's side is
tests/fake_asterisk.py: the recorded Asterisk 22.10.1 header block with the hostile part
put in, replies as res_agi.c writes them. Where the input cannot come from Asterisk (it
writes each value with ``%s``, ``setup_env``; at most MAX_ARGS arguments), it stands for a
dialplan value carrying line breaks or a peer that is no Asterisk.
All but the block past ``max_header_bytes`` (answered BLOCK now, closed unanswered on
main) pin what main already did.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import Callable
from dataclasses import replace

import pytest
import structlog

from callguard.fronts.fastagi import contract as c
from tests.fake_asterisk import REPLY_OK, agi_session, asterisk_answer, header_block
from tests.test_fastagi import UT, compliance_records, node

__all__ = ["node"]  # the fixture, from test_fastagi

NUMBER = "8015550142"
DIGITS = "5550142"  # what must never reach the log in clear
Responder = Callable[[str, dict[str, str], int], bytes]


def _block(args: list[str] | None = None, script: str = c.ROUTE_CHECK) -> bytes:
    return header_block(script, args or [NUMBER, UT, "", "1795326441.70", ""])


async def _session(port: int, block: bytes, responder: Responder | None = None, *,
                   reset_after_first: bool = False) -> tuple[list[str], dict[str, str]]:
    """Send ``block``; answer each command as a live channel (or ``responder``); the
    commands received and the variables the channel holds."""
    channel: dict[str, str] = {}
    commands: list[str] = []
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(block)
        async with asyncio.timeout(8):
            while line := await reader.readline():
                commands.append(line.decode(errors="replace").rstrip("\n"))
                if reset_after_first:  # an RST, not a FIN: SO_LINGER 0, then close
                    writer.get_extra_info("socket").setsockopt(
                        socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    writer.transport.abort()
                    break
                answer = (responder or (lambda cmd, ch, _: asterisk_answer(cmd, ch, REPLY_OK)))
                writer.write(answer(commands[-1], channel, len(commands)))
    except ConnectionResetError:
        commands.append("<reset>")
    finally:
        writer.close()
    await asyncio.sleep(0.1)
    return commands, channel


def _records(node) -> list[tuple[str, str | None, bool]]:
    path = node.runtime.settings.data_dir / "compliance.jsonl"
    if not path.exists():
        return []
    return [(r["verdict"], r.get("rule"), bool(r.get("withdraws")))
            for r in compliance_records(node)]


async def _others_go_on(node) -> None:
    result = await agi_session(node.port, c.ROUTE_CHECK, [NUMBER, UT])
    assert result.variables[c.VAR_VERDICT] == "ALLOW"


@pytest.mark.parametrize("number", [
    "+1 (801) 555-0142", "tel:+18015550142",
    "\uff18\uff10\uff11\uff15\uff15\uff15\uff10\uff11\uff14\uff12",  # fullwidth digits
    "801555\udcff0142",  # a byte that is no UTF-8 (written raw below)
])
async def test_a_number_in_an_odd_form_is_a_recorded_block_naming_no_number(node, number):
    """The dialplan dials ARG1 as given: only ASCII digits with an optional + are checked
    as dialled (``not_dialable``); anything else is a recorded BLOCK with the reason."""
    block = _block([number.replace("\udcff", "?"), UT, "", "1.1", ""])
    block = block.replace(b"801555?0142", b"801555\xff0142")
    with structlog.testing.capture_logs() as logs:
        commands, channel = await _session(node.port, block)
    assert channel[c.VAR_VERDICT] == "BLOCK"
    assert channel[c.VAR_RULE] == "callguard:number-not-dialable"
    assert DIGITS not in channel[c.VAR_REASON]
    assert _records(node) == [("BLOCK", "callguard:number-not-dialable", False)]
    assert compliance_records(node)[0]["decision_id"] == channel[c.VAR_DECISION_ID]
    assert commands[-1] == f"GET VARIABLE {c.VAR_DECISION_ID}"  # Asterisk confirmed it
    assert DIGITS not in repr(logs)
    await _others_go_on(node)


async def test_bytes_that_are_no_utf8_decide_by_what_they_touch(node):
    """A Latin-1 caller name changes nothing (decided ALLOW); the same in the campaign is
    a recorded BLOCK, the campaign named with U+FFFD."""
    block = _block().replace(b"agi_calleridname: Bob", b"agi_calleridname: Jos\xe9")
    _, channel = await _session(node.port, block)
    assert channel[c.VAR_VERDICT] == "ALLOW"
    block = _block().replace(UT.encode(), UT.encode() + b"\xff")
    _, channel = await _session(node.port, block)
    assert channel[c.VAR_RULE] == "callguard:unknown-campaign"
    assert [v for v, _, _ in _records(node)] == ["ALLOW", "BLOCK"]


@pytest.mark.parametrize("extra", [
    b"".join(b"agi_x%d: y\n" % i for i in range(10_000)),  # 10,000 lines
    b"agi_arg_9: " + b"7" * 1_000_000 + b"\n",  # one line of 1 MB
], ids=["10k-lines", "1MB-line"])
async def test_a_block_past_max_header_bytes_is_answered_block_with_the_reason(node, extra):
    """Past ``max_header_bytes`` (16 KiB) the block is read past, not kept, to its blank
    line (res_agi.c ``setup_env`` writes it whole, then ``run_agi`` waits for a command):
    answered BLOCK (opt-out FAILED) with the reason, nothing decided or recorded. On main
    the session closed unanswered (a reset, the block unread): the dialplan said only
    that callguard "gave no usable answer" and pointed at allowed_sources. No real
    Asterisk writes more than MAX_ARGS (128) arguments; a dialplan value this long, or
    with these line breaks, can."""
    with structlog.testing.capture_logs() as logs:
        commands, channel = await _session(node.port, _block().replace(b"\n\n", b"\n" + extra
                                                                       + b"\n"))
    # Both are past SKIP_PAST_LIMIT (hagi30): read no further, answered, then closed with
    # bytes unread (a reset after the answer).
    assert [x.split(" ", 2)[:2] for x in commands if x != "<reset>"] == [["EXEC", "MSet"]]
    assert channel[c.VAR_VERDICT] == "BLOCK"
    assert channel[c.VAR_RULE] == "callguard:bad-agi-request"
    assert "max_header_bytes" in channel[c.VAR_REASON]
    assert channel[c.OPTOUT_RESULT] == "FAILED"
    assert _records(node) == []
    counts = node.stats.counts
    assert (counts["header_too_large"], counts["too_large_answered"]) == (1, 1)
    assert [(e["reason"].split(",")[0], e["answered"]) for e in logs
            if e["event"] == "fastagi_bad_headers"] == [
        ("header block larger than the limit", True)]
    await _others_go_on(node)


async def test_a_block_past_max_header_bytes_that_never_ends_is_closed_unanswered(node):
    """No blank line after the limit by the header deadline: no peer waits for a command;
    closed, nothing answered or recorded (the dialplan's unanswered BLOCK)."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    # 50 kB: past the limit, short of SKIP_PAST_LIMIT (hagi30), so the deadline cuts it.
    commands, channel = await _session(node.port, _block()[:-1] + b"agi_x: " + b"7" * 50_000)
    assert (commands, channel) in [([], {}), (["<reset>"], {})]
    assert loop.time() - started < 2
    assert node.stats.counts["header_too_large"] == 1
    assert node.stats.counts["too_large_answered"] == 0
    await _others_go_on(node)


async def test_a_block_that_never_ends_is_cut_at_the_header_timeout(node):
    """No blank line ever (a silent peer): Asterisk has no timeout of its own (protocol
    notes 1.5), so ``header_timeout_ms`` (500 ms here) bounds the session."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    commands, _ = await _session(node.port, _block()[:-1])
    assert commands == []
    assert loop.time() - started < 2
    assert node.stats.counts["header_timeout"] == 1
    assert _records(node) == []
    await _others_go_on(node)


@pytest.mark.parametrize("script", ["../../callguard", "callguard/../callguard-optout",
                                    "callguard%3F8015550142"])
async def test_a_script_with_traversal_is_no_route_and_blocked(node, script):
    """``launch_netscript`` sends everything after the host's ``/`` as written: no path is
    resolved, so these are unknown routes, answered BLOCK (and opt-out FAILED), named
    with no digit run, nothing decided."""
    with structlog.testing.capture_logs() as logs:
        _, channel = await _session(node.port, _block(script=script))
    assert channel[c.VAR_VERDICT] == "BLOCK"
    assert channel[c.VAR_RULE] == "callguard:unknown-route"
    assert channel[c.OPTOUT_RESULT] == "FAILED"
    assert DIGITS not in channel[c.VAR_REASON]
    assert DIGITS not in repr(logs)
    assert _records(node) == []
    await _others_go_on(node)


async def test_query_arguments_after_the_route_decide_nothing(node):
    """``agi://host/callguard?number=...``: the route is the part before ``?``; only the
    ``agi_arg_N`` are read (a number in the query is not the one checked)."""
    _, channel = await _session(node.port, _block(script="callguard?number=8015550199"))
    assert channel[c.VAR_VERDICT] == "ALLOW"  # 8015550199 is on the list; 0142 is not


@pytest.mark.parametrize("reply", [
    b"200 result=-1\n", b"510 Invalid or unknown command\n",
    b"520-Invalid command syntax.  Proper usage follows:\n Usage: EXEC <application> "
    b"<options>\n520 End of proper usage.\n",
], ids=["result-1", "510", "520-block"])
async def test_an_answer_asterisk_refuses_is_withdrawn_and_the_channel_holds_nothing(
        node, reply):
    """Asterisk refuses the MSet (or says it failed) and never sets the id: the read-back
    finds nothing, the ALLOW is withdrawn by a recorded BLOCK; the channel holds no
    verdict, which the shipped dialplan BLOCKs."""
    node.settings = replace(node.settings, reply_timeout_ms=300)

    def refuse(command: str, channel: dict[str, str], _: int) -> bytes:
        return reply if command.startswith("EXEC") else asterisk_answer(command, channel,
                                                                        REPLY_OK)

    with structlog.testing.capture_logs() as logs:
        commands, channel = await _session(node.port, _block(), refuse)
    assert [x.split(" ", 2)[1] for x in commands] == ["MSet", "VARIABLE", "MSet",
                                                      "VARIABLE"]
    assert channel == {}
    assert _records(node) == [("ALLOW", None, False),
                              ("BLOCK", "callguard:bad-agi-request", True)]
    counts = node.stats.counts
    assert (counts["answer_not_accepted"], counts["withdrawn"]) == (1, 1)
    assert DIGITS not in repr(logs)
    await _others_go_on(node)


async def test_a_hangup_line_between_two_commands_withdraws_the_allow(node):
    """HANGUP after the MSet's reply, before the read-back's: run_agi wrote it once the
    channel hung up (``needhup``), so AGI() ends HANGUP and nothing is dialled: the ALLOW
    is withdrawn by a recorded BLOCK callguard:hung-up."""
    def then_hangup(command: str, channel: dict[str, str], n: int) -> bytes:
        return asterisk_answer(command, channel, REPLY_OK) + (b"HANGUP\n" if n == 1 else b"")

    await _session(node.port, _block(), then_hangup)
    assert _records(node) == [("ALLOW", None, False), ("BLOCK", "callguard:hung-up", True)]
    assert node.stats.counts["hung_up"] == 1
    await _others_go_on(node)


async def test_a_reset_after_the_first_command_withdraws_the_allow(node):
    """Asterisk's socket reset once our MSet went out: AGI() has ended, nothing confirmed
    the answer; recorded as a withdrawn ALLOW (BLOCK callguard:hung-up, closed)."""
    with structlog.testing.capture_logs() as logs:
        commands, _ = await _session(node.port, _block(), reset_after_first=True)
    assert commands[0].startswith("EXEC MSet ")
    assert _records(node) == [("ALLOW", None, False), ("BLOCK", "callguard:hung-up", True)]
    assert [e["closed"] for e in logs if e["event"] == "fastagi_hung_up_while_answering"
            ] == [True]
    assert DIGITS not in repr(logs)
    await _others_go_on(node)


async def test_a_reset_inside_an_oversized_block_is_still_counted_too_large(node):
    """The peer resets while its oversized block is read past: the session ends as a
    too-large block (counted and logged so), not as a failed reply."""
    _, writer = await asyncio.open_connection("127.0.0.1", node.port)
    writer.write(_block()[:-1] + b"agi_x: " + b"7" * 100_000)
    await writer.drain()
    await asyncio.sleep(0.1)
    writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                               struct.pack("ii", 1, 0))
    writer.transport.abort()
    async with asyncio.timeout(3):
        while not node.stats.counts["bad_headers"] and not node.stats.counts["reply_failed"]:
            await asyncio.sleep(0.02)
    counts = node.stats.counts
    assert (counts["header_too_large"], counts["reply_failed"]) == (1, 0)
    await _others_go_on(node)
