"""Reviewer hrev15: the agent hangs up first, the call goes on, the called party hangs up.

The release (47 U.S.C. 227(d)(3)(B); 47 CFR 68.318; Utah Code 13-25a-103(5)(e))
turned on the called party's hangup being the call's FIRST. A channel off the called
party's side may hang up first and the call go on, the called party still held by the
dialer:

- app_dial.c ``dial_exec_full``: with ``g`` (OPT_GO_ON), once the bridge ends and the
  dialling channel was not hung up (``!ast_check_hangup(chan)``) the dialling channel goes
  on in dialplan (``res = 0``) — the dialer's ``;1`` Dial()ed the agent with ``g`` and
  plays a survey when the agent hangs up;
- app_queue.c, Queue() with ``c`` (OPT_GO_ON, "Continue in the dialplan if the callee
  hangs up"): the agent's hangup ends the queue's bridge and ``;1`` goes on to the next
  priority (an overflow Queue(), a Playback);

while the customer stays in its own Dial() bridge with ``;2``: a basic bridge dissolves
only when one of ITS members hangs up (bridge_channel.c ``bridge_channel_internal_pull`` →
``bridge_channel_dissolve_check``), and nobody left it. On 2dd1ab6 the customer's later
hangup released nothing and the record said "caller".

Told apart from a call the agent's hangup tore down: there the dialer's Local pair hangs up
(core_unreal.c ``ast_unreal_hangup`` takes the partner with it), ``;2`` leaves the
customer's bridge first and the dissolve pushes the customer out after it.

SYNTHESISED events (said here) in the layout of lab call-01 and
``test_watchdog_examiner_confbridge`` (``BridgeType`` as Asterisk 22 sends it); names and
ids invented.
"""

from __future__ import annotations

from callguard.watchdog.calls import CallTracker, Followed, HangupChannel, TrackerSettings

UTAH = "Utah Code 13-25a-103(5)(e)"
ONE, TWO = "Local/s@dialer-00000011;1", "Local/s@dialer-00000011;2"
ONE_ID, TWO_ID = "1795326441.77", "1795326441.78"
CUSTOMER, CUSTOMER_ID = "PJSIP/itsp-0000002a", "1795326441.80"
AGENT, AGENT_ID = "PJSIP/agent7-0000002b", "1795326441.81"
MEMBER_1, MEMBER_2 = "Local/7@agents-0000001f;1", "Local/7@agents-0000001f;2"
MEMBER_1_ID, MEMBER_2_ID = "1795326441.82", "1795326441.83"
CALL = ONE_ID
DIAL, AGENTS, MEMBER = "b2-dial", "b3-agent", "b4-member"


def _ch(name: str, uid: str, state: str = "6") -> dict[str, str]:
    return {"Channel": name, "Uniqueid": uid, "Linkedid": CALL, "ChannelState": state}


def _bridge(event: str, bridge: str, name: str, uid: str) -> dict[str, str]:
    return {"Event": event, "BridgeUniqueid": bridge, "BridgeType": "basic",
            "BridgeTechnology": "simple_bridge", "BridgeCreator": "<unknown>",
            "BridgeName": "<unknown>", **_ch(name, uid)}


def _hangup(name: str, uid: str) -> dict[str, str]:
    return {"Event": "Hangup", "Cause": "16", **_ch(name, uid)}


def _dial(caller: str, caller_id: str, dest: str, dest_id: str, string: str) -> list[dict]:
    return [{"Event": "DialBegin", **_ch(caller, caller_id), "DestChannel": dest,
             "DestUniqueid": dest_id, "DestLinkedid": CALL, "DialString": string},
            {"Event": "DialEnd", **_ch(caller, caller_id), "DestChannel": dest,
             "DestUniqueid": dest_id, "DestLinkedid": CALL, "DialStatus": "ANSWER"}]


