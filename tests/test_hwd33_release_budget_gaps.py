"""hwd33: the gaps session 30's release budget left (``CallTracker._budget_spent``).

1. The outage path (``_resume_gone`` -> ``_resume_dest_gone`` -> ``_release_after_outage``):
   the called party's leg gone UNSEEN in a drop while its check is open. No Hangup was
   seen: when the line went free is known only to lie in the drop, and the limit may be
   past before the picture says so. Not budgeted — there is no arrival to budget from,
   and deciding the check early on the picture's word is what hung up the customer in
   Queue() (hrev142). Recorded honestly instead, pinned here: the release is timed from
   the drop's start (``dest_missing``: the last instant the leg was known up), the
   check's wait included, ``release_ms_is_upper_bound``, and past the limit a
   ``violation-risk`` saying the hangup time is unknown. (A Hangup SEEN and held keeps
   its budget through a reconnect: hrev142.)

2. A requested leg's own Hangup while the number's digest is sought (``FindNumber``,
   ``number_due``): its DialBegin and DialEnd wait for the digest (``held_requested``), its
   Hangup is kept (``requested_hangup_at``) and the release is timed from it when the
   digest comes (``_requested_known``; pinned by tests/test_review52_watchdog.py). The
   wait is ``number_lookup_s`` (node.py ``_NUMBER_LOOKUP_S``, 1 s) at most, begun at the
   picture, so no budget is needed there. Found: when the call's LAST channel hung up in
   that wait, ``_hangup`` wrote its line-release at once — the held events never decided,
   the customer who answered and hung up first recorded ``not-answered``, no dial status,
   no release measured, and the digest's answer ignored (the call gone). Now the record
   waits for the digest (``_finish_held``), written as of the last Hangup; nothing is
   kept past ``number_due`` (no leak in ``calls``).

3. ``budget_decided`` was set once per call: reachable in the hrev81 picture (the dialer's
   Local pair, ``;1`` Dial()ed agent 9, ``;2`` the customer, both AppDial legs). Agent 9's
   Hangup is held, its budget ends ``held-for-check``; ``;1``'s read ("agent9") sets it
   aside and the customer's leg is checked next (``_next_pictured``). The customer hangs
   up with its read out: held, and
   - its read answered None ("No such channel": it is gone; a Getvar timeout): the
     fallback to the asking leg's answer took ``;1``'s "agent9" — which had set agent 9
     aside — for the customer's leg too: set aside, nothing released, the record
     ``called_channel`` null, ``ended_by: caller`` (default settings);
   - its read answered in 1 s: released at 180 ms, but the record said
     ``release_budget: held-for-check`` (agent 9's hold);
   - its read slower than the limit less the margin (``action_timeout_ms`` above 4.5 s):
     no budget (``budget_decided`` set), released 5.18 s after the Hangup.
   Now each held Hangup has its budget (``_hold``, ``budget_hold``), the field says the
   last one's, and the asking leg's answer sets one leg aside only (``set_aside``).

SYNTHESISED: the agent-first shape of tests/test_review52_watchdog.py (a restart, the
agent's channel alone in the picture, the dialer requesting the customer's leg); the hrev81
picture of tests/test_hrev142_release_budget_review.py. Pure tracker, synthetic clock.
"""

from __future__ import annotations

from typing import Any

import pytest

from callguard.watchdog.calls import RELEASE_MARGIN_S, CallTracker, plain_digest
from tests import test_hrev81_unread_follow as unread
from tests import test_hrev142_release_budget_review as rev142
from tests import test_hrev150_resume_gone_review as rev150
from tests import test_hwd31_release_budget as budget
from tests import test_review52_watchdog as r52
from tests.test_watchdog import carried

AGENT_HANGUP = {"Event": "Hangup", **r52.ASKER, "Cause": "16"}


def ended_waiting_for_digest() -> tuple[CallTracker, Any, list[tuple[str, dict[str, Any]]],
                                         float]:
    """The customer answers and hangs up, then the agent's channel, all 0.1 s apart from
    t = 10.1 (the digest sought since 10.0): the tracker, its digest request, the records
    it writes (none yet) and the time of the last hangup."""
    tracker, find, live = r52._after_a_restart(f"{r52.NUMBER}@itsp")
    records: list[tuple[str, dict[str, Any]]] = []
    tracker._record = lambda now, name, **fields: records.append((name, fields))  # type: ignore[method-assign]
    now = 10.0
    for event in [*live, AGENT_HANGUP]:
        now += 0.1
        tracker.feed(event, now)
        tracker.due(now)
    return tracker, find, records, now


def _all_gone(answer: str | None) -> tuple[CallTracker, list[tuple[str, dict[str, Any]]], float]:
    """``ended_waiting_for_digest``, then the record's answer (``answer``: "found",
    "late", None)."""
    tracker, find, records, now = ended_waiting_for_digest()
    ended = now
    if answer == "found":
        tracker.number_found(r52.LINKEDID, find.decision_id, plain_digest(r52.NUMBER),
                             now + 0.05)
    tracker.due(now + 30.0)
    if answer == "late":
        tracker.number_found(r52.LINKEDID, find.decision_id, plain_digest(r52.NUMBER),
                             now + 31.0)
    return tracker, records, ended


def test_a_call_ending_while_its_digest_is_sought_is_recorded_from_what_was_held() -> None:
    """Fails before hwd33: ``not-answered``, no dial status, no called channel."""
    tracker, records, _ = _all_gone("found")
    assert r52.LINKEDID not in tracker.calls
    [(name, record)] = records
    assert name == "line-release"
    assert record["dial_status"] == "ANSWER"
    assert record["called_channel"] == r52.CUSTOMER["Channel"]
    assert record["ended_by"] == "called-party"
    assert record["release_ms"] == 100.0  # the customer's Hangup to the agent's
    assert record["within_limit"] is True


