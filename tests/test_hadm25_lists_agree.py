"""`dnc status`, serve's ``lists_missing``, /readyz and the gate agree on which lists are
missing (hadm25).

`dnc status` left every attr-* name out of its missing lists: with house-litigators
enabled and a campaign opting into it, attr-litigator not imported, status said nothing
while the gate BLOCKed every call of that campaign and serve and /readyz named the list.
The reverse: house-litigators enabled (the default "every pack found" does) but no
campaign opting in, serve warned and /readyz stayed not ready for a list the gate never
reads. One answer now (``cli.lists.missing_lists`` over ``runtime.gate_packs``).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

from callguard.cli.serve import _missing_lists
from callguard.config import load_settings
from callguard.runtime import open_runtime

ROOT = Path(__file__).resolve().parent.parent
PUBLISHED = "2026-11-02"
AT = "2026-11-04T18:00:00Z"  # a Wednesday, 11:00 in Utah: in calling hours


def _site(tmp_path: Path, *, opting: bool) -> Path:
    data = tmp_path / "data"
    data.mkdir(mode=0o750)
    house = 'house_policies = ["house-litigators"]\n' if opting else ""
    config = tmp_path / "site.toml"
    config.write_text(
        "[callguard]\n"
        f'data_dir = "{data}"\n'
        'enabled_packs = ["house-litigators", "us-federal", "us-fl", "us-md", "us-ok", '
        '"us-ut", "us-ut-hb45-2000"]\n'
        '[lists]\nnot_loaded = ["fl-state", "ok-state"]\n'
        '[[campaigns]]\nid = "lit"\nsolicitor = "Acme"\ncaller_id = "+18015550100"\n'
        + house)
    listing = tmp_path / "l.txt"
    listing.write_text("8015550199\n")
    for name in ("national", "ut-state"):
        done = _cli(config, "dnc", "import", str(listing), "--list", name,
                    "--published", PUBLISHED, "--covers", "all")
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


def _node(config: Path) -> tuple[list[str], dict[str, bool]]:
    """Serve's ``lists_missing`` and /readyz's list checks, from the node's runtime."""
    runtime = open_runtime(load_settings(config))

    async def ask() -> dict[str, bool]:
        try:
            return {c.name: c.ok for c in await runtime.readiness().run()
                    if c.name.startswith("list:")}
        finally:
            await runtime.aclose()

    missing = _missing_lists(runtime)
    return missing, asyncio.run(ask())


def test_status_names_the_litigator_list_a_campaign_is_blocked_for(tmp_path: Path) -> None:
    config = _site(tmp_path, opting=True)
    blocked = _cli(config, "check", "8015550123", "--campaign", "lit", "--at", AT, "--json")
    assert blocked.returncode == 1, blocked.stdout + blocked.stderr
    assert "'attr-litigator' is not loaded" in json.loads(blocked.stdout)["reason"]
    status = json.loads(_cli(config, "dnc", "status", "--json").stdout)
    assert status["missing"] == [{"list": "attr-litigator", "read_by": ["house-litigators"]}]
    said = " ".join(_cli(config, "dnc", "status").stdout.split())
    assert "attr-litigator: no version (read by house-litigators)" in said
    assert "attributes import FILE --kind litigator" in said  # dnc import refuses attr-*
    missing, lists = _node(config)
    assert missing == ["attr-litigator"]
    assert lists["list:attr-litigator"] is False


def test_a_house_policy_no_campaign_opts_into_is_not_missing(tmp_path: Path) -> None:
    config = _site(tmp_path, opting=False)
    allowed = _cli(config, "check", "8015550123", "--campaign", "lit", "--at", AT, "--json")
    assert "attr-litigator" not in allowed.stdout  # the gate never reads it
    status = json.loads(_cli(config, "dnc", "status", "--json").stdout)
    assert status["missing"] == []
    missing, lists = _node(config)
    assert missing == []
    assert "list:attr-litigator" not in lists  # /readyz not held back by it
    assert "list:national" in lists  # (its age on the machine's clock is not this test's)
