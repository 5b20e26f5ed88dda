"""hrev99: review of hrev92's ``CallTracker._moved_to_talk`` (a06dafd, 2fb069f).

The release a picture decides (``_release_after_outage``) is asked again, when it comes
due, whether the channel left has joined a conversation since. Checked here with the
tracker directly and a synthetic clock, reusing tests/test_hrev92_picture_then_moved.py's
SYNTHESISED Asterisk-22-layout events (no lab capture has a BridgeWait() pool):

- a channel left that is merely alone in a basic bridge, bridged only with a Local half
  whose partner hears nobody, or moved to another holding bridge beside another agent is
  not in a conversation (``_still_talking`` None): the release still happens;
- on a standby (``deactivate``) the recheck was consumed at its first due() and the release
  stayed pending; a takeover (``activate``) later sent it on that stale answer, hanging up
  an agent bridged with a new customer meanwhile — the harm hrev92 fixed, by the standby
  path. Now the standby asks again at each due() until the release is its to send;
- the conversation ending later does not bring the release back: the release stays
  unproven (as when the picture itself shows them talking), the call is written when its
  last channel goes.
"""

from __future__ import annotations

from callguard.watchdog.calls import CallTracker, HangupChannel, ReadVariable, TrackerSettings
from tests.test_hrev92_picture_then_moved import (
    AGENT,
    CALL,
    LIVE_CALL,
    MOVED,
    NEW,
    NEW_ID,
    OTHER,
    OTHER_ID,
    POOL,
    TALK,
    _bridged,
    _channel,
    _followed,
    _item,
)
from tests.test_watchdog import written

LOT2 = "0b0e0000-0000-4000-8000-a9e475f00404"  # another BridgeWait() pool
AGENT2, AGENT2_ID = "PJSIP/agent3-00000030", "1795800060.0"
LOCAL1, LOCAL2 = "Local/play@prompts-00000001;1", "Local/play@prompts-00000001;2"


def _picture(standby: bool = False) -> tuple[CallTracker, list, list, float]:
    reports: list[tuple[str, dict]] = []
    tracker = CallTracker(TrackerSettings(), report=written(reports))
    if standby:
        tracker.deactivate()
    now = 10.0
    tracker.follow(_followed(now))
    for event in LIVE_CALL:
        now += 0.1
        tracker.feed(event, now)
    tracker.disconnected(now)
    now += 20.0
    todo = tracker.reconcile([_item(AGENT, CALL, CALL), _item(OTHER, OTHER_ID, OTHER_ID)],
                             now, lots=[POOL])
    return tracker, list(todo), reports, now


def _moved_then_due(events: list[dict[str, str]]) -> list[str]:
    tracker, todo, _, now = _picture()
    effects = list(todo)
    for event in events:
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
    return [e.channel for e in effects if isinstance(e, HangupChannel)]


LEFT_POOL = [_bridged("BridgeLeave", AGENT, CALL, POOL, holding=True)]


def test_alone_in_a_basic_bridge_is_released():
    hung = _moved_then_due([*LEFT_POOL, _bridged("BridgeEnter", AGENT, CALL, TALK,
                                                holding=False)])
    assert set(hung) == {AGENT}


def test_beside_a_local_half_whose_partner_hears_nobody_is_released():
    hung = _moved_then_due([*LEFT_POOL,
        _channel("Newchannel", LOCAL1, NEW_ID + "1", NEW_ID),
        _channel("Newchannel", LOCAL2, NEW_ID + "2", NEW_ID),
        _bridged("BridgeEnter", LOCAL2, NEW_ID + "2", TALK, holding=False, linkedid=NEW_ID),
        _bridged("BridgeEnter", AGENT, CALL, TALK, holding=False)])
    assert set(hung) == {AGENT}


def test_moved_to_another_holding_bridge_beside_an_agent_is_released():
    hung = _moved_then_due([*LEFT_POOL,
        _channel("Newchannel", AGENT2, AGENT2_ID, AGENT2_ID),
        _bridged("BridgeEnter", AGENT2, AGENT2_ID, LOT2, holding=True, linkedid=AGENT2_ID),
        _bridged("BridgeEnter", AGENT, CALL, LOT2, holding=True)])
    assert set(hung) == {AGENT}


def test_a_standby_taking_over_asks_again_before_it_hangs_up():
    tracker, todo, reports, now = _picture(standby=True)
    effects: list = []
    for read in todo:  # answered: the release comes due here at once, and is not sent
        if isinstance(read, ReadVariable):
            now += 0.01
            effects += tracker.variable_read(read.linkedid, read.channel, read.variable, "",
                                             now)
    for _ in range(10):
        now += 0.3
        effects += tracker.due(now)
    for event in MOVED:  # then the agent is taken to the next customer
        now += 0.01
        effects += tracker.feed(event, now)
    now += 5.0
    effects += tracker.due(now)
    effects += tracker.activate(now, now - 100.0)  # the acting node is gone: take over
    for _ in range(3):
        now += 0.3
        effects += tracker.due(now)
    assert not [e for e in effects if isinstance(e, HangupChannel)]  # failed before: AGENT
    [risk] = [f for name, f in reports if name == "violation-risk"]
    assert "live party" in risk["reason"]


def test_the_conversation_ending_does_not_bring_the_release_back():
    tracker, todo, reports, now = _picture()
    effects = list(todo)
    for event in MOVED:
        now += 0.01
        effects += tracker.feed(event, now)
    for read in todo:
        if isinstance(read, ReadVariable):
            now += 0.01
            effects += tracker.variable_read(read.linkedid, read.channel, read.variable, "",
                                             now)
    now += 0.5
    effects += tracker.due(now)
    # the new customer hangs up; the agent goes back to the pool
    for event in [_bridged("BridgeLeave", NEW, NEW_ID, TALK, holding=False, linkedid=NEW_ID),
                  _channel("Hangup", NEW, NEW_ID, NEW_ID, Cause="16"),
                  _bridged("BridgeLeave", AGENT, CALL, TALK, holding=False),
                  _bridged("BridgeEnter", AGENT, CALL, POOL, holding=True)]:
        now += 0.5
        effects += tracker.feed(event, now)
    for _ in range(10):
        now += 1.0
        effects += tracker.due(now)
    assert not [e for e in effects if isinstance(e, HangupChannel)]
    assert CALL in tracker.calls  # followed on, not lost
    now += 1.0
    tracker.feed(_channel("Hangup", AGENT, CALL, Cause="16"), now)
    assert CALL not in tracker.calls
    [record] = [f for name, f in reports if name == "line-release"]
    assert record["release_unproven"] is True
    assert record["ended_by"] == "unknown (AMI disconnected)"
    assert len([f for name, f in reports if name == "violation-risk"]) == 1
