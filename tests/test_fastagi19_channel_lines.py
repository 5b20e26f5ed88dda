"""A line break inside a channel value before the arguments: a recorded BLOCK, not silence.

res_agi.c ``setup_env`` writes the channel's own data unescaped, before the AGI()
arguments: ``agi_callerid: %s`` and ``agi_calleridname: %s`` (the caller ID a CRM lookup,
a ``Set(CALLERID(name)=...)`` or a Local channel's partner gave the channel). A line break
inside one of them puts a line that is no header among the channel's lines. The front
closed such a session without a word: no answer (the dialplan logs only "gave no usable
answer"), no compliance record, and a log line quoting the caller's name. A block that
says it is Asterisk's (``agi_network: yes``, its first line, launch_netscript) is now
answered like a line break among its arguments: BLOCK with the reason, naming the line
the break followed (never its text), and recorded; an opt-out is answered FAILED. A peer
whose block is no FastAGI block at all is still closed unanswered.
"""

from __future__ import annotations

import asyncio
import json

import structlog.testing

from callguard.fronts.fastagi import contract as c
from tests.asterisk_replica import exec_mset_variables
from tests.fake_asterisk import REPLY_OK, asterisk_answer, header_block
from tests.test_fastagi import UT, node

__all__ = ["node"]  # the fixture, from test_fastagi


def _with_name(route: str, args: list[str], name: bytes) -> bytes:
    """The recorded Asterisk 22.10.1 block with ``agi_calleridname`` set to ``name``."""
    block = header_block(route, args)
    assert b"agi_calleridname: Bob\n" in block
    return block.replace(b"agi_calleridname: Bob\n", b"agi_calleridname: " + name + b"\n")


async def _answers(port: int, block: bytes) -> list[dict[str, str]]:
    """Send ``block``; answer every command as Asterisk would; the variables each MSet
    set, in order (none when the server closes without a word)."""
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


def _records(node) -> list[dict]:
    path = node.runtime.settings.data_dir / "compliance.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


async def test_a_line_break_in_the_caller_name_is_a_recorded_block(node):
    block = _with_name(c.ROUTE_CHECK, ["8015550123", UT, "", "1.1", ""], b"Bob\nSmith")
    with structlog.testing.capture_logs() as logged:
        answers = await _answers(node.port, block)
    assert len(answers) == 1, answers
    answer = answers[0]
    assert answer[c.VAR_VERDICT] == "BLOCK"
    assert answer[c.VAR_RULE] == "callguard:bad-agi-request"
    assert "agi_calleridname" in answer[c.VAR_REASON]
    assert "Smith" not in answer[c.VAR_REASON]  # the caller's name is not quoted
    decisions = [r for r in _records(node) if r["event"] == "decision"]
    assert [(r["verdict"], r["decision_id"]) for r in decisions] == [
        ("BLOCK", answer[c.VAR_DECISION_ID])]
    assert node.stats.counts["header_control"] == 1
    assert node.stats.counts["bad_headers"] == 0
    assert not any("Smith" in json.dumps(e, default=str) for e in logged), logged


async def test_a_line_break_in_the_caller_name_of_an_optout_is_answered_failed(node):
    block = _with_name(c.ROUTE_OPTOUT, ["8015550123", UT, "", "1.1"], b"Bob\nSmith")
    answers = await _answers(node.port, block)
    assert len(answers) == 1, answers
    assert answers[0][c.OPTOUT_RESULT] == "FAILED"
    assert "nothing recorded" in answers[0][c.VAR_REASON]
    assert node.stats.counts["optout"] == 0


async def test_a_block_that_is_no_fastagi_block_is_still_closed_unanswered(node):
    """No ``agi_network: yes`` before the line: no Asterisk wrote it; nothing answered."""
    answers = await _answers(node.port, b"hello\nagi_network: yes\n\n")
    assert answers == []
    assert node.stats.counts["header_malformed"] == 1
    assert _records(node) == [] or all(r["event"] != "decision" for r in _records(node))
