"""hwd22: after a restart the watchdog asks which bridges are holding bridges.

Live, every BridgeEnter and BridgeLeave says what bridge it is: manager_bridges.c
``channel_enter_cb``/``channel_leave_cb`` write ``ast_manager_build_bridge_state_string``
(``BridgeType`` = the snapshot's subclass, ``BridgeTechnology``), and the tracker keeps
parking lots (``BridgeType: parking``) and holding bridges (``BridgeTechnology:
holding_bridge``) apart: nobody in them hears anyone (``CallTracker._joined``). A
``CoreShowChannel`` item names only its ``BridgeId`` (manager.c
``action_coreshowchannels``), so a restarted watchdog took every holding bridge for a
conversation. Its members then "talked": an agent sent on to a BridgeWait() pool
(app_bridgewait.c, a holding bridge) beside another waiting agent after the customer hung
up while AMI was away was left up, and a violation risk said "still bridged with a live
party ... a transfer, not a hangup" — a record of a transfer that never was.

Now the picture is joined by AMI ``BridgeList`` (manager_bridges.c ``manager_bridges_list``
-> ``send_bridge_list_item_cb``: one ``BridgeListItem`` per bridge with the same bridge
state string; registered with authority 0, any logged-in user may ask): the holding
bridges it lists are known as such before the picture is read.

SYNTHESISED from the source named here (no lab capture has a BridgeWait() pool or a
BridgeList reply): CoreShowChannel items in the layout of lab call-08, BridgeListItem in
the layout ``ast_manager_build_bridge_state_string`` writes. Pure tracker, synthetic clock;
the AMI side over the fake AMI (tests/fake_ami.py, which answers BridgeList so).
"""

from __future__ import annotations

from callguard.fronts.fastagi.contract import VAR_FOLLOW
from callguard.watchdog.calls import (
    CallTracker,
    HangupChannel,
    ReadVariable,
    TrackerSettings,
    holding_bridges,
)
from tests.fake_ami import FakeAmi
from tests.test_watchdog import Node, carried, until, written

CALL = "1795500000.0"
AGENT, OTHER = "PJSIP/agent7-00000010", "PJSIP/agent9-00000011"
CUSTOMER = "PJSIP/itsp-00000012"  # the called party, gone while AMI was away
POOL = "0b0e0000-0000-4000-8000-a9e475f00101"  # BridgeWait(agents)'s holding bridge
TALK = "0b0e0000-0000-4000-8000-a9e475f00202"  # a basic bridge: two who talk
READS = {(AGENT, "DIALSTATUS"): "ANSWER", (AGENT, "DIALEDPEERNAME"): CUSTOMER}


def _item(name: str, uniqueid: str, app: str, bridge: str, follow: str) -> dict[str, str]:
    return {"Event": "CoreShowChannel", "Channel": name, "Uniqueid": uniqueid,
            "Linkedid": uniqueid, "ChannelState": "6", "Application": app,
            "BridgeId": bridge, "Duration": "00:00:40",
            "ChanVariable": f"CALLGUARD_FOLLOW={follow}"}


def _bridge(uniqueid: str, kind: str, technology: str, creator: str = "BridgeWait",
            name: str = "agents") -> dict[str, str]:
    """A BridgeListItem as ``ast_manager_build_bridge_state_string_prefix`` writes it (the
    fields and order of the lab captures' BridgeEnter, BridgeVideoSourceMode included).
    BridgeWait(agents): app_bridgewait.c ``ast_bridge_base_new(AST_BRIDGE_CAPABILITY_HOLDING,
    ..., "BridgeWait", bridge_name, NULL)``, subclass ``base``; a parking lot:
    res_parking ``bridge_parking_new`` (creator ``Parking``, the lot's name, holding only);
    a Dial() bridge: ``basic``/``simple_bridge``, ``<unknown>`` creator and name (lab)."""
    return {"Event": "BridgeListItem", "BridgeUniqueid": uniqueid, "BridgeType": kind,
            "BridgeTechnology": technology, "BridgeCreator": creator, "BridgeName": name,
            "BridgeNumChannels": "2", "BridgeVideoSourceMode": "none"}


_DIALLED = {"creator": "<unknown>", "name": "<unknown>"}  # Dial()'s basic bridge (lab)
_LOT = {"creator": "Parking", "name": "default"}


