"""What the CLI prints to a terminal is text, not markdown (hcli33).

`report` printed "2 `callguard check --at` question(s) counted apart": backticks are
markdown's, literal in a terminal. The terminal's lines drop them (the JSON keeps its
documented text).
"""

from __future__ import annotations

from datetime import UTC, datetime

from tests.log_files import cli, config

NUMBER = "8015550123"


def test_report_prints_no_markdown(tmp_path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    path = config(tmp_path, data)
    asked = cli("check", NUMBER, "--campaign", "ut-solar-manual", "--at",
                "2026-12-07T10:00:00-07:00", config_path=path)
    assert asked.returncode in (0, 1), asked.stderr
    result = cli("report", config_path=path)
    assert result.returncode == 0, result.stderr
    text = " ".join(result.stdout.split())
    assert "callguard check --at question(s) counted apart" in text, text
    assert "`" not in result.stdout + result.stderr, result.stdout


def test_a_bad_since_is_shown_examples_of_today(tmp_path) -> None:
    """The examples were fixed dates (2026-11-22): they are today's, in UTC."""
    data = tmp_path / "data"
    data.mkdir()
    path = config(tmp_path, data)
    before = datetime.now(UTC).date().isoformat()
    result = cli("tail", "--since", "yesterday", config_path=path)
    after = datetime.now(UTC).date().isoformat()
    said = " ".join(result.stderr.split())
    assert result.returncode == 2, result.stderr
    assert "2026-11-22" not in said, said
    assert f"{before}T08:00:00+00:00" in said or f"{after}T08:00:00+00:00" in said, said


def test_a_bad_since_keeps_mains_words_too(tmp_path) -> None:
    """hrev165: main (348ac732) reworded this error and test_hnew33_fresh_site_logs asserts
    its words; hcli33's line conflicted with it. Both: today's examples, main's words."""
    data = tmp_path / "data"
    data.mkdir()
    path = config(tmp_path, data)
    result = cli("tail", "--since", "yesterday", config_path=path)
    said = " ".join(result.stderr.split())
    assert result.returncode == 2, result.stderr
    assert "a time back from now in s, m, h or d" in said, said
    assert "yesterday: 1d" in said, said
