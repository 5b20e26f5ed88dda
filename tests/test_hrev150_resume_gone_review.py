"""Reviewer hrev150: hrev142's ``_resume_gone`` (a reconnect's picture while the check of
the picture's AppDial leg is open) looked at for calls it could leave never released.

``_resume_gone`` returns nothing for a called party's leg gone UNSEEN during the drop while
its DIALEDPEERNUMBER reads (or its digest) are out: the check's answer decides
(``_number_checked`` -> ``_resume``). No Hangup was seen, so no release budget is armed:
the call is released only if that answer comes and leads somewhere. Pinned here, each must
end released within the test's horizon or with a violation risk recorded — never held
silently:

- the read session gone for good (ami.py ``_getvar``: no read session, every read answered
  None at once; a session dropping with reads in flight answers them None too);
- the leg's own read answered None (unreadable) for the dialer's Local pair;
- two reconnects in a row while the reads are out (the second picture's ``_resume`` must
  not forget the check, nor release on the picture's word);
- the leg's read answered None before, during or after the drop (``_check_again``'s second
  read of a leg gone), and the digest never found (``number_lookup_s`` decides);
- a manual campaign without a limit (no budget armed): as without the reconnect.

All pass on hrev142 (released, bounded by the outage and said an upper bound, or held with a
violation risk); on hwd31 (272a366) the queue's two-reconnects cases fail (the customer hung
up on the picture's word: hrev142's finding), the rest pass. In-flight Getvars are never
dropped by a reconnect (ami.py cancels ``_tasks`` only in ``aclose``; each ``_getvar`` ends
in ``variable_read``, None on timeout, ConnectionError or no read session), so every wait
``_resume_gone`` starts ends within ``action_timeout_ms`` (+ ``retry_s`` for a second read).

Harness: ``test_hwd31_release_budget._Restart`` (pure tracker, synthetic clock; reads
answered ``read_s`` after they are asked). SYNTHESISED calls (shapes of hwd31 and hrev81).
"""

from __future__ import annotations

import pytest

from tests import test_hrev81_queue_customer as queue
from tests import test_hrev142_release_budget_review as rev142
from tests import test_hwd31_release_budget as budget
from tests.test_watchdog import NUMBER

HANGUP_AT = budget.HANGUP_AT
HORIZON = HANGUP_AT + 30.0


def _ended(run: budget._Restart) -> bool:
    """Released (something hung up, a line-release) or said (a violation risk)."""
    return bool(run.of("line-release") or run.of("violation-risk"))


def _simple_unseen(reads: dict[tuple[str, str], str | None], *, read_s: float = budget.READ_S,
                   drops: tuple[tuple[float, float], ...] = ((13.5, 13.8),),
                   found_at: float = budget.FOUND_AT) -> budget._Restart:
    """The dialer's Local pair; the trunk (the picture's AppDial leg) goes unseen in a drop
    of the main session while its reads are out (asked at 13.19)."""
    run = budget._Restart([budget._item(budget.ONE), budget._item(budget.TWO),
                           budget._item(budget.TRUNK)], {"Event": "Noop"}, reads, budget.CALL,
                          read_s=read_s, found_at=found_at)
    for down, back in drops:
        rev142._reconnect(run, down, back, [budget._item(budget.ONE), budget._item(budget.TWO)])
    run.until(HORIZON)
    return run


@pytest.mark.parametrize("trunk", [None, "", NUMBER], ids=["unreadable", "unset", "the-number"])
def test_local_pair_trunk_gone_unseen_is_released(trunk: str | None) -> None:
    run = _simple_unseen({(budget.TRUNK, "DIALEDPEERNUMBER"): trunk,
                          (budget.ONE, "DIALEDPEERNUMBER"): ""})
    assert {name for _, name in run.hung} == {budget.ONE, budget.TWO}
    [record] = run.of("line-release")
    assert record["release_ms_is_upper_bound"] is True


def test_local_pair_read_session_gone_forever_is_released() -> None:
    """Every read answered None (no read session): released after the outage, bounded."""
    run = _simple_unseen({(budget.TRUNK, "DIALEDPEERNUMBER"): None,
                          (budget.ONE, "DIALEDPEERNUMBER"): None,
                          (budget.TWO, "DIALEDPEERNUMBER"): None}, read_s=0.01)
    assert {name for _, name in run.hung} == {budget.ONE, budget.TWO}


def test_local_pair_two_reconnects_in_a_row_is_released() -> None:
    run = _simple_unseen({(budget.TRUNK, "DIALEDPEERNUMBER"): NUMBER,
                          (budget.ONE, "DIALEDPEERNUMBER"): ""},
                         drops=((13.5, 13.8), (14.0, 14.4)))
    assert {name for _, name in run.hung} == {budget.ONE, budget.TWO}
    [record] = run.of("line-release")
    assert record["release_ms_is_upper_bound"] is True
    assert record["release_ms"] == pytest.approx(
        (min(at for at, _ in run.hung) - 13.5) * 1000, abs=20)


