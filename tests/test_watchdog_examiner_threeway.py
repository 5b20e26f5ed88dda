"""Examiner hast14: a basic bridge of three does not dissolve when one of them hangs up.

bridge_channel.c ``bridge_channel_dissolve_check`` dissolves a basic bridge
(bridge_basic.c NORMAL_FLAGS: AST_BRIDGE_FLAG_DISSOLVE_HANGUP) when a member leaves in
state BRIDGE_CHANNEL_STATE_END. But the normal personality gives every member a hangup
hook, bridge_basic.c ``basic_hangup_hook``: when two or more OTHER members are still in
the bridge (state WAIT) it makes the hanging-up channel leave with
BRIDGE_CHANNEL_STATE_END_NO_DISSOLVE ("Just allow this channel to leave the multi-party
bridge"). The others talk on. And a channel entering a bridge proves it is not
dissolved (bridge_channel.c ``bridge_channel_internal_push`` refuses a dissolved bridge).

The tracker took every BridgeLeave of a basic bridge for its dissolving (``_dissolving``):
in an attended transfer turned three-way (bridge_basic.c ``threeway_enter`` merges the
consultation bridge into the customer's and goes back to the normal personality), the
agent hanging up left the customer talking with the supervisor; the customer's later
hangup was taken for a push out of a dissolving bridge — not the end of a call that went
on — and nothing was released: the supervisor's channel stayed up, recorded as the
calling side's ending (47 CFR 64.1200(a)(6); Utah Code 13-25a-103(5)(e)).

Here no AttendedTransfer reaches the tracker (an AMI reconnect during the transfer, or
filters of one's own; the tracker must expect it: ``_left_talking``): only the bridges
tell. With the event (the shipped manager-callguard.conf passes it) the agent is a
transferer and the release was right before too (the last test, a control).

The agent is dialled by the dialer's ``;1`` (Dial(PJSIP/agent7)), the Local pair
optimised away (the customer swapped in for ``;1``: bridge.c ``try_swap_optimize_out``).
The transfer's consultation Local pair
(bridge_basic.c ``dial_transfer``) is left out: the supervisor enters the consultation
bridge directly, as after its own optimisation. SYNTHESISED events (said here), in the
layout of ``test_watchdog_examiner_order``.
"""

from __future__ import annotations

from callguard.watchdog.calls import CallTracker, Followed, HangupChannel, TrackerSettings

UTAH = "Utah Code 13-25a-103(5)(e)"
ONE, TWO = "Local/s@dialer-00000011;1", "Local/s@dialer-00000011;2"
ONE_ID, TWO_ID = "1795326441.77", "1795326441.78"
CUSTOMER, CUSTOMER_ID = "PJSIP/itsp-0000002a", "1795326441.80"
AGENT, AGENT_ID = "PJSIP/agent7-0000002b", "1795326441.81"
SUPERVISOR, SUPERVISOR_ID = "PJSIP/super1-0000002c", "1795326441.84"
CALL = ONE_ID
DIAL, AGENTS, CONSULT = "b2-dial", "b3-agent", "b5-consult"


def _ch(name: str, uid: str, state: str = "6") -> dict[str, str]:
    return {"Channel": name, "Uniqueid": uid, "Linkedid": CALL, "ChannelState": state}


def _bridge(event: str, bridge: str, name: str, uid: str, **more: str) -> dict[str, str]:
    return {"Event": event, "BridgeUniqueid": bridge, "BridgeType": "basic",
            **_ch(name, uid), **more}


def _hangup(name: str, uid: str) -> dict[str, str]:
    return {"Event": "Hangup", "Cause": "16", **_ch(name, uid)}


def _dial(caller: str, caller_id: str, dest: str, dest_id: str, string: str) -> list[dict]:
    return [{"Event": kind, **_ch(caller, caller_id), "DestChannel": dest,
             "DestUniqueid": dest_id, "DestLinkedid": CALL, "DialString": string,
             "DialStatus": "ANSWER"} for kind in ("DialBegin", "DialEnd")]


