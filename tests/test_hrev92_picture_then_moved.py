"""hrev92: a release decided from a picture is not carried out on a channel that has
joined a conversation since.

After a (re)connect ``AmiWatchdog._rebuild`` reads the picture (``CoreShowChannels``, and
since afe003e ``BridgeList``'s holding bridges) and only then replays the events held while
it was taken (``_replay``); the picture's release of a known, answered call waits for the
transfer variables (``CallTracker._check_transfer``, ``transfer_check_s``) and was then
sent whatever those events said. With BridgeList, a channel the picture shows in a holding
bridge — an agent in BridgeWait()'s pool (app_bridgewait.c; ``BridgeTechnology:
holding_bridge``) — is no longer "talking" (``_joined`` skips lots) and is released; the
pool exists to hand its agents on, and one bridged with a new customer in the moment
after the picture (a BridgeLeave of the pool, a BridgeEnter of a basic bridge beside the
new customer: held, replayed after the read) was hung up for the old call's hangup,
cutting the new customer's conversation. Before afe003e the same came of an agent alone
in the pool. Now ``_moved_to_talk`` asks ``_still_talking`` again when that release comes
due: talking, nothing is hung up, a violation risk says so, the line-release says
``release_unproven``.

SYNTHESISED events in Asterisk 22's layout (manager_bridges.c ``channel_enter_cb`` /
``channel_leave_cb``: the bridge state string then the channel's; app_dial.c DialBegin /
DialEnd), as tests/test_hwd22_holding_restart.py: no lab capture has a BridgeWait() pool.
The tracker directly with a synthetic clock, and over the fake AMI (tests/fake_ami.py:
``behind_picture`` are the events Asterisk writes right after the channel list).
"""

from __future__ import annotations

import asyncio
import time

from callguard.fronts.fastagi.contract import VAR_FOLLOW
from callguard.watchdog.calls import (
    CallTracker,
    Followed,
    HangupChannel,
    ReadVariable,
    TrackerSettings,
)
from tests.fake_ami import CRLF, FakeAmi
from tests.test_watchdog import Node, until, written

CALL, CUSTOMER_ID = "1795800000.0", "1795800000.1"
NEW_ID, OTHER_ID = "1795800050.0", "1795790000.5"
AGENT, OTHER = "PJSIP/agent7-00000010", "PJSIP/agent9-00000011"
CUSTOMER, NEW = "PJSIP/itsp-00000012", "PJSIP/itsp-00000020"  # the call's; the next one
POOL = "0b0e0000-0000-4000-8000-a9e475f00101"  # BridgeWait(agents)'s holding bridge
TALK0 = "0b0e0000-0000-4000-8000-a9e475f00303"  # the call's own conversation
TALK = "0b0e0000-0000-4000-8000-a9e475f00202"  # the agent and the next customer
UTAH = "Utah Code 13-25a-103(5)(e)"


def _channel(event: str, name: str, uniqueid: str, linkedid: str = CALL,
             **more: str) -> dict[str, str]:
    return {"Event": event, "Privilege": "call,all", "Channel": name, "ChannelState": "6",
            "ChannelStateDesc": "Up", "Uniqueid": uniqueid, "Linkedid": linkedid, **more}


def _bridged(event: str, name: str, uniqueid: str, bridge: str, *, holding: bool,
             linkedid: str = CALL) -> dict[str, str]:
    state = {"BridgeUniqueid": bridge, "BridgeType": "base" if holding else "basic",
             "BridgeTechnology": "holding_bridge" if holding else "simple_bridge",
             "BridgeCreator": "BridgeWait" if holding else "<unknown>",
             "BridgeName": "agents" if holding else "<unknown>", "BridgeNumChannels": "2",
             "BridgeVideoSourceMode": "none"}
    return {"Event": event, "Privilege": "call,all", **state,
            **{k: v for k, v in _channel(event, name, uniqueid, linkedid).items()
               if k not in ("Event", "Privilege")}}


def _dial(event: str, **more: str) -> dict[str, str]:
    return {"Event": event, "Privilege": "call,all", "Channel": AGENT, "Uniqueid": CALL,
            "Linkedid": CALL, "DestChannel": CUSTOMER, "DestUniqueid": CUSTOMER_ID,
            "DestLinkedid": CALL, **more}


LIVE_CALL = [_channel("Newchannel", AGENT, CALL),
             _dial("DialBegin", DialString="itsp/+15551230000"),
             _channel("Newchannel", CUSTOMER, CUSTOMER_ID),
             _dial("DialEnd", DialStatus="ANSWER"),
             _bridged("BridgeEnter", AGENT, CALL, TALK0, holding=False),
             _bridged("BridgeEnter", CUSTOMER, CUSTOMER_ID, TALK0, holding=False)]
