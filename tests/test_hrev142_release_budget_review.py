"""Reviewer hrev142: hwd31's release budget (``CallTracker._budget_spent``) looked at again,
on the path that hangs up real calls.

Found: a RECONNECT while the check of a held Hangup is still open. The main AMI session
drops after the called party's Hangup was held for the check of whom the picture's AppDial
leg was dialled to (its DIALEDPEERNUMBER reads in flight on the read session, ami.py
``_getvar``); the next picture no longer lists that leg, and ``_resume`` took it for a leg
gone unseen in the outage (``_resume_dest_gone`` -> ``_release_after_outage``): the rest
released on the picture's word, the check still open (``_dialler_unknown`` says nothing
while it is: the digest is known and nothing read unread yet).

- the hrev81 queue (the agent's leg is the picture's AppDial leg, the customer waits in
  Queue()): the customer — the live called party, as the read answering later says — was
  hung up (on main too, and on hwd31 before and after the budget's end);
- the dialer's Local pair: released 4.8 s after the Hangup, recorded ``release_ms`` 800
  and ``release_ms_is_upper_bound`` (timed from the outage's start, not from the Hangup
  the watchdog had seen).

Now a called party's Hangup held for a check still open stays held through a reconnect's
picture: the check decides (its reads answer, or the budget's end does), timed from that
Hangup. The same with the leg gone UNSEEN in the drop (no Hangup held; the customer was hung
up all the same): the check decides, then the release after the outage as before (bounded by
it, ``release_ms_is_upper_bound``, the transfer variables waited for).

Also pinned, passing on hwd31 (the scenarios the review asked about): the hrev81 picture
(the customer talking through the dialer's ``;2``, agent 9 the picture's AppDial leg) is
held for the check at the budget's end, never released on the picture's word; a read
answered just after the budget's end changes nothing and releases nothing twice; a 25 s limit (Utah
13-25a-103(5)) is budgeted from the same Hangup at 24.5 s, not at 4.5 s.

Harness: ``test_hwd31_release_budget._Restart`` (pure tracker, synthetic clock, reads
answered ``read_s`` after they are asked; a main-session drop leaves the read session's
reads in flight).
"""

from __future__ import annotations

import pytest

from callguard.watchdog.calls import RELEASE_MARGIN_S
from tests import test_hrev81_queue_customer as queue
from tests import test_hrev81_unread_follow as unread
from tests import test_hwd31_release_budget as budget
from tests.test_watchdog import NUMBER, carried

HANGUP_AT = budget.HANGUP_AT
LIMIT_S = budget.LIMIT_S


def _queue_picture(names: list[str]) -> list[dict[str, str]]:
    apps = {queue.AGENT: ("AppDial", "b-m"), queue.CUSTOMER: ("Queue", "b-q"),
            queue.MEMBER_1: ("AppQueue", "b-q"), queue.MEMBER_2: ("Dial", "b-m")}
    return [{**queue._item(name, *apps[name]), "ChanVariable": f"CALLGUARD_FOLLOW={budget.VALUE}"}
            for name in names]


def _reconnect(run: budget._Restart, down: float, back: float,
               items: list[dict[str, str]]) -> None:
    """The main session drops at ``down`` (the read session's reads stay in flight) and
    the next picture, at ``back``, lists ``items``."""
    run.until(down)
    run.tracker.disconnected(down)
    run.until(back)
    run.run(run.tracker.reconcile(items, run.now))


@pytest.mark.parametrize(("down", "back"), [(13.5, 13.8), (14.0, 14.4)],
                         ids=["early", "just-before-the-budget"])
def test_a_reconnect_during_the_check_does_not_hang_up_the_customer_in_queue(
        down: float, back: float) -> None:
    """Fails on hwd31 (and main): the customer was hung up 0.5 s after the picture."""
    run = budget._queue(dict(queue.READS))  # the agent's leg: "agent7", another number
    _reconnect(run, down, back, _queue_picture([queue.CUSTOMER, queue.MEMBER_1,
                                                queue.MEMBER_2]))
    run.until(HANGUP_AT + 8.0)
    assert queue.CUSTOMER not in {name for _, name in run.hung}
    assert run.tracker.calls[queue.CALL].dest == queue.CUSTOMER  # the check decided
    assert not run.of("violation-risk")


