"""A retired campaign asked about years later, when its records are only in the archive
(session 23). `report --campaign ut-roofing-manual` of a range after its last call was
refused as a typo ("is not configured and appears in no record read"), exit 2: the
campaign was no longer configured and the unarchived log no longer named it."""

from __future__ import annotations

import json

import pytest

from bench.synthetic_records import Factory
from tests.log_files import cli, config, write_log

RETIRED = "ut-roofing-manual"  # in the synthetic records, not in the shipped configuration


@pytest.fixture(scope="module")
def archived(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("retired")
    data = tmp_path / "data"
    lines = list(Factory(400, days=8, pool=60).lines())
    assert any(f'"campaign":"{RETIRED}"'.encode() in line for line in lines)
    write_log(data / "compliance.jsonl", lines, closed=[(len(lines) - 1, True)])
    path = config(tmp_path, data)
    done = cli("archive", "--compact-all", "--keep-segments-days", "-1", config_path=path)
    assert done.returncode == 0, done.stderr
    assert RETIRED.encode() not in (data / "compliance.jsonl").read_bytes()
    return path


def test_report_of_a_retired_campaign_answers_from_the_archive(archived):
    whole = cli("report", "--json", "--campaign", RETIRED, config_path=archived)
    assert whole.returncode == 0, whole.stderr
    assert json.loads(whole.stdout)["decisions"] > 0
    later = cli("report", "--json", "--campaign", RETIRED, "--since", "2026-01-20",
                config_path=archived)
    assert later.returncode == 0, later.stderr
    assert json.loads(later.stdout)["decisions"] == 0


def test_tail_of_a_retired_campaign_says_where_its_records_are(archived):
    tailed = cli("tail", "--campaign", RETIRED, "--since", "2026-01-20", config_path=archived)
    assert tailed.returncode == 0, tailed.stderr
    assert "in the archive" in tailed.stderr


def test_a_campaign_no_record_names_is_still_refused(archived):
    for command in ("report", "tail"):
        said = cli(command, "--campaign", "ut-roofing-manaul", config_path=archived)
        assert said.returncode == 2, said.stderr
        assert "is not configured and appears in no record read" in said.stderr
