"""A wireless copy speaks only for the area codes it holds numbers in, read so by the gate.

hrev77: a wireless or ported-to-wireless version stored before hatt20 narrowed its imports
(a Utah file imported with ``--covers all``), or one ``dnc rollback`` goes back to, covered
every area code: a New York number read as a landline, so a predictive call to it needed
no written consent (47 CFR 64.1200(a)(2)). The read treats such an area code as not
covered (number of unknown kind: the rule fails closed). Other lists keep their coverage.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from callguard.numbers import NumberParser
from callguard.stores.attributes.lookup import list_check
from callguard.stores.embedded.lists import EmbeddedListRegistry, write_version
from callguard.stores.list_files import parse_list_file


@pytest.fixture
def registry(tmp_path):
    listing = tmp_path / "w.txt"
    listing.write_text("8015550100\n8015550101\n")
    for name in ("attr-wireless", "attr-ported-wireless", "national"):
        write_version(tmp_path, name, parse_list_file(listing),
                      published=datetime.now(UTC).date(), area_codes=None, source="w.txt")
    return EmbeddedListRegistry(tmp_path)


@pytest.mark.parametrize("name", ["attr-wireless", "attr-ported-wireless"])
def test_an_area_code_a_wireless_copy_holds_no_number_in_is_not_covered(registry, name):
    parser = NumberParser()
    new_york = list_check(name, registry.snapshot(name), parser.parse("2125550142"))
    assert new_york is not None
    assert not new_york.covered  # kind unknown, not a landline
    utah = list_check(name, registry.snapshot(name), parser.parse("8015550199"))
    assert utah is not None
    assert utah.covered  # a Utah landline
    assert not utah.listed
    listed = list_check(name, registry.snapshot(name), parser.parse("8015550100"))
    assert listed is not None
    assert listed.listed


def test_a_do_not_call_list_keeps_its_coverage(registry):
    check = list_check("national", registry.snapshot("national"),
                       NumberParser().parse("2125550142"))
    assert check is not None
    assert check.covered
    assert not check.listed