def _customer_answered() -> list[dict[str, str]]:
    """The dialer's Originate of ``Local/s@dialer/n``; ``;2`` asks the gate (followed
    after the 7th event) and Dial()s the customer, who answers."""
    return [
        {"Event": "Newchannel", **_ch(ONE, ONE_ID, "0")},
        {"Event": "Newchannel", **_ch(TWO, TWO_ID, "4")},
        {"Event": "LocalBridge", "LocalOneChannel": ONE, "LocalTwoChannel": TWO,
         "LocalOneLinkedid": CALL, "LocalTwoLinkedid": CALL, "LocalOptimization": "No"},
        {"Event": "DialBegin", "DestChannel": ONE, "DestUniqueid": ONE_ID,
         "DestLinkedid": CALL, "DialString": "s@dialer/n"},
        {"Event": "DialEnd", "DestChannel": ONE, "DestUniqueid": ONE_ID,
         "DestLinkedid": CALL, "DialStatus": "ANSWER"},
        {"Event": "Newstate", **_ch(ONE, ONE_ID)},
        {"Event": "Newchannel", **_ch(CUSTOMER, CUSTOMER_ID, "0")},
        *_dial(TWO, TWO_ID, CUSTOMER, CUSTOMER_ID, "itsp/+18015550123"),
        _bridge("BridgeEnter", DIAL, TWO, TWO_ID),
        _bridge("BridgeEnter", DIAL, CUSTOMER, CUSTOMER_ID),
    ]


def _agent_by_dial() -> list[dict[str, str]]:
    """``;1`` runs Dial(PJSIP/agent7,,g): the agent answers and talks with the customer;
    then the agent hangs up — its bridge with ``;1`` dissolves, ``;1`` runs on (``g``)."""
    return [
        {"Event": "Newchannel", **_ch(AGENT, AGENT_ID, "0")},
        *_dial(ONE, ONE_ID, AGENT, AGENT_ID, "agent7"),
        _bridge("BridgeEnter", AGENTS, ONE, ONE_ID),
        _bridge("BridgeEnter", AGENTS, AGENT, AGENT_ID),
        _bridge("BridgeLeave", AGENTS, AGENT, AGENT_ID),
        _hangup(AGENT, AGENT_ID),
        _bridge("BridgeLeave", AGENTS, ONE, ONE_ID),
    ]


def _agent_by_queue() -> list[dict[str, str]]:
    """``;1`` runs Queue(sales,c): the member ``Local/7@agents/n`` answers, its ``;2``
    Dial()s the agent's phone; the agent hangs up — the member pair goes, the queue's
    bridge dissolves, Queue() returns and ``;1`` goes on (an overflow Queue())."""
    return [
        {"Event": "Newchannel", **_ch(MEMBER_1, MEMBER_1_ID, "0")},
        {"Event": "Newchannel", **_ch(MEMBER_2, MEMBER_2_ID, "4")},
        {"Event": "LocalBridge", "LocalOneChannel": MEMBER_1, "LocalTwoChannel": MEMBER_2,
         "LocalOneLinkedid": CALL, "LocalTwoLinkedid": CALL, "LocalOptimization": "No"},
        {"Event": "DialBegin", **_ch(ONE, ONE_ID), "DestChannel": MEMBER_1,
         "DestUniqueid": MEMBER_1_ID, "DestLinkedid": CALL, "DialString": "7@agents/n"},
        {"Event": "Newchannel", **_ch(AGENT, AGENT_ID, "0")},
        *_dial(MEMBER_2, MEMBER_2_ID, AGENT, AGENT_ID, "agent7"),
        _bridge("BridgeEnter", MEMBER, MEMBER_2, MEMBER_2_ID),
        _bridge("BridgeEnter", MEMBER, AGENT, AGENT_ID),
        {"Event": "DialEnd", **_ch(ONE, ONE_ID), "DestChannel": MEMBER_1,
         "DestUniqueid": MEMBER_1_ID, "DestLinkedid": CALL, "DialStatus": "ANSWER"},
        _bridge("BridgeEnter", AGENTS, ONE, ONE_ID),
        _bridge("BridgeEnter", AGENTS, MEMBER_1, MEMBER_1_ID),
        _bridge("BridgeLeave", MEMBER, AGENT, AGENT_ID),
        _hangup(AGENT, AGENT_ID),
        _bridge("BridgeLeave", MEMBER, MEMBER_2, MEMBER_2_ID),
        _hangup(MEMBER_2, MEMBER_2_ID),
        _bridge("BridgeLeave", AGENTS, MEMBER_1, MEMBER_1_ID),
        _hangup(MEMBER_1, MEMBER_1_ID),
        _bridge("BridgeLeave", AGENTS, ONE, ONE_ID),
    ]


