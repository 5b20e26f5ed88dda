"""64.1200(a)(6)'s 15 seconds are seconds of ringing: a ring the network's post-dial delay
preceded is judged from its first RINGING (DialState), not from the DialBegin.

A ``Dial(...,20)`` whose phone started ringing 8 s after the request went out rang 12 s
when the timer cut it: ``ring_ms_max`` (20 s from the DialBegin) said "not short" and no
violation risk was written (hrev55). REPLAYS lab call-03 (real Asterisk 22.10.1,
``Dial(Local/203@callee,5)``) through the pure tracker on the capture's own clock, its
DialState and what follows moved later (SYNTHESISED delays).
"""

from __future__ import annotations

import pytest

from tests.test_asterisk19_ring import NO_ANSWER_DIAL, release_of, risks_of, run, timed


def _delayed(ringing_at: float, ends_at: float) -> list[tuple[float, dict[str, str]]]:
    """call-03 with its DialState RINGING moved to ``ringing_at`` and the timer's DialEnd
    (and all after it) to ``ends_at`` seconds after the DialBegin."""
    events = timed(NO_ANSWER_DIAL)
    begin = next(at for at, e in events if e["Event"] == "DialBegin" and e.get("Channel"))
    state = next(at for at, e in events if e["Event"] == "DialState")
    end = next(at for at, e in events if e.get("DialStatus") == "NOANSWER")
    def shift(at: float) -> float:
        if at >= end:
            return at + begin + ends_at - end
        return at + begin + ringing_at - state if at >= state else at

    return [(shift(at), event) for at, event in events]


def test_a_ring_after_a_long_post_dial_delay_is_judged_from_its_ringing():
    _, reports = run(_delayed(ringing_at=8.0, ends_at=20.0), gate_first=False)
    record = release_of(reports)
    assert record["ring_ended_by"] == "timer"
    assert record["ring_ms_max"] == pytest.approx(20000, abs=1)
    assert record["ring_ms_min"] == pytest.approx(12000, abs=1)
    assert record["short_ring"] is True
    [risk] = risks_of(reports)
    assert risk["obligation"] == "min-ring"
    assert "12.0 s from its first ringing signal" in risk["reason"]


def test_fifteen_seconds_of_ringing_is_not_short():
    _, reports = run(_delayed(ringing_at=4.0, ends_at=20.0), gate_first=False)
    record = release_of(reports)
    assert record["ring_ms_min"] == pytest.approx(16000, abs=1)
    assert record["short_ring"] is False
    assert risks_of(reports) == []