def _queue_unseen(agent: str | None, *, read_s: float = budget.READ_S,
                  drops: tuple[tuple[float, float], ...] = ((13.5, 13.8),),
                  nothing: bool = False) -> rev142._QueueNoHold:
    reads: dict[tuple[str, str], str | None] = (
        dict.fromkeys(queue.READS) if nothing
        else {**queue.READS, (queue.AGENT, "DIALEDPEERNUMBER"): agent})
    if nothing:
        reads[(queue.AGENT, "DIALEDPEERNUMBER")] = None
    run = rev142._QueueNoHold(rev142._queue_picture([queue.AGENT, queue.CUSTOMER,
                                                     queue.MEMBER_1, queue.MEMBER_2]),
                              {"Event": "Noop"}, reads, queue.CALL, read_s=read_s)
    for down, back in drops:
        rev142._reconnect(run, down, back, rev142._queue_picture(
            [queue.CUSTOMER, queue.MEMBER_1, queue.MEMBER_2]))
    run.until(HORIZON)
    return run


def test_queue_read_session_gone_forever_is_said_not_silent() -> None:
    """Every read unreadable: the customer may be the called party — not hung up, but said."""
    run = _queue_unseen(None, read_s=0.01, nothing=True)
    assert queue.CUSTOMER not in {name for _, name in run.hung}
    assert _ended(run)


@pytest.mark.parametrize("agent", [None, "agent7", NUMBER], ids=["unreadable", "other", "number"])
def test_queue_two_reconnects_in_a_row(agent: str | None) -> None:
    run = _queue_unseen(agent, drops=((13.5, 13.8), (14.0, 14.4)))
    if agent == NUMBER:
        assert queue.CUSTOMER in {name for _, name in run.hung}
        [record] = run.of("line-release")
        assert record["release_ms_is_upper_bound"] is True
    elif agent is None:
        assert run.hung == []
        assert run.of("violation-risk")
    else:
        assert queue.CUSTOMER not in {name for _, name in run.hung}
        assert run.tracker.calls[queue.CALL].dest == queue.CUSTOMER


@pytest.mark.parametrize("drop", [(15.3, 15.6), (15.25, 15.3), (15.0, 15.4)],
                         ids=["after-reask-set", "quick", "answered-in-the-drop"])
def test_local_pair_gone_unseen_after_an_unread_answer_is_released(
        drop: tuple[float, float]) -> None:
    """The trunk's read answered None (asked again later, ``_check_again``); the drop and
    the picture come before that second read: released all the same."""
    run = _simple_unseen({(budget.TRUNK, "DIALEDPEERNUMBER"): None,
                          (budget.ONE, "DIALEDPEERNUMBER"): ""}, drops=(drop,))
    assert {name for _, name in run.hung} == {budget.ONE, budget.TWO}


def test_local_pair_gone_unseen_digest_never_found_is_released() -> None:
    """The digest lookup never answers: ``number_lookup_s`` decides, then released."""
    run = _simple_unseen({}, found_at=1e9, drops=((12.5, 12.8),))
    assert {name for _, name in run.hung} == {budget.ONE, budget.TWO}


@pytest.mark.parametrize("trunk", [None, NUMBER], ids=["unreadable", "the-number"])
def test_local_pair_gone_unseen_before_the_digest_is_found_is_released(trunk: str | None) -> None:
    """The drop and the picture while the digest is still sought (found at 13.15, after it)."""
    run = _simple_unseen({(budget.TRUNK, "DIALEDPEERNUMBER"): trunk,
                          (budget.ONE, "DIALEDPEERNUMBER"): ""},
                         found_at=13.15, drops=((12.9, 13.1),))
    assert {name for _, name in run.hung} == {budget.ONE, budget.TWO}
    [record] = run.of("line-release")
    assert record["release_ms_is_upper_bound"] is True


@pytest.mark.parametrize("unseen", [False, True], ids=["hangup-held", "gone-unseen"])
def test_manual_campaign_without_a_limit_is_as_without_the_reconnect(
        monkeypatch: pytest.MonkeyPatch, unseen: bool) -> None:
    """No limit (a manual campaign): no budget is armed, and the watchdog releases no such
    call (the same call without a reconnect: nothing hung up, nothing recorded). The
    reconnect's wait changes nothing: no release on the picture's word, no risk said."""
    from tests.test_watchdog import carried

    monkeypatch.setattr(budget, "VALUE", carried(mode="manual", limit=None,
                                                 decision="d-hrev150-manual"))
    reads = {(budget.TRUNK, "DIALEDPEERNUMBER"): NUMBER, (budget.ONE, "DIALEDPEERNUMBER"): ""}
    if unseen:
        run = _simple_unseen(reads)
    else:
        run = budget._simple(reads)
        rev142._reconnect(run, 13.5, 13.8, [budget._item(budget.ONE), budget._item(budget.TWO)])
        run.until(HORIZON)
    assert run.hung == []
    assert not run.of("line-release")
    assert not run.of("violation-risk")
    assert run.warnings == []