def test_a_reconnect_during_the_check_times_the_release_from_the_held_hangup() -> None:
    """Fails on hwd31: released 4.8 s after the Hangup, recorded 800 ms, an "upper
    bound" (timed from the outage's start)."""
    run = budget._simple()
    _reconnect(run, 14.0, 14.3, [budget._item(budget.ONE), budget._item(budget.TWO)])
    run.until(HANGUP_AT + 8.0)
    first = min(at for at, _ in run.hung)
    [record] = run.of("line-release")
    assert record["release_ms"] == pytest.approx((first - HANGUP_AT) * 1000, abs=20)
    assert first - HANGUP_AT <= LIMIT_S - RELEASE_MARGIN_S + 0.02
    assert "release_ms_is_upper_bound" not in record
    assert record["within_limit"] is True
    assert record["release_budget"] == "released-unchecked"


def test_control_the_agent_was_the_called_party_reconnect_then_released() -> None:
    """The same reconnect, the agent's leg read dialled to the number: it was the called
    party; the customer's side is released when the check says so (late: the budget held
    it for the customer), and the record says it."""
    run = budget._queue({**queue.READS, (queue.AGENT, "DIALEDPEERNUMBER"): NUMBER})
    _reconnect(run, 13.5, 13.8, _queue_picture([queue.CUSTOMER, queue.MEMBER_1,
                                                queue.MEMBER_2]))
    run.until(HANGUP_AT + 8.0)
    assert queue.CUSTOMER in {name for _, name in run.hung}
    [record] = run.of("line-release")
    assert record["ended_by"] == "called-party"
    assert record["release_ms"] > LIMIT_S * 1000
    assert record["within_limit"] is False
    assert "release_ms_is_upper_bound" not in record
    assert run.of("violation-risk")


class _Unread(budget._Restart):
    def end(self, names: list[str]) -> None:
        for name in names:
            self.run(self.tracker.feed(unread._event("Hangup", name), self.now))


def _hrev81(reads_s: float) -> _Unread:
    value = carried(mode="prerecorded", limit=5.0, decision="d-hrev142-81")
    items = [{**unread._item(name, app, bridge), "ChanVariable": f"CALLGUARD_FOLLOW={value}"}
             for name, app, bridge in ((unread.AGENT9, "AppDial", "b-x"),
                                       (unread.CUSTOMER, "AppDial", "b-d"),
                                       (unread.ONE, "Dial", "b-x"), (unread.TWO, "Dial", "b-d"))]
    return _Unread(items, unread._event("Hangup", unread.AGENT9),
                   {**unread.READS, (unread.AGENT9, "DIALEDPEERNUMBER"): None}, unread.CALL,
                   read_s=reads_s)


def test_the_customer_talking_through_the_dialers_two_is_held_for_the_check() -> None:
    """The hrev81/hrev132 picture: agent 9 (the picture's AppDial leg) hangs up, the
    customer's own AppDial leg talks on through ``;2``. The budget ends with the reads
    out: held, not released on the picture's word; the read (``;1`` dialled agent 9) sets
    agent 9 aside and the customer is never hung up."""
    run = _hrev81(reads_s=1.99)
    run.until(HANGUP_AT + LIMIT_S - RELEASE_MARGIN_S + 0.05)
    [(_, fields)] = run.warnings
    assert fields["decided"] == "held-for-check"
    assert run.hung == []
    run.until(HANGUP_AT + 8.0)
    assert run.hung == []
    assert run.tracker.calls[unread.CALL].dest == unread.CUSTOMER


