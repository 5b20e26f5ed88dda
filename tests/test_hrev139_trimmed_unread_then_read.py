"""Review hrev139 of hoff26's "elsewhere" (session 29): entries trimmed before the
archivers' group read them, and the archiver then read on past the trim (it was behind by
more than ``stream_maxlen``: its timer down for a weekend), were read as "archived by the
archiver" — report exit 0, explain exit 6 — though no archive holds them (the archiver's
own run counted them lost). ``stream_gap`` took a group delivered past the stream's first
entry as having read every trimmed entry ("it reads in id order"); a group skips what was
trimmed before it got there. Redis tells: the group's ``entries-read`` counts only what it
delivered, so ``entries-added`` - ``entries-read`` (its lag) against the entries still
there after ``last-delivered-id`` is what went unread (real redis-server 7.0.15: lag 4
after such a catch-up with nothing unread left)."""

from __future__ import annotations

import orjson
import redis

from tests.log_files import cli
from tests.test_hfix24_report_stream import _nodes
from tests.test_hoff25_officer_stream import KEY, _officer

GROUP = "callguard-archive"


def test_trimmed_unread_then_the_archiver_read_on_is_a_loss(tmp_path, redis_server):
    paths, made = _nodes(tmp_path, redis_server)
    made.pop("asked")
    ids = list(made)  # the first two archived; node-b's third and node-a's fourth unread
    client = redis.Redis.from_url(redis_server.url)
    assert client.xtrim(KEY, maxlen=1, approximate=False) > 0  # the third: trimmed unread
    caught_up = cli("archive", "--stream", "--json", config_path=paths["node-a"])
    assert caught_up.returncode == 0, caught_up.stderr
    assert "trimmed" in caught_up.stdout + caught_up.stderr  # the archiver says it lost one
    group = client.xinfo_groups(KEY)[0]
    info = client.xinfo_stream(KEY)
    assert group["pending"] == 0, group
    assert group["last-delivered-id"] == info["first-entry"][0], (group, info)
    assert group["lag"] > 0, group  # Redis's own count of what the group never read
    officer = _officer(tmp_path, redis_server)
    done = cli("report", "--json", config_path=officer)
    # main (hoff26): exit 0, sources.elsewhere "archived by the archiver"
    assert done.returncode == 1, done.stdout
    report = orjson.loads(done.stdout)
    assert "elsewhere" not in report["sources"], report["sources"]
    assert report["sources"].get("not_read"), report["sources"]
    lost = cli("explain", ids[2], "--json", config_path=officer)
    assert lost.returncode == 5, lost.stderr  # main: 6, "in the archiver's archive"
    assert orjson.loads(lost.stdout)["status"] == "may-have-been-trimmed"
    evidence = cli("evidence", "+18015550103", "--format", "json", config_path=officer)
    assert evidence.returncode == 1, evidence.stderr
    assert orjson.loads(evidence.stdout)["incomplete"] is True


def test_the_rule_past_the_first_entry():
    """``stream_gap`` when the group delivered past the stream's first entry: what it read
    against what was added, the entries after its last delivered one counted."""
    from callguard.cli.unarchived_stream import stream_gap

    info = {"length": 3, "entries-added": 10, "first-entry": (b"8-0", {b"r": b"{}"}),
            "last-generated-id": b"10-0"}

    def group(last: bytes, read: int | None) -> dict:
        return {"name": GROUP.encode(), "last-delivered-id": last, "entries-read": read}

    # the redis-cli run above: 4..7 trimmed unread, the group then read 8..10 (read 6)
    lost, other = stream_gap(info, KEY, "0-0", group(b"10-0", 6), 0, (), 0)
    assert other is None
    assert lost is not None
    assert "before the archiver's group read them" in lost
    # every one read before the trim (read 10): elsewhere
    assert stream_gap(info, KEY, "0-0", group(b"10-0", 10), 0, (), 0)[1] is not None
    # the group at 9, 10 unread still there: read 9 of 10 is whole
    assert stream_gap(info, KEY, "0-0", group(b"9-0", 9), 0, (), 1)[1] is not None
    assert stream_gap(info, KEY, "0-0", group(b"9-0", 8), 0, (), 1)[0] is not None
    # entries after the group's last not counted, or its counter unknown: not elsewhere
    assert stream_gap(info, KEY, "0-0", group(b"9-0", 9), 0)[1] is None
    assert stream_gap(info, KEY, "0-0", group(b"10-0", None), 0, (), 0)[1] is None
