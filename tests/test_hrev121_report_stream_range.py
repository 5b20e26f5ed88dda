"""`callguard report --since` with ``[log] redis_stream`` keeps from the stream only the
records the range needs, as it does from this node's file (hrev121, reviewing hfix24):
every stream entry after the archive's position was held as a row in memory whatever
the range, ~770 MB for 100,000 entries all dated before --since (measured with
/usr/bin/time on `report --since`), ~7 GB for the 1,000,000 of ``stream_maxlen``. Real
redis-server and a real `check`; old entries are copies of its real decision record
with new decision ids, dated 2000. The rows given to DuckDB are counted by wrapping the
real ``register_live`` (it still runs)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import orjson
import redis
from click.testing import CliRunner

from callguard.cli.main import cli as main_cli
from callguard.compliance.archive import live
from tests.log_files import KEY_HEX, cli, config

STREAM = "callguard:compliance"


def test_report_since_keeps_no_stream_entry_before_the_range(tmp_path, redis_server,
                                                             monkeypatch):
    data = tmp_path / "node-a"
    data.mkdir()
    path = config(tmp_path, data)
    text = path.read_text().replace('url = "redis://127.0.0.1:6379/0"',
                                    f'url = "{redis_server.url}"')
    path.write_text(text.replace("redis_stream = false", "redis_stream = true"))
    done = cli("check", "+18015550101", "--campaign", "ut-solar-manual", "--at",
               "2026-12-07T17:00:00Z", "--json", config_path=path)
    assert done.stdout, done.stderr  # exit 1: the verdict is BLOCK
    client = redis.Redis.from_url(redis_server.url)
    (line,) = [f[b"r"] for _, f in client.xrange(STREAM) if b'"decision"' in f[b"r"]]
    record = orjson.loads(line)
    for _ in range(50):  # another node's decisions of 2000, not archived
        record.update(decision_id=str(uuid.uuid4()), logged_at="2000-01-03T00:00:00Z",
                      at="2000-01-03T00:00:00Z")
        client.xadd(STREAM, {"r": orjson.dumps(record)})
    client.close()

    registered: list[int] = []
    real = live.register_live

    def counting(connection, records):
        rows = list(records)
        registered.append(len(rows))
        return real(connection, rows)

    monkeypatch.setattr(live, "register_live", counting)
    monkeypatch.setenv("CALLGUARD_LOG_KEY", KEY_HEX)
    monkeypatch.delenv("CALLGUARD_DATA_DIR", raising=False)
    since = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    result = CliRunner().invoke(main_cli, ["--config", str(path), "report", "--since",
                                           since, "--json"])
    assert result.exit_code == 0, result.output
    assert orjson.loads(result.stdout)["decisions"] == 1
    # the decision and its packs-loaded record (file and stream): none of the 50 of 2000
    assert registered, "no rows registered"
    assert max(registered) <= 4, registered
    whole = CliRunner().invoke(main_cli, ["--config", str(path), "report", "--json"])
    assert whole.exit_code == 0, whole.output
    assert orjson.loads(whole.stdout)["decisions"] == 51  # unranged: every one, once
