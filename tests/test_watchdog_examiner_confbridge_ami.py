"""Reviewer hrev15 over real sockets: an agent leaving a ConfBridge does not stop the release.

Lab call-01 (Asterisk 22.10.1, exact bytes) replayed through the AMI fake with the calling
phone's half (``Local/long@fakephone…;2``) in a conference instead of its Wait(), and an
agent's channel of its own call in that conference: SYNTHESISED events (said here), in the
layout of lab call-01's BridgeEnter/BridgeLeave and channel blocks, with the bridge
snapshot app_confbridge.c gives its bridge (``ast_bridge_base_new``: ``BridgeType: base``,
technology softmix, creator ConfBridge — no AST_BRIDGE_FLAG_DISSOLVE_HANGUP, and no
Linkedid update: only bridge_basic.c ``bridge_basic_push`` and res_stasis's push call
``ast_bridge_channel_update_linkedids``). The agent leaves the conference alive, then the
called party hangs up as lab call-01 recorded it. On d39bcc3 the agent's BridgeLeave was
taken for the end of the call: the dialer's legs were never hung up (47 U.S.C.
227(d)(3)(B); Utah Code 13-25a-103(5)(e)) and the record said "caller".
"""

from __future__ import annotations

from tests.fake_ami import CRLF, lab_events, parse
from tests.test_watchdog import (
    CALL_01,
    CALLED_01,
    CALLEE_LEGS,
    CALLER_01,
    carried,
    following_fake,
    node,  # noqa: F401 - the fixture
    send_with_follow,
    until,
    with_g_option,
)

AGENT = "PJSIP/agent7-00000031"
AGENT_ID = "1795326240.41"  # dialled into its conference before the call
CONF = {"BridgeUniqueid": "c9a1e0f2-5b7d-4c61-9d1e-confbridge0007", "BridgeType": "base",
        "BridgeTechnology": "softmix", "BridgeCreator": "ConfBridge",
        "BridgeName": "agent7", "BridgeNumChannels": "1", "BridgeVideoSourceMode": "none"}
_BLOCK = ("Channel", "ChannelState", "ChannelStateDesc", "CallerIDNum", "CallerIDName",
          "ConnectedLineNum", "ConnectedLineName", "Language", "AccountCode", "Context",
          "Exten", "Priority", "Uniqueid", "Linkedid")


def _message(fields: dict[str, str]) -> str:
    return CRLF.join(f"{key}: {value}" for key, value in fields.items())


def _bridge(event: str, block: dict[str, str]) -> str:
    return _message({"Event": event, "Privilege": "call,all", **CONF,
                     **{key: block[key] for key in _BLOCK}})


def _conference(events: list[str]) -> list[str]:
    """The phone's half and the agent in the conference, the agent leaving it alive."""
    phone = next(parse(e) for e in reversed(events)
                 if parse(e).get("Channel") == CALLER_01[1] and "Uniqueid" in parse(e))
    agent = {"Channel": AGENT, "ChannelState": "6", "ChannelStateDesc": "Up",
             "CallerIDNum": "207", "CallerIDName": "Agent Seven",
             "ConnectedLineNum": "<unknown>", "ConnectedLineName": "<unknown>",
             "Language": "en", "AccountCode": "", "Context": "agents", "Exten": "conf",
             "Priority": "3", "Uniqueid": AGENT_ID, "Linkedid": AGENT_ID}
    return [_message({"Event": "Newchannel", "Privilege": "call,all", **agent}),
            _bridge("BridgeEnter", agent), _bridge("BridgeEnter", phone),
            _bridge("BridgeLeave", agent)]


async def test_the_agent_leaving_the_conference_alive_leaves_the_release_to_the_callee(
        node):  # noqa: F811
    before, held = with_g_option(lab_events(CALL_01), CALLED_01)
    cut = next(i for i, e in enumerate(before)
               if parse(e).get("Event") in ("HangupRequest", "SoftHangupRequest", "Hangup")
               and parse(e).get("Channel") in CALLEE_LEGS)  # the called party hangs up
    events = [*before[:cut], *_conference(before[:cut]), *before[cut:]]
    n = await node(fake=following_fake())
    n.fake.hold(held)
    await send_with_follow(n.fake, events, carried())
    await until(lambda: n.named("line-release"))
    assert AGENT not in n.fake.hangups()
    assert sorted(set(n.fake.hangups())) == CALLER_01
    [record] = n.named("line-release")
    assert record["ended_by"] == "called-party"
    assert record["release_ms"] < 5000
