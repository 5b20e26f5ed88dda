"""hcid24 over AMI: the endpoint's ``from_user`` read with a channel-less Getvar.

The fake AMI (tests/fake_ami.py) REPLAYS REAL Asterisk 22.10.1 TRAFFIC from
``../shared/fixtures/asterisk/ami/lab-asterisk-22.10.1/`` (call-01, answered, the callee
hangs up). The lab has no PJSIP trunk: its called party is the Local channel
``Local/201@callee-00000001;1``, renamed here ``PJSIP/itsp-00000001`` in every message (the
name chan_pjsip.c ``chan_pjsip_new`` gives a channel of endpoint ``itsp``); every other byte
is as recorded. The Getvar replies are the fake's, in manager.c ``action_getvar``'s format:
with no Channel it reads the function on a dummy channel and answers Success with the value,
"" for an unset field; an error (an endpoint unknown to a later reload, a refusal) or no
answer at all (Asterisk busy) is what it synthesises for the other two cases.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.fake_ami import CRLF, FakeAmi, lab_events, parse
from tests.test_watchdog import CALL_01, CALLED_01, node, until  # noqa: F401 - node: fixture

PJSIP_CALLED = "PJSIP/itsp-00000001"
FROM_USER = "PJSIP_ENDPOINT(itsp,from_user)"


class EndpointAmi(FakeAmi):
    """The fake, answering a Getvar with no Channel (a function of no channel) from
    ``endpoint_values``: a value, ``"error"`` (Response: Error) or ``"silent"`` (none)."""

    endpoint_values: dict[str, str]

    def __post_init__(self) -> None:
        super().__post_init__()
        self.endpoint_values = {}

    async def _action(self, writer: asyncio.StreamWriter, action: dict[str, str]) -> None:
        if action.get("Action", "").lower() != "getvar" or "Channel" in action:
            await super()._action(writer, action)
            return
        self.actions.append((time.monotonic(), action))
        value = self.endpoint_values.get(action.get("Variable", ""), "")
        if value == "silent":
            return
        if value == "error":
            reply = self._reply(action, Response="Error", Message="Variable not found")
        else:
            reply = self._reply(action, Response="Success",
                                Variable=action.get("Variable", ""), Value=value)
        writer.write(reply.encode())
        await writer.drain()


def _pjsip_events() -> list[str]:
    return [e.replace(CALLED_01, PJSIP_CALLED) for e in lab_events(CALL_01)]


async def _run(node, from_user: str) -> tuple[dict, object]:  # noqa: F811
    fake = EndpointAmi()
    fake.endpoint_values[FROM_USER] = from_user
    # an endpoint Asterisk found: its dtmf_mode is named (hrev113: proves "" is unset)
    fake.endpoint_values["PJSIP_ENDPOINT(itsp,dtmf_mode)"] = "rfc4733"
    n = await node(fake=fake)
    events = _pjsip_events()
    fake.variables[(PJSIP_CALLED, "CONNECTEDLINE(pres)")] = "allowed_not_screened"
    n.follow(events, caller_id="+4930123456")
    cut = next(i for i, e in enumerate(events) if parse(e).get("Event") == "BridgeEnter")
    await fake.send(events[:cut])
    await until(lambda: any(a.get("Action") == "Getvar" for _, a in fake.actions))
    await asyncio.sleep(0.05)
    await fake.send(events[cut:])
    await until(lambda: n.named("line-release"), timeout=5.0)
    return n.named("line-release")[0], n


def _asked_once(n) -> None:
    [asked] = [a for _, a in n.fake.actions if a.get("Variable") == FROM_USER]
    assert "Channel" not in asked  # the endpoint's, not the channel's: no "No such channel"


@pytest.mark.parametrize(("from_user", "caller_id"), [
    ("", "verified"),
    ("+4930123456", "verified"),
    ("18005550199", "mismatch"),
    ("error", "unverified"),
], ids=["unset", "equal", "another-number", "getvar-error"])
async def test_the_line_release_says_what_the_from_carried(node, from_user,  # noqa: F811
                                                            caller_id):
    record, n = await _run(node, from_user)
    assert record["caller_id"] == caller_id, record
    _asked_once(n)
    assert FROM_USER in record["caller_id_how"]
    assert "18005550199" not in repr(n.reports)
    if caller_id == "mismatch":
        [mismatch] = n.named("caller-id-mismatch")
        assert (mismatch["wire"], mismatch["from_user_last4"]) == ("from_user", "0199")
    if caller_id == "unverified":
        [unverified] = n.named("caller-id-unverified")
        assert FROM_USER in unverified["reason"]


async def test_an_unanswered_read_never_holds_the_release(node):  # noqa: F811
    """Asterisk never answers the endpoint's Getvar: the line is released as ever, and the
    caller ID is unverified (the read still out when the call ended, or timed out)."""
    record, n = await _run(node, "silent")
    assert record["caller_id"] == "unverified"
    _asked_once(n)
    assert record["release_ms"] < 1000, record  # the Getvar's timeout is 1 s here
    assert n.named("violation-risk") == []


def test_the_renamed_fixture_is_the_recorded_call():
    events = _pjsip_events()
    assert len(events) == len(lab_events(CALL_01))
    assert sum(PJSIP_CALLED in e for e in events) == sum(
        CALLED_01 in e for e in lab_events(CALL_01)) > 0
    assert all(CRLF in e for e in events)
