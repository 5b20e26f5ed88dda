"""A report over more than ten years still has every day of its chart (session 22).

``report --since 2000-01-01`` (an officer asked for "everything") listed only the days with
records: the chart's bars of days months apart stood side by side, and the CSV and
``range_days`` skipped every quiet day between. The range now starts at its first record
(the years before it hold none) and has every day from there.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date, timedelta

from tests.log_files import cli, config, synthetic


def test_a_range_of_decades_has_every_day_from_its_first_record(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    path = config(tmp_path, data)
    # 40 decisions over 60 days from 2026-01-05: quiet days among them
    lines = synthetic(40, days=60)
    (data / "compliance.jsonl").write_bytes(b"".join(
        line if line.endswith(b"\n") else line + b"\n" for line in lines))
    said = json.loads(cli("report", "--since", "2000-01-01", "--until", "2026-04-01",
                          "--json", config_path=path).stdout)
    days = said["range_days"]
    first = date.fromisoformat(days[0])
    assert days == [(first + timedelta(days=i)).isoformat()
                    for i in range((date(2026, 3, 31) - first).days + 1)]
    assert first <= date(2026, 1, 6)
    with_calls = {d["day"] for d in said["days"]}
    assert len(with_calls) < len(days)  # quiet days are in the range, as rows of 0
    rows = list(csv.DictReader(io.StringIO(cli(
        "report", "--since", "2000-01-01", "--until", "2026-04-01", "--csv",
        config_path=path).stdout)))
    assert {r["day"] for r in rows} == set(days)
