"""Review of hast18's AppDial2 rule over real sockets: a restart's picture lists a ringing
``AppDial2`` leg carrying the gate's value that is NOT the called party.

Lab ``originate-app-answered`` (Asterisk 22.10.1, exact bytes) replayed through the AMI
fake while no watchdog runs: an Originate's leg (``Local/201@callee-00000012;1``: its
Uniqueid is its Linkedid, 1795326302.36 — requested with no calling channel) answered, its
far half ``;2`` up. Beside it ONE SYNTHESISED channel (said here), in the layout of the
lab's channel blocks: the agent's leg an ARI dialer requested for the answered customer
with ``originator`` = ``;1`` (res/ari/resource_channels.c ``ast_dial_prerun(dial, other,
...)``), so dial.c ``begin_dial_prerun`` named it ``AppDial2`` and copied ``;1``'s
variables onto it (``ast_channel_inherit_variables``: ``__CALLGUARD_FOLLOW`` with them),
and it has ``;1``'s Linkedid (channel_internal_api.c: a requestor's). The applications
are the picture's (fake_ami ``applications``). A new watchdog starts, takes the picture;
the agent answers, talks, hangs up first; the customer's side stays up (the dialer's
after-call message). On 3f4d68c the agent was taken for the called party and its hangup
made the watchdog hang up the customer's channels.
"""

from __future__ import annotations

import asyncio
import time

from tests.fake_ami import CRLF, lab_events, linkedid_of, parse
from tests.test_watchdog import carried, following_fake, node, until  # noqa: F401

FOLLOW = "CALLGUARD_FOLLOW"
ONE = "Local/201@callee-00000012;1"
TWO = "Local/201@callee-00000012;2"
AGENT = "PJSIP/agent-00000013"
AGENT_ID = "1795326302.38"
BRIDGE = "5e0a0000-0000-4000-8000-0000000c0e13"


def _message(fields: dict[str, str]) -> str:
    return CRLF.join(f"{k}: {v}" for k, v in fields.items())


def _agent_block(linkedid: str, state: str) -> dict[str, str]:
    """SYNTHESISED: the agent's leg as the lab's channel blocks read."""
    desc = {"5": "Ringing", "6": "Up"}[state]
    return {"Channel": AGENT, "ChannelState": state, "ChannelStateDesc": desc,
            "CallerIDNum": "207", "CallerIDName": "Agent Seven",
            "ConnectedLineNum": "900", "ConnectedLineName": "Callguard", "Language": "en",
            "AccountCode": "", "Context": "default", "Exten": "s", "Priority": "1",
            "Uniqueid": AGENT_ID, "Linkedid": linkedid}


async def test_an_agent_leg_inheriting_the_value_is_not_taken_for_the_called_party(
        node):  # noqa: F811
    events = lab_events("originate-app-answered")
    linkedid = linkedid_of(events)
    answered = next(i for i, e in enumerate(events) if parse(e).get("Event") == "DialEnd")
    fake = following_fake()
    value = carried()
    for channel in (ONE, TWO, AGENT):  # ;2 a copy (core_local), the agent inherited it
        fake.set_variable(channel, FOLLOW, value)
    await fake.send(events[:answered + 2])  # nobody watching: only the picture keeps them
    ringing = _agent_block(linkedid, "5")
    fake.live[AGENT] = {"Event": "Newchannel", **ringing}
    fake.applications.update({ONE: "Stasis", TWO: "Wait", AGENT: "AppDial2"})
    watchdog = await node(fake=fake, known_until=time.monotonic())
    await until(lambda: watchdog.tracker.followed == 1)
    up = _agent_block(linkedid, "6")
    dest = {f"Dest{k}": v for k, v in up.items()}
    # ;1's channel block as the lab's DialEnd ANSWER wrote it
    one = {k.removeprefix("Dest"): v for k, v in parse(events[answered]).items()
           if k.startswith("Dest")}
    assert one["Channel"] == ONE
    assert one["Uniqueid"] == one["Linkedid"] == linkedid  # requested by no channel
    await fake.send([
        _message({"Event": "DialEnd", "Privilege": "call,all", **dest,
                  "DialStatus": "ANSWER"}),
        _message({"Event": "BridgeEnter", "Privilege": "call,all",
                  "BridgeUniqueid": BRIDGE, **one}),
        _message({"Event": "BridgeEnter", "Privilege": "call,all",
                  "BridgeUniqueid": BRIDGE, **up}),
        _message({"Event": "BridgeLeave", "Privilege": "call,all",
                  "BridgeUniqueid": BRIDGE, **up}),
        _message({"Event": "Hangup", "Privilege": "call,all", **up, "Cause": "16",
                  "Cause-txt": "Normal Clearing"}),
    ])
    await asyncio.sleep(1.0)  # grace 0, retries every 0.2 s: a release would be sent
    assert ONE not in fake.hangups()
    assert TWO not in fake.hangups()
    assert not watchdog.named("line-release")
