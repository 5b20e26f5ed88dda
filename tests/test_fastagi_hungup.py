"""A channel that hung up before callguard answered is not decided ALLOW.

res_agi.c ``run_agi`` writes ``HANGUP`` on a FastAGI socket only once the channel is gone
(``ast_read`` returned NULL: ``needhup``), and with AGIEXITONHANGUP=yes (the shipped
dialplan) it then leaves the loop at once, writes a second ``HANGUP`` (the end of
``run_agi``) and closes: ``agi_exec_full`` sets AGISTATUS=HANGUP and returns -1, so no
Dial() follows, whatever callguard answers (with AGISIGHUP=no: the close alone). The
recorded shape is lab ``agi-callerhangup-exitonhangup``: ``HANGUP``, ``HANGUP``, EOF.

A callguard that stalled past the backstop (GC pause, swap) finds the block, both HANGUP
lines and the EOF in its buffer when it resumes. It decided the call all the same and
RECORDED AN ALLOW for a call Asterisk had already refused (the dialplan's T logged
``callguard:backstop``): the record said the number was cleared to be called at that
instant, and the ALLOW took a slot of the number's call-frequency cap. Now such a session
is a recorded BLOCK ``callguard:hung-up`` and nothing is sent. An opt-out is still
recorded: the called party's do-not-call request stands whatever became of the agent's
channel.
"""

from __future__ import annotations

import asyncio
import json

from callguard.fronts.fastagi import contract as c
from callguard.numbers.redact import has_digit_run
from tests.asterisk_replica import exec_mset_variables
from tests.fake_asterisk import LAB, agi_session, header_block
from tests.test_fastagi import (
    UT,
    compliance_records,
    headers_read,
    node,
    real_call_latency,
)

__all__ = ["node"]  # the fixture, from test_fastagi


def recorded_end() -> bytes:
    """What Asterisk wrote after the block in agi-callerhangup-exitonhangup (the HANGUP
    lines; the server's own command between them left out)."""
    rows = [json.loads(line) for line in
            (LAB / "agi-callerhangup-exitonhangup.01-idle.fastagi.jsonl")
            .read_text().splitlines()]
    after = rows[[r["data"] for r in rows].index("\n") + 1:]
    assert [r["data"] for r in after if r["dir"] != "tx"][:3] == [
        "HANGUP\n", "HANGUP\n", "[EOF from Asterisk]"]
    return b"".join(r["data"].encode() for r in after
                    if r["dir"] == "rx" and r["data"] == "HANGUP\n")


async def _gone_session(port: int, route: str, args: list[str], end: bytes) -> bytes:
    """Send the block and ``end`` in one write, close our side as Asterisk does, and return
    everything callguard wrote before it closed."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(header_block(route, args) + end)
    await writer.drain()
    writer.write_eof()
    try:
        return await asyncio.wait_for(reader.read(), timeout=2)
    finally:
        writer.close()


async def test_a_block_followed_by_asterisks_hangup_is_a_recorded_block(node):
    sent = await _gone_session(node.port, c.ROUTE_CHECK, ["8015550123", UT],
                               recorded_end())
    assert sent == b""  # AGI() has returned: nothing to answer
    record = compliance_records(node)[-1]
    assert record["verdict"] == "BLOCK", record
    assert record["rule"] == "callguard:hung-up"
    assert "hung up" in record["reason"]
    assert not has_digit_run(record["reason"])
    assert node.stats.counts["hung_up"] == 1
    assert node.stats.counts["allow"] == 0
    assert node.stats.counts["reply_failed"] == 0
    assert await real_call_latency(node.port) < 0.5  # the next call is served


async def test_a_close_right_after_the_block_is_a_hangup_too(node):
    """AGISIGHUP=no with AGIEXITONHANGUP=yes: run_agi breaks out and closes with no
    HANGUP line (send_sighup is false)."""
    sent = await _gone_session(node.port, c.ROUTE_CHECK, ["8015550123", UT], b"")
    assert sent == b""
    assert compliance_records(node)[-1]["rule"] == "callguard:hung-up"
    assert node.stats.counts["allow"] == 0


async def test_an_optout_whose_channel_hung_up_is_still_recorded(node):
    """The do-not-call request was made: the agent's channel going does not undo it."""
    await _gone_session(node.port, c.ROUTE_OPTOUT, ["8015550123", UT, "", "1.1"],
                        recorded_end())
    assert node.stats.counts["optout"] == 1
    assert node.stats.counts["hung_up"] == 0


async def test_a_hangup_while_an_allow_is_answered_withdraws_it(node):
    """The HANGUP comes once the decision is under way (the store answers in 100 ms), so
    the ALLOW is decided and recorded; Asterisk's HANGUP then precedes its reply and it
    closes (AGIEXITONHANGUP). run_agi keeps AGI_RESULT_HANGUP once needhup was set: the
    AGI ends HANGUP and no Dial() follows, so a BLOCK withdrawing the ALLOW is recorded
    (reports count the call once, as the BLOCK)."""
    node.records.delay = 0.1
    reader, writer = await asyncio.open_connection("127.0.0.1", node.port)
    try:
        writer.write(header_block(c.ROUTE_CHECK, ["8015550123", UT]))
        await writer.drain()
        await headers_read(node)
        writer.write(b"HANGUP\n")
        await writer.drain()
        command = await asyncio.wait_for(reader.readline(), timeout=2)
        assert command.startswith(b"EXEC MSet ")
        writer.write(recorded_end()[len(b"HANGUP\n"):])  # the second HANGUP, then EOF
        writer.write_eof()
        assert await asyncio.wait_for(reader.read(), timeout=2) == b""
    finally:
        writer.close()
        node.records.delay = 0.0
    await asyncio.sleep(0.1)
    allow, block = compliance_records(node)[-2:]
    assert allow["verdict"] == "ALLOW"
    assert block["verdict"] == "BLOCK", block
    assert block["rule"] == "callguard:hung-up"
    assert block["withdraws"] == allow["decision_id"]
    assert node.stats.counts["withdrawn"] == 1


