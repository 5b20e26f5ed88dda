"""`explain DECISION_ID` of a decision another node logged to the shared Redis stream and
no archiver has taken yet: found there, as `evidence --decision` finds it (session 27,
hoff24). Before, `explain` read only this node's file and the archive and answered "not
found" (exit 1) for every call of the other nodes until the next `archive --stream`."""

from __future__ import annotations

import orjson
import pytest

from tests.log_files import cli, config


def _nodes(tmp_path, redis_server, *, own_log: bool = True):
    """Two nodes logging to one stream; node-b decides one call (a real record), node-a
    one of its own first (its log exists) unless ``own_log`` is false (an officer's host
    whose configuration reads the stream and holds no log of its own)."""
    paths = []
    for node in ("node-a", "node-b"):
        data = tmp_path / node
        data.mkdir()
        path = config(tmp_path, data, node=node)
        text = path.read_text().replace('url = "redis://127.0.0.1:6379/0"',
                                        f'url = "{redis_server.url}"')
        path.write_text(text.replace("redis_stream = false", "redis_stream = true"))
        paths.append(path)
    if own_log:
        own = cli("check", "+18015550102", "--campaign", "ut-solar-manual",
                  "--at", "2026-12-07T17:00:00Z", "--json", config_path=paths[0])
        assert own.stdout, own.stderr
    checked = cli("check", "+18015550101", "--campaign", "ut-solar-manual",
                  "--at", "2026-12-07T17:30:00Z", "--json", config_path=paths[1])
    decision = orjson.loads(checked.stdout)["decision_id"]
    return paths[0], paths[1], decision


@pytest.mark.parametrize("own_log", [True, False], ids=["node-log", "stream-only"])
def test_explain_finds_another_nodes_unarchived_decision_in_the_stream(tmp_path,
                                                                       redis_server,
                                                                       own_log):
    node_a, _, decision = _nodes(tmp_path, redis_server, own_log=own_log)
    # evidence --decision finds it: the stream after the archive's position
    evidence = cli("evidence", "--decision", decision, "--format", "json",
                   config_path=node_a)
    assert evidence.returncode == 0, evidence.stderr
    assert orjson.loads(evidence.stdout)["decisions"][0]["node"] == "node-b"
    explained = cli("explain", decision, "--json", config_path=node_a)
    assert explained.returncode == 0, explained.stderr
    done = orjson.loads(explained.stdout)
    assert done["decision_id"] == decision
    assert done["node"] == "node-b"
    assert "redis stream callguard:compliance" in done["explained_from"]["record"]
    text = cli("explain", decision, config_path=node_a)
    assert text.returncode == 0, text.stderr
    assert "redis stream callguard:compliance" in " ".join(text.stdout.split())


def test_explain_says_the_stream_was_searched_when_not_found(tmp_path, redis_server):
    node_a, _, _ = _nodes(tmp_path, redis_server)
    missing = cli("explain", "01a24ed2-0000-7000-8000-000000000000", config_path=node_a)
    assert missing.returncode == 1
    assert "redis stream callguard:compliance" in " ".join(missing.stderr.split())


def test_explain_with_the_stream_unreachable_says_so(tmp_path, redis_server):
    node_a, _, decision = _nodes(tmp_path, redis_server)
    redis_server.stop()
    missing = cli("explain", decision, config_path=node_a)
    assert missing.returncode == 4  # not searched (1 before hoff26: "not found")
    said = " ".join(missing.stderr.split())
    assert "could not be read" in said
    assert "not found" in said
