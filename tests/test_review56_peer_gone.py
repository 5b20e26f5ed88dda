"""After a restart, a dialling leg's DIALSTATUS=ANSWER whose DIALEDPEERNAME names a channel
gone is not the called party's end when the called party lives on under another name.

app_dial.c ``dial_exec_full`` sets DIALEDPEERNAME to the name of the channel that answered
the Dial() — for ``Dial(Local/<number>@<ctx>)``, the Local ``;1``. Once both Local halves
are bridged the pair optimises itself away (core_unreal.c ``got_optimized_out``
-> bridge.c ``ast_bridge_unreal_optimize_out``: the far channel is swapped into the Local
half's bridge, both halves hang up), so the name DIALEDPEERNAME holds is gone while the
called party talks on as ``PJSIP/itsp-…``. Redirected out of the bridge while AMI was away
(AMI Redirect to a queue), the calling leg's Dial() returns (``g``: it goes on in its
dialplan) and the watchdog, followed again, read ANSWER with the peer gone and hung up
every channel of the call — the live called party's, waiting in the queue, among them.

The called party's own leg says who it is: app_dial.c ``dial_exec_full`` gives each leg it
requests DIALEDPEERNUMBER = its dial string's resource (lab call-01: ``VarSet
Local/201@callee-00000001;1 DIALEDPEERNUMBER 201@callee``), and it inherited
``__CALLGUARD_FOLLOW`` (app_dial.c ``ast_channel_inherit_variables``; core_unreal.c
``ast_unreal_call_setup`` copies the ``;1``'s variables to the ``;2``), so it is asked.

REPLAYS lab call-01 (real Asterisk 22.10.1) through the pure tracker, synthetic clock; the
picture is SYNTHESISED from it (``picture_at``) at the moment both talk, then re-shaped,
said here: the callee's Local pair optimised away, the called party's ``PJSIP/itsp-…``
leg in ``Queue`` (no bridge), the calling leg back in its dialplan (``Wait``).

Two more ways the same question went unasked, so a called party's end while AMI was away
released nothing and the record said ``not-answered``: manager.conf without channelvars
(no picture item names a carrier; the gate's follow names the asking leg), and a call seen
before the outage whose whole Dial() came and went in it (not ``rebuilt``).
"""

from __future__ import annotations

from callguard.watchdog.calls import (
    CallTracker,
    Followed,
    HangupChannel,
    ReadVariable,
    TrackerSettings,
    plain_digest,
)
from tests.test_watchdog import (
    CALL_01,
    CALLED_01,
    CALLER_01,
    NUMBER,
    UTAH,
    carried,
    lab_events,
    parse,
    picture_at,
    replay,
    written,
)

LINKEDID = "1795326250.0"
CUSTOMER = "PJSIP/itsp-00000002"
GONE_PEER = "Local/+18015550123@outbound-00000001;1"


def _picture(*, customer_up: bool = True) -> list[dict[str, str]]:
    events = [parse(e) for e in lab_events(CALL_01)]
    talking = next(i for i, e in enumerate(events) if e.get("Event") == "BridgeEnter"
                   and e.get("Channel") == CALLED_01) + 1
    follow = f"CALLGUARD_FOLLOW={carried(decision=f'd-{LINKEDID}')}"
    items = []
    for shown in picture_at(events, talking):
        if shown["Channel"].startswith("Local/201@callee"):
            continue  # the Local pair, optimised away
        item = {**shown, "BridgeId": "", "Application": "Wait"}
        if item["Channel"] == CALLER_01[0]:
            item["ChanVariable"] = follow
        items.append(item)
    if customer_up:
        items.append({"Event": "CoreShowChannel", "Channel": CUSTOMER,
                      "Uniqueid": "1795326250.4", "Linkedid": LINKEDID, "ChannelState": "6",
                      "Application": "Queue", "BridgeId": "", "ChanVariable": follow})
    return items


def _run(values: dict[tuple[str, str], str], *, customer_up: bool = True,
         number: str = NUMBER) -> tuple[CallTracker, list, list[tuple[str, dict]]]:
    reports: list[tuple[str, dict]] = []
    tracker = CallTracker(TrackerSettings(), report=written(reports))
    tracker.disconnected(50.0)
    followed = Followed(f"d-{LINKEDID}", LINKEDID, "c", "predictive", 25.0, UTAH, "+1",
                        asker=CALLER_01[0], number_hash=plain_digest(number))
    for read in tracker.follow(followed):  # AMI away: Getvar answers nothing
        tracker.variable_read(read.linkedid, read.channel, read.variable, None, 51.0)
    todo = tracker.reconcile(_picture(customer_up=customer_up), 80.0)
    assert (CALLER_01[0], "DIALSTATUS") in [(r.channel, r.variable) for r in todo
                                            if isinstance(r, ReadVariable)]
    effects, now = list(todo), 80.0
    while reads := [r for r in todo if isinstance(r, ReadVariable)]:
        todo = []
        for read in reads:  # in the order asked: one AMI session's actions are answered so
            now += 0.01
            todo += tracker.variable_read(LINKEDID, read.channel, read.variable,
                                          values.get((read.channel, read.variable), ""), now)
        effects += todo
    effects += tracker.due(now + 1.0)
    return tracker, effects, reports


VALUES = {(CALLER_01[0], "DIALEDPEERNUMBER"): f"{NUMBER}@outbound",
          (CALLER_01[0], "DIALEDPEERNAME"): GONE_PEER,
          (CALLER_01[0], "DIALSTATUS"): "ANSWER",
          (CUSTOMER, "DIALEDPEERNUMBER"): f"{NUMBER}@itsp"}


def _hung_up(effects: list) -> set[str]:
    return {e.channel for e in effects if isinstance(e, HangupChannel)}