# after the picture: the agent taken from the pool to the next customer
MOVED = [_bridged("BridgeLeave", AGENT, CALL, POOL, holding=True),
         _channel("Newchannel", NEW, NEW_ID, NEW_ID),
         _bridged("BridgeEnter", NEW, NEW_ID, TALK, holding=False, linkedid=NEW_ID),
         _bridged("BridgeEnter", AGENT, CALL, TALK, holding=False)]


def _followed(now: float) -> Followed:
    return Followed("d-hrev92-pool", CALL, "ut-solar-predictive", "predictive", 25.0, UTAH,
                    "+4930123456", now, asker=AGENT)


def _item(name: str, uniqueid: str, linkedid: str) -> dict[str, str]:
    return {"Event": "CoreShowChannel", "Channel": name, "Uniqueid": uniqueid,
            "Linkedid": linkedid, "ChannelState": "6", "Application": "BridgeWait",
            "BridgeId": POOL, "Duration": "00:00:40"}


def _after_outage(lots: list[str] | None, moved: bool
                  ) -> tuple[list[str], list[tuple[str, dict]]]:
    """The call followed live; AMI away while the customer hangs up and the agent goes to
    the pool; the picture; then (``moved``) the held events, as ``_replay`` feeds them."""
    reports: list[tuple[str, dict]] = []
    tracker = CallTracker(TrackerSettings(), report=written(reports))
    now = 10.0
    tracker.follow(_followed(now))
    for event in LIVE_CALL:
        now += 0.1
        tracker.feed(event, now)
    tracker.disconnected(now)
    now += 20.0
    todo = tracker.reconcile([_item(AGENT, CALL, CALL), _item(OTHER, OTHER_ID, OTHER_ID)],
                             now, lots=lots)
    effects = list(todo)
    for event in MOVED if moved else []:
        now += 0.01
        effects += tracker.feed(event, now)
    for read in todo:
        if isinstance(read, ReadVariable):
            now += 0.01
            effects += tracker.variable_read(read.linkedid, read.channel, read.variable, "",
                                             now)
    for _ in range(4):
        now += 0.3
        effects += tracker.due(now)
    for event in ([_channel("Hangup", AGENT, CALL, Cause="16")] if moved else []):
        now += 1.0
        effects += tracker.feed(event, now)  # the agent's conversation ends, later
    return [e.channel for e in effects if isinstance(e, HangupChannel)], reports


def test_an_agent_taken_from_the_pool_to_a_new_customer_is_not_hung_up():
    hung, reports = _after_outage([POOL], moved=True)
    assert hung == []  # failed before: the agent, three times, beside the new customer
    [risk] = [f for name, f in reports if name == "violation-risk"]
    assert "live party" in risk["reason"]
    [record] = [f for name, f in reports if name == "line-release"]
    assert record["release_unproven"] is True
    assert record["ended_by"] == "unknown (AMI disconnected)"


def test_control_an_agent_left_in_the_pool_is_released():
    hung, reports = _after_outage([POOL], moved=False)
    assert hung
    assert set(hung) == {AGENT}
    assert not [f for name, f in reports if name == "violation-risk"]


def test_control_without_the_bridge_list_nothing_is_hung_up_either():
    hung, _ = _after_outage(None, moved=True)
    assert hung == []


def _text(event: dict[str, str]) -> str:
    return CRLF.join(f"{k}: {v}" for k, v in event.items())


async def test_over_the_socket_the_held_move_keeps_the_agent_up():
    fake = FakeAmi(channelvars=(VAR_FOLLOW,),
                   bridge_list=[{"BridgeUniqueid": POOL, "BridgeType": "base",
                                 "BridgeTechnology": "holding_bridge",
                                 "BridgeCreator": "BridgeWait", "BridgeName": "agents",
                                 "BridgeNumChannels": "2"}])
    node = await Node(fake).start()
    assert node.watchdog is not None
    try:
        node.watchdog.run(node.tracker.follow(_followed(time.monotonic())))
        await fake.send([_text(e) for e in LIVE_CALL])
        await until(lambda: node.tracker.calls.get(CALL) is not None
                    and node.tracker.calls[CALL].answered_at is not None)
        await fake.drop()  # AMI away: the customer hangs up, the agent goes to the pool
        await fake.send([_text(_channel("Hangup", CUSTOMER, CUSTOMER_ID, Cause="16"))])
        fake.live[OTHER] = _channel("Newchannel", OTHER, OTHER_ID, OTHER_ID)
        fake.names[OTHER_ID] = OTHER
        for name in (AGENT, OTHER):
            fake.applications[name], fake.bridge_ids[name] = "BridgeWait", POOL
        fake.behind_picture = [_text(e) for e in MOVED]
        await until(lambda: fake.logins >= 2 and node.watchdog is not None
                    and node.watchdog.rebuilt)
        await asyncio.sleep(1.5)  # past transfer_check_s (0.5 s) and two retries
        assert AGENT not in fake.hangups()  # failed before: hung up beside the new customer
        [risk] = node.named("violation-risk")
        assert "live party" in risk["reason"]
    finally:
        await node.stop()
