"""Lost or refused stream records read as archived (review hrev139's cases, harc30).

The stream archiver (`archive --stream`, the consumer group ``callguard-archive``) could
not archive some entries, and afterwards nothing said so:

1. the group made after the stream was already trimmed (``XGROUP CREATE ... 0`` without
   ``ENTRIESREAD``: Redis >= 7 estimates the group's read count as if it had read the
   trimmed entries) — an officer's `report` said "archived by the archiver", exit 0;
2. entries delivered to an archiver killed before its commit, then trimmed: its next run
   counted them lost and acknowledged them — the group then showed nothing pending, and
   an officer's `report` said "archived by the archiver", exit 0;
3. entries of a schema the archiver does not know: acknowledged, in no archive, no file;
4. on the archive host, the count of lost entries was a line of the run's log alone:
   `report` and `evidence` there answered complete (exit 0).

Real redis-server (7.0.15 here) on a free port, real records (`callguard check` on two
nodes), real `archive --stream` runs.
"""

from __future__ import annotations

import socket

import orjson
import redis

from tests.log_files import cli, config
from tests.test_hoff25_officer_stream import KEY, _officer

GROUP = "callguard-archive"
CAMPAIGN = "ut-solar-manual"


def _node_configs(tmp_path, redis_server):
    paths = {}
    for node in ("node-a", "node-b"):
        data = tmp_path / node
        data.mkdir()
        path = config(tmp_path, data, node=node)
        text = path.read_text().replace('url = "redis://127.0.0.1:6379/0"',
                                        f'url = "{redis_server.url}"')
        path.write_text(text.replace("redis_stream = false", "redis_stream = true"))
        paths[node] = path
    return paths


def _check(path, number: str, at: str) -> str:
    done = cli("check", number, "--campaign", CAMPAIGN, "--at", at, "--json",
               config_path=path)
    assert done.stdout, done.stderr
    return orjson.loads(done.stdout)["decision_id"]


def _archive(paths):
    done = cli("archive", "--stream", "--json", config_path=paths["node-a"])
    assert done.returncode == 0, done.stderr
    return done


def _archive_host_says(paths, tmp_path, *, said: str):
    """`report` and `evidence` on the archive host (node-a): incomplete, naming it."""
    report = cli("report", "--json", config_path=paths["node-a"])
    # main: exit 0, nothing said (after the archive's position nothing was missing)
    assert report.returncode == 1, (report.stdout, report.stderr)
    not_read = " ".join(orjson.loads(report.stdout)["sources"]["not_read"])
    assert said in not_read, not_read
    assert said in " ".join(report.stderr.split())
    evidence = cli("evidence", "+18015550101", "--format", "json",
                   config_path=paths["node-a"])
    assert evidence.returncode == 1, evidence.stderr
    answer = orjson.loads(evidence.stdout)
    assert answer["incomplete"] is True
    assert any(said in n for n in answer["notes"]), answer["notes"]
    manifest = orjson.loads((tmp_path / "node-a" / "archive" / "manifest.json").read_bytes())
    return manifest["stream_gaps"]


def test_group_made_after_the_stream_was_trimmed(tmp_path, redis_server):
    """Case 1 and 4: four records, the stream trimmed to one, then the first archive run."""
    paths = _node_configs(tmp_path, redis_server)
    _check(paths["node-a"], "+18015550101", "2026-12-07T17:00:00Z")
    _check(paths["node-b"], "+18015550102", "2026-12-07T17:10:00Z")
    _check(paths["node-b"], "+18015550103", "2026-12-07T17:20:00Z")
    _check(paths["node-a"], "+18015550104", "2026-12-07T17:30:00Z")
    client = redis.Redis.from_url(redis_server.url)
    written = client.xlen(KEY)  # decisions, and each node's packs-loaded records
    assert client.xtrim(KEY, maxlen=1, approximate=False) == written - 1
    first = _archive(paths)
    # the run itself counted them (and said so in its log line only)
    assert orjson.loads(first.stdout)["stream_lost"] == written - 1
    officer = _officer(tmp_path, redis_server)
    done = cli("report", "--json", config_path=officer)
    # main: exit 0, sources.elsewhere "... took and acknowledged them"
    assert done.returncode == 1, (done.stdout, done.stderr)
    report = orjson.loads(done.stdout)
    assert "elsewhere" not in report["sources"], report["sources"]
    assert "before the archiver's group read them" in " ".join(report["sources"]["not_read"])
    group = client.xinfo_groups(KEY)[0]
    # main: entries-read = entries-added (Redis's estimate on reaching the last entry), lag 0
    assert group["entries-read"] == 1, group
    assert group["lag"] == written - 1, group
    gaps = _archive_host_says(paths, tmp_path, said="trimmed before they were archived")
    assert [(g["kind"], g["entries"], g["at_least"]) for g in gaps] == [
        ("lost", written - 1, False)]
    # a later run finds nothing new: the gap is kept, not counted again
    again = _archive(paths)
    assert orjson.loads(again.stdout)["stream_lost"] == 0
    kept = orjson.loads((tmp_path / "node-a" / "archive" / "manifest.json").read_bytes())
    assert kept["stream_gaps"] == gaps
    # a report of a range its records cannot be of (written long before it) is complete
    later = cli("report", "--since", "2990-01-01", "--until", "2990-02-01", "--json",
                config_path=paths["node-a"])
    assert later.returncode == 0, later.stderr


