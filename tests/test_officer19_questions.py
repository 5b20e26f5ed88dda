"""A `check --at` question read as a call placed, where an officer reads it (session 22).

Schema 2 says ``places_call: false`` for a question; the text, the page and the JSON of
`evidence` said so, but its CSV verdict cell read ``ALLOW`` (counsel's spreadsheet showed a
call placed), `report --json` counted questions under ``by_front`` ``cli ALLOW`` (beside
the calls asked before dialling), and the supervisors' page showed a bare ``ALLOW``.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import subprocess

import pytest

from callguard.fronts.http.supervisor import page_record
from callguard.fronts.http.supervisor_page import PAGE_HTML
from tests.log_files import cli, config

NUMBER = "8015550123"


def _asked(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    path = config(tmp_path, data)
    for hour in ("10", "11"):
        asked = cli("check", NUMBER, "--campaign", "ut-solar-manual", "--at",
                    f"2026-12-07T{hour}:00:00-07:00", config_path=path)
        assert asked.returncode in (0, 1), asked.stderr
    return path


def test_evidence_csv_and_report_json_say_a_question_placed_no_call(tmp_path):
    path = _asked(tmp_path)
    shown = cli("evidence", NUMBER, "--format", "csv", config_path=path)
    assert shown.returncode == 0, shown.stderr
    rows = [r for r in csv.DictReader(io.StringIO(shown.stdout)) if r["event"] == "decision"]
    assert len(rows) == 2
    for row in rows:  # the gate's verdict, and a column (session 23: a script keeping
        # verdict == "ALLOW" missed "ALLOW (a question: no call placed)")
        assert row["verdict"] in ("ALLOW", "BLOCK"), row
        assert row["places_call"] == "false", row
    said = json.loads(cli("report", "--json", config_path=path).stdout)
    assert said["questions"] == 2
    # no question under a front's calls: "cli ALLOW" read as a call the operator placed
    assert not any(key.startswith("cli ") for key in said["by_front"]), said["by_front"]
    assert said["fronts_note"].startswith("calls by front: none; 2 `callguard check --at`")


def _script() -> str:
    return PAGE_HTML.split("<script>", 1)[1].split("</script>", 1)[0]


def _function(source: str, name: str) -> str:
    start = source.index(f"function {name}(")
    depth, at = 0, source.index("{", start)
    for index in range(at, len(source)):
        depth += {"{": 1, "}": -1}.get(source[index], 0)
        if depth == 0:
            return source[start:index + 1]
    raise AssertionError(f"function {name} is not closed")


def test_the_supervisor_page_marks_a_question(tmp_path):
    """The page's own row code, run by node with a stand-in for the DOM."""
    source = _script()
    program = "\n".join([
        "let shown = 0; let skipped = 0; const MAX_ROWS = 500; const counts = new Map();",
        "function el(){return {children:[],dataset:{},className:'',textContent:'',",
        " appendChild(c){this.children.push(c)},insertBefore(c){this.children.unshift(c)},",
        " removeChild(c){this.children.splice(this.children.indexOf(c), 1)},",
        " querySelectorAll(){return this.children},",
        " get lastChild(){return this.children[this.children.length - 1]},",
        " get firstChild(){return this.children[0]}};}",
        "const nodes = {rows: el(), count: el()};",
        "const document = {createElement: () => el()};",
        "function $(id){return nodes[id];}",
        _function(source, "cell"), _function(source, "addRecord"),
        "for (const r of JSON.parse(process.argv[2])) addRecord(r, false);",
        "console.log(JSON.stringify(nodes.rows.children.map(",
        " row => row.children.map(td => td.textContent))));"])
    records = [{"event": "decision", "verdict": "ALLOW", "front": "cli", "places_call": False,
                "logged_at": "2026-12-07T17:00:00.001Z", "campaign": "c"},
               {"event": "decision", "verdict": "ALLOW", "front": "http",
                "logged_at": "2026-12-07T17:00:01.001Z", "campaign": "c"}]
    (tmp_path / "page.js").write_text(program)
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    ran = subprocess.run([node, str(tmp_path / "page.js"), json.dumps(records)],
                         capture_output=True, text=True, check=False, timeout=30)
    assert ran.returncode == 0, ran.stderr
    call, question = json.loads(ran.stdout)  # newest first
    verdict = 4  # logged_at, called_local (hsup20), node, event, verdict
    assert call[verdict] == "ALLOW"
    assert re.fullmatch(r"ALLOW \(a question: no call placed\)", question[verdict]), question


def test_the_node_sends_the_page_whether_a_call_was_placed():
    """page_record passes ``places_call`` on: without it the page's mark never shows."""
    question = {"event": "decision", "verdict": "ALLOW", "front": "cli",
                "places_call": False, "schema": 2}
    assert page_record(question)["places_call"] is False
    assert "places_call" not in page_record({"event": "decision", "verdict": "ALLOW"})
