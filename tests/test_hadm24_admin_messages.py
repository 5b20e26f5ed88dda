"""Two admin messages (hadm24).

- ``serve`` stopped by a configuration mistake (exit 2) now names ``callguard config
  check``, which says every problem and its fix; on main it said only the first problem.
- ``config check`` shows an optional attribute list only when a rule of a loaded pack
  reads it, by the policy's own answer (``policy.rules.exemptions.lists_read``, what the
  gate fetches), and says what a node does without it. ``attr-ported-wireline`` IS read
  with the shipped packs (us-federal's 64.1200(a)(2) rule: a fresh copy shows a wireless
  block's number ported to a landline as one, us-federal.tests.toml), so it stays; its
  line said "every number treated as possibly wireless", which is not what its absence
  does. Without us-federal nothing reads it and it is not shown (so on main too);
  ``attr-reassigned``, read by every pack whose rules a consent can lift, was not shown
  (on main ``config check`` asked only the rules' own lists).
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from callguard.cli import config_check
from callguard.config import load_settings
from callguard.policy.rules.exemptions import lists_read
from tests.conftest import ROOT
from tests.serve_node import ServeNode, write_lists

PORTED = "attr-ported-wireline"


def _serve(node: ServeNode, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "callguard", "--config", str(node.config),
                           "serve"], env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=60, check=False)


def _said(text: str) -> str:
    return " ".join(text.split())


def test_serve_on_a_configuration_mistake_names_config_check(tmp_path: Path) -> None:
    node = ServeNode(tmp_path / "node")
    node.config.write_text(node.config.read_text().replace(
        "[http]\n", "[http]\nbogus_key = 1\n", 1))
    run = _serve(node, node.env)
    assert run.returncode == 2, run.stderr[-2000:]
    said = _said(run.stderr)
    assert "bogus_key" in said
    assert f"callguard --config {node.config} config check" in said, said


def test_serve_without_a_secret_names_config_check_on_the_same_line(
        tmp_path: Path) -> None:
    node = ServeNode(tmp_path / "node")
    env = {k: v for k, v in node.env.items() if k != "CALLGUARD_HTTP_TOKEN"}
    run = _serve(node, env)
    assert run.returncode == 2, run.stderr[-2000:]
    line = next(line for line in run.stderr.splitlines() if "CALLGUARD_HTTP_TOKEN" in line)
    assert "config check" in line, run.stderr


def test_the_ported_wireline_line_says_what_its_absence_does(tmp_path: Path) -> None:
    node = ServeNode(tmp_path / "node")
    write_lists(node.data, [8015550199])
    run = node.cli("config", "check")
    line = next(line for line in run.stdout.splitlines() if PORTED in line)
    assert "no port to wireline is seen" in line, line
    assert "possibly wireless" not in line, line


def test_an_optional_list_is_shown_only_when_a_rule_reads_it(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    shipped = load_settings(data_dir=tmp_path / "data")
    today = datetime.now(UTC).date()

    def reads(settings: object) -> set[str]:  # the policy's answer, rule by rule
        packs = settings.packs  # type: ignore[attr-defined]
        return {n for p in settings.enabled_packs  # type: ignore[attr-defined]
                for r in (*packs[p].rules, *packs[p].rules_on(today)) for n in lists_read(r)}

    rows = {row["list"] for row in config_check.describe(shipped)[0]["lists"]}
    assert PORTED in reads(shipped)
    assert PORTED in rows
    kept = tuple(p for p in shipped.enabled_packs if p != "us-federal")
    without = replace(shipped, enabled_packs=kept,
                      packs={p: shipped.packs[p] for p in kept})
    rows = {row["list"] for row in config_check.describe(without)[0]["lists"]}
    assert PORTED not in reads(without)
    assert PORTED not in rows
    assert "attr-reassigned" in reads(without)
    assert "attr-reassigned" in rows
