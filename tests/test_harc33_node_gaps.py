"""A node's losses reach the archive's gaps, and an officer can acknowledge a gap (harc33).

Since hoff32 a node's stream sender puts a ``stream-gap`` entry on the stream where records
of its log will not come (a line over 1 MiB, a segment purged or the current file removed
before its lines were sent). The archiver archived it as an event only: the manifest's
``stream_gaps`` never named it, so `archive --gaps`, `report`, `evidence` and `explain`
(exit 5) on the archive host missed every node-side loss. A gap is now kept once per
(node, segment, offset, reason), whatever the logged_at of a re-sent entry; and
`archive --ack-gap ID --by NAME --note TEXT` marks one acknowledged, kept in the manifest.

Real redis-server on a free port, real records (`callguard check`), the entries as the
sender makes them (``Gap.entry``), real `archive --stream` runs and CLI reads.
"""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import redis

from callguard.compliance.stream_cursor import Gap
from tests.log_files import cli, config

KEY = "callguard:compliance"
SEGMENT = "compliance.jsonl.20261207T150000000000Z"
# a UUIDv7 decided 2026-12-07T17:05Z that no node made: explain finds it nowhere
MISSING = f"{int(datetime(2026, 12, 7, 17, 5, tzinfo=UTC).timestamp() * 1000):012x}"
MISSING = f"{MISSING[:8]}-{MISSING[8:]}-7000-8000-000000000001"


def _node(tmp_path, redis_server):
    data = tmp_path / "node-a"
    data.mkdir()
    path = config(tmp_path, data, node="node-a")
    text = path.read_text().replace('url = "redis://127.0.0.1:6379/0"',
                                    f'url = "{redis_server.url}"')
    path.write_text(text.replace("redis_stream = false", "redis_stream = true"))
    done = cli("check", "+18015550101", "--campaign", "ut-solar-manual", "--at",
               "2026-12-07T17:00:00Z", "--json", config_path=path)
    assert done.stdout, done.stderr
    return path, data / "archive", orjson.loads(done.stdout)["decision_id"]


def _send(redis_server, *gaps: tuple[Gap, datetime]) -> None:
    client = redis.Redis.from_url(redis_server.url)
    try:
        for gap, at in gaps:
            client.xadd(KEY, {"r": gap.entry("node-b", at)})
    finally:
        client.close()


def _archive(path) -> dict:
    done = cli("archive", "--stream", "--json", config_path=path)
    assert done.returncode == 0, done.stderr
    return orjson.loads(done.stdout)


def _gaps(path) -> list[dict]:
    done = cli("archive", "--gaps", "--json", config_path=path)
    assert done.returncode == 0, done.stderr
    return orjson.loads(done.stdout)["stream_gaps"]


