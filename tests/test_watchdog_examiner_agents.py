"""Examiner hast12: an agent's own line, the agent hanging up first, a Local pair merged.

(a) An agent who logs in with AgentLogin() AFTER the customer's call began has the younger
channel. app_agent_pool.c ``agent_login_exec`` answers the agent's channel and runs
``agent_run`` until the agent logs off: the channel stays inside the AgentLogin
application for its whole session (the CoreShowChannel ``Application`` is the snapshot's
``appl``, manager.c ``action_coreshowchannels``). Each call AgentRequest() hands it is
bridged in a basic bridge (``agent_request_exec``: ``ast_bridge_basic_new()``), whose push
(bridge_basic.c ``bridge_basic_push`` -> bridge_channel.c
``ast_bridge_channel_update_linkedids``) gives every member the OLDEST Linkedid: here the
customer's call's, so the agent's channel now shows it, and keeps it after the call (the
Linkedid is never given back). A picture after a restart grouped the agent's channel into
the customer's followed call, and the customer's hangup "released" it: AMI Hangup of the
agent's channel, the agent's session torn down. Rule (from the source above): a channel
running AgentLogin is the agent's own line, never a channel of the call it is bridged to.

(b) The agent hanging up first, from the BridgeLeave order: bridge_channel.c
``bridge_channel_internal_pull`` removes the leaving channel, runs
``bridge_channel_dissolve_check`` (a basic bridge has AST_BRIDGE_FLAG_DISSOLVE_HANGUP:
``bridge_dissolve`` only asks the others to leave, ``ast_bridge_channel_leave_bridge``)
and publishes its BridgeLeave (``ast_bridge_publish_leave``) under the bridge's lock; the
others are pulled by their own threads after it, so the first BridgeLeave is the channel
that ended the conversation. Hangups race (each is published by its own ``ast_hangup``).

(c) A Local pair optimised away by MERGE: bridge.c ``try_merge_optimize_out`` (when neither
bridge has two channels, so no swap) calls the unreal ``optimization_started`` callback
with no source (core_local.c ``local_optimization_started_cb``: LocalOptimizationBegin
without Source* headers), ``bridge_do_merge`` (``ast_bridge_publish_merge``: BridgeMerge;
each channel of the source bridge pulled and pushed: BridgeLeave, BridgeEnter without
SwapUniqueid; both Local halves kicked: BridgeLeave), then ``optimization_finished``
(LocalOptimizationEnd ``Success: Yes``). No SwapUniqueid says the halves were optimised.

The events are SYNTHESISED (said here) in the layout of lab call-01 (channel blocks) and
manager.c ``action_coreshowchannels`` (CoreShowChannel items); channel names and ids are
invented.
"""

from __future__ import annotations

from callguard.fronts.fastagi.contract import VAR_FOLLOW
from callguard.watchdog.calls import CallTracker, Followed, HangupChannel, TrackerSettings
from callguard.watchdog.carry import Carried, encode
from tests.test_watchdog_examiner_order import AGENT as AG
from tests.test_watchdog_examiner_order import AGENT_BRIDGE, _ch, _optimised_agent_call, _run
from tests.test_watchdog_examiner_order import AGENT_ID as AG_ID
from tests.test_watchdog_examiner_order import CUSTOMER as CUST
from tests.test_watchdog_examiner_order import CUSTOMER_ID as CUST_ID

UTAH = "Utah Code 13-25a-103(5)(e)"
DECISION = "01930000-0000-7000-8000-0000000000b2"
CALL_ID = "1795326441.77"  # the dialer's Local ;1, the call's first channel
ONE, TWO = "Local/s@dialer-00000011;1", "Local/s@dialer-00000011;2"
ONE_ID, TWO_ID = CALL_ID, "1795326441.78"
CUSTOMER, CUSTOMER_ID = "PJSIP/itsp-0000002a", "1795326441.80"
AGENT, AGENT_ID = "PJSIP/agent7-00000031", "1795326460.95"  # logged in 19 s after the call
OLD_CALL = "1795320000.3"  # a call the agent was bridged with earlier, long gone
BRIDGE = "7d1c9a55-agent-caller-bridge"


def _value() -> str:
    value = encode(Carried(DECISION, "predictive", 25.0, UTAH, "ut-solar-predictive",
                           "+4930123456", "node-a"))
    assert value is not None
    return value


