"""The compliance log's file system fills under a running node, then is freed again.

A real `callguard serve` whose log lives on a 64 KiB tmpfs mounted in a private mount
namespace (``unshare -rm``: no root needed; skipped where no tmpfs can be mounted). A
helper inside the namespace fills the tmpfs and empties it when the test says so.
While full, every call is BLOCKed (callguard:internal-error) and every ALLOW that was
answered is in the file; once freed, the node ALLOWs again without a restart. And while
it cannot write a record, /readyz must not say the node is ready: a load balancer or
dialer that routes on it would send every call to a node that can only refuse them.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.serve_node import AT, ServeNode, write_lists

UNSHARE = shutil.which("unshare")
pytestmark = pytest.mark.skipif(UNSHARE is None, reason="unshare not installed")

INTERNAL = "callguard:internal-error"


@dataclass
class FullDisk:
    """The node and the triggers of the helper that fills and frees its log's tmpfs."""

    node: ServeNode
    log_file: Path
    triggers: Path

    def fill(self) -> None:
        (self.triggers / "fill").touch()
        self._wait("filled")

    def free(self) -> None:
        (self.triggers / "free").touch()
        self._wait("freed")

    def _wait(self, name: str) -> None:
        self.node.until((self.triggers / name).exists, timeout=10, what=name)

    def check(self, number: str = "8015550123") -> dict[str, Any]:
        # at AT (a weekday 11:00 in Denver): decided at the node's clock, a check made after
        # 8 p.m. in Utah was BLOCKed by the calling hours, and "blocked" then proved no
        # full disk (the CI of a stop at 04:30 UTC failed here)
        status, body = self.node.json("/v1/check", {"number": number,
                                                     "campaign": "ut-solar-manual", "at": AT})
        assert status == 200, body
        return dict(body)

    def ready(self) -> tuple[int, dict[str, Any]]:
        status, body = self.node.http("/readyz", token=None)
        return status, json.loads(body)

    def recorded(self) -> dict[str, str]:
        """decision id -> verdict, of every decision record in the log file (copied out of
        the namespace, where alone the tmpfs is mounted)."""
        (self.triggers / "copy").touch()
        self._wait("copied")
        found = {}
        for line in (self.triggers / "copy.jsonl").read_bytes().splitlines():
            record = json.loads(line)
            if "decision_id" in record:
                found[record["decision_id"]] = record["verdict"]
        return found


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[FullDisk]:
    probe = subprocess.run([UNSHARE or "unshare", "-rm", "sh", "-c",
                            f"mount -t tmpfs -o size=64k tmpfs {tmp_path}"],
                           capture_output=True, check=False)
    if probe.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {probe.stderr.decode().strip()}")
    node = ServeNode(tmp_path / "node")
    write_lists(node.data, [8015550199])
    full = tmp_path / "full"
    full.mkdir()
    triggers = tmp_path / "triggers"
    triggers.mkdir()
    log_file = full / "compliance.jsonl"
    text = node.config.read_text()
    assert '\nfile = ""' in text
    node.config.write_text(text.replace('\nfile = ""', f'\nfile = "{log_file}"', 1))
    wait = "i=0; while [ ! -e {t}/{name} ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done"
    script = (
        f"mount -t tmpfs -o size=64k tmpfs {full} || exit 97\n"
        f"( {wait.format(t=triggers, name='fill')}; "
        f"head -c 1048576 /dev/zero > {full}/filler 2>/dev/null; touch {triggers}/filled; "
        f"{wait.format(t=triggers, name='free')}; rm -f {full}/filler; "
        f"touch {triggers}/freed; {wait.format(t=triggers, name='copy')}; "
        f"cp {log_file} {triggers}/copy.jsonl; touch {triggers}/copied ) &\n"
        f"exec {sys.executable} -m callguard --config {node.config} serve "
        f"--reload-seconds 5\n")
    stderr = node.stderr_path.open("ab")
    node.process = subprocess.Popen([UNSHARE or "unshare", "-rm", "sh", "-c", script],
                                    cwd=ROOT, env=node.env, stdout=subprocess.DEVNULL,
                                    stderr=stderr)
    stderr.close()
    try:
        node.wait_healthy()
        yield FullDisk(node, log_file, triggers)
    finally:
        for name in ("fill", "free", "copy"):
            (triggers / name).touch()
        node.stop()