def test_node_gaps_are_counted_once_and_said_everywhere(tmp_path, redis_server):
    """Failed before: `archive --gaps --json` listed [] (the entries archived as events
    only), `report` exited 0 and `explain` of a decision lost there exited 1."""
    path, archive, decision = _node(tmp_path, redis_server)
    oversize = Gap(SEGMENT, 4096, 4096 + (3 << 19), "oversize", decision)
    gone = Gap("compliance.jsonl", 80, reason="gone")
    first = datetime(2026, 12, 7, 17, 10, tzinfo=UTC)
    # the sender crashed before its cursor was saved and sent the oversize gap again
    _send(redis_server, (oversize, first), (gone, first),
          (oversize, datetime(2026, 12, 7, 17, 11, tzinfo=UTC)))
    run = _archive(path)
    assert run["node_gaps"] == 2, run
    gaps = _gaps(path)
    assert [(g["kind"], g["node"], g["segment"], g["offset"], g["end"], g["reason"],
             g["found"]) for g in gaps] == [
        ("node", "node-b", SEGMENT, 4096, 4096 + (3 << 19), "oversize",
         "2026-12-07T17:10:00.000Z"),
        ("node", "node-b", "compliance.jsonl", 80, None, "gone", "2026-12-07T17:10:00.000Z")]
    assert gaps[0]["decision_id"] == decision
    assert len({g["id"] for g in gaps}) == 2
    assert not any(g["acknowledged"] for g in gaps)
    # a later run meets a third copy, with a newer logged_at: the same gap, not counted
    _send(redis_server, (oversize, datetime(2026, 12, 7, 18, 0, tzinfo=UTC)))
    assert _archive(path)["node_gaps"] == 0
    assert _gaps(path) == gaps
    manifest = orjson.loads((archive / "manifest.json").read_bytes())
    assert manifest["version"] == 4  # an older callguard is told to upgrade, not crashed
    text = cli("archive", "--gaps", config_path=path)
    assert text.returncode == 0, text.stderr
    said = " ".join(text.stdout.split())
    assert f"{gaps[0]['id']} node (open): node node-b could not send" in said, said
    assert f"{SEGMENT} bytes 4096..{4096 + (3 << 19)} (oversize, decision {decision}" in said
    assert "compliance.jsonl from byte 80 to its end (gone;" in said
    # report on the archive host: INCOMPLETE, naming the node and the file
    report = cli("report", "--json", config_path=path)
    assert report.returncode == 1, (report.stdout, report.stderr)
    not_read = " ".join(orjson.loads(report.stdout)["sources"]["not_read"])
    assert f"node node-b could not send records of its log to the record stream {KEY}: " \
           f"{SEGMENT}" in not_read, not_read
    evidence = cli("evidence", "+18015550101", "--format", "json", config_path=path)
    assert evidence.returncode == 1, evidence.stderr
    answer = orjson.loads(evidence.stdout)
    assert answer["incomplete"] is True
    assert sum("node node-b could not send" in n for n in answer["notes"]) == 2
    explained = cli("explain", MISSING, "--json", config_path=path)
    assert explained.returncode == 5, explained.stderr
    status = orjson.loads(explained.stdout)
    assert status["status"] == "archive-has-gaps"
    assert len(status["archive_gaps"]) == 2
    assert "node node-b" in status["archive_gaps"][0]