def _customer_hangs_up() -> list[dict[str, str]]:
    """The customer's BYE, seconds later: its own BridgeLeave (nobody left the Dial()
    bridge before it) and Hangup."""
    return [_bridge("BridgeLeave", DIAL, CUSTOMER, CUSTOMER_ID),
            _hangup(CUSTOMER, CUSTOMER_ID)]


def _torn_down() -> list[dict[str, str]]:
    """The agent's hangup ends the call: ``;1`` (no ``g``) hangs up, taking ``;2`` with it
    (core_unreal.c ``ast_unreal_hangup``); ``;2`` leaves the customer's bridge first and
    the dissolve pushes the customer out."""
    return [_hangup(ONE, ONE_ID),
            _bridge("BridgeLeave", DIAL, TWO, TWO_ID),
            _bridge("BridgeLeave", DIAL, CUSTOMER, CUSTOMER_ID),
            _hangup(TWO, TWO_ID),
            _hangup(CUSTOMER, CUSTOMER_ID)]


def _run(events: list[dict[str, str]], late: list[dict[str, str]], *,
         grace_s: float = 0.5,
         ) -> tuple[list[tuple[str, dict]], list[tuple[float, object]], float]:
    """Feed ``events`` (0.1 s apart) then, 4 s later, ``late``; ``due`` every 0.1 s to
    10 s past the end and the grace; then the Hangups of whatever was hung up. Returns
    the records, the effects with their instants, and when the customer's Hangup came."""
    reports: list[tuple[str, dict]] = []
    tracker = CallTracker(TrackerSettings(grace_s=grace_s),
                          report=lambda n, **f: reports.append((n, f)))
    effects: list[tuple[float, object]] = []
    at = 10.0
    for i, event in enumerate(events):
        at = 10.0 + i * 0.1
        effects += [(at, e) for e in tracker.feed(event, at)]
        if i == 6:
            tracker.follow(Followed("d-1", CALL, "c", "predictive", 25.0, UTAH,
                                    "+4930123456", asker=TWO))
    at += 4.0
    hung_at = at
    for event in late:
        at += 0.1
        effects += [(at, e) for e in tracker.feed(event, at)]
        if event.get("Event") == "Hangup" and event["Channel"] == CUSTOMER:
            hung_at = at
    end = at + grace_s + 10.0
    while at < end:
        at += 0.1
        effects += [(at, e) for e in tracker.due(at)]
    for name, uid in ((ONE, ONE_ID), (TWO, TWO_ID)):
        if any(isinstance(e, HangupChannel) and e.channel == name for _, e in effects):
            effects += [(at, e) for e in tracker.feed(_hangup(name, uid), at)]
    return reports, effects, hung_at


def _hangups(effects: list[tuple[float, object]]) -> list[str]:
    return sorted({e.channel for _, e in effects if isinstance(e, HangupChannel)})


def _release(reports: list[tuple[str, dict]]) -> dict:
    [record] = [f for n, f in reports if n == "line-release"]
    return record


def test_the_agent_hanging_up_first_then_a_survey_the_customers_hangup_releases():
    """Dial(agent,,g) on ``;1``: the agent hangs up, ``;1`` plays a survey to the customer,
    the customer hangs up: the dialer's ``;1`` and ``;2`` are hung up after the grace, and
    the record says the called party ended the call. Fails on 2dd1ab6: nothing hung up,
    "caller"."""
    reports, effects, hung_at = _run([*_customer_answered(), *_agent_by_dial()],
                                     _customer_hangs_up())
    assert _hangups(effects) == [ONE, TWO]
    assert AGENT not in _hangups(effects)
    first = min(t for t, e in effects if isinstance(e, HangupChannel))
    assert hung_at + 0.5 <= first + 1e-9  # the grace, then at once
    assert first - hung_at < 5.0  # 47 U.S.C. 227(d)(3)(B); 47 CFR 68.318 (us-federal pack)
    record = _release(reports)
    assert record["ended_by"] == "called-party"
    assert record["within_limit"] is True
    assert record["release_ms"] < 25_000


