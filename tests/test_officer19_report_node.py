"""`report --node NAME` for a node no record names is an error, not a report of zeros.

A mistyped node (``dialer-1`` for ``dialer-01``) answered "0 decisions", exit 0, with a note
on standard error: the --json or --csv an officer files said the node made no call. A node
whose records are archived, quiet in the range, still answers its zeros.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from callguard.compliance.segments import stamp_name
from tests.log_files import cli, config

NUMBER = "8015550123"


def test_an_unknown_node_is_refused_and_an_archived_one_answers(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    path = config(tmp_path, data, node="dialer-01")
    made = cli("check", NUMBER, "--campaign", "ut-solar-manual", "--at",
               "2026-12-07T10:00:00-07:00", config_path=path)
    assert made.returncode in (0, 1), made.stderr
    typo = cli("report", "--node", "dialer-1", "--json", config_path=path)
    assert typo.returncode == 2, typo.stdout
    assert "dialer-1" in typo.stderr
    assert "dialer-01" in typo.stderr  # the names the records carry, to choose from
    assert typo.stdout == ""
    said = json.loads(cli("report", "--node", "dialer-01", "--json", config_path=path).stdout)
    assert said["questions"] == 1
    # archived and gone from the log: the node is still known (the archive names it)
    log = data / "compliance.jsonl"
    log.rename(stamp_name(log, datetime.now(UTC)))
    assert cli("archive", "--compact-all", config_path=path).returncode == 0
    quiet = cli("report", "--node", "dialer-01", "--since", "2020-01-01", "--until",
                "2020-01-02", "--json", config_path=path)
    assert quiet.returncode == 0, quiet.stderr
    assert json.loads(quiet.stdout)["decisions"] == 0
    assert cli("report", "--node", "dialer-1", config_path=path).returncode == 2


def test_an_unknown_rule_is_refused_and_an_old_pack_s_rule_answers(tmp_path):
    """`report --rule` of an id no configured pack has and no record names: exit 2. An id
    only the records name (a pack version since changed) still answers."""
    data = tmp_path / "data"
    data.mkdir()
    path = config(tmp_path, data)
    made = cli("check", NUMBER, "--campaign", "ut-solar-manual", "--at",
               "2026-12-07T10:00:00-07:00", config_path=path)
    assert made.returncode in (0, 1), made.stderr
    typo = cli("report", "--rule", "us-federal:64.1200(c)(9)", "--json", config_path=path)
    assert typo.returncode == 2, typo.stdout
    assert typo.stdout == ""
    assert "no rule of the configured packs and no record names it" in " ".join(
        typo.stderr.split())
    log = data / "compliance.jsonl"
    log.write_bytes(log.read_bytes().replace(b'"rule":"us-federal:64.1200(c)(2)(i)(D)"',
                                             b'"rule":"us-federal:64.1200(c)(2)-old"'))
    old = cli("report", "--rule", "us-federal:64.1200(c)(2)-old", "--since", "2020-01-01",
              "--until", "2020-01-02", "--json", config_path=path)
    assert old.returncode == 0, old.stderr
    assert json.loads(old.stdout)["decisions"] == 0
