"""`explain` with Redis unreachable does not name the stream as a place it searched
(session 27, hrev118). It said "not found: no decision ID in ... or the redis stream
callguard:compliance", then that the stream could not be read: the first line read as a
search that came back empty, on a host with no log of its own the only place named."""

from __future__ import annotations

import pytest

from tests.log_files import cli
from tests.test_hoff24_explain_stream import _nodes


@pytest.mark.parametrize("own_log", [True, False], ids=["node-log", "stream-only"])
def test_explain_does_not_say_it_searched_a_stream_it_could_not_read(tmp_path,
                                                                     redis_server, own_log):
    node_a, _, decision = _nodes(tmp_path, redis_server, own_log=own_log)
    redis_server.stop()
    missing = cli("explain", decision, config_path=node_a)
    assert missing.returncode == 4  # not searched (1 before hoff26: "not found")
    said = " ".join(missing.stderr.split())
    found_line = said[said.index("not found:"):said.index("note:")]
    assert "redis stream" not in found_line, said
    assert "could not be read" in said, said
    assert "not searched" in said, said
    if not own_log:
        assert "nothing could be read" in found_line, said
