"""Examiner hast11, lead (a): a picture grouped by the Linkedid Asterisk shows now.

Asterisk 22 changes a channel's Linkedid when it joins a mixing bridge of the basic
class: bridge_basic.c ``bridge_basic_push`` (every Dial(), Bridge(), Queue() and
AgentRequest() bridge) and res/stasis/stasis_bridge.c ``bridge_stasis_push`` (ARI mixing
bridges) call bridge_channel.c ``ast_bridge_channel_update_linkedids``, which gives every
channel of the bridge the OLDEST Linkedid among them (``ast_channel_internal_oldest_linkedid``)
and copies it on each (``ast_channel_internal_copy_linkedid``). ConfBridge's bridge is a
base bridge (``ast_bridge_base_v_table.push`` only): no Linkedid changes there.

An agent logged in with AgentLogin() (app_agent_pool.c) keeps one channel for hours. Each
call AgentRequest() hands it is bridged in a basic bridge (``agent_request_exec``:
``caller_bridge = ast_bridge_basic_new()``; the agent is moved in by
``agent_connect_caller``): the customer's channel then takes the agent's Linkedid, the
oldest. Live, the tracker keeps each channel in the call it was created in (``_holder``).
A picture after a restart knows no channel: it groups by the Linkedid shown now, and the
agent's long-lived channel falls into the customer's followed call. The customer's hangup
then "releases" it: AMI Hangup of the agent's channel, the agent's session torn down.

The pictures are SYNTHESISED (said here), in the layout of manager.c
``action_coreshowchannels`` (lab call-08 shows CoreShowChannel items); the Hangup and
BridgeLeave events in the layout of lab call-01.
"""

from __future__ import annotations

from callguard.fronts.fastagi.contract import VAR_FOLLOW
from callguard.watchdog.calls import CallTracker, HangupChannel, TrackerSettings
from callguard.watchdog.carry import Carried, encode

UTAH = "Utah Code 13-25a-103(5)(e)"
AGENT = "PJSIP/agent7-00000003"  # logged in at 09:00 with AgentLogin()
AGENT_ID = "1795300000.7"  # its Uniqueid, hence its Linkedid: the oldest of the bridge
CUSTOMER = "PJSIP/itsp-0000002a"  # Dial()'s leg to the called party
CUSTOMER_ID = "1795326441.80"
CALL_ID = "1795326441.77"  # the dialer's call (the originated Local ;1)
BRIDGE = "7d1c9a55-agent-caller-bridge"


def _value() -> str:
    value = encode(Carried("01930000-0000-7000-8000-0000000000a1", "predictive", 25.0, UTAH,
                           "ut-solar-predictive", "+4930123456", "node-a"))
    assert value is not None
    return value


def _item(channel: str, uniqueid: str, linkedid: str, app: str, follow: str) -> dict[str, str]:
    return {"Event": "CoreShowChannel", "Channel": channel, "Uniqueid": uniqueid,
            "Linkedid": linkedid, "ChannelState": "6", "ChannelStateDesc": "Up",
            "Application": app, "BridgeId": BRIDGE,
            "ChanVariable": f"{VAR_FOLLOW}={follow}"}


def _customer_hangs_up(linkedid: str) -> list[dict[str, str]]:
    """The customer's BridgeLeave then Hangup (cause 16), as lab call-01 orders them."""
    block = {"Channel": CUSTOMER, "Uniqueid": CUSTOMER_ID, "Linkedid": linkedid,
             "ChannelState": "6", "ChannelStateDesc": "Up",
             "ChanVariable": f"{VAR_FOLLOW}={_value()}"}
    return [{"Event": "BridgeLeave", "BridgeUniqueid": BRIDGE, "BridgeType": "basic",
             "BridgeNumChannels": "1", **block},
            {"Event": "Hangup", "Cause": "16", "Cause-txt": "Normal Clearing", **block}]


def _hangups(effects: list[object]) -> list[str]:
    return sorted(e.channel for e in effects if isinstance(e, HangupChannel))


