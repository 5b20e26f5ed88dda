"""`callguard report` with ``[log] redis_stream`` reads the stream after the archive's
position, as `evidence` and `explain` do (session 27, hfix24). Before, it read the
archive and this node's own file only: another node's calls no archiver had taken yet
were in no figure ("0 decisions" over node-b's minute, exit 0), found by hoff24 with two
`serve` nodes on one redis-server. Real redis-server, real records (`callguard check`
on each node), a real `archive --stream` holding part of them."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

from tests.log_files import cli, config

CAMPAIGN = "ut-solar-manual"


def _nodes(tmp_path, redis_server):
    """node-a and node-b on one stream; four decisions, the first two archived by
    node-a's `archive --stream`: {decision id: node}."""
    paths = {}
    for node in ("node-a", "node-b"):
        data = tmp_path / node
        data.mkdir()
        path = config(tmp_path, data, node=node)
        text = path.read_text().replace('url = "redis://127.0.0.1:6379/0"',
                                        f'url = "{redis_server.url}"')
        path.write_text(text.replace("redis_stream = false", "redis_stream = true"))
        paths[node] = path
    made = {}

    def check(node: str, number: str, at: str) -> None:
        done = cli("check", number, "--campaign", CAMPAIGN, "--at", at, "--json",
                   config_path=paths[node])
        assert done.stdout, done.stderr
        made[orjson.loads(done.stdout)["decision_id"]] = node

    check("node-a", "+18015550101", "2026-12-07T17:00:00Z")
    check("node-b", "+18015550102", "2026-12-07T17:10:00Z")
    archived = cli("archive", "--stream", "--json", config_path=paths["node-a"])
    assert archived.returncode == 0, archived.stderr
    before = datetime.now(UTC)
    check("node-b", "+18015550103", "2026-12-07T17:30:00Z")  # the stream alone holds it
    made["asked"] = f"{before.isoformat()} {datetime.now(UTC).isoformat()}"
    check("node-a", "+18015550104", "2026-12-07T17:40:00Z")  # node-a's file and the stream
    return paths, made


def _ids(paths, *args: str) -> list[str]:
    """The decision ids `evidence` lists over the same sources, to compare with."""
    done = cli("evidence", "--decision", *args, "--format", "json",
               config_path=paths["node-a"])
    assert done.returncode == 0, done.stderr
    return [d["decision_id"] for d in orjson.loads(done.stdout)["decisions"]]


def test_report_counts_every_nodes_decision_once(tmp_path, redis_server):
    paths, made = _nodes(tmp_path, redis_server)
    since, until = made.pop("asked").split()
    assert len(made) == 4
    # evidence finds node-b's unarchived decision (the stream after the archive's position)
    later_b = next(i for i, n in list(made.items())[2:] if n == "node-b")
    assert _ids(paths, later_b) == [later_b]
    done = cli("report", "--json", config_path=paths["node-a"])
    assert done.returncode == 0, done.stderr
    report = orjson.loads(done.stdout)
    # archive (1, 2) + node-a's file (1, 4) + the stream after the archive (3, 4): 4, once
    assert report["decisions"] == 4, report
    assert report["sources"]["archive_days"] == 1
    said = report["sources"]["unarchived"]
    assert "node-a" in said
    assert "redis stream callguard:compliance after " in said
    assert not report["sources"].get("not_read")
    # while node-b's question was asked (a `check --at` is dated by when it was asked),
    # not archived yet: its decision, not "0 decisions"
    minute = cli("report", "--since", since, "--until", until, "--json",
                 config_path=paths["node-a"])
    assert minute.returncode == 0, minute.stderr
    assert orjson.loads(minute.stdout)["decisions"] == 1
    text = cli("report", config_path=paths["node-a"])
    assert text.returncode == 0, text.stderr
    assert "redis stream callguard:compliance" in " ".join(text.stdout.split())


def test_report_with_the_stream_unreachable_is_incomplete(tmp_path, redis_server):
    paths, _ = _nodes(tmp_path, redis_server)
    redis_server.stop()
    done = cli("report", "--json", config_path=paths["node-a"])
    assert done.returncode == 1  # printed, and incomplete: never a silent partial report
    report = orjson.loads(done.stdout)
    assert any("could not be read" in note for note in report["sources"]["not_read"])
    assert "could not be read" in " ".join(done.stderr.split())
    assert report["decisions"] == 3  # the archive and node-a's file, said incomplete


def test_report_stream_still_reads_the_stream_alone(tmp_path, redis_server):
    paths, _ = _nodes(tmp_path, redis_server)
    done = cli("report", "--stream", "--json", config_path=paths["node-a"])
    assert done.returncode == 0, done.stderr
    report = orjson.loads(done.stdout)
    assert report["sources"]["unarchived"] == "the Redis stream of every node"
    assert report["sources"]["archive"] is None
