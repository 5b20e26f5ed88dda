"""Reviewer hrev15's finding over real sockets: the agent hangs up first, the call goes on.

Lab call-01 (Asterisk 22.10.1, exact bytes) replayed through the AMI fake, with the calling
phone's other half (``Local/long@fakephone…;2``, in Wait() in the lab) Dial()ing an agent
with ``g`` while the called party talks through ``;1``: SYNTHESISED events (said here), in
the layout of lab call-01's DialBegin/BridgeEnter/BridgeLeave and channel blocks. The agent
hangs up; its basic bridge with ``;2`` dissolves and ``;2`` runs on (app_dial.c
``dial_exec_full``: OPT_GO_ON and the dialling channel not hung up → ``res = 0``), while
the called party is still in its own Dial() bridge with ``;1``, which nothing dissolved.
Over a second later the called party hangs up as lab call-01 recorded it. On 2dd1ab6 the
agent's hangup was the call's first: the dialer's legs were never hung up (47 U.S.C.
227(d)(3)(B); 47 CFR 64.1200(a)(6); Utah Code 13-25a-103(5)(e)) and the record said
"caller".
"""

from __future__ import annotations

import asyncio

from tests.fake_ami import CRLF, lab_events, parse
from tests.test_watchdog import (
    CALL_01,
    CALLED_01,
    CALLER_01,
    carried,
    following_fake,
    node,  # noqa: F401 - the fixture
    send_with_follow,
    until,
    with_g_option,
)

AGENT = "PJSIP/agent7-00000031"
AGENT_ID = "1795326250.9"
AGENT_BRIDGE = "5d0c7a11-2f3e-4b8a-9c6d-agentbridge07"
_BLOCK = ("Channel", "ChannelState", "ChannelStateDesc", "CallerIDNum", "CallerIDName",
          "ConnectedLineNum", "ConnectedLineName", "Language", "AccountCode", "Context",
          "Exten", "Priority", "Uniqueid", "Linkedid")


def _message(fields: dict[str, str]) -> str:
    return CRLF.join(f"{key}: {value}" for key, value in fields.items())


def _dest(block: dict[str, str]) -> dict[str, str]:
    return {f"Dest{key}": block[key] for key in _BLOCK}


def _bridge(event: str, block: dict[str, str]) -> str:
    return _message({"Event": event, "Privilege": "call,all",
                     "BridgeUniqueid": AGENT_BRIDGE, "BridgeType": "basic",
                     "BridgeTechnology": "simple_bridge", "BridgeCreator": "<unknown>",
                     "BridgeName": "<unknown>", "BridgeNumChannels": "2",
                     "BridgeVideoSourceMode": "none",
                     **{key: block[key] for key in _BLOCK}})


def _agent_hangs_up_first(events: list[str]) -> list[str]:
    """``;2`` Dial()s the agent with ``g``; the agent answers, then hangs up."""
    two = next(parse(e) for e in reversed(events)
               if parse(e).get("Channel") == CALLER_01[1] and "Uniqueid" in parse(e))
    two = {**two, "ChannelState": "6", "ChannelStateDesc": "Up"}
    agent = {"Channel": AGENT, "ChannelState": "0", "ChannelStateDesc": "Down",
             "CallerIDNum": "207", "CallerIDName": "Agent Seven",
             "ConnectedLineNum": "<unknown>", "ConnectedLineName": "<unknown>",
             "Language": "en", "AccountCode": "", "Context": "agents", "Exten": "s",
             "Priority": "1", "Uniqueid": AGENT_ID, "Linkedid": two["Linkedid"]}
    up = {**agent, "ChannelState": "6", "ChannelStateDesc": "Up"}
    caller = {key: two[key] for key in _BLOCK}
    return [
        _message({"Event": "Newchannel", "Privilege": "call,all", **agent}),
        _message({"Event": "DialBegin", "Privilege": "call,all", **caller, **_dest(agent),
                  "DialString": "agent7"}),
        _message({"Event": "DialEnd", "Privilege": "call,all", **caller, **_dest(up),
                  "DialStatus": "ANSWER"}),
        _bridge("BridgeEnter", two), _bridge("BridgeEnter", up),
        _bridge("BridgeLeave", up),
        _message({"Event": "Hangup", "Privilege": "call,all", **up, "Cause": "16",
                  "Cause-txt": "Normal Clearing"}),
        _bridge("BridgeLeave", two),
    ]


async def test_the_agent_hanging_up_first_leaves_the_release_to_the_callees_hangup(
        node):  # noqa: F811
    before, held = with_g_option(lab_events(CALL_01), CALLED_01)
    cut = next(i for i, e in enumerate(before)
               if parse(e).get("Event") in ("HangupRequest", "SoftHangupRequest", "Hangup")
               and parse(e).get("Channel") in (CALLED_01, CALLED_01[:-1] + "2"))
    n = await node(fake=following_fake())
    n.fake.hold(held)
    await send_with_follow(n.fake, [*before[:cut], *_agent_hangs_up_first(before[:cut])],
                           carried())
    await asyncio.sleep(1.2)  # the survey plays; the called party hangs up after it
    await n.fake.send(before[cut:])
    await until(lambda: n.named("line-release"))
    assert AGENT not in n.fake.hangups()
    assert sorted(set(n.fake.hangups())) == CALLER_01
    [record] = n.named("line-release")
    assert record["ended_by"] == "called-party"
    assert record["release_ms"] < 5000
