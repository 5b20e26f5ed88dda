"""``explain`` of a decision whose candidate zones straddle midnight (hrev106, after htz23).

htz23: every parameter version in force on any candidate zone's local date is judged and the
strictest outcome of each rule stands (engine ``_strictest``); the record keeps one letter
per rule id, not which version gave it. ``explain`` read the rules of the latest date only:
for 21:30 on 2026-12-31 in Portland (15:30 on 2027-01-01 in Guam), blocked by the version
of 64.1200(c)(1) in force on 2026-12-31, it showed the amendment of 2027-01-01 (its
citation, "parameters in force from 2027-01-01"), the one version that would have let the
call through, and said the packs were read for 2027-01-01 alone. The amendment is
tests/test_htz23_call_days.py's example (no shipped pack has a rule amendment).
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from rich.console import Console

from callguard.cli.explain import _render
from callguard.compliance.explain import explain
from callguard.compliance.record import _CARRIED, _LETTER_OF
from callguard.policy.zones import local_times
from tests.test_htz23_call_days import CAMPAIGN, HOURS, decide, federal

AT = datetime(2027, 1, 1, 5, 30, tzinfo=UTC)


def _record(policy, verdict) -> dict:
    """The decision record's fields explain reads (record.py's shape)."""
    pack = policy.packs["us-federal"]
    letter = {o.rule_id: _LETTER_OF[o.status.value] for o in verdict.outcomes}
    zones = [[lt.zone, lt.at.strftime("%z"), "test"] for lt in local_times(
        AT, verdict.time_zones)]
    return {"schema": 2, "event": "decision", "decision_id": "0" * 8 + "-0000-7000-8000-"
            + "0" * 12, "at": "2027-01-01T05:30:00.000Z", "front": "cli",
            "verdict": verdict.verdict,
            **({"rule": verdict.deciding.rule_id} if verdict.deciding else {}),
            "reason": verdict.reason, "campaign": CAMPAIGN.id,
            "solicitor": CAMPAIGN.solicitor, "mode": "manual", "zones": zones,
            "packs": [["us-federal", pack.version, pack.digest,
                       "".join(letter.get(r.rule_id, "n") for r in pack.rules)]],
            "outcomes": [{"rule": o.rule_id, "status": o.status.value, "reason": o.reason}
                         for o in verdict.outcomes if o.status.value in _CARRIED]}


def test_explain_names_every_version_judged_not_the_latest_dates_alone():
    policy = federal(latest="22:00")
    verdict = decide(policy, AT)
    assert not verdict.allowed
    assert verdict.deciding.params == "2021-11-01"  # htz23's
    done = explain(_record(policy, verdict), policy.packs)
    rules = {r.rule: r for p in done.packs for r in p.rules}
    blocked = rules["us-federal:64.1200(c)(1)"]
    assert blocked.status == "block"
    # both versions judged, each with its date and citation
    assert {(v["day"], v["version"]) for v in blocked.versions} == {
        ("2026-12-31", "2021-11-01"), ("2027-01-01", "2027-01-01")}
    base = next(r.citation for r in policy.packs["us-federal"].rules_on(date(2026, 12, 31))
                if r.rule_id == blocked.rule)
    assert {(v["day"], v["citation"]) for v in blocked.versions} == {
        ("2026-12-31", base), ("2027-01-01", base + " (as amended)")}
    as_json = done.to_dict()
    shown = {r["rule"]: r for p in as_json["packs"] for r in p["rules"]}
    assert shown["us-federal:64.1200(c)(1)"]["versions"] == list(blocked.versions)
    # a rule with one version on both dates says nothing more
    assert not any(r.versions for r in rules.values() if r.rule not in HOURS)
    assert as_json["call_dates"] == ["2026-12-31", "2027-01-01"]
    # the text: both versions, and the two dates the packs were read for
    console = Console(record=True, width=400)
    _render(console, done, None)
    text = console.export_text()
    line = next(t for t in text.splitlines() if "us-federal:64.1200(c)(1) " in t)
    assert f"{base} (parameters in force from 2021-11-01, on 2026-12-31)" in line
    assert "(parameters in force from 2027-01-01, on 2027-01-01)" in line
    assert "does not say which version gave it" in line
    assert "zone's date: 2026-12-31, 2027-01-01" in text


def test_one_date_explained_as_before():
    policy = federal(latest="22:00")
    at = datetime(2027, 1, 2, 5, 30, tzinfo=UTC)  # both zones on or after 2027-01-01
    verdict = decide(policy, at)
    record = {**_record(policy, verdict), "at": "2027-01-02T05:30:00.000Z"}
    done = explain(record, policy.packs)
    assert not any(r.versions for p in done.packs for r in p.rules)
    assert "versions" not in str(done.to_dict()["packs"])
    console = Console(record=True, width=400)
    _render(console, done, None)
    text = console.export_text()
    assert "zone's date: 2027-01-01, 2027-01-02" in text  # still two dates, one version each
    assert "which version gave it" not in text