def test_an_acknowledged_gap_stays_listed_and_no_longer_makes_answers_incomplete(
        tmp_path, redis_server):
    """Failed before: no such option (`--ack-gap`: exit 2, "No such option")."""
    path, archive, _ = _node(tmp_path, redis_server)
    at = datetime(2026, 12, 7, 17, 10, tzinfo=UTC)
    _send(redis_server, (Gap(SEGMENT, 4096, 8192, "oversize"), at),
          (Gap("compliance.jsonl", 80, reason="gone"), at))
    _archive(path)
    oversize, gone = _gaps(path)
    # refused, nothing changed: an unknown id, a missing --note, --by without --ack-gap
    before = (archive / "manifest.json").read_bytes()
    for args in (("--ack-gap", "0000000000", "--by", "Ann", "--note", "x"),
                 ("--ack-gap", oversize["id"], "--by", "Ann"),
                 ("--by", "Ann", "--note", "x"),
                 ("--ack-gap", oversize["id"], "--by", " ", "--note", "x")):
        refused = cli("archive", *args, config_path=path)
        assert refused.returncode == 2, (args, refused.stderr)
        assert "usage error" in refused.stderr, refused.stderr
    assert (archive / "manifest.json").read_bytes() == before
    note = "node-b's segment archived with archive --file on node-b, ticket 4411"
    done = cli("archive", "--ack-gap", oversize["id"], "--by", "Ann Officer", "--note", note,
               "--json", config_path=path)
    assert done.returncode == 0, done.stderr
    acked = orjson.loads(done.stdout)["acknowledged"]
    assert (acked["id"], acked["acked_by"], acked["ack_note"]) == (
        oversize["id"], "Ann Officer", note)
    when = datetime.fromisoformat(acked["acked_at"])
    assert abs((datetime.now(UTC) - when).total_seconds()) < 600
    # kept, flagged; the other untouched; a second acknowledgement refused (who answered
    # for it is not overwritten)
    listed = _gaps(path)
    assert [g["id"] for g in listed] == [oversize["id"], gone["id"]]
    assert [g["acknowledged"] for g in listed] == [True, False]
    assert listed[1] == gone
    again = cli("archive", "--ack-gap", oversize["id"], "--by", "Bob", "--note", "y",
                config_path=path)
    assert again.returncode == 2
    assert "already acknowledged by Ann Officer" in again.stderr
    assert _gaps(path) == listed
    # one gap still open: explain still exits 5, naming the open one and the acknowledged
    explained = cli("explain", MISSING, "--json", config_path=path)
    assert explained.returncode == 5, explained.stderr
    status = orjson.loads(explained.stdout)
    assert len(status["archive_gaps"]) == 1
    assert len(status["acknowledged_gaps"]) == 1
    assert f"acknowledged by Ann Officer on {acked['acked_at']}: {note}" in \
        status["acknowledged_gaps"][0]
    text = cli("archive", "--ack-gap", gone["id"].upper(), "--by", "Ann Officer", "--note",
               "file removed by hand on node-b; its backup archived", config_path=path)
    assert text.returncode == 0, text.stderr
    assert f"acknowledged stream gap {gone['id']} (node) by Ann Officer" in text.stdout
    # every gap acknowledged: "not found" is the answer (1, never 0: nothing explained),
    # each gap named with who answered for it
    explained = cli("explain", MISSING, "--json", config_path=path)
    assert explained.returncode == 1, explained.stderr
    status = orjson.loads(explained.stdout)
    assert status["status"] == "not-found"
    assert status["archive_gaps"] == []
    assert len(status["acknowledged_gaps"]) == 2
    assert "acknowledged by Ann Officer" in " ".join(explained.stderr.split())
    report = cli("report", "--json", config_path=path)
    assert report.returncode == 0, (report.stdout, report.stderr)
    sources = orjson.loads(report.stdout)["sources"]
    assert "not_read" not in sources
    assert len(sources["acknowledged_gaps"]) == 2
    assert "acknowledged by Ann Officer" in " ".join(report.stderr.split())
    evidence = cli("evidence", "+18015550101", "--format", "json", config_path=path)
    assert evidence.returncode == 0, evidence.stderr
    answer = orjson.loads(evidence.stdout)
    assert answer["incomplete"] is False
    assert sum("acknowledged by Ann Officer" in n for n in answer["notes"]) == 2
    listing = cli("archive", "--gaps", config_path=path)
    assert listing.stdout.count("node (acknowledged): node node-b") == 2, listing.stdout


def test_a_torn_stream_entry_is_quarantined_not_acknowledged_unsaid(tmp_path, redis_server):
    """An entry whose record does not parse (torn: cut mid-line) was counted `torn` and
    acknowledged: in no archive, no file, no gap. Failed before: no quarantine file, and
    `archive --gaps` listed nothing. Now kept as the refused entries are (0600 file in a
    0700 directory) and a `refused` gap names it."""
    path, archive, _ = _node(tmp_path, redis_server)
    client = redis.Redis.from_url(redis_server.url)
    torn = b'{"schema":1,"event":"decision","logged_at":"2026-12-07T17:20:00.000Z","ver'
    try:
        client.xadd(KEY, {"r": torn})
    finally:
        client.close()
    run = _archive(path)
    assert (run["torn"], run["recovered"]) == (1, 0), run
    name = f"quarantine/stream-{KEY.replace(':', '_')}.jsonl"
    quarantine = archive / name
    assert quarantine.read_bytes() == torn + b"\n"
    assert quarantine.stat().st_mode & 0o777 == 0o600
    assert quarantine.parent.stat().st_mode & 0o777 == 0o700
    gaps = _gaps(path)
    assert [(g["kind"], g["entries"], g["file"]) for g in gaps] == [("refused", 1, name)]
    assert "a record that does not parse (torn)" in gaps[0]["said"]
    client = redis.Redis.from_url(redis_server.url)
    try:
        assert client.xinfo_groups(KEY)[0]["pending"] == 0  # kept, then acknowledged
    finally:
        client.close()
    report = cli("report", "--json", config_path=path)
    assert report.returncode == 1, report.stderr
