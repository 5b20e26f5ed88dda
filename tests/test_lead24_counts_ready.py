"""/readyz says not ready while the embedded call-frequency counts refuse every count.

A counts file found lost at its opening (frequency.id, hsto21) or one that cannot be
opened at all (UnopenedFrequency, hrev86) BLOCKs every call a cap covers, but /readyz had
no check for the embedded counts (the Redis counts have one): a load balancer kept sending
this node calls it would BLOCK. Now `frequency_counts` is not ready, with the reason, and
asking it also schedules the next opening (a node no calls reach would never retry)."""

from __future__ import annotations

import json

from tests.serve_node import ServeNode, write_lists


def _check(body: str, name: str) -> dict:
    return next(c for c in json.loads(body)["checks"] if c["name"] == name)


def test_readyz_is_not_ready_while_the_counts_cannot_be_opened(tmp_path) -> None:
    node = ServeNode(tmp_path)
    write_lists(node.data, [])
    (node.data / "frequency.sqlite3").write_bytes(b"not a database\n" * 200)
    node.start()
    try:
        status, body = node.http("/readyz", token=None)
    finally:
        node.stop()
    assert status == 503, body
    counts = _check(body, "frequency_counts")
    assert counts["ok"] is False, counts
    assert "could not be opened" in counts["detail"], counts


def test_readyz_counts_ready_on_a_fresh_data_dir(tmp_path) -> None:
    node = ServeNode(tmp_path)
    write_lists(node.data, [])
    node.start()
    try:
        status, body = node.http("/readyz", token=None)
    finally:
        node.stop()
    counts = _check(body, "frequency_counts")
    assert counts["ok"] is True, (status, counts)
