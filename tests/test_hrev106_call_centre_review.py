"""Review of hcc23 (report --telemarketer, the call-centre table, union_by_name): hrev106.

Real records (bench.synthetic_records), part archived by the real CLI (Parquet bodies), part
left in the log; the real ``callguard report`` reads both. Three call centres on one
campaign: "Acme", "Acme East" (the first is a substring of the second) and a name with
quotes, non-ASCII letters, angle brackets and square brackets (JSON escaping, HTML, and
rich's console markup). Their calls' reasons name the other centre, as the do-not-call
rule's reasons do ("Acme East's do-not-call list"), and a literal ``"telemarketer":"Acme"``.
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
from collections import Counter
from datetime import UTC, datetime

import orjson
import pytest

from bench.synthetic_records import Factory
from tests.log_files import cli, config, write_log

ACME, EAST = "Acme", "Acme East"
ODD = 'Zo\u00eb "Z" [UK] <b>Calls</b> [/]'
CENTRES = (ACME, EAST, ODD, None)
MARKED = "insurance[/]reminders"  # a campaign id: every terminal table names it


def _named(record: dict, index: int) -> dict:
    if record.get("campaign") == "insurance-reminders":  # config.py allows "[/]" in an id
        record = {**record, "campaign": MARKED}
    if record.get("event") != "decision" or record.get("campaign") != "ut-solar-manual":
        return record
    centre = CENTRES[index % 4]
    out = {}
    for key, value in record.items():
        out[key] = value
        if key == "solicitor" and centre is not None:
            out["telemarketer"] = centre
    if "reason" in out:  # another centre named in the reason (a column archived, a field logged)
        out["reason"] = (f"{out['reason']} ({EAST}'s do-not-call list; "
                         f'"telemarketer":"{ACME}")')
    return out


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("site")
    data = tmp_path / "data"
    records = [_named(r, i) for i, r in enumerate(Factory(
        800, start=datetime(2026, 3, 2, tzinfo=UTC), days=5, pool=30, seed=5).records())]
    lines = [orjson.dumps(r) + b"\n" for r in records]
    path = config(tmp_path, data)
    write_log(data / "compliance.jsonl", lines, closed=[(450, False)])
    made = cli("archive", "--compact-all", "--keep-segments-days", "-1", config_path=path)
    assert made.returncode == 0, made.stderr
    return path, records


def _calls(records, centre):
    return [r for r in records if r["event"] == "decision" and r["front"] != "scrub"
            and r.get("telemarketer") == centre]


@pytest.mark.parametrize("centre", [ACME, EAST, ODD])
def test_telemarketer_matches_the_exact_name_only(site, centre):
    path, records = site
    mine = _calls(records, centre)
    assert mine
    result = cli("report", "--json", "--telemarketer", centre, config_path=path)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["calls"] == len(mine)
    assert report["by_verdict"] == dict(Counter(r["verdict"] for r in mine).most_common())
    assert {row["telemarketer"] for row in report["by_telemarketer"]} == {centre}


@pytest.mark.parametrize("name", ["Acme Eas", "acme", "x' OR '1'='1", 'Acme"', "%", ""])
def test_a_name_no_record_holds_exactly_is_refused(site, name):
    path, _ = site
    refused = cli("report", "--json", "--telemarketer", name, config_path=path)
    assert refused.returncode == 2, (refused.returncode, refused.stdout, refused.stderr)
    assert refused.stdout == ""


def _terminal_centres(text: str) -> dict[tuple[str, str], tuple[int, int, int]]:
    """The terminal's 'calls placed by a call centre' table: (centre, campaign) -> figures."""
    lines = text.splitlines()
    start = lines.index("calls placed by a call centre for the seller")
    out = {}
    for line in lines[start + 1:]:
        if not line.startswith("\u2502"):
            if out and line.startswith("\u2514"):
                break
            continue
        cells = [c.strip() for c in line.strip("\u2502").split("\u2502")]
        if cells[0] == "call centre (telemarketer)":
            continue
        out[(cells[0], cells[1])] = (int(cells[2]), int(cells[3]), int(cells[4]))
    return out


def _page_centres(page: str) -> dict[tuple[str, str], tuple[int, int, int]]:
    body = page.split("Calls placed by a call centre (telemarketer) for the seller</h2>",
                      1)[1].split("</table>", 1)[0]
    out = {}
    for row in re.findall(r"<tr>(.*?)</tr>", body.split("<tbody>", 1)[1]):
        cells = [html.unescape(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row)]
        out[(cells[0], cells[1])] = (int(cells[2]), int(cells[3]), int(cells[4]))
    return out


@pytest.mark.parametrize("narrowed", [None, ODD])
def test_terminal_json_csv_and_page_say_the_same(site, tmp_path, narrowed):
    path, records = site
    args = ("--telemarketer", narrowed) if narrowed else ()
    want: dict[tuple[str, str], Counter] = {}
    for centre in ([narrowed] if narrowed else [ACME, EAST, ODD]):
        for r in _calls(records, centre):
            want.setdefault((centre, r["campaign"]), Counter())[r["verdict"]] += 1
    expected = {k: (sum(c.values()), c["ALLOW"], c["BLOCK"]) for k, c in want.items()}
    page = tmp_path / "report.html"
    shown = cli("report", *args, "--html", str(page), config_path=path)
    assert shown.returncode == 0, shown.stderr
    assert _terminal_centres(shown.stdout) == expected
    if narrowed:  # the filters line names the centre as given
        assert f"telemarketer: {narrowed}" in shown.stdout
    else:  # the calls-by-day and watchdog tables name the campaign as written
        assert sum(f" {MARKED} " in line for line in shown.stdout.splitlines()) >= 2
    assert _page_centres(page.read_text()) == expected
    report = json.loads(cli("report", "--json", *args, config_path=path).stdout)
    assert {(r["telemarketer"], r["campaign"]): (r["calls"], r["allow"], r["block"])
            for r in report["by_telemarketer"]} == expected
    # the CSV's call rows name their centres (one name, or each with its share)
    table = list(csv.DictReader(io.StringIO(
        cli("report", "--csv", *args, config_path=path).stdout)))
    from_csv: dict[tuple[str, str], Counter] = {}
    for row in table:
        if row["kind"] != "call" or not int(row["count"]) or not row["telemarketer"]:
            continue
        named = row["telemarketer"].lstrip("'")
        shares = re.findall(r"(.+?) \((\d+) of \d+\)(?:; |$)", named) or [(named, row["count"])]
        for centre, n in shares:
            from_csv.setdefault((centre, row["campaign"]), Counter())[row["verdict"]] += int(n)
    assert {k: (sum(c.values()), c["ALLOW"], c["BLOCK"]) for k, c in from_csv.items()} == (
        expected)
