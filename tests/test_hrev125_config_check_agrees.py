"""`config check` counts missing lists as `dnc status`, serve's ``lists_missing`` and
/readyz do (``cli.lists.missing_lists``, reviewer hrev125 of hadm25).

hadm25 made those three count the lists of the packs the gate can apply (every statute
pack, and the house policies a campaign opts into). `config check`, which serve's
``lists_missing`` line sends the operator to, still counted every enabled pack's: at a
site of the default "every pack found" with no campaign opting into a house policy, it
exited 2 ("what stops it") for attr-litigator and ut-state, lists no call reads, while
`dnc status` said nothing was missing and /readyz was ready.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _site(tmp_path: Path, *, opting: bool) -> Path:
    data = tmp_path / "data"
    data.mkdir(mode=0o750)
    house = 'house_policies = ["house-litigators"]\n' if opting else ""
    config = tmp_path / "site.toml"
    config.write_text(  # enabled_packs left out: every pack found, both house policies
        "[callguard]\n"
        f'data_dir = "{data}"\n'
        '[lists]\nnot_loaded = ["fl-state", "ok-state"]\n'
        '[[campaigns]]\nid = "lit"\nsolicitor = "Acme"\ncaller_id = "+18015550100"\n'
        + house)
    listing = tmp_path / "l.txt"
    listing.write_text("8015550199\n")
    done = _cli(config, "dnc", "import", str(listing), "--list", "national",
                "--published", "2026-11-02", "--covers", "all")
    assert done.returncode == 0, done.stderr
    return config


def _cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    environment = dict(os.environ)
    for name in ("COLUMNS", "LINES", "CALLGUARD_CONFIG", "CALLGUARD_DATA_DIR"):
        environment.pop(name, None)
    result = subprocess.run([sys.executable, "-m", "callguard", "--config", str(config),
                             *args], capture_output=True, text=True, env=environment,
                            cwd=ROOT, timeout=120, check=False)
    assert "Traceback" not in result.stderr, result.stderr
    return result


def test_a_list_only_an_unopted_house_policy_reads_stops_nothing(tmp_path: Path) -> None:
    config = _site(tmp_path, opting=False)
    status = json.loads(_cli(config, "dnc", "status", "--json").stdout)
    assert status["missing"] == []
    checked = _cli(config, "config", "check", "--json")
    got = json.loads(checked.stdout)
    assert got["problems"] == [], got["problems"]  # on hadm25: attr-litigator, ut-state
    assert checked.returncode == 0
    rows = {row["list"]: row for row in got["lists"]}
    assert rows["attr-litigator"]["unread"] is True
    assert rows["ut-state"]["unread"] is True
    said = " ".join(_cli(config, "config", "check").stdout.split())
    assert ("list attr-litigator not read: only house-litigators reads it, and no "
            "campaign opts into it") in said


def test_the_litigator_list_of_an_opting_campaign_is_still_a_problem(tmp_path: Path
                                                                      ) -> None:
    config = _site(tmp_path, opting=True)
    status = json.loads(_cli(config, "dnc", "status", "--json").stdout)
    assert [row["list"] for row in status["missing"]] == ["attr-litigator"]
    checked = _cli(config, "config", "check", "--json")
    assert checked.returncode == 2
    problems = json.loads(checked.stdout)["problems"]
    assert len(problems) == 1, problems
    assert problems[0].startswith("list 'attr-litigator' (read by a house policy)")
