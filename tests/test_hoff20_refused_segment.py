"""Records the archiver cannot read (a schema a newer node wrote during an upgrade) were
"left where they are" — in a segment the archiver then deleted (--keep-segments-days):
gone with no word, and `evidence`, `tail` and `report` answered complete (exit 0) where
`tail` had said "not read, upgrade callguard" (exit 1) the day before. The segment is kept
and read as unarchived; its other records are counted once."""

from __future__ import annotations

import json

import orjson

from tests.log_files import cli, config, synthetic, write_log


def _node(tmp_path):
    data = tmp_path / "data"
    lines = synthetic(30, days=3, pool=4)
    out, newer = [], []
    for index, line in enumerate(lines):
        record = orjson.loads(line)
        if record.get("event") == "decision" and len(newer) < 2 and index > 2:
            record["schema"] = 3  # written by a newer callguard
            newer.append(record)
        out.append(orjson.dumps(record) + b"\n")
    write_log(data / "compliance.jsonl", out, closed=[(len(out) - 2, True)])
    return config(tmp_path, data), data, newer


def test_a_segment_holding_unreadable_records_is_kept_and_read(tmp_path):
    path, data, newer = _node(tmp_path)
    before = _decisions(path)
    done = cli("archive", "--keep-segments-days", "0", config_path=path)
    assert done.returncode == 0, done.stderr
    assert "kept past --keep-segments-days" in " ".join(done.stderr.split())
    assert list(data.glob("compliance.jsonl.*.zst")), "the segment was deleted"
    tailed = cli("tail", "-n", "all", config_path=path)
    assert tailed.returncode == 1
    assert "schema 3: 2" in tailed.stderr
    from bench.synthetic_records import e164

    full = next(e164(i) for i in range(4) if e164(i).endswith(newer[0]["number_last4"]))
    found = cli("evidence", full, "--json", config_path=path)
    assert found.returncode == 1, found.stderr
    assert "does not know" in " ".join(json.loads(found.stdout)["notes"])
    # a second run archives nothing again, and the known records are counted once
    again = cli("archive", "--keep-segments-days", "0", config_path=path)
    assert "archived 0 decision(s)" in again.stdout
    assert _decisions(path) == before


def _decisions(path) -> list[int]:
    """Each pool number's decisions, as `evidence` finds them."""
    from bench.synthetic_records import e164

    return [len(json.loads(cli("evidence", e164(i), "--json", config_path=path).stdout)[
        "decisions"]) for i in range(4)]


def test_stream_entries_the_archiver_cannot_read_are_said(tmp_path, redis_server):
    """From the stream they are acknowledged and never read again: the run said only
    "refused 1" among its figures, exit 0, no warning."""
    import redis

    data = tmp_path / "data"
    data.mkdir()
    path = config(tmp_path, data)
    path.write_text(path.read_text().replace('url = "redis://127.0.0.1:6379/0"',
                                             f'url = "{redis_server.url}"'))
    client = redis.Redis.from_url(redis_server.url)
    for index, line in enumerate(synthetic(6, days=1, pool=4)):
        record = orjson.loads(line)
        if index == 2:
            record["schema"] = 3
        client.xadd("callguard:compliance", {"r": orjson.dumps(record)})
    client.close()
    done = cli("archive", "--stream", config_path=path)
    assert done.returncode == 0, done.stderr
    assert "1 stream entr(y/ies) of callguard:compliance were not archived" in " ".join(
        done.stderr.split())
