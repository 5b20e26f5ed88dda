"""hwd33: the gaps session 30's release budget left (``CallTracker._budget_spent``).

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

SYNTHESISED: the agent-first shape of tests/test_review52_watchdog.py (a restart, the
agent's channel alone in the picture, the dialer requesting the customer's leg). Pure
tracker, synthetic clock.
"""

from __future__ import annotations

from typing import Any

from callguard.watchdog.calls import CallTracker, plain_digest
from tests import test_review52_watchdog as r52

AGENT_HANGUP = {"Event": "Hangup", **r52.ASKER, "Cause": "16"}


def _all_gone(answer: str | None) -> tuple[CallTracker, list[tuple[str, dict[str, Any]]], float]:
    """The customer answers and hangs up, then the agent's channel, all 0.1 s apart from
    t = 10.1 (the digest sought since 10.0); the record's answer (``answer``: "found",
    "late", None) after that."""
    tracker, find, live = r52._after_a_restart(f"{r52.NUMBER}@itsp")
    records: list[tuple[str, dict[str, Any]]] = []
    tracker._record = lambda now, name, **fields: records.append((name, fields))  # type: ignore[method-assign]
    now = 10.0
    for event in [*live, AGENT_HANGUP]:
        now += 0.1
        tracker.feed(event, now)
        tracker.due(now)
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
