"""`attributes status` names a wireless copy covering area codes it holds no number in (hrev77).

hatt20 cut a new wireless or ported-to-wireless import to its numbers' area codes, but a
version published before (a Utah file imported with ``--covers all``), or one ``dnc
rollback`` goes back to, still covers every area code: the gate reads a New York number as
a landline and a predictive call to it needs no written consent (47 CFR 64.1200(a)(2)).
Nothing said so; ``status`` now does. Real files, the embedded store, the CLI.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from callguard.stores.embedded.lists import write_version
from callguard.stores.list_files import parse_list_file
from tests.test_cli import ALLOW, cli


def _legacy(root, area_codes):
    """A wireless version as callguard stored it before hatt20: the coverage as given."""
    root.mkdir()
    listing = root / "w.txt"
    listing.write_text("8015550100\n8015550101\n")
    write_version(root, "attr-wireless", parse_list_file(listing),
                  published=datetime.now(UTC).date(), area_codes=area_codes, source="w.txt")
    return root


def _status(root):
    result = cli("attributes", "status", data_dir=root)
    assert result.returncode == ALLOW, result.stderr
    rows = json.loads(cli("attributes", "status", "--json", data_dir=root).stdout)
    return " ".join(result.stdout.split()), {r["kind"]: r for r in rows["attributes"]}


def test_a_wireless_version_covering_all_area_codes_is_named(tmp_path):
    said, rows = _status(_legacy(tmp_path / "all", None))
    assert rows["wireless"]["covered_without_numbers"] == "all"
    assert "attr-wireless v1 covers area codes its file holds no number in" in said
    assert "import the file again" in said


def test_the_empty_area_codes_of_a_listed_coverage_are_named(tmp_path):
    said, rows = _status(_legacy(tmp_path / "listed", frozenset({801, 212, 646})))
    assert rows["wireless"]["covered_without_numbers"] == [212, 646]
    assert "(212, 646)" in said


def test_a_version_cut_to_its_numbers_says_nothing(tmp_path):
    root = tmp_path / "cut"
    root.mkdir()
    (root / "w.txt").write_text("8015550100\n")
    cli("attributes", "import", str(root / "w.txt"), "--kind", "wireless", "--published",
        datetime.now(UTC).date().isoformat(), "--covers", "all", data_dir=root, check=True)
    said, rows = _status(root)
    assert rows["wireless"]["covered_without_numbers"] == []
    assert "holds no number in" not in said
    assert "covered_without_numbers" not in rows["litigator"]


def _import(root, lines, covers, kind="wireless"):
    (root / "w.txt").write_text("".join(f"{n}\n" for n in lines))
    result = cli("attributes", "import", str(root / "w.txt"), "--kind", kind, "--published",
                 datetime.now(UTC).date().isoformat(), "--covers", covers, "--max-shrink", "1",
                 data_dir=root)
    assert result.returncode == ALLOW, result.stderr
    return " ".join(result.stderr.split())


def test_a_reimport_names_the_area_codes_the_current_copy_covered_and_it_does_not(tmp_path):
    """A national file with no number in 212 this time: every 212 number turns from a
    landline into one of unknown kind (its predictive calls BLOCKed without written
    consent); the import names 212 before the dialer finds out."""
    root = tmp_path / "site"
    root.mkdir()
    for kind in ("wireless", "ported-wireless"):
        first = _import(root, ["8015550100", "2125550100"], "all", kind)
        assert "no longer covered" not in first
        again = _import(root, ["8015550101", "2125550101"], "all", kind)
        assert "no longer covered" not in again
        cut = _import(root, ["8015550102"], "all", kind)
        assert f"no longer covered (covered by attr-{kind} v2): 212:" in cut, cut
        assert "written consent" in cut


def test_the_covers_help_says_a_wireless_copy_is_cut(tmp_path):
    said = " ".join(cli("attributes", "import", "--help", data_dir=tmp_path).stdout.split())
    assert "speaks only for those its file holds numbers in" in said
