"""A number cut by a length limit is still redacted whole (session 22, hagi19).

The FastAGI front bounds what it quotes from a peer (a malformed header line, a reply that
is no AGI reply, an unknown route's script). It cut first and redacted after: a cut that
falls inside a number leaves its first six digits, one short of ``MIN_RUN``, so the
redaction kept them in clear — in the log, and in ``CALLGUARD_REASON``, which the shipped
dialplan writes to Asterisk's log (NOTICE). Redacting first, then cutting, leaves no
more than the last four digits a log may show. Each test puts the cut inside a number.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import replace

import structlog.testing

from callguard.fronts.fastagi import contract as c
from tests.asterisk_replica import exec_mset_variables
from tests.fake_asterisk import REPLY_OK, asterisk_answer, header_block
from tests.test_fastagi import UT, _escaped_after_replying, node

__all__ = ["node"]  # the fixture, from test_fastagi

NUMBER = "8015550123"
_LEAK = re.compile(r"\d{5,}")  # a redacted text holds at most the last four in a row


def _clear(text: str) -> list[str]:
    """Digit runs a redacted text must not hold (the number's head, cut or not)."""
    return _LEAK.findall(text) + ([NUMBER[:6]] if NUMBER[:6] in text else [])


async def test_a_malformed_header_line_cut_inside_a_number_is_logged_redacted(node):
    """``malformed header line`` (a peer whose first line is no header: no Asterisk)
    quotes the line's first 60 characters; the number sits across character 60 (54
    letters, then ten digits)."""
    line = "x" * 54 + NUMBER
    with structlog.testing.capture_logs() as logged:
        reader, writer = await asyncio.open_connection("127.0.0.1", node.port)
        writer.write(line.encode() + b"\nagi_network: yes\n\n")
        await writer.drain()
        assert await asyncio.wait_for(reader.read(), timeout=2) == b""
        writer.close()
        await asyncio.sleep(0.05)
    bad = [e for e in logged if e["event"] == "fastagi_bad_headers"]
    assert len(bad) == 1, logged
    assert "malformed header line" in bad[0]["reason"]
    assert _clear(bad[0]["reason"]) == [], bad[0]["reason"]


async def test_a_reply_that_is_no_agi_reply_cut_inside_a_number_is_logged_redacted(node):
    """``not an AGI reply`` quotes the line's first 60 characters (logged as
    ``fastagi_answer_not_accepted``): the number sits across character 60."""
    node.settings = replace(node.settings, reply_timeout_ms=300)
    reply = ("garbage " + "y" * 46 + NUMBER + "\n").encode()
    with structlog.testing.capture_logs() as logged:
        assert await _escaped_after_replying(node, reply) == []
    bad = [e for e in logged if e["event"] == "fastagi_answer_not_accepted"]
    assert bad, logged
    assert "not an AGI reply" in bad[0]["reply"]
    assert _clear(bad[0]["reply"]) == [], bad[0]["reply"]


async def test_an_unknown_routes_reason_cut_inside_a_number_is_redacted(node):
    """An unknown route's BLOCK quotes its script's first 40 characters in
    ``CALLGUARD_REASON`` (the dialplan logs it): a dialplan that put the number in the
    URL's query (``agi://host/callguardx?...=${NUMBER}``) must not have its head shown."""
    script = "callguardx?padpadpadpadpadpadpadx=" + NUMBER  # the number across char 40
    assert script.index(NUMBER) == 34
    reader, writer = await asyncio.open_connection("127.0.0.1", node.port)
    try:
        writer.write(header_block(script, [NUMBER, UT], port=node.port))
        await writer.drain()
        channel: dict[str, str] = {}
        line = await asyncio.wait_for(reader.readline(), timeout=2)
        command = line.decode().rstrip("\n")
        writer.write(asterisk_answer(command, channel, REPLY_OK))
        await writer.drain()
        assert await asyncio.wait_for(reader.read(), timeout=2) == b""
    finally:
        writer.close()
    variables = exec_mset_variables(command)
    assert variables[c.VAR_VERDICT] == "BLOCK"
    assert variables[c.VAR_RULE] == "callguard:unknown-route"
    assert _clear(variables[c.VAR_REASON]) == [], variables[c.VAR_REASON]
