"""The FastAGI front against what a real Asterisk 22 sends and does, beyond the recordings.

Examiner tests (session 16). Each speaks over real TCP to callguard's front, replaying the
bytes res_agi.c shows Asterisk would write, and applying callguard's answer the way
Asterisk would (``tests/asterisk_replica.py`` for the parsing layers; what this file adds
to it, it names).
"""

from __future__ import annotations

import asyncio
import json
import re

import pytest
import structlog.testing

from callguard.fronts.fastagi import contract as c
from callguard.numbers.redact import has_digit_run
from tests.asterisk_replica import agi_parse_args, mset
from tests.fake_asterisk import header_block, recorded_headers
from tests.test_fastagi import UT, compliance_records, node

__all__ = ["node"]  # the fixture, from test_fastagi

_VARIABLE = re.compile(r"\$\{([A-Za-z0-9_]+)\}")


def substitute(text: str, channel: dict[str, str]) -> str:
    """pbx_variables.c ``ast_str_substitute_variables`` for plain ``${NAME}`` references
    (what res_agi.c ``handle_exec`` runs on the EXEC arguments when the channel's
    ``AGIEXECFULL`` is true — Asterisk 20+/22 docs for EXEC: "exec does not evaluate
    dialplan functions and variables unless it is explicitly enabled by setting the
    AGIEXECFULL variable to 'yes'"). A '$' followed by anything but '{' or '[' is
    copied as it is; a function reference (``${F(x)}``) is not modelled: callguard's
    escaping puts a backslash before its '(' so no function of that name exists."""
    return _VARIABLE.sub(lambda m: channel.get(m.group(1), ""), text)


