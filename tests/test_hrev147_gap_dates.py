"""A stream gap reaches every range that can hold its records (review hrev147 of harc30).

harc30 dated a gap by its stream ids (when Redis added the entries, ``XADD``) and took a
`report` range as able to hold them only within two days either side. A stream id says
when the entry was added, not when its call was decided: a node's stream sink queues while
Redis is down (hours), and a node re-sending its log on reconnect (hoff30) adds records
decided days earlier. Such a record is never added BEFORE its call was decided (the
records are written after the decision), so a gap bounds its calls from above (its last
id, plus a margin for the node's clock), never from below: a `report --until` a week
before the gap was answered complete (exit 0) while the lost records may be of that week.
An officer told "complete" when it is not is the failure that matters.

Pure core: ``StreamGap.reaches`` / ``gap_notes`` on a manifest committed to a real archive
directory; the dates are synthetic (any hour of any day).
"""

from __future__ import annotations

from datetime import UTC, datetime

from callguard.compliance.archive.store import Archive, Manifest, StreamGap, gap_notes

KEY = "callguard:records"


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _archive_with_gap(tmp_path) -> Archive:
    archive = Archive(tmp_path / "archive")
    archive.root.mkdir()
    # added 2026-12-07T12:00:00Z .. 13:00:00Z (stream ids: the Redis server's clock)
    gap = StreamGap(key=KEY, kind="lost", entries=3, after="1796644800000-0",
                    until="1796648400000-1", noted="2026-12-07T14:00:00+00:00")
    archive.commit(Manifest(stream_gaps=[gap]))
    return archive


def test_a_range_before_the_gap_was_written_can_hold_its_records(tmp_path):
    """Records re-sent from a node's log days later (hoff30), or queued while Redis was
    down, were decided before their entries were added: a range wholly before can hold them."""
    manifest = _archive_with_gap(tmp_path).manifest()
    # harc30: [] (the range ends more than two days before the first id): exit 0, complete
    assert gap_notes(manifest, None, _at("2026-12-05T12:00"))
    assert gap_notes(manifest, _at("2026-11-01T00:00"), _at("2026-11-08T00:00"))
    assert gap_notes(manifest, _at("2020-01-01T00:00"), _at("2020-01-02T00:00"))


def test_a_range_well_after_the_gap_cannot_hold_its_records(tmp_path):
    """A call is decided before its record is added: a range starting more than the
    clock margin after the last id cannot hold them (complete, as harc30 had it)."""
    manifest = _archive_with_gap(tmp_path).manifest()
    assert gap_notes(manifest, _at("2026-12-09T00:00"), None)  # within the margin
    assert not gap_notes(manifest, _at("2026-12-09T13:00:01"), None)
    assert not gap_notes(manifest, _at("2990-01-01T00:00"), _at("2990-02-01T00:00"))
