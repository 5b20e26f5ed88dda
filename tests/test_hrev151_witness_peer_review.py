"""Reviewer hrev151: hwd33's ``set_aside`` narrowing (``CallTracker._number_checked``) and
its ``_finish_held`` (the end of a call whose every channel went in the digest's wait).

hwd33 stopped the asking leg's "another number" from setting aside a second gone leg once
any leg was set aside: that answer is one peer's (app_dial.c ``dial_exec_full`` copies the
answered peer's DIALEDPEERNUMBER to the caller). But the leg set aside may not be that
peer: a queue's or dialer's Local member (``Local/agent9@agents;1``, the asking leg ``;1``'s
peer) whose ``;2`` Dial()s the agent's phone lists two AppDial legs, the phone's first
(CoreShowChannels keeps no order; hwd21). The phone's own read ("agent9") sets it aside;
the Local member's ``;1`` is checked next, goes with the agent, its read unanswered ("No
such channel") — and, ``;1``'s "agent9@agents" now ignored, it was taken for the called
party: the customer's hangup, talking on through the dialer's ``;2``, released nothing.
Now the asking leg's answer is spent only on a leg it set aside itself (hwd33's hrev81
case still passes: tests/test_hwd33_release_budget_gaps.py).

Synthetic events on the hrev81 picture (tests/test_hrev81_unread_follow.py); pure tracker,
synthetic clock.
"""

from __future__ import annotations

from typing import Any

from callguard.watchdog.calls import CallTracker, FindNumber, TrackerSettings, plain_digest
from tests import test_hrev81_unread_follow as unread
from tests import test_hrev142_release_budget_review as rev142
from tests import test_review52_watchdog as r52
from tests.test_watchdog import carried

MEMBER_1, MEMBER_2 = "Local/agent9@agents-00000020;1", "Local/agent9@agents-00000020;2"
IDS = {**unread.IDS, MEMBER_1: "1795400000.14", MEMBER_2: "1795400000.15"}


def _item(name: str, app: str, bridge: str, value: str) -> dict[str, str]:
    return {"Event": "CoreShowChannel", "Channel": name, "Uniqueid": IDS[name],
            "Linkedid": unread.CALL, "ChannelState": "6", "Application": app,
            "BridgeId": bridge, "Duration": "00:01:00",
            "ChanVariable": f"CALLGUARD_FOLLOW={value}"}


def _hangup(name: str) -> dict[str, str]:
    return {"Event": "Hangup", "Channel": name, "Uniqueid": IDS[name], "Linkedid": unread.CALL,
            "ChannelState": "6", "Cause": "16"}


def test_a_leg_set_aside_by_its_own_read_leaves_the_asking_legs_answer_standing() -> None:
    """Fails on hwd33 (4ad2600..29563e6): nothing hung up, no line-release."""
    value = carried(mode="prerecorded", limit=5.0, decision="d-hrev151-member")
    items = [_item(name, app, bridge, value)
             for name, app, bridge in ((unread.AGENT9, "AppDial", "b-a"),
                                       (MEMBER_1, "AppDial", "b-x"),
                                       (unread.CUSTOMER, "AppDial", "b-d"),
                                       (MEMBER_2, "Dial", "b-a"),
                                       (unread.ONE, "Dial", "b-x"), (unread.TWO, "Dial", "b-d"))]
    reads = {**unread.READS, (unread.ONE, "DIALEDPEERNUMBER"): "agent9@agents",
             (unread.AGENT9, "DIALEDPEERNUMBER"): "agent9", (MEMBER_1, "DIALEDPEERNUMBER"): None}
    run = rev142._Unread(items, {"Event": "Noop"}, reads, unread.CALL, read_s=1.0,
                         delays={(MEMBER_1, "DIALEDPEERNUMBER"): 3.0})
    run.until(16.0)
    call = run.tracker.calls[unread.CALL]
    assert call.checking == MEMBER_1  # the phone set aside by its own read
    for name in (unread.AGENT9, MEMBER_2, MEMBER_1):  # the agent hangs up
        run.run(run.tracker.feed(_hangup(name), run.now))
    run.until(20.0)
    assert run.hung == []
    assert run.tracker.calls[unread.CALL].dest == unread.CUSTOMER
    for event in unread._CUSTOMER_HANGS_UP:
        run.run(run.tracker.feed(event, run.now))
    run.until(25.0)
    assert {name for _, name in run.hung} == {unread.ONE, unread.TWO}
    [record] = run.of("line-release")
    assert record["called_channel"] == unread.CUSTOMER
    assert record["ended_by"] == "called-party"
    assert record["within_limit"] is True


# --- hwd33's ``_finish_held``: who ended a call whose every channel went in the digest's wait

SNOOP = {"Channel": "Snoop/PJSIP/agent-00000050-00000001", "Uniqueid": "1795326400.52",
         "Linkedid": r52.LINKEDID}


def _ended_in_the_wait(order: list[str]) -> list[tuple[str, dict[str, Any]]]:
    """review52's restart (the agent's ARI channel alone in the picture, the customer's leg
    requested while the number's digest is sought), with the agent's snoop (a recording)
    listed too; the customer answers, then the three hang up in ``order`` 0.1 s apart, all
    within the digest's wait; the digest comes after."""
    carries = {"ChanVariable": f"CALLGUARD_FOLLOW={carried()}"}
    records: list[tuple[str, dict[str, Any]]] = []
    tracker = CallTracker(TrackerSettings(number_lookup_s=1.0),
                          report=lambda name, **fields: records.append((name, fields)))
    tracker.disconnected(0.0)
    effects = tracker.reconcile(
        [{**r52.ASKER, "Application": "Stasis", "ChannelState": "6", "BridgeId": "", **carries},
         {**SNOOP, "Application": "Stasis", "ChannelState": "6", "BridgeId": "", **carries}],
        10.0)
    [find] = [e for e in effects if isinstance(e, FindNumber)]
    _, _, live = r52._after_a_restart(f"{r52.NUMBER}@itsp")
    gone = {"agent": r52.ASKER, "customer": r52.CUSTOMER, "snoop": SNOOP}
    now = 10.0
    for event in [*live[:-1], *({"Event": "Hangup", **gone[o], "Cause": "16"} for o in order)]:
        now += 0.1
        tracker.feed(event, now)
        tracker.due(now)
    assert now < 11.0  # all gone within number_lookup_s
    tracker.number_found(r52.LINKEDID, find.decision_id, plain_digest(r52.NUMBER), now + 0.05)
    tracker.due(now + 30.0)
    assert tracker.calls == {}
    return records


def test_the_agent_hanging_up_first_in_the_digests_wait_is_recorded_caller() -> None:
    """Fails on hwd33: "called-party", release_ms 100 — the customer's Hangup was not the
    last (the snoop's was), so it was taken for the first."""
    [(name, record)] = _ended_in_the_wait(["agent", "customer", "snoop"])
    assert name == "line-release"
    assert record["ended_by"] == "caller"
    assert record["release_ms"] is None
    assert record["dial_status"] == "ANSWER"


def test_control_the_customer_hanging_up_first_is_recorded_called_party() -> None:
    [(_, record)] = _ended_in_the_wait(["customer", "agent", "snoop"])
    assert record["ended_by"] == "called-party"
    assert record["release_ms"] == 200.0
    [(_, record)] = _ended_in_the_wait(["snoop", "customer", "agent"])  # no person's Hangup
    assert record["ended_by"] == "called-party"
    assert record["release_ms"] == 100.0
