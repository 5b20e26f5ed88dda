"""The supervisor page's report read every segment the manifest names as archived, the
ones holding records the archiver refused (``Manifest.refused``: a newer node's schema,
kept for a reader that knows it) too: the page's figures left those records out where
`callguard report` (``_unarchived``) reads the segment. Its other records count once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import orjson

from callguard.compliance.archive.store import Archive
from callguard.fronts.http.supervisor import file_report_records
from tests.log_files import cli, config, synthetic, write_log

NOW = datetime(2026, 1, 6, 12, tzinfo=UTC)


def _records(log, archive_dir) -> list[dict]:
    async def read() -> list[dict]:
        return [r async for r in file_report_records(log, archive_dir)(NOW)]
    return asyncio.run(read())


def test_the_page_reads_a_segment_holding_refused_records(tmp_path):
    data = tmp_path / "data"
    lines = synthetic(12, days=1, pool=4)
    records = [orjson.loads(line) for line in lines]
    target = next(i for i, r in enumerate(records) if r.get("event") == "decision" and i > 1)
    schema = records[target]["schema"]
    records[target]["schema"] = 3  # an older archiver does not know it
    out = [orjson.dumps(r) + b"\n" for r in records]
    segment, = write_log(data / "compliance.jsonl", out, closed=[(len(out) - 2, False)])
    path = config(tmp_path, data)
    done = cli("archive", config_path=path)
    assert done.returncode == 0, done.stderr
    archive_dir = next(tmp_path.rglob("manifest.json")).parent
    manifest = Archive(archive_dir).manifest()
    assert manifest.refused == {str(segment): 1}
    # the page runs the newer callguard, which reads that record (as an upgrade would)
    records[target]["schema"] = schema
    segment.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records[:len(out) - 2]))

    read = _records(data / "compliance.jsonl", archive_dir)
    wanted = records[target]["decision_id"]
    assert wanted in {r.get("decision_id") for r in read}, "the refused record was not read"
    # the page's figures (``report_with_live``, as `today_report`): each decision once
    from callguard.compliance import report as figures
    from callguard.compliance.archive.live import report_with_live

    done = report_with_live(Archive(archive_dir), lambda _m: read,
                            figures.ReportQuery(since=datetime(2026, 1, 1, tzinfo=UTC),
                                                until=NOW), archived=True, threads=1,
                            first=None, last=None, generated=NOW)
    counted = sum(sum(table.values()) for table in (done.calls, done.scrubs, done.questions,
                                                    done.withdrawn))
    assert counted == sum(1 for r in records if r.get("event") == "decision")
    # a segment whose records were all archived is still skipped
    other = Archive(archive_dir)
    with other.writing() as again:
        again.refused.clear()
        other.commit(again)
    assert wanted not in {r.get("decision_id") for r in _records(data / "compliance.jsonl",
                                                                     archive_dir)}
