"""The readers of the stream meet a ``stream-gap`` entry (hoff32: a node's sender puts it
where records of its log will not come): it is not a decision, so no report counts it as
a call, and neither `report` on a stream host nor `archive --stream` chokes on it (hrev160
review). Real redis-server, real records (`callguard check`), the entry as the sender
makes it (``Gap.entry``)."""

from __future__ import annotations

import orjson
import redis

from callguard.compliance.stream_cursor import Gap
from tests.log_files import cli
from tests.test_harc33_node_gaps import _node

KEY = "callguard:compliance"


def test_a_stream_gap_entry_is_no_call_in_report_nor_archive(tmp_path, redis_server):
    path, _, decided = _node(tmp_path, redis_server)
    gap = Gap("compliance.jsonl.20261207T150000000000Z", 4096, 4096 + (3 << 19), "oversize",
              decided)
    client = redis.Redis.from_url(redis_server.url)
    try:
        client.xadd(KEY, {"r": gap.entry("node-b")})
        client.xadd(KEY, {"r": Gap("compliance.jsonl", 80, reason="gone").entry("node-b")})
    finally:
        client.close()
    for args in (("--stream",), ()):
        report = cli("report", *args, "--json", config_path=path)
        assert report.returncode == 0, report.stderr
        assert orjson.loads(report.stdout)["decisions"] == 1, report.stdout
    archived = cli("archive", "--stream", "--json", config_path=path)
    assert archived.returncode == 0, archived.stderr
    after = cli("report", "--json", config_path=path)
    # archived, the two node losses are the archive's gaps (harc33): the report is
    # INCOMPLETE (exit 1) and names them; they are still no call
    assert after.returncode == 1, after.stderr
    assert orjson.loads(after.stdout)["decisions"] == 1, after.stdout
    not_read = orjson.loads(after.stdout)["sources"]["not_read"]
    assert [n.startswith("node node-b could not send") for n in not_read] == [True, True]
    tail = cli("tail", "--stream", "--json", config_path=path)
    assert tail.returncode == 0, tail.stderr
    assert "stream-gap" in tail.stdout