def _until_blocked(disk: FullDisk) -> list[dict[str, Any]]:
    """Checks until one is BLOCKed for its record (the last page of the file may still have
    room for a few)."""
    answers = []
    for _ in range(200):
        answers.append(disk.check())
        if answers[-1]["verdict"] == "BLOCK":
            return answers
    raise AssertionError("never BLOCKed on a full file system")


def test_full_log_blocks_keeps_what_it_answered_and_recovers_when_freed(
        full_disk: FullDisk) -> None:
    assert full_disk.check()["verdict"] == "ALLOW"
    full_disk.fill()
    answers = _until_blocked(full_disk)
    assert answers[-1]["rule"] == INTERNAL
    assert all(a["verdict"] == "BLOCK" for a in (full_disk.check() for _ in range(3)))
    assert full_disk.node.alive()
    full_disk.free()
    after = full_disk.check()
    assert after["verdict"] == "ALLOW", after
    recorded = full_disk.recorded()
    for answer in [*answers, after]:  # nothing answered ALLOW that is not in the file
        if answer["verdict"] == "ALLOW":
            assert recorded.get(answer["decision_id"]) == "ALLOW"
    assert "8015550123" not in full_disk.node.stderr()


def test_readyz_says_not_ready_while_no_record_can_be_written(full_disk: FullDisk) -> None:
    assert full_disk.ready()[0] == 200
    full_disk.fill()
    _until_blocked(full_disk)
    status, body = full_disk.ready()
    failing = [c["name"] for c in body["checks"] if not c["ok"]]
    assert status == 503, body
    assert failing, body
    full_disk.free()
    # ready again before any call: a load balancer sends none to a node it thinks down,
    # so no record could show the log came back
    assert full_disk.ready()[0] == 200
    assert full_disk.check()["verdict"] == "ALLOW"
    assert full_disk.ready()[0] == 200


def test_opt_out_on_a_full_log_says_it_is_in_force_and_a_resend_records_it(
        full_disk: FullDisk) -> None:
    """The store takes the opt-out first, then the log its record (Gate.write): on a full
    log the number is already on the do-not-call list. The answer said "not recorded"
    (500), which is false — the next call to it is BLOCKed — and undocumented. It is a 503
    that says the opt-out is in force and asks for it again; sent again once the log is
    writable, it is answered 200 and the log holds its record."""
    node = full_disk.node
    full_disk.fill()
    _until_blocked(full_disk)
    for last in range(151, 200):  # the file's last page may still hold a record or two
        body = {"number": f"8015550{last}", "campaign": "ut-solar-manual"}
        status, answer = node.json("/v1/opt-out", body)
        if status != 200:
            break
    assert status == 503, answer
    assert "not recorded" not in answer["error"]
    assert "in force" in answer["error"]
    assert "again" in answer["error"]
    assert full_disk.check(body["number"])["rule"] == "us-federal:64.1200(d)(3)"  # in force
    full_disk.free()
    assert node.json("/v1/opt-out", body) == (200, {
        "recorded": True, "number_last4": f"0{last}", "solicitor": "beehive-solar",
        "telemarketer": None, "reason": f"…0{last} added to the seller's do-not-call list "
        "(47 CFR 64.1200(d)(3))"})
    (full_disk.triggers / "copy").touch()
    full_disk._wait("copied")
    lines = (full_disk.triggers / "copy.jsonl").read_bytes().splitlines()
    changes = [json.loads(line) for line in lines if b'"event":"record"' in line]
    assert changes[-1]["number_last4"] == f"0{last}"
    assert body["number"] not in node.stderr()