def test_pending_entries_trimmed_then_the_archiver_restarted(tmp_path, redis_server):
    """Case 2 and 4: the archiver took the new entries and was killed before its commit;
    the stream's cap trimmed all but the last; its next run read them back empty."""
    paths = _node_configs(tmp_path, redis_server)
    _check(paths["node-a"], "+18015550101", "2026-12-07T17:00:00Z")
    _check(paths["node-b"], "+18015550102", "2026-12-07T17:10:00Z")
    _archive(paths)
    _check(paths["node-b"], "+18015550103", "2026-12-07T17:20:00Z")
    _check(paths["node-a"], "+18015550105", "2026-12-07T17:30:00Z")
    client = redis.Redis.from_url(redis_server.url)
    # the archiver (this host's name: its consumer) read them, then was killed
    taken = client.xreadgroup(GROUP, socket.gethostname(), {KEY: ">"})
    pending = len(taken[0][1])
    assert pending >= 2
    # the cap keeps the last one (still pending, archived by the next run)
    assert client.xtrim(KEY, maxlen=1, approximate=False) >= pending - 1
    restarted = _archive(paths)
    assert orjson.loads(restarted.stdout)["stream_lost"] == pending - 1
    officer = _officer(tmp_path, redis_server)
    done = cli("report", "--json", config_path=officer)
    # main: exit 0, "took and acknowledged them: they are archived by the archiver"
    assert done.returncode == 1, (done.stdout, done.stderr)
    report = orjson.loads(done.stdout)
    assert "elsewhere" not in report["sources"], report["sources"]
    assert f"{pending - 1} pending" in " ".join(report["sources"]["not_read"])
    group = client.xinfo_groups(KEY)[0]
    # main: acknowledged (pending 0), and nothing in Redis says they were not archived
    assert group["pending"] == pending - 1, group
    gaps = _archive_host_says(paths, tmp_path, said="trimmed before they were archived")
    assert [(g["kind"], g["entries"]) for g in gaps] == [("lost", pending - 1)]
    ids = [i.decode() for i, _ in taken[0][1]]
    assert (gaps[0]["after"], gaps[0]["until"]) == (ids[0], ids[-2]), (gaps, ids)
    # the next run neither counts them again nor acknowledges them
    again = _archive(paths)
    assert orjson.loads(again.stdout)["stream_lost"] == 0
    assert client.xinfo_groups(KEY)[0]["pending"] == pending - 1


def test_refused_entries_are_kept_and_said(tmp_path, redis_server):
    """Case 3 and 4: a newer node's record (schema 99) on the stream."""
    paths = _node_configs(tmp_path, redis_server)
    _check(paths["node-a"], "+18015550101", "2026-12-07T17:00:00Z")
    client = redis.Redis.from_url(redis_server.url)
    line = client.xrange(KEY)[0][1][b"r"]
    newer = orjson.loads(line)
    newer["schema"] = 99
    newer["decision_id"] = "019aa000-0000-7000-8000-000000000099"
    newer_line = orjson.dumps(newer)
    client.xadd(KEY, {"r": newer_line})
    done = _archive(paths)
    run = orjson.loads(done.stdout)
    assert run["refused"] == 1, run
    name = f"quarantine/stream-{KEY.replace(':', '_')}.jsonl"
    quarantine = tmp_path / "node-a" / "archive" / name
    # main: acknowledged and gone: no word on the archive host (report exit 0), no file
    gaps = _archive_host_says(paths, tmp_path, said="the archiver refused 1 entr(y/ies)")
    assert quarantine.read_bytes() == newer_line + b"\n"
    assert client.xinfo_groups(KEY)[0]["pending"] == 0
    assert [(g["kind"], g["entries"], g["file"]) for g in gaps] == [
        ("refused", 1, name)]


def test_the_gap_record_round_trips_and_dates_itself(tmp_path):
    """The manifest keeps gaps (and writes no key without one: an older callguard reads
    it); a gap reaches a range by the time its stream ids were written."""
    from datetime import UTC, datetime

    from callguard.compliance.archive.store import Archive, Manifest, StreamGap, gap_notes

    archive = Archive(tmp_path / "archive")
    archive.root.mkdir()
    archive.commit(Manifest())
    assert b"stream_gaps" not in archive.manifest_path.read_bytes()
    # 2026-12-07T12:00:00Z and 13:00:00Z in stream ids
    gap = StreamGap(key=KEY, kind="lost", entries=3, after="1796644800000-0",
                    until="1796648400000-1", noted="2026-12-07T14:00:00+00:00")
    archive.commit(Manifest(stream_gaps=[gap]))
    assert archive.manifest().stream_gaps == [gap]

    def at(text: str) -> datetime:
        return datetime.fromisoformat(text).replace(tzinfo=UTC)

    manifest = archive.manifest()
    assert gap_notes(manifest)  # no range: always
    assert gap_notes(manifest, at("2026-12-07T00:00"), at("2026-12-08T00:00"))
    # two days either side (a call dated near when it was written)
    assert gap_notes(manifest, at("2026-12-09T00:00"), None)
    assert not gap_notes(manifest, at("2026-12-09T13:00:01"), None)
    # a range before they were written can hold them too: a record re-sent from a node's
    # log (hoff30) or queued while Redis was down is added days after its call (hrev147)
    assert gap_notes(manifest, None, at("2026-12-05T12:00"))
    said = gap_notes(manifest)[0]
    assert "3 entr(y/ies)" in said
    assert "between 2026-12-07T12:00:00+00:00 and 2026-12-07T13:00:00+00:00" in said
    unread = StreamGap(key=KEY, kind="lost", entries=2, after="0-0", until="1796644800000-0",
                       noted="x", at_least=True)
    assert "at least 2" in unread.said()
    assert "written by 2026-12-07T12:00:00+00:00" in unread.said()