def test_a_restart_does_not_hang_up_the_agents_long_lived_channel():
    """A restarted watchdog groups the picture by the Linkedid shown now: before the fix
    the agent's long-lived channel (the oldest Linkedid of the basic bridge) was taken for
    a leftover of the customer's call and hung up after the customer's hangup."""
    tracker = CallTracker(TrackerSettings(), report=lambda name, **f: None)
    tracker.disconnected(100.0)
    picture = [_item(AGENT, AGENT_ID, AGENT_ID, "AgentLogin", ""),
               _item(CUSTOMER, CUSTOMER_ID, AGENT_ID, "AppDial", _value())]
    effects = tracker.reconcile(picture, 101.0)
    assert _hangups(effects) == []
    effects = []
    for at, event in enumerate(_customer_hangs_up(AGENT_ID), start=102):
        effects += tracker.feed(event, float(at))
    assert AGENT not in _hangups(effects)


def test_a_reconnect_does_not_hang_up_the_agents_long_lived_channel():
    """Live: the agent's channel and the dialer's Local pair were seen created, the gate
    allowed the call; the customer's leg was dialled, answered and bridged with the agent
    while AMI was away. It carries the decision the dialer's call follows: it joins that
    call, not the agent's (the Linkedid it shows). Before the fix the agent's own call
    became followed and the customer's hangup hung up the agent's channel."""
    from callguard.watchdog.calls import Followed

    reports: list[tuple[str, dict]] = []
    tracker = CallTracker(TrackerSettings(),
                          report=lambda name, **f: reports.append((name, f)))
    tracker.follow(Followed("01930000-0000-7000-8000-0000000000a1", CALL_ID,
                            "ut-solar-predictive", "predictive", 25.0, UTAH, "+4930123456"))
    tracker.feed({"Event": "Newchannel", "Channel": AGENT, "Uniqueid": AGENT_ID,
                  "Linkedid": AGENT_ID, "ChannelState": "4"}, 1.0)
    for half, uid in ((";1", CALL_ID), (";2", "1795326441.78")):
        tracker.feed({"Event": "Newchannel", "Channel": f"Local/s@dialer-00000011{half}",
                      "Uniqueid": uid, "Linkedid": CALL_ID, "ChannelState": "0"}, 50.0)
    tracker.disconnected(60.0)
    picture = [_item(AGENT, AGENT_ID, AGENT_ID, "AgentLogin", ""),
               _item(CUSTOMER, CUSTOMER_ID, AGENT_ID, "AppDial", _value())]
    tracker.reconcile(picture, 61.0)
    effects: list[object] = []
    assert tracker.calls[AGENT_ID].followed is None
    for at, event in enumerate(_customer_hangs_up(AGENT_ID), start=62):
        effects += tracker.feed(event, float(at))
    # The Local pair was optimised away while AMI was away (that is how the customer came
    # to share the agent's bridge and Linkedid): nothing of the call is left to release.
    assert _hangups(effects) == []
    assert CALL_ID not in tracker.calls
    assert AGENT_ID in tracker.calls
    [(name, record)] = reports
    assert name == "line-release"
    assert record["called_channel"] == CUSTOMER


def test_confbridge_keeps_the_linkedids_apart():
    """The control: the agent in a ConfBridge (a base bridge: no
    ``ast_bridge_channel_update_linkedids``), the customer's leg and the dialer's Local
    ;2 keep the call's own Linkedid. The customer's hangup releases the dialer's Local
    pair, never the agent."""
    tracker = CallTracker(TrackerSettings(), report=lambda name, **f: None)
    tracker.disconnected(100.0)
    conf = "conf-agent7"
    picture = [
        {**_item(AGENT, AGENT_ID, AGENT_ID, "ConfBridge", ""), "BridgeId": conf},
        {**_item("Local/s@dialer-00000011;1", CALL_ID, CALL_ID, "ConfBridge", ""),
         "BridgeId": conf},
        _item("Local/s@dialer-00000011;2", "1795326441.78", CALL_ID, "Dial", _value()),
        _item(CUSTOMER, CUSTOMER_ID, CALL_ID, "AppDial", _value()),
    ]
    tracker.reconcile(picture, 101.0)
    assert tracker.calls[CALL_ID].followed is not None
    assert tracker.calls[AGENT_ID].followed is None
    effects: list[object] = []
    for at, event in enumerate(_customer_hangs_up(CALL_ID), start=102):
        effects += tracker.feed(event, float(at))
    assert AGENT not in _hangups(effects)
    assert _hangups(effects) == ["Local/s@dialer-00000011;1", "Local/s@dialer-00000011;2"]


