"""What an admin reads when a command meets no Redis (operator examiner 17)."""

from __future__ import annotations

from tests.redis_server import free_port
from tests.serve_node import AT, ServeNode


def test_scrub_with_redis_records_down_says_what_to_check(tmp_path):
    """``scrub`` with [records] backend = "redis" and nothing listening: exit 3 and the same
    advice ``dnc import`` gives — check [redis] url and that the server runs, then again
    (before: only "record store (Redis) unreachable: Error 111 ...")."""
    node = ServeNode(tmp_path / "node", redis_url=f"redis://127.0.0.1:{free_port()}/0",
                     redis_records=True)
    leads = tmp_path / "leads.csv"
    leads.write_text("phone\n8015550111\n")
    result = node.cli("scrub", str(leads), "--campaign", "ut-solar-manual", "--at", AT,
                      "--output", str(tmp_path / "out.csv"))
    assert result.returncode == 3, result.stderr
    assert "record store (Redis) unreachable" in result.stderr
    assert "Check [redis] url (or CALLGUARD_REDIS_URL)" in result.stderr
    assert "run the command again" in result.stderr
