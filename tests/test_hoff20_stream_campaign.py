"""`tail --stream` / `report --stream` of a retired campaign (no longer configured): one the
stream names before --since, or whose entries the archiver trimmed into an archive the
officer names, is answered, not refused as a typo (exit 2 "appears in no record read")."""

from __future__ import annotations

from datetime import datetime

import orjson
import redis

from tests.log_files import cli, config, synthetic

RETIRED = "old-promo"
KEY = "callguard:compliance"


def _node(tmp_path, redis_server):
    """A node logging to the stream, whose first records are of a campaign since retired."""
    data = tmp_path / "data"
    data.mkdir()
    path = config(tmp_path, data, extra="")
    text = path.read_text().replace('url = "redis://127.0.0.1:6379/0"',
                                    f'url = "{redis_server.url}"')
    path.write_text(text.replace("redis_stream = false", "redis_stream = true"))
    client = redis.Redis.from_url(redis_server.url)
    lines = synthetic(40, days=4, pool=8)
    seen: set[int] = set()
    for index, line in enumerate(lines):
        record = orjson.loads(line)
        if index < len(lines) // 3 and record.get("campaign"):
            record["campaign"] = RETIRED
        ms = int(datetime.fromisoformat(record["logged_at"]).timestamp() * 1000)
        while ms in seen:
            ms += 1
        seen.add(ms)
        client.xadd(KEY, {"r": orjson.dumps(record)}, id=f"{ms}-0")
    client.close()
    return path


def test_tail_stream_since_of_a_campaign_the_stream_names_before_it(tmp_path, redis_server):
    path = _node(tmp_path, redis_server)
    tailed = cli("tail", "--stream", "--campaign", RETIRED, "--since", "2026-01-08",
                 config_path=path)
    assert tailed.returncode == 0, tailed.stderr
    assert "no record matched" in tailed.stderr
    typo = cli("tail", "--stream", "--campaign", "old-prmo", "--since", "2026-01-08",
               config_path=path)
    assert typo.returncode == 2, typo.stderr


def test_report_stream_of_a_campaign_trimmed_into_the_named_archive(tmp_path, redis_server):
    path = _node(tmp_path, redis_server)
    shared = tmp_path / "shared-archive"
    done = cli("archive", "--stream", "--archive", str(shared), config_path=path)
    assert done.returncode == 0, done.stderr
    client = redis.Redis.from_url(redis_server.url)
    client.xtrim(KEY, minid=int(datetime.fromisoformat("2026-01-08T00:00:00+00:00")
                                 .timestamp() * 1000))
    client.close()
    reported = cli("report", "--stream", "--archive", str(shared), "--campaign", RETIRED,
                   "--json", config_path=path)
    assert reported.returncode == 0, reported.stderr
    assert "in the archive at" in reported.stderr
    assert "`report --stream` does not read" in " ".join(reported.stderr.split())
    refused = cli("report", "--stream", "--campaign", RETIRED, config_path=path)
    assert refused.returncode == 2
    assert "--archive DIR" in " ".join(refused.stderr.split())