def _item(channel: str, uniqueid: str, linkedid: str, app: str, follow: str,
          bridge: str = BRIDGE) -> dict[str, str]:
    return {"Event": "CoreShowChannel", "Channel": channel, "Uniqueid": uniqueid,
            "Linkedid": linkedid, "ChannelState": "6", "ChannelStateDesc": "Up",
            "Application": app, "BridgeId": bridge,
            "ChanVariable": f"{VAR_FOLLOW}={follow}"}


def _block(channel: str, uniqueid: str, linkedid: str, follow: str) -> dict[str, str]:
    return {"Channel": channel, "Uniqueid": uniqueid, "Linkedid": linkedid,
            "ChannelState": "6", "ChannelStateDesc": "Up",
            "ChanVariable": f"{VAR_FOLLOW}={follow}"}


def _leaves(channel: str, uniqueid: str, linkedid: str, follow: str,
            bridge: str = BRIDGE) -> list[dict[str, str]]:
    """BridgeLeave then Hangup (cause 16), as lab call-01 orders them."""
    block = _block(channel, uniqueid, linkedid, follow)
    return [{"Event": "BridgeLeave", "BridgeUniqueid": bridge, "BridgeType": "basic", **block},
            {"Event": "Hangup", "Cause": "16", "Cause-txt": "Normal Clearing", **block}]


def _hangups(effects: list[object]) -> list[str]:
    return sorted(e.channel for e in effects if isinstance(e, HangupChannel))


def _tracker(reports: list[tuple[str, dict]]) -> CallTracker:
    return CallTracker(TrackerSettings(),
                       report=lambda name, **f: reports.append((name, f)))


# --- (a) the younger agent --------------------------------------------------------------

def test_a_restart_does_not_hang_up_a_younger_agents_channel():
    """The agent logged in after the call began: its channel took the customer's call's
    Linkedid in the basic bridge. After a restart it was grouped into the followed call
    and hung up at the customer's hangup (fails before: AGENT among the Hangups)."""
    reports: list[tuple[str, dict]] = []
    tracker = _tracker(reports)
    tracker.disconnected(100.0)
    picture = [_item(AGENT, AGENT_ID, CALL_ID, "AgentLogin", ""),
               _item(CUSTOMER, CUSTOMER_ID, CALL_ID, "AppDial", _value())]
    effects = list(tracker.reconcile(picture, 101.0))
    assert tracker.calls[CALL_ID].followed is not None
    assert AGENT not in tracker.calls[CALL_ID].channels.values()
    for at, event in enumerate(_leaves(CUSTOMER, CUSTOMER_ID, CALL_ID, _value()), start=102):
        effects += tracker.feed(event, float(at))
    effects += tracker.due(200.0)
    assert AGENT not in _hangups(effects)
    [(_, record)] = [r for r in reports if r[0] == "line-release"]
    assert record["called_channel"] == CUSTOMER
    # The customer left the agent in the bridge: it ended the call, though the call was
    # first seen in a picture (recorded "caller" before: the order was taken for unknown).
    assert record["ended_by"] == "called-party"
    assert record["release_ms"] == 0.0


def test_a_restart_keeps_the_agent_out_of_a_call_it_took_an_older_linkedid_to():
    """The agent's channel was bridged once with an older call (OLD_CALL, gone): it keeps
    that Linkedid, and gives it to every later call it is bridged to (the oldest wins).
    The picture after a restart shows the customer and the agent under OLD_CALL, whose own
    channel is gone: the agent is no owner to drop, and was hung up (fails before)."""
    tracker = _tracker([])
    tracker.disconnected(100.0)
    picture = [_item(AGENT, AGENT_ID, OLD_CALL, "AgentLogin", ""),
               _item(TWO, TWO_ID, OLD_CALL, "Dial", _value(), bridge="b2"),
               _item(CUSTOMER, CUSTOMER_ID, OLD_CALL, "AppDial", _value(), bridge="b2"),
               _item(ONE, ONE_ID, OLD_CALL, "AgentRequest", "")]
    effects = list(tracker.reconcile(picture, 101.0))
    for at, event in enumerate(_leaves(CUSTOMER, CUSTOMER_ID, OLD_CALL, _value(), "b2"),
                               start=102):
        effects += tracker.feed(event, float(at))
    effects += tracker.due(200.0)
    assert AGENT not in _hangups(effects)
    assert set(_hangups(effects)) == {ONE, TWO}  # the call's own channels are released


