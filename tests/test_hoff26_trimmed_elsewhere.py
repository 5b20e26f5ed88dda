"""A host with no archive of its own (an officer's) once the record stream was trimmed
(session 29, hoff26). Every `report` there said INCOMPLETE (exit 1) as soon as the stream
was trimmed, also when the archiver (the consumer group ``callguard-archive``) had read
and acknowledged every entry trimmed: alarm fatigue, the real loss said the same way.
Now the group tells them apart — entries trimmed after the group read and acknowledged
them are a warning naming the archiver (exit 0); entries trimmed before it read them, or
delivered and still pending (an archiver killed before its commit), stay INCOMPLETE
(exit 1). `explain`'s exit 1 meant "not found", "not searched" and "may have been
trimmed" alike: each has its own exit code and `--json` status now.

Real redis-server (7.0.15 here: XTRIM leaves ``max-deleted-entry-id`` at 0-0 and moves
``recorded-first-entry-id``; the group's ``entries-read``, ``lag`` and
``last-delivered-id`` stay), real records (`callguard check` on two nodes), a real
`archive --stream`."""

from __future__ import annotations

import socket

import orjson
import redis

from tests.log_files import cli
from tests.test_hfix24_report_stream import _nodes
from tests.test_hoff25_officer_stream import KEY, _officer

GROUP = "callguard-archive"


def _all_archived_then_trimmed(tmp_path, redis_server):
    """node-a's archiver takes every entry (two runs), then the stream is trimmed to its
    last entry: the trimmed ones are in node-a's archive, and nowhere lost."""
    paths, made = _nodes(tmp_path, redis_server)
    made.pop("asked")
    again = cli("archive", "--stream", "--json", config_path=paths["node-a"])
    assert again.returncode == 0, again.stderr
    client = redis.Redis.from_url(redis_server.url)
    assert client.xtrim(KEY, maxlen=1, approximate=False) > 0
    info = client.xinfo_stream(KEY)
    assert info["max-deleted-entry-id"] == b"0-0", info  # Redis 7.0: a trim moves it not
    group = client.xinfo_groups(KEY)[0]
    assert group["pending"] == 0, group
    assert group["last-delivered-id"] == info["last-entry"][0], (group, info)
    return paths, list(made)


def test_an_officers_report_after_a_trim_the_archiver_had_read(tmp_path, redis_server):
    paths, ids = _all_archived_then_trimmed(tmp_path, redis_server)
    officer = _officer(tmp_path, redis_server)
    done = cli("report", "--json", config_path=officer)
    # main: exit 1, "INCOMPLETE: N entries were trimmed ... or lost if no archiver took them"
    assert done.returncode == 0, done.stderr
    report = orjson.loads(done.stdout)
    assert not report["sources"].get("not_read"), report["sources"]
    said = " ".join(report["sources"]["elsewhere"])
    assert f"group {GROUP}, consumer(s) {socket.gethostname()}" in said, said
    assert "query the archive host" in said, said
    assert "not read here" in report["sources"]["note"]
    assert "archived by the archiver" in " ".join(done.stderr.split())
    # the archiver's archive given: every decision, no warning
    whole = cli("report", "--json", "--archive", str(tmp_path / "node-a" / "archive"),
                config_path=officer)
    assert whole.returncode == 0, whole.stderr
    assert orjson.loads(whole.stdout)["decisions"] == 4
    assert "elsewhere" not in orjson.loads(whole.stdout)["sources"]
    # explain of a trimmed decision: not here, in the archiver's archive (exit 6)
    gone = cli("explain", ids[0], "--json", config_path=officer)
    assert gone.returncode == 6, gone.stderr
    answer = orjson.loads(gone.stdout)
    assert answer["found"] is False
    assert answer["status"] == "in-the-archivers-archive", answer
    assert not answer["may_have_been_trimmed"]
    assert "not here: it may be in the archiver's archive" in " ".join(gone.stderr.split())
    # evidence of it: the note in the document, and not INCOMPLETE for it
    evidence = cli("evidence", "--decision", ids[0], "--format", "json",
                   config_path=officer)
    assert evidence.returncode == 1  # a decision found nowhere, as before
    assert "archived by the archiver" in " ".join(evidence.stderr.split())
    on_archive = cli("explain", ids[0], config_path=paths["node-a"])
    assert on_archive.returncode == 0, on_archive.stderr


def test_an_officers_evidence_says_where_the_rest_is(tmp_path, redis_server):
    _all_archived_then_trimmed(tmp_path, redis_server)
    officer = _officer(tmp_path, redis_server)
    done = cli("evidence", "+18015550101", "--format", "json", config_path=officer)
    # exit 1 and incomplete, as before hoff26, but the note names where the rest is (on
    # main it said "may be missing"): a script reading the exit code or `incomplete` must
    # not take "decisions: []" for a number never called (hrev139, lead)
    assert done.returncode == 1, done.stderr
    answer = orjson.loads(done.stdout)
    assert answer["incomplete"] is True
    assert any("archived by the archiver" in n for n in answer["notes"]), answer["notes"]
    assert answer["decisions"] == []  # it is in the archive on node-a: said, not "never"


