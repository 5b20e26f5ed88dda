"""Review of harc33 (hrev169): what an archive of this version leaves an older callguard,
and what an acknowledgement may carry into the report, the terminal and explain's answer.

Pure store (``Archive``, a real directory) where no stream is needed; real redis-server,
real records and CLI runs for explain (the harc33 helpers).
"""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from callguard.compliance.archive.store import Archive, StreamGap
from callguard.compliance.stream_cursor import Gap
from tests.log_files import cli
from tests.test_harc33_node_gaps import MISSING, SEGMENT, _archive, _gaps, _node, _send

# StreamGap's fields before harc33 (git show main:callguard/compliance/archive/store.py):
# a callguard of format 3 builds ``StreamGap(**g)`` from each gap of a manifest of
# version <= 3, and fails (TypeError) on any other key
BEFORE_HARC33 = {"key", "kind", "entries", "after", "until", "noted", "at_least", "file"}


def _lost(archive: Archive) -> StreamGap:
    gap = StreamGap(key="callguard:compliance", kind="lost", entries=3, after="1-0",
                    until="2-0", noted="2026-12-07T17:00:00+00:00")
    with archive.writing() as manifest:
        manifest.stream_gaps.append(gap)
        archive.commit(manifest)
    return gap


def test_an_archivers_gap_is_written_as_an_older_callguard_reads_it(tmp_path):
    """Failed before: a ``lost`` gap (no node, no acknowledgement) was written as format
    2 with the harc33 fields (node, segment, ..., ack_note) all the same: a callguard of
    format 3 read "version 2" and crashed on ``StreamGap(node=...)`` instead of reading
    it (or saying "upgrade callguard")."""
    archive = Archive(tmp_path / "archive")
    gap = _lost(archive)
    raw = orjson.loads(archive.manifest_path.read_bytes())
    assert raw["version"] <= 3
    assert [set(g) <= BEFORE_HARC33 for g in raw["stream_gaps"]] == [True], raw
    assert archive.manifest().stream_gaps == [gap]  # and this callguard reads it back
    # acknowledged, it holds what format 3 cannot: written as 4, every field kept
    archive.acknowledge_gap(gap.ident, "Ann", "looked into it",
                            now=datetime(2026, 12, 7, 18, tzinfo=UTC))
    raw = orjson.loads(archive.manifest_path.read_bytes())
    assert raw["version"] == 4
    assert raw["stream_gaps"][0]["acked_by"] == "Ann"
    assert archive.manifest().stream_gaps[0].acked_at == "2026-12-07T18:00:00+00:00"


@pytest.mark.parametrize(("by", "note"), [
    ("Ann\x1b[2J", "x"),  # a terminal escape in who
    ("Ann", "ok\nINCOMPLETE: nothing"),  # a forged line in the report
    ("Ann", "ok\r\x07"),
    ("Ann", "right\u202eto left"),  # a bidi override: the text reads otherwise
    ("A" * 201, "x"),
    ("Ann", "x" * 2001),
])
def test_an_acknowledgement_is_bounded_text_of_one_line(tmp_path, by, note):
    """Failed before: accepted, and printed as given by `archive --gaps`, `report`,
    `evidence` and `explain` (a note could clear the officer's terminal or add a line)."""
    archive = Archive(tmp_path / "archive")
    gap = _lost(archive)
    before = archive.manifest_path.read_bytes()
    with pytest.raises(ValueError, match=r"--by|--note"):
        archive.acknowledge_gap(gap.ident, by, note)
    assert archive.manifest_path.read_bytes() == before


def test_the_cli_refuses_a_control_character_in_a_note(tmp_path, redis_server):
    """Failed before: exit 0, the escape stored in the manifest."""
    path, archive, _ = _node(tmp_path, redis_server)
    _send(redis_server, (Gap(SEGMENT, 4096, 8192, "oversize"),
                         datetime(2026, 12, 7, 17, 10, tzinfo=UTC)))
    _archive(path)
    (gap,) = _gaps(path)
    before = (archive / "manifest.json").read_bytes()
    done = cli("archive", "--ack-gap", gap["id"], "--by", "Ann", "--note", "a\x1b[2Jb",
               config_path=path)
    assert done.returncode == 2, done.stderr
    assert "usage error" in done.stderr
    assert (archive / "manifest.json").read_bytes() == before


def test_explain_says_an_acknowledged_gap_may_hold_the_decision(tmp_path, redis_server):
    """Failed before: "the archive has a gap of its time, acknowledged" and exit 1 — read
    as "never decided", though the acknowledged loss may hold the decision."""
    path, _, _ = _node(tmp_path, redis_server)
    _send(redis_server, (Gap(SEGMENT, 4096, 8192, "oversize"),
                         datetime(2026, 12, 7, 17, 10, tzinfo=UTC)))
    _archive(path)
    (gap,) = _gaps(path)
    done = cli("archive", "--ack-gap", gap["id"], "--by", "Ann", "--note", "looked",
               config_path=path)
    assert done.returncode == 0, done.stderr
    explained = cli("explain", MISSING, config_path=path)
    assert explained.returncode == 1, explained.stderr
    said = " ".join(explained.stderr.split())
    assert "it may be among what the archive does not hold" in said, said
    assert "acknowledged by Ann" in said, said


def test_a_reason_is_open_text_and_hoff33s_unreadable_line_is_said(tmp_path, redis_server):
    """A newer node's reason, unknown here, is a node gap all the same (the archiver does
    not hold the schema's enum against it: an older archiver would otherwise lose a newer
    node's gaps); hoff33's ``unreadable-line`` is said in words. Failed before: the
    unreadable line read "reason 'unreadable-line'" only, like an unknown reason."""
    path, _, _ = _node(tmp_path, redis_server)
    at = datetime(2026, 12, 7, 17, 10, tzinfo=UTC)
    _send(redis_server, (Gap(SEGMENT, 100, 200, "unreadable-line"), at),
          (Gap(SEGMENT, 300, 400, "a-reason-of-2027"), at))
    assert _archive(path)["node_gaps"] == 2
    unreadable, newer = _gaps(path)
    assert (unreadable["kind"], unreadable["reason"]) == ("node", "unreadable-line")
    assert "no record (not a JSON object" in unreadable["said"], unreadable["said"]
    assert (newer["kind"], newer["reason"]) == ("node", "a-reason-of-2027")
    assert "reason 'a-reason-of-2027'" in newer["said"], newer["said"]