def test_a_picture_without_channelvars_keeps_the_agent_out_too():
    """The rule reads the Application, not the variable: with channelvars not configured
    (no ChanVariable) the agent's channel is still its own line."""
    tracker = _tracker([])
    tracker.disconnected(100.0)
    picture = [_item(AGENT, AGENT_ID, CALL_ID, "AgentLogin", ""),
               _item(CUSTOMER, CUSTOMER_ID, CALL_ID, "AppDial", "")]
    for item in picture:
        del item["ChanVariable"]
    tracker.reconcile(picture, 101.0)
    assert AGENT not in tracker.calls[CALL_ID].channels.values()


# --- (b) who left the called party first ------------------------------------------------

def _agent_call_then(*tail: dict[str, str]) -> tuple[list[tuple[str, dict]], list[object]]:
    return _run([*_optimised_agent_call(), *tail], follow_after=5)


def test_the_agent_moved_to_a_consultation_is_not_taken_for_ending_the_call():
    """The control of (b): an attended transfer by the agent moves its channel into the
    consultation bridge (bridge.c ``bridge_do_move``: BridgeLeave, then BridgeEnter
    elsewhere); the customer hanging up while on hold is the called party ending it."""
    reports, effects = _agent_call_then(
        {"Event": "BridgeLeave", "BridgeUniqueid": AGENT_BRIDGE, **_ch(AG, AG_ID, AG_ID)},
        {"Event": "BridgeEnter", "BridgeUniqueid": "consult-1", **_ch(AG, AG_ID, AG_ID)},
        {"Event": "BridgeLeave", "BridgeUniqueid": AGENT_BRIDGE,
         **_ch(CUST, CUST_ID, AG_ID)},
        {"Event": "Hangup", "Cause": "16", **_ch(CUST, CUST_ID, AG_ID)})
    [record] = [f for n, f in reports if n == "line-release"]
    assert record["ended_by"] == "called-party"
    assert AG not in _hangups(effects)


def test_the_agent_leaving_a_supervisor_with_the_customer_ends_nothing():
    """Another person stays with the called party (a supervisor barged in): the agent
    leaving first did not end the conversation; the customer's later hangup is the called
    party's."""
    sup, sup_id = "PJSIP/supervisor-00000040", "1795326470.99"
    reports, effects = _agent_call_then(
        {"Event": "BridgeEnter", "BridgeUniqueid": AGENT_BRIDGE, **_ch(sup, sup_id, sup_id)},
        {"Event": "BridgeLeave", "BridgeUniqueid": AGENT_BRIDGE, **_ch(AG, AG_ID, AG_ID)},
        {"Event": "Hangup", "Cause": "16", **_ch(AG, AG_ID, AG_ID)},
        {"Event": "BridgeLeave", "BridgeUniqueid": AGENT_BRIDGE,
         **_ch(CUST, CUST_ID, AG_ID)},
        {"Event": "Hangup", "Cause": "16", **_ch(CUST, CUST_ID, AG_ID)})
    [record] = [f for n, f in reports if n == "line-release"]
    assert record["ended_by"] == "called-party"
    assert sup not in _hangups(effects)
    assert AG not in _hangups(effects)


# --- (c) a Local pair merged away -------------------------------------------------------

AGENT_LEG, AGENT_LEG_ID = "PJSIP/agent9-00000044", "1795326441.81"  # Queue()'s leg
BOT, BOT_ID = "AudioSocket/127.0.0.1:9092-1b2c", "1795326441.90"  # not a person
MEDIA, MEDIA_ID = "UnicastRTP/127.0.0.1:4000-0x7f01", "1795326441.91"  # not a person
B1, B2 = "b1-queue", "b2-dial"


def _ev(kind: str, channel: str, uniqueid: str, linkedid: str = CALL_ID,
        **extra: str) -> dict[str, str]:
    return {"Event": kind, "Channel": channel, "Uniqueid": uniqueid, "Linkedid": linkedid,
            "ChannelState": "6", "ChannelStateDesc": "Up", **extra}


def _local(prefix: str, channel: str, uniqueid: str) -> dict[str, str]:
    return {f"{prefix}Channel": channel, f"{prefix}Uniqueid": uniqueid,
            f"{prefix}Linkedid": CALL_ID, f"{prefix}ChannelState": "6"}