def test_a_read_answered_just_after_the_budget_changes_nothing() -> None:
    """Released at the budget's end on the picture's word; the trunk's own read, naming
    the number, answers 10 ms later: ignored — nothing hung up twice, one record."""
    run = budget._simple({(budget.TRUNK, "DIALEDPEERNUMBER"): NUMBER},
                         delays={(budget.TRUNK, "DIALEDPEERNUMBER"): 1.33,
                                 (budget.ONE, "DIALEDPEERNUMBER"): 1.32})
    run.run(run.tracker.feed(budget._hangup(budget.TRUNK), 14.6))  # a second word of it
    run.until(HANGUP_AT + 8.0)
    assert sorted(name for _, name in run.hung) == [budget.ONE, budget.TWO]
    [record] = run.of("line-release")
    assert record["release_budget"] == "released-unchecked"
    assert record["within_limit"] is True


def test_a_25_second_limit_is_budgeted_from_the_same_hangup(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Utah's 25 s (13-25a-103(5)): reads of 1.99 s are waited for (no budget); reads
    never answering in time are decided at 24.5 s from the Hangup, not at 4.5 s."""
    monkeypatch.setattr(budget, "VALUE", carried(mode="prerecorded", limit=25.0,
                                                 decision="d-hrev142-ut"))
    slow = budget._simple(read_s=30.0)
    slow.until(HANGUP_AT + 20.0)
    assert slow.hung == []
    assert slow.warnings == []
    slow.until(HANGUP_AT + 26.0)
    first = min(at for at, _ in slow.hung)
    assert 25.0 - RELEASE_MARGIN_S <= first - HANGUP_AT <= 25.0 - RELEASE_MARGIN_S + 0.02
    [record] = slow.of("line-release")
    assert record["within_limit"] is True
    assert record["release_budget"] == "released-unchecked"


class _QueueNoHold(budget._Restart):
    """The hrev81 queue, nothing held by the picture: the agent's leg goes unseen later."""

    def end(self, names: list[str]) -> None:
        for name in names:
            self.run(self.tracker.feed(queue._event("Hangup", name), self.now))


def _gone_unseen(agent_reads: str | None, back: float) -> _QueueNoHold:
    """The check's reads asked at 13.19 (answered 1.99 s later, the read session up); the
    main session drops at 13.5, the agent's leg goes unseen; the picture at ``back``."""
    run = _QueueNoHold(_queue_picture([queue.AGENT, queue.CUSTOMER, queue.MEMBER_1,
                                       queue.MEMBER_2]), {"Event": "Noop"},
                       {**queue.READS, (queue.AGENT, "DIALEDPEERNUMBER"): agent_reads},
                       queue.CALL)
    _reconnect(run, 13.5, back, _queue_picture([queue.CUSTOMER, queue.MEMBER_1,
                                                queue.MEMBER_2]))
    run.until(HANGUP_AT + 12.0)
    return run


def test_the_agents_leg_gone_unseen_during_the_check_leaves_the_customer_up() -> None:
    """Fails on a802fe9 (and hwd31, main): the picture before the reads' answer took the
    agent's leg for the called party gone unseen and hung up the customer in Queue()."""
    run = _gone_unseen("agent7", 13.8)
    assert queue.CUSTOMER not in {name for _, name in run.hung}
    assert run.tracker.calls[queue.CALL].dest == queue.CUSTOMER


def test_the_agents_leg_gone_unseen_unread_is_not_released_and_said() -> None:
    """The reads unanswered: the customer may be the called party — nothing hung up, a
    violation risk says the release is not proven (as with the Hangup seen)."""
    run = _gone_unseen(None, 13.8)
    assert run.hung == []
    [risk] = run.of("violation-risk")
    assert "not proven" in risk["reason"]


def test_control_the_agent_gone_unseen_was_the_called_party_released_upper_bound() -> None:
    """The agent's leg read dialled to the number: released once read, timed from the
    outage's start and said to be an upper bound."""
    run = _gone_unseen(NUMBER, 13.8)
    assert queue.CUSTOMER in {name for _, name in run.hung}
    [record] = run.of("line-release")
    assert record["ended_by"] == "called-party"
    assert record["release_ms_is_upper_bound"] is True
    assert record["release_ms"] == pytest.approx((min(at for at, _ in run.hung) - 13.5) * 1000,
                                                 abs=20)