def test_live_the_agents_channel_stays_in_its_own_call():
    """The control without an outage: the Hangup events carry the agent's Linkedid (the
    customer's changed on entering the basic bridge), but the tracker knows where each
    channel was created (``_holder``): the customer's hangup releases the dialer's own
    channels only."""
    tracker = CallTracker(TrackerSettings(), report=lambda name, **f: None)
    from callguard.watchdog.calls import Followed

    tracker.feed({"Event": "Newchannel", "Channel": AGENT, "Uniqueid": AGENT_ID,
                  "Linkedid": AGENT_ID, "ChannelState": "4"}, 1.0)
    tracker.follow(Followed("d-1", CALL_ID, "c", "predictive", 25.0, UTAH, "+1"))
    one, two = "Local/s@dialer-00000011;1", "Local/s@dialer-00000011;2"
    for name, uid in ((one, CALL_ID), (two, "1795326441.78"), (CUSTOMER, CUSTOMER_ID)):
        tracker.feed({"Event": "Newchannel", "Channel": name, "Uniqueid": uid,
                      "Linkedid": CALL_ID, "ChannelState": "0"}, 50.0)
    tracker.feed({"Event": "LocalBridge", "LocalOneChannel": one, "LocalTwoChannel": two,
                  "LocalOneLinkedid": CALL_ID, "LocalTwoLinkedid": CALL_ID}, 50.0)
    for kind in ("DialBegin", "DialEnd"):
        tracker.feed({"Event": kind, "Channel": two, "Uniqueid": "1795326441.78",
                      "Linkedid": CALL_ID, "DestChannel": CUSTOMER,
                      "DestUniqueid": CUSTOMER_ID, "DestLinkedid": CALL_ID,
                      "DialStatus": "ANSWER"}, 55.0)
    # ;1 bridged with the agent (AgentRequest): the Linkedid of ;1, ;2's bridge, the
    # customer: all the agent's now
    tracker.feed({"Event": "BridgeEnter", "BridgeUniqueid": BRIDGE, "Channel": one,
                  "Uniqueid": CALL_ID, "Linkedid": AGENT_ID}, 56.0)
    tracker.feed({"Event": "BridgeEnter", "BridgeUniqueid": BRIDGE, "Channel": AGENT,
                  "Uniqueid": AGENT_ID, "Linkedid": AGENT_ID}, 56.0)
    effects: list[object] = []
    for at, event in enumerate(_customer_hangs_up(AGENT_ID), start=70):
        effects += tracker.feed(event, float(at))
    assert AGENT not in _hangups(effects)
    assert _hangups(effects) == [one, two]


def test_after_a_restart_the_agent_hanging_up_first_is_the_calling_side_ending():
    """The agent's channel, kept out of the customer's call, still speaks for it when it
    hangs up first (its Hangup names the Linkedid the customer's leg shows): the calling
    side ended the call, and the customer's later hangup releases nothing."""
    reports: list[tuple[str, dict]] = []
    tracker = CallTracker(TrackerSettings(),
                          report=lambda name, **f: reports.append((name, f)))
    tracker.disconnected(100.0)
    tracker.reconcile([_item(AGENT, AGENT_ID, AGENT_ID, "AgentLogin", ""),
                       _item(CUSTOMER, CUSTOMER_ID, AGENT_ID, "AppDial", _value())], 101.0)
    agent = {"Channel": AGENT, "Uniqueid": AGENT_ID, "Linkedid": AGENT_ID,
             "ChannelState": "6", "ChanVariable": f"{VAR_FOLLOW}="}
    effects = tracker.feed({"Event": "BridgeLeave", "BridgeUniqueid": BRIDGE, **agent}, 102.0)
    effects += tracker.feed({"Event": "Hangup", "Cause": "16", **agent}, 102.1)
    for event in _customer_hangs_up(AGENT_ID):
        effects += tracker.feed(event, 103.0)
    assert _hangups(effects) == []
    [(name, record)] = reports
    assert name == "line-release"
    assert record["ended_by"] == "caller"


