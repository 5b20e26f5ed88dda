"""`consent show` and `evidence` read the reassigned-number data as the gate does: a consent
given on or before the number's last permanent disconnect is void (47 CFR 64.1200(m)), and
the document says so and why, never "valid now: yes" beside a gate that BLOCKs on it."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from tests.test_cli import cli

NUMBER = "8015550123"


def _setup(tmp_path) -> None:
    # 2026-02-01 23:30 in Denver is 2026-02-02 in UTC: the called party's date decides
    for granted in ("2026-01-15T12:00:00Z", "2026-02-02T06:30:00Z", "2026-03-01T12:00:00Z"):
        assert cli("consent", "add", NUMBER, "--campaign", "ut-solar-manual", "--kind",
                   "written", "--granted", granted, data_dir=tmp_path).returncode == 0
    assert cli("ebr", "add", NUMBER, "--campaign", "ut-solar-manual", "--last-transaction",
               "2026-01-20", data_dir=tmp_path).returncode == 0
    dated = tmp_path / "reassigned.csv"
    dated.write_text(f"{NUMBER},2026-02-01\n")
    today = datetime.now(UTC).date().isoformat()
    assert cli("attributes", "import", str(dated), "--kind", "reassigned", "--published",
               today, "--covers", "all", data_dir=tmp_path).returncode == 0


def test_consent_show_says_a_consent_before_the_disconnect_is_void(tmp_path):
    _setup(tmp_path)
    shown = json.loads(cli("consent", "show", NUMBER, "--campaign", "ut-solar-manual",
                           "--json", data_dir=tmp_path).stdout)
    assert [c["valid_now"] for c in shown["consents"]] == [False, False, True]
    void = shown["consents"][0]["void_reassigned"]
    assert "2026-02-01" in void
    assert "64.1200(m)" in void
    assert "attr-reassigned v1" in void
    assert shown["consents"][2]["void_reassigned"] is None
    assert shown["reassigned_data"] == {"list": "attr-reassigned v1",
                                        "disconnected": "2026-02-01"}
    assert "64.1200(m)" in shown["ebr"]["void"]
    text = cli("consent", "show", NUMBER, "--campaign", "ut-solar-manual",
               data_dir=tmp_path).stdout
    assert "permanently disconnected on 2026-02-01" in " ".join(text.split())


def test_evidence_says_the_consent_is_void(tmp_path):
    _setup(tmp_path)
    result = cli("evidence", NUMBER, "--json", data_dir=tmp_path)
    assert result.returncode == 0, result.stderr
    stored = json.loads(result.stdout)["stored_now"]
    assert stored["reassigned_data"]["disconnected"] == "2026-02-01"
    beehive = stored["sellers"]["beehive-solar"]
    assert [c["valid_now"] for c in beehive["consents"]] == [False, False, True]
    text = cli("evidence", NUMBER, data_dir=tmp_path).stdout
    lines = [line for line in text.splitlines() if "consent written" in line]
    assert "not valid now (consent void" in lines[0]
    assert lines[2].endswith("valid now")


def test_without_reassigned_data_nothing_is_void(tmp_path):
    assert cli("consent", "add", NUMBER, "--campaign", "ut-solar-manual", "--kind", "written",
               "--granted", "2026-01-15T12:00:00Z", data_dir=tmp_path).returncode == 0
    shown = json.loads(cli("consent", "show", NUMBER, "--campaign", "ut-solar-manual",
                           "--json", data_dir=tmp_path).stdout)
    assert shown["consents"][0]["valid_now"] is True
    assert shown["reassigned_data"] is None


def test_unreadable_reassigned_data_is_said_not_passed_over(tmp_path):
    """A corrupt CURRENT pointer: the gate refuses the version; the document says the data
    was not read rather than answer as if none were loaded."""
    _setup(tmp_path)
    (tmp_path / "lists" / "attr-reassigned" / "CURRENT").write_text("garbage")
    shown = json.loads(cli("consent", "show", NUMBER, "--campaign", "ut-solar-manual",
                           "--json", data_dir=tmp_path).stdout)
    assert "not read" in shown["reassigned_data"]["unread"]
    stored = json.loads(cli("evidence", NUMBER, "--json", data_dir=tmp_path).stdout)
    assert "not read" in stored["stored_now"]["reassigned_data"]["unread"]


def test_a_do_not_call_request_withdraws_the_consents_given_before_it(tmp_path):
    """As the gate (``Exemptions``): `consent show` said "valid now: yes" for a written
    consent beside the seller's do-not-call request recorded after it."""
    for args in (["consent", "add", NUMBER, "--kind", "written", "--granted",
                  "2026-11-01T12:00:00Z"], ["internal-dnc", "add", NUMBER]):
        assert cli(*args, "--campaign", "ut-solar-manual", data_dir=tmp_path).returncode == 0
    shown = json.loads(cli("consent", "show", NUMBER, "--campaign", "ut-solar-manual",
                           "--json", data_dir=tmp_path).stdout)
    assert shown["consents"][0]["valid_now"] is False
    assert "do-not-call request" in shown["consents"][0]["withdrawn_by_request"]
    text = cli("evidence", NUMBER, data_dir=tmp_path).stdout
    assert "not valid now (withdrawn by the do-not-call request" in text
    # a consent given after the request counts again
    assert cli("consent", "add", NUMBER, "--kind", "written", "--campaign",
               "ut-solar-manual", data_dir=tmp_path).returncode == 0
    shown = json.loads(cli("consent", "show", NUMBER, "--campaign", "ut-solar-manual",
                           "--json", data_dir=tmp_path).stdout)
    assert [c["valid_now"] for c in shown["consents"]] == [False, True]


def test_the_csv_says_what_is_stored_now(tmp_path):
    """The text and the page end with the records as stored now (a consent void since);
    the CSV, handed to counsel alone, left them out."""
    _setup(tmp_path)
    rows = cli("evidence", NUMBER, "--format", "csv", data_dir=tmp_path).stdout.splitlines()
    stored = [row for row in rows if ",stored-now," in row]
    assert any("not valid now (consent void" in row for row in stored)
    assert NUMBER not in "\n".join(rows)
