"""report's call-centre figures when one call centre's calls have many bodies (hrev98).

2a3cb73 groups the report's rows by the ``body`` of the rows carrying ``telemarketer`` and
reads the name once per distinct body. The same call centre then comes back in many groups
(different sellers, campaigns, verdicts, rules, numbers), beside a second call centre on
the same campaign and the seller's own calls: every figure must still add up to the
records'. Real records (bench.synthetic_records), part archived by the real CLI (Parquet
bodies), part left in the log; the real ``callguard report`` reads both.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from datetime import UTC, datetime

import orjson
import pytest

from bench.synthetic_records import Factory
from tests.log_files import cli, config, write_log

CENTRE, OTHER = "Acme Call Centre", "Basin Dialling"


def _named(record: dict, index: int) -> dict:
    """ut-solar-manual: CENTRE, OTHER or the seller itself, by turns; insurance-reminders
    (another seller): CENTRE always; scrubs too (not calls: never counted as placed)."""
    if record.get("event") != "decision":
        return record
    centre = {"ut-solar-manual": (CENTRE, OTHER, None)[index % 3],
              "insurance-reminders": CENTRE}.get(record.get("campaign", ""))
    if centre is None:
        return record
    out = {}
    for key, value in record.items():
        out[key] = value
        if key == "solicitor":
            out["telemarketer"] = centre
    return out


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("site")
    data = tmp_path / "data"
    records = [_named(r, i) for i, r in enumerate(Factory(
        900, start=datetime(2026, 3, 2, tzinfo=UTC), days=6, pool=30, seed=3).records())]
    lines = [orjson.dumps(r) + b"\n" for r in records]
    path = config(tmp_path, data)
    write_log(data / "compliance.jsonl", lines, closed=[(500, False)])
    made = cli("archive", "--compact-all", "--keep-segments-days", "-1", config_path=path)
    assert made.returncode == 0, made.stderr
    return path, records


def _calls(records):
    calls = [r for r in records if r["event"] == "decision" and r["front"] != "scrub"]
    assert {r.get("telemarketer") for r in calls} >= {CENTRE, OTHER, None}
    return calls


def test_by_telemarketer_adds_up_per_centre_and_campaign(site):
    path, records = site
    calls = _calls(records)
    result = cli("report", "--json", config_path=path)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["calls"] == len(calls)
    want: dict[tuple[str, str], Counter] = {}
    for r in calls:
        if "telemarketer" in r:
            want.setdefault((r["telemarketer"], r["campaign"]), Counter())[r["verdict"]] += 1
    got = {(row["telemarketer"], row["campaign"]): row for row in report["by_telemarketer"]}
    assert set(got) == set(want) == {(CENTRE, "ut-solar-manual"), (OTHER, "ut-solar-manual"),
                                     (CENTRE, "insurance-reminders")}
    for key, counts in want.items():
        assert (got[key]["calls"], got[key]["allow"], got[key]["block"]) == (
            sum(counts.values()), counts["ALLOW"], counts["BLOCK"]), key


def test_each_days_row_names_its_centres_with_their_shares(site):
    path, records = site
    calls = _calls(records)
    rows: dict[tuple[str, str, str, str], Counter] = {}
    for r in calls:
        key = (r["at"][:10], r["campaign"], r["verdict"], r.get("rule", ""))
        rows.setdefault(key, Counter())[r.get("telemarketer")] += 1

    def said(counts: Counter) -> str:
        total = sum(counts.values())
        named = {k: n for k, n in counts.items() if k is not None}
        if len(named) == 1 and sum(named.values()) == total:
            return next(iter(named))
        return "; ".join(f"{k} ({n} of {total})" for k, n in sorted(named.items()))

    report = json.loads(cli("report", "--json", config_path=path).stdout)
    got = {(d["day"], d["campaign"], d["verdict"], d["rule"]): (d["calls"],
                                                                d.get("telemarketer", ""))
           for d in report["days"] if d["calls"]}
    assert got == {k: (sum(c.values()), said(c)) for k, c in rows.items()}
    assert any("; " in s for _, s in got.values())  # a row shared by both centres
    table = list(csv.DictReader(io.StringIO(cli("report", "--csv", config_path=path).stdout)))
    assert {(r["day"], r["campaign"], r["verdict"], r["rule"]): (int(r["count"]),
                                                                r["telemarketer"])
            for r in table if r["kind"] == "call" and int(r["count"])} == got
    assert not any(r["telemarketer"] for r in table if r["kind"] != "call")


async def test_fastagi_two_list_reply_is_the_words_it_had(tmp_path):
    """ac37022 moved FastAGI's opt-out sentence to callguard/fronts/opt_out.py; test_hrev84
    pins the one-list reply whole but the two-list reply by pieces only. Whole here, the
    words of fastagi/server.py before ac37022 (also true there: a pin, not a fix)."""
    from callguard.fronts.fastagi import contract as c
    from tests.test_hdnc22_telemarketer import CENTRE as HDNC_CENTRE
    from tests.test_hdnc22_telemarketer import SELLER_A
    from tests.test_hrev84_telemarketer import _optout_reply

    variables, _ = await _optout_reply(tmp_path, HDNC_CENTRE)
    assert variables[c.OPTOUT_RESULT] == "OK", variables
    assert variables[c.VAR_REASON] == (
        f"…0123 added to the do-not-call lists of the seller ({SELLER_A}) and of the "
        f"telemarketer making the call ({HDNC_CENTRE}) (47 CFR 64.1200(d)(3))")


class _CountedScans(dict):  # type: ignore[type-arg]
    """The report's call-centre entries (row -> {centre: calls}), counting each pass over
    them."""

    scans = 0

    def items(self):  # type: ignore[no-untyped-def]
        type(self).scans += 1
        return super().items()


def test_rows_are_named_from_one_pass_over_the_centres_not_one_per_row():
    """2a3cb73's ``telemarketers_of`` scanned every (row, centre) entry of the report for
    each row it named: --json's days and --csv's rows took time rows x centred rows (a year
    of six campaigns with eight verdict x rule rows a day, 17,520 rows each with a call
    centre, took ~30 s for the JSON's days alone on this machine). The passes over the
    entries are counted, not timed (speed belongs to bench/): a few per rendering, never
    one per row."""
    from callguard.compliance.report import Report, ReportQuery, render_csv, to_json

    report = Report(ReportQuery(), datetime(2027, 1, 1, tzinfo=UTC))
    entries = _CountedScans()
    for day in range(30):
        for campaign in range(6):
            for v in range(8):
                key = (f"2026-{day:03d}", f"c{campaign}", "BLOCK" if v else "ALLOW",
                       f"us-federal:r{v}" if v else "")
                report.calls[key] = 5
                entries[key] = {CENTRE: 3}
    report.telemarketers = entries
    days = to_json(report)["days"]
    table = render_csv(report)
    assert len(days) == 1_440
    assert {d["telemarketer"] for d in days} == {f"{CENTRE} (3 of 5)"}
    assert table.count(f"{CENTRE} (3 of 5)") == 1_440
    assert _CountedScans.scans <= 8, f"{_CountedScans.scans} passes for 1,440 rows"
