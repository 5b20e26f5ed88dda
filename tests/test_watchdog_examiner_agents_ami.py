"""Examiner hast12 (a) over real sockets: a restart does not hang up an agent's line.

Lab call-01 (Asterisk 22.10.1, exact bytes) replayed through the AMI fake, with ONE
SYNTHESISED channel beside it (said here): an agent's AgentLogin() channel, younger than
the call, whose Linkedid the basic bridge set to the call's (bridge_basic.c
``bridge_basic_push`` -> bridge_channel.c ``ast_bridge_channel_update_linkedids``: the
oldest Linkedid of the bridge wins), in the layout of lab call-01's channel blocks. The
watchdog is killed mid-call and a new one takes the CoreShowChannels picture (manager.c
``action_coreshowchannels``: ``Application`` is the snapshot's, AgentLogin for the whole
login, app_agent_pool.c ``agent_login_exec`` -> ``agent_run``); the called party then
hangs up. Before the fix the agent's channel was in the followed call's picture and got
an AMI Hangup with the dialer's legs.
"""

from __future__ import annotations

import time

from tests.fake_ami import lab_events, linkedid_of
from tests.test_watchdog import (
    CALL_01,
    CALLED_01,
    CALLEE_LEGS,
    CALLER_01,
    CALLER_DIAL,
    carried,
    following_fake,
    node,  # noqa: F401 - the fixture
    send_with_follow,
    until,
    with_g_option,
)

AGENT = "PJSIP/agent7-00000031"


def _agent_snapshot(linkedid: str) -> dict[str, str]:
    """SYNTHESISED: the agent's channel as a channel block of lab call-01 reads."""
    return {"Event": "Newchannel", "Privilege": "call,all", "Channel": AGENT,
            "ChannelState": "6", "ChannelStateDesc": "Up", "CallerIDNum": "207",
            "CallerIDName": "Agent Seven", "ConnectedLineNum": "<unknown>",
            "ConnectedLineName": "<unknown>", "Language": "en", "AccountCode": "",
            "Context": "agents", "Exten": "login", "Priority": "2",
            "Uniqueid": "1795326270.41", "Linkedid": linkedid}


async def test_a_restarted_watchdog_does_not_hang_up_the_agents_line(node):  # noqa: F811
    events = lab_events(CALL_01)
    linkedid = linkedid_of(events)
    fake = following_fake()
    fake.applications.update({CALLER_DIAL: "Dial", CALLEE_LEGS[0]: "AppDial",
                              AGENT: "AgentLogin"})
    first = await node(fake=fake)
    before, held = with_g_option(events, CALLED_01)
    fake.hold(held)
    await send_with_follow(fake, before[:-6], carried())
    await until(lambda: first.tracker.followed == 1)
    await first.kill()
    fake.live[AGENT] = _agent_snapshot(linkedid)  # logged in and bridged while down
    second = await node(fake=fake, known_until=time.monotonic())
    assert second.tracker.followed == 1
    await fake.send(before[-6:])  # the called party hangs up
    await until(lambda: second.named("line-release"))
    assert AGENT not in fake.hangups()
    assert sorted(fake.hangups()) == CALLER_01
    [record] = second.named("line-release")
    assert record["ended_by"] == "called-party"
    assert record["release_ms"] < 5000