def _merged_call() -> list[dict[str, str]]:
    """The dialer's Local pair (optimisable); ;2 Dial()s the customer into B2 beside an
    ExternalMedia stream, ;1 Queue()s an agent into B1 beside an AudioSocket bot: both
    bridges hold three, so bridge.c ``bridges_allow_swap_optimization`` (a bridge of two)
    declines and ``try_merge_optimize_out`` merges B2 into B1."""
    return [
        _ev("Newchannel", ONE, ONE_ID, ChannelState="0"),
        _ev("Newchannel", TWO, TWO_ID, ChannelState="4"),
        {"Event": "LocalBridge", **_local("LocalOne", ONE, ONE_ID),
         **_local("LocalTwo", TWO, TWO_ID), "Context": "dialer", "Exten": "s",
         "LocalOptimization": "Yes"},
        {"Event": "DialBegin", "DestChannel": ONE, "DestUniqueid": ONE_ID,
         "DestLinkedid": CALL_ID, "DialString": "s@dialer"},
        {"Event": "DialEnd", "DestChannel": ONE, "DestUniqueid": ONE_ID,
         "DestLinkedid": CALL_ID, "DialStatus": "ANSWER"},
        # (index 5: the gate answers ;2 here)
        _ev("Newchannel", CUSTOMER, CUSTOMER_ID, ChannelState="0"),
        _ev("DialBegin", TWO, TWO_ID, DestChannel=CUSTOMER, DestUniqueid=CUSTOMER_ID,
            DestLinkedid=CALL_ID, DialString="itsp/+18015550123"),
        _ev("DialEnd", TWO, TWO_ID, DestChannel=CUSTOMER, DestUniqueid=CUSTOMER_ID,
            DestLinkedid=CALL_ID, DialStatus="ANSWER"),
        _ev("BridgeEnter", TWO, TWO_ID, BridgeUniqueid=B2),
        _ev("BridgeEnter", CUSTOMER, CUSTOMER_ID, BridgeUniqueid=B2),
        _ev("Newchannel", MEDIA, MEDIA_ID, MEDIA_ID),
        _ev("BridgeEnter", MEDIA, MEDIA_ID, CALL_ID, BridgeUniqueid=B2),
        _ev("Newchannel", AGENT_LEG, AGENT_LEG_ID, ChannelState="0"),
        _ev("DialBegin", ONE, ONE_ID, DestChannel=AGENT_LEG, DestUniqueid=AGENT_LEG_ID,
            DestLinkedid=CALL_ID, DialString="agent9"),
        _ev("DialEnd", ONE, ONE_ID, DestChannel=AGENT_LEG, DestUniqueid=AGENT_LEG_ID,
            DestLinkedid=CALL_ID, DialStatus="ANSWER"),
        _ev("BridgeEnter", ONE, ONE_ID, BridgeUniqueid=B1),
        _ev("BridgeEnter", AGENT_LEG, AGENT_LEG_ID, BridgeUniqueid=B1),
        _ev("Newchannel", BOT, BOT_ID, BOT_ID),
        _ev("BridgeEnter", BOT, BOT_ID, CALL_ID, BridgeUniqueid=B1),
        # the merge: core_local.c local_optimization_started_cb (no Source*: merge),
        # bridge.c bridge_do_merge (BridgeMerge; B2's channels pulled and pushed, ;2
        # kicked in turn, ;1 kicked last), local_optimization_finished_cb
        {"Event": "LocalOptimizationBegin", **_local("LocalOne", ONE, ONE_ID),
         **_local("LocalTwo", TWO, TWO_ID), "DestUniqueId": ONE_ID, "Id": "7"},
        {"Event": "BridgeMerge", "ToBridgeUniqueid": B1, "FromBridgeUniqueid": B2},
        _ev("BridgeLeave", TWO, TWO_ID, BridgeUniqueid=B2),
        _ev("BridgeLeave", CUSTOMER, CUSTOMER_ID, BridgeUniqueid=B2),
        _ev("BridgeEnter", CUSTOMER, CUSTOMER_ID, BridgeUniqueid=B1),
        _ev("BridgeLeave", MEDIA, MEDIA_ID, BridgeUniqueid=B2),
        _ev("BridgeEnter", MEDIA, MEDIA_ID, BridgeUniqueid=B1),
        _ev("BridgeLeave", ONE, ONE_ID, BridgeUniqueid=B1),
        {"Event": "LocalOptimizationEnd", **_local("LocalOne", ONE, ONE_ID),
         **_local("LocalTwo", TWO, TWO_ID), "Success": "Yes", "Id": "7"},
        _ev("Hangup", ONE, ONE_ID, Cause="16"),
        _ev("Hangup", TWO, TWO_ID, Cause="16"),
    ]


