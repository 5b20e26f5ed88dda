"""`explain` of an ALLOW a later decision withdrew (FastAGI: the channel hung up while the
answer was sent; no call was placed on it) said "ALLOW ... Allowed: N rules hold" and
nothing else, while `evidence` and `report` say it was withdrawn. It names the
withdrawal, from the log and from the archive."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import orjson

from callguard.compliance.segments import stamp_name
from tests.log_files import cli, config, placed_call


def _log(tmp_path):
    """A real ALLOW decided by the node's gate, then the BLOCK that withdrew it, in a
    closed segment (and one more record in the current file)."""
    data = tmp_path / "data"
    data.mkdir()
    path = config(tmp_path, data)
    listing = tmp_path / "list.txt"
    listing.write_text("8015550199\n")
    for name in ("national", "ut-state"):
        assert cli("dnc", "import", str(listing), "--list", name, "--published",
                   "2026-12-05", "--covers", "all", config_path=path).returncode == 0
    verdict = placed_call("8015550123", "ut-solar-manual", "2026-12-08T11:00:00-07:00",
                          config_path=path)
    assert verdict == "ALLOW", verdict
    log = data / "compliance.jsonl"
    allow = next(r for r in map(orjson.loads, log.read_bytes().splitlines())
                 if r.get("event") == "decision")
    logged = (datetime.fromisoformat(allow["logged_at"]) + timedelta(milliseconds=40)
              ).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    block = {**allow, "logged_at": logged, "decision_id": allow["decision_id"][:-4] + "ffff",
             "verdict": "BLOCK", "rule": "callguard:hung-up",
             "reason": "Blocked by callguard:hung-up: the channel hung up",
             "withdraws": allow["decision_id"], "outcomes": [
                 {"rule": "callguard:hung-up", "status": "block",
                  "reason": "the channel hung up"}]}
    block.pop("obligations", None)
    with log.open("ab") as handle:
        handle.write(orjson.dumps(block) + b"\n")
    log.replace(stamp_name(log, datetime.fromisoformat(logged).astimezone(UTC)))
    log.write_bytes(b"")
    return path, allow, block


def _said(path, allow, block):
    shown = cli("explain", allow["decision_id"], config_path=path)
    assert shown.returncode == 0, shown.stderr
    assert "WITHDRAWN by decision " + block["decision_id"] in shown.stdout
    data = json.loads(cli("explain", allow["decision_id"], "--json",
                          config_path=path).stdout)
    assert data["withdrawn"]["by"] == block["decision_id"]


def test_explain_names_the_withdrawal_in_the_log_and_in_the_archive(tmp_path):
    path, allow, block = _log(tmp_path)
    _said(path, allow, block)
    done = cli("archive", "--keep-segments-days", "0", "--compact-all", config_path=path)
    assert done.returncode == 0, done.stderr
    _said(path, allow, block)
    other = cli("explain", block["decision_id"], "--json", config_path=path)
    assert json.loads(other.stdout)["withdrawn"] is None
