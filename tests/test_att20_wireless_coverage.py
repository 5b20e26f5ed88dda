"""A wireless copy speaks only for the area codes its file holds numbers in (hatt20).

A Utah wireless file imported with ``--covers all`` made every other area code "covered,
not wireless": a New York number was a landline and a predictive call to it was ALLOWed
without written consent (47 CFR 64.1200(a)(2)). Real files, the CLI, ``callguard check``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from tests.test_cli import ALLOW, cli

AT = "2026-12-09T11:00:00-05:00"  # a Wednesday, 11:00 in New York


def _site(root, covers: str):
    root.mkdir()
    today = datetime.now(UTC).date().isoformat()
    (root / "dnc.txt").write_text("8015550999\n")
    for name in ("national", "ut-state"):
        cli("dnc", "import", str(root / "dnc.txt"), "--list", name, "--published", today,
            "--covers", "all", data_dir=root, check=True)
    (root / "w.txt").write_text("8015550100\n8015550101\n")
    said = []
    for kind in ("wireless", "ported-wireless"):
        result = cli("attributes", "import", str(root / "w.txt"), "--kind", kind,
                     "--published", today, "--covers", covers, data_dir=root)
        assert result.returncode == ALLOW, result.stderr
        said.append(" ".join(result.stderr.split()))
    return said


def _check(root, number):
    result = cli("check", number, "--campaign", "ut-solar-predictive", "--at", AT, "--json",
                 data_dir=root)
    decision = json.loads(result.stdout)
    (outcome,) = [o for o in decision["outcomes"] if o["rule"] == "us-federal:64.1200(a)(2)"]
    return decision["verdict"], outcome


@pytest.mark.parametrize("covers", ["all", "801,212"])
def test_an_area_code_the_wireless_file_holds_no_number_in_is_of_unknown_kind(tmp_path, covers):
    root = tmp_path / "site"
    said = _site(root, covers)
    assert all("landline" in line and "attr-" in line for line in said), said
    verdict, outcome = _check(root, "2125550123")
    assert verdict == "BLOCK"
    assert outcome["status"] == "block"
    assert "does not cover the area code" in outcome["reason"]
    # the area code the file speaks for is read as before
    verdict, outcome = _check(root, "8015550123")
    assert outcome["status"] == "exempt", outcome
    status = json.loads(cli("attributes", "status", "--json", data_dir=root).stdout)
    rows = {row["kind"]: row for row in status["attributes"]}
    assert rows["wireless"]["area_codes"] == [801]
    assert rows["ported-wireless"]["area_codes"] == [801]


def test_a_litigator_list_keeps_the_coverage_it_is_given(tmp_path):
    """Litigators are few: a list with none in an area code still speaks for it."""
    today = datetime.now(UTC).date().isoformat()
    (tmp_path / "l.txt").write_text("8015550100\n")
    result = cli("attributes", "import", str(tmp_path / "l.txt"), "--kind", "litigator",
                 "--published", today, "--covers", "all", data_dir=tmp_path)
    assert result.returncode == ALLOW, result.stderr
    assert "covering all area codes" in " ".join(result.stderr.split())