def test_the_agent_hanging_up_first_then_an_overflow_queue_the_customers_hangup_releases():
    """Queue() on ``;1`` with a Local member: the agent hangs up, the member pair goes,
    ``;1`` waits in an overflow queue; the customer hangs up: released. Fails on 2dd1ab6."""
    reports, effects, _ = _run([*_customer_answered(), *_agent_by_queue()],
                               _customer_hangs_up())
    assert _hangups(effects) == [ONE, TWO]
    assert _release(reports)["ended_by"] == "called-party"


def test_a_release_late_past_the_limit_is_a_violation_risk():
    """The same call with a grace past Utah's 25 s: the late release is recorded as a
    violation risk (``within_limit`` False), not as the caller's end."""
    reports, effects, _ = _run([*_customer_answered(), *_agent_by_dial()],
                               _customer_hangs_up(), grace_s=30.0)
    assert _hangups(effects) == [ONE, TWO]
    record = _release(reports)
    assert record["ended_by"] == "called-party"
    assert record["within_limit"] is False
    assert any(n == "violation-risk" for n, _ in reports)


def test_a_call_the_agents_hangup_tore_down_is_still_the_callers_end():
    """No ``g``: the agent's hangup takes the dialer's pair down and the dissolve pushes
    the customer out: nothing is hung up by callguard, the record says "caller"."""
    reports, effects, _ = _run([*_customer_answered(), *_agent_by_dial()], _torn_down())
    assert _hangups(effects) == []
    assert _release(reports)["ended_by"] == "caller"


def test_a_call_the_agents_hangup_tore_down_through_a_queue_is_the_callers_end():
    reports, effects, _ = _run([*_customer_answered(), *_agent_by_queue()], _torn_down())
    assert _hangups(effects) == []
    assert _release(reports)["ended_by"] == "caller"


def test_a_bye_in_the_race_of_a_teardown_is_still_the_callers_end():
    """The customer's BYE 0.1 s after the agent's hangup, before the dialer's pair (no
    ``g``) hung up: inside ``went_on_after_s`` nothing shows the call went on — the pair is
    going anyway — so nothing is hung up and the record says "caller"."""
    reports: list[tuple[str, dict]] = []
    tracker = CallTracker(TrackerSettings(grace_s=0.5),
                          report=lambda n, **f: reports.append((n, f)))
    effects: list[object] = []
    at = 10.0
    events = [*_customer_answered(), *_agent_by_dial(), *_customer_hangs_up(),
              _hangup(ONE, ONE_ID), _bridge("BridgeLeave", DIAL, TWO, TWO_ID),
              _hangup(TWO, TWO_ID)]
    for i, event in enumerate(events):
        at = 10.0 + i * 0.1
        effects += tracker.feed(event, at)
        effects += tracker.due(at)
        if i == 6:
            tracker.follow(Followed("d-1", CALL, "c", "predictive", 25.0, UTAH,
                                    "+4930123456", asker=TWO))
    effects += tracker.due(at + 30.0)
    assert not [e for e in effects if isinstance(e, HangupChannel)]
    assert _release(reports)["ended_by"] == "caller"


def test_a_leave_without_bridge_type_proves_nothing():
    """An event without ``BridgeType`` (Asterisk 22 always sends it) cannot say the
    customer's bridge was not dissolving: the old rule stands, nothing is hung up."""
    leave, hangup = _customer_hangs_up()
    leave = {k: v for k, v in leave.items() if k != "BridgeType"}
    reports, effects, _ = _run([*_customer_answered(), *_agent_by_dial()],
                               [leave, hangup, _hangup(ONE, ONE_ID), _hangup(TWO, TWO_ID)])
    assert _hangups(effects) == []
    assert _release(reports)["ended_by"] == "caller"