async def test_an_optout_whose_channel_hung_up_blocks_the_next_call(node):
    """Recorded means in force: the next check of the number for the seller is a BLOCK
    under the seller's do-not-call list (47 CFR 64.1200(d)(3)), not only a counter."""
    await _gone_session(node.port, c.ROUTE_OPTOUT, ["8015550123", UT, "", "1.1"],
                        recorded_end())
    result = await agi_session(node.port, c.ROUTE_CHECK, ["8015550123", UT])
    assert result.variables[c.VAR_VERDICT] == "BLOCK", result.variables
    assert "64.1200(d)(3)" in result.variables[c.VAR_RULE], result.variables


async def test_the_hung_up_records_are_valid_and_read_as_one_call_each(node, tmp_path):
    """Both kinds of BLOCK callguard:hung-up (with the block; while an ALLOW is answered,
    naming it in ``withdraws``) are valid decision records, ``report`` counts each call
    once (the withdrawn ALLOW apart) and ``explain`` renders them, from the real CLI."""
    from jsonschema import Draft202012Validator

    from tests.conftest import ROOT
    from tests.log_files import cli, config

    await _gone_session(node.port, c.ROUTE_CHECK, ["8015550123", UT], recorded_end())
    node.records.delay = 0.1
    reader, writer = await asyncio.open_connection("127.0.0.1", node.port)
    try:
        writer.write(header_block(c.ROUTE_CHECK, ["8015550124", UT]))
        await writer.drain()
        await headers_read(node)
        writer.write(b"HANGUP\n")
        await writer.drain()
        assert (await asyncio.wait_for(reader.readline(), 2)).startswith(b"EXEC MSet ")
        writer.write(b"HANGUP\n")
        writer.write_eof()
        assert await asyncio.wait_for(reader.read(), timeout=2) == b""
    finally:
        writer.close()
        node.records.delay = 0.0
    await asyncio.sleep(0.1)
    decisions = [r for r in compliance_records(node) if r.get("event") == "decision"]
    assert [(r["verdict"], r.get("rule")) for r in decisions] == [
        ("BLOCK", "callguard:hung-up"), ("ALLOW", None), ("BLOCK", "callguard:hung-up")]
    schema = json.loads((ROOT / "callguard/data/schemas/decision.json").read_text())
    for record in decisions:
        Draft202012Validator(schema).validate(record)
    (tmp_path / "cli").mkdir()
    path = config(tmp_path / "cli", tmp_path)
    made = cli("report", "--json", config_path=path, key=None)
    assert made.returncode == 0, made.stderr
    report = json.loads(made.stdout)
    assert (report["calls"], report["withdrawn"], report["decisions"]) == (2, 1, 3)
    assert report["by_rule"] == {"callguard:hung-up": 2}
    for record in (decisions[0], decisions[2]):
        shown = cli("explain", record["decision_id"], config_path=path, key=None)
        assert shown.returncode == 0, shown.stderr
        said = shown.stdout.splitlines()[1]  # the verdict's sentence, under the id
        assert said.startswith("Blocked by callguard:hung-up: the channel hung up"), said
        assert not has_digit_run(said)


async def test_a_values_hangup_line_split_from_the_rest_of_its_block_is_a_cut_block(node):
    """A value holding a blank line then ``HANGUP`` (``UT\\n\\nHANGUP``): setup_env writes it
    in one line's write and the next argument in another, so a segment may end right
    after "HANGUP\\n" — which read like Asterisk's hang-up: recorded BLOCK hung-up ("a
    caller who gave up"), nothing answered, the forged block never counted as one. The rest
    of the block comes 20 ms later, still open: a cut block, answered BLOCK as such."""
    block = header_block(c.ROUTE_CHECK, ["8015550123", UT + "\n\nHANGUP", "", "1.1", ""])
    split = block.index(b"HANGUP\n") + len(b"HANGUP\n")
    reader, writer = await asyncio.open_connection("127.0.0.1", node.port)
    try:
        writer.write(block[:split])
        await writer.drain()
        await asyncio.sleep(0.02)
        writer.write(block[split:])
        await writer.drain()
        command = await asyncio.wait_for(reader.readline(), timeout=2)
    finally:
        writer.close()
    assert command.startswith(b"EXEC MSet "), command
    answered = exec_mset_variables(command.decode().strip())
    assert (answered[c.VAR_VERDICT], answered[c.VAR_RULE]) == (
        "BLOCK", "callguard:bad-agi-request")
    assert "went on after its blank line" in answered[c.VAR_REASON]
    assert node.stats.counts["header_cut"] == 1
    assert node.stats.counts["hung_up"] == 0
    assert compliance_records(node)[-1]["rule"] == "callguard:bad-agi-request"


async def test_a_lone_hangup_without_the_close_is_still_a_hangup(node):
    """Without AGIEXITONHANGUP Asterisk writes one HANGUP and waits in dead mode (lab
    agi-callerhangup): nothing follows, and after the short wait it is a hang-up."""
    reader, writer = await asyncio.open_connection("127.0.0.1", node.port)
    try:
        writer.write(header_block(c.ROUTE_CHECK, ["8015550123", UT]) + b"HANGUP\n")
        await writer.drain()
        assert await asyncio.wait_for(reader.read(), timeout=2) == b""
    finally:
        writer.close()
    assert compliance_records(node)[-1]["rule"] == "callguard:hung-up"
    assert node.stats.counts["hung_up"] == 1
