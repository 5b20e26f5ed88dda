"""Review of hagi19 (session 22): the FastAGI answer's reason, and lines a caller ID adds.

hagi19 redacts ``CALLGUARD_REASON`` before answering (the shipped dialplan logs it), and
answers BLOCK a block with a line that is no header among the channel's own lines. What
this file holds:

- the redaction read a pack's own rule id as a number: ``us-ut-hb45-2000:13-26a-106(1)(f)``
  ("45-2000:13-26", ten digits) reached Asterisk's log as ``us-ut-hb[number …1326]a-…``
  for every call the shipped demo campaigns' house policy blocked. The record spares the
  packs' rule ids and citations (``RecordEncoder._redact``); the answer now spares the
  verdict's own;
- the redaction ran on every answer, ALLOWs included (~55 µs for "Allowed: 14 rules of
  …, us-ut-hb45-2000 hold.", 90-160 µs for a BLOCK's, on a ~600 µs session): remembered
  per reason now, as the record does;
- an opt-out's FAILED reason for an ambiguous block was not redacted, and two reasons
  quoted header names as given (a line ``agi_8015550123: x`` forged by a value);
- guards: a caller ID's line break never gets an ALLOW for another number than ARG1 —
  res_agi.c ``setup_env`` writes ``agi_callerid``/``agi_calleridname`` before
  ``agi_arg_1..N`` (``launch_netscript`` wrote ``agi_network: yes`` and
  ``agi_network_script`` first), so a forged ``agi_arg_1`` there comes first, and the
  first value is the one kept: only the repeat's BLOCK keeps it from being decided on.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from callguard.fronts.fastagi import contract as c
from callguard.fronts.fastagi import server as server_module
from tests.asterisk_replica import exec_mset_variables
from tests.fake_asterisk import REPLY_OK, agi_session, asterisk_answer, header_block
from tests.serve_node import AT_DATE, ServeNode, write_lists
from tests.test_fastagi import UT, node

__all__ = ["node"]  # the fixture, from test_fastagi

HB45_HOURS = "us-ut-hb45-2000:13-26a-106(1)(f)"
LISTED = "8015550199"  # on the fixture's national and ut-state lists: BLOCK
FREE = "8015550123"  # on no list: ALLOW at the fixture's clock


def _with_name(route: str, args: list[str], name: bytes) -> bytes:
    block = header_block(route, args)
    assert b"agi_calleridname: Bob\n" in block
    return block.replace(b"agi_calleridname: Bob\n", b"agi_calleridname: " + name + b"\n")


async def _answers(port: int, block: bytes) -> list[dict[str, str]]:
    """Send ``block``, answer every command as Asterisk would: each MSet's variables."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    channel: dict[str, str] = {}
    answers = []
    try:
        writer.write(block)
        await writer.drain()
        async with asyncio.timeout(5):
            while line := await reader.readline():
                command = line.decode().rstrip("\n")
                if command.startswith("EXEC MSet"):
                    answers.append(exec_mset_variables(command))
                writer.write(asterisk_answer(command, channel, REPLY_OK))
                await writer.drain()
    finally:
        writer.close()
    return answers


def test_a_house_policy_rule_id_reaches_the_dialplan_readable(tmp_path):
    """A real ``callguard serve`` with the shipped configuration, its gate clock at 08:30
    in Denver on a Wednesday: the demo campaign's house policy (H.B. 45's 9 a.m.) blocks.
    The reason the dialplan logs names the rule as CALLGUARD_RULE does; a number in the
    reason is still redacted (the record's own redaction is the reference)."""
    serve = ServeNode(tmp_path / "node", clock_at=f"{AT_DATE.isoformat()}T08:30:00-07:00")
    write_lists(serve.data, [])
    serve.start()
    try:
        result = asyncio.run(agi_session(serve.agi_port, c.ROUTE_CHECK,
                                         [FREE, UT, "", "1.1", ""]))
    finally:
        serve.stop()
    variables = result.variables
    assert variables[c.VAR_RULE] == HB45_HOURS, variables
    reason = variables[c.VAR_REASON]
    assert reason.startswith(f"Blocked by {HB45_HOURS}: it is 08:30"), reason
    assert "[number" not in reason, reason
    records = [json.loads(line) for line in
               (serve.data / "compliance.jsonl").read_text().splitlines()]
    assert records[-1]["reason"] == reason


async def test_a_reason_is_redacted_once_per_text(node, monkeypatch):
    """The hot path: the same reason (every ALLOW of a campaign says the same sentence)
    is redacted once, then remembered."""
    calls = []
    real = server_module.redact_digits

    def counting(text: str) -> str:
        calls.append(text)
        return real(text)

    monkeypatch.setattr(server_module, "redact_digits", counting)
    for _ in range(3):
        result = await agi_session(node.port, c.ROUTE_CHECK, [FREE, UT, "", "1.1", ""])
        assert result.variables[c.VAR_VERDICT] == "ALLOW", result.variables
    allowed = result.variables[c.VAR_REASON]
    assert allowed.startswith("Allowed: "), allowed
    assert calls.count(allowed) <= 1, calls


@pytest.mark.parametrize("route", [c.ROUTE_CHECK, c.ROUTE_OPTOUT])
@pytest.mark.parametrize("forged", [
    b"Bob\nagi_8015550123: x\nSmith",  # a stray line after a forged header's name
    b"Bob\nagi_8015550123: x\nagi_8015550123: y",  # a name given twice
], ids=["stray", "repeated"])
async def test_a_number_in_a_forged_header_name_is_redacted(node, route, forged):
    """The reasons quote the header a stray line followed, or the names given twice: a
    value can write any ``agi_<digits>`` name. The opt-out's FAILED reason (logged by
    the dialplan at WARNING) was not redacted at all."""
    args = [FREE, UT, "", "1.1", ""][:c.ARG_COUNT[route]]
    answers = await _answers(node.port, _with_name(route, args, forged))
    assert len(answers) == 1, answers
    reason = answers[0][c.VAR_REASON]
    assert "801555" not in reason, reason  # the whole number, or its head
    assert "…0123" in reason, reason


@pytest.mark.parametrize("name", [
    b"Bob\nagi_arg_1: " + FREE.encode(),
    b"Bob\nSmith\nagi_arg_1: " + FREE.encode(),
    b"Bob\nagi_arg_1: " + FREE.encode() + b"\nSmith",
    b"Bob\nagi_network_script: callguard\nagi_arg_1: " + FREE.encode(),
], ids=["forged-arg", "stray-then-arg", "arg-then-stray", "script-and-arg"])
async def test_a_caller_name_never_gets_another_number_allowed(node, name):
    """ARG1 (what the dialplan dials) is on the list; the caller name forges an
    ``agi_arg_1`` that is not, before the real one (setup_env's order): BLOCK, never an
    ALLOW for the forged number, whether a stray line comes with it or not."""
    answers = await _answers(node.port, _with_name(
        c.ROUTE_CHECK, [LISTED, UT, "", "1.1", ""], name))
    assert len(answers) == 1, answers
    assert answers[0][c.VAR_VERDICT] == "BLOCK", answers
    assert answers[0][c.VAR_RULE] == "callguard:bad-agi-request", answers
    assert node.stats.counts["allow"] == 0