def _customer_with_the_agent() -> list[dict[str, str]]:
    """The customer answered (the gate followed the call after the 6th event), the agent
    answered ``;1``'s Dial(), the pair optimised away: one bridge, customer and agent."""
    return [
        {"Event": "Newchannel", **_ch(ONE, ONE_ID, "0")},
        {"Event": "Newchannel", **_ch(TWO, TWO_ID, "4")},
        {"Event": "LocalBridge", "LocalOneChannel": ONE, "LocalTwoChannel": TWO,
         "LocalOneLinkedid": CALL, "LocalTwoLinkedid": CALL, "LocalOptimization": "Yes"},
        {"Event": "DialBegin", "DestChannel": ONE, "DestUniqueid": ONE_ID,
         "DestLinkedid": CALL, "DialString": "s@dialer"},
        {"Event": "DialEnd", "DestChannel": ONE, "DestUniqueid": ONE_ID,
         "DestLinkedid": CALL, "DialStatus": "ANSWER"},
        {"Event": "Newchannel", **_ch(CUSTOMER, CUSTOMER_ID, "0")},
        *_dial(TWO, TWO_ID, CUSTOMER, CUSTOMER_ID, "itsp/+18015550123"),
        _bridge("BridgeEnter", DIAL, TWO, TWO_ID),
        _bridge("BridgeEnter", DIAL, CUSTOMER, CUSTOMER_ID),
        {"Event": "Newchannel", **_ch(AGENT, AGENT_ID, "0")},
        *_dial(ONE, ONE_ID, AGENT, AGENT_ID, "agent7"),
        _bridge("BridgeEnter", AGENTS, ONE, ONE_ID),
        _bridge("BridgeEnter", AGENTS, AGENT, AGENT_ID),
        _bridge("BridgeLeave", DIAL, CUSTOMER, CUSTOMER_ID),
        _bridge("BridgeEnter", AGENTS, CUSTOMER, CUSTOMER_ID, SwapUniqueid=ONE_ID),
        _bridge("BridgeLeave", AGENTS, ONE, ONE_ID),
        _bridge("BridgeLeave", DIAL, TWO, TWO_ID),
        _hangup(ONE, ONE_ID),
        _hangup(TWO, TWO_ID),
    ]


def _threeway() -> list[dict[str, str]]:
    """The agent's atxfer: moved to the consultation bridge (bridge.c ``bridge_do_move``:
    BridgeLeave, BridgeEnter), the supervisor answers there; then three-way: the
    consultation bridge merged into the customer's (``bridge_do_merge``: each channel
    pulled and pushed, no ``SwapUniqueid``)."""
    return [
        _bridge("BridgeLeave", AGENTS, AGENT, AGENT_ID),
        _bridge("BridgeEnter", CONSULT, AGENT, AGENT_ID),
        {"Event": "Newchannel", **_ch(SUPERVISOR, SUPERVISOR_ID, "0")},
        _bridge("BridgeEnter", CONSULT, SUPERVISOR, SUPERVISOR_ID),
        _bridge("BridgeLeave", CONSULT, AGENT, AGENT_ID),
        _bridge("BridgeEnter", AGENTS, AGENT, AGENT_ID),
        _bridge("BridgeLeave", CONSULT, SUPERVISOR, SUPERVISOR_ID),
        _bridge("BridgeEnter", AGENTS, SUPERVISOR, SUPERVISOR_ID),
    ]


def _attended_transfer() -> dict[str, str]:
    """stasis_bridges.c ``attended_transfer_to_ami`` for the three-way (``DestType:
    Threeway``): the agent is both transferers, the customer the transferee."""
    blocks: dict[str, str] = {}
    for prefix, name, uid in (("OrigTransferer", AGENT, AGENT_ID),
                              ("SecondTransferer", AGENT, AGENT_ID),
                              ("Transferee", CUSTOMER, CUSTOMER_ID)):
        blocks.update({f"{prefix}{k}": v for k, v in _ch(name, uid).items()})
    return {"Event": "AttendedTransfer", "Result": "Success", "DestType": "Threeway",
            **blocks}


