"""Review 60: a forwarded number's ringing is counted from its first ringing signal.

hrev55 (8b6426c) measured the ring of a leg the far end redirected (SIP 302: app_dial.c
``do_forward``) from the first leg's DialBegin: the number rang on. 395c849 then judged a
short ring from the leg's own first RINGING/PROGRESS when DialState showed one — the new
leg's own, later than the first leg's. A number that rang 10 s, was forwarded (no answer:
a voicemail, a second phone) and rang 6 s more, cut by the Dial() timer at 16 s, was
recorded a short ring of 6 s and a min-ring violation risk (47 CFR 64.1200(a)(6)).

REPLAYS lab call-03 (real Asterisk 22.10.1) through the pure tracker, with the forward of
``test_review55_ring`` SYNTHESISED (said there) and the new leg's DialState RINGING added.
"""

from __future__ import annotations

import pytest

from tests.test_asterisk19_ring import release_of, risks_of, run
from tests.test_review55_ring import FORWARDED, FORWARDED_ID, _forwarded


def _ringing_again(events: list[tuple[float, dict[str, str]]],
                   at: float) -> list[tuple[float, dict[str, str]]]:
    """The new leg's own DialState RINGING at ``at`` (the forward target alerting)."""
    state = next(e for _, e in events if e["Event"] == "DialState")
    again = {**state, "DestChannel": FORWARDED, "DestUniqueid": FORWARDED_ID}
    return sorted([*events, (at, again)], key=lambda pair: pair[0])


def test_a_forwarded_number_rings_from_its_first_ringing_signal():
    events = _ringing_again(_forwarded(forward_at=10.0, timer_at=16.0126), at=10.5)
    _, reports = run(events, gate_first=False)
    record = release_of(reports)
    assert record["ring_ended_by"] == "timer"
    assert record["ring_ms_min"] == pytest.approx(16006.4, abs=0.2)  # from the first RINGING
    assert record["short_ring"] is False
    assert risks_of(reports) == []


def test_control_a_forwarded_number_cut_under_fifteen_seconds_is_short():
    events = _ringing_again(_forwarded(forward_at=10.0, timer_at=14.0126), at=10.5)
    _, reports = run(events, gate_first=False)
    record = release_of(reports)
    assert (record["ring_ended_by"], record["short_ring"]) == ("timer", True)
    assert [r["obligation"] for r in risks_of(reports)] == ["min-ring"]