def test_the_called_party_alive_under_its_own_name_is_not_hung_up():
    tracker, effects, reports = _run(VALUES)
    assert CUSTOMER not in _hung_up(effects)
    assert _hung_up(effects) == set()  # its end not seen: nothing is released yet
    call = tracker.calls[LINKEDID]
    assert call.dest == CUSTOMER
    assert call.called_hangup_at is None
    assert [name for name, _ in reports] == []
    # its own hangup, seen live, releases the rest
    released = tracker.feed({"Event": "Hangup", "Channel": CUSTOMER, "Linkedid": LINKEDID,
                             "Uniqueid": "1795326250.4", "ChannelState": "6",
                             "Cause": "16"}, 90.0)
    released += tracker.due(90.0)
    assert CALLER_01[0] in _hung_up(released)


def test_control_a_leg_dialled_elsewhere_is_not_taken_for_the_called_party():
    """The other live leg was dialled to another number (an agent the queue rang): it is
    not the called party; the calling leg's ANSWER with its peer gone releases, as before."""
    values = {**VALUES, (CUSTOMER, "DIALEDPEERNUMBER"): "agent"}
    _, effects, _ = _run(values)
    assert {CALLER_01[0], CUSTOMER} <= _hung_up(effects)


def test_control_the_calling_leg_left_alone_is_released():
    """Nothing else up: the called party's end, released as before."""
    _, effects, _ = _run(VALUES, customer_up=False)
    assert CALLER_01[0] in _hung_up(effects)


def test_without_channelvars_the_asking_leg_is_asked_its_dial_status():
    """manager.conf without ``channelvars`` (``ami_channelvars_missing``), and a call the
    gate of this process allowed while AMI was away (its follow pending, with the asking
    channel): the picture names no channel carrying CALLGUARD_FOLLOW, so no leg was asked
    its DIALSTATUS — the called party gone while nobody watched, the calling leg (Dial(...,g)
    returned, alone) was never released and nothing said so. The asking leg runs the Dial()
    (the shipped [callguard-dial]): it is asked."""
    reports: list[tuple[str, dict]] = []
    tracker = CallTracker(TrackerSettings(), report=written(reports))
    tracker.disconnected(50.0)
    followed = Followed(f"d-{LINKEDID}", LINKEDID, "c", "predictive", 25.0, UTAH, "+1",
                        asker=CALLER_01[0], number_hash=plain_digest(NUMBER))
    for read in tracker.follow(followed):  # AMI away: Getvar answers nothing
        tracker.variable_read(read.linkedid, read.channel, read.variable, None, 51.0)
    alone = [{k: v for k, v in item.items() if k != "ChanVariable"}
             for item in _picture(customer_up=False) if item["Channel"] == CALLER_01[0]]
    todo = tracker.reconcile(alone, 80.0)
    assert (CALLER_01[0], "DIALSTATUS") in [(r.channel, r.variable) for r in todo
                                            if isinstance(r, ReadVariable)]
    effects, now = list(todo), 80.0
    while reads := [r for r in todo if isinstance(r, ReadVariable)]:
        todo = []
        for read in reads:
            now += 0.01
            todo += tracker.variable_read(LINKEDID, read.channel, read.variable,
                                          VALUES.get((read.channel, read.variable), ""), now)
        effects += todo
    effects += tracker.due(now + 1.0)
    assert CALLER_01[0] in _hung_up(effects)
    # the outage (30 s) passed the limit (25 s): said, and the release an upper bound
    assert "violation-risk" in [name for name, _ in reports]


def test_a_call_seen_before_the_outage_whose_dial_came_and_went_in_it_is_released():
    """REPLAYS call-01 up to the calling leg's DialBegin (the gate answered, seen live);
    AMI drops; the Dial() is made, answered and its called party hangs up while AMI is
    away, the calling leg going on in its dialplan (Dial(...,g): ``Wait``). The picture
    shows it alone. The call was not first seen in a picture (not ``rebuilt``), so its
    DIALSTATUS was not asked: nothing was released, and the record said ``not-answered``.
    Now asked, as of a call first seen in a picture: ANSWER with the peer gone releases,
    bounded by the outage."""
    events = [parse(e) for e in lab_events(CALL_01)]
    cut = next(i for i, e in enumerate(events) if e.get("Event") == "DialBegin"
               and e.get("DestChannel") == CALLED_01)
    tracker, reports, _ = replay(events[:cut], [LINKEDID])
    assert tracker.calls[LINKEDID].followed is not None
    assert tracker.calls[LINKEDID].dest is None
    tracker.disconnected(10.0)
    follow = f"CALLGUARD_FOLLOW={carried(decision=f'd-{LINKEDID}')}"
    picture = [{**item, "Application": "Wait", "BridgeId": "",
                "ChanVariable": follow if item["Channel"] == CALLER_01[0] else ""}
               for item in picture_at(events, cut)
               if not item["Channel"].startswith("Local/201@callee")]  # they hung up
    todo = tracker.reconcile(picture, 50.0)
    effects, now = list(todo), 50.0
    values = {(CALLER_01[0], "DIALEDPEERNAME"): CALLED_01,
              (CALLER_01[0], "DIALSTATUS"): "ANSWER"}
    while reads := [r for r in todo if isinstance(r, ReadVariable)]:
        todo = []
        for read in reads:
            now += 0.01
            todo += tracker.variable_read(LINKEDID, read.channel, read.variable,
                                          values.get((read.channel, read.variable), ""), now)
        effects += todo
    effects += tracker.due(now + 1.0)
    assert CALLER_01[0] in _hung_up(effects)
    assert "violation-risk" in [name for name, _ in reports]  # 40 s away, limit 25 s
