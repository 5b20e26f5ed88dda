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


def test_scrub_of_a_file_without_header_never_prints_its_first_number(tmp_path):
    """A lead file without its header line: the first lead is the "header". Naming the
    column printed the header back — a phone number in clear on stderr (cron mail,
    journald) — and neither message said the header line was missing."""
    node = ServeNode(tmp_path / "node")
    leads = tmp_path / "leads.csv"
    leads.write_text("8015550111,84101\n8015550112,84102\n")
    for extra in ((), ("--number-column", "phone")):
        result = node.cli("scrub", str(leads), "--campaign", "ut-solar-manual", "--at", AT,
                          "--output", str(tmp_path / "out.csv"), *extra)
        assert result.returncode == 2, result.stderr
        assert "8015550111" not in result.stderr
        assert "5550111" not in result.stderr
        assert "has no header line" in result.stderr


def test_config_check_with_redis_lists_down_says_what_to_check(tmp_path):
    """[lists] backend = "redis" and nothing listening: the problem said only "cannot read
    them from Redis: Error 111 ..."; it names what to check and what serve would do."""
    node = ServeNode(tmp_path / "node", redis_url=f"redis://127.0.0.1:{free_port()}/0",
                     redis_lists=True)
    result = node.cli("config", "check")
    assert result.returncode == 2
    line = next(x for x in result.stderr.splitlines() if "lists: cannot read them" in x)
    assert "check that Redis runs at [redis] url" in line
    assert "BLOCK every call" in line


def test_config_check_warns_when_lists_are_shared_but_records_are_not(tmp_path,
                                                                       redis_server):
    """[lists] in Redis (several nodes) with [records] embedded: a do-not-call request taken
    on one node stays on that node's disk, and the others keep allowing calls to the number.
    config check says so (a warning: one node alone may run so); before: "ok"."""
    node = ServeNode(tmp_path / "node", redis_url=redis_server.url, redis_lists=True)
    result = node.cli("config", "check")
    assert "records — company do-not-call requests" in result.stderr
    assert 'Set [records] backend = "redis" on every node' in result.stderr
    shared = ServeNode(tmp_path / "shared", redis_url=redis_server.url, redis_lists=True,
                       redis_records=True)
    assert "are this node's alone" not in shared.cli("config", "check").stderr