def _run(tail: list[tuple[float, dict[str, str]]], *, event: bool = False,
         ) -> tuple[list[tuple[str, dict]], list[tuple[float, HangupChannel]]]:
    """The call, the three-way (``event``: with its AttendedTransfer), then ``tail`` at its
    offsets (s) after; ``due`` each 0.1 s."""
    reports: list[tuple[str, dict]] = []
    tracker = CallTracker(TrackerSettings(), report=lambda n, **f: reports.append((n, f)))
    sent: list[tuple[float, HangupChannel]] = []
    at = 10.0
    transfer = [_attended_transfer()] if event else []
    for i, given in enumerate([*_customer_with_the_agent(), *_threeway(), *transfer]):
        at = 10.0 + i * 0.1
        tracker.feed(given, at)
        if i == 5:
            tracker.follow(Followed("d-1", CALL, "c", "predictive", 25.0, UTAH,
                                    "+4930123456", asker=TWO))
    start = at
    timeline = sorted(((start + offset, event) for offset, event in tail),
                      key=lambda item: item[0])
    gone: set[str] = set()
    while at < start + 60.0:
        at = round(at + 0.1, 3)
        while timeline and timeline[0][0] <= at:
            _, event = timeline.pop(0)
            effects = tracker.feed(event, at)
            sent += [(at, e) for e in effects if isinstance(e, HangupChannel)]
        for effect in tracker.due(at):
            if isinstance(effect, HangupChannel):
                sent.append((at, effect))
                if effect.channel == SUPERVISOR and SUPERVISOR not in gone:
                    gone.add(SUPERVISOR)
                    timeline += [(at + 0.05, _bridge("BridgeLeave", AGENTS, SUPERVISOR,
                                                     SUPERVISOR_ID)),
                                 (at + 0.06, _hangup(SUPERVISOR, SUPERVISOR_ID))]
    return reports, sent


def _release(reports: list[tuple[str, dict]]) -> dict:
    [record] = [f for n, f in reports if n == "line-release"]
    return record


def test_the_customer_hanging_up_after_the_agent_left_the_three_way_is_released():
    """The agent hangs up 5 s into the three-way (two others left: no dissolve); the
    customer talks on with the supervisor and hangs up 30 s later: the supervisor's
    channel, left on a dead line, is hung up at once and the record says "called-party".
    Fails before: nothing hung up, "caller"."""
    reports, sent = _run([(5.0, _bridge("BridgeLeave", AGENTS, AGENT, AGENT_ID)),
                          (5.01, _hangup(AGENT, AGENT_ID)),
                          (35.0, _bridge("BridgeLeave", AGENTS, CUSTOMER, CUSTOMER_ID)),
                          (35.01, _hangup(CUSTOMER, CUSTOMER_ID))])
    assert {e.channel for _, e in sent} == {SUPERVISOR}
    record = _release(reports)
    assert record["ended_by"] == "called-party"
    assert record["within_limit"] is True
    assert record["release_ms"] < 5000


def test_control_the_agent_hanging_up_last_of_two_dissolves_the_bridge():
    """The supervisor hangs up first (two others left: the agent and the customer talk
    on), then the agent (one other left: the bridge dissolves, the customer pushed out):
    the calling side ended the call, nothing is hung up."""
    reports, sent = _run([(5.0, _bridge("BridgeLeave", AGENTS, SUPERVISOR, SUPERVISOR_ID)),
                          (5.01, _hangup(SUPERVISOR, SUPERVISOR_ID)),
                          (20.0, _bridge("BridgeLeave", AGENTS, AGENT, AGENT_ID)),
                          (20.01, _hangup(AGENT, AGENT_ID)),
                          (20.02, _bridge("BridgeLeave", AGENTS, CUSTOMER, CUSTOMER_ID)),
                          (20.03, _hangup(CUSTOMER, CUSTOMER_ID))])
    assert sent == []
    assert _release(reports)["ended_by"] == "caller"