def test_a_merged_local_pair_still_releases_the_line_in_time():
    """The customer hangs up after the merge: the agent's leg (the call's own, Queue()'s)
    is left with two bots. Before: the Local halves' Hangups (no SwapUniqueid, so not
    known optimised) were the call's first, the customer's hangup was not the called party
    ending the call, nothing was released and the record said "caller"."""
    reports: list[tuple[str, dict]] = []
    tracker = _tracker(reports)
    effects: list[object] = []
    events = [*_merged_call(), _ev("BridgeLeave", CUSTOMER, CUSTOMER_ID, BridgeUniqueid=B1),
              _ev("Hangup", CUSTOMER, CUSTOMER_ID, Cause="16")]
    for i, event in enumerate(events):
        at = 10.0 + i * 0.1
        effects += tracker.feed(event, at)
        if i == 4:
            effects += tracker.follow(Followed(DECISION, CALL_ID, "c", "predictive", 25.0,
                                               UTAH, "+4930123456", asker=TWO))
    hung_up_at = 10.0 + (len(events) - 1) * 0.1
    effects += tracker.due(hung_up_at)  # grace 0: due at once
    assert _hangups(effects) == [AGENT_LEG]
    assert BOT not in _hangups(effects)
    assert MEDIA not in _hangups(effects)
    tracker.feed(_ev("Hangup", AGENT_LEG, AGENT_LEG_ID, Cause="16"), hung_up_at + 0.05)
    [record] = [f for n, f in reports if n == "line-release"]
    assert record["ended_by"] == "called-party"
    assert record["release_ms"] is not None
    assert record["release_ms"] <= 5000


def test_a_merged_local_pair_then_the_agent_hanging_up_first_is_the_caller():
    """The control: after the merge the agent hangs up first: the calling side ended it."""
    reports: list[tuple[str, dict]] = []
    tracker = _tracker(reports)
    effects: list[object] = []
    events = [*_merged_call(),
              _ev("BridgeLeave", AGENT_LEG, AGENT_LEG_ID, BridgeUniqueid=B1),
              _ev("Hangup", AGENT_LEG, AGENT_LEG_ID, Cause="16"),
              _ev("BridgeLeave", CUSTOMER, CUSTOMER_ID, BridgeUniqueid=B1),
              _ev("Hangup", CUSTOMER, CUSTOMER_ID, Cause="16")]
    for i, event in enumerate(events):
        effects += tracker.feed(event, 10.0 + i * 0.1)
        if i == 4:
            effects += tracker.follow(Followed(DECISION, CALL_ID, "c", "predictive", 25.0,
                                               UTAH, "+4930123456", asker=TWO))
    effects += tracker.due(20.0)
    assert _hangups(effects) == []
    [record] = [f for n, f in reports if n == "line-release"]
    assert record["ended_by"] == "caller"


def test_the_calls_own_agent_sent_elsewhere_does_not_hold_the_release():
    """The control of (b) for a channel of the call: Queue()'s agent leg leaves the
    customer's bridge without hanging up (an AMI Redirect to a wrap-up context:
    pbx.c ``ast_async_goto`` on a bridged channel makes it leave the bridge). It did not
    end the call by leaving; the customer's hangup still releases it (by the release's
    design: every channel of the call still up)."""
    reports: list[tuple[str, dict]] = []
    tracker = _tracker(reports)
    effects: list[object] = []
    events = [*_merged_call(),
              _ev("BridgeLeave", AGENT_LEG, AGENT_LEG_ID, BridgeUniqueid=B1),
              _ev("BridgeLeave", CUSTOMER, CUSTOMER_ID, BridgeUniqueid=B1),
              _ev("Hangup", CUSTOMER, CUSTOMER_ID, Cause="16")]
    for i, event in enumerate(events):
        effects += tracker.feed(event, 10.0 + i * 0.1)
        if i == 4:
            effects += tracker.follow(Followed(DECISION, CALL_ID, "c", "predictive", 25.0,
                                               UTAH, "+4930123456", asker=TWO))
    effects += tracker.due(20.0)
    assert set(_hangups(effects)) == {AGENT_LEG}
    tracker.feed(_ev("Hangup", AGENT_LEG, AGENT_LEG_ID, Cause="16"), 20.1)
    [record] = [f for n, f in reports if n == "line-release"]
    assert record["ended_by"] == "called-party"


