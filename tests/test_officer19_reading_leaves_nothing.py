"""A command that only reads leaves no file behind (session 22).

``purge`` without ``--yes`` and ``purge --dry-run`` only count, yet made ``<log>.maint``
(the maintenance lock) in a data dir where no maintenance had ever run: on an archive
copied to counsel's machine, a preview changed the evidence directory.
"""

from __future__ import annotations

import pytest

from tests.log_files import cli, config


@pytest.mark.parametrize("flags", [(), ("--dry-run",), ("--dry-run", "--json")])
def test_a_purge_preview_makes_no_file(tmp_path, flags):
    data = tmp_path / "data"
    data.mkdir()
    path = config(tmp_path, data)
    made = cli("check", "8015550123", "--campaign", "ut-solar-manual", "--at",
               "2026-12-07T10:00:00-07:00", config_path=path)
    assert made.returncode in (0, 1), made.stderr
    before = sorted(p.name for p in data.iterdir())
    ran = cli("purge", *flags, config_path=path)
    assert ran.returncode == 0, ran.stderr  # nothing is past the cutoff
    assert sorted(p.name for p in data.iterdir()) == before