def test_control_the_customer_hanging_up_in_the_three_way_cuts_no_conversation():
    """The customer hangs up first, agent and supervisor still talking: the called party's
    line is free (its channel is gone) and hanging either up would cut two live persons
    apart (``_left_talking``): nothing is hung up, and with no transfer event seen a
    violation risk says the release is not proven (as before the fix)."""
    reports, sent = _run([(5.0, _bridge("BridgeLeave", AGENTS, CUSTOMER, CUSTOMER_ID)),
                          (5.01, _hangup(CUSTOMER, CUSTOMER_ID))])
    assert sent == []
    [(name, risk)] = reports  # the call goes on: its line-release comes at its end
    assert name == "violation-risk"
    assert "no transfer event was seen" in risk["reason"]


def test_control_with_the_transfer_event_it_was_released_before_too():
    """With the AttendedTransfer passed (the shipped manager-callguard.conf filters) the
    agent is a transferer and its hangup is no end of the call: released before the fix
    as well. The fix matters when that event is missed (an AMI reconnect during the
    transfer, filters of one's own)."""
    reports, sent = _run([(5.0, _bridge("BridgeLeave", AGENTS, AGENT, AGENT_ID)),
                          (5.01, _hangup(AGENT, AGENT_ID)),
                          (35.0, _bridge("BridgeLeave", AGENTS, CUSTOMER, CUSTOMER_ID)),
                          (35.01, _hangup(CUSTOMER, CUSTOMER_ID))], event=True)
    assert {e.channel for _, e in sent} == {SUPERVISOR}
    assert _release(reports)["ended_by"] == "called-party"


def test_two_hanging_up_at_once_dissolve_the_bridge_whatever_order_their_leaves_come_in():
    """hrev21: the agent and the supervisor hang up at once. ``basic_hangup_hook`` counts
    the members still in WAIT: the agent's hook (two others) leaves NO_DISSOLVE, the
    supervisor's (the customer alone in WAIT) dissolves the bridge and the customer is
    pushed out. Each channel is pulled by its own thread, so the agent's BridgeLeave may
    come after the customer's: the customer's leave is no end of a call that went on, and
    nothing went on (all hang up): the calling side ended the call. Fails before (hast14):
    the supervisor's leave, of three, kept the bridge in the tracker, the customer's leave
    beside the agent was taken for a call going on, recorded "called-party"."""
    reports, sent = _run([(5.0, _bridge("BridgeLeave", AGENTS, SUPERVISOR, SUPERVISOR_ID)),
                          (5.001, _bridge("BridgeLeave", AGENTS, CUSTOMER, CUSTOMER_ID)),
                          (5.002, _bridge("BridgeLeave", AGENTS, AGENT, AGENT_ID)),
                          (5.003, _hangup(SUPERVISOR, SUPERVISOR_ID)),
                          (5.004, _hangup(CUSTOMER, CUSTOMER_ID)),
                          (5.2, _hangup(AGENT, AGENT_ID))])
    assert sent == []
    assert _release(reports)["ended_by"] == "caller"


def test_control_the_customer_hanging_up_just_after_one_left_the_three_way_is_released():
    """hrev21: the agent hangs up, the customer 0.3 s later; the supervisor stays on: the
    release waits the second (``went_on_after_s``), then hangs the supervisor up, timed
    from the customer's hangup, "called-party"."""
    reports, sent = _run([(5.0, _bridge("BridgeLeave", AGENTS, AGENT, AGENT_ID)),
                          (5.01, _hangup(AGENT, AGENT_ID)),
                          (5.3, _bridge("BridgeLeave", AGENTS, CUSTOMER, CUSTOMER_ID)),
                          (5.31, _hangup(CUSTOMER, CUSTOMER_ID))])
    assert {e.channel for _, e in sent} == {SUPERVISOR}
    record = _release(reports)
    assert record["ended_by"] == "called-party"
    assert record["release_ms"] < 5000