def test_the_calls_own_agent_hanging_up_first_whose_hangup_comes_last():
    """Queue()'s agent leg hangs up first: its BridgeLeave is first, but its Hangup is
    published by its own thread after the customer's (the race ``_left_first`` names).
    Counted once its Hangup is seen before the called party's: here it is not, so the
    order of the Hangups decides, as before (recorded "called-party"; the agent's leg,
    hanging up already, is sent a Hangup)."""
    reports: list[tuple[str, dict]] = []
    tracker = _tracker(reports)
    effects: list[object] = []
    events = [*_merged_call(),
              _ev("BridgeLeave", AGENT_LEG, AGENT_LEG_ID, BridgeUniqueid=B1),
              _ev("BridgeLeave", CUSTOMER, CUSTOMER_ID, BridgeUniqueid=B1),
              _ev("Hangup", CUSTOMER, CUSTOMER_ID, Cause="16"),
              _ev("Hangup", AGENT_LEG, AGENT_LEG_ID, Cause="16")]
    for i, event in enumerate(events):
        effects += tracker.feed(event, 10.0 + i * 0.1)
        if i == 4:
            effects += tracker.follow(Followed(DECISION, CALL_ID, "c", "predictive", 25.0,
                                               UTAH, "+4930123456", asker=TWO))
    [record] = [f for n, f in reports if n == "line-release"]
    assert record["ended_by"] == "called-party"


def test_a_restart_does_not_hang_up_a_younger_ari_agents_channel():
    """An ARI dialer's agent sits in Stasis(): res/stasis/stasis_bridge.c
    ``bridge_stasis_push`` calls ``ast_bridge_channel_update_linkedids`` for a mixing
    bridge as ``bridge_basic_push`` does, so a younger agent's channel shows the
    customer's Linkedid too, and no rule from the source tells it apart in a picture (its
    Application is 'Stasis' like the customer's originated leg; it lacks CALLGUARD_FOLLOW
    like the call's channels made before the gate's answer). It is safe only because the
    picture cannot name the called party either: no ``AppDial`` leg (an ARI originate is
    no Dial()), so nothing is released after a restart — the customer's line is free by
    its own hangup, and the agent's is not touched. Should the picture ever name an ARI
    called party, this is where the agent's line would be hung up."""
    tracker = _tracker([])
    tracker.disconnected(100.0)
    picture = [_item(AGENT, AGENT_ID, CALL_ID, "Stasis", ""),
               _item(CUSTOMER, CUSTOMER_ID, CALL_ID, "Stasis", _value())]
    effects = list(tracker.reconcile(picture, 101.0))
    for at, event in enumerate(_leaves(CUSTOMER, CUSTOMER_ID, CALL_ID, _value()), start=102):
        effects += tracker.feed(event, float(at))
    effects += tracker.due(200.0)
    assert AGENT not in _hangups(effects)


def test_without_channelvars_the_older_agent_is_parted_too():
    """The older agent (its Uniqueid the Linkedid every member shows) with channelvars not
    configured: ``_drop_the_older_owner`` needs an empty CALLGUARD_FOLLOW to see it, so
    the agent's call took the customer in, was followed after the Getvar, and the
    customer's hangup hung the agent up. The AgentLogin rule parts them: the customer's
    channels go to a call keyed by the first of them; their Hangups (naming the agent's
    Linkedid) find it by the channel."""
    old_agent_id = "1795300000.7"
    tracker = _tracker([])
    tracker.disconnected(100.0)
    picture = [_item(AGENT, old_agent_id, old_agent_id, "AgentLogin", ""),
               _item(CUSTOMER, CUSTOMER_ID, old_agent_id, "AppDial", "")]
    for item in picture:
        del item["ChanVariable"]
    effects = list(tracker.reconcile(picture, 101.0))
    assert list(tracker.calls[old_agent_id].channels.values()) == [AGENT]
    assert list(tracker.calls[CUSTOMER_ID].channels.values()) == [CUSTOMER]
    asked = {(e.channel, e.variable) for e in effects if hasattr(e, "variable")}
    assert (CUSTOMER, VAR_FOLLOW) in asked
    effects += tracker.variable_read(CUSTOMER_ID, CUSTOMER, VAR_FOLLOW, _value(), 101.5)
    assert tracker.calls[CUSTOMER_ID].followed is not None
    assert tracker.calls[old_agent_id].followed is None
    for at, event in enumerate(_leaves(CUSTOMER, CUSTOMER_ID, old_agent_id, ""), start=102):
        effects += tracker.feed(event, float(at))
    effects += tracker.due(200.0)
    assert AGENT not in _hangups(effects)
