"""Hostile stores under a real `callguard serve` and a real redis-server (hhos15).

/readyz cut each failing check's detail at 200 characters (300 for probes). A Redis
record store that lost its data (killed and restarted empty, or flushed) says what to do
— restore the AOF, or remove the marker file, re-import, *then restart the node* — in
about 330 characters: the operator read the marker's path and "(refused unti", did the
first two steps, and had a node that went on BLOCKing every call with nothing on
/readyz saying a restart was the missing step. The detail now keeps 1,000 characters,
and one that is still cut ends in "…" so the reader knows it is not whole.
"""

from __future__ import annotations

import json
import time

import redis

from callguard.fronts.http.readiness import _DETAIL_MAX, _detail
from tests.serve_node import AT, ServeNode, write_lists


def test_a_cut_detail_says_it_is_cut() -> None:
    assert _detail("x" * _DETAIL_MAX) == "x" * _DETAIL_MAX
    cut = _detail("y" * (_DETAIL_MAX + 50))
    assert len(cut) == _DETAIL_MAX
    assert cut.endswith("\u2026")


def test_readyz_gives_the_whole_way_out_of_a_redis_that_lost_its_data(tmp_path,
                                                                       redis_server):
    node = ServeNode(tmp_path / "node", redis_url=redis_server.url, redis_records=True)
    write_lists(node.data, [8015550199])
    node.start()
    optout = {"number": "8015550142", "campaign": "ut-solar-manual"}
    check = {"number": "8015550142", "campaign": "ut-solar-manual", "at": AT}
    try:
        assert node.json("/v1/opt-out", optout)[0] == 200
        assert node.json("/v1/check", check)[1]["rule"] == "us-federal:64.1200(d)(3)"
        # Killed mid-traffic and restarted empty (no AOF): the running node notices.
        assert redis_server.process is not None
        redis_server.process.kill()
        redis_server.process.wait()
        for path in redis_server.data_dir.rglob("*"):
            if path.is_file():
                path.unlink()
        down = node.json("/v1/check", check)[1]
        assert (down["verdict"], down["rule"]) == ("BLOCK", "callguard:store-unavailable")
        redis_server.start()
        redis.Redis.from_url(redis_server.url).ping()
        deadline = time.monotonic() + 15
        while True:
            status, ready = node.json("/readyz", token=None)
            checks = {c["name"]: c for c in ready["checks"]}
            durability = checks.get("records_durability", {}).get("detail", "")
            if "lost its data" in durability or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert status == 503, ready
        for name in ("records", "records_durability"):
            detail = checks[name]["detail"]
            assert not checks[name]["ok"]
            assert "lost its data" in detail, (name, detail)
            assert "then restart the node" in detail, (name, detail)  # the last step
            assert not detail.endswith("\u2026"), (name, detail)
        decision = node.json("/v1/check", check)[1]  # and the opted-out number BLOCKs
        assert (decision["verdict"], decision["rule"]) == ("BLOCK",
                                                           "callguard:store-unavailable")
        assert node.json("/v1/opt-out", {**optout, "number": "8015550143"})[0] == 503
    finally:
        node.stop()
    assert "5550142" not in node.stderr()
    assert "5550143" not in node.stderr()
    assert json.dumps(ready).count("5550142") == 0
