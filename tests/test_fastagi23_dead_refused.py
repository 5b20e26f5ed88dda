"""hagi23: a dead channel whose arguments are refused anyway is recorded as hung up.

Before, a refusal of the arguments won over the hang-up: a header block whose arguments
were ambiguous (a key given twice) followed by Asterisk's ``HANGUP`` lines and its close was
recorded ``callguard:bad-agi-request`` — as if Asterisk had waited for the answer — and
callguard wrote its BLOCK to a closed socket; with ``[fastagi] ask_liveness`` a hangup
handler's check with refused arguments was never asked about, so recorded the same. What is
true: res_agi.c ``run_agi`` writes ``HANGUP`` only once ``ast_read`` found the channel gone
(``needhup``), and with AGIEXITONHANGUP leaves at once (``agi_exec_full`` returns -1,
AGISTATUS HANGUP): no Dial() follows whatever the arguments were. Now the record says
``callguard:hung-up`` and its reason names the refusal as well.

A ``HANGUP`` line that comes inside a cut block's tail (a blank line inside a value, then
a line of the caller's choosing) proves nothing and stays a refusal (the control).

Asterisk's traffic is the recorded lab block (``tests/fake_asterisk.header_block``) and
lab agi-callerhangup-exitonhangup's ``HANGUP``, ``HANGUP``, EOF; dead mode answers as in
test_fastagi22_dead_handler (res_agi.c ``agi_handle_command`` with ``dead`` set).
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from callguard.fronts.fastagi import contract as c
from callguard.fronts.fastagi.wire import CHECK_HANGUP
from callguard.numbers.redact import has_digit_run
from tests.fake_asterisk import header_block
from tests.test_fastagi import UT, compliance_records
from tests.test_fastagi import node as plain_node
from tests.test_fastagi22_dead_handler import DEAD, session
from tests.test_fastagi_hungup import _gone_session, recorded_end

__all__ = ["plain_node"]  # the fixture, from test_fastagi


@pytest.fixture
def node(plain_node):
    plain_node.settings = replace(plain_node.settings, ask_liveness=True)
    return plain_node


FORGED = f"{UT}\nagi_arg_1: 8015550100"  # a line break in CAMPAIGN: agi_arg_1 twice


def _records(node):
    return [(r["verdict"], r["rule"]) for r in compliance_records(node)]


async def test_an_ambiguous_block_then_asterisks_hangup_is_recorded_hung_up(plain_node):
    sent = await _gone_session(plain_node.port, c.ROUTE_CHECK, ["8015550123", FORGED],
                               recorded_end())
    assert sent == b""  # AGI() has returned: nothing to answer
    assert _records(plain_node) == [("BLOCK", "callguard:hung-up")]
    reason = compliance_records(plain_node)[0]["reason"]
    assert "hung up" in reason
    assert "refused as well" in reason
    assert "more than once" in reason
    assert not has_digit_run(reason)
    counts = plain_node.stats.counts
    assert (counts["hung_up"], counts["bad_request"], counts["header_repeated"]) == (1, 1, 1)


async def test_a_hangup_line_inside_a_cut_tail_stays_a_refusal(plain_node):
    """The control: a blank line inside a value, then ``HANGUP`` and more block lines, the
    peer still open — a caller's text, not Asterisk's word: refused as before."""
    cut = f"{UT}\n\nHANGUP\nagi_arg_9: x"
    reader, writer = await asyncio.open_connection("127.0.0.1", plain_node.port)
    try:
        writer.write(header_block(c.ROUTE_CHECK, ["8015550123", cut]))
        await writer.drain()
        async with asyncio.timeout(5):
            while not plain_node.stats.counts["block"]:
                line = await reader.readline()
                if line.startswith(b"EXEC") or line.startswith(b"GET"):
                    writer.write(b"200 result=0\n")
                elif not line:
                    break
    finally:
        writer.close()
    await asyncio.sleep(0.1)
    assert _records(plain_node)[0] == ("BLOCK", "callguard:bad-agi-request")
    assert plain_node.stats.counts["hung_up"] == 0


def _handler_block(args: list[str]) -> bytes:
    """The recorded dead-mode block as a hangup handler has it (its own context, ``s``)."""
    block = header_block(c.ROUTE_CHECK, args, source=DEAD)
    recorded = b"agi_context: agi-dead\nagi_extension: h\nagi_priority: 1\n"
    assert recorded in block
    return block.replace(recorded, b"agi_context: callguard-hangup\nagi_extension: s\n"
                                   b"agi_priority: 1\n")


async def test_a_hangup_handlers_check_with_refused_arguments_is_asked_and_hung_up(node):
    """Six arguments (the route takes five) from a hangup handler: asked all the same,
    Asterisk says hung up, recorded so, the refusal named too."""
    args = ["8015550123", UT, "", "1795326461.80", "", "extra"]
    commands, channel = await session(node.port, _handler_block(args), dead=True)
    assert commands[0] == CHECK_HANGUP, commands
    assert (channel[c.VAR_VERDICT], channel[c.VAR_RULE]) == ("BLOCK", "callguard:hung-up")
    assert _records(node) == [("BLOCK", "callguard:hung-up")]
    reason = compliance_records(node)[0]["reason"]
    assert "checkhangup" in reason
    assert "refused as well" in reason
    assert "takes 5 arguments" in reason
    assert node.stats.counts["dead_channel"] == 1


async def test_a_live_channel_with_refused_arguments_stays_a_refusal(node):
    """The control: the same six arguments on a live channel: asked, 0, bad request."""
    args = ["8015550123", UT, "", "1795326461.80", "", "extra"]
    commands, channel = await session(node.port, header_block(c.ROUTE_CHECK, args),
                                      dead=False)
    assert commands[0] == CHECK_HANGUP
    assert channel[c.VAR_RULE] == "callguard:bad-agi-request"
    assert node.stats.counts["dead_channel"] == 0


async def test_the_h_extension_with_refused_arguments_names_both(plain_node):
    args = ["8015550123", UT, "", "1795326461.80", "", "extra"]
    _, channel = await session(plain_node.port, header_block(c.ROUTE_CHECK, args,
                                                             source=DEAD), dead=True)
    assert channel[c.VAR_RULE] == "callguard:hung-up"
    reason = compliance_records(plain_node)[0]["reason"]
    assert "h extension" in reason
    assert "refused as well" in reason
