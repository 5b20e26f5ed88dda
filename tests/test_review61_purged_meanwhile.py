"""review 61: a report read while `callguard purge --yes` removes a log segment reads the
log again, as for an archiver's commit (session 22).

hoff18 made a closed segment gone between the listing and its read raise FileNotFoundError
(the report no longer passed an archived segment over), and ``read_through_commits`` reads
again only when the archive's manifest changed. A purge removes whole segments of the log
and commits no manifest (and a host with no archive has none): a report over the whole
history run beside it exited 3, "internal error", its path's digits redacted. The log is
listed anew (a few times at most: a purge has an end) and the report answers.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from click.testing import CliRunner

from callguard.cli.main import cli as root
from callguard.compliance import reader
from callguard.compliance.segments import stamp_name
from tests.log_files import KEY_HEX, config, synthetic


def test_a_segment_purged_while_the_report_reads_is_read_again(tmp_path, monkeypatch):
    data = tmp_path / "data"
    data.mkdir()
    path = config(tmp_path, data)
    lines = [line.rstrip(b"\n") + b"\n" for line in synthetic(30, days=3)]
    log = data / "compliance.jsonl"
    old = stamp_name(log, datetime(2026, 1, 5, 23, tzinfo=UTC))
    old.write_bytes(b"".join(lines[:10]))
    stamp_name(log, datetime(2026, 1, 6, 23, tzinfo=UTC)).write_bytes(b"".join(lines[10:20]))
    log.write_bytes(b"".join(lines[20:]))
    listing, purged = reader.closed_segments, []

    def purge_after_listing(at):  # `purge --yes` removes the oldest segment meanwhile
        listed = listing(at)
        if not purged:
            old.unlink()
            purged.append(old)
        return listed

    monkeypatch.setattr(reader, "closed_segments", purge_after_listing)
    monkeypatch.setenv("CALLGUARD_LOG_KEY", KEY_HEX)
    ran = CliRunner().invoke(root, ["--config", str(path), "report", "--json"])
    assert purged
    assert ran.exit_code == 0, ran.output
    said = json.loads(ran.output.strip().splitlines()[-1])
    full = json.loads(CliRunner().invoke(root, ["--config", str(path), "report",
                                                "--json"]).output.strip().splitlines()[-1])
    assert said["decisions"] == full["decisions"] > 0, (said, full)


def test_evidence_read_while_a_segment_is_purged_is_read_again(tmp_path, monkeypatch):
    """`evidence`: a segment listed (``LiveLines.of_log``) and purged before its read."""
    from callguard.compliance.archive import evidence as live

    data = tmp_path / "data"
    data.mkdir()
    path = config(tmp_path, data)
    monkeypatch.setenv("CALLGUARD_LOG_KEY", KEY_HEX)
    asked = CliRunner().invoke(root, ["--config", str(path), "check", "8015550123",
                                      "--campaign", "ut-solar-manual", "--at",
                                      "2026-12-07T10:00:00-07:00"])
    assert asked.exit_code in (0, 1), asked.output
    log = data / "compliance.jsonl"
    old = stamp_name(log, datetime(2026, 1, 5, 23, tzinfo=UTC))
    old.write_bytes(b"".join(line.rstrip(b"\n") + b"\n" for line in synthetic(5, days=1)))
    listing, purged = live.unarchived_segments, []

    def purge_after_listing(*args):
        listed = listing(*args)
        if not purged:
            old.unlink()
            purged.append(old)
        return listed

    monkeypatch.setattr(live, "unarchived_segments", purge_after_listing)
    ran = CliRunner().invoke(root, ["--config", str(path), "evidence", "8015550123",
                                    "--format", "json"])
    assert purged
    assert ran.exit_code == 0, ran.output
    document = json.loads(ran.output[ran.output.index("\n{\n"):])  # after the "using" line
    assert len(document["decisions"]) == 1, document