def test_an_entry_trimmed_before_the_archiver_read_it_is_still_incomplete(tmp_path,
                                                                          redis_server):
    _, made = _nodes(tmp_path, redis_server)
    made.pop("asked")
    ids = list(made)
    client = redis.Redis.from_url(redis_server.url)
    assert client.xtrim(KEY, maxlen=1, approximate=False) > 0  # node-b's third: unread
    officer = _officer(tmp_path, redis_server)
    done = cli("report", "--json", config_path=officer)
    assert done.returncode == 1, done.stderr
    report = orjson.loads(done.stdout)
    said = " ".join(report["sources"]["not_read"])
    assert "trimmed before the archiver's group read them" in said, said
    assert "elsewhere" not in report["sources"]
    lost = cli("explain", ids[2], "--json", config_path=officer)
    assert lost.returncode == 5, lost.stderr
    assert orjson.loads(lost.stdout)["status"] == "may-have-been-trimmed"


def test_entries_delivered_and_never_acknowledged_are_still_incomplete(tmp_path,
                                                                       redis_server):
    """An archiver killed between its read and its commit: the entries are pending; a trim
    then takes them. Delivered is not archived."""
    _, made = _nodes(tmp_path, redis_server)
    made.pop("asked")
    client = redis.Redis.from_url(redis_server.url)
    read = client.xreadgroup(GROUP, "killed-archiver", {KEY: ">"})
    assert read
    assert read[0][1]
    assert client.xtrim(KEY, maxlen=1, approximate=False) > 0
    officer = _officer(tmp_path, redis_server)
    done = cli("report", "--json", config_path=officer)
    assert done.returncode == 1, done.stderr
    said = " ".join(orjson.loads(done.stdout)["sources"]["not_read"])
    assert "not acknowledged" in said, said
    gone = cli("explain", list(made)[2], config_path=officer)
    assert gone.returncode == 5, gone.stderr


def test_explain_not_found_anywhere_is_exit_1_with_json(tmp_path, redis_server):
    paths, _ = _nodes(tmp_path, redis_server)
    never = cli("explain", "01a2415c-7c3e-7d2a-9b1e-5f0c3d2e1a40", "--json",
                config_path=paths["node-a"])
    assert never.returncode == 1, never.stderr
    answer = orjson.loads(never.stdout)
    assert answer["status"] == "not-found"
    assert answer["not_searched"] is None
    assert any("redis stream" in p for p in answer["searched"]), answer
    helped = cli("explain", "--help", config_path=paths["node-a"])
    assert "6  not found here" in helped.stdout


def test_the_rule_of_stream_gap():
    """``stream_gap`` on XINFO's answers as redis-py returns them (Redis 7.0)."""
    from callguard.cli.unarchived_stream import stream_gap

    info = {"length": 2, "entries-added": 5, "first-entry": (b"400-0", {b"r": b"{}"}),
            "last-generated-id": b"500-0"}

    def group(last: bytes, read: int | None) -> dict:
        return {"name": GROUP.encode(), "last-delivered-id": last, "entries-read": read}

    key = KEY
    # no archive here; the group read and acknowledged 100..300: elsewhere, not lost
    lost, other = stream_gap(info, key, "0-0", group(b"300-0", 3), 0, ("arch",))
    assert lost is None
    assert other is not None
    assert "3 entr(y/ies)" in other
    assert "consumer(s) arch" in other
    # read them, one still pending: lost (maybe)
    lost, other = stream_gap(info, key, "0-0", group(b"300-0", 3), 1)
    assert other is None
    assert lost is not None
    assert "1 pending" in lost
    # pending not asked: not taken as acknowledged
    assert stream_gap(info, key, "0-0", group(b"300-0", 3))[0] is not None
    # 300 trimmed before the group read it
    lost, _ = stream_gap(info, key, "0-0", group(b"200-0", 2), 0)
    assert lost is not None
    assert "before the archiver's group read them" in lost
    # delivered past the first kept entry: a group skips what was trimmed before it got
    # there, so its count of what it read tells (review hrev139; was: elsewhere, whatever
    # the count): 5 of 5 read, nothing after 500 — elsewhere; counter unknown — lost
    assert stream_gap(info, key, "0-0", group(b"500-0", 5), 0, (), 0)[1] is not None
    assert stream_gap(info, key, "0-0", group(b"500-0", 4), 0, (), 0)[0] is not None
    assert stream_gap(info, key, "0-0", group(b"500-0", None), 0, (), 0)[0] is not None
    # counters unknown (an XDEL past the group), delivered short of the first kept: lost
    assert stream_gap(info, key, "0-0", group(b"300-0", None), 0)[0] is not None
    # no group: lost
    assert stream_gap(info, key, "0-0", None, None)[0] is not None
    # this archive at 200; the group took 300 too and acknowledged it: elsewhere
    lost, other = stream_gap(info, key, "200-0", group(b"300-0", 3), 0)
    assert lost is None
    assert other is not None
    assert "position 200-0" in other
    # the archive at 300 and the group no further: nothing to say (hrev128)
    assert stream_gap(info, key, "300-0", group(b"300-0", 3), None) == (None, None)