async def exec_full_session(port: int, args: list[str], channel: dict[str, str]) -> dict:
    """A FastAGI session on a channel holding ``channel``'s variables, with AGIEXECFULL:
    each EXEC MSet's data is substituted, then parsed by MSet; GET VARIABLE answers from
    the channel as res_agi.c handle_getvariable does. Returns the channel's variables."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(header_block(c.ROUTE_CHECK, args, port=port))
        await writer.drain()
        async with asyncio.timeout(5):
            while line := await reader.readline():
                argv = agi_parse_args(line.decode().rstrip("\n"))
                if [a.upper() for a in argv[:2]] == ["EXEC", "MSET"]:
                    data = argv[2] if len(argv) > 2 else ""
                    if channel.get("AGIEXECFULL", "").lower() in ("yes", "true", "1", "on"):
                        data = substitute(data, channel)
                    channel.update(mset(data))
                    writer.write(b"200 result=0\n")
                elif [a.upper() for a in argv[:2]] == ["GET", "VARIABLE"]:
                    value = channel.get(argv[2])
                    writer.write(b"200 result=0\n" if value is None
                                 else f"200 result=1 ({value})\n".encode())
                else:
                    writer.write(b"510 Invalid or unknown command\n")
                await writer.drain()
    finally:
        writer.close()
    return channel


class TestExecFull:
    """AGIEXECFULL=yes (a channel or global variable an admin sets for other AGI scripts)
    makes Asterisk substitute ``${...}`` in the whole MSet data before MSet splits it.
    callguard quotes the campaign, mode and location it was given in its BLOCK reasons,
    and escapes ( [ , " \\ and { }: a '${NAME}' in a CRM value stays text."""

    async def test_a_campaign_naming_a_variable_cannot_turn_a_block_into_allow(self, node):
        channel = {"AGIEXECFULL": "yes",
                   # a dialer's Originate Variable from the CRM (a lead's name or note)
                   "LEAD_NOTE": "x,CALLGUARD_VERDICT=ALLOW,X="}
        seen = await exec_full_session(node.port, ["8015550199", "${LEAD_NOTE}"], channel)
        record = compliance_records(node)[-1]
        assert record["verdict"] == "BLOCK"
        # the dialplan dials on ALLOW with a decision id: it must read BLOCK
        assert (seen[c.VAR_VERDICT], seen[c.VAR_DECISION_ID]) == ("BLOCK",
                                                                  record["decision_id"])

    async def test_a_location_naming_a_variable_does_not_read_it_out(self, node):
        channel = {"AGIEXECFULL": "yes", "CRM_DB_PASSWORD": "hunter2"}
        seen = await exec_full_session(
            node.port, ["8015550123", UT, "", "l.1", "${CRM_DB_PASSWORD}"], channel)
        assert seen[c.VAR_VERDICT] == "BLOCK"
        assert "hunter2" not in seen[c.VAR_REASON]
        assert "${CRM_DB_PASSWORD}" in seen[c.VAR_REASON]

    async def test_without_exec_full_the_reason_is_literal(self, node):
        """The default (AGIEXECFULL unset): the value stays text, the BLOCK stands."""
        channel = {"LEAD_NOTE": "x,CALLGUARD_VERDICT=ALLOW,X="}
        seen = await exec_full_session(node.port, ["8015550199", "${LEAD_NOTE}"], channel)
        assert seen[c.VAR_VERDICT] == "BLOCK"
        assert "${LEAD_NOTE}" in seen[c.VAR_REASON]


def _block_with(replace: dict[bytes, bytes], args: list[str], port: int) -> bytes:
    """The recorded block (agi-normal), some of its channel lines swapped for values
    res_agi.c setup_env writes as the channel holds them."""
    lines = []
    for line in header_block(c.ROUTE_CHECK, args, port=port).split(b"\n"):
        key = line.split(b":", 1)[0]
        lines.append(replace.get(key, line))
    return b"\n".join(lines)


class TestUnusualChannelLines:
    """setup_env writes ``agi_callerid``/``agi_calleridname`` as ``unknown`` when absent,
    ``agi_dnid``/``agi_rdnis`` likewise, the name as the channel holds it (quotes, commas,
    Latin-1 bytes), and ``agi_accountcode: `` with a trailing space. None of these lines
    is read by the decision: the verdict must be the one the arguments give."""

    @pytest.mark.parametrize("replace", [
        {b"agi_callerid": b"agi_callerid: unknown",
         b"agi_calleridname": b"agi_calleridname: unknown",
         b"agi_dnid": b"agi_dnid: unknown", b"agi_rdnis": b"agi_rdnis: unknown"},
        {b"agi_callerid": b"agi_callerid: +18015550142",
         b"agi_calleridname": b'agi_calleridname: "Smith, J." <8015550142> \\ (x) [y]',
         b"agi_dnid": b"agi_dnid: 18015550123", b"agi_rdnis": b"agi_rdnis: 8015550177"},
        {b"agi_calleridname": b"agi_calleridname: M\xfcller",  # Latin-1, not UTF-8
         b"agi_language": b"agi_language: "},
        {b"agi_callingpres": b"agi_callingpres: 67",
         b"agi_uniqueid": b"agi_uniqueid: callguard-lab-1795326224.0"},
    ], ids=["unknown", "quoted-name-and-numbers", "latin1-name", "pres-unavailable"])
    async def test_channel_lines_do_not_change_the_verdict(self, node, replace):
        with structlog.testing.capture_logs() as logs:
            block = _block_with(replace, ["8015550123", UT, "", "l.1", ""], node.port)
            reader, writer = await asyncio.open_connection("127.0.0.1", node.port)
            writer.write(block)
            await writer.drain()
            command = (await asyncio.wait_for(reader.readline(), 3)).decode()
            writer.write(b"200 result=0\n")
            await writer.drain()
            variables = mset(agi_parse_args(command.rstrip("\n"))[2])
            confirm = (await asyncio.wait_for(reader.readline(), 3)).decode()
            assert confirm == f"GET VARIABLE {c.VAR_DECISION_ID}\n"
            writer.write(f"200 result=1 ({variables[c.VAR_DECISION_ID]})\n".encode())
            await writer.drain()
            assert await asyncio.wait_for(reader.read(), 3) == b""
            writer.close()
        assert variables[c.VAR_VERDICT] == "ALLOW", variables
        assert node.stats.counts["answer_unconfirmed"] == 0
        text = json.dumps(logs)
        for number in ("8015550142", "8015550123", "8015550177", "18015550123"):
            assert number not in text

    async def test_an_argument_with_a_leading_space_is_not_dialled(self, node):
        """``AGI(agi://h/callguard, ${NUM},...)``: app.c __ast_app_separate_args keeps the
        space after the comma; Dial() would get it too. A BLOCK, never a crash."""
        block = header_block(c.ROUTE_CHECK, [" 8015550123", UT], port=node.port)
        reader, writer = await asyncio.open_connection("127.0.0.1", node.port)
        writer.write(block)
        await writer.drain()
        command = (await asyncio.wait_for(reader.readline(), 3)).decode()
        writer.close()
        variables = mset(agi_parse_args(command.rstrip("\n"))[2])
        assert variables[c.VAR_VERDICT] == "BLOCK"
        assert not has_digit_run(variables[c.VAR_REASON])


class TestHangupWhileDeciding:
    """The shipped dialplan sets AGIEXITONHANGUP=yes: when the caller hangs up while
    callguard decides, res_agi.c run_agi writes ``HANGUP``, breaks out of its loop, writes
    ``HANGUP`` again (AGISIGHUP is not 'no') and closes the socket before callguard's
    answer (lab agi-callerhangup-exitonhangup)."""

    async def test_the_session_ends_without_error_or_number(self, node):
        with structlog.testing.capture_logs() as logs:
            block = header_block(c.ROUTE_CHECK, ["8015550123", UT], port=node.port)
            _reader, writer = await asyncio.open_connection("127.0.0.1", node.port)
            writer.write(block + b"HANGUP\nHANGUP\n")
            await writer.drain()
            writer.close()
            await asyncio.sleep(0.5)
        assert node.stats.connected == 0
        assert node.stats.active == 0
        # the HANGUP came with the block: not decided, recorded BLOCK (callguard:hung-up),
        # nothing sent to the closed socket; counted, and logged without the number
        assert node.stats.counts["hung_up"] == 1, node.stats.counts
        assert node.stats.counts["reply_failed"] == 0, node.stats.counts
        assert "8015550123" not in json.dumps(logs)


def test_recorded_header_has_trailing_space_accountcode():
    """Guard on the fixture itself: the lab block holds ``agi_accountcode: `` (a trailing
    space), the shape the unusual-lines tests keep."""
    assert b"agi_accountcode: " in recorded_headers()
