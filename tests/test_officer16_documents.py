"""What counsel and an officer are handed says what it is built from and speaks the zone
named: `explain` named neither the log or archive its record came from nor the packs its
sentences were read from; `evidence --tz ZONE --from DAY` showed UTC alone and, with no
decision in the range, "decisions: none" beside no range at all."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

from tests.test_cli import ROOT, cli

NUMBER = "8015550188"


def _decided(data_dir) -> str:
    result = cli("check", NUMBER, "--campaign", "ut-solar-manual", "--at",
                 "2026-12-08T11:00:00-07:00", "--json", data_dir=data_dir)
    assert result.returncode in (0, 1), result.stderr
    return json.loads(result.stdout)["decision_id"]


def test_explain_names_the_record_and_the_pack_texts(tmp_path):
    decision = _decided(tmp_path)
    log = (tmp_path / "compliance.jsonl").resolve()
    text = cli("explain", decision, data_dir=tmp_path)
    assert text.returncode == 0, text.stderr
    assert f"read from: the record in the log {log}" in text.stdout
    assert "rule citations and sentences from the packs in" in text.stdout
    said = json.loads(cli("explain", decision, "--json", data_dir=tmp_path).stdout)
    assert said["explained_from"]["record"].startswith(f"the log {log}")
    line = next(x for x in log.read_text().splitlines() if decision in x)
    piped = subprocess.run([sys.executable, "-m", "callguard", "explain", "-", "--json"],
                           input=line, capture_output=True, text=True, cwd=ROOT, timeout=60,
                           env={**os.environ, "CALLGUARD_DATA_DIR": str(tmp_path)},
                           check=False)
    assert piped.returncode == 0, piped.stderr
    assert json.loads(piped.stdout)["explained_from"]["record"] == "standard input"


def test_evidence_speaks_the_zone_named_and_says_its_range(tmp_path):
    _decided(tmp_path)
    shown = cli("evidence", NUMBER, "--tz", "America/Denver", "--from", "2026-11-01",
                data_dir=tmp_path).stdout
    assert "at (America/Denver)" in shown
    assert "2026-12-08T11:00:00-07:00" in shown
    # midnight of Nov 1 is still daylight time (-06:00): the fall back is at 2 a.m.
    assert re.search(r"range: 2026-11-01T00:00:00\.000-06:00 until the last record", shown)
    # the call was asked today (a `check --at`): a range of the call's own day holds none,
    # and says which range and why rather than a bare "none"
    empty = cli("evidence", NUMBER, "--tz", "America/Denver", "--from", "2026-12-08",
                "--to", "2026-12-09", data_dir=tmp_path).stdout
    assert "decisions: none in the range" in empty
    assert "a `check --at` or a scrub by when it was asked" in empty
    page = cli("evidence", NUMBER, "--tz", "America/Denver", "--format", "html",
               data_dir=tmp_path).stdout
    assert "<th>call at (America/Denver)</th>" in page
    assert "<td class=t>2026-12-08T11:00:00-07:00</td>" in page
    plain = cli("evidence", NUMBER, data_dir=tmp_path).stdout
    assert "at (UTC)" in plain
    assert "at (America/Denver)" not in plain
    assert "range:" not in plain


def test_evidence_names_the_files_it_read(tmp_path):
    """"read 0 archived day(s) and 1 unarchived file(s)": counsel could not tell whose log
    or which archive copy the history came from."""
    _decided(tmp_path)
    log = str((tmp_path / "compliance.jsonl").resolve())
    text = cli("evidence", NUMBER, data_dir=tmp_path).stdout
    archive = (tmp_path / "archive").resolve()  # where it was looked for (officer 18)
    assert (f"read 0 archived day(s) (no archive at {archive}) and 1 unarchived file(s) "
            f"({log})") in " ".join(text.split())
    sources = json.loads(cli("evidence", NUMBER, "--json", data_dir=tmp_path).stdout)["sources"]
    assert sources["archive"] is None
    assert sources["live"] == [log]
    page = cli("evidence", NUMBER, "--format", "html", data_dir=tmp_path).stdout
    assert f"1 unarchived file(s) ({log})" in page


def test_records_in_force_say_what_a_revocation_ended_and_a_no_op(tmp_path):
    """Before a call, "consent-revoked (written)" was listed in force whether it ended both
    automated kinds or changed nothing (no consent was on file to revoke)."""
    for args in (["consent", "revoke", NUMBER, "--kind", "written"],
                 ["consent", "add", NUMBER, "--kind", "autodialer",
                  "--granted", "2026-11-01T12:00:00Z"],
                 ["consent", "revoke", NUMBER, "--kind", "written"]):
        assert cli(*args, "--campaign", "ut-solar-manual",
                   data_dir=tmp_path).returncode == 0, args
    _decided(tmp_path)
    lines = [x for x in cli("evidence", NUMBER, data_dir=tmp_path).stdout.splitlines()
             if "consent-revoked (written)" in x]
    assert len(lines) == 2
    assert "changed nothing in the record store, ends autodialer and written" in lines[0]
    assert "changed nothing" not in lines[1]
    assert "ends autodialer and written" in lines[1]
