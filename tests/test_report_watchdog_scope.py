"""`report`'s watchdog figures say which of the report's filters they do not follow."""

from __future__ import annotations

import json

from tests.test_cli import cli


def test_the_watchdog_section_says_verdict_rule_and_front_do_not_narrow_it(tmp_path):
    """Under `--verdict BLOCK` the header showed the filter and the watchdog's line
    releases beside it, as if blocked calls had been placed; its figures come from the
    calls' later records, which carry no verdict, rule or front."""
    assert cli("check", "8015550123", "--campaign", "ut-solar-manual", "--at",
               "2026-12-08T11:00:00-07:00", data_dir=tmp_path).returncode in (0, 1)
    plain = json.loads(cli("report", "--json", data_dir=tmp_path).stdout)
    assert plain["watchdog_scope"] is None
    narrowed = cli("report", "--json", "--verdict", "BLOCK", "--front", "cli",
                   data_dir=tmp_path)
    assert narrowed.returncode == 0, narrowed.stderr
    scope = json.loads(narrowed.stdout)["watchdog_scope"]
    assert scope == ("every call of the campaign: the watchdog's figures are not narrowed "
                     "by verdict BLOCK, front cli")
    page = tmp_path / "r.html"
    terminal = cli("report", "--verdict", "BLOCK", "--html", str(page), data_dir=tmp_path)
    assert terminal.returncode == 0, terminal.stderr
    # the bundled configuration does not enable the watchdog and the period holds none of
    # its records: one line, no table to scope (hsml27); the scope in the terminal's table
    # title with the watchdog on: tests/test_hsml27_report_watchdog_off.py
    assert "watchdog: not enabled in this configuration" in terminal.stdout
    assert "not narrowed by verdict BLOCK" in page.read_text()


def test_under_node_the_watchdog_says_the_abandonment_rate_is_every_nodes(tmp_path):
    """The abandonment query is the campaign's 30 days on every node (64.1200(a)(7)); under
    `--node` the title said no filter was left out (null), as if the rate were the node's."""
    assert cli("check", "8015550123", "--campaign", "ut-solar-manual", "--at",
               "2026-12-08T11:00:00-07:00", data_dir=tmp_path).returncode in (0, 1)
    node = json.loads((tmp_path / "compliance.jsonl").read_text().splitlines()[-1])["node"]
    result = cli("report", "--json", "--node", node, data_dir=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["watchdog_scope"] == (
        f"the 30-day abandonment rate is not narrowed by node {node}: it counts the "
        "campaign's calls on every node")
    rule = "us-federal:64.1200(c)(2)(i)(D)"  # the rule the record names (an unknown one: exit 2)
    both = json.loads(cli("report", "--json", "--node", node, "--rule", rule,
                          data_dir=tmp_path).stdout)["watchdog_scope"]
    assert both.startswith("every call of the campaign: the watchdog's figures are not "
                           f"narrowed by rule {rule}; the 30-day abandonment rate")