def test_control_the_digest_never_found_keeps_the_pictures_word_and_leaks_nothing() -> None:
    """No digest within ``number_lookup_s``: the requested leg proves nothing (hrev48), as
    before; the record is written once the wait ends, and the call is not kept."""
    for answer in (None, "late"):
        tracker, records, _ = _all_gone(answer)
        assert tracker.calls == {}
        [(name, record)] = records
        assert name == "line-release"
        assert record["ended_by"] == "not-answered"


CUSTOMER_HANGS_UP_AT = 16.0  # agent 9's hold decided (14.5), the customer's leg checked
LIMIT_S = 5.0


def _second_hold(customer_read: str | None, read_s: float) -> rev142._Unread:
    """The hrev81 picture after a restart: agent 9's Hangup held (10.0), its read
    unreadable, ``;1``'s naming agent 9; the customer's leg checked next, its read
    answered ``read_s`` after it is asked; the customer hangs up at 16.0."""
    value = carried(mode="prerecorded", limit=LIMIT_S, decision="d-hwd33-second-hold")
    items = [{**unread._item(name, app, bridge), "ChanVariable": f"CALLGUARD_FOLLOW={value}"}
             for name, app, bridge in ((unread.AGENT9, "AppDial", "b-x"),
                                       (unread.CUSTOMER, "AppDial", "b-d"),
                                       (unread.ONE, "Dial", "b-x"), (unread.TWO, "Dial", "b-d"))]
    run = rev142._Unread(items, unread._event("Hangup", unread.AGENT9),
                         {**unread.READS, (unread.AGENT9, "DIALEDPEERNUMBER"): None,
                          (unread.CUSTOMER, "DIALEDPEERNUMBER"): customer_read},
                         unread.CALL, read_s=1.99,
                         delays={(unread.CUSTOMER, "DIALEDPEERNUMBER"): read_s})
    run.until(CUSTOMER_HANGS_UP_AT)
    call = run.tracker.calls[unread.CALL]
    assert call.checking == unread.CUSTOMER
    assert call.budget_decided == "held-for-check"
    for event in unread._CUSTOMER_HANGS_UP:
        run.run(run.tracker.feed(event, run.now))
    run.until(CUSTOMER_HANGS_UP_AT + 10.0)
    return run


def test_a_second_held_hangup_has_a_budget_of_its_own() -> None:
    """Fails before hwd33: released 5.18 s after the customer's Hangup, ``within_limit``
    false, the record saying agent 9's ``held-for-check``."""
    run = _second_hold(unread.ALLOWED, read_s=6.0)
    first = min(at for at, _ in run.hung)
    assert first - CUSTOMER_HANGS_UP_AT <= LIMIT_S - RELEASE_MARGIN_S + 0.02
    assert {name for _, name in run.hung} == {unread.ONE, unread.TWO}
    [record] = run.of("line-release")
    assert record["ended_by"] == "called-party"
    assert record["called_channel"] == unread.CUSTOMER
    assert record["within_limit"] is True
    assert record["release_budget"] == "released-unchecked"
    assert [fields["decided"] for _, fields in run.warnings] == ["held-for-check",
                                                                 "released-unchecked"]
    assert not run.of("violation-risk")


def test_a_second_hold_decided_in_time_records_no_budget() -> None:
    """Fails before hwd33: released at 180 ms, the record said ``held-for-check``."""
    run = _second_hold(unread.ALLOWED, read_s=1.0)
    [record] = run.of("line-release")
    assert record["release_ms"] == pytest.approx(180.0)
    assert "release_budget" not in record


def test_the_asking_legs_answer_sets_one_leg_aside_only() -> None:
    """Fails before hwd33: the customer's read answered None (it was gone), ``;1``'s
    "agent9" set the customer's leg aside too: nothing released, no called channel."""
    run = _second_hold(None, read_s=1.0)
    assert {name for _, name in run.hung} == {unread.ONE, unread.TWO}
    [record] = run.of("line-release")
    assert record["called_channel"] == unread.CUSTOMER
    assert record["ended_by"] == "called-party"
    assert record["within_limit"] is True


DROP_AT = 13.5  # the main session drops, the trunk's reads out (hrev150's shape)


@pytest.mark.parametrize(("read_s", "late"), [(1.99, False), (6.0, True)])
def test_a_leg_gone_unseen_is_timed_from_the_drop_and_said_an_upper_bound(
        read_s: float, late: bool) -> None:
    """Passes before and after hwd33 (no change: shown honest, not budgeted)."""
    run = rev150._simple_unseen({(budget.TRUNK, "DIALEDPEERNUMBER"): None,
                                 (budget.ONE, "DIALEDPEERNUMBER"): ""}, read_s=read_s)
    last = max(at for at, _ in run.hung)
    [record] = run.of("line-release")
    assert record["ended_by"] == "called-party"
    assert record["release_ms"] == pytest.approx((last - DROP_AT) * 1000, abs=1)
    assert record["release_ms_is_upper_bound"] is True
    assert "release_budget" not in record  # no Hangup seen: nothing budgeted
    assert record["within_limit"] is (not late)
    risks = run.of("violation-risk")
    assert bool(risks) is late
    if late:
        assert "the hangup time is unknown" in risks[0]["reason"]
