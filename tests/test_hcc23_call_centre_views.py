"""What a call centre and its supervisor see of the calls it places for sellers (hcc23).

Session 25 put the telemarketer (the campaign's call centre) in the record, the report's
JSON/CSV/page and evidence; ``callguard report``'s terminal tables, ``callguard explain``'s
text and the supervisors' live tail did not show it, and ``report`` could not be narrowed
to one call centre. Real records (bench.synthetic_records, part archived by the real CLI,
part left in the log, the fixture of tests/test_hrev98_*), real `callguard check` decisions
for ``explain``; the page in real headless chromium (tests/test_supervisor_page.py's).
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from tests.log_files import cli, config, placed_call
from tests.serve_node import ServeNode, write_lists
from tests.test_hrev98_telemarketer_report import CENTRE, OTHER, _calls
from tests.test_hrev98_telemarketer_report import site as site  # noqa: PLC0414 - the fixture
from tests.test_supervisor_page import browser as browser  # noqa: PLC0414 - the fixture
from tests.test_supervisor_page import live, wait


def test_report_tables_show_each_call_centre_and_campaign(site):
    path, records = site
    want: Counter = Counter()
    for r in _calls(records):
        if "telemarketer" in r:
            want[(r["telemarketer"], r["campaign"], r["verdict"])] += 1
    shown = cli("report", config_path=path)
    assert shown.returncode == 0, shown.stderr
    assert "calls placed by a call centre for the seller" in shown.stdout
    lines = [line for line in shown.stdout.splitlines() if CENTRE in line or OTHER in line]
    for centre, campaign in {(c, k) for c, k, _ in want}:
        allow, block = want[(centre, campaign, "ALLOW")], want[(centre, campaign, "BLOCK")]
        cells = [f" {centre} ", f" {campaign} ", f" {allow + block} ", f" {allow} ",
                 f" {block} "]
        assert any(all(cell in line for cell in cells) for line in lines), (
            centre, campaign, allow, block, lines)


def test_report_narrowed_to_one_call_centre(site):
    path, records = site
    mine = [r for r in _calls(records) if r.get("telemarketer") == CENTRE]
    result = cli("report", "--json", "--telemarketer", CENTRE, config_path=path)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["filters"]["telemarketer"] == CENTRE
    assert report["calls"] == len(mine)
    assert report["by_verdict"] == dict(Counter(r["verdict"] for r in mine).most_common())
    assert {row["telemarketer"] for row in report["by_telemarketer"]} == {CENTRE}
    assert {d["telemarketer"] for d in report["days"]} == {CENTRE}  # the seller's own: out
    # the watchdog's records carry no call centre: said, not implied narrowed
    assert f"telemarketer {CENTRE}" in report["watchdog_scope"]
    table = cli("report", "--csv", "--telemarketer", OTHER, config_path=path)
    assert table.returncode == 0, table.stderr
    rows = list(csv.DictReader(io.StringIO(table.stdout)))
    assert sum(int(r["count"]) for r in rows if r["kind"] == "call") == sum(
        r.get("telemarketer") == OTHER for r in _calls(records))
    assert {r["telemarketer"] for r in rows if r["kind"] == "call" and int(r["count"])} == {
        OTHER}


def test_an_unknown_call_centre_is_refused_not_answered_with_zeros(site):
    path, _ = site
    refused = cli("report", "--json", "--telemarketer", "Acme Call Center", config_path=path)
    assert refused.returncode == 2, (refused.returncode, refused.stdout)
    assert refused.stdout == ""
    assert "--telemarketer 'Acme Call Center'" in refused.stderr
    # as --campaign is
    assert cli("report", "--json", "--campaign", "nope", config_path=path).returncode == 2
    # a known centre with no call in the range: zeros are the answer (exit 0)
    quiet = cli("report", "--json", "--telemarketer", OTHER, "--campaign",
                "insurance-reminders", config_path=path)
    assert quiet.returncode == 0, quiet.stderr
    assert json.loads(quiet.stdout)["calls"] == 0


def _via_centre(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    path = config(tmp_path, data)
    text = path.read_text()
    seller = 'id = "insurance-reminders"\nsolicitor = "granite-insurance"\n'
    assert seller in text
    path.write_text(text.replace(seller, seller + f'telemarketer = "{CENTRE}"\n'))
    return path


def test_explain_names_the_call_centre_that_placed_the_call(tmp_path):
    path = _via_centre(tmp_path)
    assert placed_call("8015550123", "insurance-reminders", "2026-12-08T11:00:00-07:00",
                       config_path=path) in ("ALLOW", "BLOCK")
    assert placed_call("8015550124", "ut-solar-manual", "2026-12-08T11:00:00-07:00",
                       config_path=path) in ("ALLOW", "BLOCK")
    decisions = {r["campaign"]: r for r in map(orjson.loads, (
        tmp_path / "data" / "compliance.jsonl").read_bytes().splitlines())
        if r.get("event") == "decision"}
    assert decisions["insurance-reminders"]["telemarketer"] == CENTRE
    shown = cli("explain", decisions["insurance-reminders"]["decision_id"], config_path=path)
    assert shown.returncode == 0, shown.stderr
    assert (f"call centre: {CENTRE} (telemarketer, placing the call for solicitor "
            "granite-insurance)") in shown.stdout
    own = cli("explain", decisions["ut-solar-manual"]["decision_id"], config_path=path)
    assert own.returncode == 0, own.stderr
    assert "call centre" not in own.stdout  # the seller's own call names none


@pytest.fixture
def node(tmp_path) -> Iterator[ServeNode]:
    serve = ServeNode(tmp_path)
    seller = 'id = "insurance-reminders"\nsolicitor = "granite-insurance"\n'
    text = serve.config.read_text()
    assert seller in text
    serve.config.write_text(text.replace(seller, seller + f'telemarketer = "{CENTRE}"\n'))
    write_lists(serve.data, (8015550199,))
    serve.start()
    try:
        yield serve
    finally:
        serve.stop()


def test_supervisor_page_shows_the_call_centre(node, browser):
    driver = browser
    for number, campaign in ((8015550133, "insurance-reminders"),
                             (8015550144, "ut-solar-manual")):
        status, answer = node.json("/v1/check", {"number": str(number), "campaign": campaign})
        assert status == 200, answer
    driver.get(f"http://127.0.0.1:{node.http_port}/supervisor"
               f"#token={node.env['CALLGUARD_HTTP_TOKEN']}")
    live(driver)

    def tail(d) -> dict[str, str]:  # the decisions' rows: number -> call centre cell
        return {number: centre for number, centre in d.execute_script(
            "const heads = [...document.querySelectorAll('#tail thead th')].map(h => "
            "h.textContent); const at = heads.indexOf('call centre'); return [...document"
            ".querySelectorAll('#rows tr')].map(r => [r.querySelector('td.number')"
            ".textContent, at < 0 ? null : r.children[at].textContent])") if number}

    wait(driver, lambda d: {"…0133", "…0144"} <= set(tail(d)), "both calls are shown")
    assert tail(driver) == {"…0133": CENTRE, "…0144": ""}
    # a call made after the page loaded, live
    status, answer = node.json("/v1/check", {"number": "8015550155",
                                             "campaign": "insurance-reminders"})
    assert status == 200, answer
    wait(driver, lambda d: tail(d).get("…0155") == CENTRE, "a new call names its centre")
    frame = driver.find_element("id", "report")
    wait(driver, lambda d: "Calls by campaign" in (frame.get_attribute("srcdoc") or ""),
         "today's report is shown")
    driver.switch_to.frame(frame)
    report_text = driver.find_element("tag name", "body").text
    driver.switch_to.default_content()
    assert "Calls placed by a call centre (telemarketer) for the seller" in report_text
    assert CENTRE in report_text
