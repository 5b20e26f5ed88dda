"""`report` over a log holding records of a schema this callguard does not know (a newer
node's, during an upgrade) printed no report at all — no JSON, no CSV, no page, exit 1 and
one note — as if nothing had been read. It prints the figures, says in them what was not
read, then exits 1."""

from __future__ import annotations

import json

import orjson

from tests.log_files import cli, config, synthetic, write_log


def test_an_incomplete_report_is_printed_and_says_so(tmp_path):
    data = tmp_path / "data"
    out = []
    for index, line in enumerate(synthetic(20, days=2, pool=4)):
        record = orjson.loads(line)
        if index == 3:
            record["schema"] = 3
        out.append(orjson.dumps(record) + b"\n")
    write_log(data / "compliance.jsonl", out, closed=[])
    path = config(tmp_path, data)
    page = tmp_path / "report.html"
    done = cli("report", "--json", "--html", str(page), config_path=path)
    assert done.returncode == 1, done.stderr
    figures = json.loads(done.stdout)
    assert figures["decisions"] >= 19
    assert "INCOMPLETE" in figures["sources"]["note"]
    assert "schema 3" in page.read_text()
    table = cli("report", "--csv", config_path=path)
    assert table.returncode == 1
    assert "INCOMPLETE" in table.stdout.splitlines()[1]