def test_a_reconnect_with_the_agent_known_and_the_call_wholly_new():
    """hrev14: the agent's channel seen live (its own call, known), then AMI away before
    the dialer's Local pair was created: the gate allowed the call meanwhile (its follow
    waits, pending, for the call's first event), the customer's leg was dialled,
    answered and bridged with the agent, the Local pair optimised away. The customer's
    leg, first seen, shows the agent's Linkedid and carries the decision the pending
    follow names: it belongs to that call. Before the fix it joined the agent's known
    call, made it followed, and the customer's hangup hung up the agent's channel."""
    from callguard.watchdog.calls import Followed

    tracker = CallTracker(TrackerSettings(), report=lambda name, **f: None)
    tracker.feed({"Event": "Newchannel", "Channel": AGENT, "Uniqueid": AGENT_ID,
                  "Linkedid": AGENT_ID, "ChannelState": "4"}, 1.0)
    tracker.disconnected(40.0)
    tracker.follow(Followed("01930000-0000-7000-8000-0000000000a1", CALL_ID,
                            "ut-solar-predictive", "predictive", 25.0, UTAH, "+4930123456"))
    picture = [_item(AGENT, AGENT_ID, AGENT_ID, "AgentLogin", ""),
               _item(CUSTOMER, CUSTOMER_ID, AGENT_ID, "AppDial", _value())]
    effects: list[object] = list(tracker.reconcile(picture, 61.0))
    assert tracker.calls[AGENT_ID].followed is None
    for at, event in enumerate(_customer_hangs_up(AGENT_ID), start=62):
        effects += tracker.feed(event, float(at))
    effects += tracker.due(100.0)
    assert AGENT not in _hangups(effects)


def test_a_reconnect_with_the_agent_known_and_another_nodes_call():
    """hrev14: as above, but the call was allowed by another node's gate (nothing
    pending here: this node learns the decision only from the customer's leg). The
    agent's known call, whose own channel carries no decision, must not become the
    customer's: before the fix the customer's hangup hung up the agent's channel. The
    customer's call is still followed and its hangup recorded."""
    reports: list[tuple[str, dict]] = []
    tracker = CallTracker(TrackerSettings(),
                          report=lambda name, **f: reports.append((name, f)))
    tracker.feed({"Event": "Newchannel", "Channel": AGENT, "Uniqueid": AGENT_ID,
                  "Linkedid": AGENT_ID, "ChannelState": "4",
                  "ChanVariable": f"{VAR_FOLLOW}="}, 1.0)
    tracker.disconnected(40.0)
    picture = [_item(AGENT, AGENT_ID, AGENT_ID, "AgentLogin", ""),
               _item(CUSTOMER, CUSTOMER_ID, AGENT_ID, "AppDial", _value())]
    effects: list[object] = list(tracker.reconcile(picture, 61.0))
    assert tracker.calls[AGENT_ID].followed is None
    assert tracker.followed == 1
    for at, event in enumerate(_customer_hangs_up(AGENT_ID), start=62):
        effects += tracker.feed(event, float(at))
    effects += tracker.due(100.0)
    assert AGENT not in _hangups(effects)
    assert AGENT_ID in tracker.calls
    assert [name for name, _ in reports] == ["line-release"]


def test_a_reconnect_parts_the_local_pair_with_the_customer():
    """hrev14: the same with the dialer's Local pair not optimised away (first seen too):
    ;2 carries the decision, ;1 (bridged with the agent by AgentRequest) shows the agent's
    Linkedid and no value; it goes with its partner, and the customer's hangup releases
    the pair, never the agent."""
    tracker = CallTracker(TrackerSettings(), report=lambda name, **f: None)
    tracker.feed({"Event": "Newchannel", "Channel": AGENT, "Uniqueid": AGENT_ID,
                  "Linkedid": AGENT_ID, "ChannelState": "4"}, 1.0)
    tracker.disconnected(40.0)
    one, two = "Local/s@dialer-00000011;1", "Local/s@dialer-00000011;2"
    picture = [_item(AGENT, AGENT_ID, AGENT_ID, "AgentLogin", ""),
               _item(one, CALL_ID, AGENT_ID, "AgentRequest", ""),
               {**_item(two, "1795326441.78", AGENT_ID, "Dial", _value()), "BridgeId": "b2"},
               {**_item(CUSTOMER, CUSTOMER_ID, AGENT_ID, "AppDial", _value()),
                "BridgeId": "b2"}]
    effects: list[object] = list(tracker.reconcile(picture, 61.0))
    assert tracker.calls[AGENT_ID].followed is None
    assert list(tracker.calls[AGENT_ID].channels.values()) == [AGENT]
    for at, event in enumerate(_customer_hangs_up(AGENT_ID), start=62):
        effects += tracker.feed({**event, "BridgeUniqueid": "b2"}
                                if event["Event"] == "BridgeLeave" else event, float(at))
    effects += tracker.due(100.0)
    assert set(_hangups(effects)) == {one, two}
