"""Review 39: the report's page marks a house-policy rule in its chart too (hoff16).

The page's table of blocked calls by rule said "us-ut-hb45-2000:13-26a-106(1)(f) (house
policy, not enacted law)", but the bar chart above it — the first thing a regulator reads —
named the bare id, which reads as a Utah Code section (H.B. 45 (2000) is a bill as
introduced)."""

from __future__ import annotations

import json
import re

from tests.log_files import cli, config, house_policy_block

NUMBER = "8015550123"


def test_the_chart_marks_a_house_policy_rule(tmp_path):
    path = house_policy_block(tmp_path, NUMBER)
    page = tmp_path / "report.html"
    assert cli("report", "--html", str(page), config_path=path).returncode == 0
    text = page.read_text()
    chart = text[text.index("Blocked calls by deciding rule"):]
    chart = chart[:chart.index("</svg>")]
    labels = re.findall(r"<text x='0' y='\d+'>([^<]*)</text>", chart)
    assert labels == ["us-ut-hb45-2000:13-26a-106(1)(f) (house policy)"], labels
    assert NUMBER not in text


def test_packs_not_read_is_said_not_none(tmp_path):
    """Where the packs cannot be read (a copied configuration whose packs_dir is not on this
    host) the report still runs, but listed 'us-ut-hb45-2000:13-26a-106(1)(f)' bare with no
    note and --json said not_enacted_law {}: 'no house policy' where it was not known."""
    path = house_policy_block(tmp_path, NUMBER)
    counsel = tmp_path / "counsel.toml"
    counsel.write_text(path.read_text().replace('packs_dir = ""',
                                                f'packs_dir = "{tmp_path / "gone"}"'))
    text = cli("report", config_path=counsel)
    assert text.returncode == 0, text.stderr
    assert "house policy" in text.stdout
    assert "not checked" in text.stdout
    said = json.loads(cli("report", "--json", config_path=counsel).stdout)
    assert said["not_enacted_law"] is None
    assert "not checked" in said["not_enacted_law_unread"]


def test_a_report_not_given_the_packs_says_so():
    """The supervisor page renders today's report through the same code, but no one told it
    the house-policy packs: its chart and table listed the H.B. 45 rule bare and said
    nothing. A Report not given the packs now says they were not checked."""
    from datetime import UTC, datetime

    from callguard.compliance import report as figures

    done = figures.Report(figures.ReportQuery(), datetime(2026, 12, 7, tzinfo=UTC))
    done.calls[("2026-12-07", "ut-solar-manual", "BLOCK",
                "us-ut-hb45-2000:13-26a-106(1)(f)")] = 1
    assert "was not checked" in figures.not_law_note(done)
    assert figures.to_json(done)["not_enacted_law"] is None
    assert "was not checked" in figures.render_html(done)
    done.not_law, done.not_law_unread = {"us-ut-hb45-2000": "H.B. 45"}, None  # as the CLI
    assert "was not checked" not in figures.render_html(done)
    assert "(house policy)" in figures.render_html(done)


def test_the_supervisor_page_is_given_the_nodes_house_policy_packs(tmp_path):
    """The page's today said 'was not checked' on every node: ``supervisor_for`` never
    passed the packs, so the H.B. 45 rule stood bare beside 'not checked'. It passes the
    node's house-policy packs now, and today's page marks the rule."""
    from datetime import UTC, datetime

    import orjson

    from callguard.config import load_settings
    from callguard.fronts.http.supervisor import supervisor_for, today_report
    from tests.log_files import synthetic

    data = tmp_path / "data"
    data.mkdir()
    page = supervisor_for(load_settings(config(tmp_path, data)))
    assert page._not_law is not None
    assert "us-ut-hb45-2000" in page._not_law
    assert set(page._not_law) == {"us-ut-hb45-2000", "house-litigators"}  # no statute

    template = next(orjson.loads(line) for line in synthetic(2) if b'"decision"' in line)
    record = {**template, "front": "http", "verdict": "BLOCK",
              "rule": "us-ut-hb45-2000:13-26a-106(1)(f)",
              "at": "2026-12-04T20:00:00.000Z", "logged_at": "2026-12-04T20:00:00.000Z"}
    now = datetime(2026, 12, 4, 21, 0, tzinfo=UTC)
    text = today_report([record], None, "America/Denver", now, page._not_law)
    assert "was not checked" not in text
    assert "(house policy" in text
    assert "was not checked" in today_report([record], None, "America/Denver", now)