def _restart(bridge: str, lots: list[str] | None) -> tuple[set[str], list[tuple[str, dict]]]:
    """The agent's channel (the call's first: it asked the gate and Dial()ed the customer)
    back in its dialplan after the customer's hangup unseen, beside another agent."""
    reports: list[tuple[str, dict]] = []
    tracker = CallTracker(TrackerSettings(), report=written(reports))
    tracker.disconnected(50.0)
    picture = [_item(AGENT, CALL, "BridgeWait", bridge, carried(decision="d-hwd22-pool")),
               _item(OTHER, "1795400000.5", "BridgeWait", bridge, "")]
    todo, now = tracker.reconcile(picture, 80.0, lots=lots), 80.0
    effects = list(todo)
    while todo:
        done, todo = todo, []
        for read in done:
            if isinstance(read, ReadVariable):
                now += 0.01
                todo += tracker.variable_read(read.linkedid, read.channel, read.variable,
                                              READS.get((read.channel, read.variable), ""),
                                              now)
        effects += todo
    for _ in range(5):
        now += 0.5
        effects += tracker.due(now)
    return {e.channel for e in effects if isinstance(e, HangupChannel)}, reports


def test_holding_bridges_are_read_from_the_bridge_list():
    items = [_bridge(POOL, "base", "holding_bridge"),
             _bridge(TALK, "basic", "simple_bridge", **_DIALLED),
             _bridge("lot-1", "parking", "holding_bridge", **_LOT),
             _bridge("lot-2", "parking", "holding_bridge", creator="Parking", name="lot2"),
             {"Event": "BridgeListComplete", "EventList": "Complete", "ListItems": "4"}]
    assert holding_bridges(items) == sorted([POOL, "lot-1", "lot-2"])


def test_an_agent_in_a_holding_pool_is_released_not_taken_for_a_conversation():
    hung, reports = _restart(POOL, [POOL])
    assert hung == {AGENT}  # the call's line, released as a live Hangup would have
    assert OTHER not in hung
    assert not [f for name, f in reports
                if name == "violation-risk" and "live party" in f.get("reason", "")]


def test_without_the_bridge_list_the_pool_was_taken_for_a_conversation():
    """As before, and still when BridgeList is refused or unanswered: nothing hung up, and
    the risk says so — the conservative reading, never a hangup of someone talking."""
    hung, reports = _restart(POOL, None)
    assert hung == set()
    [risk] = [f for name, f in reports if name == "violation-risk"]
    assert "live party" in risk["reason"]


def test_control_two_in_a_basic_bridge_still_talk():
    hung, reports = _restart(TALK, [POOL])
    assert hung == set()
    [risk] = [f for name, f in reports if name == "violation-risk"]
    assert "live party" in risk["reason"]


def _fake_with_the_pool(bridge_list: list[dict[str, str]] | None,
                        bridge: str = POOL) -> FakeAmi:
    """Asterisk with the two agents in BridgeWait()'s pool when callguard (re)starts."""
    fake = FakeAmi(channelvars=(VAR_FOLLOW,), bridge_list=bridge_list)
    for name, uniqueid in ((AGENT, CALL), (OTHER, "1795400000.5")):
        fake.live[name] = {"Event": "Newchannel", "Channel": name, "Uniqueid": uniqueid,
                           "Linkedid": uniqueid, "ChannelState": "6",
                           "ChannelStateDesc": "Up"}
        fake.names[uniqueid] = name
        fake.applications[name] = "BridgeWait"
        fake.bridge_ids[name] = bridge
    fake.set_variable(AGENT, VAR_FOLLOW, carried(decision="d-hwd22-pool"))
    fake.variables.update(READS)
    return fake


async def test_over_the_socket_the_restart_asks_bridge_list_and_releases_the_agent():
    node = await Node(_fake_with_the_pool([_bridge(POOL, "base", "holding_bridge")])).start()
    try:
        await until(lambda: AGENT in node.fake.hangups())
        assert OTHER not in node.fake.hangups()
        assert any(a.get("Action") == "BridgeList" for _, a in node.fake.actions)
    finally:
        await node.stop()


async def test_over_the_socket_bridge_list_refused_leaves_the_picture_as_before():
    node = await Node(_fake_with_the_pool(None)).start()
    try:
        await until(lambda: [f for f in node.named("violation-risk")
                             if "live party" in f.get("reason", "")] != [])
        assert node.fake.hangups() == []
    finally:
        await node.stop()


async def test_over_the_socket_control_a_listed_basic_bridge_is_still_a_conversation():
    """BridgeList answered, naming the two agents' bridge as Dial()'s basic bridge (the
    shape of the lab captures' BridgeEnter): nobody hung up, the risk says a live party."""
    listed = [_bridge(TALK, "basic", "simple_bridge", **_DIALLED),
              _bridge("lot-1", "parking", "holding_bridge", **_LOT)]
    node = await Node(_fake_with_the_pool(listed, TALK)).start()
    try:
        await until(lambda: [f for f in node.named("violation-risk")
                             if "live party" in f.get("reason", "")] != [])
        assert node.fake.hangups() == []
        assert any(a.get("Action") == "BridgeList" for _, a in node.fake.actions)
    finally:
        await node.stop()
