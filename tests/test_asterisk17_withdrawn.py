"""A late tail's withdrawal gives back the ALLOW's reservation only once Asterisk confirmed it.

The tail of a cut header block came after our ALLOW (res_agi.c ``setup_env`` writes the
whole block before ``run_agi`` reads our first MSet, and runs it): Asterisk already holds
the ALLOW on the channel when the withdrawing BLOCK goes out. The front gave the ALLOW's
call-frequency reservation back as soon as the BLOCK was on record — before sending it. A
BLOCK Asterisk then refused (a 520), never answered, or never read (the socket closed)
left the ALLOW on the channel, to be dialled, with its call no longer counted: under a cap
of three calls in 24 hours (Fla. Stat. 501.616(6)(b)) a fourth call. Now the BLOCK is read
back (``GET VARIABLE`` returns the BLOCK's own decision id) before anything is given back;
unconfirmed, the count stays (an over-count blocks a lawful call at worst) and the log says
so (``fastagi_withdrawal_unconfirmed``).

And an ALLOW registered as being answered (``_answering``) whose answer could not even be
built (its variables raised) stayed registered for good; it is dropped on every path.

Over real sockets, Asterisk's side played as in ``test_asterisk16_withdrawn``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
import structlog

from callguard.fronts.fastagi import contract as c
from tests.asterisk_replica import exec_mset_variables
from tests.fake_asterisk import REPLY_OK, asterisk_answer, header_block
from tests.test_asterisk16_withdrawn import (
    FLORIDA,
    FORGED,
    UT,
    node,  # noqa: F401 - the fixture
    verdicts_of_three_more,
)
from tests.test_fastagi import compliance_records

# res_agi.c answers a command it cannot run with a 520 block (cut from the lab's
# agi-errors recording: tests/fake_asterisk.REPLY_520_BLOCK's first three lines).
REPLY_520 = (b"520-Invalid command syntax.  Proper usage follows:\n"
             b"Sets a variable to the current channel.\n520 End of proper usage.\n")

Respond = Callable[[str, dict[str, str]], bytes | None]


def as_asterisk(command: str, channel: dict[str, str]) -> bytes | None:
    return asterisk_answer(command, channel, REPLY_OK)


async def late_tail(node, withdrawal: Respond) -> list[str]:  # noqa: F811
    """A value forging every later argument and its own blank line; the tail arrives after
    our ALLOW, ahead of Asterisk's reply. Every command answered as Asterisk would, but the
    withdrawing MSet (the second) by ``withdrawal`` (None: Asterisk closes without a
    word). The commands, in order."""
    block = header_block(c.ROUTE_CHECK, [FORGED, UT, "predictive", "1.1", "84101"],
                         port=node.port)
    cut = block.index(b"\n\n") + 2
    tail = b"agi_arg_6: " + b"x" * 20 + b"\n" + block[cut:]
    reader, writer = await asyncio.open_connection("127.0.0.1", node.port)
    commands: list[str] = []
    channel: dict[str, str] = {}
    try:
        writer.write(block[:cut])
        await writer.drain()
        commands.append((await asyncio.wait_for(reader.readline(), timeout=2)).decode())
        assert exec_mset_variables(commands[0].strip())[c.VAR_VERDICT] == "ALLOW"
        writer.write(tail + asterisk_answer(commands[0].rstrip("\n"), channel, REPLY_OK))
        await writer.drain()
        msets = 1
        while line := await asyncio.wait_for(reader.readline(), timeout=3):
            command = line.decode().rstrip("\n")
            commands.append(line.decode())
            respond = as_asterisk
            if command.startswith("EXEC MSet "):
                msets += 1
                if msets == 2:
                    respond = withdrawal
            answer = respond(command, channel)
            if answer is None:
                break
            writer.write(answer)
            await writer.drain()
    finally:
        writer.close()
    await asyncio.sleep(0.1)
    return commands


def refused(command: str, channel: dict[str, str]) -> bytes | None:
    """A 520: MSet did not run, the channel keeps the ALLOW."""
    return asterisk_answer(command, channel, REPLY_520)


def closed(command: str, channel: dict[str, str]) -> bytes | None:
    return None


def silent(command: str, channel: dict[str, str]) -> bytes | None:
    """No reply (reply_timeout is 500 ms), the socket left open until the session ends."""
    return b""


@pytest.mark.parametrize("withdrawal", [refused, closed, silent],
                         ids=["refused-520", "closed", "unanswered"])
async def test_an_unconfirmed_withdrawal_keeps_the_count(node, withdrawal):  # noqa: F811
    with structlog.testing.capture_logs() as logs:
        await late_tail(node, withdrawal)
    allow, block = compliance_records(node)[-2:]
    assert block["withdraws"] == allow["decision_id"]  # the withdrawal is on record...
    # ...written before Asterisk answered it: it may not say the call was not placed
    assert "call not placed" not in block["reason"]
    assert "placed only if Asterisk kept the first answer" in block["reason"]
    assert node.stats.counts["cap_released"] == 0  # ...but Asterisk may hold the ALLOW
    assert node.stats.counts["cap_kept_unconfirmed"] == 1
    [kept] = [e for e in logs if e["event"] == "fastagi_withdrawal_unconfirmed"]
    assert kept["decision_id"] == allow["decision_id"]
    assert "stays counted" in kept["effect"]
    assert "5550123" not in str(logs)
    assert node._answering == {}
    assert await verdicts_of_three_more(node) == ["ALLOW", "ALLOW", "BLOCK"]


async def test_a_confirmed_withdrawal_gives_back(node):  # noqa: F811
    """Asterisk took the BLOCK: its own id is read back, then the count is given back."""
    commands = await late_tail(node, as_asterisk)
    allow, block = compliance_records(node)[-2:]
    assert block["withdraws"] == allow["decision_id"]
    assert commands[-1].strip() == f"GET VARIABLE {c.VAR_DECISION_ID}"
    assert exec_mset_variables(commands[-2].strip())[c.VAR_DECISION_ID] == \
        block["decision_id"]
    assert node.stats.counts["cap_released"] == 1
    assert node.stats.counts["cap_kept_unconfirmed"] == 0
    assert await verdicts_of_three_more(node) == ["ALLOW"] * 3


async def test_an_answer_that_cannot_be_built_leaves_nothing_registered(node):  # noqa: F811
    """The ALLOW's variables raise (the watchdog's follow value, say): it was registered
    as being answered and stayed so for good, a leak per such call."""
    def broken(decision):
        raise RuntimeError("follow value could not be made (simulated)")

    node._follow = broken
    reader, writer = await asyncio.open_connection("127.0.0.1", node.port)
    try:
        writer.write(header_block(c.ROUTE_CHECK, [FLORIDA, UT], port=node.port))
        await writer.drain()
        assert await asyncio.wait_for(reader.read(), timeout=3) == b""
    finally:
        writer.close()
    await asyncio.sleep(0.1)
    assert compliance_records(node)[-1]["verdict"] == "ALLOW"
    assert node._answering == {}
